//! `ferrite convert --batch N` end to end: the batch file gives the bytes of the batch-1
//! file on row counts that are not a multiple of N, through `ferrite run` and through
//! the runtime driven directly by this test; what a batch file refuses; a model whose
//! leading dimension mixes rows is not written as a batch file.

use ferrite::{AlignedModel, OwnedSession};
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
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let o = ferrite(args);
    assert!(
        !o.status.success(),
        "ferrite {args:?} succeeded: {}",
        text(&o)
    );
    text(&o)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ex(p: &str) -> String {
    root().join("examples").join(p).display().to_string()
}

fn tmp(name: &str) -> String {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ferrite-batch");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name).display().to_string()
}

/// The digits test rows (CSV with a header line), parsed here.
fn test_rows() -> Vec<Vec<f32>> {
    std::fs::read_to_string(ex("digits/test.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}

/// Raw bytes of output 0 for every row: the batch-1 file one row per inference.
fn device_outputs(fer: &[u8], rows: &[Vec<f32>]) -> Vec<Vec<u8>> {
    let a = AlignedModel::new(fer);
    let m = a.model().unwrap();
    let mut owned = OwnedSession::new(&m);
    let mut s = owned.session();
    rows.iter()
        .map(|r| {
            s.set_input_f32(0, r).unwrap();
            s.run().unwrap();
            s.output_bytes(0).unwrap().to_vec()
        })
        .collect()
}

/// The same from a batch file of `n` rows per inference, driven here: rows packed `n`
/// at a time, the last inference padded with zero rows.
fn batch_outputs(fer: &[u8], rows: &[Vec<f32>], n: usize) -> Vec<Vec<u8>> {
    let a = AlignedModel::new(fer);
    let m = a.model().unwrap();
    assert_eq!(m.input(0).unwrap().shape[0] as usize, n);
    let width = rows[0].len();
    let mut owned = OwnedSession::new(&m);
    let mut s = owned.session();
    let mut out = Vec::new();
    for chunk in rows.chunks(n) {
        let mut x: Vec<f32> = chunk.iter().flatten().copied().collect();
        x.resize(n * width, 0.0);
        s.set_input_f32(0, &x).unwrap();
        s.run().unwrap();
        let bytes = s.output_bytes(0).unwrap();
        let per_row = bytes.len() / n;
        out.extend(bytes.chunks(per_row).take(chunk.len()).map(<[u8]>::to_vec));
    }
    out
}

fn property(fer: &[u8], key: &str) -> Option<String> {
    let a = AlignedModel::new(fer);
    let m = a.model().unwrap();
    m.metadata().property(key).map(str::to_string)
}

/// Whether f32 values `got` (batch file) agree with `want` (batch-1 file) up to
/// rounding: within 1e-4·(1 + max |want|), the tolerance the conversion's check uses
/// (`ferrite_tool::batch::F32_TOLERANCE`). Rounding differences of the f32 kernels are
/// a few units of 2^-24; a batch that mixed rows would differ by O(1).
fn close(want: &[f32], got: &[f32]) -> bool {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    want.len() == got.len()
        && want
            .iter()
            .zip(got)
            .all(|(a, b)| (a - b).abs() <= 1e-4 * (1.0 + scale))
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The batch file's f32 outputs may differ from the batch-1 file's by rounding: a
/// batched f32 FullyConnected (the digits MLP's layers in f32, and its int8
/// conversion's float layers) runs on the conv engine's GEMM, the one-row one on dot
/// products, in other summation orders.
fn check_precision(precision: &str, extra: &[&str]) {
    let onnx = ex("digits/digits_mlp.onnx");
    let single = tmp(&format!("digits-{precision}.fer"));
    let batched = tmp(&format!("digits-{precision}-b16.fer"));
    let common = [&["--precision", precision][..], extra].concat();
    ok(&[&["convert", &onnx, "-o", &single][..], &common].concat());
    ok(&[
        &["convert", &onnx, "-o", &batched, "--batch", "16"][..],
        &common,
    ]
    .concat());
    let (one, many) = (
        std::fs::read(&single).unwrap(),
        std::fs::read(&batched).unwrap(),
    );
    {
        let a = AlignedModel::new(&many);
        let m = a.model().unwrap();
        assert_eq!(m.input(0).unwrap().shape, [16, 64], "{precision}");
        assert_eq!(m.output(0).unwrap().shape, [16, 10], "{precision}");
        assert_eq!(m.num_golden(), 0, "{precision}");
    }
    assert_eq!(property(&many, "batch").as_deref(), Some("16"));
    assert_eq!(property(&one, "batch"), None);
    // Calibration and agreement are recorded per row, as in the batch-1 file.
    for key in [
        "calibration_rows",
        "agreement_top1",
        "agreement_max_abs_error",
    ] {
        assert_eq!(
            property(&many, key),
            property(&one, key),
            "{precision} {key}"
        );
    }

    let rows = test_rows();
    assert_eq!(rows.len() % 16, 8, "the test needs a partial last batch");
    for n in [rows.len(), 37, 5, 1] {
        let want = device_outputs(&one, &rows[..n]);
        let got = batch_outputs(&many, &rows[..n], 16);
        assert_eq!(got.len(), want.len());
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(close(&f32s(w), &f32s(g)), "{precision}: row {r} of {n}");
        }
    }

    // `ferrite run` splits the rows into inferences of 16 and writes the same table.
    let input = ex("digits/test.csv");
    let a = ok(&["run", &single, "--input", &input]);
    let b = ok(&["run", &batched, "--input", &input]);
    assert_eq!(a.lines().count(), rows.len() + 1);
    assert_eq!(b.lines().count(), rows.len() + 1);
    for (la, lb) in a.lines().zip(b.lines()) {
        let (fa, fb): (Vec<&str>, Vec<&str>) = (la.split(',').collect(), lb.split(',').collect());
        let (na, nb): (Vec<f32>, Vec<f32>) = (
            fa.iter().filter_map(|v| v.trim().parse().ok()).collect(),
            fb.iter().filter_map(|v| v.trim().parse().ok()).collect(),
        );
        let text = |f: &[&str]| -> Vec<String> {
            f.iter()
                .filter(|v| v.trim().parse::<f32>().is_err())
                .map(|v| v.to_string())
                .collect()
        };
        assert_eq!(
            text(&fa),
            text(&fb),
            "{precision}: ferrite run, {la} vs {lb}"
        );
        assert!(close(&na, &nb), "{precision}: ferrite run, {la} vs {lb}");
    }
}

#[test]
fn f32_batch_file_gives_the_batch_one_results() {
    check_precision("f32", &[]);
}

#[test]
fn int8_batch_file_gives_the_batch_one_results() {
    let calib = ex("digits/calib.csv");
    check_precision("int8", &["--calibration", &calib]);
    check_precision(
        "int8",
        &[
            "--calibration",
            &calib,
            "--calibration-method",
            "percentile",
            "--int8-input",
        ],
    );
}

#[test]
fn what_a_batch_file_refuses() {
    let onnx = ex("digits/digits_mlp.onnx");
    let batched = tmp("digits-refuse-b8.fer");
    ok(&["convert", &onnx, "-o", &batched, "--batch", "8"]);
    let out = fails(&[
        "validate",
        &batched,
        "--reference",
        &onnx,
        "--data",
        &ex("digits/test.csv"),
    ]);
    assert!(
        out.contains("batch file") && out.contains("batch-1"),
        "{out}"
    );

    // A missing value, which the batch file cannot impute, names its line and column.
    let rows = test_rows();
    let header = std::fs::read_to_string(ex("digits/test.csv")).unwrap();
    let mut csv = format!("{}\n", header.lines().next().unwrap());
    for (r, row) in rows.iter().take(11).enumerate() {
        let mut cells: Vec<String> = row.iter().map(f32::to_string).collect();
        if r == 9 {
            cells[3] = "nan".into();
        }
        csv += &cells.join(",");
        csv += "\n";
    }
    let nan = tmp("nan-row.csv");
    std::fs::write(&nan, csv).unwrap();
    let out = fails(&["run", &batched, "--input", &nan]);
    assert!(out.contains("line 11, column 4"), "{out}");

    let wide = tmp("digits-wrong-width.csv");
    std::fs::write(&wide, "1,2,3\n").unwrap();
    let out = fails(&["run", &batched, "--input", &wide]);
    // `run` takes one sample (64 values) or a whole batch (8 × 64) per row; the message
    // names the model's input width.
    assert!(
        out.contains("rows have 3 values") && out.contains("512"),
        "{out}"
    );

    let out = fails(&["convert", &onnx, "-o", &tmp("zero.fer"), "--batch", "0"]);
    assert!(out.contains("--batch"), "{out}");

    // A scikit-learn pipeline preprocesses one row at a time.
    let out = fails(&[
        "convert",
        &ex("sklearn/wine_impute_mlp.onnx"),
        "-o",
        &tmp("wine-b8.fer"),
        "--batch",
        "8",
    ]);
    assert!(
        out.contains("--batch 8") && out.contains("pipeline"),
        "{out}"
    );
}

#[test]
fn convert_help_documents_batch() {
    let help = ok(&["convert", "--help"]);
    assert!(
        help.contains("--batch <N>") && help.contains("f32 up to rounding"),
        "{help}"
    );
}

/// A model whose rows are not independent (a softmax across the batch axis, built
/// here): at batch 1 every value is 1; the batch file would mix rows, so the
/// conversion must fail instead of writing it.
#[test]
fn a_leading_dimension_that_mixes_rows_is_refused() {
    use ferrite_tool::convert::{convert, ConvertOptions};
    use prost::Message;
    use tract_onnx::pb;
    let info = |name: &str| pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: vec![
                        pb::tensor_shape_proto::Dimension {
                            value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(
                                "N".into(),
                            )),
                            ..Default::default()
                        },
                        pb::tensor_shape_proto::Dimension {
                            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(4)),
                            ..Default::default()
                        },
                    ],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(pb::GraphProto {
            name: "mix".into(),
            node: vec![pb::NodeProto {
                op_type: "Softmax".into(),
                name: "softmax_over_rows".into(),
                input: vec!["x".into()],
                output: vec!["y".into()],
                attribute: vec![pb::AttributeProto {
                    name: "axis".into(),
                    r#type: 2,
                    i: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            input: vec![info("x")],
            output: vec![info("y")],
            ..Default::default()
        }),
        ..Default::default()
    };
    let onnx = model.encode_to_vec();
    let single = convert(&onnx, &ConvertOptions::default()).expect("batch 1 converts");
    assert_eq!(single.golden, 4);
    let err = convert(
        &onnx,
        &ConvertOptions {
            batch: 4,
            ..ConvertOptions::default()
        },
    )
    .expect_err("a batch file that mixes rows");
    let msg = err.to_string();
    assert!(
        msg.contains("does not reproduce the batch-1 model"),
        "{msg}"
    );
}
