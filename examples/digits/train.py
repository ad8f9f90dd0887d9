#!/usr/bin/env python3
"""Train a small digits MLP in PyTorch and export it with torch.onnx.export.

What it makes (all in this directory, all committed):
  digits_mlp.onnx     64 -> 64 -> 32 -> 10 MLP (ReLU), final Softmax in the graph,
                      input "input" float32 [batch, 64], output "probabilities"
                      float32 [batch, 10]; exported by the TorchScript exporter
                      (torch.onnx.export(..., dynamo=False), opset 17, dynamic batch).
  calib.csv           200 training rows (random, seed 0), header f0..f63
  test.csv            the 360 held-out rows (20 % stratified split), header f0..f63
  test_labels.csv     header "label", one integer 0..9 per test row
  reference_ort.csv   onnxruntime output for test.csv, header p0..p9, "%.9g"
  README.md           data layout and measured accuracy (rewritten by this script)

Data: scikit-learn's bundled load_digits (1,797 8x8 images, no download), features
are the 64 pixel values (0..16) divided by 16 -> [0, 1], row-major (f0 = top-left).
Split: train_test_split(test_size=0.2, stratify=y, random_state=0).

How to rerun (needs torch; CI does not, the outputs are committed):
    pip install torch
    python examples/digits/train.py
Seeds are fixed (numpy 0, torch 0, one thread); with the same torch version the
run is bit-reproducible on one machine. Other torch versions / CPUs may give
slightly different weights; tests must use the committed reference files, not
retrain.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
OPSET = 17


def write_csv(path, arr, header, fmt="%.9g"):
    np.savetxt(path, arr, fmt=fmt, delimiter=",", header=",".join(header), comments="")


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(64, 64), torch.nn.ReLU(),
            torch.nn.Linear(64, 32), torch.nn.ReLU(),
            torch.nn.Linear(32, 10),
        )

    def forward(self, x):  # logits, used for training
        return self.body(x)


class WithSoftmax(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.softmax = torch.nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.net(x))


def main() -> int:
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y,
                                              random_state=SEED)

    net = MLP()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X_tr), torch.from_numpy(y_tr)
    g = torch.Generator().manual_seed(SEED)
    for epoch in range(60):
        net.train()
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model = WithSoftmax(net).eval()

    with torch.no_grad():
        p_torch = model(torch.from_numpy(X_te)).numpy()
        acc_train = float((model(Xt).argmax(1).numpy() == y_tr).mean())
    acc_torch = float((p_torch.argmax(1) == y_te).mean())

    onnx_path = os.path.join(HERE, "digits_mlp.onnx")
    torch.onnx.export(
        model, (torch.zeros(1, 64),), onnx_path, dynamo=False, opset_version=OPSET,
        input_names=["input"], output_names=["probabilities"],
        dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}},
        do_constant_folding=True,
    )
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    p_ort = sess.run(None, {"input": X_te})[0]
    acc_ort = float((p_ort.argmax(1) == y_te).mean())
    max_diff = float(np.abs(p_ort - p_torch).max())
    # per-row batch-of-1 run must agree with the batched run (what a device does)
    p_rows = np.concatenate([sess.run(None, {"input": X_te[i:i + 1]})[0]
                             for i in range(len(X_te))])
    row_diff = float(np.abs(p_rows - p_ort).max())

    rng = np.random.default_rng(SEED)
    calib = X_tr[np.sort(rng.choice(len(X_tr), size=200, replace=False))]
    fcols = [f"f{i}" for i in range(64)]
    write_csv(os.path.join(HERE, "calib.csv"), calib, fcols)
    write_csv(os.path.join(HERE, "test.csv"), X_te, fcols)
    write_csv(os.path.join(HERE, "test_labels.csv"), y_te[:, None], ["label"], fmt="%d")
    write_csv(os.path.join(HERE, "reference_ort.csv"), p_ort, [f"p{i}" for i in range(10)])

    # check: the committed CSV round-trips to what onnxruntime gives on the parsed input
    X_back = np.loadtxt(os.path.join(HERE, "test.csv"), delimiter=",", skiprows=1,
                        dtype=np.float32)
    ref_back = np.loadtxt(os.path.join(HERE, "reference_ort.csv"), delimiter=",",
                          skiprows=1, dtype=np.float32)
    assert np.array_equal(X_back, X_te)
    assert np.array_equal(sess.run(None, {"input": X_back})[0], ref_back)

    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    gemm_attrs = [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
                  for n in m.graph.node if n.op_type == "Gemm"]
    n_params = sum(int(np.prod(v)) for v in inits.values())
    summary = {
        "train rows": len(X_tr), "test rows": len(X_te),
        "train accuracy (torch)": acc_train,
        "test accuracy (torch)": acc_torch, "test accuracy (onnxruntime)": acc_ort,
        "max |ort - torch|": max_diff, "max |batch-1 - batched| (ort)": row_diff,
    }
    for k, v in summary.items():
        print(f"{k}: {v}")
    print("ops:", ops)
    print("initializers:", inits)
    print("Gemm attributes:", gemm_attrs)

    readme = f"""# digits — PyTorch MLP exported to ONNX

