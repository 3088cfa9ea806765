"""The group of the PSI protocol: ristretto255 from libsodium, through a small typed layer.

Every call into ``rbcl`` (which ships no type information) lives here, so the rest
of the PSI code is typed end to end. A point is its canonical 32-byte ristretto255
encoding; a set of points is one ``bytes`` blob of concatenated encodings, the form
it travels in, and the work functions take and give such blobs.

- :func:`hash_points` maps elements to points:
  ``from_hash(SHA-512(b"perron-psi-v1" || len(label) || label || len(e) || e))``,
  lengths as 8-byte big-endian integers, so that no two (label, element) pairs
  hash the same input.
- :func:`new_scalar` draws a secret scalar from libsodium's CSPRNG.
- :func:`multiply_points` raises every point of a set to a scalar. libsodium decodes
  each point strictly and refuses the identity, so it doubles as the validity check
  of received points.
- :func:`validate_points` checks points that are only compared, never multiplied.
- :func:`check_format` checks a received blob's length, the top bit of every
  encoding and that no point repeats.
- :func:`shuffle_points` permutes a set with a uniformly random permutation from the
  operating system's CSPRNG.

:func:`hash_to_group`, :func:`multiply`, :func:`check_points`, :func:`split_points`
and :func:`shuffled` are the same operations on lists of points.

Speed. Nearly all the time goes into libsodium (about 41 µs per scalar
multiplication, 13 µs per hash to the group, 4 µs per validity check on the Xeon
vCPU of ``benchmarks/psi.py``). The work functions call the library that ``rbcl``
loaded (``rbcl._sodium``, a :class:`ctypes.CDLL`) directly, writing every result
into one output buffer, which leaves about 1 µs per point of Python around those
calls. :mod:`ctypes` releases the GIL during each foreign call, so ``workers``
threads, each on its own chunks of the set, use that many cores; every point lands
at its own offset, so the result is byte for byte that of one thread.

libsodium 1.0.18, the copy inside ``rbcl`` 1.1.2, accepts a ristretto255 encoding
with its top bit set as the same point as the encoding without it (RFC 9496 says to
reject it). :func:`check_format` therefore rejects such encodings itself, so that
one point has one encoding and duplicate checks on bytes are sound.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import rbcl  # type: ignore[import-untyped]

from perron.protocol.errors import InputError, TamperedMessage

#: Domain separation tag of version 1 of the protocol; a new version gets a new tag.
DOMAIN = b"perron-psi-v1"
#: Bytes of one encoded point.
POINT_BYTES = 32
#: Bytes of one scalar.
SCALAR_BYTES = 32
#: Upper bound of :func:`default_workers`: beyond it the threads' Python share (about
#: 1 µs a point, under the GIL) starts to matter and a station shares its cores with
#: other work.
MAX_WORKERS = 8
#: Fewest points per thread: below this a set is done in the calling thread.
MIN_CHUNK = 256
_CHUNKS_PER_WORKER = 4  # several chunks per thread even out threads that get less CPU

# libsodium as rbcl loaded it (rbcl exports the CDLL as ``rbcl._sodium``). The
# function objects are used as they are: setting argtypes on them would change rbcl.
_SODIUM: Any = rbcl._sodium
_FROM_HASH: Callable[..., int] = _SODIUM.crypto_core_ristretto255_from_hash
_SCALARMULT: Callable[..., int] = _SODIUM.crypto_scalarmult_ristretto255
_IS_VALID: Callable[..., int] = _SODIUM.crypto_core_ristretto255_is_valid_point

_INVALID_RECEIVED = (
    "a received PSI message holds a value that is not a valid ristretto255 point (or is "
    "the identity): it was changed or corrupted in transit, or the sender runs another "
    "protocol version; it was rejected. Run the session again with a new session label."
)


class _InvalidPoint(Exception):
    """A libsodium call refused a point (raised inside a worker, turned into TamperedMessage)."""


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def default_workers() -> int:
    """Threads for the group operations: the CPUs this process may use, at most 8.

    Examples
    --------
    >>> 1 <= default_workers() <= MAX_WORKERS
    True
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def check_workers(workers: int | None) -> int:
    """``workers`` as a thread count; ``None`` is :func:`default_workers`.

    Raises
    ------
    InputError
        Not a positive integer.
    """
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"PSI `workers` must be a positive integer (threads); got {workers!r}.")
    return workers


