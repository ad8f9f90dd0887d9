"""ferrite for Python: the device's runtime and the host tool, on NumPy arrays.

::

    import ferrite
    fer = ferrite.convert("model.onnx", precision="int8", calibration=X_calib)
    model = ferrite.Model(fer)                 # or ferrite.Model("model.fer")
    proba = model.predict(X_test)              # (n, classes) float32
    report = model.validate("model.onnx", X_test, labels=y_test)
    assert report.passed, report

- :func:`convert` — ONNX (PyTorch, Keras, scikit-learn exports…) to a ``.fer``
  file in f32, f16 or int8, as ``ferrite convert`` does.
- :class:`Model` — a validated model: ``info``, ``predict``, ``predict_labels``,
  ``preprocess``, ``validate``, ``check_golden``. Thread-safe; the GIL is released
  while it runs; results are bit-identical to the Rust runtime's.
- :class:`Monitor` — input drift, output drift and latency of a model with a
  baseline (``convert(..., baseline=X_train)``), computed by the runtime's own
  fixed-memory monitor; ``report()``, ``snapshot()``, ``prometheus()``.
- Errors are :class:`FerriteError` subclasses carrying the runtime's stable
  error ``code`` (see :mod:`ferrite._errors`).
"""

from . import _native
from ._convert import Agreement, Conversion, ConversionReport, convert
from ._errors import (
    BadSignatureError,
    ConversionError,
    ConversionWarning,
    FerriteError,
    GoldenMismatchError,
    InternalError,
    InvalidInputError,
    InvalidModelError,
    SignatureError,
    UnknownKeyError,
    UnsignedModelError,
    UnsupportedError,
    VersionTooOldError,
    WrongLengthError,
    NoBaselineError,
    BadSnapshotError,
)
from ._monitor import (
    Drift,
    FeatureDrift,
    LatencyStats,
    Monitor,
    MonitorReport,
    OutputDrift,
)
from ._model import (
    LayerError,
    Model,
    ModelInfo,
    Quantization,
    Signature,
    TensorInfo,
    ValidationReport,
)

#: Version of the ferrite workspace this package was built from.
__version__: str = _native.version()

__all__ = [
    "BadSignatureError",
    "BadSnapshotError",
    "Drift",
    "FeatureDrift",
    "LatencyStats",
    "Monitor",
    "MonitorReport",
    "NoBaselineError",
    "OutputDrift",
    "Agreement",
    "Conversion",
    "ConversionError",
    "ConversionReport",
    "ConversionWarning",
    "FerriteError",
    "GoldenMismatchError",
    "InternalError",
    "InvalidInputError",
    "InvalidModelError",
    "LayerError",
    "Model",
    "ModelInfo",
    "Quantization",
    "TensorInfo",
    "SignatureError",
    "Signature",
    "UnknownKeyError",
    "UnsignedModelError",
    "UnsupportedError",
    "VersionTooOldError",
    "ValidationReport",
    "WrongLengthError",
    "convert",
]
