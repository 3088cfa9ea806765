"""Feasibility counts before a study (GA4GH Beacon v2 semantics), guarded against differencing.

Each station counts the records that meet a cohort definition
(:class:`perron.data.cohort.Cohort`) and releases the count with the precision its
holder chose (Beacon v2 ``countPrecision``):

- ``exact``: the count;
- ``rounded``: below ``count_floor`` as "< floor", otherwise rounded *up* to a
  multiple of ``count_round`` (so a small difference between two cohorts rarely
  shows, and never as a count below the floor);
- ``imprecise``: only "< floor" or ">= floor".

Rounding alone does not stop a requester who asks two cohorts that differ by one
person and pads them until the rounding boundary falls between them (the
differencing attack of i2b2/SHRINE's threat model). So each station keeps a
ledger of the cohorts each requester counted (:mod:`perron.privacy.ledger`) and
refuses

- a cohort that differs from an earlier one of the same requester by fewer than
  ``min_difference`` records (zero included, so the refusal does not tell whether
  the difference is zero; rule ``min_difference``);
- the same cohort counted more than ``max_repeats`` times (rule ``max_repeats``);
- every feasibility query of a requester refused ``max_repeats`` times already,
  until the holder clears the lockout (rule ``lockout``).

A refusal names the rule, never a count. Counts of rows: a station's dataset is
expected to hold one row per person (the OMOP person table gives that).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from perron.algorithms.core.checks import require_columns
from perron.algorithms.feasibility.guard import LOCKOUT, MAX_REPEATS, MIN_DIFFERENCE, guard
from perron.data.cohort import Cohort
from perron.data.source import DataSource
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.messages import Decision

if TYPE_CHECKING:
    from perron.algorithms.feasibility.overlap import OverlapReport

COUNT_PRECISION = "count_precision"


@dataclass(frozen=True)
class Count:
    """One station's released count: ``value`` (``None`` when not shown) and its text."""

    precision: str
    value: int | None
    text: str


def release(count: int, policy: DisclosurePolicy) -> Count:
    """A count as the holder's ``count_precision`` allows.

    Examples
    --------
    >>> rules = DisclosurePolicy(count_floor=10, count_round=10)
    >>> release(7, rules), release(31, rules).text
    (Count(precision='rounded', value=None, text='< 10'), '40')
    >>> release(31, DisclosurePolicy(count_precision="imprecise")).text
    '>= 10'
    """
    precision = policy.count_precision
    if precision == "exact":
        return Count("exact", count, str(count))
    floor = policy.count_floor
    if count < floor:
        return Count(precision, None, f"< {floor}")
    if precision == "imprecise":
        return Count("imprecise", None, f">= {floor}")
    rounded = int(math.ceil(count / policy.count_round) * policy.count_round)
    return Count("rounded", rounded, str(rounded))


@dataclass(frozen=True, kw_only=True)
class FeasibilityResult(FederatedResult):
    """Per station: the count as released; and the total, as a range when a station
    reported only "< floor" or ">= floor"."""

    counts: Mapping[str, Count]
    low: int
    high: int | None
    #: With ``linked=True``: how many of the cohort's records the stations can link
    #: (sizes, pairwise and all-way overlap of the cohort, through PSI).
    linked: OverlapReport | None = None

    @property
    def table(self) -> pd.DataFrame:
        rows = [
            {"station": s, "count": c.text, "precision": c.precision}
            for s, c in self.counts.items()
        ]
        rows.append({"station": "total", "count": self.total_text, "precision": ""})
        return pd.DataFrame(rows).set_index("station")

    @property
    def total_text(self) -> str:
        if self.high == self.low:
            return str(self.low)
        return f"{self.low} - {self.high}" if self.high is not None else f">= {self.low}"

    def __str__(self) -> str:
        text = self.table.to_string()
        if self.linked is not None:
            text += "\n\nthe cohort's records linked across holders\n" + str(self.linked)
        return text


class Feasibility(FederatedAlgorithm[None, FeasibilityResult]):
    """How many records at each station meet a cohort definition.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> frames = {s: pd.DataFrame({"age": range(20, 20 + n)}) for s, n in (("a", 60), ("b", 45))}
    >>> result = perron.simulate(frames).feasibility([{"column": "age", "between": [30, 59]}])
    >>> print(result)
            count precision
    station
    a          30   rounded
    b          30   rounded
    total      60
    """

    name = "feasibility"
    contract = DisclosureContract(
        releases={"count": "one count with its precision and text (Beacon v2)"},
        rules=(COUNT_PRECISION, MIN_DIFFERENCE, MAX_REPEATS, LOCKOUT),
    )

    def __init__(self, cohort: Cohort | Sequence[Mapping[str, Any]]) -> None:
        self.cohort = cohort if isinstance(cohort, Cohort) else Cohort.from_wire(cohort)

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        cohort = Cohort.from_wire(params["cohort"])
        require_columns(data, cohort.columns, context)
        decisions = guard(cohort, data, context)
        count = release(cohort.count(data), context.policy)
        decisions.append(
            Decision(
                context.station,
                COUNT_PRECISION,
                context.policy.count_floor,
                "passed" if count.precision == "exact" else "rounded",
                "feasibility count",
            )
        )
        wire = {"precision": count.precision, "value": count.value, "text": count.text}
        return StationOutput({"count": wire}, decisions)

    def start(self) -> Next[None]:
        return Next({"cohort": self.cohort.to_wire()}, None)

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: None
    ) -> Done[FeasibilityResult]:
        counts: dict[str, Count] = {}
        low, high = 0, 0
        unbounded = False
        for station, payload in partials.items():
            c = payload["count"]
            count = Count(
                str(c["precision"]), None if c["value"] is None else int(c["value"]), str(c["text"])
            )
            counts[station] = count
            if count.value is not None:
                low += count.value
                high += count.value
            elif count.text.startswith("<"):
                high += int(count.text[1:].strip()) - 1
            else:  # ">= floor"
                low += int(count.text[2:].strip())
                unbounded = True
        return Done(FeasibilityResult(counts=counts, low=low, high=None if unbounded else high))