def _in_chunks(task: Callable[[int, int], None], count: int, workers: int) -> None:
    """``task(start, stop)`` over ``range(count)``, cut in chunks over up to ``workers`` threads.

    If chunks fail, the exception of the first failing one (in order) is raised here,
    once the running chunks have ended; chunks not yet started are cancelled.
    """
    threads = min(workers, count // MIN_CHUNK)
    if threads <= 1:
        task(0, count)
        return
    step = -(-count // (threads * _CHUNKS_PER_WORKER))
    pool = ThreadPoolExecutor(threads, thread_name_prefix="perron-psi")
    try:
        futures = [pool.submit(task, i, min(i + step, count)) for i in range(0, count, step)]
        for future in futures:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _points_buffer(count: int) -> tuple[bytearray, Any]:
    """A zeroed output buffer for ``count`` points and a ctypes view of it."""
    out = bytearray(count * POINT_BYTES)
    return out, (ctypes.c_char * len(out)).from_buffer(out)


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


def hash_points(label: str, elements: Sequence[bytes], workers: int = 1) -> bytes:
    """Map each element to a ristretto255 point, separated by protocol and ``label``.

    Parameters
    ----------
    label
        The study/session label both parties agreed on; another label gives
        unrelated points for the same elements.
    elements
        The elements, UTF-8 encoded.
    workers
        Threads to use.

    Returns
    -------
    bytes
        The points, concatenated, in the order of ``elements``.

    Examples
    --------
    >>> blob = hash_points("study-1", [b"alice", b"bob"])
    >>> len(blob), blob[:32] != blob[32:]
    (64, True)
    >>> hash_points("study-2", [b"alice"]) != blob[:32]
    True
    """
    root = hashlib.sha512(DOMAIN + _length_prefixed(label.encode("utf-8")))
    count = len(elements)
    if not count:
        return b""
    out, target = _points_buffer(count)

    def task(start: int, stop: int) -> None:
        base, from_hash, byref = root.copy(), _FROM_HASH, ctypes.byref
        for i in range(start, stop):
            element = elements[i]
            digest = base.copy()
            digest.update(len(element).to_bytes(8, "big") + element)
            from_hash(byref(target, i * POINT_BYTES), digest.digest())

    _in_chunks(task, count, check_workers(workers))
    return bytes(out)


def multiply_points(scalar: bytes, blob: bytes, workers: int = 1) -> bytes:
    """Each point of ``blob`` raised to ``scalar`` (written additively: ``scalar * point``).

    Raises
    ------
    TamperedMessage
        A point is not a canonical ristretto255 encoding, or is the identity, or the
        blob is not a whole number of points.

    Examples
    --------
    >>> p = hash_points("s", [b"x"])
    >>> a, b = new_scalar(), new_scalar()
    >>> multiply_points(a, multiply_points(b, p)) == multiply_points(b, multiply_points(a, p))
    True
    """
    if not isinstance(scalar, bytes) or len(scalar) != SCALAR_BYTES:
        raise ValueError(f"a PSI scalar is {SCALAR_BYTES} bytes")
    if len(blob) % POINT_BYTES:
        raise TamperedMessage(_INVALID_RECEIVED)
    count = len(blob) // POINT_BYTES
    if not count:
        return b""
    source = (ctypes.c_char * len(blob)).from_buffer_copy(blob)
    out, target = _points_buffer(count)

    def task(start: int, stop: int) -> None:
        smult, byref = _SCALARMULT, ctypes.byref
        for offset in range(start * POINT_BYTES, stop * POINT_BYTES, POINT_BYTES):
            if smult(byref(target, offset), scalar, byref(source, offset)) != 0:
                raise _InvalidPoint

    try:
        _in_chunks(task, count, check_workers(workers))
    except _InvalidPoint:
        raise TamperedMessage(_INVALID_RECEIVED) from None
    return bytes(out)


def validate_points(blob: bytes, workers: int = 1) -> None:
    """Refuse any point that is not a valid ristretto255 encoding, or is the identity.

    For points that are only compared, never multiplied (multiplying checks).

    Raises
    ------
    TamperedMessage
        Some point is invalid, or the blob is not a whole number of points.

    Examples
    --------
    >>> validate_points(hash_points("s", [b"x", b"y"]))
    >>> validate_points(bytes(32))
    Traceback (most recent call last):
    ...
    perron.protocol.errors.TamperedMessage: a received PSI message holds ...
    """
    if len(blob) % POINT_BYTES:
        raise TamperedMessage(_INVALID_RECEIVED)
    count = len(blob) // POINT_BYTES
    if not count:
        return
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(count, POINT_BYTES)
    if not bool(rows.any(axis=1).all()):  # libsodium's check lets the identity pass
        raise TamperedMessage(_INVALID_RECEIVED)
    source = (ctypes.c_char * len(blob)).from_buffer_copy(blob)

    def task(start: int, stop: int) -> None:
        is_valid, byref = _IS_VALID, ctypes.byref
        for offset in range(start * POINT_BYTES, stop * POINT_BYTES, POINT_BYTES):
            if is_valid(byref(source, offset)) != 1:
                raise _InvalidPoint

    try:
        _in_chunks(task, count, check_workers(workers))
    except _InvalidPoint:
        raise TamperedMessage(_INVALID_RECEIVED) from None


def check_format(blob: bytes, what: str) -> int:
    """Check a received blob of points; give the number of points. ``what`` names it.

    Checks the length, the top bit of every encoding (see the module docstring) and
    that no point occurs twice: the elements of a set are distinct, so their
    blinded points are too, and a repeat means the message was altered.

    Raises
    ------
    TamperedMessage
        One of the checks failed.

    Examples
    --------
    >>> check_format(hash_points("s", [b"x", b"y"]), "a set")
    2
    >>> check_format(hash_points("s", [b"x"]) * 2, "a set")
    Traceback (most recent call last):
    ...
    perron.protocol.errors.TamperedMessage: a set holds the same point twice; ...
    """
    if len(blob) % POINT_BYTES:
        raise TamperedMessage(
            f"{what} is {len(blob)} bytes long, not a multiple of {POINT_BYTES}: it was "
            "truncated or changed in transit; it was rejected."
        )
    count = len(blob) // POINT_BYTES
    if not count:
        return 0
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(count, POINT_BYTES)
    if bool((rows[:, -1] & 0x80).any()):
        raise TamperedMessage(
            f"{what} holds a non-canonical point encoding (top bit set): it was changed "
            "in transit; it was rejected."
        )
    # Distinct first 8 bytes prove the points distinct (one sort); only if two points
    # share them are the whole encodings compared.
    heads = np.sort(np.frombuffer(blob, dtype=np.uint64)[:: POINT_BYTES // 8])
    if bool((heads[1:] == heads[:-1]).any()) and len(set(_split(blob))) != count:
        raise TamperedMessage(
            f"{what} holds the same point twice; the points of a set are distinct, so "
            "the message was changed or replayed in part; it was rejected."
        )
    return count


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES)]


def random_order(n: int) -> npt.NDArray[np.intp]:
    """:func:`random_permutation` as a numpy array."""
    while True:
        keys = np.frombuffer(secrets.token_bytes(8 * n), dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        if not bool((ranked[1:] == ranked[:-1]).any()):
            return order


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
    result: list[int] = random_order(n).tolist()
    return result


def permute_points(blob: bytes, order: npt.NDArray[np.intp]) -> bytes:
    """The points of ``blob`` in the order ``order`` (point ``i`` of the result is ``order[i]``).

    Examples
    --------
    >>> blob = hash_points("s", [b"a", b"b"])
    >>> permute_points(blob, np.array([1, 0])) == blob[32:] + blob[:32]
    True
    """
    rows = np.frombuffer(blob, dtype=np.uint64).reshape(-1, POINT_BYTES // 8)
    return np.take(rows, order, axis=0).tobytes()


def shuffle_points(blob: bytes) -> bytes:
    """The points of ``blob`` in a uniformly random order (see :func:`random_permutation`).

    Examples
    --------
    >>> blob = hash_points("s", [b"a", b"b", b"c"])
    >>> sorted(_split(shuffle_points(blob))) == sorted(_split(blob))
    True
    """
    return permute_points(blob, random_order(len(blob) // POINT_BYTES))


# -- the same on lists of points ------------------------------------------------------


def hash_to_group(label: str, elements: Iterable[bytes], workers: int = 1) -> list[bytes]:
    """:func:`hash_points`, as a list of points.

    Examples
    --------
    >>> [a, b] = hash_to_group("study-1", [b"alice", b"bob"])
    >>> len(a), a != b
    (32, True)
    >>> hash_to_group("study-2", [b"alice"])[0] != a
    True
    """
    return _split(hash_points(label, list(elements), workers))


def multiply(scalar: bytes, points: Sequence[bytes], workers: int = 1) -> list[bytes]:
    """:func:`multiply_points` on a list of points.

    Examples
    --------
    >>> [p] = hash_to_group("s", [b"x"])
    >>> a, b = new_scalar(), new_scalar()
    >>> multiply(a, multiply(b, [p])) == multiply(b, multiply(a, [p]))
    True
    """
    if any(len(point) != POINT_BYTES for point in points):
        raise TamperedMessage(_INVALID_RECEIVED)
    return _split(multiply_points(scalar, b"".join(points), workers))


def check_points(points: Sequence[bytes], workers: int = 1) -> None:
    """:func:`validate_points` on a list of points.

    Examples
    --------
    >>> check_points(hash_to_group("s", [b"x"]))
    >>> check_points([bytes(32)])
    Traceback (most recent call last):
    ...
    perron.protocol.errors.TamperedMessage: a received PSI message holds ...
    """
    if any(len(point) != POINT_BYTES for point in points):
        raise TamperedMessage(_INVALID_RECEIVED)
    validate_points(b"".join(points), workers)


def split_points(blob: bytes, what: str) -> list[bytes]:
    """:func:`check_format`, then the blob cut into its points.

    Examples
    --------
    >>> points = hash_to_group("s", [b"x", b"y"])
    >>> split_points(b"".join(points), "a set") == points
    True
    """
    check_format(blob, what)
    return _split(blob)


def shuffled(points: Sequence[bytes]) -> list[bytes]:
    """The points in a uniformly random order (see :func:`random_permutation`).

    Examples
    --------
    >>> points = hash_to_group("s", [b"a", b"b", b"c"])
    >>> sorted(shuffled(points)) == sorted(points)
    True
    """
    return [points[i] for i in random_permutation(len(points))]
