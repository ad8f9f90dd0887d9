#!/usr/bin/env python3
"""Lay out the ONNX package's "light" CNN models as ordinary model tests.

What it makes
-------------
The ``onnx`` pip package ships ``onnx/backend/test/data/light/light_<model>.onnx``
(bvlc_alexnet, densenet121, inception_v1, inception_v2, resnet50, shufflenet,
squeezenet, vgg19, zfnet512) together with ``light_<model>_output_0.pb``.
"Light" means the real architectures (full 1x3x224x224 input, full layer shapes,
opset 9) with every weight tensor replaced by a ``ConstantOfShape`` node, so each
file is only 4-215 KB while the compute is that of the real network (VGG19: ~20
GFLOP, ~575 MB of materialized float32 weights at run time).

Caveat, measured with onnx 1.23: every ConstantOfShape fills with 0.02, so all
weights/biases of a layer are equal and the expected outputs are *uniform*: the
eight models ending in Softmax give exactly 0.001 (= 1/1000) for every class, and
densenet121 (no Softmax) gives 0.46095502 everywhere. These cases therefore check
op coverage, shape inference, graph plumbing, memory planning and run time on
real topologies -- not numeric accuracy (a wrong-but-symmetric kernel still
passes). Use the node tests and the example models for numerics.

For each model this script writes::

    OUTDIR/light/test_<model>/model.onnx                    (byte copy)
    OUTDIR/light/test_<model>/test_data_set_0/input_0.pb    (TensorProto)
    OUTDIR/light/test_<model>/test_data_set_0/input_0.npy
    OUTDIR/light/test_<model>/test_data_set_0/output_0.pb   (TensorProto)
    OUTDIR/light/test_<model>/test_data_set_0/output_0.npy
    OUTDIR/light/index.json   ({name, model_name, op_types, rtol, atol, input/output shapes})

How the reference data is produced (reproducing onnx/backend/test/runner/__init__.py)
-------------------------------------------------------------------------------------
``Runner._add_model_test.run`` sees that the case url starts with
``onnx/backend/test/data/light/`` and sets ``use_dummy = True``. Then:

* **input**: for every graph input that is not an initializer it calls
  ``Runner.generate_dummy_data(x, seed=0, random=False)``, which builds the shape from
  the ValueInfo (a symbolic dim becomes 1) and returns the *deterministic ramp*
  ``(np.arange(n).reshape(shape) / n).astype(np.float32)`` with ``n = prod(shape)``
  (i.e. values 0, 1/n, 2/n, ... in C order; float64 division, then cast). Only float
  inputs are supported there. It is written with ``numpy_helper.from_array(value)``
  (no tensor name). We do the same.
* **expected output**: if ``light_<model>_output_<i>.pb`` exists next to the model for
  every graph output (true for all nine in onnx 1.23) it is *copied* as
  ``output_<i>.pb``; otherwise the runner computes it with
  ``onnx.reference.ReferenceEvaluator`` on the dummy input (very slow for these
  networks). We copy the shipped files and only fall back to ReferenceEvaluator
  (with a warning) if one is missing.
* **tolerances**: from ``onnx/backend/test/case/model/__init__.py``
  (``collect_testcases``): rtol 1e-3 (densenet121: 2e-3), atol 1e-7; the runner
  compares with ``np.testing.assert_allclose``.

``--verify`` additionally runs each model in onnxruntime (if installed) on the
input and checks the output against the expected one with those tolerances.

How to rerun
------------
    python tests/onnx/gen_light_models.py OUTDIR [--verify]

Deterministic; not committed (generate into a scratch/build directory).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import onnx.backend.test.case.model as model_cases

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def dummy_input(x: onnx.ValueInfoProto) -> np.ndarray:
    """Same as onnx.backend.test.runner.Runner.generate_dummy_data(random=False)."""
    if x.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise NotImplementedError(f"non-float input {x.name}")
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1
                  for d in x.type.tensor_type.shape.dim)
    n = np.prod(shape)
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--verify", action="store_true",
                    help="check the expected outputs with onnxruntime")
    args = ap.parse_args(argv)

    # name, model_name, rtol, atol as the package defines them
    cases = [c for c in model_cases.collect_testcases() if c.kind == "real"
             and c.url and c.url.startswith("onnx/backend/test/data/light/")]
    out_root = os.path.join(args.outdir, "light")
    os.makedirs(out_root, exist_ok=True)
    index = []
    for case in cases:
        src = os.path.join(LIGHT_DIR, f"light_{case.model_name}.onnx")
        model = onnx.load(src)
        case_dir = os.path.join(out_root, case.name)
        if os.path.exists(case_dir):
            shutil.rmtree(case_dir)
        ds = os.path.join(case_dir, "test_data_set_0")
        os.makedirs(ds)
        shutil.copyfile(src, os.path.join(case_dir, "model.onnx"))

        inits = {i.name for i in model.graph.initializer}
        feeds, ins = {}, []
        for x in model.graph.input:
            if x.name in inits:
                continue
            v = dummy_input(x)
            k = len(ins)
            feeds[x.name] = v
            with open(os.path.join(ds, f"input_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(v).SerializeToString())
            np.save(os.path.join(ds, f"input_{k}.npy"), v)
            ins.append({"name": x.name, "shape": list(v.shape), "dtype": str(v.dtype)})

        prefix = os.path.splitext(src)[0]
        shipped = [f"{prefix}_output_{i}.pb" for i in range(len(model.graph.output))]
        if all(os.path.exists(p) for p in shipped):
            outputs = [numpy_helper.to_array(onnx.load_tensor(p)) for p in shipped]
            for i, p in enumerate(shipped):
                shutil.copyfile(p, os.path.join(ds, f"output_{i}.pb"))
            source = "shipped"
        else:
            print(f"warning: {case.model_name}: no shipped output, running "
                  "ReferenceEvaluator (slow)", file=sys.stderr)
            from onnx.reference import ReferenceEvaluator
            outputs = ReferenceEvaluator(model).run(None, feeds)
            for i, o in enumerate(outputs):
                with open(os.path.join(ds, f"output_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(o).SerializeToString())
            source = "ReferenceEvaluator"
        outs = []
        for i, (o, vi) in enumerate(zip(outputs, model.graph.output)):
            np.save(os.path.join(ds, f"output_{i}.npy"), o)
            outs.append({"name": vi.name, "shape": list(o.shape), "dtype": str(o.dtype)})

        verified = None
        if args.verify:
            import onnxruntime as ort
            sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
            got = sess.run(None, feeds)
            for g, r in zip(got, outputs):
                np.testing.assert_allclose(g, r, rtol=case.rtol, atol=case.atol)
            verified = "onnxruntime " + ort.__version__

        entry = {
            "name": case.name,
            "model_name": case.model_name,
            "model_bytes": os.path.getsize(src),
            "op_types": sorted({n.op_type for n in model.graph.node}),
            "opset": {o.domain: o.version for o in model.opset_import},
            "rtol": case.rtol,
            "atol": case.atol,
            "inputs": ins,
            "outputs": outs,
            "expected_output_source": source,
            "verified_with": verified,
        }
        index.append(entry)
        print(f"{case.name:20s} {entry['model_bytes']:>7d} B  ops={len(entry['op_types']):2d} "
              f"in={ins[0]['shape']} out={outs[0]['shape']} ({source}"
              f"{', ok vs ' + verified if verified else ''})")

    with open(os.path.join(out_root, "index.json"), "w") as f:
        json.dump({"onnx_version": onnx.__version__, "cases": index}, f, indent=1,
                  sort_keys=True)
    all_ops = sorted({op for e in index for op in e["op_types"]})
    print(f"wrote {len(index)} light models, {len(all_ops)} op types: {', '.join(all_ops)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
