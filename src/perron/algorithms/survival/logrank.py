"""Federated log-rank tests (plain, weighted, stratified) of equal survival in groups.

One round. Each station releases per group (and stratum) its coarsened event table
(:mod:`perron.algorithms.survival.event_tables`). Summed over stations, the tables give the
pooled numbers at risk n_jk and events d_jk of group j at each time t_k (n_k, d_k
summed over groups), from which the test follows exactly (Klein & Moeschberger
section 7.3):

    E_jk = n_jk d_k / n_k                                  (expected events)
    Z_j  = sum_k w_k (d_jk - E_jk)                          (weighted O - E)
    V_jl = sum_k w_k^2 d_k (n_k - d_k) / (n_k - 1) (n_jk / n_k) (delta_jl - n_lk / n_k)
    X^2  = Z' V^- Z over the first G - 1 groups,   X^2 ~ chi^2(G - 1)

with the weights w_k = 1 (log-rank), n_k (Gehan-Wilcoxon), sqrt(n_k)
(Tarone-Ware) or S(t_k-)^p (1 - S(t_k-))^q (Fleming-Harrington, S the
Kaplan-Meier curve of all groups together, left-continuous), as lifelines'
``multivariate_logrank_test``. Stratified: Z and V are summed over strata, each
stratum with its own risk sets and, for Fleming-Harrington, its own curve (as R's
``survdiff``); ``strata="station"`` makes every station a stratum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

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
from perron.algorithms.survival.event_tables import (
    RELEASES,
    PooledTable,
    level_order,
    on_common_times,
    pool_tables,
    release_event_tables,
    split_key,
)
from perron.data.source import DataSource
from perron.data.survival import ALL, SurvivalSpec
from perron.privacy.rules import LEVELS_DENSITY, MIN_CELL, MIN_ROWS
from perron.privacy.survival import EVENT_TIMES
from perron.protocol.errors import InputError

FloatArray = npt.NDArray[np.float64]
STATION = "station"
WEIGHTS = ("logrank", "wilcoxon", "tarone-ware", "fleming-harrington")


@dataclass(frozen=True, kw_only=True)
class LogrankResult(FederatedResult):
    """A log-rank type test of equal survival in ``groups``.

    ``observed`` and ``expected`` are the (unweighted) event counts per group,
    summed over strata; ``score`` is the weighted observed minus expected and
    ``variance`` its covariance matrix, from which ``statistic`` follows.
    """

    group: str
    strata: str | None
    weights: str
    p: float
    q: float
    statistic: float
    df: int
    p_value: float
    observed: pd.Series
    expected: pd.Series
    score: pd.Series
    variance: pd.DataFrame

    @property
    def groups(self) -> list[str]:
        return list(self.observed.index)

    def summary(self) -> pd.DataFrame:
        """Observed and expected events and the weighted O - E per group."""
        return pd.DataFrame(
            {"observed": self.observed, "expected": self.expected, "O - E (weighted)": self.score}
        )

    def __str__(self) -> str:
        name = self.weights
        if name == "fleming-harrington":
            name = f"fleming-harrington(p={self.p:g}, q={self.q:g})"
        head = f"{name} test of {self.group}" + (
            f", stratified by {self.strata}" if self.strata else ""
        )
        return (
            f"{head}\n{self.summary().to_string()}\n"
            f"chi2 = {self.statistic:.4f} on {self.df} df, p = {self.p_value:.4g}"
        )


class Logrank(FederatedAlgorithm[None, LogrankResult]):
    """The log-rank test and its weighted and stratified variants.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> df = pd.DataFrame({"t": [float(t) for t in range(1, 41)], "e": [1] * 40,
    ...                    "g": ["a", "b"] * 20})
    >>> session = perron.simulate({"s1": df[:20], "s2": df[20:]},
    ...                           disclosure=perron.DisclosurePolicy(min_cell=1))
    >>> test = session.logrank("t", "e", "g")
    >>> test.df, round(test.statistic, 4)
    (1, 0.1586)
    """

    name = "logrank"
    contract = DisclosureContract(
        releases=RELEASES, rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, EVENT_TIMES)
    )

    def __init__(
        self,
        duration: str,
        event: str,
        group: str,
        *,
        strata: str | None = None,
        weights: str | None = None,
        p: float = 0.0,
        q: float = 0.0,
    ) -> None:
        kind = weights or "logrank"
        if kind not in WEIGHTS:
            raise InputError(f"weights must be None or one of {list(WEIGHTS[1:])}, not {kind!r}.")
        if p < 0 or q < 0:
            raise InputError("the Fleming-Harrington exponents p and q must be >= 0.")
        if (p or q) and kind != "fleming-harrington":
            raise InputError("p and q are the exponents of weights='fleming-harrington'.")
        if strata == group:
            raise InputError("the grouping column cannot also be the strata column.")
        self.spec = SurvivalSpec(stop=duration, event=event)
        self.group = group
        self.strata = strata
        self.weights = kind
        self.p = float(p)
        self.q = float(q)

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        spec = SurvivalSpec.from_wire(params["spec"])
        columns = [*params["strata"], str(params["group"])]
        payload, decisions = release_event_tables(data, spec, columns, context, "log-rank test")
        return StationOutput(payload, decisions)

    def start(self) -> Next[None]:
        strata = [] if self.strata in (None, STATION) else [self.strata]
        return Next({"spec": self.spec.to_wire(), "group": self.group, "strata": strata}, None)

    def coordinator_step(self, partials: Mapping[str, Payload], state: None) -> Done[LogrankResult]:
        by_stratum = self._pooled(partials)
        groups = sorted({g for tables in by_stratum.values() for g in tables}, key=level_order)
        if len(groups) < 2:
            raise InputError(
                f"the log-rank test needs at least two groups of {self.group!r}; "
                f"the stations hold {groups}."
            )
        size = len(groups)
        observed = np.zeros(size)
        expected = np.zeros(size)
        score = np.zeros(size)
        variance = np.zeros((size, size))
        for tables in by_stratum.values():
            o, e, z, v = self._stratum({g: tables[g] for g in groups if g in tables}, groups)
            observed += o
            expected += e
            score += z
            variance += v
        # The G scores sum to zero: test the first G - 1 (pseudo-inverse, as lifelines).
        head = score[:-1]
        statistic = float(head @ np.linalg.pinv(variance[:-1, :-1]) @ head)
        df = size - 1
        index = pd.Index(groups, name=self.group)
        return Done(
            LogrankResult(
                group=self.group,
                strata=self.strata,
                weights=self.weights,
                p=self.p,
                q=self.q,
                statistic=statistic,
                df=df,
                p_value=float(stats.chi2.sf(statistic, df)),
                observed=pd.Series(observed, index=index, name="observed"),
                expected=pd.Series(expected, index=index, name="expected"),
                score=pd.Series(score, index=index, name="score"),
                variance=pd.DataFrame(variance, index=index, columns=index),
                nobs_per_station={s: int(p["n"]) for s, p in partials.items()},
            )
        )

    def _pooled(self, partials: Mapping[str, Payload]) -> dict[str, dict[str, PooledTable]]:
        """Pool the released tables per stratum and group."""
        released: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
        for station, payload in partials.items():
            for key, table in payload["tables"].items():
                if self.strata == STATION:
                    stratum, group = station, key
                elif self.strata is not None:
                    stratum, group = split_key(key, 2)
                else:
                    stratum, group = ALL, key
                released.setdefault(stratum, {}).setdefault(group, []).append(table)
        return {
            stratum: {group: pool_tables(tables) for group, tables in by_group.items()}
            for stratum, by_group in released.items()
        }

    def _stratum(
        self, tables: Mapping[str, PooledTable], groups: list[str]
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Observed, expected, weighted O - E and its covariance in one stratum."""
        _, present_risk, present_events = on_common_times(tables)
        rows = [groups.index(g) for g in tables]
        risk = np.zeros((len(groups), present_risk.shape[1]))
        events = np.zeros_like(risk)
        risk[rows] = present_risk
        events[rows] = present_events
        n = risk.sum(axis=0)
        d = events.sum(axis=0)
        share = np.divide(risk, n, out=np.zeros_like(risk), where=n > 0)  # n_jk / n_k
        expected_k = share * d
        w = self._weights(n, d)
        # d_k (n_k - d_k) / (n_k - 1): the hypergeometric variance factor (1 if n_k = 1,
        # where every term it multiplies is 0).
        ties = np.divide(n - d, n - 1, out=np.ones_like(n), where=n > 1)
        factor = w**2 * d * ties
        # V_jl = sum_k factor_k share_jk (delta_jl - share_lk)
        variance = np.diag((factor * share).sum(axis=1)) - (factor * share) @ share.T
        score = (w * (events - expected_k)).sum(axis=1)
        return events.sum(axis=1), expected_k.sum(axis=1), score, variance

    def _weights(self, n: FloatArray, d: FloatArray) -> FloatArray:
        if self.weights == "wilcoxon":
            return n
        if self.weights == "tarone-ware":
            return np.sqrt(n)
        if self.weights == "fleming-harrington":
            factor = np.divide(n - d, n, out=np.ones_like(n), where=n > 0)
            # S(t_k-) = prod_{i < k} (1 - d_i / n_i): the pooled curve just before t_k.
            before = np.concatenate([[1.0], np.cumprod(factor)[:-1]])
            weights = np.power(before, self.p) * np.power(1.0 - before, self.q)
            return np.asarray(weights, dtype=np.float64)
        return np.ones_like(n)
