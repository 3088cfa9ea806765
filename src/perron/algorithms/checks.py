"""Checks a station step runs on its request before computing anything."""

from __future__ import annotations

from collections.abc import Sequence

from perron.algorithms.base import StationContext
from perron.data.source import ColumnKind, DataSource
from perron.privacy.rules import check_min_rows
from perron.protocol.errors import NoCompleteRows, NonNumericColumn, UnknownColumn
from perron.protocol.messages import Decision


def require_columns(data: DataSource, columns: Sequence[str], context: StationContext) -> None:
    """Every column must exist at the station."""
    schema = data.schema()
    for name in columns:
        if name not in schema:
            raise UnknownColumn(
                f"column {name!r} does not exist at station {context.station!r}; "
                f"available columns: {sorted(schema)}."
            )


def require_numeric(data: DataSource, columns: Sequence[str], context: StationContext) -> None:
    """Every column must exist and be numeric."""
    require_columns(data, columns, context)
    schema = data.schema()
    for name in columns:
        if schema[name] is not ColumnKind.NUMERIC:
            raise NonNumericColumn(
                f"column {name!r} at station {context.station!r} is not numeric; use it as "
                f"a category (C({name}) in a formula, or categorical=[{name!r}]) or "
                "convert it to numbers first."
            )


def require_rows(n: int, context: StationContext, subject: str) -> Decision:
    """At least one complete row, and at least the holder's minimum."""
    if n == 0:
        raise NoCompleteRows(
            f"station {context.station!r} has no complete rows for {subject}: every row "
            "misses at least one of the values needed; check the columns for missing data."
        )
    return check_min_rows(context.station, n, context.policy, subject)
