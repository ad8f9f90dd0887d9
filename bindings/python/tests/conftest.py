"""Fixtures: the repository's example models and the Rust runtime's own results.

The expected values come from the Rust side, never from this package: the ``ferrite``
command-line tool (``ferrite run``, ``ferrite preprocess``, ``ferrite convert``) is run
on the same rows and its CSV output (shortest round-trip decimals) parsed back to
float32. ``FERRITE_BIN`` names the binary; otherwise the tests build it with
``cargo build --release -p ferrite-tool --bin ferrite`` (a no-op when it is current).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
DIGITS = REPO / "examples" / "digits"
SKLEARN = REPO / "examples" / "sklearn"


def load_csv(path: Path) -> np.ndarray:
    """A CSV with one header line as float32 rows (``nan`` cells as NaN), parsed
    from the decimal text."""
    lines = path.read_text().strip().splitlines()[1:]
    return np.array(
        [[np.float32(float(c)) for c in line.split(",")] for line in lines],
        dtype=np.float32,
    )


def write_csv(path: Path, rows: np.ndarray) -> None:
    """Rows as CSV with ``repr`` of each float32 (shortest round trip), ``nan`` for
    NaN, and a header line."""
    cols = rows.shape[1]
    with path.open("w") as f:
        f.write(",".join(f"f{i}" for i in range(cols)) + "\n")
        for row in rows:
            f.write(",".join("nan" if np.isnan(v) else repr(float(v)) for v in row) + "\n")


@pytest.fixture(scope="session")
def ferrite_bin() -> Path:
    env = os.environ.get("FERRITE_BIN")
    if env:
        return Path(env)
    subprocess.run(
        ["cargo", "build", "--release", "-p", "ferrite-tool", "--bin", "ferrite"],
        cwd=REPO,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "release" / "ferrite"


@pytest.fixture(scope="session")
def cli(ferrite_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> "Cli":
    return Cli(ferrite_bin, tmp_path_factory.mktemp("cli"))


class Cli:
    """The ``ferrite`` binary: the Rust runtime's results for the same rows."""

    def __init__(self, binary: Path, tmp: Path) -> None:
        self.binary = binary
        self.tmp = tmp
        self.count = 0

    def _path(self, suffix: str) -> Path:
        self.count += 1
        return self.tmp / f"{self.count}{suffix}"

    def __call__(self, *args: str) -> str:
        r = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, check=False
        )
        if r.returncode != 0:
            raise AssertionError(f"ferrite {' '.join(args)} failed:\n{r.stderr}")
        return r.stdout

    def convert(self, onnx: Path, *extra: str) -> bytes:
        out = self._path(".fer")
        self("convert", str(onnx), "-o", str(out), *extra)
        return out.read_bytes()

    def _rows_through(self, command: str, fer: bytes, rows: np.ndarray) -> np.ndarray:
        model, data, out = self._path(".fer"), self._path(".csv"), self._path(".csv")
        model.write_bytes(fer)
        write_csv(data, rows)
        target = str(out)
        if command == "run":
            # Output 0 alone, in its own file (`run` writes every output side by side).
            import ferrite

            target = f"{ferrite.Model(fer).info.outputs[0].name}={out}"
        self(command, str(model), "--input", str(data), "--output", target)
        return load_csv(out)

    def run(self, fer: bytes, rows: np.ndarray) -> np.ndarray:
        """``ferrite run``: output 0 of every row."""
        return self._rows_through("run", fer, rows)

    def preprocess(self, fer: bytes, rows: np.ndarray) -> np.ndarray:
        """``ferrite preprocess``: the pipeline's output of every row."""
        return self._rows_through("preprocess", fer, rows)


@pytest.fixture(scope="session")
def digits_test() -> np.ndarray:
    return load_csv(DIGITS / "test.csv")


@pytest.fixture(scope="session")
def digits_labels() -> np.ndarray:
    return load_csv(DIGITS / "test_labels.csv")[:, 0].astype(np.int64)


@pytest.fixture(scope="session")
def digits_calib() -> np.ndarray:
    return load_csv(DIGITS / "calib.csv")


@pytest.fixture(scope="session")
def digits_f32() -> bytes:
    import ferrite

    return bytes(ferrite.convert(DIGITS / "digits_mlp.onnx"))


@pytest.fixture(scope="session")
def digits_int8(digits_calib: np.ndarray) -> bytes:
    import ferrite

    return bytes(
        ferrite.convert(
            DIGITS / "digits_mlp.onnx",
            precision="int8",
            calibration=digits_calib,
            labels=[str(d) for d in range(10)],
        )
    )


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two float32 arrays hold identical bytes (NaN included)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    return a.shape == b.shape and a.tobytes() == b.tobytes()

