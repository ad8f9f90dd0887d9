"""The Spark job (PySpark, local[2]) against ``ferrite run`` on the same rows.

Needs Java 17 and ``pip install pyspark pyarrow pandas`` besides the ferrite package;
the ``ferrite`` binary as in ``bindings/python/tests/conftest.py`` (``FERRITE_BIN``, or
built with cargo).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import ferrite  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "bindings" / "python" / "tests"))

from conftest import Cli, load_csv, same_bits  # noqa: E402
from score import parse_features, score  # noqa: E402

DIGITS = REPO / "examples" / "digits"
SKLEARN = REPO / "examples" / "sklearn"


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> Cli:
    env = os.environ.get("FERRITE_BIN")
    if env:
        binary = Path(env)
    else:
        subprocess.run(
            ["cargo", "build", "--release", "-p", "ferrite-tool", "--bin", "ferrite"],
            cwd=REPO,
            check=True,
        )
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        binary = (target if target.is_absolute() else REPO / target) / "release" / "ferrite"
    return Cli(binary, tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("ferrite-score-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # Small Arrow batches: every task sees several batches and the worker's Model
        # is reused across them.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
        .getOrCreate()
    )
    yield session
    session.stop()


def write_table(path: Path, rows: np.ndarray) -> None:
    cols = {"id": pa.array(np.arange(len(rows), dtype=np.int64))}
    for j in range(rows.shape[1]):
        cols[f"f{j}"] = pa.array(rows[:, j], type=pa.float32())
    # Several files: Spark reads them as several partitions.
    path.mkdir()
    table = pa.table(cols)
    step = (len(rows) + 3) // 4
    for i in range(4):
        pq.write_table(table.slice(i * step, step), path / f"part-{i}.parquet")


def read_scored(path: Path):
    t = pq.read_table(path).sort_by("id")
    scores = np.array(t.column("scores").to_pylist(), dtype=np.float32)
    labels = np.array(t.column("label").to_pylist(), dtype=np.int64) if "label" in t.column_names else None
    names = t.column("label_name").to_pylist() if "label_name" in t.column_names else None
    return t.column("id").to_numpy(), scores, labels, names


def test_digits_on_spark_equal_ferrite_run(spark, cli, tmp_path):
    test = load_csv(DIGITS / "test.csv")
    calib = load_csv(DIGITS / "calib.csv")
    rng = np.random.default_rng(7)
    rows = np.concatenate([test] * 14)[:5000]
    rows = (rows + rng.normal(0, 0.05, rows.shape)).astype(np.float32)
    device = bytes(
        ferrite.convert(
            DIGITS / "digits_mlp.onnx", "int8", calib, labels=[f"d{i}" for i in range(10)]
        )
    )
    batched = bytes(
        ferrite.convert(
            DIGITS / "digits_mlp.onnx",
            "int8",
            calib,
            labels=[f"d{i}" for i in range(10)],
            batch=128,
        )
    )
    want = cli.run(device, rows)
    table = tmp_path / "rows"
    write_table(table, rows)
    features = parse_features("f0-f63", [])
    for name, fer in (("device", device), ("batch", batched)):
        out = tmp_path / f"scored-{name}"
        score(spark, fer, str(table), str(out), features, keep=["id"])
        ids, scores, labels, names = read_scored(out)
        np.testing.assert_array_equal(ids, np.arange(len(rows)))
        if name == "device":
            assert same_bits(scores, want), name
        else:
            # The batch file's float layers run on the runtime's GEMM: the same scores up
            # to rounding, within the tolerance `ferrite convert --batch` checks.
            scale = 1.0 + np.abs(want).max(axis=1, keepdims=True)
            assert (np.abs(scores - want) <= 1e-4 * scale).all(), name
        np.testing.assert_array_equal(labels, np.argmax(want, axis=1))
        assert names[:3] == [f"d{i}" for i in np.argmax(want[:3], axis=1)]


def test_pipeline_with_missing_values_on_spark(spark, cli, tmp_path):
    rows = load_csv(SKLEARN / "wine_impute_mlp_input.csv")
    rows = np.concatenate([rows] * 20)
    assert np.isnan(rows).any()
    fer = bytes(ferrite.convert(SKLEARN / "wine_impute_mlp.onnx"))
    want = cli.run(fer, rows)
    table, out = tmp_path / "wine", tmp_path / "wine-scored"
    write_table(table, rows)
    score(spark, fer, str(table), str(out), [f"f{j}" for j in range(13)], keep=["id"])
    _, scores, labels, _ = read_scored(out)
    assert same_bits(scores, want)
    np.testing.assert_array_equal(labels, np.argmax(want, axis=1))


def test_the_command_line(spark, tmp_path):
    """``score.py`` as spark-submit runs it (its own SparkSession, here local[1])."""
    rows = load_csv(DIGITS / "test.csv")[:200]
    fer = tmp_path / "m.fer"
    ferrite.convert(DIGITS / "digits_mlp.onnx", output=fer)
    table, out = tmp_path / "t", tmp_path / "o"
    write_table(table, rows)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    subprocess.run(
        [sys.executable, str(HERE / "score.py"), "--model", str(fer), "--input", str(table),
         "--output", str(out), "--features", "f0-f63", "--keep", "id", "--master", "local[1]"],
        check=True,
        env=env,
    )
    _, scores, _, _ = read_scored(out)
    assert same_bits(scores, ferrite.Model(fer.read_bytes()).predict(rows))
