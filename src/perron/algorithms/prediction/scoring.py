"""Scores of a published model at a station, and score histograms that may leave it.

Station side: :func:`score_rows` evaluates a :class:`PublishedModel` on the
complete rows of the station (through ``DataSource.design_arrays``); the scores
stay in the station. :func:`merge_blocks` coarsens a fine histogram into
consecutive blocks that each hold at least ``min_cell`` subjects (a short tail
joins the block before it, as :func:`perron.privacy.survival.block_ends` does for
event times); only blocks leave the station.

Coordinator side: :func:`spread` turns released blocks back into a fine histogram
by spreading each block's count evenly over its bins, and
:func:`pairs_above` counts ordered pairs of two histograms, a tie in a bin
counting one half.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.algorithms.core.base import StationContext
from perron.algorithms.core.checks import require_columns, require_numeric, require_rows
from perron.algorithms.prediction.published_model import PublishedModel, _same_level
from perron.data.design import Design, Level, Term
from perron.data.source import DataSource
from perron.privacy.rules import MIN_CELL, check_levels
from perron.protocol.errors import DisclosureBlocked, InputError
from perron.protocol.messages import Decision

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: A released block: first and last row index, first and last bin index, count.
Block = tuple[int, int, int, int, int]

_EVENT = "__event__"


@dataclass(frozen=True)
class Scored:
    """A station's complete rows as the model sees them (never released)."""

    lp: FloatArray
    #: The 0/1 outcome (logistic) or event indicator (Cox).
    y: FloatArray
    #: Follow-up time (Cox) or None.
    time: FloatArray | None
    #: The model's term columns, in term order.
    x: FloatArray
    dropped: int


def score_rows(
    data: DataSource,
    model: PublishedModel,
    outcome: str,
    event: str | None,
    context: StationContext,
) -> tuple[Scored, list[Decision]]:
    """Evaluate the model on the station's complete rows and check the outcome.

    ``outcome`` is the 0/1 outcome of a logistic model or the follow-up time of a
    Cox model (then ``event`` is its 0/1 event indicator). Both outcome levels must
    hold at least ``min_cell`` rows.
    """
    targets = [outcome, *([event] if event else [])]
    columns = list(dict.fromkeys([*targets, *model.columns]))
    require_columns(data, columns, context)
    require_numeric(data, [*targets, *model.numeric], context)
    n = data.complete_count(columns)
    decisions = [require_rows(n, context, f"validating {model.name}")]
    binary = event if event else outcome
    counts = data.value_counts([binary], columns)
    if not {k[0] for k in counts} <= {0, 1}:
        raise InputError(
            f"the {'event' if event else 'outcome'} column {binary!r} must be coded 0/1 at "
            f"station {context.station!r}; recode it before validating."
        )
    both = {level: counts.get((level,), 0) for level in (0, 1)}
    decisions += check_levels(context.station, both, n, context.policy, binary, zero_ok=False)
    levels = {c: [k[0] for k in data.value_counts([c], columns)] for c in model.categorical}
    terms = [
        Term(t.name, t.column, _local_level(t.level, levels.get(t.column, []))) for t in model.terms
    ]
    if event:
        terms.append(Term(_EVENT, event))
    x, y, _ = data.design_arrays(Design(outcome, tuple(terms)))
    k = len(model.terms)
    # Rounded so that rows with equal covariates tie whatever the summation order.
    lp = np.round(model.intercept + x[:, :k] @ model.beta, 10)
    dropped = data.complete_count([]) - n
    if event:
        return Scored(lp, x[:, k], y, x[:, :k], dropped), decisions
    return Scored(lp, y, None, x, dropped), decisions


def _local_level(level: str | None, present: Sequence[Level]) -> Level | None:
    """The station's own value of a level named as text (``"2"`` -> ``2``)."""
    if level is None:
        return None
    for value in present:
        if _same_level(value, level):
            return value
    return level  # absent at this station: its indicator is 0 on every row


def merge_blocks(counts: IntArray, min_cell: int) -> list[tuple[int, int]]:
    """Consecutive index ranges ``[first, last]`` holding at least ``min_cell`` each.

    A block starts at the first non-empty bin after the previous block and closes
    as soon as it holds ``min_cell``; a short tail joins the last block. Empty bins
    between blocks stay outside (an exact zero is not disclosive). Returns no
    blocks when the total is below ``min_cell``.

    Examples
    --------
    >>> merge_blocks(np.array([3, 0, 4, 6, 1]), 5)
    [(0, 2), (3, 4)]
    """
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    running = 0
    last_nonzero = -1
    for i, c in enumerate(counts.tolist()):
        if c == 0:
            continue
        last_nonzero = i
        if start is None:
            start = i
        running += c
        if running >= min_cell:
            blocks.append((start, i))
            start, running = None, 0
    if running > 0 and blocks:
        blocks[-1] = (blocks[-1][0], last_nonzero)
    return blocks


