#!/usr/bin/env python3
"""Recomputes, with NumPy and SciPy, what `ferrite monitor --json` reports for a model
whose monitored features are its raw inputs:

    python tests/monitor/check_psi.py REPORT.json BASELINE.csv FIELD.csv

From the bin edges stored in the model (the report's `edges`) it bins the baseline and
the field rows itself (np.searchsorted: a value goes to the bin counting the edges at or
below it; NaN is the missing category), requires the counts to equal the model's
baseline counts and the monitor's observed counts, computes the PSI with the same
smoothing (sum (a - e) ln((a + eps) / (e + eps)), eps = 1e-4) and the G-test p-value
(scipy.stats.chi2_contingency with lambda_="log-likelihood" over the non-empty
categories), and requires both to equal the device code's within 1e-6.
Prints "checked N features, max |psi difference| X" and exits 1 on a mismatch.
"""
import json
import sys

import numpy as np
from scipy.stats import chi2_contingency

EPS = 1e-4


def load(path):
    return np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float32,
                         missing_values="", filling_values=np.nan, ndmin=2)


def hist(x, edges):
    present = ~np.isnan(x)
    bins = np.searchsorted(edges, x[present], side="right")
    c = np.bincount(bins, minlength=len(edges) + 1)
    return np.append(c, np.count_nonzero(~present))


def psi(base, obs):
    e = base / base.sum()
    a = obs / obs.sum()
    return float(np.sum((a - e) * np.log((a + EPS) / (e + EPS))))


def g_test_p(base, obs):
    table = np.array([base, obs], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    _, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    return float(p)


def main(report_path, base_path, field_path):
    r = json.load(open(report_path))
    assert r["source"] == "raw", "raw-feature models only"
    assert r["psi_epsilon"] == EPS
    base, field = load(base_path), load(field_path)
    worst = 0.0
    bad = []
    for f in r["features"]:
        i = f["index"]
        edges = np.array(f["edges"], dtype=np.float32)
        b, o = hist(base[:, i], edges), hist(field[:, i], edges)
        if list(b) != f["baseline"]:
            bad.append(f"feature {i}: baseline counts {list(b)} != {f['baseline']}")
        if list(o) != f["observed"]:
            bad.append(f"feature {i}: observed counts {list(o)} != {f['observed']}")
        d = abs(psi(b, o) - f["psi"])
        worst = max(worst, d)
        if d > 1e-6:
            bad.append(f"feature {i}: psi {f['psi']} vs numpy {psi(b, o)}")
        p = g_test_p(b, o)
        if abs(p - f["p_value"]) > 1e-6:
            bad.append(f"feature {i}: p-value {f['p_value']} vs scipy {p}")
    print(f"checked {len(r['features'])} features, max |psi difference| {worst:.3g}")
    for m in bad:
        print(m)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
