//! Issue #20: the `ferrite` binary as a new user meets it — one test per point of the
//! issue (points 1 and 9 are in `multi_io.rs`, the conversion stages of point 10 in
//! `stages.rs`; point 2, f16 memory, is not the tool's CLI). Bad inputs are asserted by exit code (0 ok, 1 threshold breached, 2 error) and
//! message.

use ferrite_tool::data::Dataset;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ferrite<S: AsRef<str>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(args.iter().map(|a| a.as_ref()))
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

fn ok<S: AsRef<str>>(args: &[S]) -> String {
    let o = ferrite(args);
    let shown: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
    assert!(o.status.success(), "ferrite {shown:?} failed: {}", text(&o));
    text(&o)
}

fn stdout(args: &[&str]) -> String {
    let o = ferrite(args);
    assert!(o.status.success(), "ferrite {args:?} failed: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Runs ferrite, expects exit `code` and returns stdout + stderr.
fn fails<S: AsRef<str>>(code: i32, args: &[S]) -> String {
    let o = ferrite(args);
    let shown: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
    assert_eq!(
        o.status.code(),
        Some(code),
        "ferrite {shown:?}: {}",
        text(&o)
    );
    let t = text(&o);
    assert!(!t.contains("panicked"), "{t}");
    t
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ex(p: &str) -> String {
    root().join("examples").join(p).display().to_string()
}

fn fx(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
        .display()
        .to_string()
}

fn tmp(name: &str) -> String {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ferrite-ux");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name).display().to_string()
}

fn digits_f32(name: &str) -> String {
    let fer = tmp(name);
    ok(&["convert", &ex("digits/digits_mlp.onnx"), "-o", &fer]);
    fer
}

/// Point 3: `convert x.onnx -o x.onnx` does not overwrite its source, however the path
/// is spelled.
#[test]
fn convert_refuses_to_overwrite_its_source() {
    let src = tmp("self.onnx");
    std::fs::copy(ex("digits/digits_mlp.onnx"), &src).unwrap();
    let before = std::fs::read(&src).unwrap();
    let t = fails(2, &["convert", &src, "-o", &src]);
    assert!(t.contains("source") && t.contains("self.onnx"), "{t}");
    let dir = Path::new(&src).parent().unwrap();
    let other = dir.join(".").join("self.onnx").display().to_string();
    fails(2, &["convert", &src, "-o", &other]);
    let t = fails(
        2,
        &[
            "convert",
            &src,
            "-o",
            &ex("digits/calib.csv"),
            "--precision",
            "int8",
            "--calibration",
            &ex("digits/calib.csv"),
        ],
    );
    assert!(t.contains("calib.csv"), "{t}");
    assert_eq!(std::fs::read(&src).unwrap(), before);

    // Nor does run write over its model or its data.
    let fer = digits_f32("self.fer");
    let data = tmp("self.csv");
    std::fs::copy(ex("digits/test.csv"), &data).unwrap();
    let rows = std::fs::read(&data).unwrap();
    let t = fails(2, &["run", &fer, "-i", &data, "-o", &data]);
    assert!(t.contains("data file") && t.contains("self.csv"), "{t}");
    fails(
        2,
        &[
            "run",
            &fer,
            "-i",
            &data,
            "-o",
            &format!("probabilities={fer}"),
        ],
    );
    assert_eq!(std::fs::read(&data).unwrap(), rows);
    ok(&["run", &fer, "-i", &data]);
}

/// Point 4: a useless int8 model (all-zero calibration rows) is not written under the
/// requested name: exit 1, the file kept as `.rejected.fer`, the calibration problem
/// named. `--min-agreement 0` accepts it.
#[test]
fn convert_fails_when_agreement_on_the_calibration_rows_is_too_low() {
    let zeros = tmp("zeros.csv");
    let row = vec!["0"; 64].join(",");
    std::fs::write(&zeros, format!("{}\n", vec![row; 20].join("\n"))).unwrap();
    let out = tmp("useless.fer");
    let _ = std::fs::remove_file(&out);
    let args = [
        "convert",
        &ex("digits/digits_mlp.onnx"),
        "-o",
        &out,
        "--precision",
        "int8",
        "--calibration",
        &zeros,
    ];
    let t = fails(1, &args);
    assert!(
        t.contains("agreement") && t.contains("--min-agreement") && t.contains("constant"),
        "{t}"
    );
    assert!(!Path::new(&out).exists());
    let rejected = tmp("useless.rejected.fer");
    assert!(Path::new(&rejected).exists(), "{t}");
    assert!(t.contains("useless.rejected.fer"), "{t}");
    let mut lenient = args.to_vec();
    lenient.extend(["--min-agreement", "0"]);
    ok(&lenient);
    assert!(Path::new(&out).exists());

    // Too few rows is named too.
    let two = tmp("two_rows.csv");
    let calib = std::fs::read_to_string(ex("digits/calib.csv")).unwrap();
    std::fs::write(&two, calib.lines().take(3).collect::<Vec<_>>().join("\n")).unwrap();
    let t = ok(&[
        "convert",
        &ex("digits/digits_mlp.onnx"),
        "-o",
        &tmp("two_rows.fer"),
        "--precision",
        "int8",
        "--calibration",
        &two,
        "--min-agreement",
        "0",
    ]);
    assert!(t.contains("2 calibration rows"), "{t}");

    // An autoencoder's reconstruction is not a set of classes: its arg-max agreement is
    // neither reported nor a reason to refuse the model.
    let t = ok(&[
        "convert",
        &ex("bench/ad_autoencoder.onnx"),
        "-o",
        &tmp("ae.fer"),
        "--precision",
        "int8",
        "--calibration",
        &ex("bench/ad_autoencoder_calib.npy"),
    ]);
    assert!(!t.contains("top-1") && t.contains("max abs error"), "{t}");
}

/// Point 5: the output format follows the extension.
#[test]
fn run_output_format_follows_the_extension() {
    let fer = digits_f32("digits-fmt.fer");
    let npy = tmp("out.npy");
    ok(&["run", &fer, "-i", &ex("digits/test.csv"), "-o", &npy]);
    let d = Dataset::load(Path::new(&npy)).unwrap();
    assert_eq!((d.rows, d.cols), (360, 10));
    let json = tmp("out.json");
    ok(&["run", &fer, "-i", &ex("digits/test.csv"), "-o", &json]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 360);
    assert_eq!(v[0]["probabilities"].as_array().unwrap().len(), 10);
    let t = fails(
        2,
        &[
            "run",
            &fer,
            "-i",
            &ex("digits/test.csv"),
            "-o",
            &tmp("out.txt"),
        ],
    );
    assert!(t.contains(".csv") && t.contains(".npy"), "{t}");
    let t = fails(
        2,
        &[
            "preprocess",
            &fer,
            "-i",
            &ex("digits/test.csv"),
            "-o",
            &tmp("f.npy"),
        ],
    );
    assert!(t.contains("preprocessing"), "{t}");
}

/// Point 6: values outside their domain are refused.
#[test]
fn out_of_range_values_are_refused() {
    let fer = digits_f32("digits-range.fer");
    let validate = |extra: &[&str]| -> Vec<String> {
        let mut a = vec![
            "validate".to_string(),
            fer.clone(),
            "--reference".into(),
            ex("digits/digits_mlp.onnx"),
            "-i".into(),
            ex("digits/test.csv"),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    for bad in ["99", "1.5", "-1", "nan"] {
        let t = fails(2, &validate(&["--min-agreement", bad]));
        assert!(
            t.contains("--min-agreement") && t.contains("between 0 and 1"),
            "{bad}: {t}"
        );
    }
    // A percentage says so.
    assert!(ok(&validate(&["--min-agreement", "99%"])).contains("min 99.00%"));
    fails(2, &validate(&["--max-abs-error", "-1"]));

    let labels42 = tmp("labels42.csv");
    let mut l: Vec<String> = std::fs::read_to_string(ex("digits/test_labels.csv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    l[3] = "42".into();
    std::fs::write(&labels42, l.join("\n")).unwrap();
    let t = fails(2, &validate(&["--labels", &labels42]));
    assert!(
        t.contains("labels42.csv")
            && t.contains("line 4")
            && t.contains("42")
            && t.contains("10 classes"),
        "{t}"
    );

    let onnx = ex("digits/digits_mlp.onnx");
    let out = tmp("range.fer");
    let t = fails(2, &["convert", &onnx, "-o", &out, "--labels", "a,b,c"]);
    assert!(t.contains("3 labels") && t.contains("10"), "{t}");
    let t = fails(2, &["convert", &onnx, "-o", &out, "--int8-input"]);
    assert!(t.contains("--int8-input") && t.contains("int8"), "{t}");
    let t = fails(
        2,
        &["convert", &onnx, "-o", &out, "--weights", "per-tensor"],
    );
    assert!(t.contains("--weights") && t.contains("int8"), "{t}");
    let t = fails(2, &["bench", &fer, "--iterations", "0"]);
    assert!(t.contains("--iterations"), "{t}");
    let t = fails(2, &["quickstart", "--iterations", "0"]);
    assert!(t.contains("--iterations"), "{t}");
}

/// Point 7: validate notices a reference that is not the model's source, and a failure
/// names the threshold it breached.
#[test]
fn validate_names_a_foreign_reference_and_the_breached_threshold() {
    let fer = digits_f32("digits-src.fer");
    let t = fails(
        1,
        &[
            "validate",
            &fer,
            "--reference",
            &fx("wrong_digits.onnx"),
            "-i",
            &ex("digits/test.csv"),
        ],
    );
    assert!(
        t.contains("source_sha256") && t.contains("digits_mlp.onnx"),
        "{t}"
    );
    assert!(
        t.contains("top-1 agreement") && t.contains("< --min-agreement"),
        "{t}"
    );
    let t = fails(
        1,
        &[
            "validate",
            &fer,
            "--reference",
            &ex("digits/digits_mlp.onnx"),
            "-i",
            &ex("digits/test.csv"),
            "--max-abs-error",
            "1e-12",
        ],
    );
    assert!(t.contains("> --max-abs-error 1e-12"), "{t}");
    assert!(!t.contains("source_sha256"), "{t}");
    let v: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(
        &ferrite(&[
            "validate",
            &fer,
            "--reference",
            &fx("wrong_digits.onnx"),
            "-i",
            &ex("digits/test.csv"),
            "--json",
        ])
        .stdout,
    ))
    .unwrap();
    assert_eq!(v["reference_matches_source"], false, "{v}");
    assert!(!v["failures"].as_array().unwrap().is_empty(), "{v}");
}

/// Point 8: one flag vocabulary — `-i/--input`, `-o/--output`, `--json` with help text
/// in every command — with the old spellings still accepted.
#[test]
fn one_flag_vocabulary_across_commands() {
    let fer = digits_f32("digits-flags.fer");
    let (onnx, test) = (ex("digits/digits_mlp.onnx"), ex("digits/test.csv"));
    ok(&["validate", &fer, "--reference", &onnx, "-i", &test]);
    ok(&["validate", &fer, "--reference", &onnx, "--data", &test]);
    ok(&["bench", &fer, "-i", &test, "--iterations", "3"]);
    ok(&["bench", &fer, "--data", &test, "--iterations", "3"]);
    ok(&["run", &fer, "-i", &test, "-o", &tmp("vocab.csv")]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&["run", &fer, "-i", &test, "--json"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 360);
    for cmd in [
        "convert",
        "run",
        "validate",
        "inspect",
        "bench",
        "quickstart",
        "preprocess",
    ] {
        let help = stdout(&[cmd, "--help"]);
        let json = help
            .lines()
            .find(|l| l.trim_start().starts_with("--json"))
            .unwrap_or_else(|| panic!("{cmd} has no --json:\n{help}"));
        assert!(json.trim().len() > "--json".len() + 5, "{cmd}: {json}");
        if cmd != "inspect" {
            assert!(help.contains("-o, --output"), "{cmd}:\n{help}");
        }
        if ["run", "validate", "bench", "preprocess"].contains(&cmd) {
            assert!(help.contains("-i, --input"), "{cmd}:\n{help}");
        }
    }
    let top = stdout(&["--help"]);
    for want in [
        "-i, --input",
        "-o, --output",
        "--json",
        "Exit status",
        "NAME=FILE",
    ] {
        assert!(top.contains(want), "top-level help lacks {want}:\n{top}");
    }
}

/// Point 10: `--per-layer` says how many rows it compared, and takes more on request
/// (the conversion stages are in `stages.rs`, a test of the library API).
#[test]
fn per_layer_says_how_many_rows_it_compared() {
    let fer = digits_f32("digits-layers.fer");
    let args = [
        "validate",
        &fer,
        "--reference",
        &ex("digits/digits_mlp.onnx"),
        "-i",
        &ex("digits/calib.csv"),
        "--per-layer",
    ];
    let t = ok(&args);
    assert!(t.contains("first 8 of"), "{t}");
    let mut more = args.to_vec();
    more.extend(["--per-layer-rows", "20"]);
    assert!(ok(&more).contains("first 20 of"));
}

/// Point 11: the small things.
#[test]
fn small_messages_are_right() {
    // Singular nouns.
    let t = ok(&[
        "convert",
        &ex("sklearn/diabetes_ridge.onnx"),
        "-o",
        &tmp("ridge.fer"),
        "--golden",
        "1",
    ]);
    assert!(
        t.contains(" 1 op,") && t.contains("1 golden vector)"),
        "{t}"
    );

    // Runtime errors name the file; an ONNX file given to run hints at convert.
    let fer = digits_f32("digits-small.fer");
    let bytes = std::fs::read(&fer).unwrap();
    let cut = tmp("truncated.fer");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let t = fails(2, &["inspect", &cut]);
    assert!(t.contains("truncated.fer"), "{t}");
    let t = fails(
        2,
        &[
            "run",
            &ex("digits/digits_mlp.onnx"),
            "-i",
            &ex("digits/test.csv"),
        ],
    );
    assert!(
        t.contains("digits_mlp.onnx") && t.contains("ferrite convert"),
        "{t}"
    );

    // preprocess on a model without a pipeline.
    let t = fails(2, &["preprocess", &fer, "-i", &ex("digits/test.csv")]);
    assert!(t.contains("no preprocessing"), "{t}");

    // inspect keeps its columns aligned with long Conv details.
    let conv = tmp("ops.fer");
    ok(&["convert", &fx("ops_f32.onnx"), "-o", &conv]);
    let out = stdout(&["inspect", &conv]);
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("#  op"))
        .collect();
    assert!(table.len() > 10, "{out}");
    let width = table[0].chars().count();
    for l in &table {
        assert_eq!(
            l.chars().count(),
            width,
            "misaligned:\n{}",
            table.join("\n")
        );
    }

    // An empty .onnx file.
    let empty = tmp("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let t = fails(2, &["convert", &empty, "-o", &tmp("empty.fer")]);
    assert!(t.contains("empty.onnx") && t.contains("empty"), "{t}");
    assert!(!t.contains("does not contain a graph"), "{t}");

    // Ops tract renames (Less → LT, Where → Iff) are named by their ONNX op types.
    // (Recurrent ops, Hardmax and Shrink, the earlier examples, now convert.)
    let t = fails(2, &["convert", &fx("where.onnx"), "-o", &tmp("where.fer")]);
    assert!(
        t.contains("Less (node \"lt\")")
            && t.contains("Where (node \"wh\")")
            && t.contains("uses 2 ops that")
            && !t.contains("Iff"),
        "{t}"
    );

    // A reference with other input names says so, not "--input-shape".
    let two = tmp("two_outputs_ref.fer");
    ok(&["convert", &fx("two_outputs.onnx"), "-o", &two]);
    let t = fails(
        2,
        &[
            "validate",
            &two,
            "--reference",
            &ex("digits/digits_mlp.onnx"),
            "-i",
            &fx("two_outputs_x.csv"),
        ],
    );
    assert!(
        !t.contains("--input-shape") && t.contains("\"x\"") && t.contains("\"input\""),
        "{t}"
    );
}
