//! 1-D convolutions and pools (`[N, C, L]`) through the NHWC pass: they run as the
//! engine ops with H = 1 (`ConvNchw` / `ConvNchwI8` for the first conv, `ConvNhwc`,
//! `DepthwiseNhwc`, `MaxPoolNhwc`, `AvgPoolNhwc`), on files made by exporters:
//! `examples/sensor/sensor_cnn.onnx` (torch.onnx.export) and
//! `fixtures/conv1d_nhwc.onnx` (onnx.helper: odd length, stride 2, asymmetric pads,
//! dilation, a depthwise conv, a 1×1 conv, padded strided MaxPool, AveragePool, both
//! global pools; `fixtures/make_fixtures.py`), and that fixture's variant quantized
//! by onnxruntime (`fixtures/conv1d_nhwc_qdq.onnx`, QDQ).
//!
//! The references are independent of the code under test: onnxruntime's outputs
//! (committed CSVs) for f32 and f16, and for int8 the bytes of the int8 file written
//! without the NHWC pass (the NCHW reference kernels `Conv` / `MaxPool` /
//! `GlobalAvgPool` with the same calibration): the engine file must give the same
//! output bits on every row (for the QDQ file too, against onnxruntime's QDQ outputs
//! besides).

use ferrite::AlignedModel;
use ferrite_tool::convert::{calibrate, convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::emit::{self, Int8Options};
use ferrite_tool::import::{import, ImportOptions};
use ferrite_tool::quant::{CalibrationMethod, Ranges};
use ferrite_tool::run::{argmax, run_rows};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn load(rel: &str) -> Dataset {
    Dataset::load(&path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn onnx(rel: &str) -> Vec<u8> {
    std::fs::read(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn op_counts(bytes: &[u8]) -> BTreeMap<&'static str, usize> {
    let a = AlignedModel::new(bytes);
    let m = a.model().unwrap();
    let mut ops = BTreeMap::new();
    for i in 0..m.num_ops() {
        *ops.entry(m.op(i).unwrap().op.name()).or_default() += 1;
    }
    ops
}

/// No NCHW conv or pool is left; `want` gives the count of each engine op (and of
/// `Transpose`s: none, but the f16 file's input transpose).
fn assert_engine_ops(what: &str, bytes: &[u8], want: &[(&str, usize)]) {
    let ops = op_counts(bytes);
    let count = |name: &str| ops.get(name).copied().unwrap_or(0);
    for absent in [
        "Conv",
        "MaxPool",
        "AvgPool",
        "GlobalAvgPool",
        "GlobalMaxPool",
    ] {
        assert_eq!(count(absent), 0, "{what}: {absent} in {ops:?}");
    }
    for &(name, n) in want {
        assert_eq!(count(name), n, "{what}: {name} in {ops:?}");
    }
}

/// max |a - b| / (1 + |b|) over every value.
fn rel_err(a: &[Vec<f32>], b: &Dataset) -> f32 {
    assert_eq!(a.len(), b.rows);
    a.iter()
        .zip(b.iter_rows())
        .flat_map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs() / (1.0 + q.abs()))
        })
        .fold(0.0, f32::max)
}

fn opts(precision: Precision, calib: &Dataset) -> ConvertOptions {
    ConvertOptions {
        precision,
        calibration: Some(calib.clone()),
        ..ConvertOptions::default()
    }
}

/// The f32 and f16 files of `model` run its 1-D ops on the engine (`engine` ops
/// besides the first conv: in f32 a `ConvNchw` reading the input, in f16 a
/// `Transpose` and a `ConvNhwc`) and give onnxruntime's outputs on `input` within
/// `tol_f32` (the tool's f32 bound for the file) and 5e-3 (f16, as `f16_arena`),
/// relative to `1 + |y|`.
fn check_float(model: &str, input: &str, ort: &str, tol_f32: f32, engine: &[(&str, usize)]) {
    let (src, x, ort) = (onnx(model), load(input), load(ort));
    let convs = engine.iter().find(|e| e.0 == "ConvNhwc").map_or(0, |e| e.1);
    let f32_ops = [("ConvNchw", 1), ("Transpose", 0)];
    let f16_ops = [("ConvNchw", 0), ("Transpose", 1), ("ConvNhwc", convs + 1)];
    for (p, tol, first) in [
        (Precision::F32, tol_f32, &f32_ops[..]),
        (Precision::F16, 5e-3, &f16_ops[..]),
    ] {
        let r = convert(&src, &opts(p, &x)).unwrap();
        let want: Vec<_> = engine
            .iter()
            .filter(|e| !first.iter().any(|f| f.0 == e.0))
            .chain(first)
            .copied()
            .collect();
        assert_engine_ops(model, &r.bytes, &want);
        let err = rel_err(&run_rows(&r.bytes, &x).unwrap(), &ort);
        println!("{model} {p:?}: max |ferrite - onnxruntime| / (1 + |ort|) = {err:e}");
        assert!(err <= tol, "{model} {p:?}: {err}");
    }
}

/// The int8 file of `model` (calibrated on `calib`) runs its 1-D ops on the engine
/// and gives, on `calib` and `test`, the same output bits as the int8 file written
/// without the NHWC pass (the NCHW reference kernels, same calibration); its labels
/// agree with onnxruntime's f32 ones on at least `min_agree` of `test`'s rows.
fn check_int8(
    model: &str,
    calib: &str,
    test: &str,
    ort: &str,
    min_agree: f64,
    want: &[(&str, usize)],
) {
    let (src, calib, test, ort) = (onnx(model), load(calib), load(test), load(ort));
    let engine = convert(&src, &opts(Precision::Int8, &calib)).unwrap().bytes;
    assert_engine_ops(model, &engine, want);
    let graph = import(&src, &ImportOptions::default()).unwrap().graph;
    let f32_bytes = emit::emit(&graph, emit::Precision::F32, None, "t")
        .unwrap()
        .builder
        .finish()
        .unwrap();
    let ranges = calibrate(&graph, &f32_bytes, &calib, CalibrationMethod::MinMax, false).unwrap();
    let nchw = emit::emit(&graph, emit::Precision::Int8, Some(&ranges), "t")
        .unwrap()
        .builder
        .finish()
        .unwrap();
    let nchw_ops = op_counts(&nchw);
    assert!(
        nchw_ops.contains_key("Conv") && !nchw_ops.contains_key("ConvNhwc"),
        "{model}: reference {nchw_ops:?}"
    );
    for rows in [&calib, &test] {
        let (a, b) = (
            run_rows(&engine, rows).unwrap(),
            run_rows(&nchw, rows).unwrap(),
        );
        for (row, (a, b)) in a.iter().zip(&b).enumerate() {
            let bits = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b), "{model}: row {row}, engine vs NCHW int8");
        }
    }
    let out = run_rows(&engine, &test).unwrap();
    let agree = out
        .iter()
        .zip(ort.iter_rows())
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count() as f64
        / out.len() as f64;
    println!(
        "{model} int8: labels as onnxruntime f32 on {:.2}% of the rows",
        agree * 100.0
    );
    assert!(agree >= min_agree, "{model}: agreement {agree}");
}

