#!/usr/bin/env python3
"""scikit-learn pipelines exported with skl2onnx, with test inputs and the
reference outputs of BOTH scikit-learn and onnxruntime.

What it makes (in this directory, all committed)
------------------------------------------------
For each NAME below:

  NAME.onnx               skl2onnx export, target_opset {'': 17, 'ai.onnx.ml': 3},
                          classifiers with options {'zipmap': False}; one float32
                          input "X" [N, n_features]
  NAME_input.csv          test inputs (<= 100 rows), header f0..f{n-1}, float32 values
                          as the shortest decimal that round-trips float32,
                          missing values written as "nan"
  NAME_target.csv         the true target of each row (header "target")
  classifiers:
    NAME_sklearn_labels.csv  pipe.predict           (header "label")
    NAME_sklearn_proba.csv   pipe.predict_proba     (header p0.., "%.17g", float64)
    NAME_ort_labels.csv      onnxruntime "label"    (header "label")
    NAME_ort_proba.csv       onnxruntime "probabilities" (header p0.., "%.9g", float32)
  regressors:
    NAME_sklearn_pred.csv    pipe.predict           (header "prediction", "%.17g")
    NAME_ort_pred.csv        onnxruntime "variable" (header "prediction", "%.9g")
  manifest.json           per model: task, classes, input/output names, op types,
                          opsets, files, accuracy / agreement figures
  README.md               the same as a table (rewritten by this script)

scikit-learn is fed exactly the float32 values of NAME_input.csv (cast back to
float64), so sklearn-vs-onnxruntime differences come only from the float32
arithmetic inside the ONNX graph.

Models:
  breast_cancer_logreg   StandardScaler + LogisticRegression          (breast_cancer)
  wine_impute_mlp        SimpleImputer(mean) + MinMaxScaler + MLPClassifier, ~10 %
                         of the wine values (train and test) set to NaN (seed 0)
  iris_rf                RandomForestClassifier(10 trees, max_depth 6) (iris)
  digits_gb              GradientBoostingClassifier(20 estimators, max_depth 3),
                         10 classes, raw pixel values 0..16 (digits)
  synthetic_onehot_logreg  ColumnTransformer(OneHotEncoder on 2 integer categorical
                         columns f0,f1 [handle_unknown='ignore'], StandardScaler on
                         2 numeric columns f2,f3) + LogisticRegression; synthetic
                         data; a few test rows carry categories never seen in
                         training (they encode to all zeros)
  diabetes_gbr           GradientBoostingRegressor(50 estimators, max_depth 3)
  diabetes_ridge         StandardScaler + Ridge(alpha 1.0)

How to rerun (no torch needed)
------------------------------
    python examples/sklearn/make_pipelines.py
Fixed seeds everywhere (random_state=0); reproducible for the same
scikit-learn / skl2onnx / onnxruntime versions (see README.md).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import skl2onnx
import sklearn
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris,
                              load_wine)
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def write_csv(path, arr, header, fmt):
    """CSV with one header line. fmt "short32" = shortest float32 round-trip repr,
    NaN as "nan"; otherwise a printf format."""
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr[:, None]
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in arr:
            if fmt == "short32":
                cells = ["nan" if np.isnan(v) else
                         np.format_float_positional(np.float32(v), unique=True, trim="-")
                         for v in row]
            else:
                cells = [fmt % v for v in row]
            f.write(",".join(cells) + "\n")


def read_csv(path, dtype):
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=dtype, ndmin=2)


# ---------------------------------------------------------------- data sets
def ds_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=100, stratify=y, random_state=SEED)


def ds_wine_nan():
    X, y = load_wine(return_X_y=True)
    rng = np.random.default_rng(SEED)
    X = X.copy()
    X[rng.random(X.shape) < 0.10] = np.nan
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=SEED)


def ds_iris():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=SEED)


def ds_digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=100, stratify=y, random_state=SEED)


def ds_synthetic_onehot(n=600):
    """Two integer categorical columns (5 and 3 levels) and two numeric columns;
    the class depends on both kinds."""
    rng = np.random.default_rng(SEED)
    c0 = rng.integers(0, 5, n)
    c1 = rng.integers(0, 3, n)
    x2 = rng.normal(0, 1, n)
    x3 = rng.normal(5, 2, n)
    score0 = np.array([-1.5, -0.5, 0.0, 0.8, 1.6])[c0]
    score1 = np.array([0.7, -0.7, 0.0])[c1]
    logits = 2.0 * np.stack([score0 + 0.8 * x2,
                       score1 - 0.6 * (x3 - 5),
                       np.full(n, 0.3)], axis=1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=pi) for pi in p])
    X = np.column_stack([c0, c1, x2, x3]).astype(np.float64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=100, stratify=y,
                                              random_state=SEED)
    # unseen categories in 4 test rows: c0 = 7 (two rows), c1 = 9 (two rows)
    X_te[[3, 17], 0] = 7
    X_te[[41, 77], 1] = 9
    return X_tr, X_te, y_tr, y_te


def ds_diabetes():
    X, y = load_diabetes(return_X_y=True)
    return train_test_split(X, y, test_size=100, random_state=SEED)


def models():
    ohe = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), [0, 1]),
        ("num", StandardScaler(), [2, 3]),
    ])
    return [
        ("breast_cancer_logreg", ds_breast_cancer,
         make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))),
        ("wine_impute_mlp", ds_wine_nan,
         make_pipeline(SimpleImputer(strategy="mean"), MinMaxScaler(),
                       MLPClassifier(hidden_layer_sizes=(16,), max_iter=3000,
                                     random_state=SEED))),
        ("iris_rf", ds_iris,
         RandomForestClassifier(n_estimators=10, max_depth=6, random_state=SEED)),
        ("digits_gb", ds_digits,
         GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=SEED)),
        ("synthetic_onehot_logreg", ds_synthetic_onehot,
         Pipeline([("prep", ohe), ("clf", LogisticRegression(max_iter=5000))])),
        ("diabetes_gbr", ds_diabetes,
         GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=SEED)),
        ("diabetes_ridge", ds_diabetes, make_pipeline(StandardScaler(), Ridge(alpha=1.0))),
    ]


def canonical_opset_order(model: onnx.ModelProto) -> None:
    """skl2onnx emits opset_import in set-iteration order, which changes with
    PYTHONHASHSEED; sort it by domain (stable, duplicates kept as emitted) so the
    committed bytes are reproducible. Nothing else is changed."""
    entries = sorted(((o.domain, o.version) for o in model.opset_import), key=lambda e: e[0])
    del model.opset_import[:]
    for domain, version in entries:
        model.opset_import.add(domain=domain, version=version)


def final_estimator(est):
    return est.steps[-1][1] if isinstance(est, Pipeline) else est


def main() -> int:
    manifest = {"versions": {"scikit-learn": sklearn.__version__,
                             "skl2onnx": skl2onnx.__version__,
                             "onnx": onnx.__version__,
                             "onnxruntime": ort.__version__,
                             "numpy": np.__version__},
                "target_opset": TARGET_OPSET, "models": {}}
    for name, data, est in models():
        X_tr, X_te, y_tr, y_te = data()
        est.fit(X_tr, y_tr)
        is_clf = hasattr(est, "predict_proba")
        n_feat = X_te.shape[1]
        X32 = X_te.astype(np.float32)
        Xsk = X32.astype(np.float64)      # what sklearn sees = the CSV values

        options = {id(final_estimator(est)): {"zipmap": False}} if is_clf else None
        onx = to_onnx(est, initial_types=[("X", FloatTensorType([None, n_feat]))],
                      target_opset=TARGET_OPSET, options=options)
        onx.graph.name = name
        canonical_opset_order(onx)
        path = os.path.join(HERE, f"{name}.onnx")
        onnx.save(onx, path)
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        ops = sorted({n.op_type for n in model.graph.node})
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        out_names = [o.name for o in sess.get_outputs()]

        fcols = [f"f{i}" for i in range(n_feat)]
        files = [f"{name}.onnx", f"{name}_input.csv", f"{name}_target.csv"]
        write_csv(os.path.join(HERE, f"{name}_input.csv"), X32, fcols, "short32")
        X_back = read_csv(os.path.join(HERE, f"{name}_input.csv"), np.float32)
        assert np.array_equal(X_back, X32, equal_nan=True)
        entry = {
            "task": "classification" if is_clf else "regression",
            "estimator": repr(est).replace("\n", " "),
            "rows": len(X_te), "n_features": n_feat,
            "nan_inputs": int(np.isnan(X32).sum()),
            "input": {"name": "X", "dtype": "float32", "shape": [None, n_feat]},
            "outputs": [{"name": o.name, "type": o.type, "shape": o.shape}
                        for o in sess.get_outputs()],
            "op_types": ops,
            "op_count": len(model.graph.node),
            "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
            "opset_import": [[o.domain, o.version] for o in model.opset_import],
            "bytes": os.path.getsize(path),
        }
        if is_clf:
            write_csv(os.path.join(HERE, f"{name}_target.csv"), y_te, ["target"], "%d")
            lab_sk = est.predict(Xsk)
            p_sk = est.predict_proba(Xsk)
            lab_ort, p_ort = sess.run(None, {"X": X_back})
            k = p_sk.shape[1]
            pcols = [f"p{i}" for i in range(k)]
            write_csv(os.path.join(HERE, f"{name}_sklearn_labels.csv"), lab_sk, ["label"], "%d")
            write_csv(os.path.join(HERE, f"{name}_sklearn_proba.csv"), p_sk, pcols, "%.17g")
            write_csv(os.path.join(HERE, f"{name}_ort_labels.csv"), lab_ort, ["label"], "%d")
            write_csv(os.path.join(HERE, f"{name}_ort_proba.csv"), p_ort, pcols, "%.9g")
            assert np.array_equal(read_csv(os.path.join(HERE, f"{name}_ort_proba.csv"),
                                           np.float32), p_ort)
            files += [f"{name}_{s}.csv" for s in
                      ("sklearn_labels", "sklearn_proba", "ort_labels", "ort_proba")]
            entry.update({
                "classes": [int(c) for c in final_estimator(est).classes_],
                "accuracy_sklearn": float((lab_sk == y_te).mean()),
                "accuracy_ort": float((lab_ort == y_te).mean()),
                "label_agreement": float((lab_sk == lab_ort).mean()),
                "label_disagreements": int((lab_sk != lab_ort).sum()),
                "max_abs_proba_diff": float(np.abs(p_sk - p_ort).max()),
            })
        else:
            write_csv(os.path.join(HERE, f"{name}_target.csv"), y_te, ["target"], "%.17g")
            pred_sk = est.predict(Xsk)
            pred_ort = sess.run(None, {"X": X_back})[0].reshape(-1)
            write_csv(os.path.join(HERE, f"{name}_sklearn_pred.csv"), pred_sk,
                      ["prediction"], "%.17g")
            write_csv(os.path.join(HERE, f"{name}_ort_pred.csv"), pred_ort,
                      ["prediction"], "%.9g")
            files += [f"{name}_sklearn_pred.csv", f"{name}_ort_pred.csv"]
            err = np.abs(pred_sk - pred_ort)
            entry.update({
                "r2_sklearn": float(est.score(Xsk, y_te)),
                "max_abs_pred_diff": float(err.max()),
                "max_rel_pred_diff": float((err / np.abs(pred_sk)).max()),
            })
        entry["files"] = files
        manifest["models"][name] = entry
        print(f"{name}: {entry['bytes']} B, ops={ops}, opset={entry['opset']}, outputs={out_names}")
        print("   ", {k: v for k, v in entry.items() if k.startswith(("acc", "label_", "max_", "r2"))})

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    write_readme(manifest)
    return 0


def write_readme(man):
    v = man["versions"]
    rows = []
    for name, e in man["models"].items():
        if e["task"] == "classification":
            q = (f"acc sklearn {e['accuracy_sklearn']:.3f} / ort {e['accuracy_ort']:.3f}; "
                 f"labels agree {e['label_agreement'] * 100:.1f} % "
                 f"({e['label_disagreements']} differ); max |Δp| {e['max_abs_proba_diff']:.2g}")
        else:
            q = (f"R² {e['r2_sklearn']:.3f}; max |Δpred| {e['max_abs_pred_diff']:.2g} "
                 f"(rel {e['max_rel_pred_diff']:.2g})")
        opset = ", ".join(f"{d or 'ai.onnx'} {n}" for d, n in e["opset_import"])
        rows.append(f"| `{name}` | {e['rows']}×{e['n_features']}"
                    f"{' (' + str(e['nan_inputs']) + ' NaN)' if e['nan_inputs'] else ''} | "
                    f"{e['bytes']} | {', '.join(e['op_types'])} | {opset} | {q} |")
    text = f"""# sklearn — scikit-learn pipelines exported with skl2onnx

