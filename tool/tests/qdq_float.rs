//! f32 and f16 files of pre-quantized models (`examples/qdq/`, the QDQ fixtures): the
//! quantizer folds a Relu / Clip into the following QuantizeLinear's range, so the
//! float file keeps every quantization range as a clamp. Without them a float file
//! was up to 183 output steps from onnxruntime's run of the QDQ file (the logits of
//! `qdq_concat_pt` went negative where onnxruntime's are clamped at 0). With them the
//! float file is within the quantization error of onnxruntime's run: it does not
//! round to the grid, so it is not equal to it.

use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::import::qdq_clamp::FLOAT_OF_QUANTIZED;
use ferrite_tool::run::{argmax, run_rows};
use prost::Message;
use std::path::{Path, PathBuf};
use tract_onnx::pb::ModelProto;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(p: &Path) -> Dataset {
    Dataset::load(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn float(precision: Precision) -> ConvertOptions {
    ConvertOptions {
        precision,
        ..ConvertOptions::default()
    }
}

/// The output grid of a QDQ file: the scale and zero point of the DequantizeLinear
/// that writes graph output 0, and the range of its integer type.
fn output_grid(onnx: &[u8]) -> (f32, f32, f32, f32) {
    let m = ModelProto::decode(onnx).unwrap();
    let g = m.graph.as_ref().unwrap();
    let dq = g
        .node
        .iter()
        .find(|n| n.op_type == "DequantizeLinear" && n.output[0] == g.output[0].name)
        .expect("a DequantizeLinear writes the output");
    let init = |name: &str| g.initializer.iter().find(|t| t.name == name).unwrap();
    let s = init(&dq.input[1]);
    let scale = s
        .float_data
        .first()
        .copied()
        .unwrap_or_else(|| f32::from_le_bytes(s.raw_data[..4].try_into().unwrap()));
    let z = init(&dq.input[2]);
    let zb = z.raw_data.first().map(|&b| b as i32);
    match z.data_type {
        3 => {
            let zp = zb.map_or_else(|| z.int32_data[0], |b| b as u8 as i8 as i32);
            (scale, zp as f32, -128.0, 127.0)
        }
        2 => (
            scale,
            zb.unwrap_or_else(|| z.int32_data[0]) as f32,
            0.0,
            255.0,
        ),
        t => panic!("zero point type {t}"),
    }
}

/// Largest difference, in output steps (both outputs put on onnxruntime's output
/// grid), between `out` and onnxruntime's rows; and the rows whose argmax agree.
fn steps(out: &[Vec<f32>], ort: &Dataset, grid: (f32, f32, f32, f32)) -> (f32, usize) {
    let (scale, zp, lo, hi) = grid;
    let q = |v: f32| ((v / scale).round() + zp).clamp(lo, hi);
    assert_eq!(out.len(), ort.rows);
    let (mut worst, mut agree) = (0f32, 0);
    for (got, want) in out.iter().zip(ort.iter_rows()) {
        assert_eq!(got.len(), want.len());
        for (&g, &w) in got.iter().zip(want) {
            worst = worst.max((q(g) - q(w)).abs());
        }
        agree += usize::from(argmax(got) == argmax(want));
    }
    (worst, agree)
}

/// `(worst steps, top-1 agreement)` of the f32 and f16 files of `onnx` on `x`.
fn float_steps(
    name: &str,
    onnx: &[u8],
    x: &Dataset,
    ort: &Dataset,
    grid: (f32, f32, f32, f32),
) -> [(f32, usize); 2] {
    [Precision::F32, Precision::F16].map(|p| {
        let r = convert(onnx, &float(p)).unwrap_or_else(|e| panic!("{name} {p:?}: {e}"));
        assert!(r.notes.iter().any(|n| n == FLOAT_OF_QUANTIZED), "{name}");
        let out = run_rows(&r.bytes, x).unwrap_or_else(|e| panic!("{name} {p:?}: {e}"));
        steps(&out, ort, grid)
    })
}

/// Largest f32 / f16 output difference from onnxruntime's run of each QDQ / QOperator
/// file in `examples/qdq/`, in output steps (measured: 1–2 on KWS, ResNet-8 and the
/// autoencoder, 3–5 on MobileNetV2, 13–38 on VWW; without the clamps 216–255, top-1
/// wrong on 28 of the 48 rows). The float file does not round its activations, so
/// this is the quantization error of the file itself: the manifest's
/// `max_diff_vs_float_in_output_steps` (the float source model against the QDQ file,
/// both run by onnxruntime) is of the same size: 1–2.5 steps on KWS, ResNet-8 and the
/// autoencoder, 3.8–5.1 on MobileNetV2, 29–37 on VWW.
fn allowed_float_steps(name: &str) -> f32 {
    match name {
        n if n.starts_with("vww_mobilenetv1") => 40.0,
        n if n.starts_with("mobilenetv2_035") => 6.0,
        _ => 2.0,
    }
}

#[test]
fn float_files_of_the_example_quantized_models_are_within_the_quantization_error() {
    let dir = root().join("examples/qdq");
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let man: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (mut rows, mut agree) = (0, [0, 0]);
    for (name, e) in man["models"].as_object().unwrap() {
        let onnx = std::fs::read(dir.join(e["file"].as_str().unwrap())).unwrap();
        let x = load(&dir.join(e["test"].as_str().unwrap()));
        let ort = load(&dir.join(e["ort"].as_str().unwrap()));
        let q = &e["quantization"];
        let (lo, hi) = match q["output_quant_dtype"].as_str().unwrap() {
            "uint8" => (0.0, 255.0),
            _ => (-128.0, 127.0),
        };
        let grid = (
            q["output_scale"].as_f64().unwrap() as f32,
            q["output_zero_point"].as_f64().unwrap() as f32,
            lo,
            hi,
        );
        let [f32s, f16s] = float_steps(name, &onnx, &x, &ort, grid);
        println!(
            "{name}: f32 {} step(s), top-1 {}/{}; f16 {} step(s), top-1 {}/{}",
            f32s.0, f32s.1, x.rows, f16s.0, f16s.1, x.rows
        );
        let allowed = allowed_float_steps(name);
        for (p, (worst, _)) in [("f32", f32s), ("f16", f16s)] {
            assert!(
                worst <= allowed,
                "{name} {p}: {worst} output steps from onnxruntime (allowed {allowed})"
            );
        }
        if !name.starts_with("ad_autoencoder") {
            rows += x.rows;
            agree[0] += f32s.1;
            agree[1] += f16s.1;
        }
    }
    assert!(rows >= 40, "{rows} classifier rows");
    for a in agree {
        assert!(a + 1 >= rows, "top-1 agreement {a} of {rows}");
    }
}

/// The file cut before its Softmax: the graph output is the Softmax's input (the
/// dequantized logits), as `make_fixtures.py` cuts it for `NAME_logits_ort.csv`.
fn logits_model(onnx: &[u8]) -> Vec<u8> {
    let mut m = ModelProto::decode(onnx).unwrap();
    let g = m.graph.as_mut().unwrap();
    let cut = g.node.iter().position(|n| n.op_type == "Softmax").unwrap();
    let logits = g.node[cut].input[0].clone();
    g.node.truncate(cut);
    g.output[0].name = logits;
    m.encode_to_vec()
}

/// The QDQ test fixtures (Concat into products, a digits MLP, a 1-D CNN), f32 and f16,
/// against onnxruntime's run of each file: `(fixture, input rows, allowed steps)`.
/// Without the clamps they were 62–255 steps off (`qdq_concat_pt`: 183), with the
/// top-1 wrong on up to all 16 rows. Now: within 2 steps where the output is a
/// product; on a Softmax output (steps of 1/256) within 8, the quantization error of
/// these files: onnxruntime's run of the digits MLP's float source is 8 steps from its
/// QDQ file, and the logits before the Softmax are within 2 steps of onnxruntime's.
#[test]
fn float_files_of_the_qdq_fixtures_are_within_the_quantization_error() {
    let fx = |f: &str| root().join("tool/tests/fixtures").join(f);
    let concat = || load(&fx("qdq_concat_input.csv"));
    let input = |name: &str| load(&fx(&format!("{name}_input.csv")));
    let cases: Vec<(&str, Dataset, f32)> = vec![
        ("qdq_concat_pt", concat(), 8.0),
        ("qdq_concat_pc", concat(), 8.0),
        ("qdq_concat_mlp", input("qdq_concat_mlp"), 8.0),
        (
            "digits_qdq",
            load(&root().join("examples/digits/test.csv")).head(100),
            8.0,
        ),
        ("qdq_concat_three", input("qdq_concat_three"), 2.0),
        ("qdq_concat_spatial", input("qdq_concat_spatial"), 2.0),
        ("qdq_concat_conv1x1", input("qdq_concat_conv1x1"), 2.0),
        ("qdq_concat_seq", input("qdq_concat_seq"), 2.0),
        ("qdq_concat_with_input", input("qdq_concat_with_input"), 2.0),
        ("conv1d_nhwc_qdq", input("conv1d_nhwc"), 2.0),
    ];
    let mut bad = Vec::new();
    for (name, x, allowed) in cases {
        let onnx = std::fs::read(fx(&format!("{name}.onnx"))).unwrap();
        let mut runs = vec![(
            name.to_string(),
            onnx.clone(),
            format!("{name}_ort.csv"),
            allowed,
        )];
        if fx(&format!("{name}_logits_ort.csv")).exists() {
            let cut = logits_model(&onnx);
            runs.push((
                format!("{name} logits"),
                cut,
                format!("{name}_logits_ort.csv"),
                2.0,
            ));
        }
        for (what, onnx, ort, allowed) in runs {
            let ort = load(&fx(&ort));
            let [f32s, f16s] = float_steps(&what, &onnx, &x, &ort, output_grid(&onnx));
            println!(
                "{what}: f32 {} step(s), top-1 {}/{}; f16 {} step(s), top-1 {}/{}",
                f32s.0, f32s.1, x.rows, f16s.0, f16s.1, x.rows
            );
            for (p, (worst, agree)) in [("f32", f32s), ("f16", f16s)] {
                if worst > allowed || agree != x.rows {
                    bad.push(format!(
                        "{what} {p}: {worst} output steps from onnxruntime (allowed {allowed}), top-1 {agree}/{}",
                        x.rows
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// The f32 file of ResNet-8's QDQ model keeps the float model's fast forms where that
/// is exact: the stem conv reads the clamped NCHW input itself (`ConvNchw`, no
/// `Transpose`), and the Softmax output, whose range holds `[0, 1]`, is not clamped
/// (one `Unary Clip`: the graph input's). The residual `Add`s stay separate ops: their
/// conv input is clamped before the addition.
#[test]
fn the_f32_file_of_a_qdq_resnet_keeps_the_nchw_stem_and_an_unclamped_softmax() {
    use ferrite::format::types::{Op, UnaryOp};
    let src = std::fs::read(root().join("examples/qdq/resnet8_qdq_pc_s8.onnx")).unwrap();
    let fer = convert(&src, &float(Precision::F32)).unwrap().bytes;
    let a = ferrite::AlignedModel::new(&fer);
    let m = a.model().unwrap();
    let ops: Vec<Op> = (0..m.num_ops()).map(|i| m.op(i).unwrap().op).collect();
    let clip = |o: &Op| {
        matches!(
            o,
            Op::Unary {
                op: UnaryOp::Clip { .. }
            }
        )
    };
    assert!(clip(&ops[0]), "{:?}", ops[0]);
    assert!(matches!(ops[1], Op::ConvNchw { .. }), "{:?}", ops[1]);
    assert!(!ops.iter().any(|o| matches!(o, Op::Transpose { .. })));
    assert_eq!(ops.iter().filter(|o| clip(o)).count(), 1);
    assert!(matches!(ops.last(), Some(Op::Softmax { .. })));
}