const SENSOR_ENGINE: [(&str, usize); 3] = [("ConvNhwc", 1), ("MaxPoolNhwc", 1), ("AvgPoolNhwc", 1)];

#[test]
fn sensor_cnn_f32_and_f16_on_the_engine_match_onnxruntime() {
    check_float(
        "../examples/sensor/sensor_cnn.onnx",
        "../examples/sensor/test.csv",
        "../examples/sensor/reference_ort.csv",
        1e-4,
        &SENSOR_ENGINE,
    );
}

#[test]
fn sensor_cnn_int8_on_the_engine_equals_the_nchw_int8_file() {
    let mut want = SENSOR_ENGINE.to_vec();
    // The first conv quantizes the f32 input itself: no Quantize op.
    want.extend([("ConvNchwI8", 1), ("Quantize", 0), ("Transpose", 0)]);
    check_int8(
        "../examples/sensor/sensor_cnn.onnx",
        "../examples/sensor/calib.csv",
        "../examples/sensor/test.csv",
        "../examples/sensor/reference_ort.csv",
        0.99,
        &want,
    );
}

const FIXTURE_ENGINE: [(&str, usize); 4] = [
    ("ConvNhwc", 1),
    ("DepthwiseNhwc", 1),
    ("MaxPoolNhwc", 2),
    ("AvgPoolNhwc", 2),
];

#[test]
fn conv1d_fixture_f32_and_f16_on_the_engine_match_onnxruntime() {
    check_float(
        "tests/fixtures/conv1d_nhwc.onnx",
        "tests/fixtures/conv1d_nhwc_input.csv",
        "tests/fixtures/conv1d_nhwc_ort.csv",
        1e-5,
        &FIXTURE_ENGINE,
    );
}

#[test]
fn conv1d_fixture_int8_on_the_engine_equals_the_nchw_int8_file() {
    let mut want = FIXTURE_ENGINE.to_vec();
    want.extend([("ConvNchwI8", 1), ("Quantize", 0), ("Transpose", 0)]);
    let input = "tests/fixtures/conv1d_nhwc_input.csv";
    check_int8(
        "tests/fixtures/conv1d_nhwc.onnx",
        input,
        input,
        "tests/fixtures/conv1d_nhwc_ort.csv",
        0.9,
        &want,
    );
}

