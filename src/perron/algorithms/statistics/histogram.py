"""Federated histogram with the small-cells rule.

The coordinator fixes the bin edges; each station releases its bin counts plus the
counts below the first and above the last edge, with small cells suppressed
(DataSHIELD's ``smallCellsRule``). A combined bin that includes a suppressed cell
is unknown (``NaN``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
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
from perron.privacy.rules import MIN_CELL, MIN_ROWS, ROUNDING, release_counts
from perron.protocol.errors import InputError


@dataclass(frozen=True, kw_only=True)
class HistogramResult(FederatedResult):
    """Bin edges and counts; ``counts`` has one entry per bin (``NaN``: suppressed).

    ``below`` and ``above`` count the values outside the edges.
    """

    column: str
    edges: npt.NDArray[np.float64]
    counts: npt.NDArray[np.float64]
    below: float
    above: float
    per_station: Mapping[str, npt.NDArray[np.float64]]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"left": self.edges[:-1], "right": self.edges[1:], "count": self.counts}
        )


class Histogram(FederatedAlgorithm[None, HistogramResult]):
    """Counts of a numeric column in fixed bins."""

    name = "histogram"
    contract = DisclosureContract(
        releases={"n": "scalar", "counts": "len(edges) + 1 released counts"},
        rules=(MIN_ROWS, MIN_CELL, ROUNDING),
    )

    def __init__(self, column: str, edges: Sequence[float]) -> None:
        array = np.asarray(edges, dtype=np.float64)
        if array.ndim != 1 or array.size < 2 or not np.all(np.diff(array) > 0):
            raise InputError("histogram edges must be at least two increasing numbers.")
        self.column = column
        self.edges = array

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        column = str(params["column"])
        require_numeric(data, [column], context)
        n = data.complete_count([column])
        decisions = [require_rows(n, context, f"column {column}")]
        counts = data.bin_counts(column, np.asarray(params["edges"], dtype=np.float64))
        released, more = release_counts(
            context.station, counts, context.policy, f"bins of {column}"
        )
        decisions.extend(more)
        return StationOutput(
            {"n": n, "counts": [None if np.isnan(v) else v for v in released.tolist()]}, decisions
        )

    def start(self) -> Next[None]:
        return Next({"column": self.column, "edges": self.edges.tolist()}, None)

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str]:
        """Counts per bin and rows: plain sums over the stations."""
        return frozenset({"n", "counts"})

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: None
    ) -> Done[HistogramResult]:
        per_station = {s: np.asarray(p["counts"], dtype=np.float64) for s, p in partials.items()}
        total = np.sum(list(per_station.values()), axis=0)
        return Done(
            HistogramResult(
                column=self.column,
                edges=self.edges,
                counts=total[1:-1],
                below=float(total[0]),
                above=float(total[-1]),
                per_station=per_station,
                nobs_per_station={s: int(p["n"]) for s, p in partials.items()},
            )
        )
