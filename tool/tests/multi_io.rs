//! Issue #20, points 1 and 9: every command handles every input and output of a model,
//! with the ONNX names kept through conversion, and `run` writes what a user expects
//! (a predicted-label column, `--top-k`, batching, output names as headers).
//!
//! Fixtures (`fixtures/make_multi_io.py`, expected values from onnxruntime):
//! `two_inputs.onnx` (inputs a [N,4], b [N,3]; outputs scores [N,3], mix [N,2]),
//! `two_outputs.onnx` / `two_outputs_other.onnx` (input x [N,5]; outputs probs [N,3],
//! value [N,1]; the second file differs only in `value`), `string_labels.onnx` (an
//! ONNX-ML LinearClassifier with string class labels).

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

fn ok(args: &[&str]) -> String {
    let o = ferrite(args);
    assert!(o.status.success(), "ferrite {args:?} failed: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Runs ferrite, expects exit `code` and returns stdout + stderr.
fn fails(code: i32, args: &[&str]) -> String {
    let o = ferrite(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "ferrite {args:?}: {}",
        text(&o)
    );
    text(&o)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fx(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
        .display()
        .to_string()
}

fn ex(p: &str) -> String {
    root().join("examples").join(p).display().to_string()
}

fn tmp(name: &str) -> String {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ferrite-multi-io");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name).display().to_string()
}

/// A CSV file or text: (header, rows of cells).
fn csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn numbers(rows: &[Vec<String>]) -> Vec<Vec<f32>> {
    rows.iter()
        .map(|r| r.iter().map(|c| c.parse().unwrap()).collect())
        .collect()
}

fn read_csv(path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    csv(&std::fs::read_to_string(path).unwrap())
}

fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (r, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{what} row {r}");
        for (c, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{what} row {r} column {c}: {a} vs {b}"
            );
        }
    }
}

fn two_inputs_fer() -> String {
    let fer = tmp("two_inputs.fer");
    ok(&["convert", &fx("two_inputs.onnx"), "-o", &fer]);
    fer
}

/// Point 1: a 2-input model runs with one data file per input (by name or in order) and
/// every output is written under its ONNX name.
#[test]
fn run_takes_one_data_file_per_input_and_writes_every_output() {
    let fer = two_inputs_fer();
    let (a, b) = (fx("two_inputs_a.csv"), fx("two_inputs_b.csv"));
    let want_scores = numbers(&read_csv(&fx("two_inputs_ort_scores.csv")).1);
    let want_mix = numbers(&read_csv(&fx("two_inputs_ort_mix.csv")).1);
    let by_name = ok(&[
        "run",
        &fer,
        "-i",
        &format!("b={b}"),
        "-i",
        &format!("a={a}"),
    ]);
    let in_order = ok(&["run", &fer, "-i", &a, "-i", &b]);
    assert_eq!(by_name, in_order);
    let (header, rows) = csv(&by_name);
    let cols = |prefix: &str| -> Vec<usize> {
        (0..header.len())
            .filter(|&i| header[i].starts_with(prefix))
            .collect()
    };
    let (s, m) = (cols("scores["), cols("mix["));
    assert_eq!((s.len(), m.len()), (3, 2), "header {header:?}");
    let pick = |idx: &[usize]| -> Vec<Vec<f32>> {
        rows.iter()
            .map(|r| idx.iter().map(|&i| r[i].parse().unwrap()).collect())
            .collect()
    };
    assert_close(&pick(&s), &want_scores, 1e-5, "scores");
    assert_close(&pick(&m), &want_mix, 1e-5, "mix");

    // One file per output.
    let (fs, fm) = (tmp("ti_scores.csv"), tmp("ti_mix.npy"));
    ok(&[
        "run",
        &fer,
        "-i",
        &a,
        "-i",
        &b,
        "-o",
        &format!("scores={fs}"),
        "-o",
        &format!("mix={fm}"),
    ]);
    assert_close(&numbers(&read_csv(&fs).1), &want_scores, 1e-5, "scores.csv");
    let npy = std::fs::read(&fm).unwrap();
    assert!(
        String::from_utf8_lossy(&npy[..80]).contains("'shape': (10, 2)"),
        "{}",
        String::from_utf8_lossy(&npy[..80])
    );
    let dir = tmp("ti_out");
    ok(&["run", &fer, "-i", &a, "-i", &b, "--output-dir", &dir]);
    assert_close(
        &numbers(&read_csv(&format!("{dir}/mix.csv")).1),
        &want_mix,
        1e-5,
        "--output-dir mix.csv",
    );

    // A missing input is an error naming it, not a run on zeros.
    let t = fails(2, &["run", &fer, "-i", &a]);
    assert!(t.contains("\"b\"") && t.contains("-i"), "{t}");
    let t = fails(2, &["run", &fer, "-i", &format!("c={a}"), "-i", &b]);
    assert!(t.contains("\"c\"") && t.contains("a, b"), "{t}");
    let t = fails(2, &["run", &fer, "-i", &b, "-i", &a]);
    assert!(t.contains("input \"a\" takes 4"), "{t}");
    let short = tmp("b_short.csv");
    std::fs::write(&short, "1,2,3\n").unwrap();
    let t = fails(2, &["run", &fer, "-i", &a, "-i", &short]);
    assert!(t.contains("1 row") && t.contains("10 rows"), "{t}");
}

/// Point 1: validate, bench and an int8 conversion (calibrated per input) of a 2-input
/// model.
#[test]
fn multi_input_model_converts_validates_and_benches() {
    let fer = two_inputs_fer();
    let (a, b) = (fx("two_inputs_a.csv"), fx("two_inputs_b.csv"));
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "validate",
        &fer,
        "--reference",
        &fx("two_inputs.onnx"),
        "-i",
        &a,
        "-i",
        &b,
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["passed"], true, "{v}");
    let names: Vec<&str> = v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["scores", "mix"]);
    assert!(
        v["outputs"][1]["max_abs_error"].as_f64().unwrap() < 1e-5,
        "{v}"
    );
    let b8 = tmp("two_inputs_int8.fer");
    let out = ok(&[
        "convert",
        &fx("two_inputs.onnx"),
        "-o",
        &b8,
        "--precision",
        "int8",
        "--calibration",
        &format!("a={a}"),
        "--calibration",
        &format!("b={b}"),
    ]);
    assert!(out.contains("4 golden vectors"), "{out}");
    let ins: serde_json::Value = serde_json::from_str(&ok(&["inspect", &b8, "--json"])).unwrap();
    assert_eq!(ins["golden_vectors"], 4);
    let bench: serde_json::Value = serde_json::from_str(&ok(&[
        "bench",
        &b8,
        "--reference",
        &fx("two_inputs.onnx"),
        "-i",
        &a,
        "-i",
        &b,
        "--iterations",
        "5",
        "--json",
    ]))
    .unwrap();
    assert!(bench["ferrite"]["median_us"].as_f64().unwrap() > 0.0);
}

