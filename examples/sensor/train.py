#!/usr/bin/env python3
"""Train the sensor 1D-CNN in PyTorch, export it with torch.onnx.export, and
regenerate every file of examples/sensor/.

What it makes (in this directory, committed)
--------------------------------------------
  calib.csv, test.csv, test_labels.csv, trace.csv   via make_data.main()
  sensor_cnn.onnx        Conv1d(3->8,k5,pad2) -> ReLU -> MaxPool1d(2) ->
                         Conv1d(8->16,k5,pad2) -> ReLU -> AdaptiveAvgPool1d(1) ->
                         Flatten -> Linear(16->4) -> Softmax; input "window"
                         float32 [1, 3, 64] (static), output "probabilities"
                         float32 [1, 4]; TorchScript exporter
                         (torch.onnx.export(..., dynamo=False)), opset 17
  reference_ort.csv      onnxruntime output for each test.csv row, header p0..p3
  trace_reference_ort.csv  onnxruntime output on the sliding windows of trace.csv
                         (window 64, hop 32, input = float32(mg / 1000)):
                         header start,label,p0..p3 (label -1 = activity change)
  sensor_cnn_dynamo.onnx the same weights through the default torch.export-based
                         exporter (dynamo=True, opset 18; needs onnxscript) —
                         a second real-exporter graph shape, same references
  sensor_features_model.onnx, features_reference.csv, features_model_ort.csv,
  trace_features_reference.csv   via train_features.run()
  README.md              rewritten with the measured numbers

How to rerun (needs torch; CI only reads the committed files)
-------------------------------------------------------------
    pip install torch onnxscript
    python examples/sensor/train.py
Fixed seeds (data 2024, torch 0, one thread, deterministic algorithms): the
same torch version reproduces the same bytes on one machine.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_data  # noqa: E402
import train_features  # noqa: E402
from features import FEATURE_NAMES  # noqa: E402

SEED = 0
OPSET = 17


class SensorCNN(torch.nn.Module):
    def __init__(self, n_classes: int = 4):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv1d(3, 8, kernel_size=5, padding=2), torch.nn.ReLU(),
            torch.nn.MaxPool1d(2),
            torch.nn.Conv1d(8, 16, kernel_size=5, padding=2), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(16, n_classes)

    def forward(self, x):  # logits
        return self.head(self.features(x))


class WithSoftmax(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.softmax = torch.nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.net(x))


def export_dynamo_variant(model, p_ref, X_te):
    """Same trained weights through torch's default (torch.export / dynamo) exporter,
    opset 18 -> sensor_cnn_dynamo.onnx. It needs onnxscript; skipped without it.
    Its outputs must match reference_ort.csv (asserted here within 1e-6)."""
    path = os.path.join(HERE, "sensor_cnn_dynamo.onnx")
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        print("onnxscript not installed: sensor_cnn_dynamo.onnx not regenerated")
        return None
    prog = torch.onnx.export(model, (torch.zeros(1, 3, make_data.WIN),), None, dynamo=True,
                             opset_version=18, input_names=["window"],
                             output_names=["probabilities"], verbose=False)
    proto = prog.model_proto
    # The exporter records Python stack traces (with this machine's file paths) as node
    # metadata: drop them so the committed file carries no local paths.
    for node in proto.graph.node:
        del node.metadata_props[:]
    del proto.metadata_props[:]
    onnx.save(proto, path)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    p = np.concatenate([sess.run(None, {"window": X_te[i:i + 1]})[0] for i in range(len(X_te))])
    diff = float(np.abs(p - p_ref).max())
    assert diff < 1e-6, diff
    return {"ops": [n.op_type for n in m.graph.node], "bytes": os.path.getsize(path),
            "ir": m.ir_version, "opset": [(o.domain or "ai.onnx", o.version) for o in m.opset_import],
            "max_diff": diff}


def main() -> int:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    make_data.main()
    d = make_data.make_dataset()
    X_tr = make_data.to_model_input(d["train_mg"])
    X_te = make_data.to_model_input(d["test_mg"])
    y_tr, y_te = d["train_y"], d["test_y"]

    net = SensorCNN()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X_tr), torch.from_numpy(y_tr)
    g = torch.Generator().manual_seed(SEED)
    for epoch in range(40):
        net.train()
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model = WithSoftmax(net).eval()
    with torch.no_grad():
        acc_train = float((model(Xt).argmax(1).numpy() == y_tr).mean())
        p_torch = model(torch.from_numpy(X_te)).numpy()
    acc_torch = float((p_torch.argmax(1) == y_te).mean())

    path = os.path.join(HERE, "sensor_cnn.onnx")
    torch.onnx.export(model, (torch.zeros(1, 3, make_data.WIN),), path, dynamo=False,
                      opset_version=OPSET, input_names=["window"],
                      output_names=["probabilities"], do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def run_rows(X):
        return np.concatenate([sess.run(None, {"window": X[i:i + 1]})[0] for i in range(len(X))])

    p_ort = run_rows(X_te)
    acc_ort = float((p_ort.argmax(1) == y_te).mean())
    max_diff = float(np.abs(p_ort - p_torch).max())
    conf = np.zeros((4, 4), dtype=int)
    for t, p in zip(y_te, p_ort.argmax(1)):
        conf[t, p] += 1
    make_data.write_csv(os.path.join(HERE, "reference_ort.csv"), p_ort,
                        [f"p{i}" for i in range(4)])
    # the committed test.csv parses back to exactly X_te, and gives the reference
    X_back = np.loadtxt(os.path.join(HERE, "test.csv"), delimiter=",", skiprows=1,
                        dtype=np.float32).reshape(-1, 3, make_data.WIN)
    assert np.array_equal(X_back, X_te)
    ref_back = np.loadtxt(os.path.join(HERE, "reference_ort.csv"), delimiter=",",
                          skiprows=1, dtype=np.float32)
    assert np.array_equal(run_rows(X_back), ref_back)

    mg, lab = make_data.make_trace()
    trace_back = np.loadtxt(os.path.join(HERE, "trace.csv"), delimiter=",", skiprows=1,
                            dtype=np.int64)
    assert np.array_equal(trace_back, mg)
    starts, tw, ty = make_data.trace_windows(mg, lab)
    pt = run_rows(make_data.to_model_input(tw))
    make_data.write_csv(os.path.join(HERE, "trace_reference_ort.csv"),
                        np.column_stack([starts, ty, pt]), ["start", "label", "p0", "p1", "p2", "p3"])
    known = ty >= 0
    acc_trace = float((pt.argmax(1)[known] == ty[known]).mean())

    dyn = export_dynamo_variant(model, p_ort, X_te)

    feat = train_features.run()

    ops = [n.op_type for n in m.graph.node]
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    attrs = {n.op_type + str(k): {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
             for k, n in enumerate(m.graph.node) if n.op_type in ("Conv", "MaxPool")}
    n_params = sum(int(np.prod(v)) for v in inits.values())
    ins = [(i.name, [dd.dim_value or dd.dim_param for dd in i.type.tensor_type.shape.dim])
           for i in m.graph.input]
    outs = [(o.name, [dd.dim_value or dd.dim_param for dd in o.type.tensor_type.shape.dim])
            for o in m.graph.output]
    print("train/test windows:", len(X_tr), len(X_te))
    print("CNN accuracy train/torch-test/ort-test/trace:", acc_train, acc_torch, acc_ort, acc_trace)
    print("max |ort - torch|:", max_diff)
    print("ops:", ops, "\ninits:", inits, "\nattrs:", attrs, "\nio:", ins, outs)
    print("confusion (rows true, cols predicted):\n", conf)
    for k, v in feat.items():
        print(f"features model {k}: {v}")

    cls = make_data.CLASSES
    sched = ", ".join(f"{cls[c]} {s:g} s" for c, s in make_data.TRACE_SCHEDULE)
    conf_md = "\n".join(f"| {cls[i]} | " + " | ".join(str(v) for v in conf[i]) + " |"
                        for i in range(4))
    dyn_md = "" if dyn is None else f"""
