#!/usr/bin/env python3
"""Write the ONNX backend *node* test cases to disk in the standard layout.

What it makes
-------------
For every case returned by ``onnx.backend.test.case.node.collect_testcases(None)``
(the cases that ship inside the ``onnx`` pip package; ~1,900 with onnx 1.23)::

    OUTDIR/node/<case name>/model.onnx
    OUTDIR/node/<case name>/test_data_set_0/input_0.pb ... input_K.pb
    OUTDIR/node/<case name>/test_data_set_0/output_0.pb ... output_K.pb
    OUTDIR/node/index.json

The .pb files are serialized ``TensorProto`` messages (or ``SequenceProto`` /
``MapProto`` / ``OptionalProto`` for the few cases whose graph input/output has
that type), written exactly the way ``onnx/backend/test/cmd_tools.py``
(``generate-data``) writes the model-level cases: ``numpy_helper.from_array``
with the *graph* input/output name as the tensor name; a case that already holds a
``TensorProto`` (e.g. bfloat16 / float8 / int4 data) is written as is.

``index.json`` is a JSON object ``{"onnx_version": ..., "cases": [...]}``; each
case entry holds:

* ``name``       – case name (= directory name)
* ``op_types``   – sorted op types of the top-level graph nodes (``n.op_type``)
* ``all_op_types`` – same, including nodes inside subgraphs (If/Loop/Scan bodies)
* ``domains``    – sorted node domains (``""`` = ai.onnx, ``ai.onnx.ml``, ...)
* ``opset``      – ``{domain: version}`` from the model's opset_import
* ``expanded``   – true for ``*_expanded*`` cases (a function op expanded to its body)
* ``rtol`` / ``atol`` – tolerances of the case (the runner compares with
  ``np.testing.assert_allclose(out, ref, rtol, atol)``)
* ``inputs`` / ``outputs`` – list of ``{"name", "kind", "dtype", "shape"}`` of the
  data set (``kind`` is tensor/sequence/map/optional; dtype is the ONNX
  TensorProto data type name)
* ``data_sets``  – number of ``test_data_set_N`` directories

How to rerun
------------
    python tests/onnx/gen_node_tests.py OUTDIR [--ops Conv,Relu,...]
                          [--match subset|any] [--no-expanded]

``--ops`` keeps only cases whose top-level op types are all in the list
(``--match subset``, the default: "cases a runtime supporting exactly these ops can
run") or that use at least one of them (``--match any``). The output is
deterministic for a given onnx version (the cases themselves use fixed seeds). It
is not committed: generate it into a scratch or build directory.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from onnx.backend.test.case.node import collect_testcases


def _all_op_types(graph: onnx.GraphProto) -> set[str]:
    ops: set[str] = set()
    for n in graph.node:
        ops.add(n.op_type)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                ops |= _all_op_types(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    ops |= _all_op_types(g)
    return ops


def _serialize(value, vi: onnx.ValueInfoProto) -> bytes:
    """Serialize one input/output value the way cmd_tools.generate_data does."""
    t = vi.type
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, vi.name).SerializeToString()
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, vi.name).SerializeToString()
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, vi.name).SerializeToString()
    assert t.HasField("tensor_type"), vi
    if isinstance(value, TensorProto):
        return value.SerializeToString()
    return numpy_helper.from_array(value, vi.name).SerializeToString()


def _describe(value, vi: onnx.ValueInfoProto) -> dict:
    t = vi.type
    if t.HasField("map_type"):
        return {"name": vi.name, "kind": "map"}
    if t.HasField("sequence_type"):
        return {"name": vi.name, "kind": "sequence", "len": len(value)}
    if t.HasField("optional_type"):
        return {"name": vi.name, "kind": "optional", "present": value is not None}
    if isinstance(value, TensorProto):
        dtype = TensorProto.DataType.Name(value.data_type)
        shape = list(value.dims)
    else:
        arr = np.asarray(value)
        dtype = TensorProto.DataType.Name(t.tensor_type.elem_type)
        shape = list(arr.shape)
    return {"name": vi.name, "kind": "tensor", "dtype": dtype, "shape": shape}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--ops", default="", help="comma-separated op types to keep")
    ap.add_argument("--match", choices=("subset", "any"), default="subset")
    ap.add_argument("--no-expanded", action="store_true",
                    help="skip the *_expanded function-body variants")
    args = ap.parse_args(argv)

    wanted = {s.strip() for s in args.ops.split(",") if s.strip()}
    node_dir = os.path.join(args.outdir, "node")
    os.makedirs(node_dir, exist_ok=True)

    cases = collect_testcases(None)
    index = []
    all_ops: set[str] = set()
    n_files = 0
    for case in sorted(cases, key=lambda c: c.name):
        assert case.kind == "node" and case.model is not None and case.data_sets
        model = case.model
        top_ops = {n.op_type for n in model.graph.node}
        expanded = "_expanded" in case.name
        if args.no_expanded and expanded:
            continue
        if wanted:
            if args.match == "subset" and not top_ops <= wanted:
                continue
            if args.match == "any" and not (top_ops & wanted):
                continue

        case_dir = os.path.join(node_dir, case.name)
        if os.path.exists(case_dir):
            shutil.rmtree(case_dir)
        os.makedirs(case_dir)
        with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
            f.write(model.SerializeToString())
        n_files += 1

        g_in, g_out = model.graph.input, model.graph.output
        ins_desc, outs_desc = [], []
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(case_dir, f"test_data_set_{i}")
            os.makedirs(ds)
            for j, v in enumerate(inputs):
                with open(os.path.join(ds, f"input_{j}.pb"), "wb") as f:
                    f.write(_serialize(v, g_in[j]))
                n_files += 1
                if i == 0:
                    ins_desc.append(_describe(v, g_in[j]))
            for j, v in enumerate(outputs):
                with open(os.path.join(ds, f"output_{j}.pb"), "wb") as f:
                    f.write(_serialize(v, g_out[j]))
                n_files += 1
                if i == 0:
                    outs_desc.append(_describe(v, g_out[j]))

        nested = _all_op_types(model.graph)
        all_ops |= top_ops
        index.append({
            "name": case.name,
            "op_types": sorted(top_ops),
            "all_op_types": sorted(nested),
            "domains": sorted({n.domain for n in model.graph.node}),
            "opset": {o.domain: o.version for o in model.opset_import},
            "expanded": expanded,
            "rtol": case.rtol,
            "atol": case.atol,
            "inputs": ins_desc,
            "outputs": outs_desc,
            "data_sets": len(case.data_sets),
        })

    with open(os.path.join(node_dir, "index.json"), "w") as f:
        json.dump({"onnx_version": onnx.__version__, "cases": index}, f, indent=1,
                  sort_keys=True)
    non_exp = [c for c in index if not c["expanded"]]
    primary_ops = {op for c in non_exp for op in c["op_types"]}
    print(f"onnx {onnx.__version__}: wrote {len(index)} cases "
          f"({len(non_exp)} plain, {len(index) - len(non_exp)} expanded), "
          f"{n_files} files, {len(primary_ops)} op types in plain cases, "
          f"{len(all_ops)} op types overall -> {node_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
