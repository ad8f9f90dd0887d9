//! Writes small test models and the Rust runtime's outputs on them, for the parity
//! tests of the bindings (C, WASM, Kotlin, Python): each binding must reproduce these
//! bytes exactly.
//!
//! ```sh
//! cargo run -p ferrite --example fixtures -- OUTDIR
//! ```
//! Files written to OUTDIR:
//! - `mlp_f32.fer`: f32 in [1,16] -> FC 16x12 + Relu -> FC 12x4 -> Softmax -> f32 [1,4],
//!   labels `north east south west`.
//! - `mlp_int8.fer`: the same network in int8 (per-channel weights, int32 bias) with
//!   Quantize at the input and Dequantize + f32 Softmax at the output (f32 API).
//! - `mlp_int8_raw.fer`: int8 in [1,16] -> int8 FC layers -> int8 out [1,4] (raw tensors).
//! - `inputs.csv`: 8 rows of 16 features.
//! - `expected_f32.csv`, `expected_int8.csv`: the scores of each model, `%.9g`.
//! - `expected_f32.hex`, `expected_int8.hex`: the exact output bytes of each row (hex).
//! - `raw_inputs.hex`, `expected_int8_raw.hex`: raw int8 input and output bytes per row.
//! - `labels.txt`: the predicted label index per row for each model (`f32 int8`).
//! - `pipeline_f32.fer`: the f32 MLP behind a preprocessing section (mean imputation of
//!   NaN, then standard scaling `(x - 0.1) / 2` of all 16 raw features).
//! - `inputs_nan.csv`: `inputs.csv` with some values missing (`nan`);
//!   `expected_preprocess.csv`: the pipeline's features for each row (`%.9e`);
//!   `expected_pipeline.csv`: the pipeline model's scores for each row.
//! - `stream.fer`: a streaming RNN (tanh, 3 inputs, hidden 4, one frame per step, state
//!   `h_n` → `initial_h`); `stream_frames.bin`: 6 frames (18 f32, little-endian);
//!   `stream_expected.bin`: the last step's `y` then `h_n` (4 + 4 f32) of the
//!   whole-sequence model run on those frames from a zero state (`Session::run`, no
//!   streaming), which 6 `step` calls must reproduce bit for bit.
//! - `monitor.fer`: y = x over 2 features (2 classes: the larger one wins) with a
//!   monitoring baseline of 400 rows uniform on [0, 1): 4 bins per feature at 0.25 / 0.5 /
//!   0.75 holding 100 rows each, range [0, 1], predicted class 200 / 200. Rows drawn
//!   uniformly stay stable; a feature shifted by its standard deviation (0.29) is flagged.

use core::fmt::Write as _;
use ferrite::format::types::{Activation, Cell, DType, Direction, Op, QParams, Quant, UnaryOp};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::fixed::quantize_multiplier;
use ferrite::{AlignedModel, OwnedSession};
use std::path::Path;

/// Deterministic xorshift so the fixtures do not depend on a RNG crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

const IN: usize = 16;
const HID: usize = 12;
const OUT: usize = 4;

