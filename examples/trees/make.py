#!/usr/bin/env python3
"""Tree ensembles from every common exporter, with test inputs and the reference
outputs of BOTH the training library and onnxruntime. Same layout and manifest
format as examples/sklearn (make_pipelines.py), plus a `library` field and the
tree operator's attributes.

What it makes (in this directory, all committed)
------------------------------------------------
For each NAME in models() (and the two TreeEnsemble opset-5 models, see below):
  NAME.onnx                 the exporter's file, unchanged except the graph name and
                            the opset_import order of skl2onnx files (see README)
  NAME_input.csv            held-out rows, header f0..f{n-1}, float32 values as the
                            shortest decimal that round-trips float32, "nan" = missing
  NAME_target.csv           the true target (header "target")
  classifiers:
    NAME_library_labels.csv the library's predict()            (header "label")
    NAME_library_proba.csv  the library's predict_proba()      (header p0.., "%.17g")
    NAME_ort_labels.csv     onnxruntime label output           (header "label")
    NAME_ort_proba.csv      onnxruntime probabilities output   (header p0.., "%.9g";
                            CatBoost's ZipMap output unpacked to [N, classes])
  regressors:
    NAME_library_pred.csv   the library's predict()            (header "prediction")
    NAME_ort_pred.csv       onnxruntime's output               (header "prediction")
  manifest.json             per model: library, task, classes, input/output names and
                            types, op types, opsets, tree-op attributes, files,
                            agreement figures
  README.md                 the same as tables (rewritten by this script)

The library is given exactly the float32 values of NAME_input.csv (as float64 for
scikit-learn / CatBoost, float32 for XGBoost / LightGBM), NaN included.

How to rerun (needs scikit-learn, skl2onnx, onnxmltools, xgboost, lightgbm, catboost,
onnx, onnxruntime, numpy; CI does not):
    python examples/trees/make.py
Fixed seeds everywhere (0); reproducible for the same library versions.
"""
from __future__ import annotations

import json
import os
import sys
import warnings

import catboost
import lightgbm
import numpy as np
import onnx
import onnxmltools
import onnxruntime as ort
import skl2onnx
import sklearn
import xgboost
from onnx import TensorProto, helper, numpy_helper
from onnxmltools import convert_lightgbm, convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as MLFloatTensorType
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
SKL_OPSET = {"": 17, "ai.onnx.ml": 3}
# onnxmltools 1.16 refuses a target_opset above 15 ("higher than ... the converter
# support (15)"); it takes one integer (the ai.onnx opset), not a per-domain dict
ML_OPSET = 15
NAN_FRACTION = 0.1
MAX_ONNX_BYTES = 300_000


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
def with_nan(X):
    """~10 % of the values set to NaN (seed 0), in train and test alike."""
    rng = np.random.default_rng(SEED)
    X = X.copy()
    X[rng.random(X.shape) < NAN_FRACTION] = np.nan
    return X


def ds_breast_cancer(nan: bool):
    X, y = load_breast_cancer(return_X_y=True)
    X = with_nan(X) if nan else X
    return train_test_split(X, y, test_size=100, stratify=y, random_state=SEED)


def ds_wine(nan: bool):
    X, y = load_wine(return_X_y=True)
    X = with_nan(X) if nan else X
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=SEED)


def ds_diabetes(nan: bool):
    X, y = load_diabetes(return_X_y=True)
    X = with_nan(X) if nan else X
    return train_test_split(X, y, test_size=100, random_state=SEED)


DATASETS = {"breast_cancer": ds_breast_cancer, "wine": ds_wine, "diabetes": ds_diabetes}


# ---------------------------------------------------------------- exporters
def _patch_skl2onnx_hist_gradient_boosting():
    """skl2onnx 1.20 passes the Python bool False as nodes_missing_value_tracks_true
    for HistGradientBoosting leaves; onnx 1.23 (protobuf 7) refuses a bool in an
    integer list ("TypeError: Field onnx.AttributeProto.ints: Expected an int, got a
    boolean"), so the export fails. Coerce the flag to int before it is stored: the
    exported model is exactly the one skl2onnx means to write."""
    import skl2onnx.common.tree_ensemble as te  # noqa: PLC0415

    original = te.add_node

    def add_node(*args, nodes_missing_value_tracks_true=0, **kwargs):
        return original(*args, nodes_missing_value_tracks_true=int(
            nodes_missing_value_tracks_true), **kwargs)

    te.add_node = add_node


_patch_skl2onnx_hist_gradient_boosting()


def export_skl2onnx(est, n_feat):
    is_clf = hasattr(est, "predict_proba")
    options = {id(est): {"zipmap": False}} if is_clf else None
    onx = to_onnx(est, initial_types=[("X", FloatTensorType([None, n_feat]))],
                  target_opset=SKL_OPSET, options=options)
    # skl2onnx emits opset_import in set-iteration order (changes with PYTHONHASHSEED);
    # sort by domain (stable, duplicates kept) so the committed bytes are reproducible
    entries = sorted(((o.domain, o.version) for o in onx.opset_import), key=lambda e: e[0])
    del onx.opset_import[:]
    for domain, version in entries:
        onx.opset_import.add(domain=domain, version=version)
    return onx


