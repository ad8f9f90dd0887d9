//! scikit-learn pipelines exported by skl2onnx (`examples/sklearn/`, made by
//! `make_pipelines.py`) convert through the ONNX-ML importer into one `.fer` model each
//! and give the same labels as scikit-learn and onnxruntime, with probabilities (or
//! predictions) within 1e-5 (relative to max(1, |value|) for regressors); and the
//! sensor example's `FEATURES.toml` window features match the numpy reference.
//!
//! References are the committed CSVs written by scikit-learn / onnxruntime / numpy:
//! nothing here is computed by ferrite's own code.

use ferrite::{OwnedModel, OwnedSession};
use ferrite_tool::onnxml::{self, spec::FeatureSpec, OnnxMlOptions};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
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

struct Agreement {
    rows: usize,
    labels_vs_sklearn: usize,
    labels_vs_ort: usize,
    max_diff_sklearn: f64,
    max_diff_ort: f64,
}

/// Predicted label indices, score rows, the model's labels and the fixture's row count.
type FixtureRun = (Vec<Option<usize>>, Vec<Vec<f32>>, Vec<String>, usize);

/// Converts fixture `name` and runs every input row through `Session::predict`.
fn run_fixture(name: &str) -> FixtureRun {
    let dir = examples().join("sklearn");
    let bytes = onnxml::import_onnxml(&dir.join(format!("{name}.onnx")), &OnnxMlOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let owned = OwnedModel::new(&bytes).unwrap();
    let model = owned.model();
    let labels: Vec<String> = model.labels().map(str::to_string).collect();
    let inputs = csv(&dir.join(format!("{name}_input.csv")));
    let n_out = model.output_len(0).unwrap();
    let mut s = OwnedSession::new(&model);
    let mut sess = s.session();
    let mut got_labels = Vec::new();
    let mut got = Vec::new();
    for (r, row) in inputs.iter().enumerate() {
        let x: Vec<f32> = row.iter().map(|&v| v as f32).collect();
        assert_eq!(x.len(), model.raw_input_len().unwrap(), "{name}");
        let mut out = vec![0f32; n_out];
        let l = sess
            .predict(&x, &mut out)
            .unwrap_or_else(|e| panic!("{name} row {r}: {e}"));
        got_labels.push(l);
        got.push(out);
    }
    (got_labels, got, labels, bytes.len())
}

fn classifier(name: &str) -> Agreement {
    let dir = examples().join("sklearn");
    let (idx, proba, labels, size) = run_fixture(name);
    let sk_labels = csv(&dir.join(format!("{name}_sklearn_labels.csv")));
    let ort_labels = csv(&dir.join(format!("{name}_ort_labels.csv")));
    let sk_p = csv(&dir.join(format!("{name}_sklearn_proba.csv")));
    let ort_p = csv(&dir.join(format!("{name}_ort_proba.csv")));
    assert_eq!(idx.len(), sk_labels.len());
    let mut a = Agreement {
        rows: idx.len(),
        labels_vs_sklearn: 0,
        labels_vs_ort: 0,
        max_diff_sklearn: 0.0,
        max_diff_ort: 0.0,
    };
    for r in 0..idx.len() {
        let label: f64 = labels[idx[r].expect("class index")].parse().unwrap();
        a.labels_vs_sklearn += usize::from(label == sk_labels[r][0]);
        a.labels_vs_ort += usize::from(label == ort_labels[r][0]);
        assert_eq!(proba[r].len(), sk_p[r].len(), "{name}: classes");
        for (c, &p) in proba[r].iter().enumerate() {
            a.max_diff_sklearn = a.max_diff_sklearn.max((p as f64 - sk_p[r][c]).abs());
            a.max_diff_ort = a.max_diff_ort.max((p as f64 - ort_p[r][c]).abs());
        }
    }
    eprintln!(
        "{name}: {} bytes, {} rows, labels = sklearn {}/{} = ort {}/{}, max |Δp| sklearn {:.2e} ort {:.2e}",
        size, a.rows, a.labels_vs_sklearn, a.rows, a.labels_vs_ort, a.rows, a.max_diff_sklearn, a.max_diff_ort
    );
    assert_eq!(
        a.labels_vs_sklearn, a.rows,
        "{name}: labels differ from scikit-learn"
    );
    assert_eq!(
        a.labels_vs_ort, a.rows,
        "{name}: labels differ from onnxruntime"
    );
    assert!(
        a.max_diff_sklearn <= 1e-5,
        "{name}: |Δp| vs sklearn {}",
        a.max_diff_sklearn
    );
    assert!(
        a.max_diff_ort <= 1e-5,
        "{name}: |Δp| vs onnxruntime {}",
        a.max_diff_ort
    );
    a
}

fn regressor(name: &str) {
    let dir = examples().join("sklearn");
    let (idx, pred, labels, size) = run_fixture(name);
    assert!(
        labels.is_empty() && idx.iter().all(Option::is_none),
        "{name}: a regressor has no labels"
    );
    let sk = csv(&dir.join(format!("{name}_sklearn_pred.csv")));
    let ort = csv(&dir.join(format!("{name}_ort_pred.csv")));
    let (mut ds, mut dort, mut rel) = (0f64, 0f64, 0f64);
    for r in 0..pred.len() {
        let p = pred[r][0] as f64;
        ds = ds.max((p - sk[r][0]).abs());
        dort = dort.max((p - ort[r][0]).abs());
        rel = rel
            .max((p - sk[r][0]).abs() / sk[r][0].abs().max(1.0))
            .max((p - ort[r][0]).abs() / ort[r][0].abs().max(1.0));
    }
    eprintln!("{name}: {size} bytes, {} rows, max |Δ| sklearn {ds:.2e} ort {dort:.2e}, max relative {rel:.2e}", pred.len());
    assert!(rel <= 1e-5, "{name}: relative difference {rel}");
}

#[test]
fn breast_cancer_standard_scaler_logistic_regression() {
    classifier("breast_cancer_logreg");
}

#[test]
fn wine_imputer_minmax_mlp_with_nan_inputs() {
    let dir = examples().join("sklearn");
    let inputs = csv(&dir.join("wine_impute_mlp_input.csv"));
    assert!(
        inputs.iter().flatten().any(|v| v.is_nan()),
        "the fixture has missing values"
    );
    classifier("wine_impute_mlp");
}

#[test]
fn iris_random_forest() {
    classifier("iris_rf");
}

#[test]
fn digits_gradient_boosting_ten_classes() {
    classifier("digits_gb");
}

#[test]
fn synthetic_one_hot_with_unknown_categories_and_logistic_regression() {
    classifier("synthetic_onehot_logreg");
}

#[test]
fn diabetes_gradient_boosting_regressor() {
    regressor("diabetes_gbr");
}

#[test]
fn diabetes_ridge_regressor() {
    regressor("diabetes_ridge");
}

#[test]
fn converted_models_keep_preprocessing_in_the_model() {
    let dir = examples().join("sklearn");
    for (name, steps) in [
        ("breast_cancer_logreg", true),
        ("wine_impute_mlp", true),
        ("iris_rf", false),
        ("synthetic_onehot_logreg", true),
    ] {
        let bytes = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
        assert!(onnxml::is_onnxml(&bytes), "{name}");
        let imp = onnxml::import_onnxml_bytes(&bytes, &OnnxMlOptions::default()).unwrap();
        assert_eq!(imp.steps > 0, steps, "{name}: {} steps", imp.steps);
    }
}

#[test]
fn tree_storage_is_sixteen_bytes_per_node_plus_eight_per_leaf_entry() {
    let dir = examples().join("sklearn");
    for name in ["iris_rf", "digits_gb", "diabetes_gbr"] {
        let bytes =
            onnxml::import_onnxml(&dir.join(format!("{name}.onnx")), &OnnxMlOptions::default())
                .unwrap();
        let owned = OwnedModel::new(&bytes).unwrap();
        let m = owned.model();
        let (mut nodes, mut entries, mut trees, mut targets) = (0, 0, 0, 0);
        for i in 0..m.num_ops() {
            let op = m.op(i).unwrap();
            if let ferrite::Op::TreeEnsemble { .. } = op.op {
                let dim = |k: usize| m.tensor(op.inputs[k]).unwrap().shape[0] as usize;
                nodes += dim(1);
                trees += dim(2);
                entries += dim(3);
                targets += dim(5);
            }
        }
        let per_node = (bytes.len() as f64) / nodes as f64;
        eprintln!(
            "{name}: {trees} trees, {nodes} nodes, {entries} leaf entries, file {} bytes ({per_node:.1} bytes/node overall)",
            bytes.len()
        );
        // Only the ensemble's arrays are constants: 16 B/node, 8 B/leaf entry, 4 B/tree root, 4 B/target.
        assert_eq!(
            m.parameter_bytes(),
            16 * nodes + 8 * entries + 4 * trees + 4 * targets,
            "{name}"
        );
    }
}

#[test]
fn importer_rejects_garbage_and_unsupported_ops_clearly() {
    let e = onnxml::import_onnxml_bytes(b"\xff\xff\xff not onnx", &OnnxMlOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("ONNX"), "{e}");
    // The CNN of the sensor example is not ONNX-ML (Conv goes through tract).
    let cnn = std::fs::read(examples().join("sensor/sensor_cnn.onnx")).unwrap();
    assert!(!onnxml::is_onnxml(&cnn));
    let e = onnxml::import_onnxml_bytes(&cnn, &OnnxMlOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            ferrite_tool::Error::Unsupported { .. } | ferrite_tool::Error::Import(_)
        ),
        "{e}"
    );
}