struct Weights {
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

fn weights() -> Weights {
    let mut r = Rng(0x5EED_F00D);
    let mut v = |n: usize, s: f32| (0..n).map(|_| r.next() * s).collect::<Vec<_>>();
    Weights {
        w1: v(HID * IN, 0.5),
        b1: v(HID, 0.1),
        w2: v(OUT * HID, 0.7),
        b2: v(OUT, 0.1),
    }
}

fn labels(b: &mut ModelBuilder) {
    b.labels = ["north", "east", "south", "west"]
        .map(String::from)
        .to_vec();
}

fn f32_model(w: &Weights) -> Vec<u8> {
    let mut b = ModelBuilder::new("fixture-mlp-f32");
    f32_graph(&mut b, w);
    b.finish().unwrap()
}

/// The f32 MLP (FC + Relu, FC, Softmax) with its labels, into `b`.
fn f32_graph(b: &mut ModelBuilder, w: &Weights) {
    b.version = "1".into();
    labels(b);
    let x = b
        .add_tensor("x", DType::F32, &[1, IN as u32], Quant::None)
        .unwrap();
    let w1 = b
        .add_const_f32("w1", &[HID as u32, IN as u32], &w.w1)
        .unwrap();
    let b1 = b.add_const_f32("b1", &[HID as u32], &w.b1).unwrap();
    let h = b
        .add_tensor("h", DType::F32, &[1, HID as u32], Quant::None)
        .unwrap();
    let w2 = b
        .add_const_f32("w2", &[OUT as u32, HID as u32], &w.w2)
        .unwrap();
    let b2 = b.add_const_f32("b2", &[OUT as u32], &w.b2).unwrap();
    let l = b
        .add_tensor("logits", DType::F32, &[1, OUT as u32], Quant::None)
        .unwrap();
    let y = b
        .add_tensor("probs", DType::F32, &[1, OUT as u32], Quant::None)
        .unwrap();
    b.add_op(
        Op::FullyConnected {
            act: Activation::Relu,
            q: None,
        },
        &[x, w1, b1],
        &[h],
    )
    .unwrap();
    b.add_op(
        Op::FullyConnected {
            act: Activation::None,
            q: None,
        },
        &[h, w2, b2],
        &[l],
    )
    .unwrap();
    b.add_op(
        Op::Softmax {
            axis: 1,
            log: false,
        },
        &[l],
        &[y],
    )
    .unwrap();
    b.set_io(&[x], &[y]).unwrap();
}

/// Per-channel symmetric int8 weights of a [rows, cols] matrix and their scales.
fn quantize_rows(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::new();
    let mut scales = Vec::new();
    for r in 0..rows {
        let row = &w[r * cols..(r + 1) * cols];
        let m = row.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-8);
        let s = m / 127.0;
        scales.push(s);
        q.extend(
            row.iter()
                .map(|v| (v / s).round().clamp(-127.0, 127.0) as i8),
        );
    }
    (q, scales)
}

/// Adds an int8 FC layer of `(weights, bias, rows, cols)` over the input tensor `x` of
/// scale `x_scale`, with output `(scale, zero point)`; returns the output tensor.
fn int8_fc(
    b: &mut ModelBuilder,
    name: &str,
    (x, x_scale): (u32, f32),
    (w, bias, rows, cols): (&[f32], &[f32], usize, usize),
    (out_scale, out_zp): (f32, i32),
    relu: bool,
) -> u32 {
    let (wq, ws) = quantize_rows(w, rows, cols);
    let sc = b.add_f32_blob(&ws);
    let wb: Vec<u8> = wq.iter().map(|&v| v as u8).collect();
    let wt = b
        .add_const(
            &format!("{name}.w"),
            DType::I8,
            &[rows as u32, cols as u32],
            &wb,
            Quant::PerChannel {
                axis: 0,
                scales: sc,
            },
        )
        .unwrap();
    let bq: Vec<i32> = bias
        .iter()
        .zip(&ws)
        .map(|(v, s)| (v / (x_scale * s)).round() as i32)
        .collect();
    let bb: Vec<u8> = bq.iter().flat_map(|v| v.to_le_bytes()).collect();
    let bt = b
        .add_const(
            &format!("{name}.b"),
            DType::I32,
            &[rows as u32],
            &bb,
            Quant::None,
        )
        .unwrap();
    let rq: Vec<i32> = ws
        .iter()
        .flat_map(|s| {
            let (m, sh) = quantize_multiplier((x_scale as f64 * *s as f64) / out_scale as f64);
            [m, sh]
        })
        .collect();
    let requant = b.add_i32_blob(&rq);
    let y = b
        .add_tensor(
            name,
            DType::I8,
            &[1, rows as u32],
            Quant::PerTensor {
                scale: out_scale,
                zero_point: out_zp,
            },
        )
        .unwrap();
    let q = QParams {
        requant,
        channels: rows as u32,
        act_min: if relu { out_zp } else { -128 },
        act_max: 127,
    };
    let act = if relu {
        Activation::Relu
    } else {
        Activation::None
    };
    b.add_op(Op::FullyConnected { act, q: Some(q) }, &[x, wt, bt], &[y])
        .unwrap();
    y
}

const X_SCALE: f32 = 2.0 / 255.0;
const X_ZP: i32 = 0;
const H_SCALE: f32 = 4.0 / 255.0;
const H_ZP: i32 = -128;
const L_SCALE: f32 = 8.0 / 255.0;
const L_ZP: i32 = 0;