def export_xgboost(est, n_feat):
    return convert_xgboost(est, initial_types=[("X", MLFloatTensorType([None, n_feat]))],
                           target_opset=ML_OPSET)


def export_lightgbm(est, n_feat):
    return convert_lightgbm(est, initial_types=[("X", MLFloatTensorType([None, n_feat]))],
                            target_opset=ML_OPSET, zipmap=False)


def export_catboost(est, n_feat):
    path = os.path.join(HERE, "_catboost_tmp.onnx")
    est.save_model(path, format="onnx")
    onx = onnx.load(path)
    os.remove(path)
    # CatBoost stamps the training time and a random model GUID into metadata_props;
    # pin them so a rerun writes the same bytes (nothing else differs between runs)
    fixed = {"train_finish_time": "1970-01-01T00:00:00Z",
             "model_guid": "00000000-00000000-00000000-00000000"}
    for p in onx.metadata_props:
        if p.key in fixed:
            p.value = fixed[p.key]
    return onx


LIBS = {
    "sklearn": (export_skl2onnx, lambda: f"scikit-learn {sklearn.__version__} + skl2onnx "
                                         f"{skl2onnx.__version__}"),
    "xgboost": (export_xgboost, lambda: f"xgboost {xgboost.__version__} + onnxmltools "
                                        f"{onnxmltools.__version__} convert_xgboost"),
    "lightgbm": (export_lightgbm, lambda: f"lightgbm {lightgbm.__version__} + onnxmltools "
                                          f"{onnxmltools.__version__} convert_lightgbm"),
    "catboost": (export_catboost, lambda: f"catboost {catboost.__version__} "
                                          f"save_model(format='onnx')"),
}


def models():
    """(name, dataset, nan, library, estimator)."""
    xgb_common = dict(n_estimators=30, max_depth=4, learning_rate=0.3, random_state=SEED,
                      n_jobs=1)
    lgb_common = dict(n_estimators=30, max_depth=5, num_leaves=15, learning_rate=0.2,
                      random_state=SEED, n_jobs=1, verbose=-1)
    cb_common = dict(iterations=30, depth=4, random_seed=SEED, verbose=0, thread_count=1,
                     allow_writing_files=False)
    out = []
    for ds in ("breast_cancer", "wine", "diabetes"):
        reg = ds == "diabetes"
        out += [
            (f"{ds}_rf", ds, False, "sklearn",
             (RandomForestRegressor if reg else RandomForestClassifier)(
                 n_estimators=20, max_depth=6, random_state=SEED)),
            (f"{ds}_gb", ds, False, "sklearn",
             (GradientBoostingRegressor if reg else GradientBoostingClassifier)(
                 n_estimators=30 if reg or ds == "breast_cancer" else 15, max_depth=3,
                 random_state=SEED)),
            (f"{ds}_hgb_nan", ds, True, "sklearn",
             (HistGradientBoostingRegressor if reg else HistGradientBoostingClassifier)(
                 max_iter=30 if reg or ds == "breast_cancer" else 15, max_depth=4,
                 random_state=SEED)),
            (f"{ds}_xgb_nan", ds, True, "xgboost",
             (xgboost.XGBRegressor if reg else xgboost.XGBClassifier)(**xgb_common)),
            (f"{ds}_lgbm_nan", ds, True, "lightgbm",
             (lightgbm.LGBMRegressor if reg else lightgbm.LGBMClassifier)(**lgb_common)),
            (f"{ds}_catboost_nan", ds, True, "catboost",
             (catboost.CatBoostRegressor if reg else catboost.CatBoostClassifier)(**cb_common)),
        ]
    # other objectives that change what the exporter writes
    out += [
        ("wine_lgbm_ova", "wine", False, "lightgbm",
         lightgbm.LGBMClassifier(objective="multiclassova", **lgb_common)),
        ("diabetes_lgbm_poisson", "diabetes", False, "lightgbm",
         lightgbm.LGBMRegressor(objective="poisson", **lgb_common)),
        ("diabetes_xgb_poisson", "diabetes", False, "xgboost",
         xgboost.XGBRegressor(objective="count:poisson", **xgb_common)),
    ]
    return out


# ---------------------------------------------------------------- inspection
TREE_OPS = {"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"}


def attr_value(a):
    if a.type == onnx.AttributeProto.TENSOR:
        return numpy_helper.to_array(a.t).tolist()
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, list):
        return [x.decode() if isinstance(x, bytes) else x for x in v]
    return v


