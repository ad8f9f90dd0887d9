//! The int8 first layer that reads the f32 NCHW image input (`ConvNchwI8`, format
//! 1.6) in the bench's real models (`examples/bench`): `ferrite convert --precision
//! int8` writes it in place of the input's `Quantize`, its `Transpose` and the first
//! `ConvNhwc`, and the model's outputs are bit for bit those of the file written with
//! the three separate ops (`Int8Options::unfused_stem`) — the outputs are the
//! `Dequantize` of the int8 results with the same scale, so equal f32 bits are equal
//! int8 bytes.

use ferrite::AlignedModel;
use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::emit::Int8Options;
use ferrite_tool::run::run_rows;
use std::path::{Path, PathBuf};

fn bench(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/bench")
        .join(file)
}

/// `NAME.onnx` converted to int8 with `NAME_calib.npy`: the file and its op names.
fn convert_i8(name: &str, unfused_stem: bool) -> (Vec<u8>, Vec<&'static str>) {
    let onnx = std::fs::read(bench(&format!("{name}.onnx"))).unwrap();
    let calib = Dataset::load(&bench(&format!("{name}_calib.npy"))).unwrap();
    let opts = ConvertOptions {
        precision: Precision::Int8,
        calibration: Some(calib),
        golden: 0,
        int8: Int8Options {
            unfused_stem,
            ..Int8Options::default()
        },
        ..ConvertOptions::default()
    };
    let r = convert(&onnx, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let a = AlignedModel::new(&r.bytes);
    let m = a.model().unwrap();
    let ops = (0..m.num_ops())
        .map(|i| m.op(i).unwrap().op.name())
        .collect();
    (r.bytes, ops)
}

fn count(ops: &[&str], name: &str) -> usize {
    ops.iter().filter(|&&o| o == name).count()
}

fn bits(rows: &[Vec<f32>]) -> Vec<u32> {
    rows.iter().flatten().map(|v| v.to_bits()).collect()
}

fn fused_equals_unfused(name: &str, test: &str) {
    let (fused, ops) = convert_i8(name, false);
    let (unfused, ops0) = convert_i8(name, true);
    assert_eq!(count(&ops, "ConvNchwI8"), 1, "{name}: {ops:?}");
    assert_eq!(ops[0], "ConvNchwI8", "{name}: {ops:?}");
    // The input's Quantize and Transpose and the first ConvNhwc are gone.
    assert_eq!(count(&ops, "Quantize"), 0, "{name}: {ops:?}");
    assert_eq!(count(&ops, "Transpose"), 0, "{name}: {ops:?}");
    assert_eq!(ops.len() + 2, ops0.len(), "{name}: {ops:?} / {ops0:?}");
    assert_eq!(count(&ops0, "ConvNchwI8"), 0, "{name}: {ops0:?}");
    assert_eq!(&ops0[..3], ["Quantize", "Transpose", "ConvNhwc"], "{name}");
    let minor = |f: &[u8]| u16::from_le_bytes([f[6], f[7]]);
    // 1.6 for ConvNchwI8 (≤ 1.5 without it), both raised to 1.7 by the classifier's
    // Reshape written in place, and to 1.8 by a Softmax reading the int8 logits.
    let newest = if ops.contains(&"Softmax") { 8 } else { 7 };
    assert_eq!(minor(&fused), newest, "{name}");
    assert_eq!(minor(&unfused), newest, "{name}");
    let rows = Dataset::load(&bench(test)).unwrap();
    let want = run_rows(&unfused, &rows).unwrap();
    let got = run_rows(&fused, &rows).unwrap();
    assert!(!want.is_empty());
    assert_eq!(bits(&got), bits(&want), "{name}");
    // The calibration rows too (the images the quantization was fitted to: the
    // input's whole int8 range is used).
    let calib = Dataset::load(&bench(&format!("{name}_calib.npy"))).unwrap();
    let want = run_rows(&unfused, &calib).unwrap();
    let got = run_rows(&fused, &calib).unwrap();
    assert_eq!(bits(&got), bits(&want), "{name}: calibration rows");
}

#[test]
fn vww_int8_first_layer_reads_the_nchw_input_with_the_same_bytes() {
    fused_equals_unfused("vww_mobilenetv1", "vww_mobilenetv1_test.npy");
}

#[test]
fn mobilenetv2_int8_first_layer_reads_the_nchw_input_with_the_same_bytes() {
    fused_equals_unfused("mobilenetv2_035", "mobilenetv2_035_test.npy");
}

#[test]
fn resnet8_int8_first_layer_reads_the_nchw_input_with_the_same_bytes() {
    fused_equals_unfused("resnet8", "resnet8_test.npy");
}

/// `ferrite convert --unfused-stem` writes the three ops (a file that format 1.5
/// runtimes and builds without `ops-conv-f32` read); without `--precision int8` the
/// flag is a usage error.
#[test]
fn the_cli_flag_unfused_stem_keeps_quantize_transpose_and_conv() {
    let dir = std::env::temp_dir().join(format!("ferrite-unfused-stem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("resnet8-int8.fer");
    let convert = |extra: &[&str], out: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
            .arg("convert")
            .arg(bench("resnet8.onnx"))
            .arg("-o")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    let calib = bench("resnet8_calib.npy");
    let calib = calib.to_str().unwrap();
    let r = convert(
        &["--precision", "int8", "-c", calib, "--unfused-stem"],
        &out,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let bytes = std::fs::read(&out).unwrap();
    // No ConvNchwI8 (1.6); 1.7 for the Reshape in place, 1.8 for the Softmax of the
    // int8 logits.
    assert_eq!(u16::from_le_bytes([bytes[6], bytes[7]]), 8);
    let a = AlignedModel::new(&bytes);
    let m = a.model().unwrap();
    let ops: Vec<&str> = (0..m.num_ops())
        .map(|i| m.op(i).unwrap().op.name())
        .collect();
    assert_eq!(&ops[..3], ["Quantize", "Transpose", "ConvNhwc"], "{ops:?}");
    assert_eq!(count(&ops, "ConvNchwI8"), 0, "{ops:?}");
    let r = convert(&["--unfused-stem"], &dir.join("f32.fer"));
    assert_eq!(
        r.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(String::from_utf8_lossy(&r.stderr).contains("--unfused-stem"));
    std::fs::remove_dir_all(&dir).unwrap();
}
