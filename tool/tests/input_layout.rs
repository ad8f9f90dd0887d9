//! `convert --input-layout nhwc` on ResNet-8 (a PyTorch export, input `[1, 3, 32, 32]`):
//! the file takes the image channels-last, has no Transpose left (the pass's input
//! Transpose cancels against the one the NHWC pass puts before the first conv), and
//! gives the outputs of the NCHW file when fed the same images channels-last (int8: the
//! same bytes; f32: the same values within 1e-5 — the f32 NCHW file starts with a
//! `ConvNchw`, which sums its taps in another order than `ConvNhwc` on AVX-512). The NHWC test rows are made here with
//! an explicit index loop, not with the converter's own permutation.

use ferrite::AlignedModel;
use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::ir::input_layout::InputLayout;
use ferrite_tool::run::run_rows;
use ferrite_tool::validate::{validate, ValidateOptions};
use ferrite_tool::Error;
use std::path::{Path, PathBuf};

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file)
}

/// Each row, a `[1, c, h, w]` image, as `[1, h, w, c]`.
fn channels_last(d: &Dataset, c: usize, h: usize, w: usize) -> Dataset {
    let mut values = Vec::with_capacity(d.values.len());
    for row in d.iter_rows() {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    values.push(row[(ch * h + y) * w + x]);
                }
            }
        }
    }
    Dataset {
        values,
        ..d.clone()
    }
}

/// The file's input shape and its op names.
fn shape_and_ops(bytes: &[u8]) -> (Vec<u32>, Vec<&'static str>) {
    let a = AlignedModel::new(bytes);
    let m = a.model().unwrap();
    let shape = m.input(0).unwrap().shape.to_vec();
    let ops = (0..m.num_ops())
        .map(|i| m.op(i).unwrap().op.name())
        .collect();
    (shape, ops)
}

fn bits(rows: &[Vec<f32>]) -> Vec<Vec<u32>> {
    rows.iter()
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// Converts ResNet-8 both ways in `precision`; checks the layouts and that the NHWC
/// file on channels-last rows gives the NCHW file's outputs (int8: bit for bit; f32:
/// within 1e-5, see the module doc).
fn both_ways(precision: Precision) {
    let onnx = std::fs::read(example("bench/resnet8.onnx")).unwrap();
    let calib = Dataset::load(&example("bench/resnet8_calib.npy"))
        .unwrap()
        .head(4);
    let test = Dataset::load(&example("bench/resnet8_test.npy")).unwrap();
    let opts = |input_layout| ConvertOptions {
        precision,
        calibration: Some(calib.clone()),
        golden: 2,
        input_layout,
        int8: ferrite_tool::emit::Int8Options {
            int8_input: precision == Precision::Int8,
            ..Default::default()
        },
        ..ConvertOptions::default()
    };
    let nchw = convert(&onnx, &opts(InputLayout::Nchw)).unwrap();
    // convert checks the golden vectors (calibration rows, laid out channels-last).
    let nhwc = convert(&onnx, &opts(InputLayout::Nhwc)).unwrap();
    assert_eq!(nhwc.golden, 2);
    let (s0, ops0) = shape_and_ops(&nchw.bytes);
    let (s1, ops1) = shape_and_ops(&nhwc.bytes);
    assert_eq!(s0, [1, 3, 32, 32]);
    assert_eq!(s1, [1, 32, 32, 3]);
    assert!(!ops1.contains(&"Transpose"), "{ops1:?}");
    assert!(!ops1.contains(&"ConvNchw"), "{ops1:?}");
    if precision == Precision::Int8 {
        // Quantize, then the int8 bytes' NCHW → NHWC transpose, then the stem.
        assert_eq!(ops0.iter().filter(|&&o| o == "Transpose").count(), 1);
        assert_eq!(ops1.len() + 1, ops0.len(), "{ops0:?}\n{ops1:?}");
    } else {
        // The f32 stem reads the NCHW input itself: no Transpose in either file.
        assert!(!ops0.contains(&"Transpose"), "{ops0:?}");
        assert_eq!(ops0.iter().filter(|&&o| o == "ConvNchw").count(), 1);
        assert_eq!(ops1.len(), ops0.len(), "{ops0:?}\n{ops1:?}");
    }
    let a = AlignedModel::new(&nhwc.bytes);
    assert_eq!(
        a.model().unwrap().metadata().property("input_layout"),
        Some("nhwc")
    );
    let want = run_rows(&nchw.bytes, &test).unwrap();
    let got = run_rows(&nhwc.bytes, &channels_last(&test, 3, 32, 32)).unwrap();
    assert_eq!(want.len(), 4);
    if precision == Precision::Int8 {
        assert_eq!(bits(&got), bits(&want));
    } else {
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.len(), w.len());
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() <= 1e-5, "{g:?}\n{w:?}");
            }
        }
    }
}

#[test]
fn resnet8_int8_nhwc_input_gives_the_nchw_files_bytes() {
    both_ways(Precision::Int8);
}

#[test]
fn resnet8_f32_nhwc_input_gives_the_nchw_files_values_and_validates() {
    both_ways(Precision::F32);
    // validate takes rows in the file's layout and hands tract the NCHW image (tract
    // refuses the model with a [1, 32, 32, 3] input).
    let onnx = std::fs::read(example("bench/resnet8.onnx")).unwrap();
    let test = Dataset::load(&example("bench/resnet8_test.npy")).unwrap();
    let fer = convert(
        &onnx,
        &ConvertOptions {
            input_layout: InputLayout::Nhwc,
            golden: 0,
            ..ConvertOptions::default()
        },
    )
    .unwrap()
    .bytes;
    let nhwc_rows = channels_last(&test, 3, 32, 32);
    let opts = ValidateOptions {
        max_abs_error: Some(1e-4),
        ..ValidateOptions::default()
    };
    let r = validate(&fer, &onnx, &nhwc_rows, None, &opts).unwrap();
    assert!(r.passed, "{}", r.to_text());
}

#[test]
fn a_model_without_an_image_input_is_refused() {
    let onnx = std::fs::read(example("digits/digits_mlp.onnx")).unwrap();
    let e = convert(
        &onnx,
        &ConvertOptions {
            input_layout: InputLayout::Nhwc,
            ..ConvertOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e:?}");
    assert!(e.to_string().contains("rank 4"), "{e}");
    assert!("nhwc".parse::<InputLayout>().is_ok());
    assert!(matches!("hwc".parse::<InputLayout>(), Err(Error::Usage(_))));
}