def tree_summary(model: onnx.ModelProto) -> list[dict]:
    """The facts an importer needs from each tree-ensemble node."""
    out = []
    for n in model.graph.node:
        if n.op_type not in TREE_OPS:
            continue
        a = {x.name: attr_value(x) for x in n.attribute}
        if n.op_type == "TreeEnsemble":
            modes = a["nodes_modes"]
            names = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ",
                     "BRANCH_NEQ", "BRANCH_MEMBER"]
            post = ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"][
                a.get("post_transform", 0)]
            s = {"op": n.op_type, "domain": n.domain, "post_transform": post,
                 "n_trees": len(a["tree_roots"]), "n_branch_nodes": len(modes),
                 "n_leaves": len(a["leaf_weights"]), "n_targets": a["n_targets"],
                 "aggregate_function": ["AVERAGE", "SUM", "MIN", "MAX"][
                     a.get("aggregate_function", 1)],
                 "branch_modes": sorted({names[m] for m in modes}),
                 "missing_value_tracks_true": int(sum(a.get(
                     "nodes_missing_value_tracks_true", []))),
                 "split_dtype": "float32", "leaf_weight_dtype": "float32"}
        else:
            prefix = "target" if n.op_type == "TreeEnsembleRegressor" else "class"
            modes = a["nodes_modes"]
            s = {"op": n.op_type, "domain": n.domain,
                 "post_transform": a.get("post_transform", "NONE"),
                 "n_trees": len(set(a["nodes_treeids"])),
                 "n_nodes": len(modes),
                 "n_leaves": sum(m == "LEAF" for m in modes),
                 "leaf_entries": len(a[f"{prefix}_ids"]),
                 "branch_modes": sorted({m for m in modes if m != "LEAF"}),
                 "missing_value_tracks_true": int(sum(a.get(
                     "nodes_missing_value_tracks_true", []))),
                 "base_values": a.get("base_values"),
                 "aggregate_function": a.get("aggregate_function", "SUM"),
                 f"distinct_{prefix}_ids": sorted(set(a[f"{prefix}_ids"])),
                 "thresholds_as": "nodes_values (float)" if "nodes_values" in a else
                 "nodes_values_as_tensor"}
            if prefix == "class":
                s["classlabels"] = a.get("classlabels_int64s", a.get("classlabels_strings"))
            else:
                s["n_targets"] = a.get("n_targets")
        out.append(s)
    return out


def io_types(values):
    out = []
    for v in values:
        t = v.type
        if t.HasField("tensor_type"):
            shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                     for d in t.tensor_type.shape.dim]
            out.append({"name": v.name, "type": f"tensor({helper.tensor_dtype_to_string(t.tensor_type.elem_type).split('.')[-1].lower()})",
                        "shape": shape})
        else:
            out.append({"name": v.name, "type": "seq(map(int64,tensor(float)))"
                        if t.HasField("sequence_type") else str(t), "shape": None})
    return out


def unzip_map(p, n_classes):
    """CatBoost's probabilities output is a ZipMap: a list of {class: prob} dicts."""
    if isinstance(p, np.ndarray):
        return p
    return np.array([[row[k] for k in range(n_classes)] for row in p], dtype=np.float32)


# ---------------------------------------------------------------- TreeEnsemble (opset 5)
MODE_V5 = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4,
           "BRANCH_NEQ": 5}
POST_V5 = {"NONE": 0, "SOFTMAX": 1, "LOGISTIC": 2, "SOFTMAX_ZERO": 3, "PROBIT": 4}


