"""Every failure is a typed exception carrying the runtime's stable error code."""

from __future__ import annotations

import pickle
import struct
import zlib

import numpy as np
import pytest

import ferrite
from conftest import DIGITS, SKLEARN, load_csv


def with_crc(data: bytearray) -> bytes:
    """``data`` with the header CRC recomputed (docs/format.md: CRC-32 of the file
    with the CRC field read as zeros, at offset 16)."""
    data[16:20] = b"\0\0\0\0"
    data[16:20] = struct.pack("<I", zlib.crc32(bytes(data)) & 0xFFFFFFFF)
    return bytes(data)


def section(data: bytes, kind: int):
    """``(offset, length)`` of the section of ``kind`` (docs/format.md)."""
    count = struct.unpack_from("<H", data, 20)[0]
    for i in range(count):
        k, _flags, off, length = struct.unpack_from("<HHII", data, 32 + 16 * i)
        if k == kind:
            return off, length
    raise AssertionError(f"no section of kind {kind}")


@pytest.mark.parametrize(
    "mutate, code",
    [
        (lambda b: b"NOPE" + b[4:], 1),  # bad magic
        (lambda b: b[: len(b) // 2], 3),  # truncated
        (lambda b: b[:-1] + bytes([b[-1] ^ 0x01]), 4),  # corrupted: CRC mismatch
    ],
    ids=["bad-magic", "truncated", "corrupted"],
)
def test_bad_model_bytes_raise_invalid_model(digits_f32, mutate, code):
    with pytest.raises(ferrite.InvalidModelError) as e:
        ferrite.Model(mutate(digits_f32))
    assert e.value.code == code
    assert isinstance(e.value, ValueError) and isinstance(e.value, ferrite.FerriteError)
    assert str(e.value)


@pytest.mark.parametrize("data", [b"", b"not a model at all", bytes(64)])
def test_not_a_model_raises_invalid_model(data):
    with pytest.raises(ferrite.InvalidModelError) as e:
        ferrite.Model(data)
    assert e.value.code in (1, 3)


def test_a_golden_vector_that_does_not_reproduce(digits_int8):
    data = bytearray(digits_int8)
    # Compact golden vectors (kind 8: a seed and one output digest per vector, the
    # default), the last byte being the last vector's digest; full ones are kind 6.
    off, length = section(digits_int8, 8)
    data[off + length - 1] ^= 0x01  # the last byte of the last expected output
    model = ferrite.Model(with_crc(data))
    with pytest.raises(ferrite.GoldenMismatchError) as e:
        model.check_golden()
    assert e.value.code == 17 and e.value.index == 3


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        ferrite.Model(tmp_path / "missing.fer")
    with pytest.raises(FileNotFoundError):
        ferrite.convert(tmp_path / "missing.onnx")


def test_wrong_width(digits_f32):
    model = ferrite.Model(digits_f32)
    with pytest.raises(ferrite.WrongLengthError) as e:
        model.predict(np.zeros((3, 63), np.float32))
    assert (e.value.code, e.value.expected, e.value.actual) == (14, 64, 63)
    assert isinstance(e.value, ValueError)
    with pytest.raises(ferrite.WrongLengthError):
        model.predict(np.zeros(65, np.float32))


def test_nan_without_imputation_names_row_and_feature(digits_f32, digits_test):
    model = ferrite.Model(digits_f32)
    x = digits_test[:10].copy()
    x[6, 17] = np.nan
    with pytest.raises(ferrite.InvalidInputError) as e:
        model.predict(x)
    assert (e.value.code, e.value.row, e.value.feature) == (16, 6, 17)
    assert str(e.value).startswith("row 6: ")
    x[6, 17] = -np.inf
    with pytest.raises(ferrite.InvalidInputError):
        model.predict_labels(x)


def test_labels_of_a_regressor_are_unsupported():
    model = ferrite.Model(bytes(ferrite.convert(SKLEARN / "diabetes_ridge.onnx")))
    rows = load_csv(SKLEARN / "diabetes_ridge_input.csv")
    with pytest.raises(ferrite.UnsupportedError) as e:
        model.predict_labels(rows)
    assert e.value.code == 19


def test_label_names_need_labels(digits_f32, digits_test):
    with pytest.raises(ferrite.UnsupportedError):
        ferrite.Model(digits_f32).predict_labels(digits_test, names=True)


def test_conversion_errors():
    with pytest.raises(ferrite.ConversionError) as e:
        ferrite.convert(b"this is not an ONNX file")
    assert e.value.kind == "import" and e.value.code is None
    with pytest.raises(ferrite.ConversionError) as e:
        ferrite.convert(DIGITS / "digits_mlp.onnx", precision="int8")
    assert e.value.kind == "usage" and "calibration" in str(e.value)
    with pytest.raises(ferrite.ConversionError) as e:
        ferrite.convert(DIGITS / "digits_mlp.onnx", precision="int4")
    assert e.value.kind == "usage"
    with pytest.raises(ValueError):
        ferrite.convert(DIGITS / "digits_mlp.onnx", calibration_method="median")


def test_unsupported_ops_are_listed(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    # CumSum: listed as not supported in docs/ops.md.
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], name="pick")
    axis = helper.make_tensor("axis", TensorProto.INT64, [], [1])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[axis],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ferrite.ConversionError) as e:
        ferrite.convert(model.SerializeToString())
    assert e.value.kind == "unsupported_ops", str(e.value)
    # (op, node) pairs as the ONNX file names them.
    assert [tuple(op) for op in e.value.ops] == [("CumSum", "pick")]
    assert "CumSum" in str(e.value) and "pick" in str(e.value)


def test_exceptions_pickle(digits_f32):
    try:
        ferrite.Model(digits_f32).predict(np.zeros((1, 3), np.float32))
    except ferrite.WrongLengthError as err:
        clone = pickle.loads(pickle.dumps(err))
        assert type(clone) is ferrite.WrongLengthError
        assert (clone.code, clone.expected, clone.actual) == (14, 64, 3)
        assert str(clone) == str(err)
