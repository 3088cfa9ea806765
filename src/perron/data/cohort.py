"""Cohort definitions for feasibility counts, evaluated through the data seam.

A cohort is a list of criteria on a station's columns, all of which must hold
(``AND``); one criterion may list several values (``OR`` within a column)::

    [{"column": "age", "between": [40, 60]},
     {"column": "sex", "in": ["F"]},
     {"column": "icd10", "prefix": ["I21", "I50"]},          # codes with descendants
     {"column": "admission_date", "between": ["2020-01-01", "2021-12-31"]}]

``prefix`` selects a code and its descendants in hierarchies whose codes extend
their parents' (ICD-10, ATC); ``in`` selects codes exactly; ``between`` is
inclusive and compares numbers as numbers and ISO dates as text. A record missing
a criterion's column does not match. Counting asks the data seam for the counts
of the distinct value combinations of the criteria's columns (``value_counts``,
a ``GROUP BY`` in SQL) and adds those that match, so no row leaves the source;
the same cells give the exact size of the difference of two cohorts, which the
station's differencing guard needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.data.design import Level
from perron.data.source import DataSource
from perron.protocol.errors import InputError

_OPERATORS = ("between", "in", "prefix")


@dataclass(frozen=True)
class Criterion:
    """One condition on one column."""

    column: str
    operator: str
    values: tuple[Level, ...]

    def __post_init__(self) -> None:
        if self.operator not in _OPERATORS:
            raise InputError(
                f"unknown cohort operator {self.operator!r} on column {self.column!r}; use "
                f"one of {list(_OPERATORS)}."
            )
        if self.operator == "between" and len(self.values) != 2:
            raise InputError(
                f"'between' on column {self.column!r} needs [low, high], got {list(self.values)}."
            )
        if not self.values:
            raise InputError(f"the criterion on column {self.column!r} lists no values.")
        if self.operator == "prefix" and not all(isinstance(v, str) for v in self.values):
            raise InputError(f"'prefix' on column {self.column!r} needs codes (text).")

    def matches(self, value: Level) -> bool:
        """Whether ``value`` meets this criterion."""
        if self.operator == "in":
            return value in self.values
        if self.operator == "prefix":
            text = str(value)
            return any(text.startswith(str(code)) for code in self.values)
        low, high = self.values
        try:
            if isinstance(low, str) or isinstance(high, str):
                return str(low) <= str(value) <= str(high)
            return bool(low <= float(value) <= high)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"column {self.column!r} holds {value!r}, which cannot be compared with "
                f"the bounds {list(self.values)}; use text bounds for dates and codes."
            ) from exc

    def to_wire(self) -> dict[str, Any]:
        return {"column": self.column, self.operator: list(self.values)}


@dataclass(frozen=True)
class Cohort:
    """Criteria that must all hold.

    Examples
    --------
    >>> import pandas as pd
    >>> from perron.data.frame import FrameSource
    >>> frame = pd.DataFrame({"age": [45, 61, 52, 50], "icd10": ["I21.9", "I21.4", "E11", None]})
    >>> data = FrameSource(frame)
    >>> cohort = Cohort.from_wire([{"column": "age", "between": [40, 60]},
    ...                            {"column": "icd10", "prefix": ["I21"]}])
    >>> cohort.count(data)
    1
    >>> wider = Cohort.from_wire([{"column": "age", "between": [40, 70]}])
    >>> cohort.difference(wider, data)  # 61 and 52 (E11), and 50 (no code): wider only
    3
    """

    criteria: tuple[Criterion, ...]

    @classmethod
    def from_wire(cls, wire: Sequence[Mapping[str, Any]]) -> Cohort:
        """Read a cohort; ``InputError`` names the criterion that is malformed."""
        if isinstance(wire, str | bytes) or not isinstance(wire, Sequence) or not wire:
            raise InputError(
                "a cohort is a non-empty list of criteria such as "
                '[{"column": "age", "between": [40, 60]}].'
            )
        criteria = []
        for position, item in enumerate(wire):
            if not isinstance(item, Mapping) or "column" not in item:
                raise InputError(f"criterion {position} of the cohort names no column.")
            operators = [key for key in item if key != "column"]
            if len(operators) != 1:
                raise InputError(
                    f"criterion {position} (column {item['column']!r}) must have exactly one "
                    f"of {list(_OPERATORS)}, got {operators}."
                )
            values = item[operators[0]]
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise InputError(
                    f"criterion {position} (column {item['column']!r}) needs a list of values."
                )
            criteria.append(Criterion(str(item["column"]), operators[0], tuple(values)))
        return cls(tuple(criteria))

    def to_wire(self) -> list[dict[str, Any]]:
        return [c.to_wire() for c in self.criteria]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(sorted({c.column for c in self.criteria}))

    @property
    def fingerprint(self) -> str:
        """A digest of the definition: the same cohort, the same fingerprint."""
        canonical = json.dumps(sorted(self.to_wire(), key=json.dumps), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def rows(self, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Which rows of ``frame`` are in the cohort (inside a station only)."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"columns {missing} of the cohort are not variables here; use the dataset's "
                "(permitted) columns."
            )
        inside = np.ones(len(frame), dtype=bool)
        for criterion in self.criteria:
            values = frame[criterion.column]
            present = values.notna().to_numpy()
            inside &= present
            inside[present] &= np.array(
                [criterion.matches(v) for v in values[present].tolist()], dtype=bool
            )
        return inside

    def _member(self, row: Mapping[str, Level]) -> bool:
        return all(c.matches(row[c.column]) for c in self.criteria)

    def count(self, data: DataSource) -> int:
        """The number of records in the cohort."""
        columns = self.columns
        return sum(
            n
            for key, n in data.value_counts(columns, []).items()
            if self._member(dict(zip(columns, key, strict=True)))
        )

    def difference(self, other: Cohort, data: DataSource) -> int:
        """The number of records in exactly one of the two cohorts."""
        columns = tuple(sorted(set(self.columns) | set(other.columns)))
        total = 0
        for key, n in data.value_counts(columns, []).items():
            row = dict(zip(columns, key, strict=True))
            if self._member(row) != other._member(row):
                total += n
        # Records missing a column of only one cohort are in the other one alone.
        for mine, theirs in ((self, other), (other, self)):
            extra = [c for c in theirs.columns if c not in mine.columns]
            if extra:
                total += mine.count(data) - _count_within(mine, data, extra)
        return total


def _count_within(cohort: Cohort, data: DataSource, present: Sequence[str]) -> int:
    """The cohort's records that also have every column in ``present``."""
    columns = tuple(sorted(set(cohort.columns) | set(present)))
    return sum(
        n
        for key, n in data.value_counts(columns, []).items()
        if cohort._member(dict(zip(columns, key, strict=True)))
    )
