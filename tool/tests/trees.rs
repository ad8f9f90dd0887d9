//! Tree ensembles from every common exporter (`examples/trees/`, made by `make.py`:
//! scikit-learn RandomForest / GradientBoosting / HistGradientBoosting, XGBoost,
//! LightGBM, CatBoost, and two ai.onnx.ml opset-5 `TreeEnsemble` files) convert and
//! give onnxruntime's answers on the committed rows, NaN inputs included:
//! probabilities within 1e-5, labels 100 % equal, regressions within 1e-5 relative.
//!
//! Every `.onnx` in the folder is checked, so a new fixture is tested without editing
//! this file. The references are the committed CSVs onnxruntime wrote
//! (`NAME_ort_proba.csv` / `NAME_ort_labels.csv` / `NAME_ort_pred.csv`), never
//! ferrite's own output.

use ferrite::{OwnedModel, OwnedSession};
use ferrite_tool::convert::{convert, ConvertOptions};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/trees")
}

/// CSV with a header line; `nan` allowed.
fn csv(path: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .unwrap_or_else(|_| panic!("{}: {v}", path.display()))
                })
                .collect()
        })
        .collect()
}

/// What one fixture run measured.
struct Run {
    rows: usize,
    nan_rows: usize,
    /// Rows whose label equals onnxruntime's (classifiers).
    labels_equal: usize,
    /// Largest |Δp| (classifiers) or |Δ| / max(1, |ort|) (regressors).
    max_diff: f64,
    classifier: bool,
}

/// Converts `NAME.onnx` (f32) and runs every row of `NAME_input.csv`.
fn run(name: &str) -> Result<Run, String> {
    let d = dir();
    let onnx = std::fs::read(d.join(format!("{name}.onnx"))).map_err(|e| e.to_string())?;
    let bytes = convert(&onnx, &ConvertOptions::default())
        .map_err(|e| format!("convert: {e}"))?
        .bytes;
    let owned = OwnedModel::new(&bytes).map_err(|e| format!("load: {e}"))?;
    let model = owned.model();
    let labels: Vec<String> = model.labels().map(str::to_string).collect();
    let inputs = csv(&d.join(format!("{name}_input.csv")));
    let proba = d.join(format!("{name}_ort_proba.csv"));
    let classifier = proba.exists();
    let (want, want_labels) = if classifier {
        let l = csv(&d.join(format!("{name}_ort_labels.csv")));
        (csv(&proba), Some(l))
    } else {
        (csv(&d.join(format!("{name}_ort_pred.csv"))), None)
    };
    if want.len() != inputs.len() {
        return Err("reference and input row counts differ".into());
    }
    let n_out = model.output_len(0).map_err(|e| e.to_string())?;
    let mut s = OwnedSession::new(&model);
    let mut sess = s.session();
    let mut r = Run {
        rows: inputs.len(),
        nan_rows: 0,
        labels_equal: 0,
        max_diff: 0.0,
        classifier,
    };
    for (i, row) in inputs.iter().enumerate() {
        let x: Vec<f32> = row.iter().map(|&v| v as f32).collect();
        r.nan_rows += usize::from(x.iter().any(|v| v.is_nan()));
        let mut out = vec![0f32; n_out];
        let label = sess
            .predict(&x, &mut out)
            .map_err(|e| format!("row {i}: {e}"))?;
        if out.len() != want[i].len() {
            return Err(format!(
                "row {i}: {} outputs, onnxruntime {}",
                out.len(),
                want[i].len()
            ));
        }
        for (&g, &w) in out.iter().zip(&want[i]) {
            let d = if classifier {
                (g as f64 - w).abs()
            } else {
                (g as f64 - w).abs() / w.abs().max(1.0)
            };
            r.max_diff = r.max_diff.max(if g.is_nan() { f64::INFINITY } else { d });
        }
        if let Some(wl) = &want_labels {
            // Without class labels (an ArgMax label output) the label is the index.
            let got: Option<f64> = match label {
                Some(k) if labels.is_empty() => Some(k as f64),
                Some(k) => labels.get(k).and_then(|l| l.parse().ok()),
                None => None,
            };
            r.labels_equal += usize::from(got == Some(wl[i][0]));
        }
    }
    Ok(r)
}