def tree_ensemble_v5(node: onnx.NodeProto, n_targets: int, post_transform: str) -> dict:
    """Attributes of an ai.onnx.ml opset-5 TreeEnsemble equivalent to a
    TreeEnsembleRegressor / TreeEnsembleClassifier node (every leaf must feed exactly
    one target, as in gradient-boosted ensembles). Branch nodes keep their order,
    leaves are numbered in order of appearance; base_values are not an attribute of
    TreeEnsemble and are left to the caller."""
    a = {x.name: attr_value(x) for x in node.attribute}
    prefix = "target" if node.op_type == "TreeEnsembleRegressor" else "class"
    key = list(zip(a["nodes_treeids"], a["nodes_nodeids"]))
    is_leaf = [m == "LEAF" for m in a["nodes_modes"]]
    branch_index, leaf_index = {}, {}
    for k, leaf in zip(key, is_leaf):
        (leaf_index if leaf else branch_index)[k] = len(leaf_index if leaf else branch_index)
    leaf_target, leaf_weight = [None] * len(leaf_index), [None] * len(leaf_index)
    for t, nid, tid, w in zip(a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"],
                              a[f"{prefix}_ids"], a[f"{prefix}_weights"]):
        i = leaf_index[(t, nid)]
        assert leaf_target[i] is None, "a leaf feeding several targets"
        leaf_target[i], leaf_weight[i] = tid, w
    assert all(t is not None for t in leaf_target)
    attrs = {k: [] for k in ("nodes_featureids", "nodes_truenodeids", "nodes_falsenodeids",
                             "nodes_trueleafs", "nodes_falseleafs",
                             "nodes_missing_value_tracks_true")}
    modes, splits = [], []
    roots = {}
    mvtt = a.get("nodes_missing_value_tracks_true", [0] * len(key))
    for j, (k, leaf) in enumerate(zip(key, is_leaf)):
        if leaf:
            continue
        t = k[0]
        if t not in roots:
            roots[t] = branch_index[k]
        modes.append(MODE_V5[a["nodes_modes"][j]])
        splits.append(a["nodes_values"][j])
        attrs["nodes_featureids"].append(a["nodes_featureids"][j])
        attrs["nodes_missing_value_tracks_true"].append(mvtt[j])
        for side, child in (("true", a["nodes_truenodeids"][j]),
                            ("false", a["nodes_falsenodeids"][j])):
            ck = (t, child)
            if ck in leaf_index:
                attrs[f"nodes_{side}nodeids"].append(leaf_index[ck])
                attrs[f"nodes_{side}leafs"].append(1)
            else:
                attrs[f"nodes_{side}nodeids"].append(branch_index[ck])
                attrs[f"nodes_{side}leafs"].append(0)
    trees = sorted(set(a["nodes_treeids"]))
    assert sorted(roots) == trees, "a tree that is a single leaf"
    return dict(
        n_targets=n_targets, aggregate_function=1, post_transform=POST_V5[post_transform],
        tree_roots=[roots[t] for t in trees],
        nodes_modes=numpy_helper.from_array(np.array(modes, np.uint8), "nodes_modes"),
        nodes_splits=numpy_helper.from_array(np.array(splits, np.float32), "nodes_splits"),
        leaf_targetids=leaf_target,
        leaf_weights=numpy_helper.from_array(np.array(leaf_weight, np.float32),
                                             "leaf_weights"),
        **attrs)


def make_te5_regressor(src: onnx.ModelProto, n_feat: int, name: str) -> onnx.ModelProto:
    node = next(n for n in src.graph.node if n.op_type == "TreeEnsembleRegressor")
    a = {x.name: attr_value(x) for x in node.attribute}
    assert a.get("post_transform", "NONE") == "NONE"
    te = helper.make_node("TreeEnsemble", ["X"], ["raw"], domain="ai.onnx.ml",
                          **tree_ensemble_v5(node, 1, "NONE"))
    base = numpy_helper.from_array(np.array([a.get("base_values", [0.0])], np.float32), "base")
    add = helper.make_node("Add", ["raw", "base"], ["variable"])
    graph = helper.make_graph(
        [te, add], name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_feat])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])], [base])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid("ai.onnx.ml", 5)],
                             ir_version=10, producer_name="ferrite examples/trees/make.py")


def make_te5_classifier(src: onnx.ModelProto, n_feat: int, name: str) -> onnx.ModelProto:
    node = next(n for n in src.graph.node if n.op_type == "TreeEnsembleClassifier")
    a = {x.name: attr_value(x) for x in node.attribute}
    classes = a["classlabels_int64s"]
    assert classes == list(range(len(classes))) and "base_values" not in a
    # post_transform NONE + a Softmax node: onnxruntime 1.32 reads the TreeEnsemble
    # post_transform enum as NONE 0, LOGISTIC 1, SOFTMAX 2 (its TreeEnsembleClassifier
    # order), while the opset-5 spec says SOFTMAX 1, LOGISTIC 2 (README, "TreeEnsemble")
    assert a["post_transform"] == "SOFTMAX"
    te = helper.make_node("TreeEnsemble", ["X"], ["scores"], domain="ai.onnx.ml",
                          **tree_ensemble_v5(node, len(classes), "NONE"))
    sm = helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1)
    am = helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0)
    graph = helper.make_graph(
        [te, sm, am], name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_feat])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       [None, len(classes)])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid("ai.onnx.ml", 5)],
                             ir_version=10, producer_name="ferrite examples/trees/make.py")


# ---------------------------------------------------------------- main
def clear_labels(p, tol=1e-5):
    s = np.sort(p, axis=1)
    return (s[:, -1] - s[:, -2]) > tol


