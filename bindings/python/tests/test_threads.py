"""One Model shared by threads: concurrent calls give exactly the sequential results."""

from __future__ import annotations

import threading

import numpy as np

import ferrite
from conftest import SKLEARN, load_csv, same_bits


def run_in_threads(n, work):
    """Runs ``work(i)`` in ``n`` threads released at once; returns their results."""
    results, errors = [None] * n, []
    start = threading.Barrier(n)

    def body(i):
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_eight_threads_predicting_at_once(digits_int8, digits_test):
    model = ferrite.Model(digits_int8)
    rng = np.random.default_rng(1)
    # Each thread its own rows (different batches of the test set, with noise).
    inputs = [
        (digits_test[rng.permutation(360)] + rng.normal(0, 0.05, (360, 64))).astype(np.float32)
        for _ in range(8)
    ]
    want = [model.predict(x) for x in inputs]
    want_labels = [model.predict_labels(x) for x in inputs]

    def work(i):
        out = []
        for _ in range(25):
            out.append((model.predict(inputs[i]), model.predict_labels(inputs[i])))
        return out

    for i, runs in enumerate(run_in_threads(8, work)):
        for scores, labels in runs:
            assert same_bits(scores, want[i])
            np.testing.assert_array_equal(labels, want_labels[i])


def test_threads_share_a_model_with_preprocessing():
    rows = load_csv(SKLEARN / "wine_impute_mlp_input.csv")
    model = ferrite.Model(bytes(ferrite.convert(SKLEARN / "wine_impute_mlp.onnx")))
    want_scores, want_feats = model.predict(rows), model.preprocess(rows)
    for scores, feats in run_in_threads(
        8, lambda i: (model.predict(rows), model.preprocess(rows))
    ):
        assert same_bits(scores, want_scores) and same_bits(feats, want_feats)


def test_threads_on_a_batch_file(digits_calib, digits_test):
    onnx = SKLEARN.parent / "digits" / "digits_mlp.onnx"
    model = ferrite.Model(bytes(ferrite.convert(onnx, batch=32)))
    x = np.concatenate([digits_test] * 3)[:1000]
    want = model.predict(x)
    for got in run_in_threads(8, lambda i: model.predict(x)):
        assert same_bits(got, want)