Generated by `make_pipelines.py` (rerun: `python
examples/sklearn/make_pipelines.py`; no torch). scikit-learn {v['scikit-learn']},
skl2onnx {v['skl2onnx']}, onnx {v['onnx']}, onnxruntime {v['onnxruntime']},
numpy {v['numpy']}. `manifest.json` holds the same facts machine-readably.

Export settings: `target_opset={{'': 17, 'ai.onnx.ml': 3}}`, classifiers with
`{{'zipmap': False}}` → outputs `label` (int64 [N]) and `probabilities`
(float32 [N, classes]); regressors output `variable` (float32 [N, 1]). Every
model has one input `X` float32 [N, n_features] (N unknown, see notes).

File layout per model `NAME`: `NAME.onnx`, `NAME_input.csv` (header `f0..`,
float32 shortest round-trip decimals, `nan` for missing), `NAME_target.csv`
(true target), `NAME_sklearn_labels.csv` / `NAME_sklearn_proba.csv` (float64,
`%.17g`), `NAME_ort_labels.csv` / `NAME_ort_proba.csv` (float32, `%.9g`); for
regressors `NAME_sklearn_pred.csv` / `NAME_ort_pred.csv`. scikit-learn is given
exactly the float32 values of the input CSV.

| model | test rows×features | bytes | op types (`{{n.op_type for n in graph.node}}`) | opset stamped | float model & sklearn ↔ onnxruntime agreement |
|---|---|---|---|---|---|
""" + "\n".join(rows) + """

