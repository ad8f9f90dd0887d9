#!/usr/bin/env python3
"""The input/output order fixture for tool/tests/io_order.rs (committed; rerun to regenerate).

    python tool/tests/data/io_order/make_io_order.py      (needs onnx and numpy)

Writes, next to this script:
  io_order.onnx           three graph inputs of different shapes, declared as
                            x: [2, 3], y: [3], z: [2, 1]
                          and two outputs, declared as
                            first  = y + 1                  [3]
                            second = z * (2 * y - x)        [2, 3]
                          The nodes are listed so that a topological walk from the outputs
                          meets the inputs in another order (z, y, x), so a converter that
                          numbers inputs by evaluation order gets them wrong.
  io_order_expected.json  the inputs (by declared position) and the expected outputs,
                          computed with numpy from the formulas above (an independent
                          reference: no ONNX runtime involved).
  params_as_inputs.onnx   weights fed as graph inputs, declared as
                            x: [1, 2, 5, 5], W: [3, 2, 3, 3], B: [3],
                            scale: [3], bias: [3], mean: [3], var: [3]
                          and one output y = BatchNormalization(Conv(x, W, B, pads 1,
                          stride 1), scale, bias, mean, var, epsilon 1e-3)  [1, 3, 5, 5]
                          (as in the ONNX node tests; exporters write initializers).
  params_as_inputs_expected.json   inputs and the numpy output (direct convolution loop).
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("x", f, [2, 3]),
        helper.make_tensor_value_info("y", f, [3]),
        helper.make_tensor_value_info("z", f, [2, 1]),
    ]
    outputs = [
        helper.make_tensor_value_info("first", f, [3]),
        helper.make_tensor_value_info("second", f, [2, 3]),
    ]
    inits = [
        numpy_helper.from_array(np.array([2.0], np.float32), "two"),
        numpy_helper.from_array(np.array([1.0], np.float32), "one"),
    ]
    nodes = [
        # second: z is the first operand, so a walk from the outputs reaches z first.
        helper.make_node("Mul", ["z", "diff"], ["second"], name="scale_by_z"),
        helper.make_node("Mul", ["y", "two"], ["y2"], name="double_y"),
        helper.make_node("Sub", ["y2", "x"], ["diff"], name="minus_x"),
        helper.make_node("Add", ["y", "one"], ["first"], name="y_plus_one"),
    ]
    # Topologically sorted for the checker, keeping the "z first" operand order.
    nodes = [nodes[1], nodes[2], nodes[0], nodes[3]]
    graph = helper.make_graph(nodes, "io_order", inputs, outputs, inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="ferrite io_order fixture",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "io_order.onnx"))

    x = np.array([[1.0, -2.0, 3.5], [0.25, 4.0, -1.5]], np.float32)
    y = np.array([10.0, -20.0, 30.0], np.float32)
    z = np.array([[2.0], [-3.0]], np.float32)
    first = y + np.float32(1.0)
    second = z * (np.float32(2.0) * y - x)
    expected = {
        "inputs": [
            {"name": "x", "shape": list(x.shape), "values": f32_list(x.ravel())},
            {"name": "y", "shape": list(y.shape), "values": f32_list(y.ravel())},
            {"name": "z", "shape": list(z.shape), "values": f32_list(z.ravel())},
        ],
        "outputs": [
            {"name": "first", "shape": list(first.shape), "values": f32_list(first.ravel())},
            {"name": "second", "shape": list(second.shape), "values": f32_list(second.ravel())},
        ],
    }
    write_expected("io_order_expected.json", expected)
    params_as_inputs()


def params_as_inputs():
    f = TensorProto.FLOAT
    shapes = [
        ("x", [1, 2, 5, 5]),
        ("W", [3, 2, 3, 3]),
        ("B", [3]),
        ("scale", [3]),
        ("bias", [3]),
        ("mean", [3]),
        ("var", [3]),
    ]
    inputs = [helper.make_tensor_value_info(n, f, s) for n, s in shapes]
    outputs = [helper.make_tensor_value_info("y", f, [1, 3, 5, 5])]
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node(
            "BatchNormalization",
            ["c", "scale", "bias", "mean", "var"],
            ["y"],
            name="bn",
            epsilon=1e-3,
        ),
    ]
    graph = helper.make_graph(nodes, "params_as_inputs", inputs, outputs)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="ferrite io_order fixture",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "params_as_inputs.onnx"))

    rng = np.random.default_rng(3)
    vals = {
        n: np.round(rng.standard_normal(s), 2).astype(np.float32)
        for n, s in shapes
    }
    vals["var"] = np.abs(vals["var"]) + np.float32(0.5)
    x, w, b = vals["x"].astype(np.float64), vals["W"].astype(np.float64), vals["B"]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    c = np.zeros((1, 3, 5, 5))
    for m in range(3):
        for i in range(5):
            for j in range(5):
                c[0, m, i, j] = np.sum(xp[0, :, i : i + 3, j : j + 3] * w[m]) + b[m]
    r = lambda n: vals[n].astype(np.float64).reshape(1, 3, 1, 1)
    y = (c - r("mean")) / np.sqrt(r("var") + 1e-3) * r("scale") + r("bias")
    expected = {
        "inputs": [
            {"name": n, "shape": list(vals[n].shape), "values": f32_list(vals[n].ravel())}
            for n, _ in shapes
        ],
        "outputs": [
            {"name": "y", "shape": list(y.shape), "values": f32_list(y.astype(np.float32).ravel())}
        ],
    }
    write_expected("params_as_inputs_expected.json", expected)


def f32_list(a):
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(str(np.float32(v))) for v in a]


def write_expected(name, expected):
    with open(os.path.join(HERE, name), "w") as fh:
        # One tensor per line.
        fh.write("{\n")
        for k, key in enumerate(("inputs", "outputs")):
            fh.write(f' "{key}": [\n')
            fh.write(",\n".join("  " + json.dumps(t) for t in expected[key]))
            fh.write("\n ]" + (",\n" if k == 0 else "\n"))
        fh.write("}\n")


if __name__ == "__main__":
    main()
