#!/usr/bin/env python3
"""Attribute variants of the committed tree files, for the settings no exporter writes:
aggregate_function AVERAGE / MIN / MAX, BRANCH_GTE / EQ / NEQ, post_transform NONE /
SOFTMAX / LOGISTIC / SOFTMAX_ZERO where the exporters chose another. Each `v_NAME.onnx` is a copy of `NAME.onnx` with one tree node's attributes
edited (nothing retrained), `v_NAME_input.csv` a copy of the rows, and
`v_NAME_ort_*.csv` what onnxruntime computes on them — the reference, whatever the
edit means. Needs only onnx, onnxruntime and numpy (`tests/requirements.txt`):

    python examples/trees/variants.py
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

HERE = os.path.dirname(os.path.abspath(__file__))


def attrs(node):
    return {a.name: a for a in node.attribute}


def set_attr(node, name, value):
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(keep)
    if value is not None:
        node.attribute.append(helper.make_attribute(name, value))


def tree_node(model):
    return next(n for n in model.graph.node if n.op_type.startswith("TreeEnsemble"))


def swap_lt_to_gte(node):
    """BRANCH_LT x < t → BRANCH_GTE x >= t with the children swapped; NaN keeps its
    side (missing_value_tracks_true flipped)."""
    a = attrs(node)
    modes = [m.decode() for m in a["nodes_modes"].strings]
    t, f = list(a["nodes_truenodeids"].ints), list(a["nodes_falsenodeids"].ints)
    miss = list(a["nodes_missing_value_tracks_true"].ints)
    for i, m in enumerate(modes):
        if m == "BRANCH_LT":
            modes[i] = "BRANCH_GTE"
            t[i], f[i] = f[i], t[i]
            miss[i] = 1 - miss[i]
    set_attr(node, "nodes_modes", modes)
    set_attr(node, "nodes_truenodeids", t)
    set_attr(node, "nodes_falsenodeids", f)
    set_attr(node, "nodes_missing_value_tracks_true", miss)


def eq_neq(node):
    """Every 3rd branch BRANCH_EQ and every 5th BRANCH_NEQ (a different model; the
    reference is what onnxruntime makes of it)."""
    a = attrs(node)
    modes = [m.decode() for m in a["nodes_modes"].strings]
    k = 0
    for i, m in enumerate(modes):
        if m != "LEAF":
            k += 1
            if k % 3 == 0:
                modes[i] = "BRANCH_EQ"
            elif k % 5 == 0:
                modes[i] = "BRANCH_NEQ"
    set_attr(node, "nodes_modes", modes)


VARIANTS = [
    # (new name, base, edit)
    ("diabetes_gb_average", "diabetes_gb",
     lambda n: set_attr(n, "aggregate_function", "AVERAGE")),
    ("diabetes_gb_min", "diabetes_gb", lambda n: set_attr(n, "aggregate_function", "MIN")),
    ("diabetes_gb_max", "diabetes_gb", lambda n: set_attr(n, "aggregate_function", "MAX")),
    ("diabetes_xgb_nan_gte", "diabetes_xgb_nan", swap_lt_to_gte),
    ("breast_cancer_rf_eq_neq", "breast_cancer_rf", eq_neq),
    ("breast_cancer_rf_softmax", "breast_cancer_rf",
     lambda n: set_attr(n, "post_transform", "SOFTMAX")),
    ("breast_cancer_xgb_nan_none", "breast_cancer_xgb_nan",
     lambda n: set_attr(n, "post_transform", "NONE")),
    ("breast_cancer_lgbm_nan_softmax", "breast_cancer_lgbm_nan",
     lambda n: set_attr(n, "post_transform", "SOFTMAX")),
    ("wine_xgb_nan_logistic", "wine_xgb_nan",
     lambda n: set_attr(n, "post_transform", "LOGISTIC")),
    ("wine_xgb_nan_softmax_zero", "wine_xgb_nan",
     lambda n: set_attr(n, "post_transform", "SOFTMAX_ZERO")),
]


def load_csv(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)


def write_csv(path, arr, header, fmt):
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr[:, None]
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in arr:
            f.write(",".join(fmt % v for v in row) + "\n")


def main():
    for name, base, edit in VARIANTS:
        m = onnx.load(os.path.join(HERE, f"{base}.onnx"))
        edit(tree_node(m))
        onnx.checker.check_model(m, full_check=True)
        out = f"v_{name}"
        path = os.path.join(HERE, f"{out}.onnx")
        onnx.save(m, path)
        shutil.copyfile(os.path.join(HERE, f"{base}_input.csv"),
                        os.path.join(HERE, f"{out}_input.csv"))
        X = load_csv(os.path.join(HERE, f"{out}_input.csv"))
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        res = sess.run(None, {sess.get_inputs()[0].name: X})
        if len(res) == 2:
            lab, prob = res[0].reshape(-1), np.asarray(res[1], dtype=np.float32)
            write_csv(os.path.join(HERE, f"{out}_ort_labels.csv"), lab, ["label"], "%d")
            write_csv(os.path.join(HERE, f"{out}_ort_proba.csv"), prob,
                      [f"p{k}" for k in range(prob.shape[1])], "%.9g")
        else:
            pred = np.asarray(res[0], dtype=np.float32).reshape(len(X), -1)
            write_csv(os.path.join(HERE, f"{out}_ort_pred.csv"), pred,
                      ["prediction"] if pred.shape[1] == 1 else
                      [f"y{k}" for k in range(pred.shape[1])], "%.9g")
        print(out, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