fn int8_model(w: &Weights, raw: bool) -> Vec<u8> {
    let mut b = ModelBuilder::new(if raw {
        "fixture-mlp-int8-raw"
    } else {
        "fixture-mlp-int8"
    });
    b.version = "1".into();
    labels(&mut b);
    let xq_quant = Quant::PerTensor {
        scale: X_SCALE,
        zero_point: X_ZP,
    };
    let (input, xq) = if raw {
        let xq = b
            .add_tensor("x", DType::I8, &[1, IN as u32], xq_quant)
            .unwrap();
        (xq, xq)
    } else {
        let x = b
            .add_tensor("x", DType::F32, &[1, IN as u32], Quant::None)
            .unwrap();
        let xq = b
            .add_tensor("x.q", DType::I8, &[1, IN as u32], xq_quant)
            .unwrap();
        b.add_op(Op::Quantize, &[x], &[xq]).unwrap();
        (x, xq)
    };
    let h = int8_fc(
        &mut b,
        "h",
        (xq, X_SCALE),
        (&w.w1, &w.b1, HID, IN),
        (H_SCALE, H_ZP),
        true,
    );
    let l = int8_fc(
        &mut b,
        "logits",
        (h, H_SCALE),
        (&w.w2, &w.b2, OUT, HID),
        (L_SCALE, L_ZP),
        false,
    );
    let out = if raw {
        l
    } else {
        let lf = b
            .add_tensor("logits.f", DType::F32, &[1, OUT as u32], Quant::None)
            .unwrap();
        b.add_op(Op::Dequantize, &[l], &[lf]).unwrap();
        let y = b
            .add_tensor("probs", DType::F32, &[1, OUT as u32], Quant::None)
            .unwrap();
        b.add_op(
            Op::Softmax {
                axis: 1,
                log: false,
            },
            &[lf],
            &[y],
        )
        .unwrap();
        y
    };
    b.set_io(&[input], &[out]).unwrap();
    b.finish().unwrap()
}

/// Imputed means of the 16 raw features used by `pipeline_f32.fer`.
fn impute_values() -> Vec<f32> {
    (0..IN).map(|j| j as f32 / 32.0 - 0.25).collect()
}

fn pipeline_model(w: &Weights) -> Vec<u8> {
    use ferrite::preprocess::{encode_section, f32_bytes, Pipeline, ScaleKind, Step, StepOp};
    let mut b = ModelBuilder::new("fixture-pipeline-f32");
    f32_graph(&mut b, w);
    let values = f32_bytes(&impute_values());
    let a = f32_bytes(&[0.1; IN]);
    let bb = f32_bytes(&[2.0; IN]);
    let steps = [
        Step {
            start: 0,
            len: IN as u32,
            op: StepOp::Impute {
                sentinel: None,
                values: &values,
            },
        },
        Step {
            start: 0,
            len: IN as u32,
            op: StepOp::Scale {
                kind: ScaleKind::SubDiv,
                a: &a,
                b: &bb,
            },
        },
    ];
    let section = encode_section(
        &Pipeline {
            raw_len: IN as u32,
            names: "",
        },
        &steps,
    )
    .unwrap();
    b.add_section(ferrite::format::kind::PREPROCESS, true, section);
    b.finish().unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, v| {
        let _ = write!(s, "{v:02x}");
        s
    })
}

