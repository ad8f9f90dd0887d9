"""ferrite.Model against the Rust runtime (the ``ferrite`` CLI on the same rows)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import ferrite
from conftest import DIGITS, SKLEARN, load_csv, same_bits


def test_f32_predictions_are_the_bytes_of_ferrite_run(cli, digits_f32, digits_test):
    model = ferrite.Model(digits_f32)
    got = model.predict(digits_test)
    assert got.dtype == np.float32 and got.shape == (360, 10)
    assert same_bits(got, cli.run(digits_f32, digits_test))


def test_int8_predictions_are_the_bytes_of_ferrite_run(cli, digits_int8, digits_test):
    model = ferrite.Model(digits_int8)
    assert model.info.inputs[0].dtype in ("f32", "i8")
    assert model.info.properties["precision"] == "int8"
    assert same_bits(model.predict(digits_test), cli.run(digits_int8, digits_test))


def test_the_python_and_cli_conversions_write_the_same_file(cli, digits_int8):
    calib = DIGITS / "calib.csv"
    labels = ",".join(str(d) for d in range(10))
    from_cli = cli.convert(
        DIGITS / "digits_mlp.onnx", "--precision", "int8", "--calibration", str(calib),
        "--labels", labels, "--no-baseline",
    )
    # The CLI records the SHA-256 of the calibration file, this package that of the
    # array's float32 bytes: the rest (graph, weights, golden vectors) is identical. (The
    # CLI also stores a monitoring baseline by default; this package does not.)
    a, b = ferrite.Model(from_cli), ferrite.Model(digits_int8)
    props_a = {k: v for k, v in a.info.properties.items() if k != "calibration_sha256"}
    props_b = {k: v for k, v in b.info.properties.items() if k != "calibration_sha256"}
    assert props_a == props_b
    assert a.info.num_golden == b.info.num_golden == 4
    assert len(from_cli) == len(digits_int8)


def test_labels_are_the_arg_max_of_the_runtime_scores(cli, digits_int8, digits_test):
    model = ferrite.Model(digits_int8)
    scores = cli.run(digits_int8, digits_test)
    labels = model.predict_labels(digits_test)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, np.argmax(scores, axis=1))
    names = model.predict_labels(digits_test, names=True)
    assert list(names[:5]) == [str(v) for v in labels[:5]]


def test_nan_rows_go_through_the_imputing_pipeline(cli, tmp_path):
    onnx = SKLEARN / "wine_impute_mlp.onnx"
    rows = load_csv(SKLEARN / "wine_impute_mlp_input.csv")
    nan_rows = np.isnan(rows).any(axis=1)
    assert nan_rows.sum() > 10  # the fixture's ~10 % missing values
    fer = bytes(ferrite.convert(onnx))
    model = ferrite.Model(fer)
    assert model.info.has_preprocessing
    got = model.predict(rows)
    assert not np.isnan(got).any()
    assert same_bits(got, cli.run(fer, rows))
    # The imputed features are the device's: ferrite preprocess on the same rows.
    feats = model.preprocess(rows)
    assert not np.isnan(feats).any()
    assert same_bits(feats, cli.preprocess(fer, rows))
    # and scikit-learn's labels (exported by skl2onnx, onnxruntime agrees).
    want = load_csv(SKLEARN / "wine_impute_mlp_sklearn_labels.csv")[:, 0].astype(np.int64)
    assert (model.predict_labels(rows) == want).mean() >= 0.98


def test_int8_pipeline_with_nan_calibration_rows(cli):
    onnx = SKLEARN / "wine_impute_mlp.onnx"
    rows = load_csv(SKLEARN / "wine_impute_mlp_input.csv")
    fer = bytes(ferrite.convert(onnx, precision="int8", calibration=rows))
    model = ferrite.Model(fer)
    assert same_bits(model.predict(rows), cli.run(fer, rows))


def test_row_layouts_give_the_same_results(digits_f32, digits_test):
    model = ferrite.Model(digits_f32)
    want = model.predict(digits_test)
    # One row (1-D) -> one result row.
    assert same_bits(model.predict(digits_test[7]), want[7])
    # float64, Fortran order, a strided view, (n, 8, 8) images, a list of lists.
    assert same_bits(model.predict(digits_test.astype(np.float64)), want)
    assert same_bits(model.predict(np.asfortranarray(digits_test)), want)
    assert same_bits(model.predict(digits_test[::2]), want[::2])
    assert same_bits(model.predict(digits_test.reshape(-1, 8, 8)), want)
    assert same_bits(model.predict(digits_test[:3].tolist()), want[:3])
    # No rows -> no results.
    assert model.predict(np.zeros((0, 64), np.float32)).shape == (0, 10)


def test_input_arrays_are_not_modified(digits_f32, digits_test):
    x = digits_test.copy()
    ferrite.Model(digits_f32).predict(x)
    assert same_bits(x, digits_test)


def test_info_describes_the_model(digits_int8):
    info = ferrite.Model(digits_int8).info
    assert info.name == "digits_mlp"
    assert info.producer.startswith("ferrite-tool")
    assert info.labels == tuple(str(d) for d in range(10))
    assert info.inputs[0].name == "input" and info.inputs[0].shape == (1, 64)
    assert info.outputs[0].shape == (1, 10)
    assert (info.row_width, info.output_width, info.batch) == (64, 10, 1)
    assert info.num_golden == 4 and not info.has_preprocessing
    assert info.file_size == len(digits_int8)
    assert info.arena_size > 0 and info.num_ops >= 4
    assert info.properties["calibration_rows"] == "200"
    q = info.outputs[0].quantization
    assert q is None or q.kind == "per_tensor"


def test_golden_vectors_reproduce(digits_int8):
    assert ferrite.Model(digits_int8).check_golden() == 4


def test_model_from_path_bytes_bytearray_memoryview(tmp_path, digits_f32, digits_test):
    path = tmp_path / "digits.fer"
    path.write_bytes(digits_f32)
    want = ferrite.Model(digits_f32).predict(digits_test[:5])
    for source in (path, str(path), bytearray(digits_f32), memoryview(digits_f32)):
        assert same_bits(ferrite.Model(source).predict(digits_test[:5]), want)


def test_a_model_pickles_as_its_bytes(digits_int8, digits_test):
    model = ferrite.Model(digits_int8)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.to_bytes() == digits_int8
    assert same_bits(clone.predict(digits_test), model.predict(digits_test))


def test_regressor_predictions(cli):
    onnx = SKLEARN / "diabetes_ridge.onnx"
    rows = load_csv(SKLEARN / "diabetes_ridge_input.csv")
    fer = bytes(ferrite.convert(onnx))
    got = ferrite.Model(fer).predict(rows)
    assert got.shape == (len(rows), 1)
    assert same_bits(got, cli.run(fer, rows))
    ort = load_csv(SKLEARN / "diabetes_ridge_ort_pred.csv")
    np.testing.assert_allclose(got, ort, rtol=1e-5)


def test_validate_reports_the_agreement_with_the_float_reference(
    digits_int8, digits_test, digits_labels
):
    model = ferrite.Model(digits_int8)
    report = model.validate(DIGITS / "digits_mlp.onnx", digits_test, labels=digits_labels)
    assert report.rows == 360 and report.precision == "int8"
    assert report.passed and report.top1_agreement >= 0.99
    # Accuracy of this model's own labels, computed here.
    acc = float((model.predict_labels(digits_test) == digits_labels).mean())
    assert report.accuracy_ferrite == pytest.approx(acc)
    # The float reference is onnxruntime's (committed) up to f32 rounding.
    ort = load_csv(DIGITS / "reference_ort.csv")
    acc_ort = float((np.argmax(ort, axis=1) == digits_labels).mean())
    assert report.accuracy_reference == pytest.approx(acc_ort)
    assert "PASS" in str(report)
    strict = model.validate(
        DIGITS / "digits_mlp.onnx", digits_test, max_abs_error=1e-9, per_layer=True
    )
    assert not strict.passed and strict.per_layer
    assert all(layer.max_abs_error >= 0 for layer in strict.per_layer)
