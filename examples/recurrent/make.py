#!/usr/bin/env python3
"""Small recurrent sensor models (torch nn.LSTM / nn.GRU / nn.RNN + Linear head)
exported with the TorchScript ONNX exporter, with input sequences and the
onnxruntime outputs (every graph output).

What it makes (in this directory, all committed)
------------------------------------------------
  sequences.npy       float32 [4, 20, 1, 6]: 4 test sequences, each [seq 20, batch 1,
                      features 6] (the input of the seq-first models)
  sequences_bf.npy    float32 [4, 1, 20, 6]: the same sequences batch-first
  For each NAME in variants():
    NAME.onnx         torch.onnx.export(..., dynamo=False, opset_version=17), static shapes
    NAME_h0.npy       stateful variants: float32 [4, layers*dirs, 1, 16], the initial_h
                      fed with test sequence i (row 0 zeros, row 1 = the h_n that
                      onnxruntime returned for row 0 — a stream continuing —, rows 2-3
                      random)
    NAME_c0.npy       LSTM stateful variants: the same for initial_c
    NAME_ort_OUT.npy  onnxruntime (CPU EP) value of graph output OUT for each of the 4
                      test rows, stacked on a new leading axis
  manifest.json       per model: files, inputs/outputs, recurrent nodes and their
                      attributes, op types, measured differences
  README.md           the same as tables (rewritten by this script)

How to rerun (needs torch, onnx, onnxruntime, numpy; CI does not):
    python examples/recurrent/make.py
Seeds are fixed (numpy / torch 0, one thread, deterministic algorithms).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
OPSET = 17
SEQ, FEAT, HIDDEN, CLASSES, N_TEST = 20, 6, 16, 4, 4
RNN_OPS = {"LSTM", "GRU", "RNN"}


class SeqModel(nn.Module):
    """Recurrent layer -> Linear head on the last time step's output."""

    def __init__(self, kind: str, bidirectional: bool, layers: int, batch_first: bool,
                 stateful: bool):
        super().__init__()
        args = dict(input_size=FEAT, hidden_size=HIDDEN, num_layers=layers,
                    bidirectional=bidirectional, batch_first=batch_first)
        if kind == "lstm":
            self.rnn = nn.LSTM(**args)
        elif kind == "gru":
            self.rnn = nn.GRU(**args)
        else:
            self.rnn = nn.RNN(nonlinearity=kind.split("_")[1], **args)
        self.kind, self.batch_first, self.stateful = kind, batch_first, stateful
        self.head = nn.Linear(HIDDEN * (2 if bidirectional else 1), CLASSES)

    def forward(self, x, *state):
        if self.kind == "lstm" and state:
            y, (h, c) = self.rnn(x, (state[0], state[1]))
        elif state:
            y, h = self.rnn(x, state[0])
        else:
            y, _ = self.rnn(x)
        last = y[:, -1] if self.batch_first else y[-1]
        logits = self.head(last)
        if not self.stateful:
            return logits
        if self.kind == "lstm":
            return logits, h, c
        return logits, h


def variants():
    """(name, kind, bidirectional, layers, batch_first, stateful)."""
    out = []
    for kind in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        for bi in (False, True):
            for layers in (1, 2):
                out.append((f"{kind}_{'bi' if bi else 'uni'}_{layers}l", kind, bi, layers,
                            False, False))
        out.append((f"{kind}_uni_1l_batchfirst", kind, False, 1, True, False))
        out.append((f"{kind}_bi_2l_batchfirst", kind, True, 2, True, False))
        for bi, layers in ((False, 1), (False, 2), (True, 1), (True, 2)):
            out.append((f"{kind}_{'bi' if bi else 'uni'}_{layers}l_state", kind, bi, layers,
                        False, True))
    return out


