"""The group of the PSI protocol: ristretto255 from libsodium, through a small typed layer.

Every call into ``rbcl`` (which ships no type information) lives here, so the rest
of the PSI code is typed end to end. A point is its canonical 32-byte ristretto255
encoding; a set of points travels as one ``bytes`` blob of concatenated encodings.

- :func:`hash_to_group` maps an element to a point:
  ``from_hash(SHA-512(b"perron-psi-v1" || len(label) || label || len(e) || e))``,
  lengths as 8-byte big-endian integers, so that no two (label, element) pairs
  hash the same input.
- :func:`new_scalar` draws a secret scalar from libsodium's CSPRNG.
- :func:`multiply` raises every point of a set to a scalar. libsodium decodes each
  point strictly and refuses the identity, so it doubles as the validity check of
  received points.
- :func:`shuffled` permutes a set with a uniformly random permutation from the
  operating system's CSPRNG.

libsodium 1.0.18, the copy inside ``rbcl`` 1.1.2, accepts a ristretto255 encoding
with its top bit set as the same point as the encoding without it (RFC 9496 says to
reject it). :func:`split_points` therefore rejects such encodings itself, so that
one point has one encoding and duplicate checks on bytes are sound.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence

import numpy as np
import rbcl  # type: ignore[import-untyped]

from perron.protocol.errors import TamperedMessage

#: Domain separation tag of version 1 of the protocol; a new version gets a new tag.
DOMAIN = b"perron-psi-v1"
#: Bytes of one encoded point.
POINT_BYTES = 32
_IDENTITY = bytes(POINT_BYTES)


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def new_scalar() -> bytes:
    """A fresh secret scalar, uniform in ``[0, L)``, from libsodium's CSPRNG.

    Examples
    --------
    >>> len(new_scalar())
    32
    >>> new_scalar() != new_scalar()
    True
    """
    scalar: bytes = rbcl.crypto_core_ristretto255_scalar_random()
    return scalar


def hash_to_group(label: str, elements: Iterable[bytes]) -> list[bytes]:
    """Map each element to a ristretto255 point, separated by protocol and ``label``.

    Parameters
    ----------
    label
        The study/session label both parties agreed on; another label gives
        unrelated points for the same elements.
    elements
        The elements, UTF-8 encoded.

    Examples
    --------
    >>> [a, b] = hash_to_group("study-1", [b"alice", b"bob"])
    >>> len(a), a != b
    (32, True)
    >>> hash_to_group("study-2", [b"alice"])[0] != a
    True
    """
    base = hashlib.sha512(DOMAIN + _length_prefixed(label.encode("utf-8")))
    from_hash = rbcl.crypto_core_ristretto255_from_hash
    points: list[bytes] = []
    for element in elements:
        digest = base.copy()
        digest.update(_length_prefixed(element))
        points.append(from_hash(digest.digest()))
    return points


def multiply(scalar: bytes, points: Sequence[bytes]) -> list[bytes]:
    """Each point raised to ``scalar`` (written additively: ``scalar * point``).

    Raises
    ------
    TamperedMessage
        A point is not a canonical ristretto255 encoding, or is the identity.

    Examples
    --------
    >>> [p] = hash_to_group("s", [b"x"])
    >>> a, b = new_scalar(), new_scalar()
    >>> multiply(a, multiply(b, [p])) == multiply(b, multiply(a, [p]))
    True
    """
    smult = rbcl.crypto_scalarmult_ristretto255
    try:
        return [smult(scalar, point) for point in points]
    except (RuntimeError, ValueError, TypeError) as exc:
        raise TamperedMessage(
            "a received PSI message holds a value that is not a valid ristretto255 "
            "point (or is the identity): it was changed or corrupted in transit, or "
            "the sender runs another protocol version; it was rejected. Run the "
            "session again with a new session label."
        ) from exc


def check_points(points: Sequence[bytes]) -> None:
    """Refuse any point that is not a valid ristretto255 encoding, or is the identity.

    Used on points that are only compared, never multiplied (multiplying checks).

    Examples
    --------
    >>> check_points(hash_to_group("s", [b"x"]))
    >>> check_points([bytes(32)])
    Traceback (most recent call last):
    ...
    perron.protocol.errors.TamperedMessage: a received PSI message holds ...
    """
    is_valid = rbcl.crypto_core_ristretto255_is_valid_point
    for point in points:
        if point == _IDENTITY or not is_valid(point):
            raise TamperedMessage(
                "a received PSI message holds a value that is not a valid ristretto255 "
                "point (or is the identity): it was changed or corrupted in transit; it "
                "was rejected. Run the session again with a new session label."
            )


def split_points(blob: bytes, what: str) -> list[bytes]:
    """Cut a received blob into distinct 32-byte points; ``what`` names it in errors.

    Checks the length, the top bit of every encoding (see the module docstring) and
    that no point occurs twice: the elements of a set are distinct, so their
    blinded points are too, and a repeat means the message was altered.

    Examples
    --------
    >>> points = hash_to_group("s", [b"x", b"y"])
    >>> split_points(b"".join(points), "a set") == points
    True
    >>> split_points(points[0] * 2, "a set")
    Traceback (most recent call last):
    ...
    perron.protocol.errors.TamperedMessage: a set holds the same point twice; ...
    """
    if len(blob) % POINT_BYTES:
        raise TamperedMessage(
            f"{what} is {len(blob)} bytes long, not a multiple of {POINT_BYTES}: it was "
            "truncated or changed in transit; it was rejected."
        )
    if not blob:
        return []
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(-1, POINT_BYTES)
    if bool((rows[:, -1] & 0x80).any()):
        raise TamperedMessage(
            f"{what} holds a non-canonical point encoding (top bit set): it was changed "
            "in transit; it was rejected."
        )
    points = [blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES)]
    if len(set(points)) != len(points):
        raise TamperedMessage(
            f"{what} holds the same point twice; the points of a set are distinct, so "
            "the message was changed or replayed in part; it was rejected."
        )
    return points


def random_permutation(n: int) -> list[int]:
    """A uniformly random permutation of ``range(n)`` from the OS CSPRNG.

    Sorts ``n`` random 64-bit keys from :func:`secrets.token_bytes` and redraws in
    the (rare, ``~n**2 / 2**65``) case of a tie, so every permutation is equally
    likely. Same guarantee as ``secrets.SystemRandom().shuffle``, which makes one
    system call per element: 5 s for a million against 0.1 s here.

    Examples
    --------
    >>> sorted(random_permutation(5))
    [0, 1, 2, 3, 4]
    """
    while True:
        keys = np.frombuffer(secrets.token_bytes(8 * n), dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        if not bool((ranked[1:] == ranked[:-1]).any()):
            result: list[int] = order.tolist()
            return result


def shuffled(points: Sequence[bytes]) -> list[bytes]:
    """The points in a uniformly random order (see :func:`random_permutation`).

    Examples
    --------
    >>> points = hash_to_group("s", [b"a", b"b", b"c"])
    >>> sorted(shuffled(points)) == sorted(points)
    True
    """
    return [points[i] for i in random_permutation(len(points))]
