"""Signed envelopes and sealed boxes: round trips work, any change is rejected."""

from __future__ import annotations

import base64
import math
import stat
from pathlib import Path
from typing import Any

import pytest

from perron.crypto.envelope import canonical, seal, sign, unseal, verify
from perron.crypto.keys import KeyPair, PublicKeys
from perron.protocol.errors import InputError, TamperedMessage

BODY: dict[str, Any] = {
    "task_id": "0f3c",
    "algorithm": "glm",
    "params": {"formula": "low ~ age", "beta": [0.5, -1.25]},
    "round": 3,
    "nonce": "ab" * 16,
    "expires_at": 1_763_870_600.0,
}


@pytest.fixture
def researcher() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def station() -> KeyPair:
    return KeyPair.generate()


def _flip(text: str, index: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_canonical_sorts_keys_and_drops_spaces():
    assert canonical({"b": 1, "a": [1.5, None]}) == b'{"a":[1.5,null],"b":1}'


def test_sign_and_verify_round_trip(researcher):
    envelope = sign(BODY, researcher)

    assert verify(envelope, researcher.public().verify_key) == BODY


def test_a_changed_body_is_rejected(researcher):
    envelope = sign(BODY, researcher)
    envelope["body"] = {**BODY, "round": 4}

    with pytest.raises(TamperedMessage):
        verify(envelope, researcher.public().verify_key)


def test_a_changed_signature_is_rejected(researcher):
    envelope = sign(BODY, researcher)
    envelope["signature"] = _flip(envelope["signature"], 10)

    with pytest.raises(TamperedMessage):
        verify(envelope, researcher.public().verify_key)


@pytest.mark.parametrize(
    "envelope",
    [{}, {"body": BODY}, {"body": BODY, "signature": "not base64!"}, {"signature": ""}],
)
def test_a_malformed_envelope_is_rejected(researcher, envelope):
    with pytest.raises(TamperedMessage):
        verify(envelope, researcher.public().verify_key)


def test_another_signers_envelope_is_rejected(researcher):
    envelope = sign(BODY, KeyPair.generate())

    with pytest.raises(TamperedMessage):
        verify(envelope, researcher.public().verify_key)


def test_seal_and_unseal_round_trip_with_nan(researcher, station):
    body = {"task_id": "0f3c", "payload": {"mean": float("nan"), "max": math.inf, "n": 12}}

    ciphertext = seal(body, researcher.public(), station)
    opened = unseal(ciphertext, researcher, station.public())

    assert math.isnan(opened["payload"]["mean"])
    assert opened["payload"]["max"] == math.inf
    assert opened["payload"]["n"] == 12
    assert opened["task_id"] == "0f3c"


def test_a_sealed_message_for_another_recipient_is_rejected(researcher, station):
    ciphertext = seal(BODY, KeyPair.generate().public(), station)

    with pytest.raises(TamperedMessage):
        unseal(ciphertext, researcher, station.public())


@pytest.mark.parametrize("index", [0, 31, 40, -1])
def test_a_flipped_ciphertext_byte_is_rejected(researcher, station, index):
    ciphertext = seal(BODY, researcher.public(), station)

    with pytest.raises(TamperedMessage):
        unseal(_flip(ciphertext, index), researcher, station.public())


def test_a_ciphertext_that_is_not_base64_is_rejected(researcher, station):
    with pytest.raises(TamperedMessage):
        unseal("%%% not base64 %%%", researcher, station.public())


def test_a_wrong_sender_key_is_rejected(researcher, station):
    ciphertext = seal(BODY, researcher.public(), station)

    with pytest.raises(TamperedMessage):
        unseal(ciphertext, researcher, KeyPair.generate().public())


def test_public_keys_round_trip_through_a_dict(station):
    public = station.public()

    assert PublicKeys.from_dict(public.to_dict()) == public
    assert len(base64.b64decode(public.verify_key)) == 32
    assert len(base64.b64decode(public.box_key)) == 32


def test_save_writes_private_files_and_load_round_trips(tmp_path, station):
    folder = tmp_path / "keys"

    station.save(folder)
    loaded = KeyPair.load(folder)

    for name in ("signing.key", "box.key"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert loaded.public() == station.public()
    assert verify(sign(BODY, loaded), station.public().verify_key) == BODY


def test_save_refuses_to_overwrite(tmp_path, station):
    station.save(tmp_path)
    before = (tmp_path / "signing.key").read_bytes()

    with pytest.raises(InputError, match="never overwritten"):
        KeyPair.generate().save(tmp_path)

    assert (tmp_path / "signing.key").read_bytes() == before


def test_load_from_an_empty_folder_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="no keys"):
        KeyPair.load(tmp_path)