def record(name, ds, nan, lib_desc, est_repr, onx, X_te, y_te, lib_pred, classes=None):
    """Save NAME.onnx, run onnxruntime, write the CSVs; return the manifest entry.
    lib_pred: (labels, proba) for classifiers, predictions for regressors."""
    onx.graph.name = name
    path = os.path.join(HERE, f"{name}.onnx")
    onnx.save(onx, path)
    assert os.path.getsize(path) <= MAX_ONNX_BYTES, (name, os.path.getsize(path))
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    n_feat = X_te.shape[1]
    X32 = X_te.astype(np.float32)
    fcols = [f"f{i}" for i in range(n_feat)]
    write_csv(os.path.join(HERE, f"{name}_input.csv"), X32, fcols, "short32")
    X_back = read_csv(os.path.join(HERE, f"{name}_input.csv"), np.float32)
    assert np.array_equal(X_back, X32, equal_nan=True)
    files = [f"{name}.onnx", f"{name}_input.csv", f"{name}_target.csv"]
    entry = {
        "library": lib_desc, "dataset": ds,
        "task": "classification" if classes is not None else "regression",
        "estimator": est_repr, "rows": len(X_te), "n_features": n_feat,
        "nan_inputs": int(np.isnan(X32).sum()),
        "input": {"name": in_name, "dtype": "float32", "shape": [None, n_feat]},
        "outputs": io_types(model.graph.output),
        "op_types": sorted({n.op_type for n in model.graph.node}),
        "op_sequence": [n.op_type for n in model.graph.node],
        "op_count": len(model.graph.node),
        "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "opset_import": [[o.domain, o.version] for o in model.opset_import],
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version.splitlines()[0] if model.producer_version else ''}".strip(),
        "bytes": os.path.getsize(path),
        "tree_nodes": tree_summary(model),
    }
    outs = sess.run(None, {in_name: X_back})
    if classes is not None:
        write_csv(os.path.join(HERE, f"{name}_target.csv"), y_te, ["target"], "%d")
        lab_lib, p_lib = lib_pred
        lab_ort, p_ort = outs[0].reshape(-1), unzip_map(outs[1], len(classes))
        pcols = [f"p{i}" for i in range(len(classes))]
        write_csv(os.path.join(HERE, f"{name}_library_labels.csv"), lab_lib, ["label"], "%d")
        write_csv(os.path.join(HERE, f"{name}_library_proba.csv"), p_lib, pcols, "%.17g")
        write_csv(os.path.join(HERE, f"{name}_ort_labels.csv"), lab_ort, ["label"], "%d")
        write_csv(os.path.join(HERE, f"{name}_ort_proba.csv"), p_ort, pcols, "%.9g")
        assert np.array_equal(read_csv(os.path.join(HERE, f"{name}_ort_proba.csv"),
                                       np.float32), p_ort)
        files += [f"{name}_{s}.csv" for s in
                  ("library_labels", "library_proba", "ort_labels", "ort_proba")]
        clear = clear_labels(np.asarray(p_lib))
        entry.update({
            "classes": [int(c) for c in classes],
            "accuracy_library": float((lab_lib == y_te).mean()),
            "accuracy_ort": float((lab_ort == y_te).mean()),
            "label_agreement": float((lab_lib == lab_ort).mean()),
            "label_disagreements": int((lab_lib != lab_ort).sum()),
            "label_disagreements_clear_margin": int((lab_lib != lab_ort)[clear].sum()),
            "max_abs_proba_diff": float(np.abs(p_lib - p_ort).max()),
        })
    else:
        write_csv(os.path.join(HERE, f"{name}_target.csv"), y_te, ["target"], "%.17g")
        pred_ort = outs[0].reshape(-1)
        write_csv(os.path.join(HERE, f"{name}_library_pred.csv"), lib_pred, ["prediction"],
                  "%.17g")
        write_csv(os.path.join(HERE, f"{name}_ort_pred.csv"), pred_ort, ["prediction"], "%.9g")
        files += [f"{name}_library_pred.csv", f"{name}_ort_pred.csv"]
        err = np.abs(lib_pred - pred_ort)
        ss_res = ((y_te - lib_pred) ** 2).sum()
        ss_tot = ((y_te - y_te.mean()) ** 2).sum()
        entry.update({
            "r2_library": float(1 - ss_res / ss_tot),
            "max_abs_pred_diff": float(err.max()),
            "max_rel_pred_diff": float((err / np.maximum(np.abs(lib_pred), 1.0)).max()),
        })
    entry["files"] = files
    return entry


