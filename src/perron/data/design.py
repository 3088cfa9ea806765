"""A model's design, described so that any data source can evaluate it.

A :class:`Design` lists the columns of the design matrix as :class:`Term` s: the
intercept, a numeric column, or the indicator ``column == level`` of one level of a
categorical column. A pandas source evaluates it with numpy; an SQL source can turn
it into ``SUM(w * x_i * x_j)`` expressions (``CASE WHEN col = level THEN 1 ELSE 0``).
The description is plain data, so it travels in a task's parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: A categorical level as it travels on the wire.
Level = str | int | float | bool


def sort_levels(levels: Iterable[Level]) -> list[Level]:
    """Distinct levels in a fixed order: by type, then by value (the first is the
    reference level of treatment coding, as in patsy)."""
    return sorted(set(levels), key=lambda v: (type(v).__name__, v))


def pool_levels(
    released: Iterable[Mapping[str, Sequence[Level]]], columns: Sequence[str]
) -> dict[str, list[Level]]:
    """The union of the levels each station released, per column, sorted."""
    pooled: dict[str, set[Level]] = {c: set() for c in columns}
    for levels in released:
        for column, values in levels.items():
            if column in pooled:
                pooled[column].update(values)
    return {c: sort_levels(v) for c, v in pooled.items()}


@dataclass(frozen=True)
class Term:
    """One column of the design matrix."""

    name: str
    column: str | None = None
    level: Level | None = None

    @property
    def is_intercept(self) -> bool:
        return self.column is None

    @property
    def is_indicator(self) -> bool:
        return self.column is not None and self.level is not None


@dataclass(frozen=True)
class Design:
    """Response, optional offset and the terms of a regression model."""

    response: str
    terms: tuple[Term, ...]
    offset: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every source column the model reads (for complete-case selection)."""
        names = [self.response]
        if self.offset is not None:
            names.append(self.offset)
        for term in self.terms:
            if term.column is not None and term.column not in names:
                names.append(term.column)
        return tuple(names)

    @property
    def names(self) -> list[str]:
        return [term.name for term in self.terms]

    def to_wire(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "offset": self.offset,
            "terms": [[t.name, t.column, t.level] for t in self.terms],
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Design:
        terms: Sequence[Sequence[Any]] = wire["terms"]
        return cls(
            response=str(wire["response"]),
            offset=None if wire.get("offset") is None else str(wire["offset"]),
            terms=tuple(Term(str(n), c, lv) for n, c, lv in terms),
        )