def release_blocks(
    counts: IntArray, context: StationContext, subject: str
) -> tuple[list[Block], Decision]:
    """Coarsen a 2-D table (rows x bins) to blocks of at least ``min_cell`` subjects.

    Rows (time intervals) are merged first until each group holds ``min_cell``;
    within each group, bins are merged the same way. Blocked when the whole table
    holds fewer than ``min_cell`` subjects.
    """
    min_cell = context.policy.min_cell
    total = int(counts.sum())
    if 0 < total < min_cell:
        raise DisclosureBlocked(
            context.station,
            MIN_CELL,
            min_cell,
            f"Too few subjects for the {subject} at this station; leave the station out.",
        )
    out: list[Block] = []
    for r0, r1 in merge_blocks(counts.sum(axis=1).astype(np.int64), min_cell):
        merged = counts[r0 : r1 + 1].sum(axis=0).astype(np.int64)
        for b0, b1 in merge_blocks(merged, min_cell):
            out.append((r0, r1, b0, b1, int(merged[b0 : b1 + 1].sum())))
    detail = f"{subject}: {len(out)} blocks of >= min_cell subjects"
    return out, Decision(context.station, MIN_CELL, min_cell, "passed", detail)


def spread(
    blocks: Sequence[Sequence[int]], rows: int, bins: int, shape: FloatArray | None = None
) -> FloatArray:
    """A fine (rows x bins) histogram from released blocks.

    Each block's count is spread over its cells evenly or, given ``shape`` (a fine
    rows x bins density, such as the pooled histogram of all stations), in
    proportion to it: a station's merged block then follows the shape the finer
    blocks of the other stations show in that range.
    """
    out = np.zeros((rows, bins))
    for r0, r1, b0, b1, count in blocks:
        cells = (slice(r0, r1 + 1), slice(b0, b1 + 1))
        weight = np.ones((r1 - r0 + 1, b1 - b0 + 1))
        if shape is not None and shape[cells].sum() > 0:
            weight = shape[cells] + 1e-9 * shape[cells].sum()
        out[cells] += count * weight / weight.sum()
    return out


def pooled_shape(
    released: Sequence[Sequence[Sequence[int]]], rows: int, bins: int, rounds: int = 0
) -> FloatArray:
    """A pooled fine histogram of all released block lists, refined by spreading every
    block in proportion to the previous estimate (a few fixed-point rounds)."""
    shape = sum((spread(b, rows, bins) for b in released), np.zeros((rows, bins)))
    for _ in range(rounds):
        shape = sum((spread(b, rows, bins, shape) for b in released), np.zeros((rows, bins)))
    return shape


def pairs_above(upper: FloatArray, lower: FloatArray) -> float:
    """Pairs (u, l) with u's bin above l's bin, plus half the pairs in the same bin."""
    below = np.concatenate([[0.0], np.cumsum(lower)[:-1]])
    return float(np.sum(upper * (below + 0.5 * lower)))


def concordance_within(score: FloatArray, y: FloatArray) -> tuple[float, int]:
    """Mann-Whitney counts of one station: pairs (case, non-case) where the case has
    the higher score, plus half the tied pairs; and the number of pairs."""
    cases = score[y == 1]
    controls = np.sort(score[y == 0])
    lower = np.searchsorted(controls, cases, side="left")
    upper = np.searchsorted(controls, cases, side="right")
    concordant = float(np.sum(lower) + 0.5 * np.sum(upper - lower))
    return concordant, int(cases.size * controls.size)


def overlapping_pairs(first: Sequence[Sequence[int]], second: Sequence[Sequence[int]]) -> float:
    """Pairs of subjects whose released bin ranges overlap (their order is unknown)."""
    if not first or not second:
        return 0.0
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    overlap = (a[:, None, 2] <= b[None, :, 3]) & (b[None, :, 2] <= a[:, None, 3])
    return float(np.sum(overlap * a[:, None, 4] * b[None, :, 4]))


def encode_blocks(blocks: Sequence[Block], rows: int, bins: int) -> dict[str, Any]:
    """Blocks as three fixed-size (rows x bins) tables, so that the size of a release
    does not depend on the number of rows: a block's count, first row and first bin
    sit at its last cell (-1 where no block ends)."""
    count = np.zeros((rows, bins), dtype=np.int64)
    first_row = np.full((rows, bins), -1, dtype=np.int64)
    first_bin = np.full((rows, bins), -1, dtype=np.int64)
    for r0, r1, b0, b1, c in blocks:
        count[r1, b1], first_row[r1, b1], first_bin[r1, b1] = c, r0, b0
    return {"count": count.tolist(), "row": first_row.tolist(), "bin": first_bin.tolist()}


def decode_blocks(encoded: Mapping[str, Any]) -> list[Block]:
    """The blocks of :func:`encode_blocks`."""
    count = np.asarray(encoded["count"], dtype=np.int64)
    first_row = np.asarray(encoded["row"], dtype=np.int64)
    first_bin = np.asarray(encoded["bin"], dtype=np.int64)
    ends = np.argwhere(first_row >= 0)
    return [
        (int(first_row[r, b]), int(r), int(first_bin[r, b]), int(b), int(count[r, b]))
        for r, b in ends
    ]
