"""Checks a station step runs on its request before computing anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.algorithms.core.base import StationContext
from perron.data.design import Level
from perron.data.source import ColumnKind, DataSource
from perron.privacy.rules import check_levels, check_min_rows
from perron.protocol.errors import NoCompleteRows, NonNumericColumn, SingularDesign, UnknownColumn
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


@dataclass(frozen=True)
class ModelColumns:
    """The columns a regression-type task names: outcome, offset, predictors."""

    response: str
    offset: str | None
    numeric: list[str]
    categorical: list[str]

    @property
    def all(self) -> list[str]:
        """Every column, for complete-case selection."""
        offset = [self.offset] if self.offset else []
        return [self.response, *offset, *self.numeric, *self.categorical]


def require_model_columns(
    data: DataSource, params: Mapping[str, Any], context: StationContext
) -> ModelColumns:
    """The model's columns from a prepare round's ``params``, after checking that they
    exist here and that the outcome, offset and numeric predictors are numeric."""
    offset = params.get("offset")
    columns = ModelColumns(
        str(params["response"]),
        str(offset) if offset else None,
        [str(c) for c in params["numeric"]],
        [str(c) for c in params["categorical"]],
    )
    require_columns(data, columns.all, context)
    require_numeric(data, [c for c in columns.all if c not in columns.categorical], context)
    return columns


def require_rows(n: int, context: StationContext, subject: str) -> Decision:
    """At least one complete row, and at least the holder's minimum."""
    if n == 0:
        raise NoCompleteRows(
            f"station {context.station!r} has no complete rows for {subject}: every row "
            "misses at least one of the values needed; check the columns for missing data."
        )
    return check_min_rows(context.station, n, context.policy, subject)


def predictor_levels(
    data: DataSource,
    numeric: Sequence[str],
    categorical: Sequence[str],
    complete_on: Sequence[str],
    n: int,
    context: StationContext,
) -> tuple[list[Decision], dict[str, list[Level]]]:
    """Apply the level rules to a model's predictors; return the categorical levels.

    A numeric predictor with at most two distinct values at this station is binary
    here, so each of its values must reach the cell minimum, as every level of a
    categorical predictor must (DataSHIELD's ``glmDS2`` check).
    """
    decisions: list[Decision] = []
    for column in numeric:
        if data.distinct_count(column, complete_on) <= 2:
            counts = data.value_counts([column], complete_on)
            decisions += check_levels(context.station, dict(counts), n, context.policy, column)
    released: dict[str, list[Level]] = {}
    for column in categorical:
        counts = data.value_counts([column], complete_on)
        decisions += check_levels(context.station, dict(counts), n, context.policy, column)
        released[column] = [k[0] for k in counts]
    return decisions, released


def check_rank(information: npt.NDArray[np.float64], names: Sequence[str]) -> None:
    """Name the first term that is a linear combination of the terms before it.

    ``information`` is a positive semi-definite p x p matrix (X'WX of a GLM, the
    information of a Cox model); it is scaled to unit diagonal first.
    """
    diagonal = np.diag(information)
    for j, name in enumerate(names):
        if diagonal[j] <= 0:
            raise SingularDesign(
                f"term {name!r} carries no information in the complete rows (it is zero, or "
                "constant where the model cannot use a constant); drop it from the model."
            )
    scale = 1.0 / np.sqrt(diagonal)
    correlation = information * np.outer(scale, scale)
    for j in range(1, len(names) + 1):
        smallest = float(np.linalg.eigvalsh(correlation[:j, :j])[0])
        if smallest < 1e-10:
            raise SingularDesign(
                f"term {names[j - 1]!r} is (nearly) a linear combination of the terms before "
                "it (collinear predictors); drop it or one of those terms."
            )