#[test]
fn corrupted_onnx_files_give_errors_not_panics() {
    // Deterministic byte flips and truncations of real fixtures: every outcome is
    // Ok (a still-valid model, which must then load) or an error — never a panic.
    let dir = examples().join("sklearn");
    let mut seed = 7u64;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let (mut ok, mut err) = (0, 0);
    for name in [
        "iris_rf",
        "synthetic_onehot_logreg",
        "wine_impute_mlp",
        "breast_cancer_logreg",
    ] {
        let orig = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
        for i in 0..150 {
            let mut b = orig.clone();
            if i % 10 == 0 {
                b.truncate(rnd() % b.len());
            } else {
                for _ in 0..1 + rnd() % 3 {
                    let at = rnd() % b.len();
                    b[at] ^= 1 << (rnd() % 8);
                }
            }
            match onnxml::import_onnxml_bytes(&b, &OnnxMlOptions::default()) {
                Ok(imp) => {
                    OwnedModel::new(&imp.builder.finish().unwrap())
                        .expect("an imported model loads");
                    ok += 1;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    err += 1;
                }
            }
        }
    }
    eprintln!("corrupted inputs: {ok} still convert, {err} rejected with an error");
}

// ---- FEATURES.toml and the sensor example ------------------------------------------

/// The sensor example's declarative pipeline (committed beside the model).
fn sensor_toml() -> String {
    std::fs::read_to_string(examples().join("sensor/features.toml")).unwrap()
}

