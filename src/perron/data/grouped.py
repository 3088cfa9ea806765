"""Survival kernels over grouped rows: rows that share their times, summed.

An SQL source does not fetch rows. It groups them in the database by
(stratum, start, stop, event) — and, for the concordance, by risk score — and sends
each group's row count and sums (of ``w``, ``w x``, ``w x x'`` and ``x``, with
``w = exp(x'b)``). Every quantity of an event table, of the Cox risk sets and of
Harrell's concordance is a sum over rows of terms that depend on the row only
through these grouped values, so the kernels here give from the groups exactly
what :class:`~perron.data.frame.FrameSource` gives from the rows: a group is a row
with weight ``count``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perron.data.survival import CoxSums, EventTable, TimeMap

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TimeGroups:
    """Rows grouped by their (start, stop] interval and event flag.

    ``start`` is ``-inf`` for rows without an entry time. ``w0``, ``w1``, ``w2`` and
    ``xs`` are the sums of ``w``, ``w x``, ``w x x'`` and ``x`` over each group's rows
    (empty in the last dimension when no covariates were asked for).
    """

    start: FloatArray
    stop: FloatArray
    event: BoolArray
    count: IntArray
    w0: FloatArray
    w1: FloatArray
    w2: FloatArray
    xs: FloatArray

    def select(self, keep: BoolArray) -> TimeGroups:
        return TimeGroups(
            self.start[keep],
            self.stop[keep],
            self.event[keep],
            self.count[keep],
            self.w0[keep],
            self.w1[keep],
            self.w2[keep],
            self.xs[keep],
        )

    def mapped(self, timemap: TimeMap, key: str) -> TimeGroups:
        """Times after the station's coarsening; groups whose interval collapses are
        dropped (as :class:`~perron.data.frame.FrameSource` drops such rows)."""
        stop = np.where(self.event, timemap.events(key, self.stop), timemap.others(key, self.stop))
        start = self.start
        if np.isfinite(start).any():
            start = np.where(np.isfinite(start), timemap.others(key, start), start)
        moved = TimeGroups(start, stop, self.event, self.count, self.w0, self.w1, self.w2, self.xs)
        keep = start < stop
        return moved if keep.all() else moved.select(keep)


def _counts(index: npt.NDArray[np.intp], weights: IntArray, size: int) -> IntArray:
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, weights)
    return out


def event_table(groups: TimeGroups) -> EventTable:
    """Events, censorings and entries by distinct time (``FrameSource.event_table``)."""
    start, stop, event, count = groups.start, groups.stop, groups.event, groups.count
    finite = np.isfinite(start)
    times = np.unique(np.concatenate([stop, start[finite]]))
    at_stop = np.searchsorted(times, stop)
    return EventTable(
        times,
        _counts(at_stop[event], count[event], times.size),
        _counts(at_stop[~event], count[~event], times.size),
        _counts(np.searchsorted(times, start[finite]), count[finite], times.size),
    )


def risk_set_sums(groups: TimeGroups, times: FloatArray) -> CoxSums:
    """Sums over the risk sets {start < t <= stop} and the events at each time t.

    As :func:`perron.data.frame._risk_set_sums`, with a group in place of a row: a
    group enters the risk sets of times[k] for k in [#times <= start, #times <= stop)
    with its summed weights; adding them at the first index and subtracting them
    after the last, then a cumulative sum, gives every risk-set sum in O(G + T).
    """
    T = times.size
    p = groups.w1.shape[1]
    first = np.searchsorted(times, groups.start, side="right")
    last = np.searchsorted(times, groups.stop, side="right")

    def risk(weights: FloatArray) -> FloatArray:
        diff = np.bincount(first, weights, minlength=T + 1) - np.bincount(
            last, weights, minlength=T + 1
        )
        return np.cumsum(diff)[:T]

    event = groups.event
    at = np.searchsorted(times, groups.stop[event], side="left")

    def at_events(weights: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(at, weights, minlength=T)[:T], dtype=np.float64)

    s0 = risk(groups.w0)
    e0 = at_events(groups.w0[event])
    s1 = np.empty((T, p))
    e1 = np.empty((T, p))
    s2 = np.empty((T, p, p))
    e2 = np.empty((T, p, p))
    for a in range(p):
        s1[:, a] = risk(groups.w1[:, a])
        e1[:, a] = at_events(groups.w1[event, a])
        for b in range(a + 1):
            s2[:, a, b] = s2[:, b, a] = risk(groups.w2[:, a, b])
            e2[:, a, b] = e2[:, b, a] = at_events(groups.w2[event, a, b])
    inside = at < T
    d = _counts(at[inside], groups.count[event][inside], T)
    return CoxSums(d, s0, s1, s2, e0, e1, e2, groups.xs[event].sum(axis=0), int(groups.count.sum()))


def harrell(
    time: FloatArray, event: BoolArray, risk: FloatArray, count: IntArray
) -> tuple[float, int]:
    """Harrell's C counts over groups of subjects with equal (time, event, risk score).

    Subjects (groups of ``c`` subjects, or single rows with ``c = 1``) enter a
    Fenwick tree over risk ranks from the latest time backwards, censored ones of a
    time before its events (a censoring tied with an event counts as surviving
    longer); each event group is compared with everyone in the tree, and a group of
    ``c`` subjects counts ``c`` times. Ties in the score count one half. Exact integer
    arithmetic, so the result equals the row-wise one.
    """
    if time.size == 0:
        return 0.0, 0
    ranks = np.searchsorted(np.unique(risk), risk) + 1  # 1-based ranks for the tree
    size = int(ranks.max())
    tree = np.zeros(size + 1, dtype=np.int64)

    def add(indices: npt.NDArray[np.int64], weights: IntArray) -> None:
        idx, w = indices.copy(), weights.copy()
        while idx.size:
            np.add.at(tree, idx, w)
            idx = idx + (idx & -idx)
            inside = idx <= size
            idx, w = idx[inside], w[inside]

    def below(indices: npt.NDArray[np.int64]) -> IntArray:
        """Number of subjects in the tree with rank <= each index."""
        total = np.zeros(indices.size, dtype=np.int64)
        idx = indices.copy()
        while np.any(idx > 0):
            total += np.where(idx > 0, tree[np.maximum(idx, 0)], 0)
            idx = idx - (idx & -idx)
        return total

    concordant = 0.0
    comparable = 0
    inside = 0
    order = np.argsort(time, kind="stable")
    sorted_time = time[order]
    for t in np.unique(time)[::-1]:
        group = order[np.searchsorted(sorted_time, t) : np.searchsorted(sorted_time, t, "right")]
        censored = group[~event[group]]
        events = group[event[group]]
        add(ranks[censored], count[censored])
        inside += int(count[censored].sum())
        if events.size:
            weights = count[events]
            lower = below(ranks[events] - 1)
            at_most = below(ranks[events])
            concordant += float(np.sum(weights * lower) + 0.5 * np.sum(weights * (at_most - lower)))
            comparable += int(weights.sum()) * inside
        add(ranks[events], count[events])
        inside += int(count[events].sum())
    return concordant, comparable
