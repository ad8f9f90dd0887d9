//! scikit-learn pipelines exported by skl2onnx (`examples/sklearn/`, made by
//! `make_pipelines.py`) convert through the ONNX-ML importer into one `.fer` model each
//! and give the same labels as scikit-learn and onnxruntime, with probabilities (or
//! predictions) within 1e-5 (relative to max(1, |value|) for regressors); and the
//! sensor example's `FEATURES.toml` window features match the numpy reference.
//! In int8 / f16 the MLP is quantized and still matches scikit-learn's labels, while
//! pipelines without a neural part give bit-identical outputs to their f32 conversion.
//!
//! References are the committed CSVs written by scikit-learn / onnxruntime / numpy:
//! nothing here is computed by ferrite's own code.

use ferrite::{OwnedModel, OwnedSession};
use ferrite_tool::convert::convert;
use ferrite_tool::import::{self, is_onnxml, ImportOptions};
use ferrite_tool::preprocess::{preprocess_csv, spec::FeatureSpec};
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

/// The f32 model `ferrite convert` writes for the scikit-learn fixture `name`.
fn convert_f32(name: &str) -> Vec<u8> {
    let onnx = std::fs::read(examples().join(format!("sklearn/{name}.onnx"))).unwrap();
    convert(&onnx, &ConvertOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .bytes
}

/// Converts fixture `name` and runs every input row through `Session::predict`.
fn run_fixture(name: &str) -> FixtureRun {
    let dir = examples().join("sklearn");
    let bytes = convert_f32(name);
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
        assert!(is_onnxml(&bytes), "{name}");
        let imp = import::import(&bytes, &ImportOptions::default()).unwrap();
        assert_eq!(imp.preprocess.is_some(), steps, "{name}");
    }
}