fn sensor_windows_mg(n: usize) -> Vec<Vec<f32>> {
    csv(&examples().join("sensor/test.csv"))[..n]
        .iter()
        .map(|w| w.iter().map(|&g| (g * 1000.0).round() as f32).collect())
        .collect()
}

#[test]
fn features_toml_window_pipeline_matches_numpy_through_preprocess_csv() {
    let spec = FeatureSpec::parse(&sensor_toml(), "FEATURES.toml").unwrap();
    assert_eq!((spec.raw, spec.out_len()), (192, 21));
    let model = onnxml::import_onnxml_bytes(
        &std::fs::read(examples().join("sensor/sensor_features_model.onnx")).unwrap(),
        &OnnxMlOptions {
            name: Some("sensor".into()),
            features: Some(spec.clone()),
        },
    )
    .unwrap();
    // `ferrite preprocess` on a model whose own pipeline is only the window step.
    let plain = {
        let mut b = ferrite::format::write::ModelBuilder::new("features");
        let x = b
            .add_tensor("x", ferrite::DType::F32, &[1, 21], ferrite::Quant::None)
            .unwrap();
        let y = b
            .add_tensor("y", ferrite::DType::F32, &[1, 21], ferrite::Quant::None)
            .unwrap();
        b.add_op(ferrite::Op::Reshape, &[x], &[y]).unwrap();
        b.set_io(&[x], &[y]).unwrap();
        onnxml::spec::attach(&b.finish().unwrap(), &spec).unwrap()
    };
    let rows = sensor_windows_mg(50);
    let input: String = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    let out = onnxml::spec::preprocess_csv(&plain, &input, "raw.csv").unwrap();
    let reference = csv(&examples().join("sensor/features_reference.csv"));
    let got: Vec<Vec<f64>> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(got.len(), 50);
    let mut worst = 0f64;
    for (g, w) in got.iter().zip(&reference) {
        for (a, b) in g.iter().zip(w) {
            let rel = (a - b).abs() / b.abs().max(1.0);
            worst = worst.max(rel);
        }
    }
    eprintln!("sensor window features: max relative difference to numpy {worst:.2e}");
    assert!(worst <= 1e-5);
    // The whole model: raw window -> features -> Scaler -> LinearClassifier -> Normalizer.
    let bytes = model.builder.finish().unwrap();
    let owned = OwnedModel::new(&bytes).unwrap();
    let m = owned.model();
    assert_eq!(m.raw_input_len().unwrap(), 192);
    let ort = csv(&examples().join("sensor/features_model_ort.csv"));
    let mut s = OwnedSession::new(&m);
    let mut sess = s.session();
    let mut dmax = 0f64;
    for (r, row) in rows.iter().enumerate() {
        let mut p = [0f32; 4];
        let l = sess.predict(row, &mut p).unwrap().unwrap();
        assert_eq!(
            m.labels().nth(l).unwrap().parse::<f64>().unwrap(),
            ort[r][0],
            "window {r}"
        );
        for c in 0..4 {
            dmax = dmax.max((p[c] as f64 - ort[r][c + 1]).abs());
        }
    }
    eprintln!("sensor features model: max |Δp| vs onnxruntime {dmax:.2e}");
    assert!(dmax <= 1e-5);
}

