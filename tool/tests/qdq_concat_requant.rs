//! The int8 `Concat` of a pre-quantized (QDQ) model whose inputs have other scales
//! than its output: ONNX defines each input's values as `DequantizeLinear` (f32
//! `(q - zp) · scale`) then `QuantizeLinear` (f32 `x / scale`, rounded half to even,
//! plus the zero point, saturated), and onnxruntime computes exactly that (its
//! `QLinearConcat` builds a 256-entry table from those two steps). Checked op by op
//! with `Session::run_observed` on `fixtures/qdq_concat_conv1x1.onnx` (an input
//! requantized to a 3.6× coarser scale): against that definition applied to ferrite's
//! own Concat inputs, and against onnxruntime's Concat output
//! (`qdq_concat_conv1x1_h_ort.csv`, made by `make_fixtures.py`).

use ferrite::format::types::Op;
use ferrite::{AlignedModel, OwnedSession};
use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// ONNX `QuantizeLinear(DequantizeLinear(q))` from `(si, zi)` to `(so, zo)`, in f32.
fn onnx_requantize(q: i8, (si, zi): (f32, i32), (so, zo): (f32, i32)) -> i8 {
    let x = (i32::from(q) - zi) as f32 * si;
    ((x / so).round_ties_even() + zo as f32).clamp(-128.0, 127.0) as i8
}

/// Per row: every Concat's output bytes, and what the ONNX definition makes of the
/// values that reach it (each input before its requantization), in the same layout.
struct Observed {
    got: Vec<i8>,
    want: Vec<i8>,
    shape: Vec<usize>,
}

fn observe(fer: &[u8], row: &[f32]) -> Vec<Observed> {
    let a = AlignedModel::new(fer);
    let m = a.model().unwrap();
    let mut owned = OwnedSession::new(&m);
    let mut s = owned.session();
    s.set_input_f32(0, row).unwrap();
    let mut bytes: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut concats = Vec::new();
    s.run_observed(|op, _, b| {
        let d = m.op(op).unwrap();
        bytes.insert(d.outputs[0], b.to_vec());
        if matches!(d.op, Op::Concat { .. }) {
            concats.push(op);
        }
    })
    .unwrap();
    // The tensor whose values a Concat input requantizes (itself when it is not).
    let producer = |t: u32| (0..m.num_ops()).find(|&i| m.op(i).unwrap().outputs[0] == t);
    let source = |t: u32| match producer(t).map(|p| m.op(p).unwrap()) {
        Some(d) if matches!(d.op, Op::Requantize { .. } | Op::Lut) => d.inputs[0],
        _ => t,
    };
    let q = |t: u32| m.tensor(t).unwrap().per_tensor().unwrap();
    concats
        .into_iter()
        .map(|c| {
            let d = m.op(c).unwrap();
            let Op::Concat { axis } = d.op else {
                unreachable!()
            };
            let out = m.tensor(d.outputs[0]).unwrap();
            let shape: Vec<usize> = out.shape.iter().map(|&v| v as usize).collect();
            let outer: usize = shape[..axis as usize].iter().product();
            let parts: Vec<(Vec<i8>, usize)> = d
                .inputs
                .iter()
                .map(|&t| {
                    let src = source(t);
                    let (sq, oq) = (q(src), q(d.outputs[0]));
                    let vals: Vec<i8> = bytes[&src]
                        .iter()
                        .map(|&b| onnx_requantize(b as i8, sq, oq))
                        .collect();
                    let inner = vals.len() / outer;
                    (vals, inner)
                })
                .collect();
            let mut want = Vec::new();
            for o in 0..outer {
                for (v, inner) in &parts {
                    want.extend_from_slice(&v[o * inner..(o + 1) * inner]);
                }
            }
            let got = bytes[&d.outputs[0]].iter().map(|&b| b as i8).collect();
            Observed { got, want, shape }
        })
        .collect()
}

/// Every value of the int8 Concat is the ONNX requantization of the value that
/// reaches it, so the Concat output is onnxruntime's wherever the two branch convs'
/// outputs are (2 of the 4608 values here come one step off from a conv before the
/// Concat, whose fixed-point requantization rounds half away from zero). Before the
/// Concat's inputs were requantized through an ONNX table, ferrite's fixed-point
/// `Requantize` rounded twice at this 0.28 scale ratio: 276 values off the
/// definition, 278 off onnxruntime (12% of the requantized input's values).
#[test]
fn the_int8_concat_requantizes_as_onnx_defines_it_and_as_onnxruntime_does() {
    let src = std::fs::read(path("qdq_concat_conv1x1.onnx")).unwrap();
    let opts = ConvertOptions {
        precision: Precision::Int8,
        ..ConvertOptions::default()
    };
    let fer = convert(&src, &opts).unwrap().bytes;
    let x = Dataset::load(&path("qdq_concat_conv1x1_input.csv")).unwrap();
    let ort = Dataset::load(&path("qdq_concat_conv1x1_h_ort.csv")).unwrap();
    let (mut off_spec, mut off_ort, mut total) = (0, 0, 0);
    for (row, h) in x.iter_rows().zip(ort.iter_rows()) {
        let obs = observe(&fer, row);
        assert_eq!(obs.len(), 1, "one Concat");
        let o = &obs[0];
        off_spec += o.got.iter().zip(&o.want).filter(|(a, b)| a != b).count();
        // onnxruntime's is NCHW [1, 8, 6, 6]; ferrite's NHWC [1, 6, 6, 8] or NCHW.
        let at = |c: usize, p: usize| match o.shape.as_slice() {
            [1, 8, 6, 6] => o.got[c * 36 + p],
            [1, 6, 6, 8] => o.got[p * 8 + c],
            s => panic!("Concat output shape {s:?}"),
        };
        for (i, &v) in h.iter().enumerate() {
            off_ort += usize::from(f32::from(at(i / 36, i % 36)) != v);
        }
        total += o.got.len();
    }
    println!(
        "Concat: {off_spec} of {total} values off the ONNX definition, {off_ort} off onnxruntime"
    );
    assert_eq!(off_spec, 0, "of {total}");
    assert!(off_ort <= 2, "{off_ort} of {total} off onnxruntime");
}
