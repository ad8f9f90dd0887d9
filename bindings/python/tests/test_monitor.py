"""``ferrite.Monitor`` on the digits MLP: a baseline from the training rows
(scikit-learn's digits / 16, split as ``examples/digits/train.py`` splits them), the
held-out rows (same distribution: nothing flagged) and the same rows with one pixel
shifted by one training standard deviation (that pixel flagged, no other).

The expected figures are independent of the runtime's monitor: bin counts and PSI
recomputed with NumPy from the reported bin edges, and the ``ferrite`` binary's own
``ferrite monitor`` (over the same rows, and decoding this monitor's snapshot).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import DIGITS, write_csv
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import ferrite

EPS = 1e-4  # the PSI's smoothing (docs/monitoring.md)


@pytest.fixture(scope="module")
def split() -> tuple:
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    X_tr, X_te, _, _ = train_test_split(
        X, d.target, test_size=0.2, stratify=d.target, random_state=0
    )
    return np.ascontiguousarray(X_tr), np.ascontiguousarray(X_te)


@pytest.fixture(scope="module")
def fer(split: tuple) -> bytes:
    X_tr, _ = split
    c = ferrite.convert(DIGITS / "digits_mlp.onnx", baseline=X_tr)
    assert c.report.baseline == {"rows": len(X_tr), "features": 64, "bins": 10}
    return bytes(c)


def shifted(X: np.ndarray, X_tr: np.ndarray, k: int) -> np.ndarray:
    out = X.copy()
    out[:, k] += X_tr.std(axis=0)[k]
    return out


def numpy_counts(x: np.ndarray, edges: tuple) -> np.ndarray:
    """Bins (number of interior edges <= v) then missing, counted by NumPy."""
    e = np.asarray(edges, dtype=np.float32)
    ok = ~np.isnan(x)
    bins = np.searchsorted(e, x[ok], side="right")
    counts = np.bincount(bins, minlength=len(e) + 1)
    return np.append(counts, np.count_nonzero(~ok))


def numpy_psi(base: np.ndarray, obs: np.ndarray) -> float:
    e = base / base.sum()
    a = obs / obs.sum()
    return float(np.sum((a - e) * np.log((a + EPS) / (e + EPS))))


def test_training_distribution_flags_nothing(fer: bytes, split: tuple) -> None:
    _, X_te = split
    model = ferrite.Model(fer)
    mon = ferrite.Monitor(model)
    proba = model.predict(X_te, monitor=mon)
    # The monitored predict gives the plain predict's bytes.
    assert proba.tobytes() == model.predict(X_te).tobytes()
    r = mon.report()
    assert r.rows == mon.rows == len(X_te)
    assert len(r.features) == 64
    assert [f.index for f in r.features] == list(range(64))
    worst = max(f.psi for f in r.features)
    assert worst < 0.1, worst
    assert r.flagged == ()
    assert not any(f.flagged for f in r.features)
    assert r.output is not None and r.output.kind == "classes"
    assert sum(r.output.observed) == len(X_te)
    assert r.output.drift.psi < 0.1
    assert r.latency.count == len(X_te)
    assert 0 < r.latency.p50 <= r.latency.p95 <= r.latency.max
    assert 0 < r.latency.mean <= r.latency.max


@pytest.mark.parametrize("k", [42, 13])
def test_one_shifted_feature_is_flagged_and_no_other(
    fer: bytes, split: tuple, k: int
) -> None:
    X_tr, X_te = split
    model = ferrite.Model(fer)
    mon = ferrite.Monitor(model)
    labels = mon.predict(shifted(X_te, X_tr, k), return_labels=True)[1]
    assert labels.shape == (len(X_te),)
    r = mon.report()
    f = r.features[k]
    assert f.psi > 0.25 and f.flagged and f.drift.level == "shifted"
    assert [x.index for x in r.flagged] == [k]
    assert max(x.psi for x in r.features if x.index != k) <= 0.25


@pytest.mark.parametrize("k", [None, 42])
def test_psi_and_counts_equal_numpy(fer: bytes, split: tuple, k) -> None:
    X_tr, X_te = split
    rows = X_te if k is None else shifted(X_te, X_tr, k)
    mon = ferrite.Monitor(ferrite.Model(fer))
    mon.update(rows)
    r = mon.report()
    for f in r.features:
        i = f.index
        base = numpy_counts(X_tr[:, i], f.edges)
        obs = numpy_counts(rows[:, i], f.edges)
        assert tuple(base) == f.baseline, i
        assert tuple(obs) == f.observed, i
        assert abs(numpy_psi(base, obs) - f.psi) <= 1e-6, (i, f.psi)
        lo, hi = X_tr[:, i].min(), X_tr[:, i].max()
        assert f.out_of_range == np.count_nonzero((rows[:, i] < lo) | (rows[:, i] > hi))
    # update() without outputs counts no prediction and no latency.
    assert r.output is not None and sum(r.output.observed) == 0
    assert r.latency.count == 0


def test_update_with_outputs_counts_the_predicted_classes(fer: bytes, split: tuple) -> None:
    _, X_te = split
    model = ferrite.Model(fer)
    mon = ferrite.Monitor(model)
    proba = model.predict(X_te)
    mon.update(X_te, proba)
    r = mon.report()
    want = np.bincount(np.argmax(proba, axis=1), minlength=10)
    assert r.output is not None and r.output.observed == tuple(want)


def test_snapshot_decodes_with_the_cli_and_equals_its_run(
    fer: bytes, split: tuple, cli, tmp_path: Path
) -> None:
    X_tr, X_te = split
    rows = shifted(X_te, X_tr, 42)
    model_path, data, snap = tmp_path / "m.fer", tmp_path / "rows.csv", tmp_path / "s.bin"
    model_path.write_bytes(fer)
    write_csv(data, rows)
    mon = ferrite.Monitor(ferrite.Model(fer))
    mon.predict(rows)
    snap.write_bytes(mon.snapshot())
    decoded = json.loads(cli("monitor", str(model_path), "--snapshot", str(snap), "--json"))
    ran = json.loads(cli("monitor", str(model_path), "--input", str(data), "--json"))
    mine = mon.report().json
    assert decoded == mine
    # The CLI ran the same rows through the runtime's monitor: same counts and drift
    # (latencies differ: they are measured).
    for key in ("rows", "bins", "baseline_rows"):
        assert ran[key] == mine[key]
    assert ran["features"] == mine["features"]
    assert ran["output"] == mine["output"]
    assert [f["index"] for f in ran["features"] if f["flagged"]] == [42]


def test_restore_reset_and_window(fer: bytes, split: tuple) -> None:
    X_tr, X_te = split
    model = ferrite.Model(fer)
    a = ferrite.Monitor(model)
    a.predict(shifted(X_te, X_tr, 13))
    b = ferrite.Monitor(model)
    b.restore(a.snapshot())
    assert b.report().json == a.report().json
    with pytest.raises(ferrite.BadSnapshotError) as e:
        b.restore(a.snapshot()[:-1])
    assert e.value.code == 21
    a.reset()
    r = a.report()
    assert r.rows == 0 and all(sum(f.observed) == 0 for f in r.features)
    assert r.latency.count == 0
    w = ferrite.Monitor(model, window=100)
    w.update(X_te)  # 360 rows: halved at 100, 200 and 300
    assert w.window == 100
    assert w.rows == len(X_te)
    assert sum(w.report().features[0].observed) < 200
    assert a.memory_bytes == 4 * (64 * (10 + 2) + 10 + 124)


def test_prometheus_text_parses(fer: bytes, split: tuple) -> None:
    X_tr, X_te = split
    mon = ferrite.Monitor(ferrite.Model(fer))
    mon.predict(shifted(X_te, X_tr, 42))
    text = mon.prometheus({"device": "pump-7"})
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    psi = fams["ferrite_feature_psi"].samples
    assert len(psi) == 64
    assert all(s.labels["device"] == "pump-7" for s in psi)
    report = mon.report()
    for s in psi:
        assert s.value == pytest.approx(report.features[int(s.labels["index"])].psi, rel=1e-9)
    flagged = [int(s.labels["index"]) for s in fams["ferrite_feature_shifted"].samples if s.value == 1]
    assert flagged == [42]
    assert fams["ferrite_monitor_rows"].samples[0].value == len(X_te)


def test_errors(fer: bytes, digits_f32: bytes, split: tuple) -> None:
    _, X_te = split
    with pytest.raises(ferrite.NoBaselineError) as e:
        ferrite.Monitor(ferrite.Model(digits_f32))
    assert e.value.code == 20
    assert isinstance(e.value, ferrite.UnsupportedError)
    model = ferrite.Model(fer)
    mon = ferrite.Monitor(model)
    with pytest.raises(ferrite.WrongLengthError):
        mon.update(X_te[:, :10])
    with pytest.raises(ferrite.WrongLengthError) as e:
        mon.update(X_te, np.zeros((len(X_te), 3), np.float32))
    assert (e.value.expected, e.value.actual) == (10, 3)
    assert mon.rows == 0  # nothing counted
    with pytest.raises(ValueError):
        ferrite.Model(fer).predict(X_te, monitor=mon)  # another Model object
    # A NaN row (no imputation in this model) is counted as missing, then raises.
    bad = X_te[:3].copy()
    bad[1, 5] = np.nan
    with pytest.raises(ferrite.InvalidInputError) as e:
        model.predict(bad, monitor=mon)
    assert e.value.row == 1 and e.value.feature == 5
    r = mon.report()
    assert r.rows == 2 and r.features[5].missing == 1
    with pytest.raises(ferrite.ConversionError) as e:
        ferrite.convert(DIGITS / "digits_mlp.onnx", baseline=X_te, batch=8)
    assert e.value.kind == "usage"