/// An RNN (tanh, 3 inputs, hidden 4) over `seq` frames: inputs x `[seq, 1, 3]` and
/// initial_h `[1, 1, 4]`, outputs the last step `y` `[1, 4]` and `h_n` `[1, 1, 4]`;
/// `stream` pairs `h_n` → initial_h.
fn rnn_model(seq: u32, stream: bool) -> Vec<u8> {
    let v = |n: usize, salt: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + salt * 11) % 17) as f32 - 8.0) / 10.0)
            .collect()
    };
    let mut b = ModelBuilder::new("rnn-stream");
    let x = b
        .add_tensor("x", DType::F32, &[seq, 1, 3], Quant::None)
        .unwrap();
    let w = b.add_const_f32("w", &[1, 4, 3], &v(12, 1)).unwrap();
    let r = b.add_const_f32("r", &[1, 4, 4], &v(16, 2)).unwrap();
    let bias = b.add_const_f32("b", &[1, 8], &v(8, 3)).unwrap();
    let h0 = b
        .add_tensor("initial_h", DType::F32, &[1, 1, 4], Quant::None)
        .unwrap();
    let packed = b
        .add_tensor("packed", DType::F32, &[seq + 1, 1, 1, 4], Quant::None)
        .unwrap();
    let op = Op::Recurrent {
        cell: Cell::Rnn,
        direction: Direction::Forward,
        acts: [UnaryOp::Tanh].into_iter().collect(),
        clip: None,
    };
    b.add_op(op, &[x, w, r, bias, h0], &[packed]).unwrap();
    let mut outs = Vec::new();
    for (name, row, shape) in [("y", seq - 1, &[1u32, 4][..]), ("h_n", seq, &[1, 1, 4][..])] {
        let rows = b
            .add_tensor(
                &format!("{name}_row"),
                DType::F32,
                &[1, 1, 1, 4],
                Quant::None,
            )
            .unwrap();
        let op = Op::Slice {
            starts: [row as i32, 0, 0, 0].into_iter().collect(),
            steps: [1, 1, 1, 1].into_iter().collect(),
        };
        b.add_op(op, &[packed], &[rows]).unwrap();
        let t = b.add_tensor(name, DType::F32, shape, Quant::None).unwrap();
        b.add_op(Op::Reshape, &[rows], &[t]).unwrap();
        outs.push(t);
    }
    b.set_io(&[x, h0], &outs).unwrap();
    if stream {
        b.set_state(&[(1, 1)]).unwrap();
    }
    b.finish().unwrap()
}

/// `stream.fer` (one frame per step), `stream_frames.bin` (6 frames of 3 f32) and
/// `stream_expected.bin`: the last step's `y` and `h_n` (4 + 4 f32) of the
/// whole-sequence model run by the Rust runtime on those frames from a zero state.
fn write_stream_models(dir: &Path) {
    let frames: Vec<f32> = (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let whole = rnn_model(6, false);
    let a = AlignedModel::new(&whole);
    let m = a.model().unwrap();
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_f32(0, &frames).unwrap();
    s.set_input_f32(1, &[0.0; 4]).unwrap();
    s.run().unwrap();
    let mut expected = [0f32; 8];
    s.output_f32(0, &mut expected[..4]).unwrap();
    s.output_f32(1, &mut expected[4..]).unwrap();
    let bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(dir.join("stream.fer"), rnn_model(1, true)).unwrap();
    std::fs::write(dir.join("stream_frames.bin"), bytes(&frames)).unwrap();
    std::fs::write(dir.join("stream_expected.bin"), bytes(&expected)).unwrap();
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fixtures".into());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create output dir");
    let w = weights();
    let models = [
        ("mlp_f32", f32_model(&w)),
        ("mlp_int8", int8_model(&w, false)),
        ("mlp_int8_raw", int8_model(&w, true)),
    ];
    let mut rng = Rng(0xFEED_BEEF);
    let rows: Vec<Vec<f32>> = (0..8)
        .map(|_| (0..IN).map(|_| rng.next()).collect())
        .collect();
    let mut inputs = String::new();
    for r in &rows {
        inputs += &r
            .iter()
            .map(|v| format!("{v}"))
            .collect::<Vec<_>>()
            .join(",");
        inputs.push('\n');
    }
    std::fs::write(dir.join("inputs.csv"), inputs).unwrap();
    let mut labels_out = vec![String::new(); rows.len()];
    for (name, bytes) in &models {
        std::fs::write(dir.join(format!("{name}.fer")), bytes).unwrap();
        let am = AlignedModel::new(bytes);
        let m = am.model().expect("fixture model loads");
        let mut owned = OwnedSession::new(&m);
        let mut s = owned.session();
        let (mut csv, mut hexes, mut raw_in) = (String::new(), String::new(), String::new());
        for (i, r) in rows.iter().enumerate() {
            let mut scores = [0f32; OUT];
            if *name == "mlp_int8_raw" {
                // The quantized row, computed here with the ONNX QuantizeLinear rule.
                let q: Vec<u8> = r
                    .iter()
                    .map(|v| {
                        ((v / X_SCALE).round_ties_even() as i32 + X_ZP).clamp(-128, 127) as i8 as u8
                    })
                    .collect();
                raw_in += &hex(&q);
                raw_in.push('\n');
                s.set_input_bytes(0, &q).unwrap();
                s.run().unwrap();
                s.output_f32(0, &mut scores).unwrap();
            } else {
                let label = s.predict(r, &mut scores).unwrap().unwrap();
                labels_out[i] += &format!("{label} ");
            }
            csv += &scores
                .iter()
                .map(|v| format!("{v:.9e}"))
                .collect::<Vec<_>>()
                .join(",");
            csv.push('\n');
            hexes += &hex(s.output_bytes(0).unwrap());
            hexes.push('\n');
        }
        if *name == "mlp_int8_raw" {
            std::fs::write(dir.join("raw_inputs.hex"), raw_in).unwrap();
            std::fs::write(dir.join("expected_int8_raw.hex"), hexes).unwrap();
        } else {
            let short = name.trim_start_matches("mlp_");
            std::fs::write(dir.join(format!("expected_{short}.csv")), csv).unwrap();
            std::fs::write(dir.join(format!("expected_{short}.hex")), hexes).unwrap();
        }
    }
    // The pipeline model, on rows with missing values.
    let nan_rows: Vec<Vec<f32>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.iter()
                .enumerate()
                .map(|(j, &v)| if (i + j) % 5 == 0 { f32::NAN } else { v })
                .collect()
        })
        .collect();
    let csv_rows = |rows: &[Vec<f32>]| -> String {
        rows.iter()
            .map(|r| {
                r.iter()
                    .map(|v| format!("{v:.9e}"))
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect()
    };
    let nan_csv: String = nan_rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| format!("{v}"))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    std::fs::write(dir.join("inputs_nan.csv"), nan_csv).unwrap();
    let pipe = pipeline_model(&w);
    std::fs::write(dir.join("pipeline_f32.fer"), &pipe).unwrap();
    let am = AlignedModel::new(&pipe);
    let m = am.model().expect("pipeline model loads");
    let mut owned = OwnedSession::new(&m);
    let mut s = owned.session();
    let (mut feats, mut scores_all) = (Vec::new(), Vec::new());
    for r in &nan_rows {
        let mut f = vec![0f32; IN];
        s.preprocess(r, &mut f).unwrap();
        feats.push(f);
        let mut scores = vec![0f32; OUT];
        s.predict(r, &mut scores).unwrap();
        scores_all.push(scores);
    }
    std::fs::write(dir.join("expected_preprocess.csv"), csv_rows(&feats)).unwrap();
    std::fs::write(dir.join("expected_pipeline.csv"), csv_rows(&scores_all)).unwrap();

    let labels: String = labels_out
        .iter()
        .map(|l| l.trim().to_string() + "\n")
        .collect();
    std::fs::write(dir.join("labels.txt"), labels).unwrap();
    write_stream_models(dir);
    std::fs::write(dir.join("monitor.fer"), monitor_model()).unwrap();
    println!("fixtures written to {}", dir.display());
}