Notes
- skl2onnx stamps the lowest `ai.onnx.ml` opset that the emitted ops need, not the
  requested 3 (see the "opset stamped" column, which lists `opset_import` as stored).
- skl2onnx writes a **duplicate** `ai.onnx` 17 entry in `opset_import` for models
  whose graph holds only `ai.onnx.ml` nodes (or only `ai.onnx.ml` plus Identity);
  `onnx.checker` and onnxruntime accept it, so an importer must too. Its entry order
  follows Python set iteration (changes with `PYTHONHASHSEED`); the script sorts
  the entries by domain (stable, duplicates kept) so the bytes are reproducible —
  the only edit made to the exporter's output besides the graph name.
- The batch dimension of `X` and of the outputs has neither `dim_value` nor
  `dim_param` (an anonymous unknown dim), unlike the PyTorch exports, which
  use a named `dim_param` or a static 1.
- `MinMaxScaler` is exported as `Mul` + `Add` (with `Cast`s), not as the ONNX-ML
  `Scaler` op that `StandardScaler` becomes; `MLPClassifier` becomes
  MatMul/Add/Relu/Softmax and its label ArgMax → ArrayFeatureExtractor (class
  lookup) → Cast.
- Binary `LogisticRegression` (`breast_cancer_logreg`) becomes a `LinearClassifier`
  with 2 × 30 coefficients (the second row is the negated first),
  intercepts [−b, b], `post_transform=LOGISTIC`; multi-class ones use `SOFTMAX` +
  `Normalizer(L1)`. Tree ensembles use `BRANCH_LEQ` nodes, the GB models carry
  `base_values` (the init estimator's raw scores; the training-target mean 152.3 for
  `diabetes_gbr`) and `digits_gb` uses `post_transform=SOFTMAX`; the random forest
  (`post_transform=NONE`) stores leaf class weights pre-divided by the tree count
  (its leaves are pure, so every weight is 0 or 0.1).
- `wine_impute_mlp`: ~10 % of the wine values (train and test, seed 0) are NaN;
  the `Imputer` op replaces them by the training means.
- `synthetic_onehot_logreg`: columns f0 (levels 0..4) and f1 (levels 0..2) are
  integer categories stored as float32; test rows 3 and 17 have f0 = 7, rows 41 and
  77 have f1 = 9, categories never seen in training (`handle_unknown='ignore'` →
  all-zero one-hot block).
- `digits_gb` uses the raw pixel values 0..16 (trees compare thresholds such as 7.5
  in the feature's own domain). Tree models in sklearn compare in float32, so the
  labels match onnxruntime exactly; the probabilities differ only by float32
  rounding of the summed leaf values / softmax.
"""
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
