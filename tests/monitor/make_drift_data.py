#!/usr/bin/env python3
"""Rows from the training distribution, and the same rows with one feature shifted by
one standard deviation, for the drift tests of `ferrite monitor` (tool/tests/monitor.rs).

    python tests/monitor/make_drift_data.py OUT_DIR

Writes into OUT_DIR (CSV, one header line):
  digits_train.csv, digits_field.csv   scikit-learn's load_digits / 16, split exactly as
                                       examples/digits/train.py (1437 train, 360 held out)
  digits_shift_K.csv                   the held-out rows with pixel K + std_train(K)
  sensor_train.csv, sensor_field.csv   examples/sensor windows in g (the CNN's input):
                                       3000 training windows of make_dataset() (seed 2024)
                                       and 2000 windows of fresh sessions (seed 3033)
  sensor_shift_x_mean.csv              the field windows with every x sample + the
                                       training std of the x channel's window mean
  sensor_mg_*.csv                      the same windows in integer milli-g (the raw row of
                                       the window-feature model, features.toml)
  shifts.json                          which feature each shifted file moves, and by how much
No network: the data ship with scikit-learn or are generated.
"""
import json
import os
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "sensor"))
import make_data  # noqa: E402


def write(path, arr, header, fmt):
    np.savetxt(path, arr, fmt=fmt, delimiter=",", header=",".join(header), comments="")


def main(out):
    os.makedirs(out, exist_ok=True)
    shifts = {}
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    X_tr, X_te, _, _ = train_test_split(X, d.target, test_size=0.2, stratify=d.target,
                                        random_state=0)
    head = [f"f{i}" for i in range(64)]
    write(os.path.join(out, "digits_train.csv"), X_tr, head, "%.9g")
    write(os.path.join(out, "digits_field.csv"), X_te, head, "%.9g")
    std = X_tr.std(axis=0)
    # The pixel that varies most, and one near the edge of the digit.
    for k in (int(np.argmax(std)), 13):
        shifted = X_te.copy()
        shifted[:, k] += std[k]
        write(os.path.join(out, f"digits_shift_{k}.csv"), shifted, head, "%.9g")
        shifts[f"digits_shift_{k}.csv"] = {"feature": k, "by": float(std[k])}

    tr = make_data.make_dataset()["train_mg"]
    fresh = make_data.make_dataset(seed=3033)["train_mg"]
    rng = np.random.default_rng(0)
    tr = tr[np.sort(rng.choice(len(tr), 3000, replace=False))]
    fresh = fresh[np.sort(rng.choice(len(fresh), 2000, replace=False))]
    head = make_data.flat_header()
    x_mean_std_mg = float(tr[:, 0, :].astype(np.float64).mean(axis=1).std())
    shift_mg = 2 * round(x_mean_std_mg / 2)  # whole 2 mg steps, as the sensor delivers
    shifted = fresh.astype(np.int32).copy()
    shifted[:, 0, :] += shift_mg
    for name, w in (("train", tr), ("field", fresh), ("shift_x_mean", shifted)):
        flat = w.reshape(len(w), -1)
        write(os.path.join(out, f"sensor_mg_{name}.csv"), flat, head, "%d")
        write(os.path.join(out, f"sensor_{name}.csv"),
              (flat.astype(np.float64) / 1000.0).astype(np.float32), head, "%.9g")
    shifts["sensor_shift_x_mean.csv"] = {"feature": 0, "by": shift_mg / 1000.0}
    shifts["sensor_mg_shift_x_mean.csv"] = {"feature": 0, "by": shift_mg}
    with open(os.path.join(out, "shifts.json"), "w") as f:
        json.dump(shifts, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
