"""Federated contingency tables with small-cell suppression.

Each station releases its table of counts for the levels it has; cells with
``0 < count < min_cell`` are suppressed (and counts rounded where the holder asks).
The combined table sums the stations' cells; a combined cell that includes a
suppressed station cell is unknown (``NA``) rather than silently too small.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from perron.algorithms.core.checks import require_columns, require_rows
from perron.data.design import sort_levels
from perron.data.source import DataSource
from perron.privacy.rules import (
    LEVELS_DENSITY,
    MIN_CELL,
    MIN_ROWS,
    ROUNDING,
    check_level_density,
    release_counts,
)
from perron.protocol.messages import Decision


@dataclass(frozen=True, kw_only=True)
class CrosstabResult(FederatedResult):
    """The combined table and each station's released table (``NaN``: suppressed)."""

    table: pd.DataFrame
    per_station: Mapping[str, pd.DataFrame]

    def __str__(self) -> str:
        return self.table.to_string()


class Crosstab(FederatedAlgorithm[None, CrosstabResult]):
    """Two-way table of counts of two categorical columns."""

    name = "crosstab"
    contract = DisclosureContract(
        releases={
            "n": "scalar: complete rows",
            "rows": "levels of the row column (at most levels_density x rows)",
            "cols": "levels of the column column",
            "counts": "len(rows) x len(cols) released counts",
            "levels": "secure aggregation: the row and column levels (the rows and cols above)",
        },
        rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, ROUNDING),
    )

    def __init__(self, row: str, col: str) -> None:
        self.row = row
        self.col = col

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        row, col = str(params["row"]), str(params["col"])
        require_columns(data, [row, col], context)
        n = data.complete_count([row, col])
        decisions: list[Decision] = [require_rows(n, context, f"crosstab {row} x {col}")]
        counts = data.value_counts([row, col], [])
        rows = sort_levels({k[0] for k in counts})
        cols = sort_levels({k[1] for k in counts})
        for column, levels in ((row, rows), (col, cols)):
            decisions.append(
                check_level_density(context.station, len(levels), n, context.policy, column)
            )
        if params.get("step") == "levels":  # secure aggregation: agree on the grid first
            return StationOutput({"n": n, "levels": {"rows": rows, "cols": cols}}, decisions)
        if "rows" in params:  # the pooled grid of a secure run: one layout at every station
            rows, cols = list(params["rows"]), list(params["cols"])
        table = np.zeros((len(rows), len(cols)), dtype=np.int64)
        for (r, c), count in counts.items():
            table[rows.index(r), cols.index(c)] = count
        released, more = release_counts(context.station, table, context.policy, f"{row} x {col}")
        decisions.extend(more)
        payload: dict[str, Any] = {
            "n": n,
            "rows": rows,
            "cols": cols,
            "counts": [[None if np.isnan(v) else v for v in line] for line in released.tolist()],
        }
        return StationOutput(payload, decisions)

    def start(self) -> Next[None]:
        return Next({"row": self.row, "col": self.col}, None)

    def start_secure(self) -> Next[None]:
        """Under secure aggregation a first round pools the levels (released in the
        clear, as without it), so every station counts on the same grid."""
        return Next({"row": self.row, "col": self.col, "step": "levels"}, None)

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str]:
        return frozenset({"n"}) if params.get("step") == "levels" else frozenset({"n", "counts"})

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: None
    ) -> Next[None] | Done[CrosstabResult]:
        if all("levels" in p for p in partials.values()):
            rows = sort_levels(r for p in partials.values() for r in p["levels"]["rows"])
            cols = sort_levels(c for p in partials.values() for c in p["levels"]["cols"])
            return Next({"row": self.row, "col": self.col, "rows": rows, "cols": cols}, None)
        rows = sort_levels({r for p in partials.values() for r in p["rows"]})
        cols = sort_levels({c for p in partials.values() for c in p["cols"]})
        index = pd.Index(rows, name=self.row)
        columns = pd.Index(cols, name=self.col)
        per_station: dict[str, pd.DataFrame] = {}
        for station, p in partials.items():
            frame = pd.DataFrame(
                np.asarray(p["counts"], dtype=np.float64).reshape(len(p["rows"]), len(p["cols"])),
                index=pd.Index(p["rows"], name=self.row),
                columns=pd.Index(p["cols"], name=self.col),
            )
            per_station[station] = frame.reindex(index=index, columns=columns, fill_value=0.0)
        combined = sum(per_station.values(), pd.DataFrame(0.0, index=index, columns=columns))
        nobs = {s: int(p["n"]) for s, p in partials.items()}
        return Done(CrosstabResult(table=combined, per_station=per_station, nobs_per_station=nobs))
