//! onnxruntime-quantized (QDQ) models with a Concat feeding a Gemm, MatMul or 1×1
//! Conv (`fixtures/qdq_concat_*.onnx`, made by `fixtures/make_fixtures.py`): tract splits
//! such a product into one product per concatenated input, whose partial sums the QDQ
//! file gives no quantization for. The import joins them back into Concat →
//! FullyConnected; the files convert without calibration, run the products in int8
//! and agree with onnxruntime's run of the QDQ model.

use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::import::{import, ImportOptions};
use ferrite_tool::run::{argmax, run_rows};
use prost::Message;
use std::path::{Path, PathBuf};
use tract_onnx::pb::ModelProto;

fn path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn int8() -> ConvertOptions {
    ConvertOptions {
        precision: Precision::Int8,
        ..ConvertOptions::default()
    }
}

/// A scalar initializer of the model (float or int8 / int32 zero point).
fn scalar(m: &ModelProto, name: &str) -> f32 {
    let t = m
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name}"));
    if let Some(&f) = t.float_data.first() {
        return f;
    }
    if let Some(&i) = t.int32_data.first() {
        return i as f32;
    }
    match t.data_type {
        1 => f32::from_le_bytes(t.raw_data[..4].try_into().unwrap()),
        3 => f32::from(t.raw_data[0] as i8),
        other => panic!("{name}: data type {other}"),
    }
}

/// The file cut before its Softmax: the graph output is the Softmax's input (the
/// dequantized logits), as `make_fixtures.py` cuts it for `NAME_logits_ort.csv`.
fn logits_model(m: &ModelProto) -> ModelProto {
    let mut m = m.clone();
    let g = m.graph.as_mut().unwrap();
    let cut = g.node.iter().position(|n| n.op_type == "Softmax").unwrap();
    let logits = g.node[cut].input[0].clone();
    g.node.truncate(cut);
    g.output[0].name = logits;
    m
}

/// Largest difference, in steps of the grid `(scale, zp)`, between ferrite's int8
/// file `bytes` and onnxruntime's rows `ort` (ferrite's float output put on the grid
/// first, as in `qdq.rs`); the rows whose argmax agree; and the largest gap, in
/// steps, between onnxruntime's top value and its value at ferrite's argmax (a near
/// tie may flip).
fn steps(bytes: &[u8], x: &Dataset, ort: &str, scale: f32, zp: f32) -> (i32, usize, i32) {
    let q = |v: f32| ((v / scale).round() + zp).clamp(-128.0, 127.0) as i32;
    let ort = Dataset::load(&path(ort)).unwrap();
    let out = run_rows(bytes, x).unwrap();
    assert_eq!(out.len(), ort.rows);
    let (mut worst, mut agree, mut gap) = (0, 0, 0);
    for (got, want) in out.iter().zip(ort.iter_rows()) {
        assert_eq!(got.len(), want.len());
        for (&g, &w) in got.iter().zip(want) {
            worst = worst.max((q(g) - q(w)).abs());
        }
        agree += usize::from(argmax(got) == argmax(want));
        gap = gap.max(q(want[argmax(want)]) - q(want[argmax(got)]));
    }
    (worst, agree, gap)
}

