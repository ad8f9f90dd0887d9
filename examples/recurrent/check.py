#!/usr/bin/env python3
"""Check the committed recurrent fixtures: re-run every NAME.onnx in onnxruntime on
the committed sequences (and initial states) and compare every output with
NAME_ort_OUT.npy (manifest tolerance). Needs only onnx, onnxruntime and numpy
(tests/requirements.txt).

    python examples/recurrent/check.py
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
    path = os.path.join(HERE, f"{name}.onnx")
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    assert ops == e["op_sequence"], "op sequence differs from manifest.json"
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = {k: np.load(os.path.join(HERE, f)) for k, f in e["input_files"].items()}
    expected = {k: np.load(os.path.join(HERE, f)) for k, f in e["ort_files"].items()}
    out_names = [o.name for o in sess.get_outputs()]
    assert out_names == list(expected), out_names
    tol = e["tolerance_f32"]
    for r in range(len(inputs["sequence"])):
        got = sess.run(None, {k: v[r] for k, v in inputs.items()})
        for k, g in zip(out_names, got):
            np.testing.assert_allclose(g, expected[k][r], rtol=tol["rtol"], atol=tol["atol"],
                                       err_msg=f"row {r} output {k}")
    if e["stateful"]:  # row 1 continues the stream of row 0
        for k_in, k_out in (("initial_h", "h_n"), ("initial_c", "c_n")):
            if k_in in inputs:
                assert np.array_equal(inputs[k_in][1], expected[k_out][0])


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
