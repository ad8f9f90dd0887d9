"""ferrite vs onnxruntime on 100,000 rows of the digits MLP, one thread each.

    python bindings/python/benches/bench_predict.py [--rows 100000] [--repeat 7]

Both run the same float32 NumPy array: onnxruntime's ``InferenceSession.run`` on the
whole batch (intra- and inter-op threads 1), ferrite's ``Model.predict`` on a device
file (batch 1: one inference per row) and on batch files (N rows per inference, see
``convert(batch=N)``), in f32 and int8. Prints the best of ``--repeat`` runs of each,
rows per second, and the ratio to onnxruntime (> 1: ferrite is faster).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import ferrite

DIGITS = Path(__file__).resolve().parents[3] / "examples" / "digits"


def load_csv(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--batches", default="1,64,256,1024", help="batch sizes of the ferrite files")
    args = ap.parse_args()

    onnx = DIGITS / "digits_mlp.onnx"
    test, calib = load_csv(DIGITS / "test.csv"), load_csv(DIGITS / "calib.csv")
    rng = np.random.default_rng(0)
    x = test[rng.integers(0, len(test), args.rows)]
    x = np.ascontiguousarray(x + rng.normal(0, 0.02, x.shape), dtype=np.float32)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
    sess.run(None, {"input": x[:64]})
    t_ort = best_of(args.repeat, lambda: sess.run(None, {"input": x}))
    ref = sess.run(None, {"input": x})[0]

    print(f"digits MLP (64-64-32-10), {args.rows:,} rows, best of {args.repeat}, one thread")
    print(f"{'engine':<28} {'ms':>9} {'rows/s':>12} {'vs onnxruntime':>15}  max |diff|")
    print(f"{'onnxruntime f32':<28} {t_ort * 1e3:9.2f} {args.rows / t_ort:12,.0f} {1.0:15.2f}")
    for precision in ("f32", "int8"):
        for batch in [int(b) for b in args.batches.split(",")]:
            fer = ferrite.convert(
                onnx, precision, calib if precision == "int8" else None, batch=batch
            )
            model = ferrite.Model(fer)
            model.predict(x[:64])
            t = best_of(args.repeat, lambda: model.predict(x))
            diff = float(np.abs(model.predict(x) - ref).max())
            name = f"ferrite {precision} batch {batch}"
            print(
                f"{name:<28} {t * 1e3:9.2f} {args.rows / t:12,.0f} {t_ort / t:15.2f}  {diff:.2e}"
            )


if __name__ == "__main__":
    main()
