"""Secret-shared fixed-point arrays on MPyC, with a cheap truncation.

Security model
--------------
MPyC's Shamir secret sharing among ``m = 3`` parties with threshold ``t = 1``:
every value is a degree-1 polynomial share over a prime field, so any single party
sees uniformly random shares, and any two parties could reconstruct. The parties
are *semi-honest* (they follow the protocol but may try to learn from what they
see) and *at most one* is corrupt (honest majority: no two parties collude). Links
between parties are assumed private and authenticated (TLS with MPyC's ``--ssl``
or a private network); on loopback this holds trivially. MPyC unpickles what its
peers send, so every party must trust the code of the others not to attack its
process (the study agreement covers that); it is not a defence against a malicious
peer.

Numbers
-------
An :class:`Fx` is a secure integer array ``X`` with a public binary scale ``s``;
it stands for the real numbers ``X / 2**s``. Products add scales and need only
MPyC's resharing (no truncation); :func:`rescale` lowers the scale again.

MPyC's own fixed-point truncation draws ``s`` secret random bits per element
(each costs a secure squaring, an opening and a modular square root); for the
thousands of row-level values a regression truncates per iteration that is far
too slow (about 2 ms per element here). :func:`rescale` instead uses the standard
probabilistic truncation with masks contributed by ``t + 1 = 2`` parties (the two
data holders): each inputs random ``lo_i < 2**s`` and ``hi_i < 2**(B + kappa - s)``,
the parties open ``c = X + 2**(B+1) - 2**(s-1) + sum(hi_i 2**s + lo_i)`` and keep
``floor(c / 2**s) - 2**(B+1-s) - sum(hi_i)``, which is ``X / 2**s`` within 1.5
units in the last place. Every ``|X| < 2**B`` (the caller keeps this bound), and the
masks are ``kappa`` bits longer, so the opened ``c`` is statistically independent
of ``X`` (distance below ``2**-kappa``) for every single party, who always misses
at least one mask. It uses only MPyC's ``input`` and ``output``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Context", "Fx"]

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]

#: The data holders; together they also mask every opened value in a truncation.
HOLDERS = (0, 1)
MASKERS = HOLDERS


def encode(values: npt.ArrayLike, scale: int) -> ObjectArray:
    """Round ``values * 2**scale`` to Python ints (an object array, no overflow)."""
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("cannot encode a NaN or infinite value as a fixed-point number")
    scaled = np.rint(np.ldexp(array, scale))
    if scaled.size == 0 or np.max(np.abs(scaled)) < 2.0**62:  # the fast path: via int64
        fast: ObjectArray = scaled.astype(np.int64).astype(object)
        return fast
    slow: ObjectArray = np.vectorize(int, otypes=[object])(scaled).reshape(array.shape)
    return slow


def decode(values: npt.ArrayLike, scale: int) -> FloatArray:
    """``values / 2**scale`` as floats (correctly rounded)."""
    ints = np.asarray(values, dtype=object)
    flat = np.array([float(int(v)) for v in ints.ravel()], dtype=np.float64)
    return np.ldexp(flat, -scale).reshape(ints.shape)


@dataclass(frozen=True)
class Fx:
    """A secret-shared array standing for ``share / 2**scale``.

    Attributes
    ----------
    share : Any
        An MPyC secure integer array (this party's Shamir shares).
    scale : int
        The public binary scale ``s``.
    """

    share: Any
    scale: int

    @property
    def shape(self) -> tuple[int, ...]:
        """The array shape (public)."""
        return tuple(self.share.shape)

    def __add__(self, other: Fx) -> Fx:
        a, b = _aligned(self, other)
        return Fx(a + b, max(self.scale, other.scale))

    def __sub__(self, other: Fx) -> Fx:
        a, b = _aligned(self, other)
        return Fx(a - b, max(self.scale, other.scale))

    def __mul__(self, other: Fx) -> Fx:
        """Elementwise product (with broadcasting): one resharing, scales add."""
        return Fx(self.share * other.share, self.scale + other.scale)

    def __matmul__(self, other: Fx) -> Fx:
        """Matrix product: local products, then one resharing per output element."""
        return Fx(self.share @ other.share, self.scale + other.scale)

    def times(self, factor: int) -> Fx:
        """Multiply by a public integer (local; no communication)."""
        return Fx(self.share * factor, self.scale)

    @property
    def T(self) -> Fx:  # noqa: N802 - numpy's name
        """The transpose."""
        return Fx(self.share.T, self.scale)

    def reshape(self, *shape: int) -> Fx:
        """The same values in another shape."""
        return Fx(self.share.reshape(shape), self.scale)

    def __getitem__(self, key: Any) -> Fx:
        return Fx(self.share[key], self.scale)


def _aligned(a: Fx, b: Fx) -> tuple[Any, Any]:
    """Both shares at the larger of the two scales (multiplying by 2**d is exact)."""
    if a.scale < b.scale:
        return a.share * (1 << (b.scale - a.scale)), b.share
    if b.scale < a.scale:
        return a.share, b.share * (1 << (a.scale - b.scale))
    return a.share, b.share


@dataclass
class Context:
    """One party's handle on the MPyC runtime and the number format.

    Attributes
    ----------
    mpc : Any
        The MPyC runtime (``mpyc.runtime.mpc``).
    bound : int
        ``B``: every secret value ``X`` satisfies ``|X| < 2**B``.
    kappa : int
        Statistical security of the truncation masks, in bits.
    secint : Any
        The MPyC secure integer type; its field has ``B + kappa + 32`` bits or more.
    opened : list[tuple[str, tuple[int, ...]]]
        What this party learned in the clear: a label and shape per opening. Masked
        openings inside :func:`rescale` are not listed (they are uniformly random).
    """

    mpc: Any
    bound: int = 144
    kappa: int = 40
    secint: Any = None
    opened: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.secint is None:
            self.secint = self.mpc.SecInt(self.bound + self.kappa)

    @property
    def pid(self) -> int:
        """This party's index (0 and 1 are the data holders, 2 the helper)."""
        return int(self.mpc.pid)

    def constant(self, values: npt.ArrayLike, scale: int) -> Fx:
        """A public constant as a (trivially shared) :class:`Fx`."""
        return Fx(self.secint.array(encode(values, scale)), scale)

    def integers(self, values: ObjectArray, scale: int) -> Fx:
        """Public integers that already carry ``scale``."""
        return Fx(self.secint.array(np.asarray(values, dtype=object)), scale)

    def input(
        self, values: npt.ArrayLike | None, sender: int, shape: tuple[int, ...], scale: int
    ) -> Fx:
        """Secret-share ``values`` (given by ``sender`` only) at ``scale``.

        Every party calls this with the same ``shape`` and ``scale``; the others pass
        ``None``.
        """
        if self.pid == sender:
            if values is None:
                raise ValueError(f"party {sender} must give the values it inputs")
            ints = encode(values, scale)
            if ints.shape != shape:
                raise ValueError(f"input of shape {ints.shape}, expected {shape}")
        else:
            ints = np.zeros(shape, dtype=object)
        return Fx(self.mpc.input(self.secint.array(ints), senders=sender), scale)

    async def rescale(self, value: Fx, scale: int) -> Fx:
        """``value`` at the lower ``scale`` (probabilistic truncation, see module doc)."""
        drop = value.scale - scale
        if drop < 0:
            raise ValueError(f"cannot rescale up from {value.scale} to {scale}")
        if drop == 0:
            return value
        shape = value.shape
        size = int(np.prod(shape))
        high_bits = self.bound + self.kappa - drop
        if self.pid in MASKERS:
            masks = np.array(
                [secrets.randbits(drop) for _ in range(size)]
                + [secrets.randbits(high_bits) for _ in range(size)],
                dtype=object,
            ).reshape((2, *shape))
        else:
            masks = np.zeros((2, *shape), dtype=object)
        mpc = self.mpc
        contributed = mpc.input(self.secint.array(masks), senders=list(MASKERS))
        low = contributed[0][0] + contributed[1][0]
        high = contributed[0][1] + contributed[1][1]
        # 2**(B+1) keeps c positive; subtracting half a unit centres the rounding.
        offset = 1 << (self.bound + 1)
        masked = value.share + (offset - (1 << (drop - 1))) + low + high * (1 << drop)
        opened = np.asarray(await mpc.output(masked), dtype=object)
        if np.any(opened < 0):  # pragma: no cover - excluded by the bound on the field
            raise ArithmeticError("a truncation mask wrapped around the field")
        public = np.vectorize(lambda c: (int(c) >> drop) - (offset >> drop), otypes=[object])(
            opened
        ).reshape(shape)
        return Fx(self.secint.array(public) - high, scale)

    async def reveal(self, value: Fx, receivers: list[int], label: str) -> FloatArray | None:
        """Open ``value`` to ``receivers`` only; the others get ``None``."""
        opened = await self.mpc.output(value.share, receivers=receivers)
        if self.pid not in receivers:
            return None
        self.opened.append((label, value.shape))
        return decode(opened, value.scale)

    async def below(self, value: Fx, threshold: float, label: str) -> bool:
        """The public bit ``value < threshold`` (for a scalar ``value``)."""
        limit = int(encode(threshold, value.scale))
        opened = await self.mpc.output(value.share < limit)
        self.opened.append((label, ()))
        return bool(int(opened))

    async def exchange(self, message: Any, label: str) -> list[Any] | None:
        """Swap a small message between the two data holders; the helper gets None."""
        holders = list(HOLDERS)
        messages: list[Any] = await self.mpc.transfer(message, senders=holders, receivers=holders)
        if self.pid not in holders:
            return None
        self.opened.append((label, (len(messages),)))
        return messages

    async def share_public(self, message: Any, label: str) -> list[Any]:
        """Broadcast a small public message from every party to all (MPyC transfer)."""
        messages: list[Any] = await self.mpc.transfer(message)
        self.opened.append((label, (len(messages),)))
        return messages
