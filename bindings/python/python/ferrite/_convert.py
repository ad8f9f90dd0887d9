"""``ferrite.convert``: ONNX → ``.fer`` with the host tool's converter."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from ._errors import ConversionWarning
from ._model import Source, _float32_rows, _read


@dataclass(frozen=True)
class Agreement:
    """Float-vs-converted agreement measured at conversion, on the calibration rows."""

    rows: int
    #: Share of rows with the same arg-max (``None`` for a one-value output).
    top1: Optional[float]
    max_abs_error: float
    mean_abs_error: float


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert` produced (``ferrite convert``'s summary)."""

    precision: str
    ops: int
    arena_bytes: int
    parameter_bytes: int
    file_size: int
    source_sha256: str
    agreement: Optional[Agreement]
    #: Ops an int8 model runs in f32 (between Dequantize and Quantize).
    float_ops: Tuple[str, ...]
    #: Golden vectors stored in the file.
    golden: int
    #: Things to know about the conversion (also issued as ConversionWarning).
    notes: Tuple[str, ...]
    #: Rows per inference (``batch``).
    batch: int
    #: The monitoring baseline stored (``baseline=``): ``{"rows", "features",
    #: "bins"}``, or ``None``.
    baseline: Optional[Dict[str, int]] = None


class Conversion(bytes):
    """The bytes of a ``.fer`` file, as returned by :func:`convert`, with the
    conversion's :class:`ConversionReport` as ``.report``. Use it wherever bytes go:
    ``ferrite.Model(fer)``, ``open(path, "wb").write(fer)``."""

    report: ConversionReport


def convert(
    onnx: Source,
    precision: str = "f32",
    calibration: Any = None,
    *,
    calibration_method: str = "minmax",
    input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
    name: Optional[str] = None,
    version: Optional[str] = None,
    description: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
    golden: int = 4,
    per_tensor_weights: bool = False,
    int8_input: bool = False,
    batch: Optional[int] = None,
    baseline: Any = None,
    baseline_bins: int = 10,
    output: Union[str, "os.PathLike[str]", None] = None,
) -> Conversion:
    """Converts an ONNX model to a ferrite model, as ``ferrite convert`` does.

    Args:
        onnx: path of the ``.onnx`` file, or its bytes. A scikit-learn (skl2onnx)
            pipeline keeps its preprocessing, linear and tree models in f32.
        precision: ``"f32"``, ``"f16"`` (weights stored as f16) or ``"int8"``
            (static quantization; needs ``calibration``).
        calibration: rows of model inputs, ``(n, features)`` (raw rows, NaN where the
            pipeline imputes, for a model with preprocessing). Also the source of the
            golden vectors and of the float-vs-converted agreement.
        calibration_method: ``"minmax"`` or ``"percentile"``.
        input_shapes: fixed shapes of named inputs, e.g. ``{"input": [1, 3, 32, 32]}``
            (a symbolic leading batch dimension defaults to 1).
        name, version, description: metadata stored in the file (``name`` defaults
            to the file stem, else ``"model"``).
        labels: class names of output 0, in order.
        golden: golden vectors to store (from the first calibration rows).
        per_tensor_weights: one scale per FullyConnected weight matrix (smaller int8
            files) instead of one per output channel.
        int8_input: make the graph input itself int8.
        batch: rows per inference. ``None`` or 1 gives the device file. N > 1 fixes
            the leading dimension of input 0 to N: ``Model.predict`` then runs N rows
            per inference (much faster on large arrays). The converter checks that
            the batch file gives, bit for bit, the outputs of the batch-1 file on
            2N + 1 rows; it carries no golden vectors. The same file as
            ``ferrite convert --batch N``. Neural models with one input and no
            preprocessing pipeline only (else ``ConversionError``, kind ``"usage"``).
        baseline: raw rows (as ``predict`` takes them, NaN for missing values) to
            store a monitoring baseline from, for :class:`Monitor`: per-feature
            quantile histograms of ``baseline_bins`` bins (2–64) and the output
            distribution, as ``ferrite convert --baseline`` (``docs/monitoring.md``).
            Pass the training rows, or ``calibration`` again. Not with ``batch`` > 1
            (monitor the batch-1 file).
        output: also write the file here.

    Returns:
        The file's bytes (a :class:`Conversion`, with ``.report``). Notes about the
        conversion are issued as :class:`ConversionWarning`.

    Raises:
        ConversionError: the model uses unsupported ops (``.ops``), has a dynamic
            input shape (``.input``; pass ``input_shapes``), int8 without
            calibration, ``batch`` on a model it cannot apply to (kind ``"usage"``), …
        ValueError: ``batch`` < 1, an unknown ``calibration_method``.
        OSError: ``onnx`` or ``output`` cannot be read or written.
    """
    data, path = _read(onnx)
    if name is None and path is not None:
        name = path.stem
    calib = None
    if calibration is not None:
        calib, _ = _float32_rows(calibration, "calibration")
    base = None
    if baseline is not None:
        base, _ = _float32_rows(baseline, "baseline")
    shapes = [(str(k), [int(d) for d in v]) for k, v in (input_shapes or {}).items()]
    if batch is not None and int(batch) < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    fer, report_json = _native.convert(
        data,
        precision=str(precision),
        calibration=calib,
        calibration_method=str(calibration_method),
        input_shapes=shapes,
        name=name,
        version=version,
        description=description,
        labels=[str(v) for v in (labels or [])],
        source_name=None if path is None else path.name,
        golden=int(golden),
        per_tensor_weights=bool(per_tensor_weights),
        int8_input=bool(int8_input),
        batch=int(batch or 1),
        baseline=base,
        baseline_bins=int(baseline_bins),
    )
    r = json.loads(report_json)
    agreement = r["agreement"]
    result = Conversion(fer)
    result.report = ConversionReport(
        precision=r["precision"],
        ops=r["ops"],
        arena_bytes=r["arena_bytes"],
        parameter_bytes=r["parameter_bytes"],
        file_size=r["file_size"],
        source_sha256=r["source_sha256"],
        agreement=None if agreement is None else Agreement(**agreement),
        float_ops=tuple(r["float_ops"]),
        golden=r["golden"],
        notes=tuple(r["notes"]),
        batch=r["batch"],
        baseline=r["baseline"],
    )
    for note in result.report.notes:
        warnings.warn(note, ConversionWarning, stacklevel=2)
    if output is not None:
        Path(output).write_bytes(fer)
    return result