#[test]
fn features_toml_errors_name_the_step() {
    let bad = [
        ("raw = 4\n[[step]]\nop = \"scale\"\na = [1, 2]\nb = 1\n", "step 1 (scale)"),
        ("raw = 4\n[[step]]\nop = \"frobnicate\"\n", "unknown op"),
        ("raw = 4\n[[step]]\nop = \"window\"\nchannels = 3\nsamples = 2\nfeatures = [\"mean\"]\n", "channels"),
        ("raw = 6\n[[step]]\nop = \"window\"\nchannels = 2\nsamples = 3\nfeatures = [\"band:0:1\"]\n", "power of two"),
        ("raw = 4\n[[step]]\nop = \"select\"\nindices = [0, 9]\n", "indices"),
        ("[[step]]\nop = \"clip\"\n", "raw"),
        ("raw = 2\n[[step]]\nop = \"scale\"\nkind = \"sub_div\"\na = 0\nb = [1, 0]\n", "rejected by the runtime"),
    ];
    for (text, want) in bad {
        let e = FeatureSpec::parse(text, "FEATURES.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
    // Defaults: scalars broadcast, `len` defaults to the rest of the row.
    let ok = FeatureSpec::parse("raw = 3\n[[step]]\nop = \"clip\"\nlo = 0\nhi = 1\n[[step]]\nop = \"one_hot\"\nstart = 2\nlen = 1\ncategories = [1, 2]\nunknown = \"bucket\"\n", "f").unwrap();
    assert_eq!(ok.out_len(), 5);
}
