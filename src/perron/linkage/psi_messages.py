"""The two messages of the PSI protocol, their encodings, and sealing.

- :class:`BlindedSet` carries one party's set round the ring: ``hops`` secret
  scalars have been applied to it so far.
- :class:`Announcement` carries the collector's result to one party.

Each message has a small JSON header and one binary payload, in two encodings:

- ``to_wire()`` is a JSON-ready dict, the payload base64-encoded once (never per
  point); it is the body :func:`seal_message` signs and encrypts for the recipient;
- ``to_bytes()`` is ``b"PSI1" || u32 header length || header || payload`` for byte
  transports; its length is ``32 * set size + a constant`` for a blinded set.

The header names session, mode, sender, recipient (and origin and hops), so a
message cannot be replayed into another session or misrouted unnoticed; the
counts of an announcement are fixed-width integers in the payload, so a relay
cannot read the overlap off the message length.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from perron.crypto.envelope import seal, unseal
from perron.crypto.keys import KeyPair, PublicKeys
from perron.linkage.psi_group import POINT_BYTES
from perron.protocol.errors import TamperedMessage

Mode = Literal["cardinality", "intersection"]
MODES: tuple[Mode, ...] = get_args(Mode)

#: Version of the message format; a reader refuses any other.
WIRE_VERSION = 1
_MAGIC = b"PSI1"
_COUNT_BYTES = 8


def pairs(parties: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every unordered pair of parties, in the agreed party order.

    Examples
    --------
    >>> pairs(("a", "b", "c"))
    [('a', 'b'), ('a', 'c'), ('b', 'c')]
    """
    return [(a, b) for i, a in enumerate(parties) for b in parties[i + 1 :]]


@dataclass(frozen=True)
class BlindedSet:
    """A set of blinded points on its way round the ring.

    Attributes
    ----------
    origin
        The party whose elements these are.
    hops
        How many parties' scalars have been applied (1 after the owner's, ``n``
        when complete).
    points
        Concatenated 32-byte ristretto255 encodings.

    Examples
    --------
    >>> m = BlindedSet("s1", "cardinality", "a", "b", "a", 1, bytes(64))
    >>> m.size
    2
    >>> empty = BlindedSet("s1", "cardinality", "a", "b", "a", 1, b"")
    >>> len(m.to_bytes()) - len(empty.to_bytes())
    64
    """

    session: str
    mode: Mode
    sender: str
    recipient: str
    origin: str
    hops: int
    points: bytes = field(repr=False)
    kind: ClassVar[str] = "blinded"

    @property
    def size(self) -> int:
        """Number of points."""
        return len(self.points) // POINT_BYTES

    def _header(self) -> dict[str, Any]:
        return {**_common_header(self), "origin": self.origin, "hops": self.hops}

    def _payload(self) -> bytes:
        return self.points

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready dict; the points base64-encoded once."""
        return _to_wire(self._header(), self._payload())

    def to_bytes(self) -> bytes:
        """The compact binary form: 32 bytes per point plus a fixed header."""
        return _to_bytes(self._header(), self._payload())


@dataclass(frozen=True)
class Announcement:
    """The collector's result, to one party.

    Attributes
    ----------
    parties
        The agreed party order; ``sizes`` and ``pairwise`` follow it.
    sizes
        Number of distinct elements of each party.
    overlap
        Number of elements in every party's set.
    pairwise
        Overlap of every pair, in the order of :func:`pairs` (cardinality mode; empty
        in intersection mode).
    mask
        Intersection mode: one bit per point of the recipient's set, in the order the
        recipient sent them (``numpy.packbits``, big-endian bit order); set if the point
        is in every set. Empty in cardinality mode.

    Examples
    --------
    >>> m = Announcement("s1", "cardinality", "a", "b", ("a", "b"), (3, 4), 2, (2,), b"")
    >>> message_from_bytes(m.to_bytes()) == m
    True
    """

    session: str
    mode: Mode
    sender: str
    recipient: str
    parties: tuple[str, ...]
    sizes: tuple[int, ...]
    overlap: int
    pairwise: tuple[int, ...]
    mask: bytes = field(repr=False)
    kind: ClassVar[str] = "announcement"

    def _header(self) -> dict[str, Any]:
        return {**_common_header(self), "parties": list(self.parties)}

    def _payload(self) -> bytes:
        counts = (*self.sizes, self.overlap, *self.pairwise)
        return b"".join(c.to_bytes(_COUNT_BYTES, "big") for c in counts) + self.mask

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready dict; counts and mask base64-encoded once, as one payload."""
        return _to_wire(self._header(), self._payload())

    def to_bytes(self) -> bytes:
        """The compact binary form."""
        return _to_bytes(self._header(), self._payload())


PsiMessage = BlindedSet | Announcement


def _common_header(message: PsiMessage) -> dict[str, Any]:
    return {
        "psi": WIRE_VERSION,
        "kind": message.kind,
        "session": message.session,
        "mode": message.mode,
        "sender": message.sender,
        "recipient": message.recipient,
    }


def _to_wire(header: dict[str, Any], payload: bytes) -> dict[str, Any]:
    return {**header, "payload": base64.b64encode(payload).decode("ascii")}


def _to_bytes(header: dict[str, Any], payload: bytes) -> bytes:
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return _MAGIC + len(head).to_bytes(4, "big") + head + payload


def _unreadable(reason: str) -> TamperedMessage:
    return TamperedMessage(
        f"a PSI message cannot be read: {reason}. It was changed or truncated in "
        "transit, or comes from another version of the protocol; it was rejected."
    )


