"""Federated generalized linear models by iteratively reweighted least squares.

Round 0 (``prepare``): each station checks the columns, counts complete rows,
applies the level rules to the outcome and to binary and categorical predictors,
and releases the levels of the categorical predictors.

Rounds 1.. (``irls``): at the coefficient vector b, each station releases
``X'WX`` (p x p), ``X'Wz`` (p), its deviance, Pearson chi-square and
log-likelihood. Summed over stations these are exactly the pooled quantities, so
the Newton/IRLS update ``b <- (X'WX)^-1 X'Wz`` is the pooled one and the fit
equals the pooled fit (statsmodels ``GLM``) to rounding error. The coordinator
adds only p x p work per round.

Convergence: when the step is below 1e-8 standard errors in every coefficient, one
more round evaluates all statistics at the new coefficients (quadratic
convergence leaves them exact to machine precision), so estimates, covariance,
deviance and log-likelihood all belong to the same point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

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
    require_model_columns,
    require_rows,
)
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.regression.glm_result import GLMResult
from perron.data.design import Design, pool_levels
from perron.data.families import family as family_named
from perron.data.source import DataSource
from perron.privacy.rules import (
    GLM_SATURATION,
    LEVELS_DENSITY,
    MIN_CELL,
    MIN_ROWS,
    check_levels,
    check_saturation,
)
from perron.protocol.errors import ConvergenceFailed, InputError, PerfectSeparation, SingularDesign
from perron.protocol.messages import Decision

FloatArray = npt.NDArray[np.float64]

MAX_ITERATIONS = 100
_STEP_TOLERANCE = 1e-8  # in standard errors
_SEPARATED_DEVIANCE = 1e-8  # per row


@dataclass(frozen=True)
class _State:
    design: Design | None = None
    beta: FloatArray | None = None
    iteration: int = 0
    final: bool = False
    nobs: Mapping[str, int] | None = None
    dropped: Mapping[str, int] | None = None


class GLM(FederatedAlgorithm[_State, GLMResult]):
    """Gaussian (identity), binomial (logit) or Poisson (log) regression."""

    name = "glm"
    contract = DisclosureContract(
        releases={
            "n": "scalar: complete rows",
            "dropped": "scalar: rows dropped for missing values",
            "levels": "levels of each categorical predictor (each held by >= min_cell rows)",
            "xtwx": "p x p",
            "xtwz": "p",
            "deviance": "scalar",
            "pearson_chi2": "scalar",
            "loglik": "scalar",
            "saturated": "boolean: a fitted probability is numerically 0 or 1",
        },
        rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, GLM_SATURATION),
    )
    max_rounds = MAX_ITERATIONS + 3

    def __init__(self, spec: ModelSpec, family: str = "gaussian") -> None:
        self.spec = spec
        self.family = family_named(family)

    # -- station ----------------------------------------------------------------------

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        if params["step"] == "prepare":
            return _prepare(data, params, context)
        design = Design.from_wire(params["design"])
        beta = None if params["beta"] is None else np.asarray(params["beta"], dtype=np.float64)
        sums = data.irls_sums(design, family_named(str(params["family"])), beta)
        decision = check_saturation(
            context.station, len(design.terms), sums.n, context.policy, f"{design.response} ~ ..."
        )
        payload = {
            "n": sums.n,
            "xtwx": sums.xtwx.tolist(),
            "xtwz": sums.xtwz.tolist(),
            "deviance": sums.deviance,
            "pearson_chi2": sums.pearson_chi2,
            "loglik": sums.loglik,
            "saturated": sums.saturated,
        }
        # The saturation decision is the same every round; report it once.
        return StationOutput(payload, [decision] if beta is None else [])

    # -- coordinator ------------------------------------------------------------------

    def start(self) -> Next[_State]:
        params = {
            "step": "prepare",
            "family": self.family.name,
            "response": self.spec.response,
            "offset": self.spec.offset,
            "numeric": self.spec.numeric,
            "categorical": self.spec.categorical,
        }
        return Next(params, _State())

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str]:
        """Counts in the prepare round; the IRLS sums (levels and flags stay clear)."""
        if params.get("step") == "prepare":
            return frozenset({"n", "dropped"})
        return frozenset({"n", "xtwx", "xtwz", "deviance", "pearson_chi2", "loglik"})

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[GLMResult]:
        if state.design is None:
            released = (p["levels"] for p in partials.values())
            design = self.spec.design(pool_levels(released, self.spec.categorical))
            new = _State(
                design=design,
                nobs={s: int(p["n"]) for s, p in partials.items()},
                dropped={s: int(p["dropped"]) for s, p in partials.items()},
            )
            return self._irls_round(new, None)
        return self._irls_step(partials, state)

    def _irls_round(self, state: _State, beta: FloatArray | None) -> Next[_State]:
        assert state.design is not None
        params = {
            "step": "irls",
            "family": self.family.name,
            "design": state.design.to_wire(),
            "beta": None if beta is None else beta.tolist(),
        }
        return Next(params, state)

    def _irls_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[GLMResult]:
        assert state.design is not None
        names = state.design.names
        p = len(names)
        xtwx = np.zeros((p, p))
        xtwz = np.zeros(p)
        deviance = pearson = loglik = 0.0
        n = 0
        saturated = False
        for part in partials.values():
            xtwx += np.asarray(part["xtwx"], dtype=np.float64)
            xtwz += np.asarray(part["xtwz"], dtype=np.float64)
            deviance += float(part["deviance"])
            pearson += float(part["pearson_chi2"])
            loglik += float(part["loglik"])
            n += int(part["n"])
            saturated = saturated or bool(part["saturated"])
        if state.beta is None:
            check_rank(xtwx, names)
        try:
            factor = linalg.cho_factor(xtwx)
        except linalg.LinAlgError as exc:
            raise SingularDesign(
                "the weighted design matrix is not positive definite; a predictor may be "
                "collinear with others or constant. Remove or combine predictors."
            ) from exc
        new_beta = linalg.cho_solve(factor, xtwz)
        iteration = state.iteration + 1
        if state.final:
            assert state.beta is not None
            if saturated:
                # Quasi-complete separation: the step shrinks in standard-error units
                # because the standard errors explode, while fitted probabilities hit 0/1.
                raise _separation()
            stats = _Stats(xtwx, deviance, pearson, loglik, n)
            return Done(self._result(state, state.beta, stats, iteration - 1))
        if saturated and deviance < _SEPARATED_DEVIANCE * n:
            raise _separation()
        if state.beta is not None:
            se = np.sqrt(np.diag(linalg.cho_solve(factor, np.eye(p))))
            if np.all(np.abs(new_beta - state.beta) <= _STEP_TOLERANCE * se):
                final = _State(state.design, new_beta, iteration, True, state.nobs, state.dropped)
                return self._irls_round(final, new_beta)
        if iteration >= MAX_ITERATIONS:
            if saturated:
                raise _separation()
            raise ConvergenceFailed(
                f"IRLS did not converge in {MAX_ITERATIONS} iterations; check the outcome "
                "coding and rescale predictors with very large values."
            )
        nxt = _State(state.design, new_beta, iteration, False, state.nobs, state.dropped)
        return self._irls_round(nxt, new_beta)

    def _result(self, state: _State, beta: FloatArray, stats: _Stats, iterations: int) -> GLMResult:
        assert state.design is not None
        assert state.nobs is not None
        assert state.dropped is not None
        names = state.design.names
        p = len(names)
        df_resid = stats.n - p
        gaussian = self.family.name == "gaussian"
        scale = stats.pearson / df_resid if gaussian else 1.0
        if gaussian:
            # statsmodels' Gaussian log-likelihood, at the ML scale deviance / n.
            llf = -stats.n / 2.0 * (math.log(2 * math.pi * stats.deviance / stats.n) + 1.0)
        else:
            llf = stats.loglik
        inverse = linalg.cho_solve(linalg.cho_factor(stats.xtwx), np.eye(p))
        return GLMResult(
            family=self.family.name,
            params=pd.Series(beta, index=names, name="params"),
            covariance=pd.DataFrame(inverse * scale, index=names, columns=names),
            llf=llf,
            deviance=stats.deviance,
            pearson_chi2=stats.pearson,
            scale=scale,
            nobs=stats.n,
            df_model=p - 1,
            df_resid=df_resid,
            iterations=iterations,
            converged=True,
            nobs_per_station=dict(state.nobs),
            dropped_per_station=dict(state.dropped),
        )


@dataclass(frozen=True)
class _Stats:
    xtwx: FloatArray
    deviance: float
    pearson: float
    loglik: float
    n: int


def _prepare(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    columns = require_model_columns(data, params, context)
    response, numeric, categorical = columns.response, columns.numeric, columns.categorical
    model_columns = columns.all
    n = data.complete_count(model_columns)
    decisions: list[Decision] = [require_rows(n, context, "the model")]
    dropped = data.complete_count([]) - n
    family = family_named(str(params["family"]))
    if family.name == "binomial":
        counts = data.value_counts([response], model_columns)
        levels = {k[0] for k in counts}
        if not levels <= {0, 1}:
            raise InputError(
                f"the binomial outcome {response!r} must be coded 0/1 at station "
                f"{context.station!r}; recode it before fitting."
            )
        # Both outcome levels must be well represented: a station where (nearly)
        # everyone has the same outcome would disclose that outcome for all its rows.
        both = {level: counts.get((level,), 0) for level in (0, 1)}
        decisions += check_levels(context.station, both, n, context.policy, response, zero_ok=False)
    elif family.name == "poisson":
        _require_non_negative(data, response, context)
    more, released = predictor_levels(data, numeric, categorical, model_columns, n, context)
    decisions += more
    return StationOutput({"n": n, "dropped": dropped, "levels": released}, decisions)


def _require_non_negative(data: DataSource, column: str, context: StationContext) -> None:
    if data.count_at_most(column, np.asarray([-1e-300]))[0] > 0:
        raise InputError(
            f"the Poisson outcome {column!r} has negative values at station "
            f"{context.station!r}; it must be a count."
        )


def _separation() -> PerfectSeparation:
    return PerfectSeparation(
        "the predictors separate the outcome perfectly, so the maximum-likelihood "
        "estimates do not exist (they run off to infinity). Remove or combine the "
        "predictor that predicts the outcome exactly, or use a penalized model."
    )