def sensor_sequences(rng, n: int) -> np.ndarray:
    """[n, SEQ, 1, FEAT]: 3 accelerometer axes (g) and 3 gyroscope axes (rad/s) of a
    periodic motion at a random frequency and phase, plus noise."""
    t = np.arange(SEQ)[:, None] / 25.0
    seqs = []
    for _ in range(n):
        f = rng.uniform(0.5, 3.0)
        ph = rng.uniform(0, 2 * np.pi, FEAT)
        amp = rng.uniform(0.2, 1.5, FEAT)
        x = amp * np.sin(2 * np.pi * f * t + ph) + 0.05 * rng.standard_normal((SEQ, FEAT))
        x[:, 2] += 1.0  # gravity on z
        seqs.append(x[:, None, :])
    return np.stack(seqs).astype(np.float32)


def node_attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def io_desc(values) -> list[dict]:
    return [{"name": v.name, "shape": [d.dim_value if d.HasField("dim_value") else d.dim_param
                                       for d in v.type.tensor_type.shape.dim]}
            for v in values]


def main() -> int:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    seqs = sensor_sequences(rng, N_TEST)
    seqs_bf = np.ascontiguousarray(seqs.transpose(0, 2, 1, 3))
    np.save(os.path.join(HERE, "sequences.npy"), seqs)
    np.save(os.path.join(HERE, "sequences_bf.npy"), seqs_bf)

    manifest = {"versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                             "onnxruntime": ort.__version__, "numpy": np.__version__},
                "exporter": f"torch.onnx.export(dynamo=False, opset_version={OPSET}, "
                            "do_constant_folding=True), static shapes",
                "sequences": {"file": "sequences.npy", "shape": list(seqs.shape)},
                "sequences_batch_first": {"file": "sequences_bf.npy",
                                          "shape": list(seqs_bf.shape)},
                "models": {}}
    for i, (name, kind, bi, layers, bf, stateful) in enumerate(variants()):
        torch.manual_seed(SEED + i)
        model = SeqModel(kind, bi, layers, bf, stateful).eval()
        x_all = seqs_bf if bf else seqs
        state_shape = [layers * (2 if bi else 1), 1, HIDDEN]
        in_names = ["sequence"] + (["initial_h"] if stateful else []) + (
            ["initial_c"] if stateful and kind == "lstm" else [])
        out_names = ["logits"] + (["h_n"] if stateful else []) + (
            ["c_n"] if stateful and kind == "lstm" else [])
        example = [torch.zeros(x_all.shape[1:])] + [torch.zeros(state_shape)] * (
            len(in_names) - 1)
        path = os.path.join(HERE, f"{name}.onnx")
        torch.onnx.export(model, tuple(example), path, dynamo=False, opset_version=OPSET,
                          input_names=in_names, output_names=out_names,
                          do_constant_folding=True)
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        assert [o.name for o in sess.get_outputs()] == out_names

        states = {n: np.zeros((N_TEST, *state_shape), np.float32) for n in in_names[1:]}
        srng = np.random.default_rng(SEED + 1000 + i)
        outs = {n: [] for n in out_names}
        max_diff = 0.0
        for r in range(N_TEST):
            if stateful and r == 1:  # continue the stream of row 0
                for n_in, n_out in zip(in_names[1:], out_names[1:]):
                    states[n_in][1] = outs[n_out][0]
            elif stateful and r >= 2:
                for n_in in in_names[1:]:
                    states[n_in][r] = srng.uniform(-0.8, 0.8, state_shape)
            feed = {"sequence": x_all[r], **{n: states[n][r] for n in in_names[1:]}}
            got = sess.run(None, feed)
            for n, v in zip(out_names, got):
                outs[n].append(v)
            with torch.no_grad():
                ref = model(*[torch.from_numpy(feed[n]) for n in in_names])
            ref = ref if isinstance(ref, tuple) else (ref,)
            max_diff = max(max_diff, max(float(np.abs(a - b.numpy()).max())
                                         for a, b in zip(got, ref)))
        files = [f"{name}.onnx"]
        for n_in in in_names[1:]:
            f = f"{name}_{n_in.replace('initial_', '')}0.npy"
            np.save(os.path.join(HERE, f), states[n_in])
            files.append(f)
        out_files = {}
        for n_out in out_names:
            f = f"{name}_ort_{n_out}.npy"
            np.save(os.path.join(HERE, f), np.stack(outs[n_out]))
            files.append(f)
            out_files[n_out] = f
        assert max_diff < 1e-5, (name, max_diff)
        rnn_nodes = [{"op": n.op_type, **node_attrs(n),
                      "inputs_used": [k for k, v in zip(
                          ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"],
                          n.input) if v]}
                     for n in m.graph.node if n.op_type in RNN_OPS]
        entry = {
            "kind": kind, "bidirectional": bi, "layers": layers, "batch_first": bf,
            "stateful": stateful, "hidden": HIDDEN, "bytes": os.path.getsize(path),
            "inputs": io_desc(m.graph.input), "outputs": io_desc(m.graph.output),
            "input_files": {"sequence": "sequences_bf.npy" if bf else "sequences.npy",
                            **{n: f"{name}_{n.replace('initial_', '')}0.npy"
                               for n in in_names[1:]}},
            "ort_files": out_files,
            "op_types": sorted({n.op_type for n in m.graph.node}),
            "op_sequence": [n.op_type for n in m.graph.node],
            "recurrent_nodes": rnn_nodes,
            "max_abs_diff_ort_vs_torch": max_diff,
            "tolerance_f32": {"rtol": 1e-4, "atol": 1e-5},
            "files": files,
        }
        manifest["models"][name] = entry
        print(f"{name}: {entry['bytes']} B ops={entry['op_sequence']} diff={max_diff:.2e}")

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    write_readme(manifest)
    return 0