/// `monitor.fer` (see the module docs).
fn monitor_model() -> Vec<u8> {
    use ferrite::format::monitor::{encode_section, Baseline, FeatureSource, OutputBaseline};
    let mut b = ModelBuilder::new("monitor");
    b.labels = vec!["first".into(), "second".into()];
    let x = b.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let w = b
        .add_const_f32("w", &[2, 2], &[1.0, 0.0, 0.0, 1.0])
        .unwrap();
    let y = b.add_tensor("y", DType::F32, &[1, 2], Quant::None).unwrap();
    let fc = Op::FullyConnected {
        act: Activation::None,
        q: None,
    };
    b.add_op(fc, &[x, w], &[y]).unwrap();
    b.set_io(&[x], &[y]).unwrap();
    let le_f32 = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    let le_u32 = |v: &[u32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    let edges = le_f32(&[0.25, 0.5, 0.75, 0.25, 0.5, 0.75]);
    let range = le_f32(&[0.0, 1.0, 0.0, 1.0]);
    let counts = le_u32(&[100, 100, 100, 100, 0, 100, 100, 100, 100, 0]);
    let classes = le_u32(&[200, 200]);
    let base = Baseline {
        source: FeatureSource::Raw,
        features: 2,
        bins: 4,
        rows: 400,
        names: "a\nb",
        edges: &edges,
        range: &range,
        counts: &counts,
        output: OutputBaseline::Classes { counts: &classes },
    };
    b.add_section(
        ferrite::format::kind::FEATURE_STATS,
        false,
        encode_section(&base).unwrap(),
    );
    b.finish().unwrap()
}