def main() -> int:
    warnings.filterwarnings("ignore", category=UserWarning)
    manifest = {"versions": {"scikit-learn": sklearn.__version__,
                             "skl2onnx": skl2onnx.__version__,
                             "onnxmltools": onnxmltools.__version__,
                             "xgboost": xgboost.__version__,
                             "lightgbm": lightgbm.__version__,
                             "catboost": catboost.__version__,
                             "onnx": onnx.__version__,
                             "onnxruntime": ort.__version__,
                             "numpy": np.__version__},
                "target_opset": {"skl2onnx": SKL_OPSET, "onnxmltools": ML_OPSET},
                "models": {}}
    exported = {}
    for name, ds, nan, lib, est in models():
        X_tr, X_te, y_tr, y_te = DATASETS[ds](nan)
        X32 = X_te.astype(np.float32)
        # xgboost / lightgbm train and predict in float32; the others get float64
        fit_X = X_tr.astype(np.float32) if lib in ("xgboost", "lightgbm") else X_tr
        pred_X = X32 if lib in ("xgboost", "lightgbm") else X32.astype(np.float64)
        est.fit(fit_X, y_tr)
        export, desc = LIBS[lib]
        onx = export(est, X_te.shape[1])
        is_clf = hasattr(est, "predict_proba")
        if is_clf:
            lab = np.asarray(est.predict(pred_X)).reshape(-1).astype(np.int64)
            lib_pred = (lab, np.asarray(est.predict_proba(pred_X), dtype=np.float64))
            classes = list(est.classes_)
        else:
            lib_pred, classes = np.asarray(est.predict(pred_X), dtype=np.float64), None
        entry = record(name, ds, nan, desc(), repr(est).replace("\n", " "), onx, X_te, y_te,
                       lib_pred, classes)
        exported[name] = (onx, X_te, y_te, lib_pred, classes, desc())
        manifest["models"][name] = entry
        report(name, entry)

    # TreeEnsemble (ai.onnx.ml opset 5): no converter emits it; built from two of
    # the files above and checked against them in onnxruntime
    for name, src, builder in (("diabetes_xgb_nan_te5", "diabetes_xgb_nan", make_te5_regressor),
                               ("wine_lgbm_nan_te5", "wine_lgbm_nan", make_te5_classifier)):
        onx, X_te, y_te, lib_pred, classes, desc = exported[src]
        te5 = builder(onx, X_te.shape[1], name)
        entry = record(name, manifest["models"][src]["dataset"], True,
                       f"{desc}, rebuilt as ai.onnx.ml opset-5 TreeEnsemble with onnx.helper",
                       manifest["models"][src]["estimator"], te5, X_te, y_te, lib_pred, classes)
        a = os.path.join(HERE, f"{src}.onnx")
        b = os.path.join(HERE, f"{name}.onnx")
        X = X_te.astype(np.float32)
        ra = ort.InferenceSession(a, providers=["CPUExecutionProvider"]).run(None, {"X": X})
        rb = ort.InferenceSession(b, providers=["CPUExecutionProvider"]).run(None, {"X": X})
        entry["built_from"] = src
        entry["max_abs_diff_vs_source_ort"] = max(
            float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max())
            for x, y in zip(ra, rb))
        entry["identical_to_source_ort"] = all(np.array_equal(x, y) for x, y in zip(ra, rb))
        manifest["models"][name] = entry
        report(name, entry)

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    write_readme(manifest)
    return 0


def report(name, e):
    t = e["tree_nodes"]
    print(f"{name}: {e['bytes']} B ops={e['op_types']} post={[x['post_transform'] for x in t]} "
          f"modes={[x['branch_modes'] for x in t]} base={[x.get('base_values') for x in t]}")
    print("   ", {k: v for k, v in e.items()
                  if k.startswith(("acc", "label_", "max_", "r2", "identical"))})


