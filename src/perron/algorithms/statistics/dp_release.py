"""Differentially private counts, sums, means and histograms, through OpenDP.

Each station releases one noisy answer for one numeric column: the count of its
values, their sum clamped to ``bounds``, a mean (a noisy clamped sum and a noisy
count), or counts in bins of fixed ``edges``. The noise is OpenDP's Laplace
mechanism, calibrated to the aggregate's sensitivity and the ``epsilon`` the
researcher asks for (:mod:`perron.privacy.dp`); the station reports the noise scale
and the privacy loss that OpenDP's privacy map gives, never the exact number of
rows. The coordinator adds the stations' noisy answers up (a mean is the ratio of
the summed sums and counts, clamped to the bounds); noise adds up too, and
``std_error`` says by how much.

Under a study policy the station's governor charges ``epsilon`` to the study's
privacy budget at that holder before the step runs, refuses a query that would
exceed it (rule ``budget``; a policy without a budget refuses every noisy query)
and adds what is left to the answer (``budget``), so the researcher sees it in
:attr:`DPResult.budget`. A holder caps epsilon per query with a bound on the
``epsilon`` parameter in the policy (rule ``parameter``). The small-cells rules do
not apply: noise, not suppression, protects these outputs. Without a policy (a
simulation, or a station that runs no policies) no budget is kept.

Security assumptions: those of :mod:`perron.privacy.dp` (one row per person;
bounds and edges chosen without looking at the data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

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
from perron.algorithms.core.checks import require_numeric
from perron.data.source import DataSource
from perron.privacy.dp import (
    DIFFERENTIAL_PRIVACY,
    NoisyQuery,
    check_bounds,
    check_edges,
    check_epsilon,
    noisy_count,
    noisy_histogram,
    noisy_mean,
    noisy_sum,
)
from perron.protocol.errors import InputError
from perron.protocol.messages import Decision

Statistic = Literal["count", "sum", "mean", "histogram"]
STATISTICS: tuple[Statistic, ...] = ("count", "sum", "mean", "histogram")


@dataclass(frozen=True)
class DPQuery:
    """A validated noisy query: what to release, of which column, at which epsilon."""

    statistic: Statistic
    column: str
    epsilon: float
    bounds: tuple[float, float] | None = None
    edges: tuple[float, ...] | None = None

    @classmethod
    def from_params(cls, params: Payload) -> DPQuery:
        """Read and check a query (the researcher's or a station's copy of it).

        Raises
        ------
        InputError
            An unknown statistic, a missing column, an epsilon that is not a positive
            finite number, missing bounds (sum, mean) or edges (histogram).
        """
        statistic = params.get("statistic")
        if statistic not in STATISTICS:
            raise InputError(
                f"statistic {statistic!r} is not one of {list(STATISTICS)} for a noisy release."
            )
        column = params.get("column")
        if not isinstance(column, str) or not column:
            raise InputError("a noisy release needs the name of one numeric column.")
        epsilon = check_epsilon(params.get("epsilon"))
        bounds = edges = None
        if statistic in ("sum", "mean"):
            if params.get("bounds") is None:
                raise InputError(
                    f"a noisy {statistic} needs clamping bounds=(lower, upper), chosen "
                    "without looking at the data; values outside are clamped to them."
                )
            bounds = check_bounds(params["bounds"])
        if statistic == "histogram":
            if params.get("edges") is None:
                raise InputError("a noisy histogram needs its bin edges (edges=[...]).")
            edges = check_edges(params["edges"])
        return cls(cast(Statistic, statistic), column, epsilon, bounds, edges)

    def to_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "statistic": self.statistic,
            "column": self.column,
            "epsilon": self.epsilon,
        }
        if self.bounds is not None:
            params["bounds"] = list(self.bounds)
        if self.edges is not None:
            params["edges"] = list(self.edges)
        return params

    def measurement(self) -> NoisyQuery:
        """The calibrated OpenDP measurement of this query."""
        if self.statistic == "count":
            return noisy_count(self.epsilon)
        if self.statistic == "histogram":
            assert self.edges is not None  # checked in from_params
            return noisy_histogram(self.edges, self.epsilon)
        assert self.bounds is not None
        if self.statistic == "sum":
            return noisy_sum(self.bounds, self.epsilon)
        return noisy_mean(self.bounds, self.epsilon)


@dataclass(frozen=True, kw_only=True)
class DPResult(FederatedResult):
    """A combined noisy release and what it cost at each station.

    ``estimate`` is the combined answer: one number for a count, sum or mean; for
    a histogram the counts below the first edge, in each bin and from the last edge
    up. ``std_error`` is the standard deviation of the noise in it (for a mean, by
    the delta method); it says nothing about sampling error. ``per_station`` holds
    each station's noisy numbers (a mean: its noisy sum and count), ``scales`` the
    Laplace scale of each, ``epsilon`` the privacy loss each station spent
    (OpenDP's privacy map) and ``budget`` the study's privacy budget at each station
    that keeps one: ``{"epsilon", "spent", "remaining"}``.
    """

    statistic: Statistic
    column: str
    estimate: npt.NDArray[np.float64]
    std_error: npt.NDArray[np.float64]
    per_station: Mapping[str, tuple[float, ...]]
    scales: Mapping[str, tuple[float, ...]]
    epsilon: Mapping[str, float]
    budget: Mapping[str, Mapping[str, float]]
    bounds: tuple[float, float] | None = None
    edges: npt.NDArray[np.float64] | None = None

    @property
    def value(self) -> float:
        """The noisy count, sum or mean (a histogram has ``counts``)."""
        if self.statistic == "histogram":
            raise InputError("a histogram has counts per bin; use .counts or .to_frame().")
        return float(self.estimate[0])

    @property
    def counts(self) -> npt.NDArray[np.float64]:
        """The noisy counts in the bins of a histogram."""
        if self.edges is None:
            raise InputError(f"a noisy {self.statistic} has no bins; use .value.")
        return self.estimate[1:-1]

    @property
    def below(self) -> float:
        """The noisy count of values below the first edge (histogram)."""
        return float(self.estimate[0]) if self.edges is not None else math.nan

    @property
    def above(self) -> float:
        """The noisy count of values from the last edge up (histogram)."""
        return float(self.estimate[-1]) if self.edges is not None else math.nan

    def to_frame(self) -> pd.DataFrame:
        """A histogram: one row per bin. Otherwise one row per station and ``combined``:
        the estimate, its noise's standard deviation, epsilon spent and budget left."""
        if self.edges is not None:
            return pd.DataFrame(
                {
                    "left": self.edges[:-1],
                    "right": self.edges[1:],
                    "count": self.counts,
                    "std_error": self.std_error[1:-1],
                }
            )
        rows: dict[str, dict[str, float]] = {}
        for station, values in self.per_station.items():
            variances = 2 * np.square(self.scales[station])
            estimate, error = _estimate(self.statistic, np.asarray(values), variances, self.bounds)
            budget = self.budget.get(station, {})
            rows[station] = {
                "estimate": float(estimate[0]),
                "std_error": float(error[0]),
                "epsilon": self.epsilon[station],
                "spent": budget.get("spent", math.nan),
                "remaining": budget.get("remaining", math.nan),
            }
        rows["combined"] = {"estimate": self.value, "std_error": float(self.std_error[0])}
        return pd.DataFrame.from_dict(rows, orient="index")


class DPRelease(FederatedAlgorithm[None, DPResult]):
    """A differentially private count, sum, mean or histogram of one numeric column.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> frames = {s: pd.DataFrame({"age": [40.0, 50.0, 60.0] * 100}) for s in "ab"}
    >>> result = perron.simulate(frames).dp_count("age", epsilon=10.0)
    >>> abs(result.value - 600) < 20, result.scales["a"]
    (True, (0.1,))
    """

    name = "dp_release"
    contract = DisclosureContract(
        releases={
            "statistic": "the statistic's name",
            "values": "1 noisy number (count, sum), 2 (mean) or len(edges) + 1 (histogram)",
            "scales": "the Laplace scale of each noisy number",
            "sensitivities": "the sensitivity of each noisy number",
            "epsilon": "scalar: the privacy loss (OpenDP's privacy map)",
            "budget": "the study's privacy budget at the station: 3 scalars (governor)",
        },
        rules=(DIFFERENTIAL_PRIVACY,),
    )

    def __init__(
        self,
        statistic: Statistic,
        column: str,
        epsilon: float,
        *,
        bounds: Sequence[float] | None = None,
        edges: Sequence[float] | None = None,
    ) -> None:
        params: dict[str, Any] = {"statistic": statistic, "column": column, "epsilon": epsilon}
        if bounds is not None:
            params["bounds"] = list(bounds)
        if edges is not None:
            params["edges"] = list(edges)
        self.query = DPQuery.from_params(params)

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        query = DPQuery.from_params(params)
        require_numeric(data, [query.column], context)
        noisy = query.measurement()
        released = noisy.release(_values(data, query.column))
        decision = Decision(
            context.station,
            DIFFERENTIAL_PRIVACY,
            noisy.epsilon,
            "passed",
            f"noisy {query.statistic} of {query.column}",
        )
        payload = {
            "statistic": query.statistic,
            "values": released,
            "scales": list(noisy.scales),
            "sensitivities": list(noisy.sensitivities),
            "epsilon": noisy.epsilon,
        }
        return StationOutput(payload, [decision])

    def start(self) -> Next[None]:
        return Next(self.query.to_params(), None)

    def coordinator_step(self, partials: Mapping[str, Payload], state: None) -> Done[DPResult]:
        query = self.query
        released = {s: tuple(float(v) for v in p["values"]) for s, p in partials.items()}
        scales = {s: tuple(float(v) for v in p["scales"]) for s, p in partials.items()}
        totals = np.sum([released[s] for s in partials], axis=0)
        # Laplace(b) has variance 2 b^2; independent noise adds up.
        variances = np.sum([2 * np.square(scales[s]) for s in partials], axis=0)
        estimate, error = _estimate(query.statistic, totals, variances, query.bounds)
        return Done(
            DPResult(
                statistic=query.statistic,
                column=query.column,
                estimate=np.asarray(estimate, dtype=np.float64),
                std_error=np.asarray(error, dtype=np.float64),
                per_station=released,
                scales=scales,
                epsilon={s: float(p["epsilon"]) for s, p in partials.items()},
                budget={
                    s: {k: float(v) for k, v in p["budget"].items()}
                    for s, p in partials.items()
                    if p.get("budget") is not None
                },
                bounds=query.bounds,
                edges=None if query.edges is None else np.asarray(query.edges),
            )
        )


def _values(data: DataSource, column: str) -> npt.NDArray[np.float64]:
    """The column's complete values, rebuilt at the station from its value counts."""
    counts = data.value_counts([column], [column])
    levels = np.asarray([float(key[0]) for key in counts], dtype=np.float64)
    return np.repeat(levels, np.asarray(list(counts.values()), dtype=np.int64))


def _estimate(
    statistic: Statistic,
    values: npt.NDArray[np.float64],
    variances: npt.NDArray[np.float64],
    bounds: tuple[float, float] | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The estimate from noisy values with noise of the given variances, and its noise sd.

    A mean is noisy sum / noisy count, clamped to the bounds, with the delta method's
    Var(S/N) ~ (Var S + m^2 Var N) / N^2 at m = S/N; a count at or below zero (noise
    larger than the data) gives no mean.
    """
    if statistic != "mean":
        return np.asarray(values, dtype=np.float64), np.sqrt(variances)
    assert bounds is not None
    total, count = float(values[0]), float(values[1])
    if count <= 0:
        return np.array([math.nan]), np.array([math.nan])
    mean = min(max(total / count, bounds[0]), bounds[1])
    error = math.sqrt(float(variances[0]) + mean**2 * float(variances[1])) / count
    return np.array([mean]), np.array([error])
