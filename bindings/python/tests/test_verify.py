"""Verified loads: ``Model(source, public_keys=[...], min_version=...)``.

The signed files and keys come from the real command-line tool (``ferrite keygen``,
``ferrite sign``); the expected scores from ``ferrite run`` on the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import pytest

import ferrite


@pytest.fixture(scope="module")
def signed(cli, digits_f32: bytes, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    d = tmp_path_factory.mktemp("signed")
    cli("keygen", "-o", str(d / "release"))
    cli("keygen", "-o", str(d / "other"))
    plain = d / "model.fer"
    plain.write_bytes(digits_f32)
    cli("sign", str(plain), "--key", str(d / "release.secret"), "--version", "7",
        "-o", str(d / "signed.fer"))
    return {
        "plain": plain,
        "signed": d / "signed.fer",
        "pub": d / "release.pub",
        "other": d / "other.pub",
    }


def test_right_key_loads_and_predicts(signed, cli, digits_test: np.ndarray) -> None:
    key = signed["pub"].read_bytes()
    m = ferrite.Model(signed["signed"], public_keys=[key])
    rows = digits_test[:16]
    np.testing.assert_array_equal(m.predict(rows), cli.run(signed["signed"].read_bytes(), rows))
    assert m.signature == ferrite.Signature(key_id=key[:8], model_version=7)
    # A path works as a key, a second trusted key does not hurt (rotation), and the
    # minimum version may equal the signed one.
    ferrite.Model(signed["signed"], public_keys=[signed["other"], signed["pub"]], min_version=7)
    assert ferrite.Model(signed["plain"]).signature is None


def test_wrong_key_is_unknown_key(signed) -> None:
    with pytest.raises(ferrite.UnknownKeyError) as e:
        ferrite.Model(signed["signed"], public_keys=[signed["other"]])
    assert e.value.code == 23
    with pytest.raises(ferrite.UnknownKeyError):
        ferrite.Model(signed["signed"], public_keys=[])


def test_flipped_byte_is_bad_signature(signed) -> None:
    data = bytearray(signed["signed"].read_bytes())
    # The middle of the file: inside the weights, which are most of an MLP's bytes.
    data[len(data) // 2] ^= 0x10
    with pytest.raises(ferrite.BadSignatureError) as e:
        ferrite.Model(bytes(data), public_keys=[signed["pub"]])
    assert e.value.code == 18
    assert isinstance(e.value, ferrite.SignatureError)
    assert isinstance(e.value, ferrite.InvalidModelError)
    # Unverified, the same bytes fail the CRC: the flip is inside the checked body.
    with pytest.raises(ferrite.InvalidModelError) as plain:
        ferrite.Model(bytes(data))
    assert plain.value.code == 4


def test_unsigned_is_refused_when_verification_is_required(signed) -> None:
    with pytest.raises(ferrite.UnsignedModelError) as e:
        ferrite.Model(signed["plain"], public_keys=[signed["pub"]])
    assert e.value.code == 22


def test_lower_version_is_refused(signed) -> None:
    with pytest.raises(ferrite.VersionTooOldError) as e:
        ferrite.Model(signed["signed"], public_keys=[signed["pub"]], min_version=8)
    assert e.value.code == 24
    assert (e.value.version, e.value.min_version) == (7, 8)


def test_bad_arguments(signed) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ferrite.Model(signed["signed"], public_keys=[b"short"])
    with pytest.raises(TypeError):
        ferrite.Model(signed["signed"], public_keys=signed["pub"].read_bytes())
    with pytest.raises(ValueError, match="public_keys"):
        ferrite.Model(signed["signed"], min_version=3)
