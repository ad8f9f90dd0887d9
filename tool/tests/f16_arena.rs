//! f16 models read their weights directly (issue #20, point 2): on the three models
//! whose f16 arenas used to grow (FC autoencoder, digits MLP, KWS DS-CNN), the f16
//! file's arena equals the f32 file's, it holds no `Cast`, its weights are f16, and
//! its outputs stay within f16 tolerance of onnxruntime's committed outputs.

use ferrite::{AlignedModel, DType};
use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::run::run_rows;
use std::path::{Path, PathBuf};

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(path)
}

fn convert_to(onnx: &[u8], precision: Precision) -> Vec<u8> {
    let opts = ConvertOptions {
        precision,
        ..ConvertOptions::default()
    };
    convert(onnx, &opts).unwrap_or_else(|e| panic!("{e}")).bytes
}

/// The arena, the op names and the bytes of f16 constants of a file.
fn summary(bytes: &[u8]) -> (usize, Vec<&'static str>, usize) {
    let a = AlignedModel::new(bytes);
    let m = a.model().unwrap();
    let ops = (0..m.num_ops())
        .map(|i| m.op(i).unwrap().op.name())
        .collect();
    let f16 = (0..m.num_tensors())
        .map(|i| m.tensor(i).unwrap())
        .filter(|t| t.dtype == DType::F16)
        .map(|t| t.byte_len().unwrap())
        .sum();
    (m.arena_size(), ops, f16)
}

/// Converts `onnx` to f32 and f16; the f16 arena equals the f32 one, no Cast, and the
/// f16 outputs on `test` are within `tol` (absolute, plus `tol` relative) of
/// onnxruntime's `reference`. `tol` = 5e-3 is ten times f16's unit roundoff 2⁻¹¹
/// (each weight's relative rounding error): measured 2.0e-3 on the autoencoder, 1.1e-3
/// on the digits MLP and 4.5e-5 on KWS; a weight rounded much further (e.g. to
/// bfloat16's 2⁻⁸) or a wrong kernel breaks it.
fn check(name: &str, onnx: &str, test: &str, reference: &str, tol: f32) {
    let onnx = std::fs::read(example(onnx)).unwrap();
    let (f32_file, f16_file) = (
        convert_to(&onnx, Precision::F32),
        convert_to(&onnx, Precision::F16),
    );
    let (a32, _, _) = summary(&f32_file);
    let (a16, ops, f16_bytes) = summary(&f16_file);
    println!(
        "{name}: arena f32 {a32} B, f16 {a16} B; file f32 {} B, f16 {} B ({f16_bytes} B of f16 weights)",
        f32_file.len(),
        f16_file.len()
    );
    assert_eq!(a16, a32, "{name}: f16 arena");
    assert!(!ops.contains(&"Cast"), "{name}: {ops:?}");
    assert!(f16_bytes > 0, "{name}: no f16 weights");
    assert!(f16_file.len() < f32_file.len(), "{name}: file size");
    let test = Dataset::load(&example(test)).unwrap();
    let want = Dataset::load(&example(reference)).unwrap();
    let got = run_rows(&f16_file, &test).unwrap();
    assert_eq!(got.len(), want.rows, "{name}: rows");
    let mut worst = 0f32;
    for (g, w) in got.iter().zip(want.iter_rows()) {
        assert_eq!(g.len(), w.len(), "{name}: outputs");
        for (&a, &b) in g.iter().zip(w) {
            worst = worst.max((a - b).abs() / (1.0 + b.abs()));
            assert!(
                (a - b).abs() <= tol * (1.0 + b.abs()),
                "{name}: f16 {a}, onnxruntime {b}"
            );
        }
    }
    println!("{name}: f16 vs onnxruntime, max |diff| / (1 + |ort|) = {worst:e}");
}

#[test]
fn fc_autoencoder_f16_arena_equals_f32() {
    check(
        "ad_autoencoder",
        "bench/ad_autoencoder.onnx",
        "bench/ad_autoencoder_test.npy",
        "bench/ad_autoencoder_ort.npy",
        5e-3,
    );
}

#[test]
fn digits_mlp_f16_arena_equals_f32() {
    check(
        "digits_mlp",
        "digits/digits_mlp.onnx",
        "digits/test.csv",
        "digits/reference_ort.csv",
        5e-3,
    );
}

#[test]
fn kws_dscnn_f16_arena_equals_f32() {
    check(
        "kws_dscnn",
        "bench/kws_dscnn.onnx",
        "bench/kws_dscnn_test.npy",
        "bench/kws_dscnn_ort.npy",
        5e-3,
    );
}
