"""Fuzzy matching of CLKs with anonlink, and linkage quality against a ground truth.

The overview and the security assumptions are in :mod:`perron.linkage.bloom`.

Matching
--------
:func:`match` finds candidate pairs above a Dice threshold with
``anonlink.candidate_generation.find_candidate_pairs`` and the accelerated Dice of
``anonlink.similarities``, optionally within blocks (:class:`KeyedBlocking` on keyed
hashes of year of birth and 4-digit postcode, or :class:`BitBlocking`, anonlink's
locality-sensitive bit sampling), then picks a one-to-one matching with
``anonlink.solving.greedy_solve``.

:func:`quality` scores a matching against known identities and :func:`evaluate`
encodes, matches and scores two files at several thresholds.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from bitarray import bitarray

from perron.linkage.bloom._load import _anonlink
from perron.linkage.bloom.blocking import BitBlocking, KeyedBlocking, _blocking_function, block_keys
from perron.linkage.bloom.encoding import LinkageSchema, Records, encode
from perron.protocol.errors import InputError

__all__ = ["LinkageQuality", "evaluate", "match", "quality"]

Pair = tuple[int, int, float]


# --------------------------------------------------------------------------------------
# Matching with anonlink (a typed layer over the untyped package)
# --------------------------------------------------------------------------------------

_Candidates = tuple["array[float]", tuple["array[int]", ...], tuple["array[int]", ...]]


def _candidates(
    encodings_a: Sequence[bitarray],
    encodings_b: Sequence[bitarray],
    threshold: float,
    blocking: KeyedBlocking | BitBlocking | None,
) -> _Candidates:
    if not 0 < threshold <= 1:
        raise InputError(f"threshold {threshold!r} is not a Dice similarity in (0, 1].")
    lengths = {len(clk) for clk in (*encodings_a, *encodings_b)}
    if len(lengths) > 1:
        raise InputError(
            f"encodings have different lengths {sorted(lengths)}; both sides must encode "
            "with the same LinkageSchema."
        )
    blocking_f = _blocking_function(blocking, (len(encodings_a), len(encodings_b)))
    generation = _anonlink("anonlink.candidate_generation")
    similarities = _anonlink("anonlink.similarities")
    found: Any = generation.find_candidate_pairs(
        [encodings_a, encodings_b],
        similarities.dice_coefficient_accelerated,
        threshold,
        blocking_f=blocking_f,
    )
    return cast(_Candidates, found)


def _solve(candidates: _Candidates, threshold: float) -> list[Pair]:
    """Greedy one-to-one matching on the candidates with similarity >= threshold."""
    sims, datasets, records = candidates
    sim = np.frombuffer(sims, dtype=np.float64)
    # Candidates come sorted by decreasing similarity: keep a prefix.
    keep = int(np.searchsorted(-sim, -threshold, "right"))
    part: _Candidates = (
        sims[:keep],
        tuple(d[:keep] for d in datasets),
        tuple(r[:keep] for r in records),
    )
    solving = _anonlink("anonlink.solving")
    groups = cast(Sequence[Sequence[tuple[int, int]]], solving.greedy_solve(part))
    if not groups:
        return []
    # Look the matched pairs up among the candidates (vectorised: there may be millions).
    rows = np.array([sorted(group) for group in groups], dtype=np.int64)  # [[0, a], [1, b]]
    first = np.frombuffer(records[0], dtype=records[0].typecode)[:keep].astype(np.int64)
    second = np.frombuffer(records[1], dtype=records[1].typecode)[:keep].astype(np.int64)
    width = int(second.max()) + 1
    keys = first * width + second
    order = np.argsort(keys)
    found = order[np.searchsorted(keys[order], rows[:, 0, 1] * width + rows[:, 1, 1])]
    pairs = [
        (int(a), int(b), float(s))
        for a, b, s in zip(rows[:, 0, 1], rows[:, 1, 1], sim[found], strict=True)
    ]
    return sorted(pairs)


def match(
    encodings_a: Sequence[bitarray],
    encodings_b: Sequence[bitarray],
    threshold: float,
    blocking: KeyedBlocking | BitBlocking | None = None,
) -> list[Pair]:
    """One-to-one matches between two lists of CLKs, by Dice similarity.

    Parameters
    ----------
    encodings_a, encodings_b : sequence of bitarray
        From :func:`encode` with the same schema and secret.
    threshold : float
        Pairs with Dice below this are never matched;
        :attr:`LinkageSchema.recommended_threshold` is the measured choice.
    blocking : KeyedBlocking, BitBlocking or None
        Compare only within blocks (faster, may lose true pairs: ``docs/bloom.md``).

    Returns
    -------
    list of (int, int, float)
        ``(index in a, index in b, Dice)``, sorted by index in a; each record at most
        once (greedy: the most similar candidate pairs are taken first).

    Examples
    --------
    >>> secret, schema = b"an example secret, never use it", LinkageSchema()
    >>> a = encode([{"first_name": "Anna", "surname": "Jansen", "dob": "1975-11-02"},
    ...             {"first_name": "Piet", "surname": "Bakker", "dob": "1960-01-30"}],
    ...            schema, secret)
    >>> b = encode([{"first_name": "Pieter", "surname": "Bakker", "dob": "1960-01-30"},
    ...             {"first_name": "Anne", "surname": "Janssen", "dob": "1975-11-02"}],
    ...            schema, secret)
    >>> [(i, j) for i, j, _ in match(a, b, schema.recommended_threshold)]
    [(0, 1), (1, 0)]
    """
    if not encodings_a or not encodings_b:
        return []
    return _solve(_candidates(encodings_a, encodings_b, threshold, blocking), threshold)


# --------------------------------------------------------------------------------------
# Linkage quality against a ground truth
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkageQuality:
    """Precision, recall and F1 of a matching at one threshold."""

    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        """Share of the matches that are true pairs (1 if nothing matched)."""
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        """Share of the true pairs that were matched (1 if there are none)."""
        true = self.true_positives + self.false_negatives
        return self.true_positives / true if true else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def quality(
    matches: Sequence[Pair], ids_a: Sequence[Hashable], ids_b: Sequence[Hashable], threshold: float
) -> LinkageQuality:
    """Compare matches with the ground truth: records with equal ids are the same person.

    Ids must be unique within each side.

    Examples
    --------
    >>> q = quality([(0, 1, 0.9), (1, 0, 0.8)], ["p1", "p2"], ["p2", "p3"], 0.8)
    >>> q.precision, q.recall
    (0.5, 1.0)
    """
    for side, ids in (("a", ids_a), ("b", ids_b)):
        if len(set(ids)) != len(ids):
            raise InputError(f"the ground-truth ids of side {side} are not unique.")
    true_pairs = len(set(ids_a) & set(ids_b))
    hits = sum(1 for a, b, _ in matches if ids_a[a] == ids_b[b])
    return LinkageQuality(threshold, hits, len(matches) - hits, true_pairs - hits)


def evaluate(
    records_a: Records,
    records_b: Records,
    ids_a: Sequence[Hashable],
    ids_b: Sequence[Hashable],
    schema: LinkageSchema,
    secret: bytes | str,
    thresholds: Sequence[float],
    blocking: Sequence[str] | BitBlocking | None = None,
) -> list[LinkageQuality]:
    """Encode, match and score two files at several thresholds (one comparison pass).

    Parameters
    ----------
    records_a, records_b : DataFrame or iterable of mappings
        The two files.
    ids_a, ids_b : sequence
        The ground truth: who each record is.
    schema, secret
        As for :func:`encode`.
    thresholds : sequence of float
        Where to score; candidates are found once at the lowest.
    blocking : parts for :func:`block_keys`, BitBlocking, or None
        How to block.

    Returns
    -------
    list of LinkageQuality
        One per threshold, in the given order.
    """
    if not thresholds:
        raise InputError("give at least one threshold to evaluate.")
    clks_a, clks_b = encode(records_a, schema, secret), encode(records_b, schema, secret)
    if len(ids_a) != len(clks_a) or len(ids_b) != len(clks_b):
        raise InputError("give one ground-truth id per record on each side.")
    blocks: KeyedBlocking | BitBlocking | None
    if blocking is None or isinstance(blocking, BitBlocking):
        blocks = blocking
    else:
        blocks = KeyedBlocking(
            block_keys(records_a, secret, blocking), block_keys(records_b, secret, blocking)
        )
    candidates = _candidates(clks_a, clks_b, min(thresholds), blocks)
    return [quality(_solve(candidates, t), ids_a, ids_b, t) for t in thresholds]