Generated by `train.py` (rerun: `python examples/digits/train.py`,
needs `torch`; CI only reads the committed files). Torch {torch.__version__},
onnx {onnx.__version__}, onnxruntime {ort.__version__}.

## Model: `digits_mlp.onnx` ({os.path.getsize(onnx_path)} bytes, {n_params} parameters)
- 64 → 64 → 32 → 10, ReLU, final `Softmax(axis=1)` (outputs are probabilities).
- Exported by `torch.onnx.export(..., dynamo=False, opset_version={OPSET})` (the
  TorchScript exporter, deprecated since torch 2.9, whose default is the
  torch.export-based exporter: it needs onnxscript, emits opset 18 by default and
  converts down with onnx's version converter when asked for 17; for this MLP it
  gives the same six ops, IR version 10 instead of 8 — see
  `../sensor/sensor_cnn_dynamo.onnx` for a graph where the two exporters differ). Producer `{m.producer_name} {m.producer_version}`,
  IR version {m.ir_version}, opset {', '.join(f'{o.domain or "ai.onnx"} {o.version}' for o in m.opset_import)}.
- Input `input` float32 `[batch, 64]`, output `probabilities` float32 `[batch, 10]`;
  the batch dimension is symbolic (`dim_param: "batch"`).
- Ops (in order): {', '.join(ops)}.
- Initializers: {', '.join(f'`{k}` {v}' for k, v in inits.items())}.
  Gemm uses `transB=1`: weights are stored PyTorch-style `[out, in]`.

## Data
- scikit-learn's bundled `load_digits` (8×8 images), features = pixel / 16 in [0, 1],
  row-major (`f0` top-left … `f63` bottom-right).
- 80/20 stratified split, `random_state=0`: {len(X_tr)} train rows, {len(X_te)} test rows.
- `calib.csv`: 200 random training rows (seed 0) for int8 calibration, header `f0..f63`.
- `test.csv`: all {len(X_te)} test rows, header `f0..f63`; `test_labels.csv`: header `label`.
- `reference_ort.csv`: onnxruntime probabilities for every `test.csv` row, header
  `p0..p9`, written with `%.9g` (round-trips float32 exactly).
- Every CSV has one header line, comma-separated, no index column.

## Measured (float32)
| | value |
|---|---|
| train accuracy (torch) | {acc_train:.4f} |
| test accuracy (torch) | {acc_torch:.4f} |
| test accuracy (onnxruntime) | {acc_ort:.4f} ({int(round(acc_ort * len(y_te)))}/{len(y_te)}) |
| max abs diff onnxruntime vs torch | {max_diff:.3g} |
| max abs diff batch-of-1 vs batched (onnxruntime) | {row_diff:.3g} |
"""
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
