//! Models quantized by onnxruntime (`examples/qdq/`: QDQ and QOperator formats,
//! per-tensor and per-channel, int8 and uint8 activations, with and without
//! `quant_pre_process`) convert to integer ferrite models with the file's own scales
//! and zero points — no calibration data — and agree with onnxruntime's committed
//! outputs (`NAME_ort.npy`, made by `examples/qdq/make.py`) on the test rows.

use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::run::{argmax, run_rows};
use ferrite_tool::Error;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/qdq")
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn int8() -> ConvertOptions {
    ConvertOptions {
        precision: Precision::Int8,
        ..ConvertOptions::default()
    }
}

/// Largest output difference, in output quantization steps, that each model shows
/// against onnxruntime. The ONNX output is `DequantizeLinear(QuantizeLinear(y))`;
/// ferrite writes a float graph output unrounded, so its output is put on the same
/// grid (scale, zero point, int8 / uint8 range from the manifest) before comparing.
///
/// One step everywhere except the two deep MobileNets, whose activations drift by a
/// few steps after 28 / 52 requantized layers (recorded here so that a regression
/// still fails; see docs/quantization.md).
fn allowed_steps(name: &str) -> f32 {
    match name {
        "vww_mobilenetv1_qdq_pt_s8" => 6.0,
        "vww_mobilenetv1_qdq_pc_s8" => 15.0,
        "mobilenetv2_035_qdq_pt_s8" => 6.0,
        "mobilenetv2_035_qdq_pc_s8" => 4.0,
        _ => 1.0,
    }
}

#[test]
fn every_onnxruntime_quantized_model_converts_and_matches_onnxruntime() {
    let man = manifest();
    let models = man["models"].as_object().unwrap();
    assert_eq!(
        models.len(),
        13,
        "examples/qdq/manifest.json lists 13 models"
    );
    let (mut rows, mut agree) = (0usize, 0usize);
    for (name, e) in models {
        let onnx = std::fs::read(dir().join(e["file"].as_str().unwrap())).unwrap();
        let r = convert(&onnx, &int8()).unwrap_or_else(|err| panic!("{name}: {err}"));
        // The compute ops run in integers; only ops without an int8 form (a strided
        // Slice) or a float graph output (Softmax) may stay f32.
        for op in &r.float_ops {
            assert!(
                !["Conv", "FullyConnected", "MatMul", "AvgPool", "Binary"]
                    .iter()
                    .any(|k| op.contains(&format!("({k}"))),
                "{name}: {op} kept in f32"
            );
        }
        let test = Dataset::load(&dir().join(e["test"].as_str().unwrap())).unwrap();
        let ort = Dataset::load(&dir().join(e["ort"].as_str().unwrap())).unwrap();
        let out = run_rows(&r.bytes, &test).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(out.len(), ort.rows, "{name}");
        let q = &e["quantization"];
        let scale = q["output_scale"].as_f64().unwrap() as f32;
        let zp = q["output_zero_point"].as_f64().unwrap() as f32;
        let (lo, hi) = match q["output_quant_dtype"].as_str().unwrap() {
            "uint8" => (0.0, 255.0),
            "int8" => (-128.0, 127.0),
            other => panic!("{name}: output dtype {other}"),
        };
        let on_grid = |v: f32| ((v / scale).round() + zp).clamp(lo, hi);
        let mut worst = 0f32;
        for (got, want) in out.iter().zip(ort.iter_rows()) {
            assert_eq!(got.len(), want.len(), "{name}");
            for (&g, &w) in got.iter().zip(want) {
                worst = worst.max((on_grid(g) - on_grid(w)).abs());
            }
            if name.starts_with("ad_autoencoder") {
                continue; // a reconstruction, not class scores
            }
            rows += 1;
            agree += usize::from(argmax(got) == argmax(want));
        }
        let allowed = allowed_steps(name);
        assert!(
            worst <= allowed,
            "{name}: {worst} output steps from onnxruntime (allowed {allowed})"
        );
    }
    // Top-1 agreement with onnxruntime on every classifier's rows: >= 99%.
    assert!(rows >= 40, "{rows} classifier rows");
    assert!(
        agree as f64 >= 0.99 * rows as f64,
        "top-1 agreement {agree} of {rows}"
    );
}

/// The quantization comes from the file: converting without calibration data gives
/// the same model twice, and the input quantization is the file's (a calibrated
/// conversion would have taken it from the data's range).
#[test]
fn the_files_quantization_is_used_not_a_calibration() {
    let onnx = std::fs::read(dir().join("kws_dscnn_qdq_pc_s8.onnx")).unwrap();
    let a = convert(&onnx, &int8()).unwrap();
    let b = convert(&onnx, &int8()).unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.precision, Precision::Int8);
    // A float model without data is refused: there is nothing to take ranges from.
    let float = std::fs::read(dir().join("../bench/kws_dscnn.onnx")).unwrap();
    let err = convert(&float, &int8()).unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err}");
}

/// A QOperator file with an op ferrite does not rewrite is refused with an error that
/// names the op, not a tract failure.
#[test]
fn unsupported_quantized_ops_are_named() {
    use prost::Message;
    let bytes = std::fs::read(dir().join("kws_dscnn_qop_pt_s8.onnx")).unwrap();
    let mut m = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let pool = g
        .node
        .iter_mut()
        .find(|n| n.op_type == "QLinearAveragePool")
        .unwrap();
    pool.op_type = "QLinearReduceMean".into();
    let out = m.encode_to_vec();
    let err = convert(&out, &int8()).unwrap_err().to_string();
    assert!(err.contains("QLinearReduceMean"), "{err}");
    assert!(err.contains("not supported"), "{err}");
}
