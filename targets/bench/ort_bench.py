#!/usr/bin/env python3
"""The onnxruntime peer of `cargo xtask bench`: batch-1 latency of onnxruntime (CPU
execution provider, one thread) on an ONNX file, plus its MAC count.

It is a small server so that one process serves a whole benchmark run and the driver can
interleave it with the other engines round by round: it reads one JSON request per line
on stdin and writes one JSON answer per line on stdout.

    {"op": "info"}
        -> {"onnxruntime": "1.32.0", "numpy": "...", "python": "3.11.2"}
    {"op": "macs", "onnx": PATH}
        -> {"macs": N}   (examples/bench/count_macs.py on the model with every symbolic
                          input/output dimension set to 1, i.e. one batch-1 inference)
    {"op": "shape", "onnx": PATH}
        -> {"shape": [1, ...]}  (the first input's, symbolic dimensions set to 1)
    {"op": "time", "onnx": PATH, "data": PATH, "iterations": N, "warmup": W}
        -> {"median_us": .., "p90_us": .., "iterations": N}

Errors answer {"error": "..."} and the server keeps serving.

Session: `intra_op_num_threads = 1`, `inter_op_num_threads = 1`, `ORT_SEQUENTIAL`,
`ORT_ENABLE_ALL` graph optimizations, CPUExecutionProvider. Inputs: the rows of DATA
(`.npy` of shape [N, *shape], or a CSV with a header line and one flattened row per line),
at most 64, cycled. Each timed call is `run_with_iobinding` on an input already bound as
an OrtValue and an output bound to the CPU: the Python-side work per call is one C++
call, so the time is as close to the C++ API's as Python allows (a few µs of binding
overhead remain, which matters only for the smallest models). The percentiles are the
nearest-rank ones the host tool's `ferrite bench` uses.

Usage (the driver starts it): python targets/bench/ort_bench.py REPO_ROOT
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

MAX_ROWS = 64


def percentile(sorted_us: list[float], q: float) -> float:
    """Nearest rank on sorted samples: index round((n - 1) * q), as `ferrite bench`."""
    return sorted_us[int(round((len(sorted_us) - 1) * q))]


def load_rows(path: str, shape: list[int]) -> list[np.ndarray]:
    if path.endswith(".npy"):
        data = np.load(path)
    else:
        data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    size = int(np.prod(shape))
    data = np.ascontiguousarray(data, dtype=np.float32).reshape(-1, size)
    return [row.reshape(shape).copy() for row in data[:MAX_ROWS]]


class Server:
    def __init__(self, root: Path):
        self.root = root
        self.sessions: dict[str, ort.InferenceSession] = {}

    def session(self, path: str) -> ort.InferenceSession:
        if path not in self.sessions:
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.log_severity_level = 3
            self.sessions[path] = ort.InferenceSession(
                path, sess_options=so, providers=["CPUExecutionProvider"]
            )
        return self.sessions[path]

    def info(self, _req: dict) -> dict:
        return {
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        }

    def macs(self, req: dict) -> dict:
        sys.path.insert(0, str(self.root / "examples" / "bench"))
        from count_macs import count  # noqa: E402 (the repository's MAC counter)

        model = onnx.load(req["onnx"])
        for value in list(model.graph.input) + list(model.graph.output):
            for dim in value.type.tensor_type.shape.dim:
                if not dim.HasField("dim_value"):
                    dim.dim_value = 1
        del model.graph.value_info[:]
        return {"macs": int(count(model)["macs"])}

    def shape(self, req: dict) -> dict:
        (inp,) = self.session(req["onnx"]).get_inputs()
        return {"shape": [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]}

    def time(self, req: dict) -> dict:
        sess = self.session(req["onnx"])
        rows = load_rows(req["data"], self.shape(req)["shape"])
        if not rows:
            raise ValueError(f"no rows in {req['data']}")
        (inp,) = sess.get_inputs()
        values = [ort.OrtValue.ortvalue_from_numpy(r) for r in rows]
        binding = sess.io_binding()
        for out in sess.get_outputs():
            binding.bind_output(out.name, "cpu")
        iterations = max(1, int(req["iterations"]))
        warmup = max(0, int(req["warmup"]))
        samples = []
        for i in range(warmup + iterations):
            binding.bind_ortvalue_input(inp.name, values[i % len(values)])
            t0 = time.perf_counter_ns()
            sess.run_with_iobinding(binding)
            dt = time.perf_counter_ns() - t0
            if i >= warmup:
                samples.append(dt / 1000.0)
        samples.sort()
        return {
            "median_us": percentile(samples, 0.5),
            "p90_us": percentile(samples, 0.9),
            "iterations": len(samples),
        }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    server = Server(Path(argv[0]))
    ops = {
        "info": server.info,
        "macs": server.macs,
        "shape": server.shape,
        "time": server.time,
    }
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            answer = ops[req["op"]](req)
        except Exception as e:  # answer every request; the driver decides what is fatal
            answer = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
