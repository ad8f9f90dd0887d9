#!/usr/bin/env python3
"""Window features for the sensor example — the plain numpy reference.

What it is
----------
The independent reference for ferrite's window aggregates. For one window of
64 samples x 3 axes it computes 7 statistics per axis, 21 features in total, in
this order (axis-major)::

    x_mean, x_std, x_min, x_max, x_rms, x_ptp, x_zc,
    y_mean, ..., y_zc,
    z_mean, ..., z_zc

Definitions, for one axis with samples v[0..n-1] (n = 64), computed in float64:

* mean = sum(v) / n
* std  = sqrt(sum((v - mean)^2) / n)      population std (ddof = 0), two-pass
* min, max
* rms  = sqrt(sum(v^2) / n)
* ptp  = max - min                        (peak to peak)
* zc   = number of i in 1..n-1 with (d[i-1] < 0) != (d[i] < 0), where
         d = v - mean. A sample exactly equal to the mean counts as
         non-negative (so ... -, 0, + ... is one crossing, + 0 + is none).

Units: the features are computed on the sensor's native integer milli-g samples
(trace.csv units; for test.csv rows: round(value * 1000)). With integer input and
n = 64 (a power of two) the mean is exact in binary floating point, so d and its
sign — hence zc — are exact in float32 as well as float64, and every
implementation gets the same zero-crossing count.

Numerical note for implementers: z carries ~1000 mg of gravity while its std can
be ~5 mg (idle). A one-pass float32 E[v^2] - E[v]^2 loses almost all digits there
(1e6 - 1e6 with a 24-bit mantissa); use two passes (or Welford) as here.
Compare a float32 implementation against features_reference.csv with
rtol ~1e-6 (mean/std/rms), exact for min/max/ptp/zc.

How to rerun / use
------------------
    from features import window_features, features_batch, FEATURE_NAMES
This file has no side effects; the model trained on these features is built by
``train_features.py`` (``python examples/sensor/train_features.py``).
"""
from __future__ import annotations

import numpy as np

AXES = ("x", "y", "z")
STATS = ("mean", "std", "min", "max", "rms", "ptp", "zc")
FEATURE_NAMES = [f"{a}_{s}" for a in AXES for s in STATS]


def axis_features(v: np.ndarray) -> list[float]:
    """The 7 statistics of one axis (1-D array of samples)."""
    v = np.asarray(v, dtype=np.float64)
    n = v.shape[0]
    mean = v.sum() / n
    d = v - mean
    std = np.sqrt((d * d).sum() / n)
    vmin = v.min()
    vmax = v.max()
    rms = np.sqrt((v * v).sum() / n)
    ptp = vmax - vmin
    neg = d < 0
    zc = int(np.count_nonzero(neg[1:] != neg[:-1]))
    return [mean, std, vmin, vmax, rms, ptp, float(zc)]


def window_features(window: np.ndarray) -> np.ndarray:
    """Features of one window shaped [3, n] (channel-major: x, y, z rows)."""
    window = np.asarray(window)
    assert window.ndim == 2 and window.shape[0] == 3, window.shape
    out: list[float] = []
    for axis in range(3):
        out.extend(axis_features(window[axis]))
    return np.array(out, dtype=np.float64)


def features_batch(windows: np.ndarray) -> np.ndarray:
    """Features of many windows shaped [k, 3, n] -> [k, 21] float64."""
    return np.stack([window_features(w) for w in windows])
