"""``ferrite.Model``: a validated model run over NumPy rows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np

from . import _errors, _native

if TYPE_CHECKING:
    from ._monitor import Monitor

#: What ``Model`` and ``convert`` accept as a file: a path, or the file's bytes.
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def _read(source: Source) -> Tuple[bytes, Optional[Path]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return path.read_bytes(), path
    raise TypeError(
        f"expected a path or bytes, got {type(source).__name__}"
    )


def _float32_rows(x: Any, what: str) -> Tuple[np.ndarray, bool]:
    """``x`` as a C-contiguous float32 ``(n, width)`` array (no copy when it is one
    already) and whether it was a single row (1-D)."""
    a = np.asarray(x)
    if a.dtype != np.float32 or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim == 0:
        raise ValueError(f"{what}: expected rows of values, got a scalar")
    if a.ndim == 1:
        return a.reshape(1, a.shape[0]), True
    width = int(np.prod(a.shape[1:]))
    return a.reshape(a.shape[0], width), False


@dataclass(frozen=True)
class Quantization:
    """How a quantized tensor maps to real values: ``real = scale * (q - zero_point)``
    (``kind == "per_tensor"``), or symmetric per-channel weights along ``axis``."""

    kind: str
    scale: Optional[float] = None
    zero_point: Optional[int] = None
    axis: Optional[int] = None


@dataclass(frozen=True)
class TensorInfo:
    """An input or output of the model."""

    name: str
    #: ``"f32"``, ``"f16"``, ``"i8"``, ``"u8"``, ``"i32"`` or ``"i64"``.
    dtype: str
    shape: Tuple[int, ...]
    quantization: Optional[Quantization]

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class ModelInfo:
    """What a model expects and produces (``Model.info``)."""

    name: str
    version: str
    description: str
    #: What wrote the file, e.g. ``ferrite-tool 0.1.0``.
    producer: str
    #: Provenance written by the converter (``source_sha256``, ``precision``, …).
    properties: Dict[str, str]
    inputs: Tuple[TensorInfo, ...]
    outputs: Tuple[TensorInfo, ...]
    #: Class names of output 0, in score order (may be empty).
    labels: Tuple[str, ...]
    #: Bytes of working memory one inference needs.
    arena_size: int
    file_size: int
    parameter_bytes: int
    num_golden: int
    num_ops: int
    #: Whether the model carries a preprocessing pipeline (``Model.preprocess``).
    has_preprocessing: bool
    #: Values per input row (the raw width when there is a pipeline).
    row_width: int
    #: Values per row of output 0 (the columns ``predict`` returns).
    output_width: int
    #: Rows per inference: N for a file from ``convert(batch=N)``, else 1.
    batch: int


def _tensor(t: Dict[str, Any]) -> TensorInfo:
    q = t["quantization"]
    return TensorInfo(
        name=t["name"],
        dtype=t["dtype"],
        shape=tuple(t["shape"]),
        quantization=None if q is None else Quantization(**q),
    )


@dataclass(frozen=True)
class LayerError:
    """Error of one intermediate tensor against the float reference."""

    op_index: int
    op: str
    tensor: str
    dtype: str
    max_abs_error: float
    mean_abs_error: float


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of ``Model.validate`` (``ferrite validate``'s report)."""

    rows: int
    precision: str
    max_abs_error: float
    mean_abs_error: float
    #: Share of rows where ferrite and the reference pick the same class (``None``
    #: for a one-value output).
    top1_agreement: Optional[float]
    accuracy_ferrite: Optional[float]
    accuracy_reference: Optional[float]
    min_agreement: float
    max_abs_error_allowed: Optional[float]
    per_layer: Tuple[LayerError, ...]
    #: Whether every threshold holds.
    passed: bool
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Signature:
    """The signed header of a signed model (``Model.signature``)."""

    #: Which key signed the file: the first 8 bytes of its public key.
    key_id: bytes
    #: The model version stamped by ``ferrite sign --version``.
    model_version: int


def _public_key(key: Source) -> bytes:
    data, _ = _read(key)
    if len(data) != 32:
        raise ValueError(
            f"a public key is 32 bytes (the key.pub file of `ferrite keygen`), got {len(data)}"
        )
    return data