def write_readme(man):
    v = man["versions"]
    rows = []
    for name, e in man["models"].items():
        t = e["tree_nodes"][0]
        if e["task"] == "classification":
            q = (f"acc lib {e['accuracy_library']:.3f} / ort {e['accuracy_ort']:.3f}; labels "
                 f"agree {e['label_agreement'] * 100:.0f} %; max abs Δp "
                 f"{e['max_abs_proba_diff']:.2g}")
        else:
            q = (f"R² {e['r2_library']:.3f}; max abs Δpred {e['max_abs_pred_diff']:.2g} (rel "
                 f"{e['max_rel_pred_diff']:.2g})")
        base = t.get("base_values")
        base = "—" if base is None else ", ".join(f"{b:.4g}" for b in base)
        opset = ", ".join(f"{d or 'ai.onnx'} {n}" for d, n in e["opset_import"])
        lib = e["library"].split(" ")[0]
        rows.append(
            f"| `{name}` | {lib} | {e['rows']}×{e['n_features']}"
            f"{' (' + str(e['nan_inputs']) + ' NaN)' if e['nan_inputs'] else ''} | "
            f"{e['bytes']:,} | {' → '.join(e['op_sequence'])} | {t['post_transform']} | "
            f"{'/'.join(m.replace('BRANCH_', '') for m in t['branch_modes'])} | {base} | "
            f"{t['n_trees']} | {opset}; IR {e['ir_version']} | {q} |")
    text = f"""# trees — tree ensembles from every common exporter

Generated by `make.py` (rerun: `python examples/trees/make.py`; needs scikit-learn,
skl2onnx, onnxmltools, xgboost, lightgbm, catboost, onnx, onnxruntime, numpy — CI
only reads the committed files). scikit-learn {v['scikit-learn']}, skl2onnx
{v['skl2onnx']}, onnxmltools {v['onnxmltools']}, xgboost {v['xgboost']}, lightgbm
{v['lightgbm']}, catboost {v['catboost']}, onnx {v['onnx']}, onnxruntime
{v['onnxruntime']}, numpy {v['numpy']}. `manifest.json` holds the same facts
machine-readably, in the format of `../sklearn/manifest.json` plus `library`,
`dataset`, `op_sequence`, `ir_version`, `producer` and `tree_nodes` (per tree node:
post_transform, branch modes, base_values, class/target ids, counts of trees, nodes,
leaves and of nodes with `missing_value_tracks_true` = 1). `check.py` re-runs
onnxruntime on the committed files and checks the library/onnxruntime agreement the
manifest records (needs only onnx, onnxruntime, numpy — `tests/requirements.txt`).

Exporters and settings:
- scikit-learn → skl2onnx `to_onnx(target_opset={{'': 17, 'ai.onnx.ml': 3}})`,
  classifiers with `{{'zipmap': False}}`; outputs `label`, `probabilities` / `variable`.
- XGBoost → onnxmltools `convert_xgboost(target_opset=15)`; LightGBM → onnxmltools
  `convert_lightgbm(target_opset=15, zipmap=False)`. onnxmltools takes one integer
  opset and refuses anything above 15 ("higher than ... the converter support (15)").
- CatBoost → its own `model.save_model(path, format="onnx")`: no options.
- Every input is float32 `[N, n_features]`, named `X` except CatBoost's `features`.

Data: scikit-learn's bundled sets — `breast_cancer` (binary, 100 test rows),
`wine` (3 classes, 54 test rows), `diabetes` (regression, 100 test rows), split as
in `../sklearn`. In the `_nan` models ~10 % of all values (train and test, seed 0)
are NaN; XGBoost, LightGBM, HistGradientBoosting and CatBoost learn where missing
values go. RandomForest / GradientBoosting get no NaN (skl2onnx drops their learned
NaN routing, onnx/sklearn-onnx#1253).

File layout per model `NAME` (as `../sklearn`, with `library` for `sklearn`):
`NAME.onnx`, `NAME_input.csv` (header `f0..`, float32 shortest round-trip decimals,
`nan` = missing), `NAME_target.csv`, `NAME_library_labels.csv` /
`NAME_library_proba.csv` (the library's `predict` / `predict_proba`, float64
`%.17g`), `NAME_ort_labels.csv` / `NAME_ort_proba.csv` (onnxruntime, float32 `%.9g`);
regressors `NAME_library_pred.csv` / `NAME_ort_pred.csv`. The library is fed exactly
the float32 values of the input CSV.

| model | library | test rows×features | bytes | ops (graph order) | post_transform | branch modes | base_values | trees | opset stamped | library ↔ onnxruntime |
|---|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + NOTES
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(text)


NOTES = """

post_transform values the exporters produced: `NONE` (random forests, regressors),
`LOGISTIC` (every binary classifier except the forest), `SOFTMAX` (every multi-class
booster). No exporter wrote `SOFTMAX_ZERO` or `PROBIT`. Branch modes: skl2onnx and
LightGBM `BRANCH_LEQ`, XGBoost `BRANCH_LT`, CatBoost `BRANCH_GT`; no `BRANCH_EQ` /
`BRANCH_MEMBER` (no categorical features). Thresholds are always the float
`nodes_values`, never `nodes_values_as_tensor`.

What an importer must handle
- **Binary boosters write one score column**: skl2onnx GradientBoosting and
  HistGradientBoosting, XGBoost and LightGBM binary classifiers have `class_ids` all
  0, `classlabels_int64s` [0, 1] and `post_transform=LOGISTIC`; all but LightGBM add
  `base_values` [0.5188] (the log-odds of the training prior). onnxruntime returns two
  columns [1 − σ(s), σ(s)] and label 1 when σ(s) > 0.5. `breast_cancer_xgb_nan` is
  the XGBoost case (`base_values` [0.5188], `BRANCH_LT`, NaN inputs).
- **CatBoost's binary classifier is the other shape**: two columns, `class_ids` [0, 1]
  per leaf with weights (−v, +v), `post_transform=LOGISTIC` applied to each column, no
  `base_values`.
- **CatBoost's classifiers end in `ZipMap`**: `probabilities` is a sequence of
  maps {class: probability} (onnxruntime returns a list of dicts; the CSV holds it
  unpacked), with no option to turn it off. CatBoost files are IR version 3, import
  only `ai.onnx.ml` 2 (no default domain), name the input `features`, give `label`
  and the regressor's `predictions` the 1-D shape [`N`] (a named dim), and carry
  `metadata_props` (training parameters as JSON; `producer_version` is a multi-line
  git description). `make.py` pins the two metadata values that change on every run
  (`train_finish_time`, `model_guid`), the only edit made to CatBoost's output.
  CatBoost trees are oblivious (depth 4 → 15 branch nodes and 16 leaves each), and
  its missing values take the false branch of `BRANCH_GT` (NaN treated as the
  minimum), with `missing_value_tracks_true` all 0.
