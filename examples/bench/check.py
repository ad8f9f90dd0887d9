#!/usr/bin/env python3
"""Check the committed benchmark fixtures: shapes of the calibration / test arrays,
the MAC and parameter counts (recounted from each graph), and onnxruntime's outputs
of NAME.onnx and NAME_bn.onnx on NAME_test.npy against NAME_ort.npy /
NAME_bn_ort.npy within the manifest's f32 tolerance. Needs only onnx, onnxruntime
and numpy (tests/requirements.txt).

    python examples/bench/check.py
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
sys.path.insert(0, HERE)
from count_macs import count  # noqa: E402


def run(path, name, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.stack([sess.run(None, {name: xi})[0] for xi in x])


def check(name, e):
    path = os.path.join(HERE, e["file"])
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    c = count(m)
    assert (c["macs"], c["params"]) == (e["macs"], e["params"]), (c["macs"], c["params"])
    calib = np.load(os.path.join(HERE, e["calib"]["file"]))
    test = np.load(os.path.join(HERE, e["test"]["file"]))
    assert list(calib.shape) == e["calib"]["shape"] and calib.dtype == np.float32
    assert list(test.shape) == e["test"]["shape"] and test.dtype == np.float32
    tol = e["tolerance_f32"]
    ref = np.load(os.path.join(HERE, e["ort"]["file"]))
    np.testing.assert_allclose(run(path, e["input"]["name"], test), ref, **tol)
    bn = e.get("bn_variant")
    if bn:
        bpath = os.path.join(HERE, bn["file"])
        onnx.checker.check_model(onnx.load(bpath), full_check=True)
        got = run(bpath, e["input"]["name"], test)
        np.testing.assert_allclose(got, np.load(os.path.join(HERE, bn["ort"])), **tol)
        np.testing.assert_allclose(got, ref, **tol)


def main() -> int:
    man = json.load(open(os.path.join(HERE, "manifest.json")))
    failed = 0
    for name, e in man["models"].items():
        try:
            check(name, e)
            print(f"ok   {name}: {e['macs']} MACs")
        except Exception as err:  # noqa: BLE001
            print(f"FAIL {name}: {err!r}")
            failed += 1
    print(f"{len(man['models']) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
