"""What a station counts for surveillance: the case definition, the weeks and the strata.

:class:`CountSpec` is the request of a weekly-counts task, read and checked the same
way at the researcher's side and at every station; :func:`count_cells` turns a
station's data into the array of counts the station then releases (or not). Both
work through the data seam (``value_counts``, a ``GROUP BY`` in SQL), so no row
leaves the source: the station groups its own distinct combinations of date, codes
and strata into ISO weeks, bands and report delays.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.data.cohort import Cohort
from perron.data.design import Level
from perron.data.source import DataSource
from perron.protocol.errors import InputError
from perron.surveillance.weeks import IsoWeek

#: The label of a stratum-free series (``by`` empty).
TOTAL = "total"


@dataclass(frozen=True)
class CountSpec:
    """A validated weekly-counts request.

    ``case`` is the case definition (cohort criteria, e.g. ``[{"column": "icd10",
    "prefix": ["J09", "J10", "J11"]}]``), ``date`` the column whose ISO week a case
    counts in (onset or diagnosis), ``first``/``last`` the weeks. ``by`` are the
    strata (age band, region); ``bands`` cuts a numeric column into bands at the
    given lower edges (``{"age": [0, 15, 45, 65]}`` gives ``0-14``, ``15-44``,
    ``45-64``, ``65+``); ``levels`` fixes a column's levels in advance (required
    for noisy counts, whose layout must not depend on the data). With
    ``report_date`` the counts are split by reporting delay in weeks, ``0`` to
    ``max_delay`` (the last one holding longer delays), counting only reports made
    by ``last``: the reporting triangle a nowcast needs. ``epsilon`` asks for
    differentially private counts instead of small-cell suppression.

    Examples
    --------
    >>> spec = CountSpec.from_params({"case": [{"column": "icd10", "prefix": ["J10"]}],
    ...     "date": "onset", "first": "2024-W01", "last": "2024-W10",
    ...     "by": ["age"], "bands": {"age": [0, 15, 65]}})
    >>> spec.band_label("age", 40), spec.band_label("age", 70), spec.weeks
    ('15-64', '65+', 10)
    """

    case: Cohort
    date: str
    first: IsoWeek
    last: IsoWeek
    by: tuple[str, ...] = ()
    bands: Mapping[str, tuple[float, ...]] | None = None
    levels: Mapping[str, tuple[Level, ...]] | None = None
    report_date: str | None = None
    max_delay: int = 0
    epsilon: float | None = None

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InputError(f"the period ends ({self.last}) before it starts ({self.first}).")
        if len(set(self.by)) != len(self.by):
            raise InputError(f"a stratum is named twice in by={list(self.by)}.")
        for column, edges in (self.bands or {}).items():
            if column not in self.by:
                raise InputError(f"bands are given for {column!r}, which is not in by=.")
            if not edges or list(edges) != sorted(set(edges)):
                raise InputError(f"the bands of {column!r} need increasing lower edges.")
        for column in self.levels or {}:
            if column not in self.by:
                raise InputError(f"levels are given for {column!r}, which is not in by=.")
        if self.report_date is None and self.max_delay:
            raise InputError("max_delay needs report_date=, the column of the report date.")
        if not 0 <= self.max_delay <= 52:
            raise InputError(f"max_delay = {self.max_delay} weeks; use 0 to 52.")
        if self.epsilon is not None:
            free = [c for c in self.by if c not in (self.levels or {}) and c not in self.bands_]
            if free:
                raise InputError(
                    f"noisy counts need the levels of {free} fixed in advance (levels=...), so "
                    "the table's layout does not depend on the data."
                )

    @property
    def bands_(self) -> Mapping[str, tuple[float, ...]]:
        return self.bands or {}

    @property
    def weeks(self) -> int:
        return self.last - self.first + 1

    @property
    def delays(self) -> int:
        return self.max_delay + 1

    @property
    def columns(self) -> list[str]:
        """The columns the station groups by (date first)."""
        named = [self.date, *([self.report_date] if self.report_date else []), *self.by]
        return list(dict.fromkeys([*named, *self.case.columns]))

    def band_label(self, column: str, value: Level) -> str | None:
        """The band a value falls in (``None`` below the first edge)."""
        edges = self.bands_[column]
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise InputError(f"column {column!r} holds {value!r}, which is not a number.") from None
        position = bisect.bisect_right(edges, x) - 1
        if position < 0:
            return None
        return _band_name(edges, position)

    def fixed_strata(self) -> list[tuple[Level, ...]] | None:
        """Every stratum, when each ``by`` column is banded or has fixed levels."""
        axes: list[list[Level]] = []
        for column in self.by:
            if column in self.bands_:
                edges = self.bands_[column]
                axes.append([_band_name(edges, k) for k in range(len(edges))])
            elif column in (self.levels or {}):
                axes.append(list((self.levels or {})[column]))
            else:
                return None
        grid: list[tuple[Level, ...]] = [()]
        for axis in axes:
            grid = [(*g, v) for g in grid for v in axis]
        return grid

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CountSpec:
        """Read a task's parameters; ``InputError`` says which one is wrong."""
        for key in ("case", "date", "first", "last"):
            if key not in params:
                raise InputError(f"a weekly-counts request needs {key!r}.")
        bands = params.get("bands") or None
        levels = params.get("levels") or None
        epsilon = params.get("epsilon")
        return cls(
            case=Cohort.from_wire(params["case"]),
            date=str(params["date"]),
            first=IsoWeek.parse(str(params["first"])),
            last=IsoWeek.parse(str(params["last"])),
            by=tuple(str(c) for c in params.get("by", ())),
            bands=None if bands is None else {str(k): tuple(v) for k, v in bands.items()},
            levels=None if levels is None else {str(k): tuple(v) for k, v in levels.items()},
            report_date=None if params.get("report_date") is None else str(params["report_date"]),
            max_delay=int(params.get("max_delay", 0)),
            epsilon=None if epsilon is None else float(epsilon),
        )

    def to_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "case": self.case.to_wire(),
            "date": self.date,
            "first": str(self.first),
            "last": str(self.last),
            "by": list(self.by),
        }
        if self.bands:
            params["bands"] = {k: list(v) for k, v in self.bands.items()}
        if self.levels:
            params["levels"] = {k: list(v) for k, v in self.levels.items()}
        if self.report_date is not None:
            params["report_date"] = self.report_date
            params["max_delay"] = self.max_delay
        if self.epsilon is not None:
            params["epsilon"] = self.epsilon
        return params