#[test]
fn every_tree_fixture_matches_onnxruntime() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "onnx").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 23, "fixtures missing: {names:?}");
    let mut failures = Vec::new();
    for name in &names {
        match run(name) {
            Ok(r) => {
                eprintln!(
                    "{name}: {} rows ({} with NaN), {} max {} {:.2e}",
                    r.rows,
                    r.nan_rows,
                    if r.classifier {
                        format!("labels {}/{} equal,", r.labels_equal, r.rows)
                    } else {
                        String::new()
                    },
                    if r.classifier { "|Δp|" } else { "rel |Δ|" },
                    r.max_diff
                );
                if name.contains("_nan") && r.nan_rows == 0 {
                    failures.push(format!("{name}: no NaN rows tested"));
                }
                if r.max_diff > 1e-5 {
                    failures.push(format!("{name}: max difference {:.3e}", r.max_diff));
                }
                if r.classifier && r.labels_equal != r.rows {
                    failures.push(format!(
                        "{name}: labels {}/{} equal",
                        r.labels_equal, r.rows
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

use prost::Message;
use tract_onnx::pb::{AttributeProto, ModelProto};

/// Fixture `name` with its tree node's attributes edited by `edit`, converted.
fn convert_edited(name: &str, edit: impl Fn(&mut Vec<AttributeProto>)) -> Result<(), String> {
    let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
    let mut m = ModelProto::decode(bytes.as_slice()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let n = g
        .node
        .iter_mut()
        .find(|n| n.op_type.starts_with("TreeEnsemble"))
        .unwrap();
    edit(&mut n.attribute);
    convert(&m.encode_to_vec(), &ConvertOptions::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// An edit of a tree node's attributes.
type Edit = dyn Fn(&mut Vec<AttributeProto>);

fn attr_mut<'a>(a: &'a mut [AttributeProto], name: &str) -> &'a mut AttributeProto {
    a.iter_mut().find(|a| a.name == name).unwrap()
}

/// Shapes onnxruntime answers in a way the op cannot reproduce are refused at convert
/// time with a message naming the reason, never converted to a different answer.
#[test]
fn shapes_onnxruntime_answers_differently_are_refused() {
    // The unedited files convert (so each refusal below is caused by its edit).
    convert_edited("breast_cancer_xgb_nan", |_| {}).unwrap();
    convert_edited("breast_cancer_catboost_nan", |_| {}).unwrap();
    convert_edited("wine_lgbm_nan_te5", |_| {}).unwrap();
    let cases: [(&str, &str, Box<Edit>); 7] = [
        (
            "breast_cancer_rf",
            "no negative weight and LOGISTIC",
            Box::new(|a| attr_mut(a, "post_transform").s = b"LOGISTIC".to_vec()),
        ),
        (
            "breast_cancer_xgb_nan",
            "PROBIT",
            Box::new(|a| attr_mut(a, "post_transform").s = b"PROBIT".to_vec()),
        ),
        (
            "breast_cancer_xgb_nan",
            "class ids [1]",
            Box::new(|a| {
                let ids = attr_mut(a, "class_ids");
                ids.ints.iter_mut().for_each(|c| *c = 1);
            }),
        ),
        (
            "breast_cancer_xgb_nan",
            "two base_values",
            Box::new(|a| attr_mut(a, "base_values").floats = vec![0.1, 0.5]),
        ),
        (
            "breast_cancer_catboost_nan",
            "opposite scores",
            Box::new(|a| attr_mut(a, "class_weights").floats[0] += 0.25),
        ),
        (
            "wine_lgbm_nan_te5",
            "post_transform 2",
            Box::new(|a| attr_mut(a, "post_transform").i = 2),
        ),
        (
            "diabetes_xgb_nan",
            "node mode BRANCH_SUBSET",
            Box::new(|a| attr_mut(a, "nodes_modes").strings[0] = b"BRANCH_SUBSET".to_vec()),
        ),
    ];
    for (name, want, edit) in cases {
        match convert_edited(name, edit) {
            Ok(()) => panic!("{name}: the edit \"{want}\" converted"),
            Err(e) => assert!(e.contains(want), "{name}: {e}"),
        }
    }
}

/// `ferrite run`'s path (`run_rows`: data checks, then `Session::predict`) takes the
/// NaN rows of a model whose input only tree ensembles read.
#[test]
fn run_rows_accepts_missing_values_for_tree_models() {
    let name = "breast_cancer_xgb_nan";
    let onnx = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
    let fer = convert(&onnx, &ConvertOptions::default()).unwrap().bytes;
    let data = ferrite_tool::data::Dataset::load(&dir().join(format!("{name}_input.csv"))).unwrap();
    let out = ferrite_tool::run::run_rows(&fer, &data).unwrap();
    let want = csv(&dir().join(format!("{name}_ort_proba.csv")));
    assert_eq!(out.len(), want.len());
    for (g, w) in out.iter().zip(&want) {
        for (a, b) in g.iter().zip(w) {
            assert!((*a as f64 - b).abs() <= 1e-5, "{a} vs {b}");
        }
    }
    // A model whose input another op reads (the digits MLP) still rejects NaN.
    let mlp = std::fs::read(dir().join("../digits/digits_mlp.onnx")).unwrap();
    let fer = convert(&mlp, &ConvertOptions::default()).unwrap().bytes;
    let owned = ferrite::OwnedModel::new(&fer).unwrap();
    assert!(!owned.model().input_accepts_nan());
    let owned =
        ferrite::OwnedModel::new(&convert(&onnx, &ConvertOptions::default()).unwrap().bytes)
            .unwrap();
    assert!(owned.model().input_accepts_nan());
}