#[test]
fn tree_storage_is_sixteen_bytes_per_node_plus_eight_per_leaf_entry() {
    for name in ["iris_rf", "digits_gb", "diabetes_gbr"] {
        let bytes = convert_f32(name);
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
    let e = import::onnxml::lower(b"\xff\xff\xff not onnx", None).unwrap_err();
    assert!(e.to_string().contains("ONNX"), "{e}");
    // The CNN of the sensor example is not ONNX-ML (Conv goes through tract).
    let cnn = std::fs::read(examples().join("sensor/sensor_cnn.onnx")).unwrap();
    assert!(!is_onnxml(&cnn));
    let e = import::onnxml::lower(&cnn, None).unwrap_err();
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
            let opts = ConvertOptions {
                golden: 0,
                ..ConvertOptions::default()
            };
            match convert(&b, &opts) {
                Ok(r) => {
                    OwnedModel::new(&r.bytes).expect("a converted model loads");
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
    let model = convert(
        &std::fs::read(examples().join("sensor/sensor_features_model.onnx")).unwrap(),
        &ConvertOptions {
            name: Some("sensor".into()),
            features: Some(spec.clone()),
            ..ConvertOptions::default()
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
        b.add_section(
            ferrite::format::kind::PREPROCESS,
            true,
            spec.section().unwrap(),
        );
        b.finish().unwrap()
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
    let out = preprocess_csv(&plain, &input, "raw.csv").unwrap();
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
    let owned = OwnedModel::new(&model.bytes).unwrap();
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

// ---- f16 / int8: the neural part quantized, preprocessing and classical ops exact ----

use ferrite_tool::convert::{ConvertOptions, ConvertReport, Precision};
use ferrite_tool::data::{parse_csv, Dataset};

/// CSV file as a dataset (raw rows, `nan` for missing).
fn dataset(path: &Path) -> Dataset {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_csv(&text, &path.display().to_string()).unwrap()
}

/// `ferrite convert` of a scikit-learn fixture in `precision`, calibrated on `calib`.
fn convert_fixture(name: &str, precision: Precision, calib: Option<Dataset>) -> ConvertReport {
    let onnx = std::fs::read(examples().join(format!("sklearn/{name}.onnx"))).unwrap();
    let opts = ConvertOptions {
        precision,
        calibration: calib,
        name: Some(name.into()),
        ..ConvertOptions::default()
    };
    convert(&onnx, &opts).unwrap_or_else(|e| panic!("{name} {}: {e}", precision.name()))
}

/// `Session::predict` on every row: (label index, scores) per row.
fn predict_all(fer: &[u8], rows: &[Vec<f32>]) -> Vec<(Option<usize>, Vec<f32>)> {
    let owned = OwnedModel::new(fer).unwrap();
    let model = owned.model();
    let mut s = OwnedSession::new(&model);
    let mut sess = s.session();
    rows.iter()
        .map(|x| {
            let mut out = vec![0f32; model.output_len(0).unwrap()];
            let l = sess.predict(x, &mut out).unwrap();
            (l, out)
        })
        .collect()
}

fn rows_f32(path: &Path) -> Vec<Vec<f32>> {
    csv(path)
        .iter()
        .map(|r| r.iter().map(|&v| v as f32).collect())
        .collect()
}

/// dtypes of the constant / activation tensors of a model.
fn dtypes(fer: &[u8]) -> Vec<ferrite::DType> {
    let owned = OwnedModel::new(fer).unwrap();
    let m = owned.model();
    (0..m.num_tensors())
        .map(|i| m.tensor(i).unwrap().dtype)
        .collect()
}

fn preprocess_section(fer: &[u8]) -> Vec<u8> {
    let owned = OwnedModel::new(fer).unwrap();
    let m = owned.model();
    m.section(ferrite::format::kind::PREPROCESS)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// The MLP of `wine_impute_mlp` (Imputer + MinMaxScaler + MLPClassifier) in int8: the
/// two FullyConnected layers become int8, the Imputer / scaling steps stay the f32
/// PREPROCESS section. Calibrated on the first half of the raw test rows (NaN
/// included), checked on all of them against scikit-learn's labels and probabilities.
#[test]
fn int8_quantizes_the_wine_mlp_and_keeps_its_preprocessing_exact() {
    let dir = examples().join("sklearn");
    let raw = dataset(&dir.join("wine_impute_mlp_input.csv"));
    assert!(raw.values.iter().any(|v| v.is_nan()));
    let f32m = convert_fixture("wine_impute_mlp", Precision::F32, Some(raw.clone()));
    let int8 = convert_fixture("wine_impute_mlp", Precision::Int8, Some(raw.head(27)));
    assert!(
        int8.bytes.len() < f32m.bytes.len(),
        "int8 {} bytes vs f32 {}",
        int8.bytes.len(),
        f32m.bytes.len()
    );
    assert!(int8.notes.is_empty(), "{:?}", int8.notes);
    // Both FullyConnected layers run in int8; only the output Softmax stays f32, and
    // the `label` output's ArgMax reads it.
    assert_eq!(int8.float_ops.len(), 2, "{:?}", int8.float_ops);
    assert!(
        int8.float_ops[0].contains("Softmax") && int8.float_ops[1].contains("label (ArgMax)"),
        "{:?}",
        int8.float_ops
    );
    assert!(dtypes(&int8.bytes).contains(&ferrite::DType::I8));
    // The preprocessing is the f32 model's, byte for byte.
    let pre = preprocess_section(&f32m.bytes);
    assert!(!pre.is_empty());
    assert_eq!(preprocess_section(&int8.bytes), pre);
    // Agreement with the f32 model, measured at conversion on the raw calibration rows,
    // is in the provenance.
    let a = int8.agreement.clone().expect("agreement");
    assert_eq!(a.rows, 27);
    let owned = OwnedModel::new(&int8.bytes).unwrap();
    let props = owned.model().metadata().clone();
    assert_eq!(props.property("precision"), Some("int8"));
    assert!(props.property("agreement_top1").is_some());
    assert!(props.property("agreement_max_abs_error").is_some());
    assert_eq!(props.property("importer"), Some("onnxml"));
    assert!(int8.golden > 0);

    // Against scikit-learn on all 54 raw rows.
    let rows = rows_f32(&dir.join("wine_impute_mlp_input.csv"));
    let sk_labels = csv(&dir.join("wine_impute_mlp_sklearn_labels.csv"));
    let sk_p = csv(&dir.join("wine_impute_mlp_sklearn_proba.csv"));
    let labels: Vec<String> = owned.model().labels().map(str::to_string).collect();
    let got = predict_all(&int8.bytes, &rows);
    let (mut same, mut dmax) = (0, 0f64);
    for (r, (l, p)) in got.iter().enumerate() {
        let label: f64 = labels[l.expect("class")].parse().unwrap();
        same += usize::from(label == sk_labels[r][0]);
        for (c, &v) in p.iter().enumerate() {
            dmax = dmax.max((v as f64 - sk_p[r][c]).abs());
        }
    }
    let top1 = same as f64 / rows.len() as f64;
    eprintln!(
        "wine_impute_mlp int8 (calibrated on 27 raw rows): labels = scikit-learn {same}/{} ({:.1} %), max |Δp| vs scikit-learn {dmax:.2e}; vs f32 at conversion: top-1 {:.4}, max abs error {:.2e}; {} → {} bytes",
        rows.len(),
        100.0 * top1,
        a.top1.unwrap_or(0.0),
        a.max_abs_error,
        f32m.bytes.len(),
        int8.bytes.len()
    );
    assert!(top1 >= 0.99, "top-1 agreement with scikit-learn {top1}");
    assert!(dmax <= 0.05, "max |Δp| vs scikit-learn {dmax}");
}

/// f16 stores the MLP weights as f16 (and nothing else changes).
#[test]
fn f16_stores_the_wine_mlp_weights_as_f16() {
    let dir = examples().join("sklearn");
    let raw = dataset(&dir.join("wine_impute_mlp_input.csv"));
    let f32m = convert_fixture("wine_impute_mlp", Precision::F32, Some(raw.clone()));
    let f16 = convert_fixture("wine_impute_mlp", Precision::F16, Some(raw));
    assert!(f16.notes.is_empty(), "{:?}", f16.notes);
    assert!(dtypes(&f16.bytes).contains(&ferrite::DType::F16));
    assert!(f16.parameter_bytes < f32m.parameter_bytes);
    assert_eq!(
        preprocess_section(&f16.bytes),
        preprocess_section(&f32m.bytes)
    );
    let rows = rows_f32(&dir.join("wine_impute_mlp_input.csv"));
    let sk_labels = csv(&dir.join("wine_impute_mlp_sklearn_labels.csv"));
    let sk_p = csv(&dir.join("wine_impute_mlp_sklearn_proba.csv"));
    let owned = OwnedModel::new(&f16.bytes).unwrap();
    let labels: Vec<String> = owned.model().labels().map(str::to_string).collect();
    let (mut same, mut dmax) = (0, 0f64);
    for (r, (l, p)) in predict_all(&f16.bytes, &rows).iter().enumerate() {
        let label: f64 = labels[l.expect("class")].parse().unwrap();
        same += usize::from(label == sk_labels[r][0]);
        for (c, &v) in p.iter().enumerate() {
            dmax = dmax.max((v as f64 - sk_p[r][c]).abs());
        }
    }
    eprintln!(
        "wine_impute_mlp f16: labels = scikit-learn {same}/{}, max |Δp| vs scikit-learn {dmax:.2e}; parameters {} → {} bytes",
        rows.len(),
        f32m.parameter_bytes,
        f16.parameter_bytes
    );
    assert_eq!(same, rows.len());
    assert!(dmax <= 1e-2, "max |Δp| vs scikit-learn {dmax}");
}

/// Pipelines with nothing neural (linear models, tree ensembles): int8 and f16 convert,
/// say that there was nothing to quantize, and compute bit for bit what the f32 model
/// computes on every fixture row (the f32 model itself matches scikit-learn, above).
#[test]
fn int8_and_f16_keep_classical_pipelines_exact() {
    let dir = examples().join("sklearn");
    let mut table = vec![("wine_impute_mlp".to_string(), 0, 0)];
    for name in [
        "breast_cancer_logreg",
        "iris_rf",
        "digits_gb",
        "synthetic_onehot_logreg",
        "diabetes_gbr",
        "diabetes_ridge",
    ] {
        let input = dir.join(format!("{name}_input.csv"));
        let raw = dataset(&input);
        let rows = rows_f32(&input);
        let f32m = convert_fixture(name, Precision::F32, Some(raw.clone()));
        let want = predict_all(&f32m.bytes, &rows);
        for precision in [Precision::Int8, Precision::F16] {
            let r = convert_fixture(name, precision, Some(raw.clone()));
            assert!(
                r.notes.iter().any(|n| n.starts_with("nothing to")),
                "{name} {}: {:?}",
                precision.name(),
                r.notes
            );
            assert!(!dtypes(&r.bytes)
                .iter()
                .any(|d| matches!(d, ferrite::DType::I8 | ferrite::DType::F16)));
            if precision == Precision::Int8 {
                assert_eq!(r.float_ops.len(), r.ops, "{name}: {:?}", r.float_ops);
                table.push((name.to_string(), f32m.bytes.len(), r.bytes.len()));
            }
            assert_eq!(r.ops, f32m.ops, "{name}");
            assert_eq!(
                preprocess_section(&r.bytes),
                preprocess_section(&f32m.bytes)
            );
            let a = r.agreement.as_ref().expect("agreement");
            assert_eq!(a.max_abs_error, 0.0, "{name}");
            let got = predict_all(&r.bytes, &rows);
            for (row, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.0, w.0, "{name} {} row {row}", precision.name());
                let (gb, wb): (Vec<u32>, Vec<u32>) = (
                    g.1.iter().map(|v| v.to_bits()).collect(),
                    w.1.iter().map(|v| v.to_bits()).collect(),
                );
                assert_eq!(gb, wb, "{name} {} row {row}", precision.name());
            }
        }
    }
    let raw = dataset(&dir.join("wine_impute_mlp_input.csv"));
    table[0].1 = convert_fixture("wine_impute_mlp", Precision::F32, Some(raw.clone()))
        .bytes
        .len();
    table[0].2 = convert_fixture("wine_impute_mlp", Precision::Int8, Some(raw))
        .bytes
        .len();
    eprintln!("| fixture | f32 .fer bytes | int8 .fer bytes |");
    for (n, a, b) in &table {
        eprintln!("| {n} | {a} | {b} |");
    }
}

/// int8 of a model of only classical ops needs no calibration data; an MLP does.
#[test]
fn int8_without_calibration_only_when_there_is_nothing_to_quantize() {
    let r = convert_fixture("iris_rf", Precision::Int8, None);
    assert!(r.notes.iter().any(|n| n.starts_with("nothing to quantize")));
    let onnx = std::fs::read(examples().join("sklearn/wine_impute_mlp.onnx")).unwrap();
    let opts = ConvertOptions {
        precision: Precision::Int8,
        ..ConvertOptions::default()
    };
    let e = convert(&onnx, &opts).unwrap_err();
    assert!(e.to_string().contains("--calibration"), "{e}");
}

/// The sensor example (FEATURES.toml window features → Scaler → LinearClassifier →
/// Normalizer) in int8: calibration rows are raw windows; nothing neural, so the
/// labels and probabilities are onnxruntime's as in f32.
#[test]
fn sensor_features_toml_model_in_int8_stays_exact() {
    let spec = FeatureSpec::parse(&sensor_toml(), "FEATURES.toml").unwrap();
    let onnx = std::fs::read(examples().join("sensor/sensor_features_model.onnx")).unwrap();
    let rows = sensor_windows_mg(50);
    let calib = Dataset {
        rows: rows.len(),
        cols: 192,
        values: rows.iter().flatten().copied().collect(),
        header: None,
        lines: (1..=rows.len()).collect(),
        origin: "windows".into(),
    };
    let opts = ConvertOptions {
        precision: Precision::Int8,
        calibration: Some(calib),
        features: Some(spec),
        ..ConvertOptions::default()
    };
    let r = convert(&onnx, &opts).unwrap();
    assert!(r.notes.iter().any(|n| n.starts_with("nothing to quantize")));
    assert_eq!(r.agreement.as_ref().map(|a| a.rows), Some(50));
    let ort = csv(&examples().join("sensor/features_model_ort.csv"));
    let owned = OwnedModel::new(&r.bytes).unwrap();
    let m = owned.model();
    assert_eq!(m.raw_input_len().unwrap(), 192);
    let mut dmax = 0f64;
    for (i, (l, p)) in predict_all(&r.bytes, &rows).iter().enumerate() {
        let label: f64 = m.labels().nth(l.unwrap()).unwrap().parse().unwrap();
        assert_eq!(label, ort[i][0], "window {i}");
        for c in 0..4 {
            dmax = dmax.max((p[c] as f64 - ort[i][c + 1]).abs());
        }
    }
    assert!(dmax <= 1e-5, "{dmax}");
}

/// `--preprocess FEATURES.toml` on a plain (tract-imported) ONNX model in int8: the
/// pipeline is in the model from the start, so calibration rows are raw rows (here
/// pixel values 0..16 with missing pixels, scaled to 0..1 and imputed by the
/// pipeline), and the int8 model still agrees with onnxruntime's labels.
#[test]
fn features_toml_on_a_plain_onnx_model_in_int8_calibrates_on_raw_rows() {
    let digits = examples().join("digits");
    let spec = FeatureSpec::parse(
        "raw = 64\n[[step]]\nop = \"impute\"\nvalues = 0\n[[step]]\nop = \"scale\"\nkind = \"mul_add\"\na = 0.0625\nb = 0\n",
        "FEATURES.toml",
    )
    .unwrap();
    let onnx = std::fs::read(digits.join("digits_mlp.onnx")).unwrap();
    // Raw rows: pixels 0..16 (exact multiples of 1/16 in the CSVs), every 7th value missing.
    let to_raw = |rows: Vec<Vec<f64>>, holes: bool| -> Vec<Vec<f32>> {
        rows.iter()
            .enumerate()
            .map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(|(c, &v)| {
                        if holes && (r * 64 + c) % 7 == 0 {
                            f32::NAN
                        } else {
                            (v * 16.0) as f32
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let calib_rows = to_raw(csv(&digits.join("calib.csv")), true);
    let calib = Dataset {
        rows: calib_rows.len(),
        cols: 64,
        values: calib_rows.iter().flatten().copied().collect(),
        header: None,
        lines: (1..=calib_rows.len()).collect(),
        origin: "calib".into(),
    };
    let opts = ConvertOptions {
        precision: Precision::Int8,
        calibration: Some(calib),
        features: Some(spec),
        ..ConvertOptions::default()
    };
    let r = convert(&onnx, &opts).unwrap();
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert!(dtypes(&r.bytes).contains(&ferrite::DType::I8));
    assert!(!preprocess_section(&r.bytes).is_empty());
    assert!(r.golden > 0);
    let test = to_raw(csv(&digits.join("test.csv")), false);
    let ort = csv(&digits.join("reference_ort.csv"));
    let argmax = |v: &[f64]| (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
    let got = predict_all(&r.bytes, &test);
    let same = got
        .iter()
        .zip(&ort)
        .filter(|((l, _), o)| *l == Some(argmax(o)))
        .count();
    let top1 = same as f64 / test.len() as f64;
    eprintln!("digits MLP + FEATURES.toml in int8: top-1 agreement with onnxruntime {top1:.4}");
    assert!(top1 >= 0.97, "{top1}");
}

/// The command line says when int8 had nothing to quantize (stderr and `--json`).
#[test]
fn cli_reports_nothing_to_quantize() {
    let out = std::env::temp_dir().join(format!(
        "ferrite-sklearn-{}-iris-int8.fer",
        std::process::id()
    ));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["convert"])
        .arg(examples().join("sklearn/iris_rf.onnx"))
        .arg("-o")
        .arg(&out)
        .args(["--precision", "int8", "--json", "--calibration"])
        .arg(examples().join("sklearn/iris_rf_input.csv"))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        json["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("nothing to quantize"),
        "{json}"
    );
    // The forest, and the `label` output's ArgMax over its probabilities.
    assert_eq!(json["float_ops"].as_array().unwrap().len(), 2, "{json}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to quantize"));
}

// ---- hostile graphs ------------------------------------------------------------------

/// The ONNX model `examples/<path>`, decoded for a test to alter.
fn decoded(path: &str) -> tract_onnx::pb::ModelProto {
    use prost::Message;
    let bytes = std::fs::read(examples().join(path)).unwrap();
    tract_onnx::pb::ModelProto::decode(&bytes[..]).unwrap()
}

/// The error importing `m` gives (the test fails if `m` imports).
fn import_error(m: &tract_onnx::pb::ModelProto) -> impl std::fmt::Display {
    use prost::Message;
    import::import(&m.encode_to_vec(), &ImportOptions::default())
        .map(|_| ())
        .unwrap_err()
}

/// A node that consumes its own output (found by the `onnx_import` fuzz target: the
/// importer followed the producer chain forever and overflowed the stack).
#[test]
fn a_graph_cycle_is_an_import_error_not_a_stack_overflow() {
    let mut m = decoded("sklearn/diabetes_gbr.onnx");
    let g = m.graph.as_mut().unwrap();
    let last = g.node.last_mut().unwrap();
    last.input[0] = last.output[0].clone();
    let e = import_error(&m);
    assert!(e.to_string().contains("cycle"), "{e}");
}

/// A chain of producers deeper than the importer follows is refused, not recursed into.
#[test]
fn a_very_deep_graph_is_an_import_error_not_a_stack_overflow() {
    let mut m = decoded("sklearn/diabetes_gbr.onnx");
    let g = m.graph.as_mut().unwrap();
    let first = g.node[0].clone();
    let src = first.input[0].clone();
    // 5,000 Identity nodes between the graph input and the first node.
    let mut prev = src.clone();
    let mut chain = Vec::new();
    for i in 0..5000 {
        let out = format!("deep_{i}");
        chain.push(tract_onnx::pb::NodeProto {
            input: vec![prev.clone()],
            output: vec![out.clone()],
            name: out.clone(),
            op_type: "Identity".into(),
            ..Default::default()
        });
        prev = out;
    }
    g.node[0].input[0] = prev;
    chain.append(&mut g.node);
    g.node = chain;
    let e = import_error(&m);
    assert!(e.to_string().contains("deeper"), "{e}");
}

/// A graph output that nothing in the graph produces (found by the `onnx_import` fuzz
/// target: tract 0.23 panicked with "no entry found for key" while parsing the graph).
#[test]
fn a_graph_output_nothing_produces_is_an_import_error_not_a_panic() {
    let mut m = decoded("sensor/sensor_cnn.onnx");
    m.graph.as_mut().unwrap().output[0].name = "nowhere".into();
    let e = import_error(&m);
    assert!(
        e.to_string()
            .contains("graph output \"nowhere\" is not produced"),
        "{e}"
    );
}

/// The same inside a subgraph: an If whose branches name an output they do not have.
#[test]
fn a_subgraph_output_nothing_produces_is_an_import_error_not_a_panic() {
    use tract_onnx::pb;
    let branch = |name: &str| pb::AttributeProto {
        name: name.into(),
        r#type: 5, // GRAPH
        g: Some(pb::GraphProto {
            name: name.into(),
            output: vec![pb::ValueInfoProto {
                name: "ghost".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut m = decoded("sensor/sensor_cnn.onnx");
    let g = m.graph.as_mut().unwrap();
    let x = g.input[0].name.clone();
    g.node.push(pb::NodeProto {
        op_type: "If".into(),
        input: vec![x],
        output: vec!["branch_out".into()],
        attribute: vec![branch("then_branch"), branch("else_branch")],
        ..Default::default()
    });
    let e = import_error(&m);
    assert!(
        e.to_string()
            .contains("graph output \"ghost\" is not produced by any node, input or initializer of graph \"then_branch\""),
        "{e}"
    );
}

/// A STRING initializer stored as raw bytes (found by the `onnx_import` fuzz target:
/// tract 0.23 panicked with "not implemented: FIXME, raw tensor loading").
#[test]
fn a_raw_string_tensor_is_an_import_error_not_a_panic() {
    let mut m = decoded("sensor/sensor_cnn.onnx");
    m.graph
        .as_mut()
        .unwrap()
        .initializer
        .push(tract_onnx::pb::TensorProto {
            name: "text".into(),
            data_type: 8, // STRING
            dims: vec![1],
            raw_data: b"abcd".to_vec(),
            ..Default::default()
        });
    let e = import_error(&m);
    assert!(
        e.to_string()
            .contains("tensor \"text\": STRING data stored as raw bytes is not supported"),
        "{e}"
    );
}

/// A MaxPool without inputs (found by the `onnx_import` fuzz target: tract 0.23's shape
/// rules indexed its first input and panicked).
#[test]
fn a_node_without_inputs_is_an_import_error_not_a_panic() {
    let mut m = decoded("sensor/sensor_cnn.onnx");
    let g = m.graph.as_mut().unwrap();
    g.node.push(tract_onnx::pb::NodeProto {
        name: "pool".into(),
        op_type: "MaxPool".into(),
        output: vec!["pooled".into()],
        attribute: vec![tract_onnx::pb::AttributeProto {
            name: "kernel_shape".into(),
            r#type: 7, // INTS
            ints: vec![2],
            ..Default::default()
        }],
        ..Default::default()
    });
    let e = import_error(&m);
    assert!(
        e.to_string()
            .contains("node \"pool\" (MaxPool) has no input"),
        "{e}"
    );
}

/// MatMul weights whose declared dims multiply past `usize` (found by the `onnx_import`
/// fuzz target: the ONNX-ML importer's size check overflowed, a panic in debug builds).
#[test]
fn matmul_weights_with_overflowing_dims_are_an_import_error() {
    let mut m = decoded("sklearn/wine_impute_mlp.onnx");
    let g = m.graph.as_mut().unwrap();
    let w = g
        .initializer
        .iter_mut()
        .find(|t| t.name == "coefficient")
        .unwrap();
    assert_eq!(w.dims, [13, 16]);
    w.dims[1] = -1; // 13 × (usize::MAX) overflows
    let e = import_error(&m);
    assert!(
        e.to_string()
            .contains("weights do not match the input width"),
        "{e}"
    );
}