- **onnxmltools stamps low opsets and odd graphs**: XGBoost files that hold only
  the tree node import only `ai.onnx.ml` 1 (no default domain at all, IR 8); files
  with extra ops (all LightGBM ones, the XGBoost Poisson regressor) are IR 4 with
  `ai.onnx` 8 or 9. LightGBM classifiers follow the tree node with two `Identity`,
  a `Cast` (label → int64) and a `Mul` by an initializer `one` = 1.0 (regressors: one
  `Identity`), and declare the `label` output with shape [1] although it is [N]
  (onnxruntime logs a VerifyOutputSizes warning on every run).
- **skl2onnx** writes a duplicate `ai.onnx` 17 `opset_import` entry when the graph
  holds only ONNX-ML nodes (as in `../sklearn`); the script sorts the entries so
  the bytes are reproducible. RandomForest leaves hold class weights pre-divided by
  the tree count (`post_transform=NONE`, aggregate SUM).
- **Poisson objectives add ops after the trees**: LightGBM → `Exp`; XGBoost → `Exp`
  then `Mul` by an initializer `raw_prediction` = 152.3 (XGBoost 3 keeps
  `base_score` as a multiplicative factor, not in `base_values`).
- **Missing values**: `missing_value_tracks_true` = 1 on the nodes where NaN takes the
  true branch (HistGradientBoosting, XGBoost, LightGBM); a NaN compares false
  everywhere else.

Known differences between a library and its ONNX file (the tests should take
onnxruntime's outputs as the reference for the ONNX file):
- `breast_cancer_hgb_nan` (one row, |Δp| 0.002) and `wine_hgb_nan` (one row, 0.006):
  HistGradientBoosting compares in float64 and skl2onnx stores the threshold as
  float32. In `wine_hgb_nan` row 8, feature 6 is float32(2.9) = 2.9000000954, above
  the float64 threshold 2.9000000000000004 but equal to float32(threshold) = 2.9, so
  the ONNX tree goes the other way. Labels still agree.
- `wine_lgbm_ova`: LightGBM's `multiclassova` objective gives one sigmoid per class;
  onnxmltools treats every objective that starts with `multiclass` as `SOFTMAX`, so
  the ONNX probabilities differ by up to 0.65 (labels agree: both are monotonic in
  the raw scores).
- The Poisson regressors differ from the library by up to 2e-6 relative (the float32
  `Exp` of a float32 sum).
- The skl2onnx HistGradientBoosting export needs a patch with these versions:
  skl2onnx passes Python `False` as `missing_value_tracks_true` for leaves and onnx
  1.23 (protobuf 7) refuses a bool in an integer list; `make.py` coerces it to int
  before skl2onnx stores it (`_patch_skl2onnx_hist_gradient_boosting`).
- XGBoost `binary:logitraw` cannot be exported: onnxmltools raises "Unexpected
  objective: binary:logitraw".

TreeEnsemble (ai.onnx.ml opset 5)
No converter emits it (skl2onnx, onnxmltools and CatBoost all write
TreeEnsembleClassifier/Regressor), so `make.py` builds two with `onnx.helper` from
files above (`tree_ensemble_v5`: branch nodes keep their order, leaves are numbered
in order of appearance, `nodes_modes` uint8 tensor, `nodes_splits` / `leaf_weights`
float32 tensors, `aggregate_function` SUM = 1), IR 10, opsets ai.onnx 17 +
ai.onnx.ml 5:
- `diabetes_xgb_nan_te5` = `diabetes_xgb_nan`: `TreeEnsemble` (post_transform NONE)
  then `Add` of the XGBoost `base_values` (TreeEnsemble has no `base_values`).
  onnxruntime gives **bit-identical** outputs to the TreeEnsembleRegressor file.
- `wine_lgbm_nan_te5` = `wine_lgbm_nan`: `TreeEnsemble` (n_targets 3, post_transform
  NONE) → `Softmax(axis=1)` → `probabilities`, `ArgMax(axis=1, keepdims=0)` → `label`.
  Labels identical, probabilities within 3e-8 of the TreeEnsembleClassifier file
  (a different softmax routine).
- Why a `Softmax` node instead of `post_transform`: the opset-5 spec numbers
  post_transform NONE 0, SOFTMAX 1, LOGISTIC 2, but onnxruntime 1.32 reads 1 as
  LOGISTIC and 2 as SOFTMAX (measured on this model: post_transform=1 gives per-class
  sigmoids, 2 gives the softmax), and it ignores LOGISTIC on single-target
  ensembles (microsoft/onnxruntime#26596). A file using post_transform would have an
  onnxruntime reference that contradicts the spec. The ONNX reference evaluator
  (`onnx.reference`) ignores post_transform entirely.
"""


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    sys.exit(main())
