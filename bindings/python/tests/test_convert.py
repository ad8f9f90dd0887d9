"""ferrite.convert: options, reports, warnings and batch files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ferrite
from conftest import DIGITS, SKLEARN, load_csv, same_bits

ONNX = DIGITS / "digits_mlp.onnx"


def test_path_and_bytes_convert_to_the_same_model(digits_test):
    from_path = ferrite.convert(ONNX)
    from_bytes = ferrite.convert(ONNX.read_bytes(), name="digits_mlp")
    a, b = ferrite.Model(from_path), ferrite.Model(from_bytes)
    assert a.info.name == b.info.name == "digits_mlp"
    assert a.info.properties["source"] == "digits_mlp.onnx"
    assert "source" not in b.info.properties
    assert a.info.properties["source_sha256"] == b.info.properties["source_sha256"]
    assert same_bits(a.predict(digits_test), b.predict(digits_test))


def test_report_and_output_file(tmp_path, digits_calib):
    out = tmp_path / "m.fer"
    fer = ferrite.convert(
        ONNX, "int8", digits_calib, output=out, version="2.0.1", description="digits"
    )
    assert isinstance(fer, bytes) and out.read_bytes() == fer
    r = fer.report
    assert r.precision == "int8" and r.batch == 1 and r.golden == 4
    assert r.file_size == len(fer) and r.ops >= 4 and r.parameter_bytes > 0
    assert r.agreement is not None and r.agreement.rows == 200
    assert r.agreement.top1 >= 0.99 and r.agreement.max_abs_error < 0.1
    info = ferrite.Model(fer).info
    assert (info.version, info.description) == ("2.0.1", "digits")
    assert info.properties["agreement_top1"] == f"{r.agreement.top1:.4f}"


def test_f16_and_per_tensor_int8_files_are_smaller(digits_calib):
    f32 = ferrite.convert(ONNX)
    f16 = ferrite.convert(ONNX, "f16")
    small = ferrite.convert(
        ONNX, "int8", digits_calib, per_tensor_weights=True, int8_input=True, golden=0
    )
    assert len(small) < len(f16) < len(f32)
    assert ferrite.Model(small).info.inputs[0].dtype == "i8"


def test_nothing_to_quantize_is_a_warning():
    rows = load_csv(SKLEARN / "iris_rf_input.csv")
    with pytest.warns(ferrite.ConversionWarning, match="nothing to quantize"):
        fer = ferrite.convert(SKLEARN / "iris_rf.onnx", "int8", rows)
    assert fer.report.notes


@pytest.mark.parametrize("precision", ["f32", "int8"])
def test_a_batch_file_gives_the_results_of_the_device_file(precision, digits_calib, digits_test):
    """The same scores up to rounding (the batched f32 FullyConnected, also the int8
    model's float layers, runs on the runtime's GEMM, the one-row one on dot products:
    other summation orders), within the tolerance the conversion checks,
    1e-4 * (1 + max |row|)."""
    calib = digits_calib if precision == "int8" else None
    device = ferrite.Model(ferrite.convert(ONNX, precision, calib))
    fer = ferrite.convert(ONNX, precision, calib, batch=64)
    batched = ferrite.Model(fer)
    assert batched.info.batch == 64 and batched.info.inputs[0].shape == (64, 64)
    assert batched.info.properties["batch"] == "64"
    assert batched.info.num_golden == 0 and fer.report.batch == 64
    # 1000 rows: 15 full runs and one padded run of 40 rows; noise keeps them distinct.
    rng = np.random.default_rng(3)
    x = np.concatenate([digits_test] * 3)[:1000]
    x = (x + rng.normal(0, 0.1, x.shape)).astype(np.float32)

    def same(a: np.ndarray, b: np.ndarray) -> bool:
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        scale = 1.0 + np.abs(b).max(axis=1, keepdims=True)
        return a.shape == b.shape and bool((np.abs(a - b) <= 1e-4 * scale).all())

    assert same(batched.predict(x), device.predict(x))
    np.testing.assert_array_equal(batched.predict_labels(x), device.predict_labels(x))
    # fewer rows than one batch, and one row
    assert same(batched.predict(x[:5]), device.predict(x[:5]))
    assert same(batched.predict(x[9]), device.predict(x[9]))
    if precision == "int8":
        # Per-row provenance: the agreement is measured on the 200 rows, as at batch 1.
        assert batched.info.properties["calibration_rows"] == "200"
        assert (
            batched.info.properties["agreement_top1"]
            == device.info.properties["agreement_top1"]
        )


def test_batch_file_errors(digits_test):
    batched = ferrite.Model(ferrite.convert(ONNX, batch=16))
    x = digits_test[:40].copy()
    x[33, 2] = np.nan
    with pytest.raises(ferrite.InvalidInputError) as e:
        batched.predict(x)
    assert (e.value.row, e.value.feature) == (33, 2)
    with pytest.raises(ferrite.WrongLengthError):
        batched.predict(np.zeros((4, 16 * 64), np.float32))
    with pytest.raises(ferrite.UnsupportedError):
        batched.validate(ONNX, digits_test)
    with pytest.raises(ferrite.ConversionError, match="batch") as c:
        ferrite.convert(SKLEARN / "wine_impute_mlp.onnx", batch=8)
    assert c.value.kind == "usage"
    with pytest.raises(ValueError):
        ferrite.convert(ONNX, batch=0)


def test_no_warning_for_a_plain_conversion():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ferrite.convert(ONNX)
