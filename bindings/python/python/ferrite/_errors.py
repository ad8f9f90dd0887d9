"""The exceptions of ferrite.

Every error of the runtime is a :class:`FerriteError` whose ``code`` is the runtime's
stable error code (``ferrite::Error::code()`` in Rust, the ``FER_STATUS_*`` value in
C). The codes are grouped as in every other ferrite binding (the UniFFI
``FerriteError`` variants, the C status codes):

==========================  ==============  =====================================
class                       codes           when
==========================  ==============  =====================================
:class:`InvalidModelError`  1-11            the bytes are not a valid model
:class:`SignatureError`     18, 22-24       a verified load refused the model
:class:`WrongLengthError`   14              an input has the wrong width
:class:`InvalidInputError`  16              NaN / infinity where nothing imputes
:class:`GoldenMismatchError` 17             a stored golden vector did not reproduce
:class:`UnsupportedError`   19              not possible with this model or build
:class:`NoBaselineError`    20              ``Monitor`` of a model without a baseline
:class:`BadSnapshotError`   21              ``Monitor.restore`` of foreign bytes
:class:`InternalError`      12, 13, 15      a bug, not bad data
:class:`ConversionError`    (none)          ``convert`` / ``validate`` failed
==========================  ==============  =====================================

A :class:`SignatureError` (an :class:`InvalidModelError`) is one of
:class:`BadSignatureError` (18), :class:`UnsignedModelError` (22),
:class:`UnknownKeyError` (23) and :class:`VersionTooOldError` (24).

The first three are also :class:`ValueError`\\ s. A file that cannot be read raises
Python's own :class:`OSError` (e.g. :class:`FileNotFoundError`).
"""

from __future__ import annotations

from typing import Any, Optional


class FerriteError(Exception):
    """Base class of every ferrite error.

    Attributes:
        code: the runtime's stable error code (``None`` for errors that do not come
            from the runtime, e.g. a :class:`ConversionError`).
        row: the input row (0-based) the error is about, when there is one.
    """

    code: Optional[int]
    row: Optional[int]

    def __init__(
        self,
        message: str,
        *,
        code: Optional[int] = None,
        row: Optional[int] = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.row = row
        for key, value in details.items():
            setattr(self, key, value)

    @property
    def reason(self) -> str:
        """The message, as the other bindings name it."""
        return str(self.args[0]) if self.args else ""


class InvalidModelError(FerriteError, ValueError):
    """The bytes are not a valid model: bad magic (code 1), unsupported format version
    (2), truncated (3), checksum mismatch (4), a malformed section, record, tensor, op
    or arena plan (5-11), or a refused signature (:class:`SignatureError`)."""


class SignatureError(InvalidModelError):
    """A signed-model check refused the file (``Model(source, public_keys=...)``,
    docs/security.md). Catch this to handle every refusal alike; the subclasses say
    which check failed."""


class BadSignatureError(SignatureError):
    """The signature does not verify (code 18): a byte of the file changed since it was
    signed, or the signature itself is damaged."""


class UnsignedModelError(SignatureError):
    """Verification was required and the file carries no signature (code 22)."""


class UnknownKeyError(SignatureError):
    """The file is signed by a key that is not among ``public_keys`` (code 23)."""


class VersionTooOldError(SignatureError):
    """The signed ``model_version`` is lower than ``min_version`` (code 24): a replayed
    older model (anti-rollback). Checked after the signature, so ``version`` is
    authentic.

    Attributes:
        version: the file's signed model version.
        min_version: the minimum that was required.
    """

    version: int
    min_version: int


class WrongLengthError(FerriteError, ValueError):
    """An input row has the wrong number of values (code 14).

    Attributes:
        expected: values the model takes per row.
        actual: values given.
    """

    expected: int
    actual: int


class InvalidInputError(FerriteError, ValueError):
    """A value the model cannot accept (code 16): NaN or infinity in a model without
    an imputation step, or left in the features after its preprocessing; an unknown
    category under the ``error`` policy.

    Attributes:
        feature: the column (of the raw row, or of the preprocessed features when the
            model has a pipeline) holding the value.
    """

    feature: int


class GoldenMismatchError(FerriteError):
    """A golden vector stored in the model did not reproduce on this machine (code 17).

    Attributes:
        index: the golden vector.
    """

    index: int


class UnsupportedError(FerriteError):
    """The call needs something this model or build does not have (code 19), e.g.
    labels from a model whose output is one value."""


class NoBaselineError(UnsupportedError):
    """The model carries no monitoring baseline (code 20): convert it with
    ``baseline=`` (``ferrite convert --baseline``) to use :class:`ferrite.Monitor`."""


class BadSnapshotError(FerriteError, ValueError):
    """The bytes are not a whole monitor snapshot of this model (code 21)."""


class InternalError(FerriteError):
    """Misaligned bytes (12), an arena too small (13), no such index (15), or an error
    kind newer than this package: a bug in ferrite, not bad data."""


class ConversionError(FerriteError):
    """``convert`` or ``validate`` failed in the host tool.

    Attributes:
        kind: ``"unsupported_ops"`` (``ops`` lists ``(op_type, node_name)`` pairs),
            ``"dynamic_shape"`` (``input`` names the input; pass ``input_shapes``),
            ``"import"``, ``"data"``, ``"usage"``, ``"write"`` or ``"other"``.
    """

    kind: str


class ConversionWarning(UserWarning):
    """Something the user should know about a conversion (e.g. that an int8
    conversion found nothing to quantize)."""


__all__ = [
    "FerriteError",
    "InvalidModelError",
    "SignatureError",
    "BadSignatureError",
    "UnsignedModelError",
    "UnknownKeyError",
    "VersionTooOldError",
    "WrongLengthError",
    "InvalidInputError",
    "GoldenMismatchError",
    "UnsupportedError",
    "NoBaselineError",
    "BadSnapshotError",
    "InternalError",
    "ConversionError",
    "ConversionWarning",
]
