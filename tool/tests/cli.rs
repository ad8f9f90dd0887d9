//! The `ferrite` binary end to end: every command, and bad inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(args)
        .output()
        .expect("run ferrite")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ex(p: &str) -> String {
    root().join("examples/digits").join(p).display().to_string()
}

fn tmp(name: &str) -> String {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ferrite-cli");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name).display().to_string()
}

fn ok(args: &[&str]) -> String {
    let o = ferrite(args);
    assert!(o.status.success(), "ferrite {args:?} failed: {}", text(&o));
    text(&o)
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        "convert",
        "run",
        "validate",
        "inspect",
        "bench",
        "quickstart",
        "monitor",
    ] {
        let out = ok(&[cmd, "--help"]);
        assert!(out.contains("Example"), "{cmd}: {out}");
    }
}

#[test]
fn convert_inspect_run_validate_bench() {
    let fer = tmp("digits-int8.fer");
    let out = ok(&[
        "convert",
        &ex("digits_mlp.onnx"),
        "-o",
        &fer,
        "--precision",
        "int8",
        "--calibration",
        &ex("calib.csv"),
        "--labels",
        "0,1,2,3,4,5,6,7,8,9",
        "--name",
        "digits",
        "--version",
        "2.0.0",
    ]);
    assert!(out.contains("int8") && out.contains("agreement"), "{out}");

    let out = ok(&["inspect", &fer]);
    assert!(
        out.contains("digits 2.0.0")
            && out.contains("FullyConnected")
            && out.contains("source_sha256"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&["inspect", &fer, "--json"])).unwrap();
    assert_eq!(json["properties"]["precision"], "int8");
    assert_eq!(json["labels"].as_array().unwrap().len(), 10);
    // The section sizes match the file's section table, read here as docs/format.md
    // lays it out (u16 count at 20, 16-byte entries at 32: kind u16, flags u16,
    // offset u32, length u32), and they add up to the file.
    let bytes = std::fs::read(&fer).unwrap();
    let le16 = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let le32 = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as u64;
    let names = [
        "",
        "metadata",
        "graph",
        "weights",
        "preprocess",
        "feature_statistics",
        "golden",
        "signature",
        "golden_digest",
    ];
    let secs = json["sections"].as_object().unwrap();
    let mut sum = 0;
    for e in 0..le16(20) {
        let at = 32 + 16 * e;
        assert_eq!(
            secs[names[le16(at)]].as_u64(),
            Some(le32(at + 8)),
            "{secs:?}"
        );
        sum += le32(at + 8);
    }
    assert_eq!(
        sum + secs["header_and_padding"].as_u64().unwrap(),
        bytes.len() as u64
    );
    assert!(out.contains("sections   metadata "), "{out}");

    let scores = tmp("scores.csv");
    ok(&["run", &fer, "--input", &ex("test.csv"), "--output", &scores]);
    let csv = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(csv.lines().count(), 361);
    // The labels head the class scores; the predicted class follows.
    assert!(
        csv.starts_with("0,1,2,3,4,5,6,7,8,9,predicted\n"),
        "{}",
        &csv[..40]
    );
    let stdout = ok(&["run", &fer, "--input", &ex("test.csv")]);
    assert_eq!(stdout.lines().count(), 361);

    let out = ok(&[
        "validate",
        &fer,
        "--reference",
        &ex("digits_mlp.onnx"),
        "--data",
        &ex("test.csv"),
        "--labels",
        &ex("test_labels.csv"),
    ]);
    assert!(
        out.contains("PASS") && out.contains("accuracy ferrite"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "validate",
        &fer,
        "--reference",
        &ex("digits_mlp.onnx"),
        "--data",
        &ex("test.csv"),
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["passed"], true);
    let o = ferrite(&[
        "validate",
        &fer,
        "--reference",
        &ex("digits_mlp.onnx"),
        "--data",
        &ex("test.csv"),
        "--max-abs-error",
        "1e-9",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a breached threshold exits 1: {}",
        text(&o)
    );
    assert!(text(&o).contains("FAIL"));
    let out = ok(&[
        "validate",
        &fer,
        "--reference",
        &ex("digits_mlp.onnx"),
        "--data",
        &ex("calib.csv"),
        "--per-layer",
    ]);
    assert!(out.contains("per layer"), "{out}");

    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "bench",
        &fer,
        "--reference",
        &ex("digits_mlp.onnx"),
        "--iterations",
        "20",
        "--json",
    ]))
    .unwrap();
    assert!(v["ferrite"]["median_us"].as_f64().unwrap() > 0.0);
    assert!(v["speedup_vs_tract"].as_f64().unwrap() > 0.0);
    assert!(ok(&["bench", &fer, "--iterations", "5"]).contains("ferrite"));
}

