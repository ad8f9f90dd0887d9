#!/usr/bin/env python3
"""Check the committed example fixtures against a fresh onnxruntime run.

What it does
------------
For every committed model under examples/ (digits, sensor, sklearn) it loads the
ONNX file (onnx.checker, full_check) and in onnxruntime, re-runs it on the
committed inputs and compares with the committed reference outputs:

* float outputs: np.testing.assert_allclose(rtol=1e-5, atol=1e-6) — the files were
  written by onnxruntime on one CPU; other CPUs/ORT builds may differ in the last
  bits (different SIMD kernels), never by more than this;
* labels: exact, except where the reference top-2 probabilities are within 1e-5;
* sensor_cnn_dynamo.onnx (same weights, other exporter) matches reference_ort.csv;
* sensor features: features.py recomputed on the test windows must equal
  features_reference.csv exactly (float64, same code), and trace.csv must
  reproduce trace_features_reference.csv;
* sklearn: the committed sklearn and ORT references agree (labels exactly where
  the margin is clear, probabilities within 1e-5).

It needs only the test-time packages of tests/requirements.txt (no torch).

How to run
----------
    python tests/onnx/check_example_fixtures.py [--root REPO]
Prints one line per check and "N passed, M failed"; exits non-zero on failure.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

import numpy as np
import onnx
import onnxruntime as ort

RTOL, ATOL = 1e-5, 1e-6


def load(path, dtype=np.float32):
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=dtype, ndmin=2)


def session(path):
    onnx.checker.check_model(onnx.load(path), full_check=True)
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def run_rows(sess, name, X):
    """Row by row (works for static batch-1 models and dynamic ones)."""
    outs = [sess.run(None, {name: X[i:i + 1]}) for i in range(len(X))]
    return [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]


def clear_labels(p, tol=1e-5):
    s = np.sort(p, axis=1)
    return (s[:, -1] - s[:, -2]) > tol


def check_digits(root):
    d = os.path.join(root, "examples", "digits")
    sess = session(os.path.join(d, "digits_mlp.onnx"))
    X = load(os.path.join(d, "test.csv"))
    assert X.shape == (360, 64) and load(os.path.join(d, "calib.csv")).shape == (200, 64)
    ref = load(os.path.join(d, "reference_ort.csv"))
    got_batch = sess.run(None, {"input": X})[0]
    got_rows = run_rows(sess, "input", X)[0]
    np.testing.assert_allclose(got_batch, ref, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got_rows, ref, rtol=RTOL, atol=ATOL)
    y = load(os.path.join(d, "test_labels.csv"), np.int64)[:, 0]
    return f"digits_mlp: 360 rows ok, accuracy {(ref.argmax(1) == y).mean():.4f}"


def check_sensor(root):
    d = os.path.join(root, "examples", "sensor")
    sys.path.insert(0, d)
    try:
        from features import features_batch
    finally:
        sys.path.pop(0)
    sess = session(os.path.join(d, "sensor_cnn.onnx"))
    X = load(os.path.join(d, "test.csv"))
    assert X.shape[1] == 192
    W = X.reshape(-1, 3, 64)
    ref = load(os.path.join(d, "reference_ort.csv"))
    np.testing.assert_allclose(run_rows(sess, "window", W)[0], ref, rtol=RTOL, atol=ATOL)
    y = load(os.path.join(d, "test_labels.csv"), np.int64)[:, 0]
    msgs = [f"sensor_cnn: {len(W)} windows ok, accuracy {(ref.argmax(1) == y).mean():.4f}"]
    dyn = os.path.join(d, "sensor_cnn_dynamo.onnx")  # same weights, dynamo exporter
    np.testing.assert_allclose(run_rows(session(dyn), "window", W)[0], ref, rtol=RTOL, atol=ATOL)
    msgs.append("sensor_cnn_dynamo ok")

    trace = load(os.path.join(d, "trace.csv"), np.int64)
    assert trace.shape[1] == 3 and np.all(trace % 2 == 0)
    tref = load(os.path.join(d, "trace_reference_ort.csv"), np.float64)
    starts = tref[:, 0].astype(int)
    tw = np.stack([trace[s:s + 64].T for s in starts])
    tx = (tw.astype(np.float64) / 1000.0).astype(np.float32)
    np.testing.assert_allclose(run_rows(sess, "window", tx)[0], tref[:, 2:].astype(np.float32),
                               rtol=RTOL, atol=ATOL)
    msgs.append(f"sensor_cnn trace: {len(starts)} windows ok")

    fref = load(os.path.join(d, "features_reference.csv"), np.float64)
    mg = np.round(W[:len(fref)].astype(np.float64) * 1000.0)
    np.testing.assert_array_equal(features_batch(mg), fref)
    tfref = load(os.path.join(d, "trace_features_reference.csv"), np.float64)
    np.testing.assert_array_equal(features_batch(tw), tfref[:, 2:])
    fsess = session(os.path.join(d, "sensor_features_model.onnx"))
    lab, prob = fsess.run(None, {"features": fref.astype(np.float32)})
    mref = load(os.path.join(d, "features_model_ort.csv"), np.float64)
    np.testing.assert_allclose(prob, mref[:, 1:].astype(np.float32), rtol=RTOL, atol=ATOL)
    clear = clear_labels(mref[:, 1:])
    assert np.array_equal(lab[clear], mref[clear, 0].astype(np.int64))
    msgs.append(f"sensor features: {len(fref)} + {len(tfref)} windows exact, feature model ok")
    return "; ".join(msgs)


def check_sklearn(root):
    d = os.path.join(root, "examples", "sklearn")
    man = json.load(open(os.path.join(d, "manifest.json")))
    msgs = []
    for name, e in man["models"].items():
        sess = session(os.path.join(d, f"{name}.onnx"))
        X = load(os.path.join(d, f"{name}_input.csv"))
        assert X.shape == (e["rows"], e["n_features"]), X.shape
        assert int(np.isnan(X).sum()) == e["nan_inputs"]
        outs = sess.run(None, {"X": X})
        if e["task"] == "classification":
            lab, prob = outs
            p_ort = load(os.path.join(d, f"{name}_ort_proba.csv"))
            p_sk = load(os.path.join(d, f"{name}_sklearn_proba.csv"), np.float64)
            l_ort = load(os.path.join(d, f"{name}_ort_labels.csv"), np.int64)[:, 0]
            l_sk = load(os.path.join(d, f"{name}_sklearn_labels.csv"), np.int64)[:, 0]
            np.testing.assert_allclose(prob, p_ort, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(p_ort, p_sk, rtol=RTOL, atol=ATOL)
            clear = clear_labels(p_sk)
            assert np.array_equal(lab[clear], l_ort[clear])
            assert np.array_equal(l_ort[clear], l_sk[clear])
        else:
            pred = outs[0].reshape(-1)
            r_ort = load(os.path.join(d, f"{name}_ort_pred.csv"))[:, 0]
            r_sk = load(os.path.join(d, f"{name}_sklearn_pred.csv"), np.float64)[:, 0]
            np.testing.assert_allclose(pred, r_ort, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(r_ort, r_sk, rtol=RTOL, atol=ATOL)
        msgs.append(name)
    return f"sklearn: {len(msgs)} models ok ({', '.join(msgs)})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", "..")))
    args = ap.parse_args(argv)
    passed = failed = 0
    for check in (check_digits, check_sensor, check_sklearn):
        try:
            print(f"ok   {check.__name__}: {check(args.root)}")
            passed += 1
        except Exception:  # noqa: BLE001
            print(f"FAIL {check.__name__}")
            traceback.print_exc()
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
