"""Secure aggregation: the coordinator learns the sum of the stations' vectors, not one.

Each station masks its vector with pairwise masks that cancel in the sum (Bonawitz
et al. 2017, without the dropout recovery): stations ``i < j`` agree on a seed by
X25519 key agreement on per-run key pairs (``cryptography``), HKDF-SHA256 binds it to
the run and the pair, and ChaCha20 (:mod:`perron.crypto.prg`, never numpy's
generators) expands it per round into a mask that ``i`` adds and ``j`` subtracts.
Every station's masked vector is uniform to anyone without its seeds; the sum of all
masked vectors is the sum of the vectors.

Values are fixed point with 56 fractional bits in two lanes of ``Z/2^64`` (the whole
part and the fraction, :class:`Ring`), added lane by lane with plain ``uint64``
arithmetic; the fractions' carries go into the whole part once, when the sum is
decoded. A float64 ``x`` with ``|x| < 2^62`` is encoded within ``2^-57`` (exactly
when ``|x| >= 2^-4``), sums are exact, and decoding rounds once, to float64: results
with secure aggregation equal those without to float64 rounding (far inside the
1e-9 relative the tests ask).

**Dropouts.** A station that does not answer leaves its masks in the sum: the round
cannot be unmasked. We chose to fail the round cleanly and let the caller run the
analysis again with the remaining stations (at least three), new key pairs and all
(no Shamir-shared seeds: a retry is simpler and reveals nothing more).

**Trust.** Semi-honest stations and coordinator; the per-run public keys travel
through the coordinator, which could swap them (a man in the middle) unless the
stations sign them with their long-term keys; see docs/secure-aggregation.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from perron.crypto.prg import stream
from perron.protocol.errors import InputError, TamperedMessage

#: Fractional bits of the fixed-point encoding (the low lane).
FRACTION_BITS = 56
#: Largest magnitude a value may have.
LIMIT = 2.0**62
#: Fewest stations secure aggregation runs with (with two, each learns the other's).
MIN_STATIONS = 3
#: Most stations: the low lanes' carries must fit the 8 spare bits of a uint64.
MAX_STATIONS = 255

U64 = npt.NDArray[np.uint64]
_SCALE = 2.0**FRACTION_BITS
_LOW_MASK = np.uint64((1 << FRACTION_BITS) - 1)


@dataclass(frozen=True)
class Ring:
    """Values as two lanes of ``Z/2^64``, added lane by lane (no carries between them).

    ``lanes[0]`` holds the whole part (two's complement), ``lanes[1]`` the fraction
    times ``2^56``. Masks are uniform in each lane, so each lane is a one-time pad;
    a sum of at most 255 fractions stays below ``2^64``, and :func:`decode` carries
    it into the whole part once, at the end. Stations thus mask with plain ``uint64``
    additions.
    """

    lanes: U64

    def __add__(self, other: Ring) -> Ring:
        return Ring(self.lanes + other.lanes)

    def __sub__(self, other: Ring) -> Ring:
        return Ring(self.lanes - other.lanes)

    @property
    def size(self) -> int:
        return int(self.lanes.shape[1])

    def to_bytes(self) -> bytes:
        """Both lanes, little-endian: 16 bytes per value."""
        return self.lanes.astype("<u8", copy=False).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, size: int) -> Ring:
        if len(data) != 16 * size:
            raise TamperedMessage(
                f"a masked vector has {len(data)} bytes where {16 * size} were expected; "
                "it was rejected."
            )
        return cls(np.frombuffer(data, dtype="<u8").reshape(2, size).astype(np.uint64))

    @classmethod
    def zeros(cls, size: int) -> Ring:
        return cls(np.zeros((2, size), dtype=np.uint64))


def encode(values: npt.ArrayLike) -> Ring:
    """Fixed point with 56 fractional bits: exact for every float64 with
    ``2^-4 <= |x| < 2^62`` (all 53 significant bits fit), otherwise within ``2^-57``.

    Examples
    --------
    >>> decode(encode([1.5, -2.25, 0.1, -0.1])).tolist()
    [1.5, -2.25, 0.1, -0.1]
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(x).all():
        raise InputError(
            "secure aggregation can only add finite numbers; a value is NaN or infinite "
            "(suppressed cells are sent as an indicator, not as NaN)."
        )
    if x.size and float(np.abs(x).max()) >= LIMIT:
        raise InputError(
            "a value is too large for secure aggregation (|x| >= 2^62); rescale it first."
        )
    magnitude = np.abs(x)  # |x| - floor(|x|) is exact; x - floor(x) is not for x < 0
    whole = np.floor(magnitude)
    high = whole.astype(np.int64)
    low = np.rint((magnitude - whole) * _SCALE).astype(np.int64)
    below = x < 0  # -(h + l / 2^56) = (-h - 1) + (2^56 - l) / 2^56 when l > 0
    borrow = below & (low > 0)
    high = np.where(below, -high - borrow, high)
    low = np.where(borrow, (1 << FRACTION_BITS) - low, np.where(below, 0, low))
    return Ring(np.stack([high.view(np.uint64), low.view(np.uint64)]))


def decode(total: Ring) -> npt.NDArray[np.float64]:
    """The float64 nearest each sum (the fractions' carries moved into the whole part)."""
    high, low = total.lanes
    whole = (high + (low >> np.uint64(FRACTION_BITS))).view(np.int64)
    fraction = (low & _LOW_MASK).view(np.int64)
    # A negative sum as minus its magnitude, so the float addition below is exact
    # whenever the magnitude is representable.
    below = whole < 0
    borrow = below & (fraction > 0)
    whole = np.where(below, -whole - borrow, whole)
    fraction = np.where(borrow, (1 << FRACTION_BITS) - fraction, fraction)
    magnitude = whole.astype(np.float64) + fraction.astype(np.float64) / _SCALE
    return np.asarray(np.where(below, -magnitude, magnitude), dtype=np.float64)


class MaskKey:
    """A station's key pair for one run of secure aggregation."""

    def __init__(self) -> None:
        self._private = X25519PrivateKey.generate()

    @property
    def public(self) -> bytes:
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def pair_seed(self, peer: bytes, run: str, names: tuple[str, str]) -> bytes:
        """The seed this station shares with ``peer`` for ``run`` (the same at both ends)."""
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(peer))
        except ValueError as exc:
            raise TamperedMessage(
                "a station's secure-aggregation key is not a valid X25519 public key; the "
                "run was stopped."
            ) from exc
        low, high = sorted(names)
        info = b"perron secagg v1\x00" + f"{run}\x00{low}\x00{high}".encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def _pad(seed: bytes, label: str, size: int) -> U64:
    """The pair's mask for one round: uniform in both lanes."""
    return np.frombuffer(stream(seed, label, 16 * size), dtype="<u8").reshape(2, size)