def _band_name(edges: Sequence[float], position: int) -> str:
    low = edges[position]
    text = f"{low:g}"
    if position + 1 == len(edges):
        return f"{text}+"
    return f"{text}-{edges[position + 1] - 1:g}"


@dataclass(frozen=True)
class Cells:
    """A station's counts: weeks x strata x delays (delays is 1 without report dates)."""

    strata: list[tuple[Level, ...]]
    counts: npt.NDArray[np.int64]


def count_cells(data: DataSource, spec: CountSpec) -> Cells:
    """Count the cases per ISO week, stratum and reporting delay.

    A case is a record that meets every criterion of the case definition. Records
    without a date or a stratum value are not counted (``value_counts`` is
    complete-case); a report dated before onset, or after ``last``, is not counted;
    a delay above ``max_delay`` counts in ``max_delay``.
    """
    columns = spec.columns
    positions = {c: k for k, c in enumerate(columns)}
    cells: dict[tuple[int, tuple[Level, ...], int], int] = {}
    for key, count in data.value_counts(columns, []).items():
        row = {c: key[positions[c]] for c in columns}
        if not all(criterion.matches(row[criterion.column]) for criterion in spec.case.criteria):
            continue
        week = IsoWeek.of(str(row[spec.date]))
        if not spec.first <= week <= spec.last:
            continue
        delay = 0
        if spec.report_date is not None:
            reported = IsoWeek.of(str(row[spec.report_date]))
            if reported > spec.last or reported < week:
                continue
            delay = min(reported - week, spec.max_delay)
        stratum = _stratum(spec, row)
        if stratum is None:
            continue
        at = (week - spec.first, stratum, delay)
        cells[at] = cells.get(at, 0) + int(count)
    fixed = spec.fixed_strata()  # by=() gives the one stratum ()
    strata = fixed if fixed is not None else sort_strata({s for _, s, _ in cells})
    index = {s: k for k, s in enumerate(strata)}
    counts = np.zeros((spec.weeks, len(strata), spec.delays), dtype=np.int64)
    for (week_index, stratum, delay), count in cells.items():
        if stratum in index:  # a fixed grid leaves out levels it does not list
            counts[week_index, index[stratum], delay] += count
    return Cells(strata, counts)


def sort_strata(strata: Iterable[tuple[Level, ...]]) -> list[tuple[Level, ...]]:
    """Distinct strata in a fixed order (each level by type, then value)."""
    return sorted(set(strata), key=lambda s: tuple((type(v).__name__, v) for v in s))


def _stratum(spec: CountSpec, row: Mapping[str, Level]) -> tuple[Level, ...] | None:
    values: list[Level] = []
    for column in spec.by:
        value = row[column]
        if column in spec.bands_:
            band = spec.band_label(column, value)
            if band is None:
                return None
            value = band
        values.append(value)
    return tuple(values)