/// Two Conv branches → Concat (inputs of different scales) → Flatten → Gemm →
/// Softmax, per-tensor and per-channel weights; and two MatMul branches → Concat →
/// MatMul → Add → Softmax. Converted without calibration, the products and the Concat
/// run in int8; the logits (the file cut before its Softmax) are within one step of
/// onnxruntime's, the Softmax outputs within the steps one logit step can move them
/// (`p (1 - p) · z_scale ≤ z_scale / 4`, plus one for the output's rounding), and
/// the top-1 differs at most on a row whose top two logits are one step apart.
#[test]
fn concat_into_gemm_and_matmul_converts_and_matches_onnxruntime() {
    for (name, input) in [
        ("qdq_concat_pt", "qdq_concat_input.csv"),
        ("qdq_concat_pc", "qdq_concat_input.csv"),
        ("qdq_concat_mlp", "qdq_concat_mlp_input.csv"),
    ] {
        let src = std::fs::read(path(&format!("{name}.onnx"))).unwrap();
        let m = ModelProto::decode(src.as_slice()).unwrap();
        let x = Dataset::load(&path(input)).unwrap();
        let r = convert(&src, &int8()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for op in &r.float_ops {
            assert!(
                !["Conv", "FullyConnected", "MatMul", "Binary", "Concat"]
                    .iter()
                    .any(|k| op.contains(&format!("({k}"))),
                "{name}: {op} kept in f32"
            );
        }
        let (y_scale, y_zp) = (scalar(&m, "y_scale"), scalar(&m, "y_zero_point"));
        let (z_scale, z_zp) = (scalar(&m, "z_scale"), scalar(&m, "z_zero_point"));
        let (worst, agree, gap) = steps(&r.bytes, &x, &format!("{name}_ort.csv"), y_scale, y_zp);
        let cut = convert(&logits_model(&m).encode_to_vec(), &int8()).unwrap();
        let (z_worst, _, z_gap) = steps(
            &cut.bytes,
            &x,
            &format!("{name}_logits_ort.csv"),
            z_scale,
            z_zp,
        );
        println!(
            "{name}: logits {z_worst} step(s), probabilities {worst} step(s) from onnxruntime; top-1 {agree}/{}",
            x.rows
        );
        assert!(
            z_worst <= 1,
            "{name}: logits {z_worst} steps from onnxruntime"
        );
        let allowed = (z_scale / 4.0 / y_scale).ceil() as i32 + 1;
        assert!(
            worst <= allowed,
            "{name}: {worst} output steps (allowed {allowed})"
        );
        // The top-1 differs only where onnxruntime's top two logits are one step apart.
        assert!(
            z_gap <= 1,
            "{name}: top-1 flips {gap} output steps, {z_gap} logit steps from the top"
        );
        assert!(agree + 1 >= x.rows, "{name}: top-1 {agree} of {}", x.rows);
    }
}

/// Unnamed nodes, three concatenated inputs, a Gemm → Relu → Gemm tail (the joined
/// product's activation fused), a Concat along the length axis of 1-D Conv outputs
/// (the flattened concat interleaves the inputs; tract's weight slices follow it), a
/// 1×1 Conv after the Concat (tract's products run on transposed NHWC views), a
/// sequence MatMul and a Gemm without bias reading the graph input: the outputs are
/// within one step of onnxruntime's. (The Concat requantizes its inputs through a table
/// of ONNX's own arithmetic, `qdq_concat_requant.rs`; with the fixed-point `Requantize`
/// it used before, which rounds twice at scale ratios below 1/2, the 1×1 Conv fixture
/// was two steps off and the spatial and graph-input ones one step.)
#[test]
fn more_concat_products_match_onnxruntime() {
    for (name, allowed) in [
        ("qdq_concat_three", 1),
        ("qdq_concat_spatial", 1),
        ("qdq_concat_conv1x1", 1),
        ("qdq_concat_seq", 1),
        ("qdq_concat_with_input", 1),
    ] {
        let src = std::fs::read(path(&format!("{name}.onnx"))).unwrap();
        let m = ModelProto::decode(src.as_slice()).unwrap();
        let x = Dataset::load(&path(&format!("{name}_input.csv"))).unwrap();
        let r = convert(&src, &int8()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.float_ops.is_empty(), "{name}: {:?}", r.float_ops);
        let (z_scale, z_zp) = (scalar(&m, "z_scale"), scalar(&m, "z_zero_point"));
        let (worst, _, _) = steps(&r.bytes, &x, &format!("{name}_ort.csv"), z_scale, z_zp);
        println!("{name}: {worst} output step(s) from onnxruntime");
        assert!(
            worst <= allowed,
            "{name}: {worst} steps (allowed {allowed})"
        );
    }
}

/// The import joins the split products into one Concat → FullyConnected (the Gemm's
/// bias folded in) whose input carries the file's quantization of the product's
/// input; no partial product is left.
#[test]
fn the_split_product_is_joined_back() {
    use ferrite::format::types::Op;
    for (name, product, k) in [("qdq_concat_pt", "fc", 40), ("qdq_concat_mlp", "mm_f", 14)] {
        let src = std::fs::read(path(&format!("{name}.onnx"))).unwrap();
        let g = import(&src, &ImportOptions::default()).unwrap().graph;
        assert!(
            !g.nodes.iter().any(|n| n.name.contains("concat-einsum")
                && matches!(n.op, Op::FullyConnected { .. } | Op::Binary { .. })),
            "{name}: a partial product is left"
        );
        let fc = g
            .nodes
            .iter()
            .find(|n| n.name.starts_with(product) && matches!(n.op, Op::FullyConnected { .. }))
            .unwrap_or_else(|| panic!("{name}: no product"));
        assert_eq!(g.tensors[fc.inputs[1]].shape, [5, k], "{name}");
        assert_eq!(fc.inputs.len(), 3, "{name}: the bias is folded in");
        let cat = g.producer(fc.inputs[0]).unwrap();
        assert!(matches!(g.nodes[cat].op, Op::Concat { .. }), "{name}");
        assert_eq!(g.nodes[cat].inputs.len(), 2, "{name}");
        let m = ModelProto::decode(src.as_slice()).unwrap();
        let hint = g.tensors[fc.inputs[0]].qhint.clone().unwrap();
        assert_eq!(hint.scales, [scalar(&m, "h_scale")], "{name}");
        assert_eq!(
            hint.zero_points,
            [scalar(&m, "h_zero_point") as i32],
            "{name}"
        );
    }
}

/// Without a QuantizeLinear → DequantizeLinear pair on the Gemm's input the products
/// cannot be joined with the file's quantization: the int8 conversion fails with an
/// error naming the split Gemm and the reason, not a panic; the f32 one still works.
#[test]
fn a_concat_product_without_quantization_is_refused_with_a_clear_error() {
    let src = std::fs::read(path("qdq_concat_pt.onnx")).unwrap();
    let mut m = ModelProto::decode(src.as_slice()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let gemm = g.node.iter_mut().find(|n| n.op_type == "Gemm").unwrap();
    let dq_out = gemm.input[0].clone();
    gemm.input[0] = "f".into();
    g.node.retain(|n| {
        let quantizes_f =
            n.op_type == "QuantizeLinear" && n.input.first().is_some_and(|i| i == "f");
        !(n.output.contains(&dq_out) || quantizes_f)
    });
    let err = convert(&m.encode_to_vec(), &int8())
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"fc.ab\""), "{err}");
    assert!(err.contains("Concat"), "{err}");
    assert!(err.contains("QuantizeLinear → DequantizeLinear"), "{err}");
    // The f32 file needs no quantization: tract's split products stay, exact.
    let f32 = ConvertOptions::default();
    assert!(convert(&m.encode_to_vec(), &f32).is_ok());
}

/// An f32 or f16 file of a pre-quantized model says that it keeps the quantization's
/// ranges as clamps (they stand in for the removed Relu / Clip) but does not round to
/// them; the int8 file, which runs the file's own quantization, does not. The float
/// files' outputs against onnxruntime's are checked in `qdq_float.rs`.
#[test]
fn a_float_file_of_a_quantized_model_says_what_it_keeps() {
    let src = std::fs::read(path("qdq_concat_pt.onnx")).unwrap();
    let note = ferrite_tool::import::qdq_clamp::FLOAT_OF_QUANTIZED;
    for precision in [Precision::F32, Precision::F16] {
        let opts = ConvertOptions {
            precision,
            ..ConvertOptions::default()
        };
        let r = convert(&src, &opts).unwrap();
        assert!(r.notes.iter().any(|n| n == note), "{:?}", r.notes);
    }
    let r = convert(&src, &int8()).unwrap();
    assert!(!r.notes.iter().any(|n| n == note), "{:?}", r.notes);
}