/// Point 1: the second output of a 1-input, 2-output model is compared too: against an
/// ONNX file whose `value` output differs, validate fails and names that output.
#[test]
fn validate_compares_every_output() {
    let fer = tmp("two_outputs.fer");
    ok(&["convert", &fx("two_outputs.onnx"), "-o", &fer]);
    let x = fx("two_outputs_x.csv");
    let out = ok(&[
        "validate",
        &fer,
        "--reference",
        &fx("two_outputs.onnx"),
        "-i",
        &x,
        "--max-abs-error",
        "1e-4",
    ]);
    assert!(
        out.contains("probs") && out.contains("value") && out.contains("PASS"),
        "{out}"
    );
    let t = fails(
        1,
        &[
            "validate",
            &fer,
            "--reference",
            &fx("two_outputs_other.onnx"),
            "-i",
            &x,
            "--max-abs-error",
            "1e-4",
        ],
    );
    assert!(t.contains("FAIL") && t.contains("\"value\""), "{t}");
}

/// Point 1: scikit-learn's output names survive conversion, and the `label` output is
/// computed again (ArgMax over the probabilities: the class labels are 0..n-1).
#[test]
fn sklearn_outputs_keep_their_names_and_the_label_output() {
    let fer = tmp("wine_mlp.fer");
    let onnx = ex("sklearn/wine_impute_mlp.onnx");
    ok(&["convert", &onnx, "-o", &fer]);
    let v: serde_json::Value = serde_json::from_str(&ok(&["inspect", &fer, "--json"])).unwrap();
    let names = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("inputs"), ["X"]);
    assert_eq!(names("outputs"), ["probabilities", "label"]);
    let label = tmp("wine_label.csv");
    ok(&[
        "run",
        &fer,
        "-i",
        &ex("sklearn/wine_impute_mlp_input.csv"),
        "-o",
        &format!("label={label}"),
    ]);
    let got = read_csv(&label).1;
    let want = read_csv(&ex("sklearn/wine_impute_mlp_ort_labels.csv")).1;
    assert_eq!(got.len(), want.len());
    for (r, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g[0].parse::<i64>().unwrap(),
            w[0].parse::<f64>().unwrap() as i64,
            "row {r}"
        );
    }
    // int8 keeps both outputs, and the label stays consistent with the probabilities.
    let q = tmp("wine_mlp_int8.fer");
    ok(&[
        "convert",
        &onnx,
        "-o",
        &q,
        "--precision",
        "int8",
        "--calibration",
        &ex("sklearn/wine_impute_mlp_input.csv"),
    ]);
    let (header, rows) = csv(&ok(&[
        "run",
        &q,
        "-i",
        &ex("sklearn/wine_impute_mlp_input.csv"),
    ]));
    let li = header.iter().position(|h| h == "label").unwrap();
    let pi = header.iter().position(|h| h == "predicted").unwrap();
    for r in &rows {
        assert_eq!(r[li], r[pi], "{header:?} {r:?}");
    }
}