### Variant: `sensor_cnn_dynamo.onnx` ({dyn['bytes']} bytes)
The same trained weights exported by torch's *default* exporter since 2.9
(`torch.onnx.export(..., dynamo=True, opset_version=18)`, needs `onnxscript`),
IR version {dyn['ir']}, opset {', '.join(f'{d} {v}' for d, v in dyn['opset'])}. Same input/output
names and shapes; compare it with `reference_ort.csv` (max difference measured:
{dyn['max_diff']:.3g}). Its graph differs from the TorchScript export:
AdaptiveAvgPool1d(1) becomes `Unsqueeze → ReduceMean (axes as an int64 input
tensor, keepdims=1) → Squeeze` instead of `GlobalAveragePool`, Flatten becomes
`Reshape` (`allowzero=1`, shape from an initializer) — and the shape/axes
initializers are int64. Ops: {', '.join(dyn['ops'])}.
"""
    readme = f"""# sensor — accelerometer activity recognition (synthetic data)

Regenerate everything: `python examples/sensor/train.py` (needs
`torch`, and `onnxscript` for the dynamo variant; the data and the feature model alone: `make_data.py`,
`train_features.py`, no torch). Torch {torch.__version__}, onnx {onnx.__version__},
onnxruntime {ort.__version__}. CI only reads the committed files.

## Data (`make_data.py`, seed {make_data.SEED})
Synthetic 3-axis accelerometer at {make_data.FS} Hz: classes
{', '.join(f'{i} = {c}' for i, c in enumerate(cls))}. Gravity (+1 g) on the body z
axis, a random tilt per session (≤ 20°), white noise 5 mg RMS, quantized to 2 mg
steps and clipped to ±4 g like a LIS3DH in ±4 g high-resolution mode. See the
docstring of `make_data.py` for the signal model. Sessions of {make_data.SESSION_S} s,
{make_data.SESSIONS_PER_CLASS} per class, split by session ({make_data.TRAIN_SESSIONS} train / {make_data.SESSIONS_PER_CLASS - make_data.TRAIN_SESSIONS} test):
{len(X_tr)} training windows (hop 16), test windows non-overlapping.