#[test]
fn data_formats_npy_and_json_run() {
    let fer = tmp("digits-f32.fer");
    ok(&["convert", &ex("digits_mlp.onnx"), "-o", &fer]);
    let json = tmp("rows.json");
    let row: Vec<String> = (0..64)
        .map(|i| format!("{}", (i % 16) as f32 / 16.0))
        .collect();
    std::fs::write(
        &json,
        format!("[[{}],\n [{}]]", row.join(", "), row.join(", ")),
    )
    .unwrap();
    assert_eq!(ok(&["run", &fer, "--input", &json]).lines().count(), 3);
    let npy = tmp("rows.npy");
    let mut h = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 64), }".to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    for i in 0..3 * 64 {
        b.extend_from_slice(&((i % 7) as f64 / 7.0).to_le_bytes());
    }
    std::fs::write(&npy, b).unwrap();
    assert_eq!(ok(&["run", &fer, "--input", &npy]).lines().count(), 4);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let fer = tmp("digits-f32-bad.fer");
    ok(&["convert", &ex("digits_mlp.onnx"), "-o", &fer]);

    let o = ferrite(&["convert", "does-not-exist.onnx", "-o", &tmp("x.fer")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("does-not-exist.onnx"), "{}", text(&o));

    let bad = tmp("malformed.csv");
    let row: Vec<String> = (0..64).map(|_| "0.5".to_string()).collect();
    let mut broken = row.clone();
    broken[1] = "x0.5".into();
    std::fs::write(
        &bad,
        format!(
            "{}\n{}\n{}\n",
            (0..64)
                .map(|i| format!("f{i}"))
                .collect::<Vec<_>>()
                .join(","),
            row.join(","),
            broken.join(",")
        ),
    )
    .unwrap();
    let o = ferrite(&["run", &fer, "--input", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("line 3, column 2"), "{}", text(&o));

    let narrow = tmp("narrow.csv");
    std::fs::write(&narrow, "1,2,3\n4,5,6\n").unwrap();
    let o = ferrite(&["run", &fer, "--input", &narrow]);
    assert!(
        text(&o).contains("rows have 3 values but the model input \"input\" takes 64"),
        "{}",
        text(&o)
    );

    let ragged = tmp("ragged.csv");
    std::fs::write(&ragged, "1,2,3\n4,5\n").unwrap();
    let o = ferrite(&["run", &fer, "--input", &ragged]);
    assert!(
        text(&o).contains("line 2") && text(&o).contains("expected 3 values, found 2"),
        "{}",
        text(&o)
    );

    let missing = tmp("missing.csv");
    let mut gap = row.clone();
    gap[5] = String::new();
    std::fs::write(&missing, format!("{}\n", gap.join(","))).unwrap();
    let o = ferrite(&["run", &fer, "--input", &missing]);
    assert!(text(&o).contains("line 1, column 6"), "{}", text(&o));

    let unsupported = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/unsupported.onnx");
    let o = ferrite(&[
        "convert",
        unsupported.to_str().unwrap(),
        "-o",
        &tmp("u.fer"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("CumSum (node \"cumsum_node\")") && t.contains("trilu_node"),
        "{t}"
    );

    let o = ferrite(&[
        "convert",
        &ex("digits_mlp.onnx"),
        "-o",
        &tmp("q.fer"),
        "--precision",
        "int8",
    ]);
    assert!(text(&o).contains("--calibration"), "{}", text(&o));
    let o = ferrite(&[
        "convert",
        &ex("digits_mlp.onnx"),
        "-o",
        &tmp("q.fer"),
        "--precision",
        "int4",
    ]);
    assert!(text(&o).contains("unknown precision"), "{}", text(&o));
    let o = ferrite(&["inspect", &ex("calib.csv")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not a ferrite model"), "{}", text(&o));
}

#[test]
fn quickstart_prints_the_summary_table() {
    let out_dir = tmp("quickstart");
    let out = ok(&["quickstart", "--out", &out_dir, "--iterations", "10"]);
    assert!(
        out.contains("f32") && out.contains("int8") && out.contains("speedup"),
        "{out}"
    );
    assert!(Path::new(&out_dir).join("digits_int8.fer").exists());
    // The smallest int8 configuration: its "% onnx" column is the file size against the
    // ONNX file's, which the test checks again from the two files on disk.
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("int8-min "))
        .unwrap_or_else(|| panic!("no int8-min row in\n{out}"))
        .split_whitespace()
        .collect();
    let min = std::fs::metadata(Path::new(&out_dir).join("digits_int8-min.fer")).unwrap();
    let onnx = std::fs::metadata(root().join("examples/digits/digits_mlp.onnx")).unwrap();
    assert_eq!(row[1], min.len().to_string(), "{out}");
    let pct = 100.0 * min.len() as f64 / onnx.len() as f64;
    assert_eq!(row[2], format!("{pct:.1}%"), "{out}");
    assert!(pct <= 30.0, "int8-min is {pct:.1}% of the ONNX file");
}

/// A scikit-learn pipeline (SimpleImputer + MinMaxScaler + MLP) converted by the ONNX-ML
/// importer: `run` takes the raw rows, NaN included, and matches onnxruntime.
#[test]
fn run_and_inspect_a_model_with_a_preprocessing_pipeline() {
    let sk = |p: &str| {
        root()
            .join("examples/sklearn")
            .join(p)
            .display()
            .to_string()
    };
    let fer = tmp("wine_impute_mlp.fer");
    ok(&["convert", &sk("wine_impute_mlp.onnx"), "-o", &fer]);
    let input = sk("wine_impute_mlp_input.csv");
    let raw = std::fs::read_to_string(&input).unwrap();
    assert!(raw.contains("nan"), "the example must have missing values");

    let scores = tmp("wine_scores.csv");
    // The probabilities alone (the model also has its `label` output).
    ok(&[
        "run",
        &fer,
        "--input",
        &input,
        "--output",
        &format!("probabilities={}", scores),
    ]);
    let parse = |text: &str| -> Vec<Vec<f32>> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
            .collect()
    };
    let got = parse(&std::fs::read_to_string(&scores).unwrap());
    let want = parse(&std::fs::read_to_string(sk("wine_impute_mlp_ort_proba.csv")).unwrap());
    assert_eq!(got.len(), want.len());
    assert_eq!(got.len(), raw.lines().count() - 1);
    for (r, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), w.len(), "row {r}");
        for (c, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5,
                "row {r} column {c}: {a} vs onnxruntime {b}"
            );
        }
    }

    // The raw width is the pipeline's: one column short is an error.
    let narrow = tmp("wine_narrow.csv");
    let first = raw.lines().nth(1).unwrap();
    std::fs::write(
        &narrow,
        format!("{}\n", &first[..first.rfind(',').unwrap()]),
    )
    .unwrap();
    let o = ferrite(&["run", &fer, "--input", &narrow]);
    assert!(
        !o.status.success() && text(&o).contains("13"),
        "{}",
        text(&o)
    );

    // tract cannot run ONNX-ML: validate says so instead of a confusing import error.
    let o = ferrite(&[
        "validate",
        &fer,
        "--reference",
        &sk("wine_impute_mlp.onnx"),
        "--data",
        &input,
    ]);
    assert!(
        o.status.code() == Some(2) && text(&o).contains("ONNX-ML"),
        "{}",
        text(&o)
    );

    let out = ok(&["inspect", &fer]);
    assert!(
        out.contains("preprocess 13 raw inputs") && out.contains("impute") && out.contains("scale"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&["inspect", &fer, "--json"])).unwrap();
    let pre = &json["preprocess"];
    assert_eq!(pre["raw_inputs"], 13);
    let steps: Vec<(&str, u64, u64)> = pre["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["op"].as_str().unwrap(),
                s["start"].as_u64().unwrap(),
                s["len"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(steps, [("impute", 0, 13), ("scale", 0, 13)]);
}

/// Classical ONNX-ML ops show their size in `inspect`.
#[test]
fn inspect_shows_tree_ensemble_size() {
    let fer = tmp("iris_rf.fer");
    let onnx = root().join("examples/sklearn/iris_rf.onnx");
    ok(&["convert", onnx.to_str().unwrap(), "-o", &fer]);
    let json: serde_json::Value = serde_json::from_str(&ok(&["inspect", &fer, "--json"])).unwrap();
    assert!(json["preprocess"].is_null());
    let op = &json["ops"][0];
    assert_eq!(op["op"], "TreeEnsemble");
    assert!(op["classical"]["nodes"].as_u64().unwrap() > 10, "{op}");
    assert!(op["classical"]["trees"].as_u64().unwrap() >= 1, "{op}");
    assert!(ok(&["inspect", &fer]).contains(" trees, "));
}