def _text(header: Mapping[str, Any], key: str) -> str:
    value = header.get(key)
    if not isinstance(value, str) or not value:
        raise _unreadable(f"field {key!r} is missing or not a non-empty string")
    return value


def _count(header: Mapping[str, Any], key: str) -> int:
    value = header.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _unreadable(f"field {key!r} is missing or not a non-negative integer")
    return value


def _from_parts(header: Mapping[str, Any], payload: bytes) -> PsiMessage:
    if header.get("psi") != WIRE_VERSION:
        raise _unreadable(f"version {header.get('psi')!r} is not {WIRE_VERSION}")
    mode = _text(header, "mode")
    if mode not in MODES:
        raise _unreadable(f"mode {mode!r} is not one of {MODES}")
    checked: Mode = "cardinality" if mode == "cardinality" else "intersection"
    session = _text(header, "session")
    sender, recipient = _text(header, "sender"), _text(header, "recipient")
    kind = header.get("kind")
    if kind == BlindedSet.kind:
        return BlindedSet(
            session,
            checked,
            sender,
            recipient,
            origin=_text(header, "origin"),
            hops=_count(header, "hops"),
            points=payload,
        )
    if kind != Announcement.kind:
        raise _unreadable(f"kind {kind!r} is unknown")
    parties = header.get("parties")
    if (
        not isinstance(parties, list)
        or len(parties) < 2
        or not all(isinstance(p, str) and p for p in parties)
        or len(set(parties)) != len(parties)
    ):
        raise _unreadable("field 'parties' is not a list of distinct party names")
    n = len(parties)
    n_pairs = n * (n - 1) // 2 if mode == "cardinality" else 0
    n_counts = n + 1 + n_pairs
    if len(payload) < _COUNT_BYTES * n_counts:
        raise _unreadable(f"the announcement payload is {len(payload)} bytes, too short")
    counts = [
        int.from_bytes(payload[i : i + _COUNT_BYTES], "big")
        for i in range(0, _COUNT_BYTES * n_counts, _COUNT_BYTES)
    ]
    return Announcement(
        session,
        checked,
        sender,
        recipient,
        parties=tuple(parties),
        sizes=tuple(counts[:n]),
        overlap=counts[n],
        pairwise=tuple(counts[n + 1 :]),
        mask=payload[_COUNT_BYTES * n_counts :],
    )


def message_from_wire(wire: Mapping[str, Any]) -> PsiMessage:
    """Read a message from its :meth:`~BlindedSet.to_wire` dict.

    Raises
    ------
    TamperedMessage
        The dict is not a well-formed PSI message of this version.

    Examples
    --------
    >>> m = BlindedSet("s1", "intersection", "a", "b", "a", 1, bytes(32))
    >>> message_from_wire(m.to_wire()) == m
    True
    """
    if not isinstance(wire, Mapping):
        raise _unreadable("it is not an object")
    encoded = wire.get("payload")
    if not isinstance(encoded, str):
        raise _unreadable("field 'payload' is missing")
    try:
        payload = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise _unreadable("the payload is not valid base64") from exc
    return _from_parts(wire, payload)


def message_from_bytes(data: bytes) -> PsiMessage:
    """Read a message from its :meth:`~BlindedSet.to_bytes` form.

    Raises
    ------
    TamperedMessage
        The bytes are not a well-formed PSI message of this version.

    Examples
    --------
    >>> m = BlindedSet("s1", "cardinality", "a", "b", "a", 1, bytes(32))
    >>> message_from_bytes(m.to_bytes()) == m
    True
    """
    if data[: len(_MAGIC)] != _MAGIC or len(data) < len(_MAGIC) + 4:
        raise _unreadable("it does not start with the PSI magic bytes")
    start = len(_MAGIC) + 4
    end = start + int.from_bytes(data[len(_MAGIC) : start], "big")
    if end > len(data):
        raise _unreadable("the header runs past the end of the message")
    try:
        header = json.loads(data[start:end])
    except (ValueError, UnicodeDecodeError) as exc:
        raise _unreadable("the header is not JSON") from exc
    if not isinstance(header, dict):
        raise _unreadable("the header is not an object")
    return _from_parts(header, data[end:])


def seal_message(message: PsiMessage, recipient: PublicKeys, signer: KeyPair) -> str:
    """Sign ``message`` with the sender's key and encrypt it for ``recipient``.

    A relay (the hub, or the researcher's coordinator) sees only the length of the
    result, which depends on the set size and not on the set's contents.

    Examples
    --------
    >>> a, b = KeyPair.generate(), KeyPair.generate()
    >>> m = BlindedSet("s1", "cardinality", "a", "b", "a", 1, bytes(32))
    >>> open_message(seal_message(m, b.public(), a), b, a.public(), "a") == m
    True
    """
    return seal(message.to_wire(), recipient, signer)


def open_message(
    ciphertext: str, recipient: KeyPair, sender: PublicKeys, sender_name: str
) -> PsiMessage:
    """Decrypt a sealed message, check the signature of ``sender`` and read it.

    Raises
    ------
    TamperedMessage
        The ciphertext or signature does not verify, the message is malformed, or it
        claims another sender than ``sender_name`` (whose keys ``sender`` are).
    """
    message = message_from_wire(unseal(ciphertext, recipient, sender))
    if message.sender != sender_name:
        raise TamperedMessage(
            f"a PSI message signed by {sender_name!r} claims to come from "
            f"{message.sender!r}; it was rejected."
        )
    return message
