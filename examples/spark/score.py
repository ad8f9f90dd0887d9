"""Batch scoring on Spark: a Parquet table through a ferrite model, predictions and
labels written back to Parquet.

    spark-submit examples/spark/score.py --model model.fer \\
        --input rows.parquet --output scored.parquet --features f0-f63 --keep id

The model file is the one the device runs, with its preprocessing inside: the
warehouse computes exactly what the device computes (or a batch file of it from
``ferrite.convert(..., batch=N)``, which gives its results faster, f32 outputs up to
rounding).

How it runs: the driver reads the model bytes and broadcasts them (shipped once per
executor); ``mapInPandas`` hands each Python worker Arrow batches of rows as pandas
DataFrames; each worker process builds one ``ferrite.Model`` from the broadcast bytes
on its first batch and reuses it for every later batch and task (Spark reuses Python
workers, ``spark.python.worker.reuse``, on by default). Each batch's feature columns
become one float32 array and one ``Model.predict`` call, which runs with the GIL
released.

Output columns: the ``--keep`` columns, ``scores`` (``array<float>``: output 0 of the
model), and for classifiers ``label`` (``bigint``, the arg-max class, first on ties)
and ``label_name`` (when the model stores label names).
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

import ferrite

# One Model per Python worker process and broadcast. The broadcast object is kept
# with its model, so its id() cannot be reused by another object.
_MODELS: Dict[int, Tuple[object, ferrite.Model]] = {}


def _model(broadcast) -> ferrite.Model:
    entry = _MODELS.get(id(broadcast))
    if entry is None or entry[0] is not broadcast:
        entry = _MODELS[id(broadcast)] = (broadcast, ferrite.Model(broadcast.value))
    return entry[1]


def output_schema(model: ferrite.Model, keep_schema: Sequence[str]) -> str:
    """The DDL schema of the scored rows."""
    cols = list(keep_schema) + ["scores array<float>"]
    if model.info.output_width > 1:
        cols.append("label bigint")
        if model.info.labels:
            cols.append("label_name string")
    return ", ".join(cols)


def scorer(broadcast, features: List[str], keep: List[str], classifier: bool, names: bool):
    """The ``mapInPandas`` function: pandas batches of rows in, scored rows out."""

    def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = _model(broadcast)
        for pdf in batches:
            x = pdf[features].to_numpy(dtype=np.float32)
            out = pdf[keep].copy() if keep else pd.DataFrame(index=pdf.index)
            if classifier:
                scores, labels = model.predict(x, return_labels=True)
                out["scores"] = list(scores)
                out["label"] = labels
                if names:
                    out["label_name"] = np.asarray(model.info.labels, dtype=object)[labels]
            else:
                out["scores"] = list(model.predict(x))
            yield out

    return score_batches


def parse_features(spec: str, columns: Sequence[str]) -> List[str]:
    """``f0-f63`` (a prefix and an inclusive index range), a comma-separated list, or
    ``*`` (every column not kept)."""
    m = re.fullmatch(r"([A-Za-z_]\w*?)(\d+)-\1?(\d+)", spec)
    if m:
        prefix, lo, hi = m.group(1), int(m.group(2)), int(m.group(3))
        return [f"{prefix}{i}" for i in range(lo, hi + 1)]
    if spec == "*":
        return list(columns)
    return [c.strip() for c in spec.split(",") if c.strip()]


_SHIPPED: Dict[int, object] = {}


def _ship_this_module(sc) -> None:
    """Sends this file to the executors once per SparkContext: the ``mapInPandas``
    function is pickled as a reference to this module when it is imported (run as a
    script, Spark pickles it by value and needs nothing)."""
    if __name__ != "__main__" and _SHIPPED.get(id(sc)) is not sc:
        sc.addPyFile(os.path.abspath(__file__))
        _SHIPPED[id(sc)] = sc


def score(
    spark,
    model_bytes: bytes,
    input_path: str,
    output_path: str,
    features: Sequence[str],
    keep: Sequence[str] = (),
    mode: str = "overwrite",
) -> None:
    """Scores the Parquet table at ``input_path`` and writes ``output_path``."""
    model = ferrite.Model(model_bytes)  # validates the bytes once on the driver
    df = spark.read.parquet(input_path)
    missing = [c for c in list(features) + list(keep) if c not in df.columns]
    if missing:
        raise ValueError(f"columns not in {input_path}: {missing}")
    if len(features) != model.info.row_width:
        raise ValueError(
            f"{len(features)} feature columns, but the model takes {model.info.row_width}"
        )
    _ship_this_module(spark.sparkContext)
    broadcast = spark.sparkContext.broadcast(model_bytes)
    keep_schema = [f"`{c}` {df.schema[c].dataType.simpleString()}" for c in keep]
    classifier = model.info.output_width > 1
    fn = scorer(broadcast, list(features), list(keep), classifier, bool(model.info.labels))
    scored = df.select(*keep, *features).mapInPandas(fn, output_schema(model, keep_schema))
    scored.write.mode(mode).parquet(output_path)


def main(argv: Optional[Sequence[str]] = None) -> None:
    ap = argparse.ArgumentParser(description="Score a Parquet table with a ferrite model.")
    ap.add_argument("--model", required=True, help=".fer file")
    ap.add_argument("--input", required=True, help="Parquet table (file or folder)")
    ap.add_argument("--output", required=True, help="Parquet folder to write")
    ap.add_argument(
        "--features", default="*", help="feature columns: f0-f63, a,b,c, or * (default)"
    )
    ap.add_argument("--keep", default="", help="columns copied to the output, e.g. id")
    ap.add_argument("--master", default=None, help="e.g. local[2] (spark-submit sets it)")
    args = ap.parse_args(argv)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("ferrite-score")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    keep = [c for c in args.keep.split(",") if c]
    columns = [c for c in spark.read.parquet(args.input).columns if c not in keep]
    with open(args.model, "rb") as f:
        model_bytes = f.read()
    score(
        spark, model_bytes, args.input, args.output, parse_features(args.features, columns), keep
    )
    spark.stop()


if __name__ == "__main__":
    main()