def shape_str(io: list[dict]) -> str:
    return ", ".join(f"`{d['name']}` {d['shape']}" for d in io)


def write_readme(man: dict) -> None:
    v = man["versions"]
    rows = []
    for name, e in man["models"].items():
        rnn = "; ".join(
            f"{n['op']} {n.get('direction', '(forward)')}"
            + (f" act={'/'.join(n['activations'])}" if "activations" in n else "")
            + (f" linear_before_reset={n['linear_before_reset']}"
               if "linear_before_reset" in n else "")
            + f" inputs={'/'.join(n['inputs_used'])}"
            for n in e["recurrent_nodes"])
        rows.append(f"| `{name}` | {e['layers']} | {'bi' if e['bidirectional'] else 'uni'} | "
                    f"{rnn} | {shape_str(e['inputs'])} | {shape_str(e['outputs'])} | "
                    f"{e['bytes']:,} | {', '.join(e['op_types'])} |")
    text = f"""# recurrent — torch LSTM / GRU / RNN sensor models

Generated by `make.py` (rerun: `python examples/recurrent/make.py`; needs torch, onnx,
onnxruntime, numpy — CI only reads the committed files). torch {v['torch']}, onnx
{v['onnx']}, onnxruntime {v['onnxruntime']}, numpy {v['numpy']}. `manifest.json` holds
everything below machine-readably, including every attribute of each recurrent node
and each graph's op sequence. `check.py` re-runs onnxruntime on the committed files
(needs only onnx, onnxruntime, numpy — `tests/requirements.txt`).

Every model: `nn.LSTM` / `nn.GRU` / `nn.RNN(nonlinearity=tanh|relu)` with input size
6, hidden size 16, then `nn.Linear(16 × directions, 4)` on the output of the **last
time step** (`y[-1]`, or `y[:, -1]` batch-first) → `logits` [1, 4]. Untrained (torch's
seeded default init). Export: `{man['exporter']}`.

- Plain variants take one input `sequence` float32 [20, 1, 6] (seq, batch, features;
  `_batchfirst`: [1, 20, 6]) and return `logits`.
- `_state` variants (how a streaming model is exported) also take `initial_h`
  [layers × directions, 1, 16] (and `initial_c` for LSTM) and return the final
  states `h_n` (and `c_n`) with the same shape, in torch's layout (layer-major,
  direction-minor).

Data: `sequences.npy` float32 [4, 20, 1, 6] (row i = the `sequence` input of test i),
`sequences_bf.npy` [4, 1, 20, 6] the same values batch-first. Synthetic IMU streams
(3 accelerometer axes with gravity on z, 3 gyroscope axes, a periodic motion plus
noise). For `_state` models `NAME_h0.npy` / `NAME_c0.npy` [4, layers × dirs, 1, 16]
hold the states fed with each row: row 0 zeros, row 1 the `h_n`/`c_n` that
onnxruntime returned for row 0 (the stream continues), rows 2–3 uniform(−0.8, 0.8).
`NAME_ort_OUT.npy` holds onnxruntime's (CPU EP) value of every graph output `OUT`
for the 4 rows, stacked on a new leading axis. Measured |onnxruntime − torch| ≤
{max(e['max_abs_diff_ort_vs_torch'] for e in man['models'].values()):.2g} over all
models; tolerance for f32 comparisons with these files: rtol 1e-4, atol 1e-5.

| file | layers | dir | recurrent ONNX nodes (direction, activations, inputs wired) | inputs | outputs | bytes | op types |
|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n" + NOTES
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(text)


NOTES = """
What an importer meets (read from the files; `op_sequence` and `recurrent_nodes` in
`manifest.json` list every node and every recurrent node's attributes):
- The TorchScript exporter emits one ONNX `LSTM` / `GRU` / `RNN` node **per layer**;
  a bidirectional layer is one node with `direction="bidirectional"`, and forward
  nodes carry **no** `direction` attribute (ONNX default `forward`). No `Scan` or
  `Loop` appears in any file. Only `hidden_size` is always set.
- `GRU` nodes carry `linear_before_reset=1` (torch applies the reset gate after the
  recurrent matmul), not the ONNX default 0.
- `RNN` nodes always carry `activations`: `["Tanh"]` or `["Relu"]` (`["Relu",
  "Relu"]` bidirectional), even though Tanh is the ONNX default; LSTM and GRU nodes
  carry none (ONNX defaults Sigmoid/Tanh/Tanh and Sigmoid/Tanh).
- Weights `W`, `R`, `B` of each layer and the head's weight/bias are the only
  initializers, stored in ONNX gate order (LSTM `iofc`, GRU `zrh`; onnxruntime
  matches torch to 1e-7, so the exporter did reorder torch's `ifgo` / `rzn`); `B` is
  `[Wb, Rb]` per direction. `sequence_lens` is wired as an empty name and LSTM has no
  `P` input. Every other constant (axes, shapes, indices, the zero state) is a
  `Constant` node, not an initializer.
- **Plain models still feed `initial_h` (and `initial_c`)**: a zero state built at
  run time as `Expand(Constant zeros [dirs, 1, 16], Concat([dirs],
  Unsqueeze(Gather(Shape(sequence), 1)), [16]))` — the batch size read from the
  input's shape. The exporter does not constant-fold `Shape` of a graph input even
  though the shape is static; LSTM repeats the chain for `initial_c`, and layer 2
  repeats it on layer 1's output. An importer must evaluate this Shape → Gather →
  Unsqueeze → Concat → Expand subgraph at conversion time (or support the ops).
- `_state` models with one layer wire the graph inputs straight into the node and
  the node's `Y_h` / `Y_c` are the graph outputs `h_n` / `c_n`. With two layers each
  layer gets `Slice(initial_h, starts [l·dirs], ends [(l+1)·dirs], axes [0])`
  (starts/ends/axes as `Constant` nodes) and the outputs are `Concat(axis 0)` of the
  per-layer `Y_h` / `Y_c`.
- Each node's `Y` is [seq, dirs, batch, hidden]: unidirectional → `Squeeze(axes
  [1])`, bidirectional → `Transpose(perm [0, 2, 1, 3])` + `Reshape([0, 0, -1],
  allowzero 0)` (a 0 copies the input dim), giving [seq, batch, dirs·hidden]. The
  head takes the last step with `Gather(scalar −1, axis 0)` — a negative index —
  then `Gemm(transB=1)`.
- `_batchfirst` models add `Transpose(perm [1, 0, 2])` in front of the first node
  (the zero-state chain reads the shape of the transposed tensor) and one after the
  last layer, so the head's `Gather` runs on axis 1.
"""

if __name__ == "__main__":
    sys.exit(main())
