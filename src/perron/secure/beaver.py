"""The product of two holders' private matrices, with a helper's Beaver triple.

Holder A has a matrix ``X`` (``rows x n``), holder B a matrix ``Y`` (``n x cols``);
they want ``X @ Y`` without showing each other ``X`` or ``Y``. A helper who has no
data deals a matrix *Beaver triple* (Beaver 1991) in the ring ``Z/2^64``: uniform
``U`` and ``V`` and ``W = U @ V`` split as ``W = W_A + W_B``. It sends A a seed from
which A expands ``U`` and ``W_A``, and sends B a seed for ``V`` together with
``W_B`` (only ``rows x cols`` numbers travel, whatever ``n``). Then

- A sends B ``E = X - U`` and B sends A ``F = Y - V`` (uniform: they hide ``X`` and
  ``Y`` completely, as one-time pads);
- A computes ``C_A = X @ F + W_A`` and B computes ``C_B = E @ V + W_B``, and
  ``C_A + C_B = X @ Y`` (``X F + E V + U V = X(Y - V) + (X - U) V + U V``).

Each of ``C_A`` and ``C_B`` alone is uniform. The helper knows ``U``, ``V``, ``W_A`` and
``W_B``, so it must see neither ``E`` nor ``F`` (the holders seal them for each
other) nor the two shares apart: the holders add a common random mask ``R`` (A
draws its seed and sends it to B with ``E``), ``C_A + R`` and ``C_B - R``, so
whoever adds the two learns ``X @ Y`` and nothing else.

Semi-honest parties, no collusion between the helper and a holder (with it, the
helper's randomness unmasks the other holder's matrix). The PRG is ChaCha20
(:mod:`perron.crypto.prg`), never numpy's generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perron.crypto.prg import SEED_BYTES, U64Array, new_seed, uint64s
from perron.protocol.errors import InputError


@dataclass(frozen=True)
class Shape:
    """``rows x inner`` times ``inner x cols``."""

    rows: int
    inner: int
    cols: int

    def __post_init__(self) -> None:
        if min(self.rows, self.inner, self.cols) < 0:
            raise InputError(f"a matrix product cannot have a negative dimension: {self}.")


@dataclass(frozen=True)
class RowDeal:
    """What holder A (the left matrix) gets from the helper: one seed."""

    shape: Shape
    seed: bytes


@dataclass(frozen=True)
class ColumnDeal:
    """What holder B (the right matrix) gets: a seed for ``V`` and its share ``W_B``."""

    shape: Shape
    seed: bytes
    w: U64Array


def deal(shape: Shape) -> tuple[RowDeal, ColumnDeal]:
    """The helper's triple for ``shape``: A's part and B's part.

    Examples
    --------
    >>> a, b = deal(Shape(2, 5, 3))
    >>> b.w.shape
    (2, 3)
    """
    seed_a, seed_b = new_seed(), new_seed()
    u = uint64s(seed_a, "U", (shape.rows, shape.inner))
    w_a = uint64s(seed_a, "W", (shape.rows, shape.cols))
    v = uint64s(seed_b, "V", (shape.inner, shape.cols))
    return RowDeal(shape, seed_a), ColumnDeal(shape, seed_b, (u @ v) - w_a)


def _check(matrix: npt.NDArray[np.generic], shape: tuple[int, int], what: str) -> U64Array:
    if matrix.shape != shape:
        raise InputError(
            f"{what} has shape {matrix.shape}, but the helper dealt for {shape}; the two "
            "holders must agree on the linked rows and the levels first."
        )
    if not np.issubdtype(matrix.dtype, np.integer):
        raise InputError(f"{what} must hold integers (fixed point), not {matrix.dtype}.")
    return matrix.astype(np.uint64)


def _seed(seed: bytes) -> bytes:
    if len(seed) != SEED_BYTES:
        raise InputError(f"a dealt seed has {SEED_BYTES} bytes, not {len(seed)}.")
    return seed


class RowHolder:
    """Holder A's side: owns ``X`` (``rows x inner``).

    Examples
    --------
    >>> x = np.array([[1, 0, 1], [0, 1, 0]])        # A: 2 levels x 3 people
    >>> y = np.array([[1, 0], [1, 0], [0, 1]])      # B: 3 people x 2 levels
    >>> deal_a, deal_b = deal(Shape(2, 3, 2))
    >>> a, b = RowHolder(deal_a, x), ColumnHolder(deal_b, y)
    >>> e, f, r = a.masked(), b.masked(), new_seed()
    >>> combine(a.share(f, r), b.share(e, r)).tolist()
    [[1, 1], [1, 0]]
    """

    def __init__(self, part: RowDeal, x: npt.NDArray[np.generic]) -> None:
        shape = part.shape
        self._x = _check(x, (shape.rows, shape.inner), "the left matrix")
        seed = _seed(part.seed)
        self._u = uint64s(seed, "U", (shape.rows, shape.inner))
        self._w = uint64s(seed, "W", (shape.rows, shape.cols))
        self._shape = shape

    def masked(self) -> U64Array:
        """``E = X - U``, for holder B."""
        return self._x - self._u

    def share(self, f: U64Array, mask_seed: bytes) -> U64Array:
        """A's share of ``X @ Y`` plus the common mask ``R``, from B's ``F``."""
        shape = self._shape
        f = _check(f, (shape.inner, shape.cols), "B's masked matrix")
        return self._x @ f + self._w + common_mask(mask_seed, shape)


class ColumnHolder:
    """Holder B's side: owns ``Y`` (``inner x cols``)."""

    def __init__(self, part: ColumnDeal, y: npt.NDArray[np.generic]) -> None:
        shape = part.shape
        self._y = _check(y, (shape.inner, shape.cols), "the right matrix")
        self._v = uint64s(_seed(part.seed), "V", (shape.inner, shape.cols))
        self._w = _check(part.w, (shape.rows, shape.cols), "the dealt share")
        self._shape = shape

    def masked(self) -> U64Array:
        """``F = Y - V``, for holder A."""
        return self._y - self._v

    def share(self, e: U64Array, mask_seed: bytes) -> U64Array:
        """B's share of ``X @ Y`` minus the common mask ``R``, from A's ``E``."""
        shape = self._shape
        e = _check(e, (shape.rows, shape.inner), "A's masked matrix")
        return e @ self._v + self._w - common_mask(mask_seed, shape)


def common_mask(seed: bytes, shape: Shape) -> U64Array:
    """``R``, the mask both holders add (A) and subtract (B)."""
    return uint64s(_seed(seed), "R", (shape.rows, shape.cols))


def combine(share_a: U64Array, share_b: U64Array) -> npt.NDArray[np.int64]:
    """``X @ Y`` from the two shares, read as signed 64-bit integers."""
    if share_a.shape != share_b.shape:
        raise InputError(f"the two shares differ in shape: {share_a.shape} and {share_b.shape}.")
    total: U64Array = share_a.astype(np.uint64) + share_b.astype(np.uint64)
    return total.view(np.int64)
