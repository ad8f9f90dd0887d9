"""``ferrite.Monitor``: input drift, output drift and latency of a model, computed by
the runtime's own fixed-memory monitor (``ferrite::Monitor``, ``docs/monitoring.md``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Mapping, Optional, Tuple, Union, overload

import numpy as np

from . import _native
from ._model import _float32_rows

if TYPE_CHECKING:
    from ._model import Model

#: PSI below this: stable.
PSI_MODERATE = 0.1
#: PSI above this: shifted (flagged). Between the two: moderate.
PSI_SHIFTED = 0.25


@dataclass(frozen=True)
class Drift:
    """One observed distribution compared with its training baseline."""

    #: Rows in the observed histogram (after decay: the effective count).
    rows: int
    #: Population Stability Index ``Σ (a−e)·ln((a+ε)/(e+ε))``, ε = 1e-4.
    psi: float
    #: p-value of a G-test of homogeneity (small, e.g. < 0.01: unlikely to be
    #: sampling noise; meaningful at small row counts where the PSI is not).
    p_value: float
    #: The G statistic and its degrees of freedom.
    g: float
    dof: int
    #: ``"stable"`` (PSI < 0.1), ``"moderate"`` or ``"shifted"`` (PSI > 0.25).
    level: str
    #: PSI > 0.25.
    flagged: bool


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one monitored input feature."""

    index: int
    #: The feature's name in the baseline (``f<index>`` when it has none).
    name: str
    drift: Drift
    #: Missing (NaN) values seen.
    missing: int
    #: Values outside the baseline's ``[min, max]``.
    out_of_range: int
    #: Interior bin edges (a value ``v`` is in bin ``#edges <= v``).
    edges: Tuple[float, ...]
    #: Baseline counts: one per bin, then missing.
    baseline: Tuple[int, ...]
    #: Observed counts: one per bin, then missing.
    observed: Tuple[int, ...]

    @property
    def psi(self) -> float:
        return self.drift.psi

    @property
    def flagged(self) -> bool:
        return self.drift.flagged


@dataclass(frozen=True)
class OutputDrift:
    """Drift of the predictions: of the predicted class (``kind == "classes"``) or of
    the output's histogram (``"values"``, regressors)."""

    kind: str
    drift: Drift
    #: Class labels (classifiers with labels).
    labels: Tuple[str, ...]
    #: Interior bin edges (regressors).
    edges: Tuple[float, ...]
    baseline: Tuple[int, ...]
    observed: Tuple[int, ...]


@dataclass(frozen=True)
class LatencyStats:
    """Latency of the predictions made through the monitor, in seconds (timed per
    row, in nanoseconds). Percentiles come from the monitor's fixed histogram
    (within its bucket width, ≤ 25 %, never above ``max``)."""

    count: int
    mean: float
    max: float
    p50: float
    p95: float


@dataclass(frozen=True)
class MonitorReport:
    """What :meth:`Monitor.report` returns (``ferrite monitor --json`` as objects)."""

    #: Rows observed since the monitor was created or reset.
    rows: int
    #: Rows the baseline was built from.
    baseline_rows: int
    #: Bins per feature.
    bins: int
    #: Decay window in rows (0: never).
    window: int
    #: Input features, in order.
    features: Tuple[FeatureDrift, ...]
    #: Drift of the predictions; ``None`` when the baseline has no output part.
    output: Optional[OutputDrift]
    latency: LatencyStats
    #: The whole report as ``ferrite monitor --json`` prints it.
    json: Dict[str, Any]

    @property
    def flagged(self) -> Tuple[FeatureDrift, ...]:
        """Features with PSI > 0.25, most drifted first."""
        f = [x for x in self.features if x.drift.flagged]
        return tuple(sorted(f, key=lambda x: -x.drift.psi))


def _drift(d: Mapping[str, Any]) -> Drift:
    return Drift(
        rows=d["rows"],
        psi=float(d["psi"]),
        p_value=float(d["p_value"]),
        g=float(d["g"]),
        dof=d["dof"],
        level=d["level"],
        flagged=d["flagged"],
    )


def _report(r: Dict[str, Any]) -> MonitorReport:
    out = r["output"]
    lat = r["latency"]
    hz = lat["clock_hz"] or 1
    return MonitorReport(
        rows=r["rows"],
        baseline_rows=r["baseline_rows"],
        bins=r["bins"],
        window=r["window"],
        features=tuple(
            FeatureDrift(
                index=f["index"],
                name=f["name"],
                drift=_drift(f),
                missing=f["missing"],
                out_of_range=f["out_of_range"],
                edges=tuple(f["edges"]),
                baseline=tuple(f["baseline"]),
                observed=tuple(f["observed"]),
            )
            for f in r["features"]
        ),
        output=None
        if out is None
        else OutputDrift(
            kind=out["kind"],
            drift=_drift(out),
            labels=tuple(out["labels"]),
            edges=tuple(out["edges"]),
            baseline=tuple(out["baseline"]),
            observed=tuple(out["observed"]),
        ),
        latency=LatencyStats(
            count=lat["count"],
            mean=float(lat["mean"] or 0.0) / hz,
            max=float(lat["max"]) / hz,
            p50=float(lat["p50"] or 0.0) / hz,
            p95=float(lat["p95"] or 0.0) / hz,
        ),
        json=r,
    )