class Model:
    """A validated ``.fer`` model.

    ``Model(source)`` takes a path or the bytes of a file (e.g. from
    :func:`ferrite.convert`) and checks all of it once: CRC, every offset, shape,
    dtype, op and the arena plan. Bad bytes raise :class:`ferrite.InvalidModelError`.

    ``Model(source, public_keys=[...], min_version=0)`` loads only a model signed
    (``ferrite sign``) by one of the trusted keys (each the 32 bytes of a ``key.pub``
    file, or its path) whose signed model version is at least ``min_version``. The
    signature is checked before anything else; a refusal raises a
    :class:`ferrite.SignatureError`: :class:`~ferrite.UnsignedModelError`,
    :class:`~ferrite.UnknownKeyError`, :class:`~ferrite.BadSignatureError` or
    :class:`~ferrite.VersionTooOldError` (docs/security.md).

    One ``Model`` serves any number of threads: each call takes its own arena from a
    small pool and runs with the GIL released, and concurrent calls give exactly the
    sequential results. A ``Model`` pickles as its file bytes (Spark, multiprocessing).

    Rows: ``X`` is ``(n, row_width)`` (or ``(n, ...)`` with ``row_width`` values per
    row, or one row as a 1-D array). A C-contiguous ``float32`` array is read in place;
    anything else is converted to one first (``float64`` input is rounded to float32).
    """

    def __init__(
        self,
        source: Source,
        *,
        public_keys: Optional[Sequence[Source]] = None,
        min_version: int = 0,
    ) -> None:
        data, _ = _read(source)
        if public_keys is None:
            if min_version:
                raise ValueError("min_version needs public_keys (a verified load)")
            self._native = _native.Model(data)
        else:
            if isinstance(public_keys, (bytes, bytearray, memoryview, str, os.PathLike)):
                raise TypeError("public_keys is a list of keys, e.g. [key_bytes]")
            keys = [_public_key(k) for k in public_keys]
            self._native = _native.Model(data, keys, min_version)
        row, out, batch, pipeline = self._native.layout
        raw = json.loads(self._native.info_json())
        self._info = ModelInfo(
            name=raw["name"],
            version=raw["version"],
            description=raw["description"],
            producer=raw["producer"],
            properties=dict(raw["properties"]),
            inputs=tuple(_tensor(t) for t in raw["inputs"]),
            outputs=tuple(_tensor(t) for t in raw["outputs"]),
            labels=tuple(raw["labels"]),
            arena_size=raw["arena_size"],
            file_size=raw["file_size"],
            parameter_bytes=raw["parameter_bytes"],
            num_golden=raw["num_golden"],
            num_ops=raw["num_ops"],
            has_preprocessing=pipeline,
            row_width=row,
            output_width=out,
            batch=batch,
        )

    @property
    def info(self) -> ModelInfo:
        """Inputs, outputs, labels, metadata and sizes."""
        return self._info

    @property
    def signature(self) -> Optional[Signature]:
        """The key id and model version of a signed model, ``None`` if unsigned. They
        are proven authentic only when the model was loaded with ``public_keys``."""
        s = self._native.signature
        return None if s is None else Signature(key_id=s[0], model_version=s[1])

    def to_bytes(self) -> bytes:
        """The model file's bytes."""
        return self._native.file_bytes()

    def __reduce__(self) -> Tuple[Any, Tuple[bytes]]:
        return (Model, (self.to_bytes(),))

    def __repr__(self) -> str:
        i = self._info
        return (
            f"<ferrite.Model {i.name!r} {i.properties.get('precision', '?')}: "
            f"{i.row_width} -> {i.output_width} per row, batch {i.batch}, "
            f"{i.file_size} bytes>"
        )

    @overload
    def predict(self, X: Any, *, monitor: Optional["Monitor"] = None) -> np.ndarray: ...

    @overload
    def predict(
        self,
        X: Any,
        *,
        return_labels: Literal[True],
        monitor: Optional["Monitor"] = None,
    ) -> Tuple[np.ndarray, np.ndarray]: ...

    def predict(
        self,
        X: Any,
        *,
        return_labels: bool = False,
        monitor: Optional["Monitor"] = None,
    ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Output 0 of every row as a new ``(n, output_width)`` float32 array
        (dequantized for an int8 output; a 1-D row gives a 1-D result). With
        ``return_labels=True``, also the labels of :meth:`predict_labels`, from the
        same inference: ``(scores, labels)``.

        The model's own preprocessing runs first when it has a pipeline, so NaN is
        accepted wherever the pipeline imputes it. Each row's values are exactly those
        of the Rust runtime's ``Session::predict`` (and of ``ferrite run``).

        With ``monitor`` (a :class:`Monitor` of this model), every row also goes
        through the runtime's ``Monitor::predict``: timed, and its input and predicted
        class counted (see :meth:`Monitor.predict`).

        Raises:
            WrongLengthError: rows of the wrong width.
            InvalidInputError: NaN or infinity where nothing imputes it (``row`` and
                ``feature`` name it).
            UnsupportedError: ``return_labels`` on a one-value output.
            ValueError: ``monitor`` watches another model.
        """
        if monitor is not None:
            if monitor.model is not self:
                raise ValueError("predict(monitor=...): the monitor watches another Model")
            return monitor.predict(X, return_labels=return_labels)
        rows, single = _float32_rows(X, "predict")
        scores, labels = self._native.predict(rows, bool(return_labels))
        if single:
            scores = scores[0]
            labels = None if labels is None else labels[0]
        return (scores, labels) if return_labels else scores

    def predict_labels(self, X: Any, *, names: bool = False) -> np.ndarray:
        """The arg-max class of output 0 for every row (first on ties): an int64 array
        of class indices, or with ``names=True`` an array of the model's label names.

        Raises:
            UnsupportedError: output 0 has one value per row (a regressor), or
                ``names=True`` on a model without labels.
            WrongLengthError, InvalidInputError: as :meth:`predict`.
        """
        if names and not self._info.labels:
            raise _errors.UnsupportedError(
                "predict_labels(names=True): this model stores no label names",
                code=19,
            )
        rows, single = _float32_rows(X, "predict_labels")
        labels = self._native.predict_labels(rows)
        if names:
            labels = np.asarray(self._info.labels, dtype=object)[labels]
        return labels[0] if single else labels

    def preprocess(self, X: Any) -> np.ndarray:
        """The model's own preprocessing pipeline (imputation, scaling, encoding,
        window features… stored in the file) on every row: raw rows in, a new
        ``(n, features)`` float32 array of the graph's inputs out, computed by the same
        code as on the device. NaN may remain where no step replaces it. Without a
        pipeline, a float32 copy of the rows.

        Raises:
            WrongLengthError: rows of the wrong width.
            InvalidInputError: a value the pipeline rejects (e.g. an unknown category
                under the ``error`` policy).
        """
        rows, single = _float32_rows(X, "preprocess")
        y = self._native.preprocess(rows)
        return y[0] if single else y

    def check_golden(self) -> int:
        """Runs the golden vectors stored in the model and compares the output bytes
        (proves this build computes what the converter computed). Returns how many
        were checked.

        Raises:
            GoldenMismatchError: naming the first vector that differs.
        """
        return self._native.check_golden()

    def validate(
        self,
        reference: Source,
        X: Any,
        labels: Optional[Sequence[int]] = None,
        *,
        min_agreement: float = 0.99,
        max_abs_error: Optional[float] = None,
        per_layer: bool = False,
        per_layer_rows: int = 8,
    ) -> ValidationReport:
        """Compares this model with its ONNX source run in f32 by tract, on the rows
        ``X`` (``ferrite validate``): errors of the outputs, top-1 agreement, accuracy
        against ``labels`` (class indices), and with ``per_layer`` the error of every
        intermediate tensor on the first ``per_layer_rows`` rows.

        Returns the report; ``report.passed`` tells whether the thresholds hold.

        Raises:
            ConversionError: the reference cannot be imported, or ``labels`` do not
                match the rows.
            UnsupportedError: on a batch file (validate its batch-1 conversion).
        """
        onnx, _ = _read(reference)
        rows, _ = _float32_rows(X, "validate")
        label_list = None
        if labels is not None:
            label_list = [int(v) for v in np.asarray(labels).reshape(-1)]
            if any(v < 0 for v in label_list):
                raise ValueError("validate: labels are class indices (>= 0)")
        report_json, text = self._native.validate(
            onnx,
            rows,
            label_list,
            float(min_agreement),
            None if max_abs_error is None else float(max_abs_error),
            bool(per_layer),
            int(per_layer_rows),
        )
        r = json.loads(report_json)
        return ValidationReport(
            rows=r["rows"],
            precision=r["precision"],
            max_abs_error=r["max_abs_error"],
            mean_abs_error=r["mean_abs_error"],
            top1_agreement=r["top1_agreement"],
            accuracy_ferrite=r["accuracy_ferrite"],
            accuracy_reference=r["accuracy_reference"],
            min_agreement=r["min_agreement"],
            max_abs_error_allowed=r["max_abs_error_allowed"],
            per_layer=tuple(LayerError(**layer) for layer in r["per_layer"]),
            passed=r["passed"],
            text=text,
        )
