//! Drift monitoring end to end on the bundled examples, through the `ferrite` binary:
//! `convert --baseline` on training rows, then `ferrite monitor` on held-out rows of the
//! same distribution (every feature PSI < 0.1) and on the same rows with one feature
//! shifted by one training standard deviation (that feature PSI > 0.25, no other
//! flagged). The PSI and p-values are recomputed by NumPy / SciPy
//! (`tests/monitor/check_psi.py`) and the Prometheus output parsed by
//! `prometheus_client` (`tests/monitor/parse_prometheus.py`).
//!
//! The data come from `tests/monitor/make_drift_data.py` (scikit-learn's digits and the
//! sensor example's generator), run with `$FERRITE_PYTHON`, else `<repo>/.venv/bin/python`
//! (the packages of tests/requirements.txt).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRITE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

fn out_dir() -> PathBuf {
    let d = root().join("target/monitor-tests");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?} failed:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ferrite(args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_ferrite")).args(args))
}

/// The generated data folder (made once per test binary).
fn data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = out_dir().join("data");
        run(Command::new(python())
            .arg(root().join("tests/monitor/make_drift_data.py"))
            .arg(&d));
        d
    })
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Converts `onnx` (a path under examples/) with a baseline from `train`.
fn convert(onnx: &str, train: &str, extra: &[&str], out: &str) -> PathBuf {
    let fer = out_dir().join(out);
    let onnx = root().join("examples").join(onnx);
    let train = data().join(train);
    let mut args = vec!["convert", p(&onnx), "-o", p(&fer), "--baseline", p(&train)];
    args.extend_from_slice(extra);
    let said = ferrite(&args);
    assert!(said.contains("monitoring baseline:"), "{said}");
    fer
}

fn monitor_json(fer: &Path, input: &str) -> Value {
    let input = data().join(input);
    serde_json::from_str(&ferrite(&[
        "monitor",
        p(fer),
        "--input",
        p(&input),
        "--json",
    ]))
    .unwrap()
}

fn psis(r: &Value) -> Vec<f64> {
    r["features"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            assert_eq!(f["index"], i);
            assert!(f["name"].is_string());
            assert_eq!(
                f["flagged"].as_bool().unwrap(),
                f["psi"].as_f64().unwrap() > 0.25
            );
            f["psi"].as_f64().unwrap()
        })
        .collect()
}

/// Every feature stable on rows of the training distribution; with feature `k`
/// shifted, `k` flagged and no other.
fn check_example(fer: &Path, prefix: &str, shifted: &[(&str, usize)], features: usize) {
    let r = monitor_json(fer, &format!("{prefix}_field.csv"));
    let stable = psis(&r);
    assert_eq!(stable.len(), features);
    let worst = stable.iter().cloned().fold(0.0, f64::max);
    eprintln!("{prefix}: held-out rows, max PSI {worst:.4}");
    assert!(worst < 0.1, "{prefix}: PSI {stable:?}");
    for &(file, k) in shifted {
        let r = monitor_json(fer, file);
        let v = psis(&r);
        let others = v
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != k)
            .map(|(_, &x)| x)
            .fold(0.0, f64::max);
        eprintln!(
            "{prefix}: {file}: PSI of feature {k} {:.4}, max of the others {others:.4}",
            v[k]
        );
        assert!(v[k] > 0.25, "{file}: feature {k} PSI {}", v[k]);
        assert!(others <= 0.25, "{file}: {v:?}");
        let flagged: Vec<usize> = r["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["flagged"].as_bool().unwrap())
            .map(|f| f["index"].as_u64().unwrap() as usize)
            .collect();
        assert_eq!(flagged, [k]);
    }
}

#[test]
fn digits_mlp_held_out_rows_are_stable_and_a_shifted_pixel_is_flagged() {
    let fer = convert(
        "digits/digits_mlp.onnx",
        "digits_train.csv",
        &[],
        "digits.fer",
    );
    check_example(
        &fer,
        "digits",
        &[("digits_shift_42.csv", 42), ("digits_shift_13.csv", 13)],
        64,
    );
}

#[test]
fn sensor_cnn_monitors_channel_summaries_and_flags_an_offset() {
    let fer = convert(
        "sensor/sensor_cnn.onnx",
        "sensor_train.csv",
        &[],
        "sensor.fer",
    );
    let r = monitor_json(&fer, "sensor_field.csv");
    assert_eq!(r["source"], "channel_stats");
    let names: Vec<&str> = r["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["x_mean", "x_std", "y_mean", "y_std", "z_mean", "z_std"]
    );
    check_example(&fer, "sensor", &[("sensor_shift_x_mean.csv", 0)], 6);
}

#[test]
fn sensor_window_feature_pipeline_monitors_the_raw_window() {
    let toml = root().join("examples/sensor/features.toml");
    let fer = convert(
        "sensor/sensor_features_model.onnx",
        "sensor_mg_train.csv",
        &["--preprocess", p(&toml)],
        "sensor_features.fer",
    );
    check_example(&fer, "sensor_mg", &[("sensor_mg_shift_x_mean.csv", 0)], 6);
}

