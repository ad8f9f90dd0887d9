#!/usr/bin/env python3
"""Check the committed int8 fixtures: re-run every NAME.onnx in onnxruntime on
../bench/MODEL_test.npy and compare with NAME_ort.npy. onnxruntime's int8 kernels
differ between CPU instruction sets (e.g. u8s8 without VNNI), so outputs may move
by one output quantization step; more is a failure. Needs only onnx, onnxruntime
and numpy (tests/requirements.txt).

    python examples/qdq/check.py
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


def check(name, e):
    path = os.path.join(HERE, e["file"])
    onnx.checker.check_model(onnx.load(path), full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    test = np.load(os.path.join(HERE, e["test"]))
    got = np.stack([sess.run(None, {e["input"]["name"]: x})[0] for x in test])
    ref = np.load(os.path.join(HERE, e["ort"]))
    assert got.shape == ref.shape == tuple(e["ort_shape"]), got.shape
    step = e["quantization"]["output_scale"]
    np.testing.assert_allclose(got, ref, rtol=0, atol=step * 1.001)


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
