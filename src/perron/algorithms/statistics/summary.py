"""Federated descriptive statistics: count, missing, mean, variance, standard deviation.

Each station releases per column its complete count, mean and centred sum of
squares; the coordinator pools them exactly with Chan et al.'s parallel formula
``M2 = sum_i [M2_i + n_i (mean_i - mean)^2]``. Minimum and maximum leave a station
only where its holder sets ``release_extremes``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
from perron.privacy.rules import EXTREMES, MIN_ROWS, check_extremes

COMBINED = "combined"


@dataclass(frozen=True, kw_only=True)
class SummaryResult(FederatedResult):
    """Per column and per station (plus ``combined``): count, missing, mean, var, std."""

    table: pd.DataFrame

    def __str__(self) -> str:
        return self.table.to_string()


class Summary(FederatedAlgorithm[None, SummaryResult]):
    """Descriptive statistics of numeric columns.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> a = pd.DataFrame({"x": range(20)}); b = pd.DataFrame({"x": range(30)})
    >>> s = perron.simulate({"a": a, "b": b}).summary(["x"])
    >>> float(s.table.loc[("x", "combined"), "count"])
    50.0
    """

    name = "summary"
    contract = DisclosureContract(
        releases={"columns": "per requested column: n, missing, mean, m2 (min, max if allowed)"},
        rules=(MIN_ROWS, EXTREMES),
    )

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        columns: list[str] = list(params["columns"])
        require_numeric(data, columns, context)
        missing = data.missing_counts(columns)
        released: dict[str, dict[str, Any]] = {}
        decisions = []
        for column in columns:
            moments = data.moments(column)
            decisions.append(require_rows(moments.n, context, f"column {column}"))
            if params.get("form") == "sums":  # secure aggregation: sums add up, moments don't
                released[column] = {
                    "n": moments.n,
                    "missing": missing[column],
                    "sum": moments.n * moments.mean,
                    "sumsq": moments.m2 + moments.n * moments.mean**2,
                }
                continue
            decisions.append(check_extremes(context.station, context.policy, column))
            entry: dict[str, Any] = {
                "n": moments.n,
                "missing": missing[column],
                "mean": moments.mean,
                "m2": moments.m2,
            }
            if context.policy.release_extremes:
                entry["min"] = moments.minimum
                entry["max"] = moments.maximum
            released[column] = entry
        return StationOutput({"columns": released}, decisions)

    def start(self) -> Next[None]:
        return Next({"columns": self.columns}, None)

    def start_secure(self) -> Next[None]:
        """Under secure aggregation stations send sums and sums of squares (no extremes)."""
        return Next({"columns": self.columns, "form": "sums"}, None)

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str] | None:
        return frozenset({"columns"}) if params.get("form") == "sums" else None

    def coordinator_step(self, partials: Mapping[str, Payload], state: None) -> Done[SummaryResult]:
        rows: list[dict[str, Any]] = []
        for column in self.columns:
            entries = {station: _moments(p["columns"][column]) for station, p in partials.items()}
            for station, e in entries.items():
                rows.append(_row(column, station, e["n"], e["missing"], e["mean"], e["m2"], e))
            n = sum(int(e["n"]) for e in entries.values())
            mean = sum(e["n"] * e["mean"] for e in entries.values()) / n
            m2 = sum(e["m2"] + e["n"] * (e["mean"] - mean) ** 2 for e in entries.values())
            extremes: dict[str, Any] = {}
            if all("min" in e for e in entries.values()):
                extremes = {
                    "min": min(e["min"] for e in entries.values()),
                    "max": max(e["max"] for e in entries.values()),
                }
            missing = sum(int(e["missing"]) for e in entries.values())
            rows.append(_row(column, COMBINED, n, missing, mean, m2, extremes))
        table = pd.DataFrame(rows).set_index(["column", "station"])
        nobs = {
            s: int(max(p["columns"][c]["n"] for c in self.columns)) for s, p in partials.items()
        }
        return Done(SummaryResult(table=table, nobs_per_station=nobs))


def _moments(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """A released entry as ``n, missing, mean, m2`` (sums of a secure run converted)."""
    if "sum" not in entry:
        return entry
    n = round(float(entry["n"]))
    mean = entry["sum"] / n if n else math.nan
    m2 = entry["sumsq"] - n * mean**2 if n else math.nan
    return {"n": n, "missing": round(float(entry["missing"])), "mean": mean, "m2": m2}


def _row(
    column: str,
    station: str,
    n: int,
    missing: int,
    mean: float,
    m2: float,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    var = m2 / (n - 1) if n > 1 else math.nan
    row: dict[str, Any] = {
        "column": column,
        "station": station,
        "count": n,
        "missing": missing,
        "mean": mean,
        "var": var,
        "std": math.sqrt(var) if n > 1 else math.nan,
    }
    if "min" in extra:
        row["min"] = extra["min"]
        row["max"] = extra["max"]
    return row