def mask(
    values: npt.ArrayLike,
    *,
    me: str,
    key: MaskKey,
    peers: Mapping[str, bytes],
    run: str,
    label: str,
) -> Ring:
    """``values`` encoded and masked so that only the sum over all ``peers`` is readable.

    ``peers`` maps every station of the run (this one included) to its public key;
    ``label`` (e.g. the round number) makes each round's masks independent.

    Examples
    --------
    >>> keys = {name: MaskKey() for name in "abc"}
    >>> public = {name: k.public for name, k in keys.items()}
    >>> vectors = {"a": [1.0, 2.0], "b": [0.5, -1.0], "c": [3.0, 0.25]}
    >>> masked = [
    ...     mask(v, me=n, key=keys[n], peers=public, run="r1", label="0")
    ...     for n, v in vectors.items()
    ... ]
    >>> total = masked[0] + masked[1] + masked[2]
    >>> decode(total).tolist()
    [4.5, 1.25]
    """
    if len(peers) < MIN_STATIONS:
        raise InputError(
            f"secure aggregation needs at least {MIN_STATIONS} stations, got {len(peers)}: "
            "with fewer, each station could subtract its own value from the sum."
        )
    if len(peers) > MAX_STATIONS:
        raise InputError(
            f"secure aggregation here adds at most {MAX_STATIONS} stations; split the study."
        )
    if me not in peers:
        raise InputError(f"station {me!r} is not a party of this secure-aggregation run.")
    lanes = encode(values).lanes
    for name, public in peers.items():
        if name == me:
            continue
        pad = _pad(key.pair_seed(public, run, (me, name)), label, lanes.shape[1])
        if me < name:
            lanes += pad
        else:
            lanes -= pad
    return Ring(lanes)


def unmask(masked: Mapping[str, Ring], parties: Collection[str]) -> npt.NDArray[np.float64]:
    """The sum of the stations' vectors; every party's masked vector must be there."""
    missing = sorted(set(parties) - set(masked))
    if missing:
        raise StationDropped(missing)
    sizes = {m.size for m in masked.values()}
    if len(sizes) != 1:
        raise TamperedMessage(
            "the stations' masked vectors differ in length; the round was stopped."
        )
    total = Ring.zeros(sizes.pop())
    for name in parties:
        total = total + masked[name]
    return decode(total)


class StationDropped(InputError):
    """A station of a secure-aggregation run did not answer: its masks stay in the sum."""

    def __init__(self, stations: Sequence[str]) -> None:
        self.stations = tuple(stations)
        super().__init__(
            f"stations {list(self.stations)} dropped out of a secure-aggregation round, so "
            "the sum cannot be unmasked; run the analysis again without them (at least "
            f"{MIN_STATIONS} stations must remain)."
        )