class Monitor:
    """Watches a model's inputs, predictions and latency for drift from its training
    data, with the runtime's own fixed-memory monitor (the code a device runs).

    The model must carry a monitoring baseline: ``convert(..., baseline=X_train)``
    or ``ferrite convert --baseline train.csv`` (or, on the CLI, the calibration rows
    by default). ::

        monitor = ferrite.Monitor(model, window=0)
        proba = model.predict(X, monitor=monitor)   # predicts, times and counts
        monitor.update(X_other)                     # or count rows predicted elsewhere
        report = monitor.report()
        [f.name for f in report.flagged]            # features with PSI > 0.25
        blob = monitor.snapshot()                   # `ferrite monitor --snapshot` reads it

    Memory: ``bins + 2`` words per feature, one per class (or output bin) and the
    latency histogram, 4 bytes each (``memory_bytes``). Thread-safe: calls on one
    monitor are serialized.

    Args:
        model: a :class:`ferrite.Model` with a baseline (not a batch file).
        window: every ``window`` rows all counters halve, so the report covers about
            the last ``window`` to ``2 × window`` rows; 0 (the default) never decays.

    Raises:
        NoBaselineError: the model has no monitoring baseline.
        UnsupportedError: a batch file (monitor its batch-1 file).
    """

    def __init__(self, model: "Model", window: int = 0) -> None:
        self._model = model
        self._native = _native.Monitor(model._native, int(window))

    @property
    def model(self) -> "Model":
        """The monitored model."""
        return self._model

    @property
    def rows(self) -> int:
        """Rows observed since the monitor was created or reset."""
        return self._native.rows

    @property
    def window(self) -> int:
        """The decay window in rows (0: never)."""
        return self._native.window

    @property
    def memory_bytes(self) -> int:
        """Bytes of counters (what the same monitor takes on a device)."""
        return self._native.memory_bytes

    @overload
    def predict(self, X: Any) -> np.ndarray: ...

    @overload
    def predict(
        self, X: Any, *, return_labels: Literal[True]
    ) -> Tuple[np.ndarray, np.ndarray]: ...

    def predict(
        self, X: Any, *, return_labels: bool = False
    ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """``model.predict(X)`` with every row timed and counted (the runtime's
        ``Monitor::predict``: input histogram, predicted class or output bin,
        latency). Same results as :meth:`Model.predict`; ``model.predict(X,
        monitor=m)`` calls this. A row the model rejects (NaN where nothing
        imputes) is still counted as input, then raises ``InvalidInputError``."""
        rows, single = _float32_rows(X, "predict")
        scores, labels = self._native.predict(rows, bool(return_labels))
        if single:
            scores = scores[0]
            labels = None if labels is None else labels[0]
        return (scores, labels) if return_labels else scores

    def update(self, X: Any, outputs: Any = None) -> None:
        """Counts raw input rows predicted elsewhere and, when given, their output 0
        rows (``(n, output_width)``: the class is the arg-max, a regressor's value
        is binned). No latency is recorded.

        Raises:
            WrongLengthError: rows or outputs of the wrong width.
        """
        rows, _ = _float32_rows(X, "update")
        outs = None
        if outputs is not None:
            outs, _ = _float32_rows(outputs, "update outputs")
        self._native.update(rows, outs)

    def report(self) -> MonitorReport:
        """Per-feature and output drift (PSI, G-test p-value, level, flagged),
        missing and out-of-range counts, rows seen and latency: the runtime's figures,
        as ``ferrite monitor --snapshot`` decodes them."""
        return _report(json.loads(self._native.report_json()))

    def prometheus(self, labels: Optional[Mapping[str, str]] = None) -> str:
        """The report in the Prometheus text exposition format (``ferrite monitor
        --prometheus``): every sample labelled ``model`` and ``labels`` (e.g.
        ``{"device": "pump-7"}``)."""
        pairs: List[Tuple[str, str]] = [(str(k), str(v)) for k, v in (labels or {}).items()]
        return self._native.prometheus(pairs)

    def snapshot(self) -> bytes:
        """The runtime's ``Monitor::snapshot``: every counter, compactly (varints), for
        a device or a worker to send upstream; ``ferrite monitor --snapshot FILE
        model.fer`` and :meth:`restore` read it."""
        return self._native.snapshot()

    def restore(self, snapshot: Union[bytes, bytearray, memoryview]) -> None:
        """Replaces every counter with a snapshot's of the same model.

        Raises:
            BadSnapshotError: not a whole snapshot of this model (code 21).
        """
        self._native.restore(bytes(snapshot))

    def reset(self) -> None:
        """Clears every counter (the window stays)."""
        self._native.reset()

    def __repr__(self) -> str:
        return f"<ferrite.Monitor of {self._model.info.name!r}: {self.rows} rows, window {self.window}>"