| file | content |
|---|---|
| `calib.csv` | {len(d['calib_mg'])} training windows (32 per class) for int8 calibration |
| `test.csv` | {len(X_te)} held-out windows (40 per class) |
| `test_labels.csv` | header `label`, class index per `test.csv` row |
| `reference_ort.csv` | onnxruntime `sensor_cnn.onnx` output per `test.csv` row, header `p0..p3`, `%.9g` |
| `trace.csv` | {len(mg)} samples = {len(mg) / make_data.FS:g} s continuous, header `ax,ay,az`, **integer milli-g** (even values, −4096..4094) |
| `trace_reference_ort.csv` | CNN output on trace windows (64 samples, hop 32, input = float32(mg / 1000)): `start,label,p0..p3`, label −1 where a window spans an activity change |
| `features_reference.csv` | `features.py` features (float64, `%.17g`) of the first 50 `test.csv` windows, computed on milli-g = round(value × 1000) |
| `features_model_ort.csv` | `sensor_features_model.onnx` output for those 50 feature rows: `label,p0..p3` |
| `trace_features_reference.csv` | features of the trace windows: `start,label,` + 21 feature names |

Window rows in `calib.csv` / `test.csv` are the model input in **g**
(float32(mg / 1000), shortest decimal that round-trips float32), flattened
**channel-major** to 192 columns: `x0..x63,y0..y63,z0..z63` — i.e. exactly
`window.reshape(1, 3, 64)` in C order. A device delivers interleaved samples
(ax, ay, az per tick): transpose the [64, 3] ring buffer into [3, 64] and scale
by 0.001.

Trace schedule: {sched}; activities cross-fade over 0.3 s.

## Model 1: `sensor_cnn.onnx` ({os.path.getsize(path)} bytes, {n_params} parameters)
Conv1d(3→8, k=5, pad=2) → ReLU → MaxPool1d(2) → Conv1d(8→16, k=5, pad=2) → ReLU →
AdaptiveAvgPool1d(1) → Flatten → Linear(16→4) → Softmax, exported by
`torch.onnx.export(..., dynamo=False, opset_version={OPSET})`, producer
`{m.producer_name} {m.producer_version}`, IR version {m.ir_version}.
- Input {ins[0][0]} {ins[0][1]} (static batch 1), output {outs[0][0]} {outs[0][1]}.
- Ops: {', '.join(ops)}.
- Conv1d is exported as ONNX `Conv` with 1-D kernels (weights `[out, in, k]`),
  MaxPool1d as 1-D `MaxPool`, AdaptiveAvgPool1d(1) as `GlobalAveragePool`.
- Initializers: {', '.join(f'`{k}` {v}' for k, v in inits.items())}.

| float32 | accuracy |
|---|---|
| train (torch) | {acc_train:.4f} |
| test (torch) | {acc_torch:.4f} |
| test (onnxruntime) | {acc_ort:.4f} ({int(round(acc_ort * len(y_te)))}/{len(y_te)}) |
| trace windows inside one activity (onnxruntime) | {acc_trace:.4f} ({int(known.sum())} windows) |

max |onnxruntime − torch| on the test set: {max_diff:.3g}.

Confusion on test (rows true, columns predicted, onnxruntime):

| | {' | '.join(cls)} |
|---|---|---|---|---|
{conf_md}

{dyn_md}
## Model 2: window features + `sensor_features_model.onnx` ({feat['bytes']} bytes)
`features.py` is the plain numpy reference of the window aggregates (mean,
population std, min, max, rms, peak-to-peak, zero crossings of the mean-removed
signal, per axis → 21 features `{FEATURE_NAMES[0]} … {FEATURE_NAMES[-1]}`, in
milli-g); its docstring defines each one exactly. `train_features.py` trains
StandardScaler + LogisticRegression on them and exports with skl2onnx
(`zipmap=False`): input `features` float32 [N, 21], outputs
{', '.join(f'`{o}`' for o in feat['outputs'])}.
- Ops: {', '.join(feat['ops'])}; opsets {feat['opset']} (skl2onnx stamps the lowest
  ai.onnx.ml version the ops need, not the requested 3).

| | value |
|---|---|
| train accuracy (sklearn) | {feat['train accuracy (sklearn)']:.4f} |
| test accuracy (sklearn, float64) | {feat['test accuracy (sklearn, float64)']:.4f} |
| test accuracy (onnxruntime, float32) | {feat['test accuracy (onnxruntime, float32 input)']:.4f} |
| label agreement sklearn vs onnxruntime | {feat['label agreement sklearn vs ort']:.4f} |
| max abs proba diff sklearn vs onnxruntime | {feat['max |proba sklearn - ort|']:.3g} |
| trace windows inside one activity (onnxruntime) | {feat['trace accuracy (ort, labelled windows)']:.4f} |
"""
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
