//! Fidelity of converted models against onnxruntime's outputs (committed CSVs) and
//! against the float model, on the bundled examples and the fixtures in `fixtures/`.

use ferrite::{AlignedModel, OwnedSession};
use ferrite_tool::convert::{convert, sha256_hex, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::emit::{Int8Options, WeightGranularity};
use ferrite_tool::quant::CalibrationMethod;
use ferrite_tool::run::{argmax, run_rows};
use ferrite_tool::Error;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(p: &Path) -> Dataset {
    Dataset::load(p).unwrap_or_else(|e| panic!("{e}"))
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Example {
    onnx: Vec<u8>,
    calib: Dataset,
    test: Dataset,
    labels: Vec<usize>,
    ort: Dataset,
}

fn example(dir: &str, model: &str) -> Example {
    let d = root().join("examples").join(dir);
    Example {
        onnx: bytes(&d.join(model)),
        calib: load(&d.join("calib.csv")),
        test: load(&d.join("test.csv")),
        labels: load(&d.join("test_labels.csv")).labels().unwrap(),
        ort: load(&d.join("reference_ort.csv")),
    }
}

fn digits() -> Example {
    example("digits", "digits_mlp.onnx")
}

fn sensor() -> Example {
    example("sensor", "sensor_cnn.onnx")
}

fn opts(precision: Precision, calib: Option<&Dataset>) -> ConvertOptions {
    ConvertOptions {
        precision,
        calibration: calib.cloned(),
        ..ConvertOptions::default()
    }
}

fn max_abs_diff(a: &[Vec<f32>], b: &Dataset) -> f32 {
    assert_eq!(a.len(), b.rows);
    a.iter()
        .zip(b.iter_rows())
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

fn accuracy(out: &[Vec<f32>], labels: &[usize]) -> f64 {
    out.iter()
        .zip(labels)
        .filter(|(o, &l)| argmax(o) == l)
        .count() as f64
        / labels.len() as f64
}

fn agreement(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    a.iter()
        .zip(b)
        .filter(|(x, y)| argmax(x) == argmax(y))
        .count() as f64
        / a.len() as f64
}

#[test]
fn digits_f32_matches_onnxruntime_within_1e4() {
    let e = digits();
    let r = convert(&e.onnx, &opts(Precision::F32, Some(&e.calib))).unwrap();
    let out = run_rows(&r.bytes, &e.test).unwrap();
    let err = max_abs_diff(&out, &e.ort);
    println!(
        "digits f32: max |ferrite - onnxruntime| = {err:e} over {} rows",
        out.len()
    );
    assert!(err <= 1e-4, "{err}");
    assert_eq!(
        r.ops, 4,
        "Gemm+bias+Relu fuse into FullyConnected; reshapes cancel"
    );
}

#[test]
fn sensor_cnn_f32_matches_onnxruntime_within_1e4() {
    let e = sensor();
    let r = convert(&e.onnx, &opts(Precision::F32, Some(&e.calib))).unwrap();
    let out = run_rows(&r.bytes, &e.test).unwrap();
    let err = max_abs_diff(&out, &e.ort);
    println!(
        "sensor f32: max |ferrite - onnxruntime| = {err:e} over {} rows",
        out.len()
    );
    assert!(err <= 1e-4, "{err}");
}

#[test]
fn op_fixtures_f32_match_onnxruntime() {
    for name in ["ops_f32", "conv1d_f32"] {
        let onnx = bytes(&fixture(&format!("{name}.onnx")));
        let input = load(&fixture(&format!("{name}_input.csv")));
        let ort = load(&fixture(&format!("{name}_ort.csv")));
        let r = convert(&onnx, &ConvertOptions::default()).unwrap();
        let out = run_rows(&r.bytes, &input).unwrap();
        let err = max_abs_diff(&out, &ort);
        println!("{name}: max |ferrite - onnxruntime| = {err:e}");
        assert!(err <= 1e-5, "{name}: {err}");
    }
}

#[test]
fn op_fixtures_int8_run_every_op_and_agree_with_float() {
    for name in ["ops_f32", "conv1d_f32"] {
        let onnx = bytes(&fixture(&format!("{name}.onnx")));
        let input = load(&fixture(&format!("{name}_input.csv")));
        let f = convert(&onnx, &ConvertOptions::default()).unwrap();
        let q = convert(&onnx, &opts(Precision::Int8, Some(&input))).unwrap();
        let fo = run_rows(&f.bytes, &input).unwrap();
        let qo = run_rows(&q.bytes, &input).unwrap();
        let err = fo
            .iter()
            .zip(&qo)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(0f32, f32::max);
        println!(
            "{name} int8: max |int8 - f32| = {err:e}; ops kept in f32: {:?}",
            q.float_ops
        );
        assert!(err <= 0.05, "{name}: {err}");
        assert_eq!(agreement(&fo, &qo), 1.0, "{name}");
    }
}

fn check_int8(e: &Example, method: CalibrationMethod, what: &str) {
    let f = convert(&e.onnx, &opts(Precision::F32, Some(&e.calib))).unwrap();
    let mut o = opts(Precision::Int8, Some(&e.calib));
    o.calibration_method = method;
    let q = convert(&e.onnx, &o).unwrap();
    let fo = run_rows(&f.bytes, &e.test).unwrap();
    let qo = run_rows(&q.bytes, &e.test).unwrap();
    let agree = agreement(&fo, &qo);
    let (af, aq) = (accuracy(&fo, &e.labels), accuracy(&qo, &e.labels));
    println!(
        "{what} int8 ({}): agreement {:.2}%, accuracy f32 {:.2}% int8 {:.2}%, size {} B (onnx {} B, {:.1}%)",
        method.name(),
        agree * 100.0,
        af * 100.0,
        aq * 100.0,
        q.bytes.len(),
        e.onnx.len(),
        100.0 * q.bytes.len() as f64 / e.onnx.len() as f64
    );
    assert!(agree >= 0.99, "{what}: agreement {agree}");
    assert!(af - aq <= 0.01, "{what}: accuracy drop {af} -> {aq}");
    let a = q.agreement.expect("agreement measured at conversion");
    assert!(a.top1.unwrap() >= 0.99);
}

#[test]
fn digits_int8_agrees_with_float_and_keeps_accuracy() {
    check_int8(&digits(), CalibrationMethod::MinMax, "digits");
}

#[test]
fn sensor_int8_agrees_with_float_and_keeps_accuracy() {
    let e = sensor();
    check_int8(&e, CalibrationMethod::MinMax, "sensor");
    check_int8(&e, CalibrationMethod::Percentile, "sensor");
}

#[test]
fn int8_file_size_against_the_onnx_file() {
    let e = digits();
    let default = convert(&e.onnx, &opts(Precision::Int8, Some(&e.calib))).unwrap();
    let mut o = opts(Precision::Int8, Some(&e.calib));
    o.int8 = Int8Options {
        weights: WeightGranularity::PerTensorFc,
        int8_input: true,
        ..Int8Options::default()
    };
    let compact = convert(&e.onnx, &o).unwrap();
    o.golden = 0;
    let bare = convert(&e.onnx, &o).unwrap();
    let pct = |n: usize| 100.0 * n as f64 / e.onnx.len() as f64;
    println!(
        "digits int8 vs onnx {} B: default {} B ({:.1}%), compact {} B ({:.1}%), compact without golden vectors {} B ({:.1}%)",
        e.onnx.len(),
        default.bytes.len(),
        pct(default.bytes.len()),
        compact.bytes.len(),
        pct(compact.bytes.len()),
        bare.bytes.len(),
        pct(bare.bytes.len())
    );
    // The weights themselves shrink 4x; fixed costs (provenance, per-channel
    // requantization tables; the 4 compact golden vectors take ~125 bytes) decide the rest.
    assert!(pct(bare.bytes.len()) <= 30.0);
    assert!(pct(compact.bytes.len()) <= 30.0);
    assert!(pct(default.bytes.len()) <= 35.0);
    let out = run_rows(&compact.bytes, &e.test).unwrap();
    assert!(accuracy(&out, &e.labels) >= 0.95);
}

#[test]
fn f16_stays_close_to_f32() {
    for e in [digits(), sensor()] {
        let f = convert(&e.onnx, &opts(Precision::F32, Some(&e.calib))).unwrap();
        let h = convert(&e.onnx, &opts(Precision::F16, Some(&e.calib))).unwrap();
        let fo = run_rows(&f.bytes, &e.test).unwrap();
        let ho = run_rows(&h.bytes, &e.test).unwrap();
        let err = fo
            .iter()
            .zip(&ho)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(0f32, f32::max);
        println!(
            "f16 vs f32: max abs error {err:e}, {} -> {} bytes",
            f.bytes.len(),
            h.bytes.len()
        );
        assert!(err <= 5e-3, "{err}");
        assert!(agreement(&fo, &ho) >= 0.99);
    }
}

#[test]
fn qdq_model_runs_on_its_own_quantization_without_calibration() {
    let onnx = bytes(&fixture("digits_qdq.onnx"));
    let q = convert(&onnx, &opts(Precision::Int8, None)).unwrap();
    let test = digits().test.head(100);
    let ort = load(&fixture("digits_qdq_ort.csv"));
    let out = run_rows(&q.bytes, &test).unwrap();
    let err = max_abs_diff(&out, &ort);
    let agree = out
        .iter()
        .zip(ort.iter_rows())
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count();
    println!("digits QDQ: max |ferrite - onnxruntime QDQ| = {err:e}, argmax agreement {agree}/100");
    // onnxruntime quantizes the softmax output to 1/255 steps; ferrite keeps it in f32.
    assert!(err <= 1e-2, "{err}");
    assert!(agree >= 99);

    // The int8 weights are the source model's integers, not a re-quantization.
    let proto = ferrite_tool::import::tract::parse(&onnx).unwrap();
    let graph = proto.graph.as_ref().unwrap();
    let src = graph
        .initializer
        .iter()
        .find(|t| t.name == "net.body.0.weight_quantized")
        .expect("quantized weight");
    let aligned = AlignedModel::new(&q.bytes);
    let model = aligned.model().unwrap();
    let fc = model.op(1).unwrap();
    assert_eq!(fc.op.name(), "FullyConnected");
    let w = model.tensor(fc.inputs[1]).unwrap();
    assert_eq!(model.constant_bytes(&w).unwrap(), &src.raw_data[..]);
}

#[test]
fn provenance_and_golden_vectors_are_recorded() {
    let e = digits();
    let calib_path = root().join("examples/digits/calib.csv");
    let mut o = opts(Precision::Int8, Some(&e.calib));
    o.calibration_sha256 = Some(sha256_hex(&bytes(&calib_path)));
    o.labels = (0..10).map(|d| d.to_string()).collect();
    let r = convert(&e.onnx, &o).unwrap();
    let aligned = AlignedModel::new(&r.bytes);
    let model = aligned.model().unwrap();
    let meta = model.metadata();
    assert_eq!(
        meta.property("source_sha256"),
        Some(sha256_hex(&e.onnx).as_str())
    );
    assert_eq!(
        meta.property("calibration_sha256"),
        o.calibration_sha256.as_deref()
    );
    assert_eq!(meta.property("precision"), Some("int8"));
    assert!(meta.property("agreement_top1").is_some());
    assert_eq!(
        meta.producer,
        format!("ferrite-tool {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(model.labels().count(), 10);
    assert_eq!(model.num_golden(), 4);
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    for g in 0..4 {
        s.check_golden(g).unwrap();
    }
    // Compact vectors (seeded inputs, output digests): nothing stored in full.
    assert!(model.section(ferrite::format::kind::GOLDEN).is_none());
    assert!(model.golden(0).is_err());
    // A corrupted weight no longer reproduces them.
    let bad = corrupt_first_weights(&r.bytes);
    let aligned = AlignedModel::new(&bad);
    let model = aligned.model().unwrap();
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    assert!((0..4).any(|g| s.check_golden(g).is_err()));
}

/// `fer` with 16 bytes in the middle of the weight operand of its first op that has
/// one inverted, and the header CRC recomputed (so the file still loads). The middle:
/// an engine conv's packed weights start with a header whose two bias rows are each
/// read by only some ISAs (`bias_u8` by AVX-512 VNNI, `bias_s8` elsewhere), so
/// corrupting those bytes may not change this machine's outputs.
fn corrupt_first_weights(fer: &[u8]) -> Vec<u8> {
    let aligned = AlignedModel::new(fer);
    let model = aligned.model().unwrap();
    let base = model.bytes().as_ptr() as usize;
    let at = (0..model.num_ops())
        .find_map(|i| {
            let op = model.op(i).ok()?;
            let w = model.tensor(*op.inputs.get(1)?).ok()?;
            let c = model.constant_bytes(&w)?;
            Some(c.as_ptr() as usize - base + (c.len() / 2).min(c.len().saturating_sub(16)))
        })
        .expect("an op with a constant weight");
    let mut bad = fer.to_vec();
    for b in &mut bad[at..at + 16] {
        *b = !*b;
    }
    bad[16..20].fill(0);
    let crc = ferrite::format::crc32(&bad);
    bad[16..20].copy_from_slice(&crc.to_le_bytes());
    bad
}

/// The int8 MobileNetV2 0.35 at 96x96 (examples/bench): its golden vectors cost at most
/// 2 % of the file and still catch a corrupted weight; the file against the f32 ONNX.
#[test]
fn mobilenetv2_int8_golden_vectors_are_small_and_still_detect_corruption() {
    let d = root().join("examples/bench");
    let onnx = bytes(&d.join("mobilenetv2_035.onnx"));
    let calib = load(&d.join("mobilenetv2_035_calib.npy"));
    let r = convert(&onnx, &opts(Precision::Int8, Some(&calib))).unwrap();
    let mut o = opts(Precision::Int8, Some(&calib));
    o.golden = 0;
    let bare = convert(&onnx, &o).unwrap();
    let golden_bytes = r.bytes.len() - bare.bytes.len();
    let aligned = AlignedModel::new(&r.bytes);
    let model = aligned.model().unwrap();
    let params = model.parameter_bytes();
    let pct = |n: usize| 100.0 * n as f64 / onnx.len() as f64;
    println!(
        "mobilenetv2_035 int8: {} B = {:.1}% of the {} B ONNX file; golden vectors {} B \
         ({:.3}% of the file); int8 parameters {} B ({:.1}% of the ONNX file)",
        r.bytes.len(),
        pct(r.bytes.len()),
        onnx.len(),
        golden_bytes,
        100.0 * golden_bytes as f64 / r.bytes.len() as f64,
        params,
        pct(params)
    );
    assert_eq!(model.num_golden(), 4);
    assert!(golden_bytes * 50 <= r.bytes.len(), "{golden_bytes}");
    // The convolutions run on the NHWC engine: their constants are the packed panels
    // (int8 weights and, per channel of 16 per panel, the bias, `Σw` as i16, the
    // multiplier and an i8 shift: the compact headers of format 1.4), so the
    // parameters include the requantization tables; the global average pool is an
    // AvgPoolNhwc without constants. The target: the file at most 30 % of the
    // f32 ONNX file (31.6 % with the wide headers of format 1.1, 33.3 % with the pool
    // as a depthwise conv, 32.6 % with the NCHW ops).
    assert!(pct(params) <= 29.5, "{:.2}%", pct(params));
    assert!(pct(r.bytes.len()) <= 30.0, "{:.2}%", pct(r.bytes.len()));
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    for g in 0..4 {
        s.check_golden(g).unwrap();
    }
    let bad = corrupt_first_weights(&r.bytes);
    let aligned = AlignedModel::new(&bad);
    let model = aligned.model().unwrap();
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    for g in 0..4 {
        assert_eq!(
            s.check_golden(g),
            Err(ferrite::Error::GoldenMismatch { index: g })
        );
    }
}

#[test]
fn unsupported_ops_are_all_listed_with_node_names() {
    let e = convert(
        &bytes(&fixture("unsupported.onnx")),
        &ConvertOptions::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    match &e {
        Error::Unsupported { ops } => assert_eq!(ops.len(), 2, "{msg}"),
        other => panic!("unexpected {other}"),
    }
    assert!(msg.contains("CumSum (node \"cumsum_node\")"), "{msg}");
    assert!(msg.contains("node \"trilu_node\""), "{msg}");
}

#[test]
fn dynamic_input_needs_input_shape() {
    let onnx = bytes(&fixture("dynamic.onnx"));
    let e = convert(&onnx, &ConvertOptions::default()).unwrap_err();
    assert!(matches!(e, Error::DynamicShape { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"x\"") && msg.contains("--input-shape x=1,<seq>,4"),
        "{msg}"
    );
    let o = ConvertOptions {
        input_shapes: vec![("x".into(), vec![1, 5, 4])],
        ..ConvertOptions::default()
    };
    let r = convert(&onnx, &o).unwrap();
    let aligned = AlignedModel::new(&r.bytes);
    assert_eq!(
        aligned.model().unwrap().input(0).unwrap().shape.as_slice(),
        &[1, 5, 4]
    );
    let bad = ConvertOptions {
        input_shapes: vec![("nope".into(), vec![1])],
        ..ConvertOptions::default()
    };
    assert!(convert(&onnx, &bad)
        .unwrap_err()
        .to_string()
        .contains("model's inputs are: x"));
}

#[test]
fn int8_needs_calibration_data() {
    let e = convert(&digits().onnx, &opts(Precision::Int8, None)).unwrap_err();
    assert!(e.to_string().contains("--calibration"), "{e}");
}

#[test]
fn validate_reports_errors_accuracy_and_per_layer() {
    use ferrite_tool::validate::{validate, ValidateOptions};
    let e = digits();
    let q = convert(&e.onnx, &opts(Precision::Int8, Some(&e.calib))).unwrap();
    let test = e.test.head(40);
    let o = ValidateOptions {
        per_layer: true,
        per_layer_rows: 2,
        ..ValidateOptions::default()
    };
    let r = validate(&q.bytes, &e.onnx, &test, Some(&e.labels[..40]), &o).unwrap();
    assert!(r.passed);
    assert!(r.top1_agreement.unwrap() >= 0.99);
    assert!(r.accuracy_ferrite.is_some() && r.accuracy_reference.is_some());
    assert!(r.per_layer.len() >= 3, "{:?}", r.per_layer);
    assert!(
        r.per_layer.iter().all(|l| l.max_abs_error < 0.5),
        "{:?}",
        r.per_layer
    );
    let json = r.to_json();
    for k in [
        "max_abs_error",
        "mean_abs_error",
        "top1_agreement",
        "accuracy_ferrite",
        "passed",
        "per_layer",
    ] {
        assert!(json.get(k).is_some(), "{k}");
    }
    let strict = ValidateOptions {
        min_agreement: 1.5,
        ..ValidateOptions::default()
    };
    assert!(
        !validate(&q.bytes, &e.onnx, &test, None, &strict)
            .unwrap()
            .passed
    );
}

#[test]
fn inspect_reports_ops_macs_and_sizes() {
    let e = digits();
    let r = convert(&e.onnx, &opts(Precision::F32, None)).unwrap();
    let v = ferrite_tool::inspect::inspect(&r.bytes).unwrap();
    assert_eq!(v["total_macs"], 64 * 64 + 64 * 32 + 32 * 10);
    assert_eq!(v["file_bytes"], r.bytes.len());
    assert_eq!(v["inputs"][0]["name"], "input");
    assert_eq!(v["outputs"][0]["name"], "probabilities");
    assert_eq!(v["ops"][0]["op"], "FullyConnected");
    assert!(v["arena_bytes"].as_u64().unwrap() > 0);
    assert!(ferrite_tool::inspect::to_text(&v).contains("FullyConnected"));
}

#[test]
fn bench_measures_both_engines() {
    use ferrite_tool::bench::{bench, BenchOptions};
    let e = digits();
    let r = convert(&e.onnx, &opts(Precision::Int8, Some(&e.calib))).unwrap();
    let b = bench(
        &r.bytes,
        Some(&e.onnx),
        None,
        &BenchOptions {
            iterations: 20,
            warmup: 2,
        },
    )
    .unwrap();
    assert!(b.ferrite.median_us > 0.0 && b.ferrite.p90_us >= b.ferrite.median_us);
    assert!(b.reference.is_some() && b.speedup.unwrap() > 0.0);
}