/// Point 1: an ONNX `label` output the runtime cannot compute (string class labels) is
/// reported at conversion; `run` prints the class name in its `predicted` column.
#[test]
fn string_label_output_is_reported_and_run_prints_the_names() {
    let fer = tmp("string_labels.fer");
    let out = fails(0, &["convert", &fx("string_labels.onnx"), "-o", &fer]);
    assert!(
        out.contains("\"label\"") && out.contains("predicted"),
        "{out}"
    );
    let (header, rows) = csv(&ok(&["run", &fer, "-i", &fx("string_labels_x.csv")]));
    // One output left (the scores): its columns are the class names.
    assert_eq!(header, ["cat", "dog", "owl", "predicted"]);
    let want = read_csv(&fx("string_labels_ort_labels.csv")).1;
    let got: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    let want: Vec<&str> = want.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(got, want);
    assert_close(
        &rows
            .iter()
            .map(|r| r[..3].iter().map(|c| c.parse().unwrap()).collect())
            .collect::<Vec<_>>(),
        &numbers(&read_csv(&fx("string_labels_ort_proba.csv")).1),
        1e-6,
        "probabilities",
    );
}

/// Point 9: a predicted-label column (the model's labels), `--top-k`, output names as
/// headers, and rows grouped into the batch of a batched model.
#[test]
fn run_prints_predicted_labels_top_k_and_batches_rows() {
    let fer = tmp("digits_labels.fer");
    let labels = "zero,one,two,three,four,five,six,seven,eight,nine";
    ok(&[
        "convert",
        &ex("digits/digits_mlp.onnx"),
        "-o",
        &fer,
        "--labels",
        labels,
    ]);
    let test = tmp("digits_head10.csv");
    let all = std::fs::read_to_string(ex("digits/test.csv")).unwrap();
    std::fs::write(&test, all.lines().take(11).collect::<Vec<_>>().join("\n")).unwrap();
    let (header, rows) = csv(&ok(&["run", &fer, "-i", &test]));
    let names: Vec<&str> = labels.split(',').collect();
    assert_eq!(&header[..10], &names[..]);
    assert_eq!(header[10], "predicted");
    for r in &rows {
        let v: Vec<f32> = r[..10].iter().map(|c| c.parse().unwrap()).collect();
        let best = (0..10).fold(0, |b, i| if v[i] > v[b] { i } else { b });
        assert_eq!(r[10], names[best]);
    }
    let (header3, rows3) = csv(&ok(&["run", &fer, "-i", &test, "--top-k", "3"]));
    assert_eq!(
        &header3[10..],
        ["predicted_1", "predicted_2", "predicted_3"]
    );
    for (r3, r) in rows3.iter().zip(&rows) {
        assert_eq!(r3[10], r[10]);
        let v: Vec<f32> = r[..10].iter().map(|c| c.parse().unwrap()).collect();
        let p = |name: &str| v[names.iter().position(|n| *n == name).unwrap()];
        assert!(
            p(&r3[10]) >= p(&r3[11]) && p(&r3[11]) >= p(&r3[12]),
            "{r3:?}"
        );
    }
    fails(2, &["run", &fer, "-i", &test, "--top-k", "11"]);

    // A model converted for batches of 4 takes the same one-sample rows.
    let b4 = tmp("digits_b4.fer");
    ok(&[
        "convert",
        &ex("digits/digits_mlp.onnx"),
        "-o",
        &b4,
        "--input-shape",
        "input=4,64",
        "--labels",
        labels,
    ]);
    let (h4, batched) = csv(&ok(&["run", &b4, "-i", &test]));
    assert_eq!(h4, header[..11].to_vec());
    assert_eq!(batched.len(), 10);
    let f = |rows: &[Vec<String>]| -> Vec<Vec<f32>> {
        rows.iter()
            .map(|r| r[..10].iter().map(|c| c.parse().unwrap()).collect())
            .collect()
    };
    assert_close(&f(&batched), &f(&rows), 1e-6, "batch 4 vs batch 1");

    // Regressor: the header is the ONNX output name.
    let fer = tmp("ridge.fer");
    ok(&["convert", &ex("sklearn/diabetes_ridge.onnx"), "-o", &fer]);
    let (header, _) = csv(&ok(&[
        "run",
        &fer,
        "-i",
        &ex("sklearn/diabetes_ridge_input.csv"),
    ]));
    assert_eq!(header, ["variable"]);
}