/// `--unfused-stem`'s form: the input is quantized, then reshaped to `[N, C, 1, L]`
/// and transposed in int8 before the first `ConvNhwc`; the same output bits.
#[test]
fn sensor_cnn_int8_with_the_stem_unfused_gives_the_same_bytes() {
    let src = onnx("../examples/sensor/sensor_cnn.onnx");
    let (calib, test) = (
        load("../examples/sensor/calib.csv"),
        load("../examples/sensor/test.csv"),
    );
    let fused = convert(&src, &opts(Precision::Int8, &calib)).unwrap().bytes;
    let mut o = opts(Precision::Int8, &calib);
    o.int8 = Int8Options {
        unfused_stem: true,
        ..Int8Options::default()
    };
    let r = convert(&src, &o).unwrap();
    let unfused = r.bytes;
    let ops = op_counts(&unfused);
    assert_eq!(ops.get("ConvNhwc"), Some(&2), "{ops:?}");
    assert_eq!(ops.get("ConvNchwI8"), None, "{ops:?}");
    assert_eq!(ops.get("Quantize"), Some(&1), "{ops:?}");
    // The reshape and transpose move int8 values: only the output Softmax is f32.
    assert_eq!(r.float_ops.len(), 1, "{:?}", r.float_ops);
    assert_eq!(
        run_rows(&fused, &test).unwrap(),
        run_rows(&unfused, &test).unwrap()
    );
}

/// A 1-D model quantized by onnxruntime (QDQ, int8 activations, per-channel
/// weights): converted without calibration, on its own scales, its convs and pools
/// run as the engine ops; its output bits are those of the same graph written without
/// the NHWC pass (the NCHW reference kernels), and within two output steps of
/// onnxruntime's (ferrite's f32 output put on the QDQ output's grid first, as in
/// `qdq.rs`; the NCHW file of the tool before the pass measured the same 2 steps).
#[test]
fn conv1d_qdq_fixture_runs_on_the_engine_and_matches_onnxruntime() {
    let src = onnx("tests/fixtures/conv1d_nhwc_qdq.onnx");
    let o = ConvertOptions {
        precision: Precision::Int8,
        ..ConvertOptions::default()
    };
    let r = convert(&src, &o).unwrap();
    assert_engine_ops(
        "conv1d_nhwc_qdq",
        &r.bytes,
        &[
            ("ConvNchwI8", 1),
            ("DepthwiseNhwc", 1),
            ("ConvNhwc", 1),
            ("MaxPoolNhwc", 1),
            ("AvgPoolNhwc", 2),
            ("Transpose", 0),
        ],
    );
    let graph = import(&src, &ImportOptions::default()).unwrap().graph;
    let hints_only = Ranges {
        ranges: vec![None; graph.tensors.len()],
    };
    let nchw = emit::emit(&graph, emit::Precision::Int8, Some(&hints_only), "t")
        .unwrap()
        .builder
        .finish()
        .unwrap();
    assert!(op_counts(&nchw).contains_key("Conv"));
    let proto = ferrite_tool::import::tract::parse(&src).unwrap();
    let init = |name: &str| {
        proto
            .graph
            .as_ref()
            .unwrap()
            .initializer
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let s = init("y_scale");
    let scale = s
        .float_data
        .first()
        .copied()
        .unwrap_or_else(|| f32::from_le_bytes(s.raw_data[..4].try_into().unwrap()));
    let z = init("y_zero_point");
    let zp = z
        .int32_data
        .first()
        .copied()
        .unwrap_or_else(|| i32::from(z.raw_data[0] as i8));
    let q = |v: f32| ((v / scale).round() as i32 + zp).clamp(-128, 127);
    let x = load("tests/fixtures/conv1d_nhwc_input.csv");
    let ort = load("tests/fixtures/conv1d_nhwc_qdq_ort.csv");
    let out = run_rows(&r.bytes, &x).unwrap();
    let bits = |v: &[Vec<f32>]| -> Vec<u32> { v.iter().flatten().map(|f| f.to_bits()).collect() };
    assert_eq!(bits(&out), bits(&run_rows(&nchw, &x).unwrap()));
    let steps = out
        .iter()
        .zip(ort.iter_rows())
        .flat_map(|(a, b)| a.iter().zip(b).map(|(&p, &o)| (q(p) - q(o)).abs()))
        .max()
        .unwrap();
    println!("conv1d_nhwc_qdq: max difference from onnxruntime {steps} output step(s)");
    assert!(steps <= 2, "{steps} steps");
}