#[test]
fn psi_and_p_values_equal_numpy_and_scipy() {
    let fer = convert(
        "digits/digits_mlp.onnx",
        "digits_train.csv",
        &[],
        "digits_numpy.fer",
    );
    for field in ["digits_field.csv", "digits_shift_42.csv"] {
        let report = out_dir().join(format!("{field}.json"));
        std::fs::write(
            &report,
            serde_json::to_string(&monitor_json(&fer, field)).unwrap(),
        )
        .unwrap();
        let said = run(Command::new(python())
            .arg(root().join("tests/monitor/check_psi.py"))
            .arg(&report)
            .arg(data().join("digits_train.csv"))
            .arg(data().join(field)));
        eprintln!("{field}: {said}");
        assert!(said.starts_with("checked 64 features"), "{said}");
    }
}

#[test]
fn prometheus_output_parses_and_snapshots_round_trip() {
    let fer = convert(
        "digits/digits_mlp.onnx",
        "digits_train.csv",
        &[],
        "digits_prom.fer",
    );
    let snap = out_dir().join("digits_shift_42.snap");
    let png = out_dir().join("digits_shift_42.png");
    let input = data().join("digits_shift_42.csv");
    let metrics = ferrite(&[
        "monitor",
        p(&fer),
        "--input",
        p(&input),
        "--prometheus",
        "--label",
        "device=unit \"7\"",
        "--save-snapshot",
        p(&snap),
        "--plot",
        p(&png),
    ]);
    assert!(metrics.contains(r#"device="unit \"7\"""#), "{metrics}");
    let file = out_dir().join("digits_shift_42.prom");
    std::fs::write(&file, &metrics).unwrap();
    let said = run(Command::new(python())
        .arg(root().join("tests/monitor/parse_prometheus.py"))
        .arg(&file)
        .arg("64")
        .arg("42"));
    assert!(said.contains("shifted features [42]"), "{said}");
    // The snapshot decodes against the model to the same report as the run.
    let from_snap: Value = serde_json::from_str(&ferrite(&[
        "monitor",
        "--snapshot",
        p(&snap),
        p(&fer),
        "--json",
    ]))
    .unwrap();
    let from_run = monitor_json(&fer, "digits_shift_42.csv");
    assert_eq!(from_snap["features"], from_run["features"]);
    assert_eq!(from_snap["output"], from_run["output"]);
    assert_eq!(from_snap["rows"], 360);
    // A snapshot of another model is refused.
    let other = convert(
        "digits/digits_mlp.onnx",
        "digits_field.csv",
        &[],
        "digits_other.fer",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["monitor", "--snapshot", p(&snap), p(&other)])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("snapshot"), "{}", text(&o));
    // The picture is a PNG.
    let img = std::fs::read(&png).unwrap();
    assert_eq!(&img[..8], b"\x89PNG\r\n\x1a\n");
    assert!(img.len() > 10_000, "{}", img.len());
    // The table names the shifted feature.
    let table = ferrite(&["monitor", p(&fer), "--input", p(&input)]);
    assert!(table.contains("shifted (PSI > 0.25): f42"), "{table}");
}

#[test]
fn monitor_errors_are_clear() {
    // A model without a baseline.
    let fer = out_dir().join("digits_nobase.fer");
    let onnx = root().join("examples/digits/digits_mlp.onnx");
    ferrite(&["convert", p(&onnx), "-o", p(&fer)]);
    let o = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args([
            "monitor",
            p(&fer),
            "--input",
            p(&root().join("examples/digits/test.csv")),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--baseline"), "{}", text(&o));
    // --no-baseline with calibration rows stores none; by default they become the baseline.
    let calib = root().join("examples/digits/calib.csv");
    let with = out_dir().join("digits_calib.fer");
    let said = ferrite(&[
        "convert",
        p(&onnx),
        "-o",
        p(&with),
        "--calibration",
        p(&calib),
    ]);
    assert!(
        said.contains("monitoring baseline: 200 rows, 64 features × 10 bins"),
        "{said}"
    );
    let shown = ferrite(&["inspect", p(&with)]);
    // 64 × (10 bins + missing + out of range) + 10 classes + 124 latency buckets, in words.
    let words = 64 * 12 + 10 + 124;
    assert!(
        shown.contains(&format!(
            "monitor    baseline of 200 rows, 64 features × 10 bins; Monitor storage {} bytes",
            4 * words
        )),
        "{shown}"
    );
    let without = out_dir().join("digits_calib_nobase.fer");
    let said = ferrite(&[
        "convert",
        p(&onnx),
        "-o",
        p(&without),
        "--calibration",
        p(&calib),
        "--no-baseline",
    ]);
    assert!(!said.contains("monitoring baseline"), "{said}");
}
