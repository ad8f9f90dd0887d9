#!/usr/bin/env python3
"""Count multiply-accumulates (MACs) and parameters of an ONNX model from its graph.

Counted ops (shapes from onnx.shape_inference, so the model needs static shapes; the
figures are for one inference of the model's static input shape, batch 1 here):
  Conv                 out_h * out_w * out_c * k_h * k_w * in_c / groups
                       (1-D convs drop the missing spatial dim)
  Gemm, MatMul         rows * in_features * out_features
  QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger: as Conv / MatMul
Not counted: BatchNormalization, pooling, Add, activations, Softmax (they are
element-wise or reductions, O(activations), and a folded BN costs nothing).
Parameters: the element count of every initializer that is not an integer shape /
axes / index tensor (int64 or int32 initializers of at most 8 elements).

Usage: python examples/bench/count_macs.py MODEL.onnx [...]
needs only `onnx` and `numpy`.
"""
from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import shape_inference

CONV_OPS = {"Conv": 1, "QLinearConv": 3, "ConvInteger": 1}
MATMUL_OPS = {"Gemm", "MatMul", "QLinearMatMul", "MatMulInteger"}


def _shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    out = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        out[vi.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
    for init in g.initializer:
        out[init.name] = list(init.dims)
    return out


def count(model: onnx.ModelProto) -> dict:
    """Return {"macs": int, "params": int, "per_op": [(node name, op, macs)]}."""
    shapes = _shapes(model)
    per_op = []
    for node in model.graph.node:
        macs = 0
        if node.op_type in CONV_OPS:
            w = shapes[node.input[CONV_OPS[node.op_type]]]
            y = shapes[node.output[0]]
            # w is [out_c, in_c / groups, k...]: each output element costs prod(w[1:])
            macs = y[0] * int(np.prod(y[2:])) * y[1] * int(np.prod(w[1:]))
            assert macs > 0, node.name
        elif node.op_type in MATMUL_OPS:
            if node.op_type == "QLinearMatMul":
                a, b = shapes[node.input[0]], shapes[node.input[3]]
            else:
                a, b = shapes[node.input[0]], shapes[node.input[1]]
            trans_b = next((a_.i for a_ in node.attribute if a_.name == "transB"), 0)
            k = a[-1]
            n = b[0] if (node.op_type == "Gemm" and trans_b) else b[-1]
            rows = int(np.prod(a[:-1]))
            macs = rows * k * n
        if macs:
            per_op.append((node.name, node.op_type, macs))
    params = 0
    for init in model.graph.initializer:
        n = int(np.prod(init.dims)) if init.dims else 1
        is_index = init.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and n <= 8
        if not is_index:
            params += n
    return {"macs": sum(m for _, _, m in per_op), "params": params, "per_op": per_op}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for path in argv:
        c = count(onnx.load(path))
        print(f"{path}: {c['macs']} MACs, {c['params']} parameters")
        for name, op, m in c["per_op"]:
            print(f"    {op:14s} {m:>10d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
