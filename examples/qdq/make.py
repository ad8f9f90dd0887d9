#!/usr/bin/env python3
"""int8 models made by onnxruntime's own quantizer (onnxruntime.quantization) from the
float models of examples/bench, with the onnxruntime outputs of each quantized file.

What it makes (in this directory, all committed)
------------------------------------------------
For each VARIANT of each model in PLAN:
  MODEL_VARIANT.onnx      quantize_static(...) output (see VARIANTS for the exact call)
  MODEL_VARIANT_ort.npy   float32 [4, *output shape]: onnxruntime (CPU EP) outputs of
                          that quantized file for ../bench/MODEL_test.npy (row i is
                          the output of input row i)
  manifest.json           per file: the call, op types, quantization facts (per-channel
                          DequantizeLinear axes, dtypes, input/output scale and zero
                          point), agreement with the float model
  README.md               the same as tables (rewritten by this script)
Inputs: ../bench/MODEL.onnx (float, BN folded by the exporter),
../bench/MODEL_calib.npy (calibration, fed one row at a time through a
CalibrationDataReader) and ../bench/MODEL_test.npy.

How to rerun (needs onnx, onnxruntime, numpy; run examples/bench/make.py first if
the bench files changed):
    python examples/qdq/make.py
Calibration is MinMax over a fixed data set, so the output is deterministic.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quant_pre_process, quantize_static)

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "bench")

# name suffix -> (pre_process, quantize_static keyword arguments)
VARIANTS = {
    # what users get when they accept every default: QDQ, per-tensor, S8 activations
    "qdq_pt_s8": (True, dict(quant_format=QuantFormat.QDQ, per_channel=False,
                             activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)),
    "qdq_pc_s8": (True, dict(quant_format=QuantFormat.QDQ, per_channel=True,
                             activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)),
    "qdq_pc_u8": (True, dict(quant_format=QuantFormat.QDQ, per_channel=True,
                             activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)),
    "qdq_pc_s8_noprep": (False, dict(quant_format=QuantFormat.QDQ, per_channel=True,
                                     activation_type=QuantType.QInt8,
                                     weight_type=QuantType.QInt8)),
    "qop_pc_u8": (True, dict(quant_format=QuantFormat.QOperator, per_channel=True,
                             activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)),
    "qop_pt_s8": (True, dict(quant_format=QuantFormat.QOperator, per_channel=False,
                             activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)),
}
PLAN = {
    "kws_dscnn": list(VARIANTS),
    "resnet8": ["qdq_pt_s8", "qdq_pc_s8"],
    "vww_mobilenetv1": ["qdq_pt_s8", "qdq_pc_s8"],
    "mobilenetv2_035": ["qdq_pt_s8", "qdq_pc_s8"],
    "ad_autoencoder": ["qdq_pc_s8"],
}


class NpyReader(CalibrationDataReader):
    """Feeds the rows of an [N, *input shape] array one at a time."""

    def __init__(self, name: str, data: np.ndarray):
        self.name, self.data, self.i = name, data, 0

    def get_next(self):
        if self.i >= len(self.data):
            return None
        self.i += 1
        return {self.name: self.data[self.i - 1]}

    def rewind(self):
        self.i = 0


def call_text(prep: bool, kw: dict) -> str:
    args = ", ".join(f"{k}={v}" for k, v in kw.items())
    pre = ("quant_pre_process(MODEL.onnx, pre.onnx); quantize_static(pre.onnx, OUT.onnx, "
           if prep else "quantize_static(MODEL.onnx, OUT.onnx, ")
    return pre + f"calibration_data_reader=NpyReader(calib), {args})"


def quant_facts(m: onnx.ModelProto) -> dict:
    """Facts an importer needs: how weights and biases are stored, where the
    per-channel axes are, which ops stay float, and the scale / zero point at the
    graph's edges."""
    inits = {i.name: i for i in m.graph.initializer}
    producers = {o: n for n in m.graph.node for o in n.output}

    def arr(name):
        if name in inits:
            return numpy_helper.to_array(inits[name])
        n = producers.get(name)
        if n is not None and n.op_type == "Constant":
            return numpy_helper.to_array(n.attribute[0].t)
        return None

    def dq_summary(nodes):
        axes = sorted({a.i for n in nodes for a in n.attribute if a.name == "axis"})
        return {"count": len(nodes),
                "per_channel": sum(arr(n.input[1]).size > 1 for n in nodes),
                "axis_attributes": axes,
                "zero_points_all_zero": all(not np.any(arr(n.input[2])) for n in nodes
                                            if len(n.input) > 2)}

    dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear"]
    dq_w = [n for n in dq if n.input[0] in inits and arr(n.input[0]).dtype in (np.int8,
                                                                               np.uint8)]
    dq_b = [n for n in dq if n.input[0] in inits and arr(n.input[0]).dtype == np.int32]
    float_bias = sorted({n.op_type for n in m.graph.node
                         if n.op_type in ("Conv", "Gemm") and len(n.input) > 2
                         and n.input[2] in inits
                         and inits[n.input[2]].data_type == onnx.TensorProto.FLOAT})
    facts = {
        "quantize_linear": sum(n.op_type == "QuantizeLinear" for n in m.graph.node),
        "dequantize_linear": len(dq),
        "weights_int8_behind_dequantize_linear": dq_summary(dq_w),
        "biases_int32_behind_dequantize_linear": dq_summary(dq_b),
        "ops_with_float_bias_initializer": float_bias,
        "non_default_domain_ops": sorted({f"{n.domain}.{n.op_type}" for n in m.graph.node
                                          if n.domain}),
        "float_ops_between_dq_and_q": sorted({
            n.op_type for n in m.graph.node
            if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and not n.domain
            and not n.op_type.startswith("QLinear")
            and any(producers.get(i) is not None
                    and producers[i].op_type == "DequantizeLinear" for i in n.input)}),
    }
    first = next((n for n in m.graph.node if m.graph.input[0].name in n.input), None)
    if first is not None and first.op_type == "QuantizeLinear":
        facts["input_scale"] = float(arr(first.input[1]))
        facts["input_zero_point"] = int(arr(first.input[2]))
        facts["input_quant_dtype"] = str(arr(first.input[2]).dtype)
    last = producers.get(m.graph.output[0].name)
    if last is not None and last.op_type == "DequantizeLinear":
        facts["output_scale"] = float(arr(last.input[1]))
        facts["output_zero_point"] = int(arr(last.input[2]))
        facts["output_quant_dtype"] = str(arr(last.input[2]).dtype)
    else:
        facts["output_produced_by"] = last.op_type if last is not None else None
    return facts


