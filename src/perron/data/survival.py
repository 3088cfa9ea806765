"""Time-to-event data as a station step sees it: specification, time maps, aggregates.

A :class:`SurvivalSpec` names the time columns (``stop``, optional ``start`` for
delayed entry or counting-process rows), the event indicator, strata and the
covariate terms. A :class:`TimeMap` coarsens times where the data lives (the
station's disclosure settings decide it, see :mod:`perron.privacy.survival`):
round every time up to a grid, then move events up to the end of their block and
censorings and entries down to the end of the block before. Every map is a
monotone step function, so an SQL source can apply it with ``CASE`` expressions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.data.design import Level, Term

FloatArray = npt.NDArray[np.float64]

#: The key of the single stratum of an unstratified analysis.
ALL = "all"


def stratum_key(values: Sequence[Level]) -> str:
    """A stratum's name on the wire: its level values joined by '|' ('all' if none)."""
    return "|".join(str(v) for v in values) if values else ALL


@dataclass(frozen=True)
class SurvivalSpec:
    """Columns of a survival analysis; ``start`` gives (start, stop] rows."""

    stop: str
    event: str
    start: str | None = None
    strata: tuple[str, ...] = ()
    terms: tuple[Term, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        names = [self.stop, self.event]
        if self.start is not None:
            names.append(self.start)
        names.extend(self.strata)
        for term in self.terms:
            if term.column is not None and term.column not in names:
                names.append(term.column)
        return tuple(names)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.terms]

    def to_wire(self) -> dict[str, Any]:
        return {
            "stop": self.stop,
            "event": self.event,
            "start": self.start,
            "strata": list(self.strata),
            "terms": [[t.name, t.column, t.level] for t in self.terms],
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> SurvivalSpec:
        return cls(
            stop=str(wire["stop"]),
            event=str(wire["event"]),
            start=None if wire.get("start") is None else str(wire["start"]),
            strata=tuple(str(s) for s in wire.get("strata", ())),
            terms=tuple(Term(str(n), c, lv) for n, c, lv in wire.get("terms", ())),
        )


@dataclass(frozen=True)
class TimeMap:
    """Coarsening of times at a station: rounding up to ``grid``, then block ends.

    ``ends`` maps a stratum/group key to the sorted ends of its event blocks; a key
    without ends (or with none) keeps its (rounded) times.
    """

    grid: float | None = None
    ends: Mapping[str, FloatArray] = field(default_factory=dict)

    def round(self, times: FloatArray) -> FloatArray:
        if self.grid is None:
            return times
        return np.asarray(np.ceil(times / self.grid - 1e-12) * self.grid, dtype=np.float64)

    def events(self, key: str, times: FloatArray) -> FloatArray:
        """Event times: rounded, then up to the end of their block."""
        times = self.round(times)
        ends = self.ends.get(key)
        if ends is None or ends.size == 0:
            return times
        index = np.searchsorted(ends, times, side="left")
        return ends[np.minimum(index, ends.size - 1)]

    def others(self, key: str, times: FloatArray) -> FloatArray:
        """Censoring and entry times: rounded, then down to the end of the block before."""
        times = self.round(times)
        ends = self.ends.get(key)
        if ends is None or ends.size == 0:
            return times
        index = np.searchsorted(ends, times, side="right") - 1
        inside = index >= 0
        # Before the first block no event is affected: such times all move to 0
        # (or stay, if negative), so their exact values are not released.
        out = np.minimum(times, 0.0)
        out[inside] = ends[index[inside]]
        return out

    def to_wire(self) -> dict[str, Any]:
        return {"grid": self.grid, "ends": {k: v.tolist() for k, v in self.ends.items()}}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any] | None) -> TimeMap:
        if not wire:
            return cls()
        ends = {str(k): np.asarray(v, dtype=np.float64) for k, v in wire.get("ends", {}).items()}
        grid = wire.get("grid")
        return cls(None if grid is None else float(grid), ends)


@dataclass(frozen=True)
class EventTable:
    """Counts by distinct time of one group: events, censorings (exits without an
    event) and entries (rows whose ``start`` is that time)."""

    time: FloatArray
    events: npt.NDArray[np.int64]
    censored: npt.NDArray[np.int64]
    entries: npt.NDArray[np.int64]

    @property
    def n_exits(self) -> int:
        return int(self.events.sum() + self.censored.sum())


@dataclass(frozen=True)
class CoxSums:
    """One stratum's risk-set sums at the requested event times.

    ``s0``/``s1``/``s2``: sums of w, w x and w x x' over the risk set at each time
    (w = exp(x'b)); ``e0``/``e1``/``e2``: the same over the events at that time
    (needed for Efron's ties); ``d``: events at each time; ``xsum``: sum of x over
    all events; ``n``: rows.
    """

    d: npt.NDArray[np.int64]
    s0: FloatArray
    s1: FloatArray
    s2: FloatArray
    e0: FloatArray
    e1: FloatArray
    e2: FloatArray
    xsum: FloatArray
    n: int
