"""Federated Kaplan-Meier survival curves, per group, with Greenwood intervals.

One round. Each station releases per group its coarsened event table
(:mod:`perron.algorithms.survival.event_tables`): the times at which rows enter or leave,
and the events, censorings and entries at each, plus its number of complete rows.
The coordinator sums the tables time by time; the pooled numbers at risk n(t) and
events d(t) are then exactly the pooled data's, and so is everything below:

    S(t)       = prod_{t_i <= t} (1 - d_i / n_i)                      (Kaplan-Meier)
    G(t)       = sum_{t_i <= t} d_i / (n_i (n_i - d_i))                (Greenwood)
    se(S(t))   = S(t) sqrt(G(t))

and the pointwise intervals (z the 1 - alpha/2 normal quantile):

- ``"log-log"`` (lifelines' exponential Greenwood, R's ``conf.type="log-log"``):
  ``exp(-exp(log(-log S) -+ z sqrt(G) / log S))``;
- ``"log"`` (R's default): ``S exp(-+ z sqrt(G))``, the upper limit cut at 1;
- ``"plain"``: ``S -+ z S sqrt(G)``, cut to [0, 1].

As in lifelines, a time at which everyone at risk has the event adds nothing to
G (S is 0 from there on and its interval is [0, 0]); where S = 1 the interval is
[1, 1]. The median is the first time with S(t) <= 1/2, its interval the first
times at which the lower and upper limits reach 1/2 (lifelines'
``median_survival_times(confidence_interval_)``); a curve that stays above 1/2
has an infinite median.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.survival.event_tables import (
    RELEASES,
    PooledTable,
    level_order,
    pool_tables,
    release_event_tables,
)
from perron.algorithms.survival.km_result import KaplanMeierResult
from perron.data.source import DataSource
from perron.data.survival import SurvivalSpec
from perron.privacy.rules import LEVELS_DENSITY, MIN_CELL, MIN_ROWS
from perron.privacy.survival import EVENT_TIMES
from perron.protocol.errors import InputError

FloatArray = npt.NDArray[np.float64]
ConfType = Literal["log-log", "log", "plain"]
CONF_TYPES: tuple[ConfType, ...] = ("log-log", "log", "plain")


class KaplanMeier(FederatedAlgorithm[None, KaplanMeierResult]):
    """Kaplan-Meier curves of the pooled data, optionally per group.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> df = pd.DataFrame({"t": [float(t) for t in range(1, 41)], "e": [1, 0] * 20})
    >>> session = perron.simulate({"a": df[:20], "b": df[20:]},
    ...                           disclosure=perron.DisclosurePolicy(min_cell=1))
    >>> km = session.kaplan_meier("t", "e")
    >>> round(float(km.table()["survival"].iloc[-2]), 4)
    0.1254
    """

    name = "kaplan_meier"
    contract = DisclosureContract(
        releases=RELEASES, rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, EVENT_TIMES)
    )

    def __init__(
        self,
        duration: str,
        event: str,
        by: Sequence[str] = (),
        *,
        entry: str | None = None,
        times: Sequence[float] = (),
        conf_type: str = "log-log",
        alpha: float = 0.05,
    ) -> None:
        if conf_type not in CONF_TYPES:
            raise InputError(f"conf_type must be one of {list(CONF_TYPES)}, not {conf_type!r}.")
        if not 0 < alpha < 1:
            raise InputError(f"alpha must lie in (0, 1), not {alpha!r}.")
        self.spec = SurvivalSpec(stop=duration, event=event, start=entry)
        self.by = tuple(by)
        self.times = tuple(float(t) for t in times)
        self.conf_type: ConfType = conf_type
        self.alpha = alpha

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        spec = SurvivalSpec.from_wire(params["spec"])
        payload, decisions = release_event_tables(
            data, spec, list(params["by"]), context, "Kaplan-Meier curve"
        )
        return StationOutput(payload, decisions)

    def start(self) -> Next[None]:
        return Next({"spec": self.spec.to_wire(), "by": list(self.by)}, None)

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: None
    ) -> Done[KaplanMeierResult]:
        keys = sorted({k for p in partials.values() for k in p["tables"]}, key=level_order)
        tables = {
            key: km_table(
                pool_tables(
                    (p["tables"][key] for p in partials.values() if key in p["tables"]),
                    origin=True,
                ),
                self.conf_type,
                self.alpha,
            )
            for key in keys
        }
        median = pd.DataFrame(
            [median_with_ci(table) for table in tables.values()],
            index=pd.Index(keys, name="group"),
            columns=["median", "lower", "upper"],
        )
        return Done(
            KaplanMeierResult(
                duration=self.spec.stop,
                event=self.spec.event,
                entry=self.spec.start,
                by=self.by,
                conf_type=self.conf_type,
                alpha=self.alpha,
                tables=tables,
                median=median,
                times=self.times,
                nobs_per_station={s: int(p["n"]) for s, p in partials.items()},
            )
        )


def km_table(pooled: PooledTable, conf_type: ConfType, alpha: float) -> pd.DataFrame:
    """The Kaplan-Meier curve with its standard error and interval at every time."""
    n = pooled.at_risk.astype(np.float64)
    d = pooled.events.astype(np.float64)
    # 1 - d/n, with 1 where nobody is at risk (no event either).
    factor = np.divide(n - d, n, out=np.ones_like(n), where=n > 0)
    survival = np.asarray(np.cumprod(factor), dtype=np.float64)
    # Greenwood increments d / (n (n - d)); 0 where n = d (lifelines' convention).
    denominator = n * (n - d)
    greenwood = np.cumsum(np.divide(d, denominator, out=np.zeros_like(n), where=denominator > 0))
    root = np.sqrt(greenwood)
    lower, upper = _interval(survival, root, conf_type, alpha)
    return pd.DataFrame(
        {
            "at_risk": pooled.at_risk,
            "events": pooled.events,
            "censored": pooled.censored,
            "entries": pooled.entries,
            "survival": survival,
            "std_err": survival * root,
            "lower": lower,
            "upper": upper,
        },
        index=pd.Index(pooled.time, name="time"),
    )


def _interval(
    survival: FloatArray, root: FloatArray, conf_type: ConfType, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """Pointwise limits; ``root`` is sqrt(G), the standard error of log S."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    if conf_type == "plain":
        half = z * survival * root
        return np.clip(survival - half, 0.0, 1.0), np.clip(survival + half, 0.0, 1.0)
    if conf_type == "log":
        return survival * np.exp(-z * root), np.minimum(survival * np.exp(z * root), 1.0)
    # log-log: v = log S, se(log(-log S)) = sqrt(G) / |v|.
    lower = np.ones_like(survival)
    upper = np.ones_like(survival)
    between = (survival > 0) & (survival < 1)
    v = np.log(survival[between])
    lower[between] = np.exp(-np.exp(np.log(-v) - z * root[between] / v))
    upper[between] = np.exp(-np.exp(np.log(-v) + z * root[between] / v))
    zero = survival <= 0
    lower[zero] = 0.0
    upper[zero] = 0.0
    return lower, upper


def first_time_at_most(times: FloatArray, values: FloatArray, level: float = 0.5) -> float:
    """The first time at which a curve is at most ``level`` (inf if never)."""
    below = np.flatnonzero(values <= level)
    return float(times[below[0]]) if below.size else float("inf")


def median_with_ci(table: pd.DataFrame) -> tuple[float, float, float]:
    """Median survival time and its interval from the curve's limits."""
    times = table.index.to_numpy(dtype=np.float64)
    return (
        first_time_at_most(times, table["survival"].to_numpy()),
        first_time_at_most(times, table["lower"].to_numpy()),
        first_time_at_most(times, table["upper"].to_numpy()),
    )
