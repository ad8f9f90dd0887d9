#!/usr/bin/env python3
"""Train the window-feature model of the sensor example and export it with skl2onnx.

What it makes (in this directory, committed)
--------------------------------------------
  sensor_features_model.onnx   StandardScaler + LogisticRegression on the 21
                               window features of features.py; input "features"
                               float32 [N, 21] (milli-g units), outputs "label"
                               int64 [N] and "probabilities" float32 [N, 4]
                               (skl2onnx, zipmap=False, opsets ai.onnx 17 /
                               ai.onnx.ml 3)
  features_reference.csv       numpy (features.py, float64) features of the
                               first 50 test.csv windows, header = feature
                               names, "%.17g"
  features_model_ort.csv       onnxruntime output for those 50 rows (fed as
                               float32): header label,p0..p3
  trace_features_reference.csv features of the sliding windows over trace.csv
                               (window 64, hop 32): header start,label,<21 names>
                               (label -1 = window spans an activity change)

Training data are the same in-memory windows as the CNN's (make_data.make_dataset,
fixed seed), converted to features; no torch needed.

How to rerun
------------
    python examples/sensor/train_features.py
(``train.py`` also calls this, so a full regeneration is just ``train.py``.)
"""
from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_data  # noqa: E402
from features import FEATURE_NAMES, features_batch  # noqa: E402


def run() -> dict:
    d = make_data.make_dataset()
    F_tr = features_batch(d["train_mg"])
    F_te = features_batch(d["test_mg"])
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=1.0))
    pipe.fit(F_tr, d["train_y"])
    acc_train = float(pipe.score(F_tr, d["train_y"]))
    acc_sk = float(pipe.score(F_te, d["test_y"]))

    onx = to_onnx(pipe, initial_types=[("features", FloatTensorType([None, len(FEATURE_NAMES)]))],
                  target_opset={"": 17, "ai.onnx.ml": 3},
                  options={id(pipe.steps[-1][1]): {"zipmap": False}})
    onx.graph.name = "sensor_features"
    # skl2onnx emits opset_import in set order (varies with PYTHONHASHSEED): sort it
    # by domain so the committed bytes are reproducible. Nothing else is changed.
    entries = sorted(((o.domain, o.version) for o in onx.opset_import), key=lambda e: e[0])
    del onx.opset_import[:]
    for domain, version in entries:
        onx.opset_import.add(domain=domain, version=version)
    path = os.path.join(HERE, "sensor_features_model.onnx")
    onnx.save(onx, path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    lab_ort, p_ort = sess.run(None, {"features": F_te.astype(np.float32)})
    acc_ort = float((lab_ort == d["test_y"]).mean())
    p_sk = pipe.predict_proba(F_te.astype(np.float32).astype(np.float64))
    agree = float((lab_ort == pipe.predict(F_te.astype(np.float32).astype(np.float64))).mean())

    first = F_te[:50]
    make_data.write_csv(os.path.join(HERE, "features_reference.csv"), first, FEATURE_NAMES,
                        fmt="%.17g")
    back = np.loadtxt(os.path.join(HERE, "features_reference.csv"), delimiter=",", skiprows=1)
    assert np.array_equal(back, first)
    l50, p50 = sess.run(None, {"features": first.astype(np.float32)})
    make_data.write_csv(os.path.join(HERE, "features_model_ort.csv"),
                        np.column_stack([l50, p50]), ["label", "p0", "p1", "p2", "p3"])

    mg, lab = make_data.make_trace()
    starts, tw, ty = make_data.trace_windows(mg, lab)
    Ft = features_batch(tw)
    make_data.write_csv(os.path.join(HERE, "trace_features_reference.csv"),
                        np.column_stack([starts, ty, Ft]), ["start", "label"] + FEATURE_NAMES,
                        fmt="%.17g")
    lt, _ = sess.run(None, {"features": Ft.astype(np.float32)})
    known = ty >= 0
    acc_trace = float((lt[known] == ty[known]).mean())

    m = onnx.load(path)
    report = {
        "ops": [n.op_type for n in m.graph.node],
        "opset": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "outputs": out_names,
        "bytes": os.path.getsize(path),
        "train accuracy (sklearn)": acc_train,
        "test accuracy (sklearn, float64)": acc_sk,
        "test accuracy (onnxruntime, float32 input)": acc_ort,
        "label agreement sklearn vs ort": agree,
        "max |proba sklearn - ort|": float(np.abs(p_sk - p_ort).max()),
        "trace windows": int(len(starts)), "trace windows labelled": int(known.sum()),
        "trace accuracy (ort, labelled windows)": acc_trace,
        "zc ties (d == 0) in the 50 reference windows": int(sum(
            np.count_nonzero(w[a].astype(np.float64) - w[a].sum() / 64.0 == 0)
            for w in d["test_mg"][:50] for a in range(3))),
    }
    return report


def main() -> int:
    for k, v in run().items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
