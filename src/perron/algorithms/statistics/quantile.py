"""Federated quantiles by multi-point bisection on the pooled distribution function.

The quantile of order q is the smallest value t with ``C(t) >= ceil(q N)``, where
``C(t)`` counts the pooled values ``<= t`` (numpy's ``inverted_cdf``). Each round
the coordinator sends a few thresholds inside the current bracket of every
quantile; each station returns its count of values at or below each threshold.
A bracket shrinks about 16-fold per round, so about ten rounds give a value within
``1e-12`` of the spread. A last round asks each station for its smallest value
inside each final bracket, which makes the result the exact order statistic;
that value is known to the coordinator to within the bracket width anyway.

Disclosure: a count ``c`` with ``0 < c < min_cell`` (a small lower tail) or
``0 < n - c < min_cell`` (a small upper tail) is not released; the station says
only on which side it lies. The coordinator then knows that count only as an
interval, and a quantile whose position depends on it stops at the resolution that
the released counts allow (``exact`` is then ``False``). Extreme quantiles of small
stations are therefore coarse by design.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    FederatedResult,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.core.checks import require_numeric, require_rows
from perron.data.source import DataSource
from perron.privacy.rules import MIN_CELL, MIN_ROWS
from perron.protocol.errors import InputError
from perron.protocol.messages import Decision, Outcome

_PROBES = 15
_RELATIVE_RESOLUTION = 1e-12


@dataclass(frozen=True, kw_only=True)
class QuantileResult(FederatedResult):
    """Pooled quantiles of one column.

    ``values`` holds the quantiles, ``resolution`` the width of the final bracket
    and ``exact`` whether the bracket was narrowed to full resolution (``False``
    where disclosure control stopped it earlier).
    """

    column: str
    values: pd.Series
    resolution: pd.Series
    exact: pd.Series


@dataclass(frozen=True)
class _State:
    n: dict[str, int]
    lo: list[float]
    hi: list[float]
    done: list[bool]
    exact: list[bool]
    tolerance: float
    bracketed: bool
    thresholds: list[float]
    snapping: bool = False


class Quantile(FederatedAlgorithm[_State | None, QuantileResult]):
    """Pooled quantiles of a numeric column."""

    name = "quantile"
    contract = DisclosureContract(
        releases={
            "n": "scalar",
            "mean": "scalar",
            "m2": "scalar",
            "counts": "one per threshold (suppressed: None)",
            "side": "one per threshold: which tail a suppressed count lies in",
            "min_cell": "scalar: the station's cell threshold (a setting, not data)",
            "inside": "per quantile: smallest value inside the final bracket (width ~1e-12)",
        },
        rules=(MIN_ROWS, MIN_CELL),
    )

    def __init__(self, column: str, probabilities: Sequence[float]) -> None:
        for q in probabilities:
            if not 0 < q < 1:
                raise InputError(
                    f"quantile order {q} is outside (0, 1); 0 and 1 would be the minimum "
                    "and maximum, which are disclosive."
                )
        self.column = column
        self.probabilities = [float(q) for q in probabilities]

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        column = str(params["column"])
        require_numeric(data, [column], context)
        moments = data.moments(column)
        decisions = [require_rows(moments.n, context, f"column {column}")]
        if params["step"] == "moments":
            return StationOutput(
                {"n": moments.n, "mean": moments.mean, "m2": moments.m2}, decisions
            )
        if params["step"] == "snap":
            lows = np.asarray([lo for lo, _ in params["brackets"]], dtype=np.float64)
            highs = np.asarray([hi for _, hi in params["brackets"]], dtype=np.float64)
            values = data.smallest_above(column, lows)
            inside = [float(v) if v <= h else None for v, h in zip(values, highs, strict=True)]
            return StationOutput({"n": moments.n, "inside": inside}, decisions)
        thresholds = np.asarray(params["thresholds"], dtype=np.float64)
        counts = data.count_at_most(column, thresholds)
        k = context.policy.min_cell
        released: list[int | None] = []
        side: list[str | None] = []
        for c in counts.tolist():
            if 0 < c < k:
                released.append(None)
                side.append("low")
            elif 0 < moments.n - c < k:
                released.append(None)
                side.append("high")
            else:
                released.append(int(c))
                side.append(None)
        outcome: Outcome = "suppressed" if any(s is not None for s in side) else "passed"
        decisions.append(Decision(context.station, MIN_CELL, k, outcome, f"quantile of {column}"))
        payload = {"n": moments.n, "min_cell": k, "counts": released, "side": side}
        return StationOutput(payload, decisions)

    def start(self) -> Next[_State | None]:
        return Next({"step": "moments", "column": self.column}, None)

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State | None
    ) -> Next[_State | None] | Done[QuantileResult]:
        if state is None:
            return self._first_bracket(partials)
        if state.snapping:
            return Done(self._snapped(partials, state))
        lower, upper = _pooled_count_bounds(partials, state, len(state.thresholds))
        total = sum(state.n.values())
        lo, hi, done, exact = list(state.lo), list(state.hi), list(state.done), list(state.exact)
        for i, q in enumerate(self.probabilities):
            if done[i]:
                continue
            rank = max(1, math.ceil(q * total))
            idx = _indices(i, state, len(self.probabilities))
            new_lo, new_hi = lo[i], hi[i]
            for j in idx:
                t = state.thresholds[j]
                if lower[j] >= rank:
                    new_hi = min(new_hi, t)
                elif upper[j] < rank:
                    new_lo = max(new_lo, t)
            if not state.bracketed:
                continue
            progressed = (new_lo, new_hi) != (lo[i], hi[i])
            lo[i], hi[i] = new_lo, new_hi
            if hi[i] - lo[i] <= state.tolerance:
                done[i] = True
            elif not progressed:
                done[i], exact[i] = True, False
        if not state.bracketed:
            return self._check_bracket(lower, upper, state, total)
        if all(done):
            brackets = [[a, b] for a, b in zip(lo, hi, strict=True)]
            snap = _replace(state, lo=lo, hi=hi, exact=exact, snapping=True)
            return Next({"step": "snap", "column": self.column, "brackets": brackets}, snap)
        return self._probe(state, lo, hi, done, exact)

    # -- rounds -----------------------------------------------------------------------

    def _first_bracket(self, partials: Mapping[str, Payload]) -> Next[_State | None]:
        n = {s: int(p["n"]) for s, p in partials.items()}
        total = sum(n.values())
        mean = sum(p["n"] * p["mean"] for p in partials.values()) / total
        m2 = sum(p["m2"] + p["n"] * (p["mean"] - mean) ** 2 for p in partials.values())
        spread = math.sqrt(m2 / max(total - 1, 1)) or max(abs(mean), 1.0)
        k = len(self.probabilities)
        state = _State(
            n=n,
            lo=[mean - 4 * spread] * k,
            hi=[mean + 4 * spread] * k,
            done=[False] * k,
            exact=[True] * k,
            tolerance=_RELATIVE_RESOLUTION * (spread + abs(mean)),
            bracketed=False,
            thresholds=[],
        )
        return self._bracket_probe(state)

    def _bracket_probe(self, state: _State) -> Next[_State | None]:
        thresholds = [v for pair in zip(state.lo, state.hi, strict=True) for v in pair]
        state = _replace(state, thresholds=thresholds)
        return Next({"step": "probe", "column": self.column, "thresholds": thresholds}, state)

    def _check_bracket(
        self, lower: list[float], upper: list[float], state: _State, total: int
    ) -> Next[_State | None]:
        lo, hi = list(state.lo), list(state.hi)
        ok = True
        for i, q in enumerate(self.probabilities):
            rank = max(1, math.ceil(q * total))
            if not upper[2 * i] < rank:
                lo[i] -= 2 * (hi[i] - lo[i])
                ok = False
            if not lower[2 * i + 1] >= rank:
                hi[i] += 2 * (hi[i] - lo[i])
                ok = False
        if ok:
            return self._probe(_replace(state, bracketed=True), lo, hi, state.done, state.exact)
        return self._bracket_probe(_replace(state, lo=lo, hi=hi))

    def _probe(
        self, state: _State, lo: list[float], hi: list[float], done: list[bool], exact: list[bool]
    ) -> Next[_State | None]:
        thresholds: list[float] = []
        for i in range(len(self.probabilities)):
            grid = np.linspace(lo[i], hi[i], _PROBES + 2)[1:-1]
            thresholds.extend(grid.tolist() if not done[i] else [hi[i]] * _PROBES)
        new = _replace(state, lo=lo, hi=hi, done=done, exact=exact, thresholds=thresholds)
        return Next({"step": "probe", "column": self.column, "thresholds": thresholds}, new)

    def _snapped(self, partials: Mapping[str, Payload], state: _State) -> QuantileResult:
        values = list(state.hi)
        resolution = list(np.subtract(state.hi, state.lo))
        for i, exact in enumerate(state.exact):
            found = [p["inside"][i] for p in partials.values() if p["inside"][i] is not None]
            if exact and found:
                values[i] = min(found)
                resolution[i] = 0.0
        index = pd.Index(self.probabilities, name="q")
        return QuantileResult(
            column=self.column,
            values=pd.Series(values, index=index, name=self.column),
            resolution=pd.Series(resolution, index=index, name="resolution"),
            exact=pd.Series(state.exact, index=index, name="exact"),
            nobs_per_station=dict(state.n),
        )


def _indices(i: int, state: _State, k: int) -> range:
    if not state.bracketed:
        return range(2 * i, 2 * i + 2)
    return range(i * _PROBES, (i + 1) * _PROBES)


def _pooled_count_bounds(
    partials: Mapping[str, Payload], state: _State, size: int
) -> tuple[list[float], list[float]]:
    """Lower and upper bounds of the pooled count at each threshold."""
    lower = [0.0] * size
    upper = [0.0] * size
    for station, p in partials.items():
        n = state.n[station]
        k = int(p["min_cell"])
        # A suppressed count lies in [1, k-1] (small lower tail) or in
        # [n-k+1, n-1] (small upper tail); the station says which.
        for j, (count, side) in enumerate(zip(p["counts"], p["side"], strict=True)):
            if count is not None:
                lower[j] += count
                upper[j] += count
            elif side == "low":
                lower[j] += 1
                upper[j] += k - 1
            else:
                lower[j] += n - k + 1
                upper[j] += n - 1
    return lower, upper


def _replace(state: _State, **changes: Any) -> _State:
    values = {**state.__dict__, **changes}
    return _State(**values)
