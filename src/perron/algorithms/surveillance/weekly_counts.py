"""Weekly counts of a case definition at every holder, pooled into surveillance series.

Each station counts the records that meet a case definition (ICD-10, ATC or lab
codes: cohort criteria, :mod:`perron.data.cohort`) per ISO week of onset, per
stratum (age band, region such as PC2 or NUTS-3) and, with a report date, per
reporting delay (:mod:`perron.algorithms.surveillance.case_counts`), and releases
the table under its own disclosure rules:

- exact counts with small cells suppressed (``0 < count < min_cell`` becomes
  unknown) and rounded where the holder asks (rules ``min_cell``, ``round_counts``),
  from a dataset of at least ``min_rows`` dated records (``min_rows``); or
- with ``epsilon``, every cell plus OpenDP's discrete Laplace noise (one record
  changes one cell by one; rule ``differential_privacy``), spent from the study's
  privacy budget at that holder by the station's governor, with no suppression.
  The strata must then be fixed in advance (bands, ``levels``), so the layout of
  the table says nothing about the data.

The coordinator adds the tables up. Where no station suppressed a cell, the pooled
count is exactly the count over the pooled records; a pooled cell that includes a
suppressed station cell is unknown (``NaN``), and
:attr:`~perron.algorithms.surveillance.weekly_result.WeeklyCountsResult.suppressed`
lists which station cells those were. Aberration detection and nowcasting run on
the pooled series at the researcher's side (:mod:`perron.surveillance`).

Security assumptions: one row per case; a holder who releases the same counts at two
stratifications lets their difference show a suppressed cell, so a surveillance
policy fixes one stratification (docs/surveillance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.core.checks import require_columns, require_rows
from perron.algorithms.surveillance.case_counts import CountSpec, count_cells, sort_strata
from perron.algorithms.surveillance.weekly_result import WeeklyCountsResult
from perron.data.source import DataSource
from perron.privacy.dp import DIFFERENTIAL_PRIVACY, noisy_histogram
from perron.privacy.rules import MIN_CELL, MIN_ROWS, ROUNDING, release_counts
from perron.protocol.messages import Decision


class WeeklyCounts(FederatedAlgorithm[None, WeeklyCountsResult]):
    """Cases per ISO week (x stratum x reporting delay) at each station, pooled.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> frame = pd.DataFrame({"onset": ["2024-01-01", "2024-01-02", "2024-01-09"] * 10,
    ...                       "icd10": ["J10.1", "J11", "J10.0"] * 10})
    >>> result = perron.simulate({"a": frame, "b": frame}).weekly_counts(
    ...     case=[{"column": "icd10", "prefix": ["J10"]}], date="onset",
    ...     first="2024-W01", last="2024-W02")
    >>> result.series().counts.tolist()
    [20.0, 20.0]
    """

    name = "weekly_counts"
    contract = DisclosureContract(
        releases={
            "n": "scalar: dated records at the station (exact counts only)",
            "strata": "the strata counted (levels of the by columns; at most the table's size)",
            "counts": "weeks x strata x delays released (or noisy) counts",
            "scale": "scalar: the Laplace scale of each noisy count (noisy counts only)",
            "epsilon": "scalar: the privacy loss spent (noisy counts only)",
            "budget": "the study's privacy budget at the station: 3 scalars (governor)",
        },
        rules=(MIN_ROWS, MIN_CELL, ROUNDING, DIFFERENTIAL_PRIVACY),
    )

    def __init__(self, spec: CountSpec) -> None:
        self.spec = spec

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        spec = CountSpec.from_params(params)
        require_columns(data, spec.columns, context)
        cells = count_cells(data, spec)
        subject = f"weekly counts {spec.first} to {spec.last}"
        strata = [list(s) for s in cells.strata]
        if spec.epsilon is None:
            n = data.complete_count([spec.date])
            decisions: list[Decision] = [require_rows(n, context, subject)]
            released, more = release_counts(context.station, cells.counts, context.policy, subject)
            decisions.extend(more)
            cells_out = released.astype(object)
            cells_out[np.isnan(released)] = None  # suppressed: unknown on the wire
            counts = cells_out.tolist()
            return StationOutput({"n": n, "strata": strata, "counts": counts}, decisions)
        flat = cells.counts.ravel()
        size = max(flat.size, 3)  # OpenDP's bins need two edges: pad, then drop the padding
        noisy = noisy_histogram([k - 0.5 for k in range(1, size)], spec.epsilon)
        values = np.repeat(np.arange(flat.size, dtype=np.float64), flat)
        noisy_counts = np.asarray(noisy.release(values)[: flat.size], dtype=np.float64)
        decision = Decision(context.station, DIFFERENTIAL_PRIVACY, noisy.epsilon, "passed", subject)
        payload = {
            "strata": strata,
            "counts": noisy_counts.reshape(cells.counts.shape).tolist(),
            "scale": noisy.scales[0],
            "epsilon": noisy.epsilon,
        }
        return StationOutput(payload, [decision])

    def start(self) -> Next[None]:
        return Next(self.spec.to_params(), None)

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: None
    ) -> Done[WeeklyCountsResult]:
        spec = self.spec
        strata = sort_strata(tuple(s) for p in partials.values() for s in p["strata"])
        index = {s: k for k, s in enumerate(strata)}
        per_station: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
        for station, p in partials.items():
            table = np.zeros((spec.weeks, len(strata), spec.delays))
            raw = np.asarray(p["counts"], dtype=np.float64)  # None -> nan
            for k, stratum in enumerate(p["strata"]):
                table[:, index[tuple(stratum)], :] = raw[:, k, :]
            per_station[station] = table
        pooled = sum(per_station.values(), np.zeros((spec.weeks, len(strata), spec.delays)))
        return Done(
            WeeklyCountsResult(
                spec=spec,
                strata=tuple(strata),
                counts=np.asarray(pooled, dtype=np.float64),
                per_station=per_station,
                scales={s: float(p["scale"]) for s, p in partials.items() if "scale" in p},
                budget={
                    s: {k: float(v) for k, v in p["budget"].items()}
                    for s, p in partials.items()
                    if p.get("budget") is not None
                },
                nobs_per_station={s: int(p.get("n", 0)) for s, p in partials.items()},
            )
        )
