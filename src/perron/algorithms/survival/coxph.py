"""Federated Cox proportional hazards by Newton-Raphson on the pooled partial likelihood.

Round 0 (``prepare``): each station checks the columns, applies the level rules to
categorical/binary covariates and strata, coarsens its times as its holder requires
(:mod:`perron.privacy.survival`) and releases its (coarsened) event times per
stratum, its row and event counts and the levels of categorical covariates.

Rounds 1.. (``newton``): at coefficients b, each station releases per stratum and
per pooled event time the risk-set sums ``S0, S1, S2`` and, for Efron's ties, the
event sums ``E0, E1, E2`` (:mod:`perron.algorithms.survival.cox_likelihood`), plus the sum
of covariates over its events. These are sums over risk sets and tied events,
never a subject's values; the coarsening guarantees that consecutive releases
differ by at least ``min_cell`` events. Summed over stations they are the pooled
sums, so partial likelihood, score and information are the pooled ones.

Strata: a column (pooled across stations) or ``"station"``, where every station is
its own stratum and releases sums at its own event times only. ``start``/``stop``
rows give delayed entry and time-dependent covariates with R's convention: a row
is at risk at t when start < t <= stop.

Newton steps halve when the likelihood falls; at convergence (a step below 1e-8
standard errors) one more round evaluates everything at the final coefficients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import linalg

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.core.checks import (
    check_rank,
    predictor_levels,
    require_columns,
    require_numeric,
    require_rows,
)
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.survival.cox_likelihood import Likelihood, StratumSums, partial_likelihood
from perron.algorithms.survival.cox_result import CoxResult
from perron.data.design import Term, pool_levels
from perron.data.source import DataSource
from perron.data.survival import ALL, SurvivalSpec, TimeMap
from perron.privacy.rules import (
    GLM_SATURATION,
    LEVELS_DENSITY,
    MIN_CELL,
    MIN_ROWS,
    check_levels,
    check_saturation,
)
from perron.privacy.survival import EVENT_TIMES, block_ends, check_event_times, time_grid
from perron.protocol.errors import ConvergenceFailed, InputError, SingularDesign
from perron.protocol.messages import Decision

FloatArray = npt.NDArray[np.float64]

MAX_ITERATIONS = 50
MAX_HALVINGS = 30
_STEP_TOLERANCE = 1e-8  # in standard errors
#: A variance this many times its value at b = 0 signals monotone likelihood.
_MONOTONE_RATIO = 1e6
STATION = "station"


@dataclass(frozen=True)
class _State:
    spec: SurvivalSpec | None = None
    times: Mapping[str, list[float]] | None = None
    beta: FloatArray | None = None
    accepted: tuple[FloatArray, float] | None = None
    iteration: int = 0
    halvings: int = 0
    final: bool = False
    llf_null: float = 0.0
    score_statistic: float = 0.0
    nobs: Mapping[str, int] | None = None
    dropped: Mapping[str, int] | None = None
    result: CoxResult | None = None
    null_variance: FloatArray | None = None


class CoxPH(FederatedAlgorithm[_State, CoxResult]):
    """Cox proportional hazards with Breslow or Efron ties, strata and (start, stop] rows."""

    name = "coxph"
    contract = DisclosureContract(
        releases={
            "n": "scalar: complete rows",
            "dropped": "scalar: rows dropped for missing values",
            "events": "scalar: number of events",
            "levels": "levels of categorical covariates and strata (each >= min_cell rows)",
            "times": "per stratum: the station's coarsened event times (a parameter of "
            "the next rounds, released as the holder's event_times setting allows)",
            "sums": "per stratum and pooled event time: S0, S1 (p), S2 (p x p), E0, E1, "
            "E2, events; plus the sum of covariates over events (p)",
            "concordance": "2 numbers: concordant (+ half tied) and comparable pairs "
            "within the station",
        },
        rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, GLM_SATURATION, EVENT_TIMES),
    )
    max_rounds = 1 + (MAX_ITERATIONS + 1) * (MAX_HALVINGS + 1)

    def __init__(
        self,
        covariates: ModelSpec,
        stop: str,
        event: str,
        *,
        start: str | None = None,
        strata: str | None = None,
        ties: str = "efron",
    ) -> None:
        if ties not in ("efron", "breslow"):
            raise InputError(f"ties must be 'efron' or 'breslow', not {ties!r}.")
        if not covariates.predictors:
            raise InputError("a Cox model needs at least one covariate.")
        # The baseline hazard plays the intercept's part.
        self.covariates = replace(covariates, intercept=False)
        self.stop = stop
        self.event = event
        self.start_column = start
        self.strata = strata
        self.ties = ties

    # -- station ----------------------------------------------------------------------

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        if params["step"] == "prepare":
            return _prepare(data, params, context)
        spec = SurvivalSpec.from_wire(params["spec"])
        timemap, own_times, _ = _timemap(data, spec, context)
        beta = np.asarray(params["beta"], dtype=np.float64)
        if params["step"] == "concordance":
            numerator, pairs = data.concordance_counts(spec, beta, timemap)
            return StationOutput({"concordance": [numerator, pairs]}, [])
        times = own_times if params["by_station"] else dict(params["times"])
        sums = data.cox_sums(spec, beta, times, timemap)
        n = sum(s.n for s in sums.values())
        decisions: list[Decision] = []
        if not np.any(beta):  # the first Newton round starts at b = 0
            decisions.append(
                check_saturation(context.station, len(spec.terms), n, context.policy, "Cox model")
            )
        efron = bool(params["efron"])
        released: dict[str, dict[str, Any]] = {}
        for key, s in sums.items():
            entry: dict[str, Any] = {
                "d": s.d.tolist(),
                "s0": s.s0.tolist(),
                "s1": s.s1.tolist(),
                "s2": s.s2.tolist(),
                "xsum": s.xsum.tolist(),
                "n": s.n,
            }
            if efron:
                entry.update(e0=s.e0.tolist(), e1=s.e1.tolist(), e2=s.e2.tolist())
            released[key] = entry
        if not params["by_station"]:  # zeros for strata this station lacks: one layout
            for key, grid in times.items():
                if key not in released:
                    released[key] = _empty_sums(len(grid), len(spec.terms), efron)
        return StationOutput({"sums": released}, decisions)

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str] | None:
        """Counts of the prepare round, the Newton sums and the concordance pairs;
        stratifying by station needs each station's own sums (not secure)."""
        step = params.get("step")
        if step == "prepare":
            return frozenset({"n", "dropped", "events"})
        if step == "concordance":
            return frozenset({"concordance"})
        return None if params.get("by_station") else frozenset({"sums"})

    # -- coordinator ------------------------------------------------------------------

    def start(self) -> Next[_State]:
        params = {
            "step": "prepare",
            "stop": self.stop,
            "event": self.event,
            "start": self.start_column,
            "strata": [] if self.strata in (None, STATION) else [self.strata],
            "numeric": self.covariates.numeric,
            "categorical": self.covariates.categorical,
        }
        return Next(params, _State())

    def start_secure(self) -> Next[_State]:
        if self.strata == STATION:
            raise InputError(
                "a Cox model stratified by station needs each station's own sums, so it "
                "cannot run under secure aggregation; stratify by a column or not at all."
            )
        return self.start()

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[CoxResult]:
        if state.spec is None:
            return self._after_prepare(partials)
        if state.result is not None:
            numerator = sum(float(p["concordance"][0]) for p in partials.values())
            pairs = sum(int(p["concordance"][1]) for p in partials.values())
            concordance = numerator / pairs if pairs else None
            return Done(replace(state.result, concordance=concordance))
        return self._newton(partials, state)

    def _after_prepare(self, partials: Mapping[str, Payload]) -> Next[_State]:
        released = (p["levels"] for p in partials.values())
        ordered = pool_levels(released, self.covariates.categorical)
        strata_columns = () if self.strata in (None, STATION) else (str(self.strata),)
        spec = SurvivalSpec(
            stop=self.stop,
            event=self.event,
            start=self.start_column,
            strata=strata_columns,
            terms=self.covariates.terms(ordered, always_reference=True),
        )
        times: dict[str, set[float]] = {}
        for station, p in partials.items():
            for key, values in p["times"].items():
                target = station if self.strata == STATION else key
                times.setdefault(target, set()).update(values)
        state = _State(
            spec=spec,
            times={k: sorted(v) for k, v in times.items()},
            beta=np.zeros(len(spec.terms)),
            nobs={s: int(p["n"]) for s, p in partials.items()},
            dropped={s: int(p["dropped"]) for s, p in partials.items()},
        )
        return self._round(state)

    def _round(self, state: _State) -> Next[_State]:
        assert state.spec is not None
        assert state.beta is not None
        assert state.times is not None
        params = {
            "step": "newton",
            "spec": state.spec.to_wire(),
            "beta": state.beta.tolist(),
            "times": {} if self.strata == STATION else dict(state.times),
            "by_station": self.strata == STATION,
            "efron": self.ties == "efron",
        }
        return Next(params, state)

    def _newton(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[CoxResult]:
        assert state.spec is not None
        assert state.beta is not None
        spec = state.spec
        names = spec.names
        beta = state.beta
        likelihood = partial_likelihood(
            _pooled(partials, self.strata == STATION, self.ties == "efron"),
            beta,
            efron=self.ties == "efron",
        )
        if state.accepted is None:  # b = 0: the null model
            check_rank(likelihood.information, names)
            null_step = _solve(likelihood, names)
            state = replace(
                state,
                llf_null=likelihood.llf,
                score_statistic=float(likelihood.score @ null_step),
                null_variance=np.diag(linalg.inv(likelihood.information)),
            )
        if state.final:
            assert state.null_variance is not None
            final_variance = np.diag(linalg.inv(likelihood.information))
            if np.any(final_variance > _MONOTONE_RATIO * state.null_variance):
                # The information in some direction has collapsed: the likelihood keeps
                # rising as a coefficient runs off to infinity (monotone likelihood).
                raise _no_convergence()
            result = self._result(state, likelihood, partials)
            if self.start_column is not None:
                return Done(result)
            params = {"step": "concordance", "spec": spec.to_wire(), "beta": beta.tolist()}
            return Next(params, replace(state, result=result))
        if state.accepted is not None:
            previous_beta, previous_llf = state.accepted
            if likelihood.llf < previous_llf - 1e-12 * (1.0 + abs(previous_llf)):
                if state.halvings >= MAX_HALVINGS:
                    raise _no_convergence()
                halved = (previous_beta + beta) / 2.0
                return self._round(replace(state, beta=halved, halvings=state.halvings + 1))
        try:
            step = _solve(likelihood, names)
        except SingularDesign as exc:
            # Full rank at b = 0 (checked) but singular now: the information collapsed
            # along a coefficient running off to infinity.
            raise _no_convergence() from exc
        se = np.sqrt(np.diag(linalg.inv(likelihood.information)))
        iteration = state.iteration + 1
        accepted = replace(state, accepted=(beta, likelihood.llf), halvings=0, iteration=iteration)
        if np.all(np.abs(step) <= _STEP_TOLERANCE * se):
            return self._round(replace(accepted, beta=beta + step, final=True))
        if iteration >= MAX_ITERATIONS:
            raise _no_convergence()
        return self._round(replace(accepted, beta=beta + step))

    def _result(
        self, state: _State, likelihood: Likelihood, partials: Mapping[str, Payload]
    ) -> CoxResult:
        assert state.spec is not None
        assert state.beta is not None
        assert state.nobs is not None
        assert state.dropped is not None
        names = state.spec.names
        covariance = linalg.inv(likelihood.information)
        events = sum(
            int(np.sum(entry["d"])) for p in partials.values() for entry in p["sums"].values()
        )
        return CoxResult(
            params=pd.Series(state.beta, index=names, name="coef"),
            covariance=pd.DataFrame(covariance, index=names, columns=names),
            llf=likelihood.llf,
            llf_null=state.llf_null,
            score_statistic=state.score_statistic,
            ties=self.ties,
            strata=self.strata,
            nobs=sum(state.nobs.values()),
            n_events=events,
            iterations=state.iteration,
            nobs_per_station=dict(state.nobs),
            dropped_per_station=dict(state.dropped),
        )


def _prepare(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    stop, event = str(params["stop"]), str(params["event"])
    start = None if params["start"] is None else str(params["start"])
    strata: list[str] = list(params["strata"])
    numeric: list[str] = list(params["numeric"])
    categorical: list[str] = list(params["categorical"])
    time_columns = [stop, event, *([start] if start else [])]
    columns = [*time_columns, *strata, *numeric, *categorical]
    require_columns(data, columns, context)
    require_numeric(data, [*time_columns, *numeric], context)
    decisions = [check_event_times(context.station, context.policy, "Cox model")]
    n = data.complete_count(columns)
    decisions.append(require_rows(n, context, "the Cox model"))
    more, levels = predictor_levels(data, numeric, categorical, columns, n, context)
    decisions += more
    for column in strata:
        counts = data.value_counts([column], columns)
        decisions += check_levels(context.station, dict(counts), n, context.policy, column)
    # Complete cases on every model column, as in the Newton rounds (the terms here
    # only name the columns; the design comes after the levels are known).
    covariates = tuple(Term(c, c) for c in [*numeric, *categorical])
    spec = SurvivalSpec(stop=stop, event=event, start=start, strata=tuple(strata), terms=covariates)
    _, times, events = _timemap(data, spec, context)
    payload = {
        "n": n,
        "dropped": data.complete_count([]) - n,
        "events": events,
        "levels": levels,
        "times": {key: values.tolist() for key, values in times.items()},
    }
    return StationOutput(payload, decisions)


def _timemap(
    data: DataSource, spec: SurvivalSpec, context: StationContext
) -> tuple[TimeMap, dict[str, FloatArray], int]:
    """The station's own coarsening (grid, blocks of >= min_cell events), the event
    times it releases per stratum and its number of events."""
    grid = time_grid(context.policy)
    tables = data.event_table(spec, spec.strata, TimeMap(grid))
    ends: dict[str, FloatArray] = {}
    times: dict[str, FloatArray] = {}
    events = 0
    for key, table in tables.items():
        has = table.events > 0
        subject = f"stratum {key}" if key != ALL else "the Cox model"
        ends[key] = block_ends(
            table.time[has], table.events[has], context.policy.event_block, context.station, subject
        )
        times[key] = ends[key] if ends[key].size else table.time[has]
        events += int(table.events.sum())
    return TimeMap(grid, ends), times, events


def _empty_sums(times: int, p: int, efron: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "d": [0] * times,
        "s0": [0.0] * times,
        "s1": np.zeros((times, p)).tolist(),
        "s2": np.zeros((times, p, p)).tolist(),
        "xsum": [0.0] * p,
        "n": 0,
    }
    if efron:
        entry.update(e0=[0.0] * times, e1=entry["s1"], e2=entry["s2"])
    return entry


def _pooled(partials: Mapping[str, Payload], by_station: bool, efron: bool) -> list[StratumSums]:
    """Sum the stations' sums per stratum (per station when strata='station')."""
    pooled: dict[str, dict[str, FloatArray]] = {}
    for station, p in partials.items():
        for key, entry in p["sums"].items():
            target = station if by_station else key
            arrays = {
                name: np.asarray(entry[name], dtype=np.float64)
                for name in ("d", "s0", "s1", "s2", "xsum", *(("e0", "e1", "e2") if efron else ()))
            }
            if target not in pooled:
                pooled[target] = arrays
            else:
                for name, value in arrays.items():
                    pooled[target][name] = pooled[target][name] + value
    out = []
    for arrays in pooled.values():
        zeros = np.zeros_like(arrays["s0"])
        out.append(
            StratumSums(
                d=arrays["d"],
                s0=arrays["s0"],
                s1=arrays["s1"],
                s2=arrays["s2"],
                e0=arrays.get("e0", zeros),
                e1=arrays.get("e1", np.zeros_like(arrays["s1"])),
                e2=arrays.get("e2", np.zeros_like(arrays["s2"])),
                xsum=arrays["xsum"],
            )
        )
    return out


def _solve(likelihood: Likelihood, names: list[str]) -> FloatArray:
    try:
        factor = linalg.cho_factor(likelihood.information)
    except linalg.LinAlgError as exc:
        raise SingularDesign(
            "the information matrix is not positive definite; a covariate may be "
            f"collinear with others or constant within strata ({', '.join(names)})."
        ) from exc
    return np.asarray(linalg.cho_solve(factor, likelihood.score), dtype=np.float64)


def _no_convergence() -> ConvergenceFailed:
    return ConvergenceFailed(
        "the Cox model did not converge; a covariate may predict the event order "
        "perfectly (monotone likelihood) or be on a very large scale. Check for such "
        "covariates, rescale them, or combine levels."
    )
