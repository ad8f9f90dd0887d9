//! The bench models (`examples/bench`) converted to f32 with the NHWC layout pass:
//! each runs and matches onnxruntime's committed outputs (`NAME_ort.npy`, the
//! manifest's tolerance `|ferrite − ort| <= 1e-4 + 1e-4·|ort|`), and the op lists hold
//! the pass's contract (no NCHW `Conv` left, the Transposes counted).

use ferrite::{AlignedModel, Op};
use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::run::run_rows;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn bench(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/bench")
        .join(file)
}

/// Converts `NAME.onnx` to f32; returns the file and its op names with counts.
fn convert_f32(name: &str) -> (Vec<u8>, BTreeMap<&'static str, usize>) {
    let onnx = std::fs::read(bench(&format!("{name}.onnx"))).unwrap();
    let opts = ConvertOptions {
        precision: Precision::F32,
        ..ConvertOptions::default()
    };
    let r = convert(&onnx, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let a = AlignedModel::new(&r.bytes);
    let m = a.model().unwrap();
    let mut ops = BTreeMap::new();
    for i in 0..m.num_ops() {
        *ops.entry(m.op(i).unwrap().op.name()).or_default() += 1;
    }
    (r.bytes, ops)
}

/// Runs the converted `NAME` on `test` (`NAME_test.npy`) against `reference`.
fn matches_onnxruntime(name: &str, test: &str, reference: &str) -> BTreeMap<&'static str, usize> {
    let (bytes, ops) = convert_f32(name);
    let test = Dataset::load(&bench(test)).unwrap();
    let want = Dataset::load(&bench(reference)).unwrap();
    let got = run_rows(&bytes, &test).unwrap();
    assert_eq!(got.len(), want.iter_rows().count(), "{name}: rows");
    let mut worst = 0f32;
    for (g, w) in got.iter().zip(want.iter_rows()) {
        assert_eq!(g.len(), w.len(), "{name}: outputs");
        for (&a, &b) in g.iter().zip(w) {
            let excess = (a - b).abs() - (1e-4 + 1e-4 * b.abs());
            worst = worst.max(excess);
            assert!(excess <= 0.0, "{name}: ferrite {a}, onnxruntime {b}");
        }
    }
    ops
}

fn count(ops: &BTreeMap<&str, usize>, name: &str) -> usize {
    ops.get(name).copied().unwrap_or(0)
}

/// Every convolution runs on the engine, the one average pool is an `AvgPoolNhwc`;
/// `stems` of the `engine` convs read the NCHW graph input (`ConvNchw`), so no
/// Transpose remains.
fn conv_contract(name: &str, ops: &BTreeMap<&str, usize>, engine: usize, stems: usize) {
    assert_eq!(count(ops, "Conv"), 0, "{name}: {ops:?}");
    assert_eq!(count(ops, "AvgPoolNhwc"), 1, "{name}: {ops:?}");
    for nchw in ["AvgPool", "GlobalAvgPool"] {
        assert_eq!(count(ops, nchw), 0, "{name}: {ops:?}");
    }
    assert_eq!(
        count(ops, "ConvNhwc") + count(ops, "DepthwiseNhwc") + count(ops, "ConvNchw"),
        engine,
        "{name}: {ops:?}"
    );
    assert_eq!(count(ops, "ConvNchw"), stems, "{name}: {ops:?}");
    assert_eq!(count(ops, "Transpose"), 0, "{name}: {ops:?}");
}

#[test]
fn kws_dscnn_f32_on_the_engine_matches_onnxruntime() {
    for name in ["kws_dscnn", "kws_dscnn_bn"] {
        let ort = format!("{name}_ort.npy");
        let ops = matches_onnxruntime(name, "kws_dscnn_test.npy", &ort);
        // 1 first conv + 4 × (depthwise + 1×1); no Transpose (the input has one
        // channel: a Reshape makes it NHWC).
        conv_contract(name, &ops, 9, 0);
    }
}

#[test]
fn resnet8_f32_on_the_engine_matches_onnxruntime() {
    for name in ["resnet8", "resnet8_bn"] {
        let ort = format!("{name}_ort.npy");
        let ops = matches_onnxruntime(name, "resnet8_test.npy", &ort);
        // 7 3×3 convs + 2 strided 1×1 shortcuts (tract's row and column Slices folded
        // into the stride); the residual Adds are fused; the first conv reads the
        // NCHW input (no input Transpose).
        conv_contract(name, &ops, 9, 1);
        assert_eq!(count(&ops, "Binary"), 0, "{name}: {ops:?}");
        assert_eq!(count(&ops, "Slice"), 0, "{name}: {ops:?}");
    }
}

#[test]
fn vww_mobilenetv1_f32_on_the_engine_matches_onnxruntime() {
    for name in ["vww_mobilenetv1", "vww_mobilenetv1_bn"] {
        let ort = format!("{name}_ort.npy");
        let ops = matches_onnxruntime(name, "vww_mobilenetv1_test.npy", &ort);
        // 27 convs, the first reading the NCHW input (no Transpose).
        conv_contract(name, &ops, 27, 1);
    }
}

#[test]
fn mobilenetv2_f32_on_the_engine_matches_onnxruntime() {
    for name in ["mobilenetv2_035", "mobilenetv2_035_bn"] {
        let ort = format!("{name}_ort.npy");
        let ops = matches_onnxruntime(name, "mobilenetv2_035_test.npy", &ort);
        // 52 convs, the first reading the NCHW input: no Transpose, no separate
        // ReLU6, the residual Adds fused.
        conv_contract(name, &ops, 52, 1);
        assert_eq!(count(&ops, "Unary"), 0, "{name}: {ops:?}");
        assert_eq!(count(&ops, "Binary"), 0, "{name}: {ops:?}");
    }
}

#[test]
fn models_without_convs_are_unchanged() {
    // The autoencoder (Gemm + BatchNormalization) has no conv: no engine op, and the
    // pass returns the graph as imported.
    let ops = matches_onnxruntime(
        "ad_autoencoder",
        "ad_autoencoder_test.npy",
        "ad_autoencoder_ort.npy",
    );
    assert_eq!(count(&ops, "ConvNhwc") + count(&ops, "DepthwiseNhwc"), 0);
    let (bytes, _) = convert_f32("ad_autoencoder");
    let a = AlignedModel::new(&bytes);
    assert!(a
        .model()
        .unwrap()
        .op(0)
        .is_ok_and(|d| !matches!(d.op, Op::ConvNhwc { .. })));
}
