#!/usr/bin/env python3
"""Synthetic 3-axis accelerometer activity data (idle / walk / run / shake).

What it makes
-------------
Run as a script it writes, in this directory (all committed):

  calib.csv        128 training windows (32 per class), model input units (g)
  test.csv         160 held-out windows (40 per class), model input units (g)
  test_labels.csv  header "label", one class index per test.csv row
  trace.csv        a continuous ~20 s recording, header "ax,ay,az", integer milli-g
                   as a LIS3DH in +-4 g high-resolution mode delivers them
                   (2 mg per LSB, so every value is even, range -4096..4094)

Importing it (``import make_data``) gives the same data in memory; ``train.py``
(the 1D-CNN) and ``train_features.py`` (the window-feature model) call
:func:`make_dataset` and :func:`make_trace`, so the training windows are never
stored on disk.

Signal model (all per *session* = one person/placement, 20 s at 50 Hz)
----------------------------------------------------------------------
* Body frame: gravity +1 g on z. A random per-session tilt (up to 20 deg) rotates
  the whole body-frame signal, so some gravity leaks into x and y.
* idle  : gravity, slow sway (0.1-0.4 Hz, ~10 mg), bumps/handling (~80 mg, 1 per 5 s).
* walk  : step frequency 1.5-2.3 Hz; vertical 0.15-0.45 g with a 2nd harmonic,
          forward (x) about half of that, lateral (y) sway at half the step
          frequency; step-to-step frequency and amplitude jitter.
* run   : 2.2-3.2 Hz, vertical 0.45-1.1 g, sharp heel-strike peaks (2nd + 3rd
          harmonics), larger forward/lateral components.
* shake : the device shaken by hand, 3.5-8 Hz, 0.5-1.6 g along a random direction
          in the x-y plane plus some z, in bursts; peaks can clip at +-4 g.
* Sensor: + white noise (5 mg RMS), quantized to 2 mg steps, clipped to the
  +-4 g range, stored as int16 milli-g.

Windows: 64 samples (1.28 s) of 3 axes. Model input = float32(mg / 1000) (g),
shape [1, 3, 64], channel-major: flattened rows are x0..x63, y0..y63, z0..z63.
Split by session (no window of a test session is used for training):
40 sessions per class, 28 for training (windows every 16 samples), 12 for test.

How to rerun
------------
    python examples/sensor/make_data.py
Fixed seed (SEED = 2024); numpy's PCG64 makes it reproducible across machines.
"""
from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 2024
FS = 50               # Hz
WIN = 64              # samples per window
CLASSES = ["idle", "walk", "run", "shake"]
SESSION_S = 20        # seconds per session
SESSIONS_PER_CLASS = 40
TRAIN_SESSIONS = 28
TRAIN_HOP = 16
MG_PER_LSB = 2        # LIS3DH, +-4 g, high-resolution (12 bit)
MG_MIN, MG_MAX = -4096, 4094
NOISE_G = 0.005


def _rotation(rng: np.random.Generator, max_tilt_deg: float = 20.0) -> np.ndarray:
    """Random rotation: yaw about z, then a tilt of up to max_tilt_deg."""
    yaw = rng.uniform(0, 2 * np.pi)
    tilt = np.deg2rad(rng.uniform(0, max_tilt_deg))
    axis = rng.uniform(0, 2 * np.pi)
    cz, sz = np.cos(yaw), np.sin(yaw)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    # tilt about the horizontal axis (cos(axis), sin(axis), 0) — Rodrigues
    k = np.array([np.cos(axis), np.sin(axis), 0.0])
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rt = np.eye(3) + np.sin(tilt) * kx + (1 - np.cos(tilt)) * kx @ kx
    return rt @ rz


def _jittered_phase(rng, n, f0, rel_jitter):
    """Phase (radians) of an oscillator whose frequency wanders around f0."""
    # frequency: f0 * (1 + slowly varying jitter), smoothed random walk
    steps = rng.normal(0, rel_jitter, n)
    kernel = np.ones(FS) / FS
    wander = np.convolve(steps, kernel, mode="same") * np.sqrt(FS)
    f = f0 * (1 + np.clip(wander, -0.25, 0.25))
    return 2 * np.pi * np.cumsum(f) / FS + rng.uniform(0, 2 * np.pi)


def _envelope(rng, n, depth):
    """Slow amplitude modulation around 1."""
    t = np.arange(n) / FS
    return 1 + depth * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6.3))


