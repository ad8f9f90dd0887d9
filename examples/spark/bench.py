"""Rows per second of the Spark scoring job: ferrite vs onnxruntime, same job, same data.

    python examples/spark/bench.py [--rows 1000000] [--master local[2]] [--repeat 3]

Writes the digits test rows (tiled, with noise, float32 columns f0..f63 and an id) to a
Parquet table once, then runs the same job for each engine: read the table,
``mapInPandas`` (one model per Python worker, from broadcast bytes), write the scores
and labels to Parquet. Engines: ferrite on the device file (batch 1) and on a batch
file (``--batch``), in f32 and int8; onnxruntime (one intra-op thread per worker, as
Spark runs one task per core) on the ONNX file. Prints the best wall time of
``--repeat`` runs of each and rows per second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, Tuple

import numpy as np
import pandas as pd

import ferrite

HERE = Path(__file__).resolve().parent
DIGITS = HERE.parent / "digits"
sys.path.insert(0, str(HERE))

from score import score  # noqa: E402

_SESSIONS: Dict[int, Tuple[object, object]] = {}


def ort_scorer(broadcast, features):
    """The same job with onnxruntime: one InferenceSession per worker process."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import onnxruntime as ort

        entry = _SESSIONS.get(id(broadcast))
        if entry is None or entry[0] is not broadcast:
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(
                broadcast.value, so, providers=["CPUExecutionProvider"]
            )
            entry = _SESSIONS[id(broadcast)] = (broadcast, sess)
        sess = entry[1]
        for pdf in batches:
            x = pdf[features].to_numpy(dtype=np.float32)
            scores = sess.run(None, {"input": x})[0]
            yield pd.DataFrame(
                {"id": pdf["id"], "scores": list(scores), "label": np.argmax(scores, axis=1)}
            )

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    tmp = Path(tempfile.mkdtemp(prefix="ferrite-spark-bench-"))
    try:
        test = np.loadtxt(DIGITS / "test.csv", delimiter=",", skiprows=1, dtype=np.float32)
        calib = np.loadtxt(DIGITS / "calib.csv", delimiter=",", skiprows=1, dtype=np.float32)
        rng = np.random.default_rng(0)
        rows = test[rng.integers(0, len(test), args.rows)]
        rows = (rows + rng.normal(0, 0.02, rows.shape)).astype(np.float32)
        table = tmp / "rows"
        table.mkdir()
        cols = {"id": pa.array(np.arange(args.rows, dtype=np.int64))}
        for j in range(64):
            cols[f"f{j}"] = pa.array(rows[:, j])
        t = pa.table(cols)
        parts = 8
        step = (args.rows + parts - 1) // parts
        for i in range(parts):
            pq.write_table(t.slice(i * step, step), table / f"part-{i}.parquet")
        del t, cols

        spark = (
            SparkSession.builder.master(args.master)
            .appName("ferrite-bench")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        features = [f"f{j}" for j in range(64)]
        onnx = (DIGITS / "digits_mlp.onnx").read_bytes()
        engines = {
            "ferrite f32, batch 1": bytes(ferrite.convert(onnx)),
            f"ferrite f32, batch {args.batch}": bytes(ferrite.convert(onnx, batch=args.batch)),
            "ferrite int8, batch 1": bytes(ferrite.convert(onnx, "int8", calib)),
            f"ferrite int8, batch {args.batch}": bytes(
                ferrite.convert(onnx, "int8", calib, batch=args.batch)
            ),
        }

        def ferrite_job(fer):
            return lambda out: score(spark, fer, str(table), out, features, keep=["id"])

        def ort_job(out):
            df = spark.read.parquet(str(table)).select("id", *features)
            b = spark.sparkContext.broadcast(onnx)
            df.mapInPandas(
                ort_scorer(b, features), "id bigint, scores array<float>, label bigint"
            ).write.mode("overwrite").parquet(out)

        jobs = [(name, ferrite_job(fer)) for name, fer in engines.items()]
        jobs.append(("onnxruntime f32", ort_job))
        print(
            f"digits MLP, {args.rows:,} rows, {args.master}, Parquet in and out, "
            f"best of {args.repeat}"
        )
        print(f"{'engine':<26} {'s':>7} {'rows/s':>12}")
        for name, job in jobs:
            times = []
            for r in range(args.repeat + 1):  # the first run warms the JVM and workers
                out = str(tmp / f"out-{len(times)}")
                t0 = time.perf_counter()
                job(out)
                dt = time.perf_counter() - t0
                shutil.rmtree(out, ignore_errors=True)
                if r > 0:
                    times.append(dt)
            best = min(times)
            print(f"{name:<26} {best:7.2f} {args.rows / best:12,.0f}")
        spark.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
