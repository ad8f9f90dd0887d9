#!/usr/bin/env python3
"""Check the committed tree fixtures: re-run every NAME.onnx in onnxruntime on
NAME_input.csv and compare with NAME_ort_*.csv; check that the library's committed
outputs agree with onnxruntime's as manifest.json records. Needs only onnx,
onnxruntime and numpy (tests/requirements.txt), no training library.

    python examples/trees/check.py
Exit status 1 on any mismatch.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
RTOL, ATOL = 1e-5, 1e-6


def load(name, dtype=np.float32):
    return np.loadtxt(os.path.join(HERE, name), delimiter=",", skiprows=1, dtype=dtype,
                      ndmin=2)


def proba_array(p, n_classes):
    """CatBoost's probabilities output is a ZipMap (a list of {class: prob} dicts)."""
    if isinstance(p, np.ndarray):
        return p
    return np.array([[row[k] for k in range(n_classes)] for row in p], dtype=np.float32)


def clear(p, tol=1e-5):
    s = np.sort(p, axis=1)
    return (s[:, -1] - s[:, -2]) > tol


def check(name, e):
    path = os.path.join(HERE, f"{name}.onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    so = ort.SessionOptions()
    so.log_severity_level = 3  # LightGBM files declare label [1]: a warning per run
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    X = load(f"{name}_input.csv")
    assert X.shape == (e["rows"], e["n_features"]), X.shape
    assert int(np.isnan(X).sum()) == e["nan_inputs"]
    outs = sess.run(None, {e["input"]["name"]: X})
    if e["task"] == "classification":
        k = len(e["classes"])
        lab, prob = outs[0].reshape(-1), proba_array(outs[1], k)
        p_ort, p_lib = load(f"{name}_ort_proba.csv"), load(f"{name}_library_proba.csv",
                                                             np.float64)
        l_ort = load(f"{name}_ort_labels.csv", np.int64)[:, 0]
        l_lib = load(f"{name}_library_labels.csv", np.int64)[:, 0]
        np.testing.assert_allclose(prob, p_ort, rtol=RTOL, atol=ATOL)
        c = clear(p_ort)
        assert np.array_equal(lab[c], l_ort[c])
        assert float(np.abs(p_ort - p_lib).max()) <= e["max_abs_proba_diff"] * (1 + 1e-6) + 1e-9
        assert int((l_lib != l_ort).sum()) == e["label_disagreements"]
    else:
        pred = outs[0].reshape(-1)
        r_ort = load(f"{name}_ort_pred.csv")[:, 0]
        r_lib = load(f"{name}_library_pred.csv", np.float64)[:, 0]
        np.testing.assert_allclose(pred, r_ort, rtol=RTOL, atol=ATOL)
        assert float(np.abs(r_ort - r_lib).max()) <= e["max_abs_pred_diff"] * (1 + 1e-6) + 1e-9


def main() -> int:
    man = json.load(open(os.path.join(HERE, "manifest.json")))
    failed = 0
    for name, e in man["models"].items():
        try:
            check(name, e)
            print(f"ok   {name}")
        except Exception as err:  # noqa: BLE001
            print(f"FAIL {name}: {err!r}")
            failed += 1
    print(f"{len(man['models']) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