def body_signal(cls: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise-free body-frame acceleration in g, shape [n, 3], gravity +1 g on z."""
    t = np.arange(n) / FS
    a = np.zeros((n, 3))
    a[:, 2] = 1.0
    name = CLASSES[cls]
    if name == "idle":
        for ax in range(3):
            f = rng.uniform(0.1, 0.4)
            a[:, ax] += rng.uniform(0.004, 0.015) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
        # bumps and handling (someone touches the table / picks the device up)
        for _ in range(rng.poisson(n / FS / 5)):
            c = rng.integers(0, n)
            w = np.exp(-0.5 * ((np.arange(n) - c) / rng.uniform(1, 6)) ** 2)
            a += np.outer(w, rng.normal(0, 0.08, 3))
    elif name in ("walk", "run"):
        if name == "walk":
            f0, amp, fwd, lat, jit = rng.uniform(1.5, 2.3), rng.uniform(0.15, 0.45), 0.5, 0.3, 0.03
            h2, h3 = 0.35, 0.1
        else:
            f0, amp, fwd, lat, jit = rng.uniform(2.2, 3.2), rng.uniform(0.45, 1.1), 0.6, 0.35, 0.04
            h2, h3 = 0.5, 0.3
        ph = _jittered_phase(rng, n, f0, jit)
        env = _envelope(rng, n, 0.15)
        p2, p3 = rng.uniform(0, 6.3, 2)
        vert = np.sin(ph) + h2 * np.sin(2 * ph + p2) + h3 * np.sin(3 * ph + p3)
        a[:, 2] += amp * env * vert
        a[:, 0] += amp * fwd * env * (np.sin(ph + rng.uniform(0.5, 1.5)) + 0.3 * np.sin(2 * ph))
        a[:, 1] += amp * lat * env * np.sin(0.5 * ph + rng.uniform(0, 6.3))
    elif name == "shake":
        f0 = rng.uniform(3.5, 8.0)
        ph = _jittered_phase(rng, n, f0, 0.05)
        amp = rng.uniform(0.5, 1.6)
        d = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(d), np.sin(d), rng.uniform(-0.4, 0.4)])
        # bursts: shaking for 1.5-4 s, short pauses of 0.2-0.6 s
        gate = np.zeros(n)
        i = 0
        while i < n:
            on = int(rng.uniform(1.5, 4.0) * FS)
            off = int(rng.uniform(0.2, 0.6) * FS)
            gate[i:i + on] = 1.0
            i += on + off
        gate = np.convolve(gate, np.ones(8) / 8, mode="same")
        s = np.sin(ph) + 0.25 * np.sin(3 * ph + rng.uniform(0, 6.3))
        a += np.outer(amp * gate * s, direction)
    else:
        raise ValueError(cls)
    return a


def to_sensor_mg(a_g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add sensor noise, quantize to 2 mg steps and clip like a LIS3DH at +-4 g."""
    noisy = a_g + rng.normal(0, NOISE_G, a_g.shape)
    lsb = np.round(noisy * 1000 / MG_PER_LSB)
    mg = np.clip(lsb * MG_PER_LSB, MG_MIN, MG_MAX)
    return mg.astype(np.int16)


def session(cls: int, seconds: float, rng: np.random.Generator, rot=None) -> np.ndarray:
    """One recording session, int16 milli-g, shape [n, 3]."""
    n = int(round(seconds * FS))
    rot = _rotation(rng) if rot is None else rot
    return to_sensor_mg(body_signal(cls, n, rng) @ rot.T, rng)


def windows(mg: np.ndarray, hop: int) -> np.ndarray:
    """Cut [n, 3] samples into [k, 3, WIN] windows (channel-major), int16 mg."""
    starts = range(0, len(mg) - WIN + 1, hop)
    return np.stack([mg[s:s + WIN].T for s in starts])


def to_model_input(win_mg: np.ndarray) -> np.ndarray:
    """int milli-g -> float32 g (the CNN's input units): float32(mg / 1000)."""
    return (win_mg.astype(np.float64) / 1000.0).astype(np.float32)


def make_dataset(seed: int = SEED):
    """Return dict with train/test windows (int16 mg, [k,3,64]) and labels."""
    rng = np.random.default_rng(seed)
    Xtr, ytr, Xte, yte = [], [], [], []
    for s in range(SESSIONS_PER_CLASS):
        for c in range(len(CLASSES)):
            mg = session(c, SESSION_S, rng)
            if s < TRAIN_SESSIONS:
                w = windows(mg, TRAIN_HOP)
                Xtr.append(w)
                ytr.append(np.full(len(w), c))
            else:
                w = windows(mg, WIN)  # non-overlapping test windows
                Xte.append(w)
                yte.append(np.full(len(w), c))
    Xtr, ytr = np.concatenate(Xtr), np.concatenate(ytr)
    Xte_all, yte_all = np.concatenate(Xte), np.concatenate(yte)
    # 40 test windows per class, 32 calibration windows per class (from train)
    pick = np.random.default_rng(seed + 1)
    te_idx = np.sort(np.concatenate([pick.choice(np.flatnonzero(yte_all == c), 40, replace=False)
                                     for c in range(len(CLASSES))]))
    cal_idx = np.sort(np.concatenate([pick.choice(np.flatnonzero(ytr == c), 32, replace=False)
                                      for c in range(len(CLASSES))]))
    return {
        "train_mg": Xtr, "train_y": ytr,
        "test_mg": Xte_all[te_idx], "test_y": yte_all[te_idx],
        "calib_mg": Xtr[cal_idx], "calib_y": ytr[cal_idx],
    }


# (class, seconds) — the continuous trace for the firmware replay test
TRACE_SCHEDULE = [(0, 3.0), (1, 5.0), (2, 4.0), (0, 2.0), (3, 3.0), (0, 3.0)]


def make_trace(seed: int = SEED + 7):
    """~20 s continuous trace (one device orientation, 0.3 s cross-fades between
    activities). Returns (int16 mg [n, 3], per-sample class index [n])."""
    rng = np.random.default_rng(seed)
    rot = _rotation(rng)
    fade = int(0.3 * FS)
    total = int(sum(s for _, s in TRACE_SCHEDULE) * FS)
    acc = np.zeros((total, 3))
    lab = np.zeros(total, dtype=np.int64)
    pos = 0
    for c, secs in TRACE_SCHEDULE:
        n = int(secs * FS)
        seg = body_signal(c, n + fade, rng)
        w = np.ones(n + fade)
        if pos > 0:
            w[:fade] = np.linspace(0, 1, fade)       # fade this segment in
            acc[pos - fade:pos] *= (1 - w[:fade, None])  # previous one out
            acc[pos - fade:pos] += (w[:fade, None] * seg[:fade])
            acc[pos:pos + n] = seg[fade:fade + n]
        else:
            acc[pos:pos + n] = seg[:n]
        lab[pos:pos + n] = c
        pos += n
    mg = to_sensor_mg(acc @ rot.T, rng)
    return mg, lab


def trace_windows(mg: np.ndarray, lab: np.ndarray, hop: int = 32):
    """Sliding windows over the trace. Label = the activity if the whole window
    lies in one activity, else -1 (transition)."""
    starts = np.arange(0, len(mg) - WIN + 1, hop)
    w = np.stack([mg[s:s + WIN].T for s in starts])
    y = np.array([lab[s] if np.all(lab[s:s + WIN] == lab[s]) else -1 for s in starts])
    return starts, w, y


def flat_header() -> list[str]:
    return [f"{ax}{i}" for ax in "xyz" for i in range(WIN)]


def write_csv(path, arr, header, fmt="%.9g"):
    """CSV with one header line. fmt="short32" writes each value as the shortest
    decimal that parses back to the same float32 (e.g. 0.986, not 0.986000001)."""
    if fmt != "short32":
        np.savetxt(path, arr, fmt=fmt, delimiter=",", header=",".join(header), comments="")
        return
    arr = np.asarray(arr, dtype=np.float32)
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in arr:
            f.write(",".join(np.format_float_positional(v, unique=True, trim="-")
                             for v in row) + "\n")
    back = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    assert np.array_equal(back, arr.reshape(back.shape)), path


def main() -> int:
    d = make_dataset()
    write_csv(os.path.join(HERE, "calib.csv"),
              to_model_input(d["calib_mg"]).reshape(len(d["calib_mg"]), -1), flat_header(),
              fmt="short32")
    write_csv(os.path.join(HERE, "test.csv"),
              to_model_input(d["test_mg"]).reshape(len(d["test_mg"]), -1), flat_header(),
              fmt="short32")
    write_csv(os.path.join(HERE, "test_labels.csv"), d["test_y"][:, None], ["label"], fmt="%d")
    mg, _ = make_trace()
    write_csv(os.path.join(HERE, "trace.csv"), mg, ["ax", "ay", "az"], fmt="%d")
    print(f"train windows {len(d['train_mg'])}, test {len(d['test_mg'])}, "
          f"calib {len(d['calib_mg'])}, trace samples {len(mg)} "
          f"({len(mg) / FS:.1f} s); clipped test samples "
          f"{int(np.sum((d['test_mg'] == MG_MIN) | (d['test_mg'] == MG_MAX)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
