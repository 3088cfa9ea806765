"""PSI messages: both encodings, sealing, and refusal of malformed or altered messages."""

from __future__ import annotations

import base64

import pytest

from perron.crypto.keys import KeyPair
from perron.linkage.psi_group import hash_to_group
from perron.linkage.psi_messages import (
    Announcement,
    BlindedSet,
    PsiMessage,
    message_from_bytes,
    message_from_wire,
    open_message,
    seal_message,
)
from perron.protocol.errors import TamperedMessage


def blinded(n: int, session: str = "s") -> BlindedSet:
    points = b"".join(hash_to_group(session, [str(i).encode() for i in range(n)]))
    return BlindedSet(session, "cardinality", "a", "b", "a", 1, points)


def test_both_encodings_round_trip():
    messages: list[PsiMessage] = [
        blinded(3),
        blinded(0),
        Announcement("s", "cardinality", "a", "b", ("a", "b", "c"), (5, 6, 7), 2, (3, 2, 4), b""),
        Announcement("s", "intersection", "a", "c", ("a", "c"), (5, 9), 2, (), b"\x90\x00"),
    ]

    for message in messages:
        assert message_from_bytes(message.to_bytes()) == message
        assert message_from_wire(message.to_wire()) == message


def test_payload_is_base64_once_per_message():
    message = blinded(4)

    wire = message.to_wire()

    assert base64.b64decode(wire["payload"]) == message.points
    assert [k for k, v in wire.items() if isinstance(v, str) and len(v) > 40] == ["payload"]


def test_binary_length_is_32_bytes_per_point_plus_a_constant():
    lengths = {n: len(blinded(n).to_bytes()) for n in (0, 1, 10, 100)}

    constant = lengths[0]
    assert all(length == 32 * n + constant for n, length in lengths.items())
    assert constant < 200


def test_announcement_length_does_not_depend_on_the_counts():
    def announcement(overlap: int, pair: int) -> Announcement:
        return Announcement(
            "s", "cardinality", "a", "b", ("a", "b"), (10**6, 7), overlap, (pair,), b""
        )

    small, large = announcement(0, 0), announcement(999_999, 999_999)

    assert len(small.to_bytes()) == len(large.to_bytes())
    assert len(seal_message(small, KeyPair.generate().public(), KeyPair.generate())) == len(
        seal_message(large, KeyPair.generate().public(), KeyPair.generate())
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PSI2" + bytes(10),
        b"PSI1" + (1000).to_bytes(4, "big") + b"{}",
        b"PSI1" + (3).to_bytes(4, "big") + b"{x}",
        b"PSI1" + (2).to_bytes(4, "big") + b"[]",
    ],
    ids=["empty", "magic", "header-past-end", "not-json", "not-object"],
)
def test_unreadable_bytes_are_rejected(data: bytes):
    with pytest.raises(TamperedMessage, match="cannot be read"):
        message_from_bytes(data)


def test_truncated_header_is_rejected():
    data = blinded(2).to_bytes()

    with pytest.raises(TamperedMessage, match="cannot be read"):
        message_from_bytes(data[:20])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"psi": 2}, "version"),
        ({"kind": "hello"}, "kind"),
        ({"mode": "union"}, "mode"),
        ({"session": ""}, "session"),
        ({"hops": -1}, "hops"),
        ({"hops": True}, "hops"),
        ({"origin": 3}, "origin"),
        ({"payload": "not base64!"}, "base64"),
        ({"payload": None}, "payload"),
    ],
)
def test_malformed_wire_fields_are_rejected(change: dict[str, object], reason: str):
    wire = {**blinded(1).to_wire(), **change}

    with pytest.raises(TamperedMessage, match=reason):
        message_from_wire(wire)


def test_malformed_announcements_are_rejected():
    good = Announcement("s", "cardinality", "a", "b", ("a", "b"), (1, 1), 1, (1,), b"").to_wire()

    with pytest.raises(TamperedMessage, match="parties"):
        message_from_wire({**good, "parties": ["a", "a"]})
    with pytest.raises(TamperedMessage, match="too short"):
        message_from_wire({**good, "payload": base64.b64encode(bytes(8)).decode()})
    with pytest.raises(TamperedMessage, match="not an object"):
        message_from_wire([])  # type: ignore[arg-type]


def test_sealed_message_opens_only_for_the_recipient_and_the_right_sender():
    alice, bob, eve = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    message = blinded(5)
    sealed = seal_message(message, bob.public(), alice)

    assert open_message(sealed, bob, alice.public(), "a") == message
    with pytest.raises(TamperedMessage):
        open_message(sealed, eve, alice.public(), "a")
    with pytest.raises(TamperedMessage):
        open_message(sealed, bob, eve.public(), "a")
    with pytest.raises(TamperedMessage, match="claims to come from"):
        open_message(sealed, bob, alice.public(), "c")


def test_a_flipped_byte_of_a_sealed_message_is_rejected():
    alice, bob = KeyPair.generate(), KeyPair.generate()
    sealed = base64.b64decode(seal_message(blinded(5), bob.public(), alice))
    flipped = bytearray(sealed)
    flipped[len(flipped) // 2] ^= 1

    with pytest.raises(TamperedMessage):
        open_message(base64.b64encode(bytes(flipped)).decode(), bob, alice.public(), "a")
