"""A pseudorandom generator for masks and correlated randomness.

Masks that hide a value must be unpredictable to everyone but the parties that
share the seed, so they come from a cryptographic stream cipher, never from
numpy's random generators (Flower's SecAgg+ was caught using one). A 32-byte seed
and a label go through HKDF-SHA256 (domain separation: one seed gives independent
streams for different labels), and ChaCha20 with a zero nonce expands the derived
key into the stream; both from ``cryptography``. The stream is read as unsigned
64-bit integers (little-endian), the ring ``Z/2^64`` the secure protocols compute
in: numpy's ``uint64`` arithmetic wraps modulo ``2^64`` by itself.
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from perron.protocol.errors import InputError

#: Bytes in a seed.
SEED_BYTES = 32
_NONCE = bytes(16)
_INFO = b"perron prg v1\x00"

U64Array = npt.NDArray[np.uint64]


def new_seed() -> bytes:
    """A fresh random seed from the operating system's CSPRNG."""
    return os.urandom(SEED_BYTES)


def stream(seed: bytes, label: str, nbytes: int) -> bytes:
    """``nbytes`` pseudorandom bytes for ``(seed, label)``.

    Examples
    --------
    >>> seed = bytes(32)
    >>> stream(seed, "a", 8) == stream(seed, "a", 16)[:8]
    True
    >>> stream(seed, "a", 8) == stream(seed, "b", 8)
    False
    """
    if len(seed) != SEED_BYTES:
        raise InputError(f"a PRG seed has {SEED_BYTES} bytes, not {len(seed)}; use new_seed().")
    if nbytes < 0:
        raise InputError(f"cannot draw {nbytes} bytes; ask for zero or more.")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + label.encode()).derive(
        seed
    )
    encryptor = Cipher(algorithms.ChaCha20(key, _NONCE), mode=None).encryptor()
    return encryptor.update(bytes(nbytes))


def uint64s(seed: bytes, label: str, shape: int | tuple[int, ...]) -> U64Array:
    """A uniform array over ``Z/2^64`` of ``shape`` for ``(seed, label)``.

    Examples
    --------
    >>> a = uint64s(bytes(32), "mask", (2, 3))
    >>> a.shape, a.dtype.name
    ((2, 3), 'uint64')
    >>> bool((a == uint64s(bytes(32), "mask", (2, 3))).all())
    True
    """
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    data = stream(seed, label, 8 * count)
    return np.frombuffer(data, dtype="<u8").astype(np.uint64).reshape(dims)