def run(path, name, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.stack([sess.run(None, {name: xi})[0] for xi in x])


def main() -> int:
    bench = json.load(open(os.path.join(BENCH, "manifest.json")))
    manifest = {"versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__,
                             "numpy": np.__version__},
                "calibrate_method": "MinMax (quantize_static default)",
                "variants": {k: call_text(p, kw) for k, (p, kw) in VARIANTS.items()},
                "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for model, variants in PLAN.items():
            src = os.path.join(BENCH, f"{model}.onnx")
            in_name = bench["models"][model]["input"]["name"]
            calib = np.load(os.path.join(BENCH, f"{model}_calib.npy"))
            test = np.load(os.path.join(BENCH, f"{model}_test.npy"))
            float_ort = np.load(os.path.join(BENCH, f"{model}_ort.npy"))
            pre = os.path.join(tmp, f"{model}_pre.onnx")
            quant_pre_process(src, pre)
            pre_ops = sorted({n.op_type for n in onnx.load(pre).graph.node})
            for v in variants:
                prep, kw = VARIANTS[v]
                name = f"{model}_{v}"
                path = os.path.join(HERE, f"{name}.onnx")
                quantize_static(pre if prep else src, path, NpyReader(in_name, calib), **kw)
                m = onnx.load(path)
                onnx.checker.check_model(m, full_check=True)
                out = run(path, in_name, test)
                np.save(os.path.join(HERE, f"{name}_ort.npy"), out)
                facts = quant_facts(m)
                err = np.abs(out - float_ort)
                entry = {
                    "source": f"../bench/{model}.onnx",
                    "call": call_text(prep, kw),
                    "quant_pre_process": prep,
                    "file": f"{name}.onnx", "bytes": os.path.getsize(path),
                    "ort": f"{name}_ort.npy", "ort_shape": list(out.shape),
                    "test": f"../bench/{model}_test.npy",
                    "calib": f"../bench/{model}_calib.npy",
                    "input": {"name": in_name, "dtype": "float32",
                              "shape": bench["models"][model]["input"]["shape"]},
                    "output": bench["models"][model]["output"],
                    "op_types": sorted({n.op_type for n in m.graph.node}),
                    "op_counts": {t: sum(n.op_type == t for n in m.graph.node)
                                  for t in sorted({n.op_type for n in m.graph.node})},
                    "opset_import": [[o.domain, o.version] for o in m.opset_import],
                    "ir_version": m.ir_version,
                    "preprocessed_float_op_types": pre_ops if prep else None,
                    "quantization": facts,
                    "max_abs_diff_vs_float_ort": float(err.max()),
                }
                if "output_scale" in facts:
                    entry["max_diff_vs_float_in_output_steps"] = float(
                        err.max() / facts["output_scale"])
                if bench["models"][model]["output"]["name"] == "probabilities":
                    entry["top1_agrees_with_float"] = [
                        bool(a == b) for a, b in zip(out.reshape(len(out), -1).argmax(1),
                                                     float_ort.reshape(len(out), -1).argmax(1))]
                manifest["models"][name] = entry
                print(f"{name}: {entry['bytes']} B {entry['op_counts']} "
                      f"|q-f| {err.max():.3g} {facts}")
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    write_readme(manifest)
    return 0


def write_readme(man: dict) -> None:
    v = man["versions"]
    calls = "\n".join(f"- `{k}`: `{c}`" for k, c in man["variants"].items())
    rows = []
    for name, e in man["models"].items():
        q = e["quantization"]
        w, b = q["weights_int8_behind_dequantize_linear"], q["biases_int32_behind_dequantize_linear"]
        ops = ", ".join(f"{t}×{c}" for t, c in e["op_counts"].items())
        edge = (f"in {q.get('input_quant_dtype', '?')} s={q.get('input_scale', 0):.4g} "
                f"zp={q.get('input_zero_point', '?')}; out {q.get('output_quant_dtype', '?')} "
                f"s={q.get('output_scale', 0):.4g} zp={q.get('output_zero_point', '?')}")
        wdesc = (f"{w['count']} int8 ({w['per_channel']} per-channel, axis "
                 f"{w['axis_attributes'] or '—'}); {b['count']} int32 biases"
                 if w["count"] else "inside QLinear*/QGemm (no DequantizeLinear)")
        top1 = e.get("top1_agrees_with_float")
        agree = (f"max abs diff {e['max_abs_diff_vs_float_ort']:.3g}"
                 + (f" = {e['max_diff_vs_float_in_output_steps']:.2f} output steps"
                    if "max_diff_vs_float_in_output_steps" in e else "")
                 + (f"; top-1 same on {sum(top1)}/{len(top1)}" if top1 else ""))
        rows.append(f"| `{name}` | {e['bytes']:,} | {ops} | {wdesc} | {edge} | {agree} |")
    text = f"""# qdq — int8 models from onnxruntime's quantizer

Generated by `make.py` (rerun: `python examples/qdq/make.py`; needs onnx, onnxruntime,
numpy — no torch; it reads `../bench`). onnx {v['onnx']}, onnxruntime
{v['onnxruntime']}, numpy {v['numpy']}. `manifest.json` holds everything below
machine-readably (op counts, quantization facts, the exact call per file).
`check.py` re-runs onnxruntime on the committed files (needs only onnx, onnxruntime,
numpy — `tests/requirements.txt`).

Source models: `../bench/MODEL.onnx` (float32, static batch 1, BatchNorm folded into
Conv by the exporter). Calibration: `../bench/MODEL_calib.npy`, one row per
`get_next()` of a `CalibrationDataReader` (`NpyReader` in `make.py`), calibrate
method MinMax (the default). Test inputs: `../bench/MODEL_test.npy`; `NAME_ort.npy` is
onnxruntime's (CPU EP) float32 output of `NAME.onnx` for them, shape [4, *output
shape], row i for input row i. The float reference is `../bench/MODEL_ort.npy`.

onnxruntime {v['onnxruntime']} `quantize_static` defaults: `quant_format=QDQ`,
`per_channel=False`, `activation_type=QInt8`, `weight_type=QInt8`,
`calibrate_method=MinMax`, `reduce_range=False` — so `qdq_pt_s8` is the file a user
gets by passing only the model paths and a data reader. The exact calls:

{calls}

| file | bytes | ops (count) | weights / biases | graph input / output quantization | vs float model (onnxruntime) |
|---|---|---|---|---|---|
""" + "\n".join(rows) + NOTES
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(text)


NOTES = """

What an importer meets (checked on these files; `quantization` in `manifest.json`)
- **QDQ files keep float ops between DequantizeLinear and QuantizeLinear**: every
  activation tensor is `QuantizeLinear → DequantizeLinear` (per-tensor scale and zero
  point, no `axis`), and Conv / Gemm / AveragePool / Add / Flatten / Softmax /
  GlobalAveragePool stay float ops reading DQ outputs. The graph input is float32
  and goes through a `QuantizeLinear` first; the output is the float32 result of a
  final `DequantizeLinear`.
- **Weights are int8 initializers behind a DequantizeLinear**, never a
  QuantizeLinear of float weights. Per-channel files give those DQs a 1-D scale and
  zero point (one per output channel) and an explicit `axis=0` attribute — for Conv
  `[out, in/groups, kh, kw]` and for Gemm, whose weight is `[out, in]` with
  `transB=1`. Per-tensor files give scalar scales and no `axis`. Weight zero points
  are all 0 (symmetric), int8.
- **Biases are int32 initializers behind a DequantizeLinear** with scale = input
  scale × weight scale (per channel when the weights are), zero point 0.
- **ReLU and ReLU6 disappear**: the quantizer removes `Relu` and `Clip` and lets
  the following `QuantizeLinear` do the clamping — its range was calibrated on the
  activation's output, so its zero point sits at the bottom of the int8 range
  (−128 for S8, 0 for U8) and values below 0 (and above the calibrated maximum,
  ≤ 6 for ReLU6) saturate. `quant_pre_process` keeps them in the float model it
  hands over (see `preprocessed_float_op_types`); the quantizer drops them.
- **The autoencoder's BatchNormalization stays a float op**: its scale and bias
  become int8 / int32 initializers behind per-tensor DQs, its mean and variance
  stay float32; the Gemm weights are per-channel.
- **QOperator files** (`qop_*`) use `QLinearConv` (ai.onnx), but the fully
  connected layer becomes `QGemm`, pooling `QLinearAveragePool` and the softmax
  `QLinearSoftmax` — all three in the **`com.microsoft`** domain (onnxruntime
  contrib ops). `Flatten` runs on the quantized tensor. Biases are int32 initializers
  fed straight into QLinearConv / QGemm. QGemm's inputs are (A, A scale, A zero
  point, B, B scale, B zero point, C int32, Y scale, Y zero point) with `transB=1`,
  and its B scale / zero point are per-channel vectors in `qop_pc_u8`.
- **`quant_pre_process` stamps many opset imports**: its output (and every
  quantized file made from it) imports `ai.onnx` 17 plus `ai.onnx.ml` 5,
  `ai.onnx.training`, `ai.onnx.preview`, `com.microsoft`, `ai.onnx.preview.training`,
  `com.microsoft.experimental`, `com.microsoft.nchwc` and `org.pytorch.aten`, none of
  them used by a QDQ file's nodes. An importer must accept unused opset imports.
  `qdq_pc_s8_noprep` (no pre-processing) imports only `ai.onnx` 17; its nodes,
  initializers, inputs and outputs are byte-identical to `qdq_pc_s8` (these models
  were already BN-folded and shape-complete), the rest differs only in the imports,
  one `value_info` entry and a `metadata_props` entry `onnx.quant.pre_process`.
- QDQ files are IR version 8, `producer_name` `onnx.quantize`.

Tolerances: onnxruntime's int8 kernels are not a bit-exact reference for another
runtime's requantization (rounding of the fixed-point multiplier differs); compare
a ferrite int8 output with `NAME_ort.npy` in output quantization steps
(`output_scale`), and its labels with the float labels.
"""


if __name__ == "__main__":
    sys.exit(main())
