"""Recalibration and updating of a published model as exact federated fits.

The published linear predictor LP is computed at each station from its own rows
(:func:`~perron.algorithms.prediction.scoring.score_rows`) and handed, as a column of a
station-side frame, to the existing exact algorithms, whose station steps and
disclosure rules run unchanged:

- ``intercept``: logistic GLM ``y ~ 1`` with LP as offset (intercept update; the
  intercept is the calibration-in-the-large);
- ``logistic``: logistic GLM ``y ~ 1 + LP`` (logistic recalibration; the LP
  coefficient is the calibration slope); for a Cox model, a Cox model on LP
  alone (the Cox calibration slope);
- ``revision``: logistic GLM ``y ~ 1 + selected terms`` with LP as offset: the
  intercept and the selected coefficients are re-estimated as updates of the
  published ones.

The coordinator runs the inner algorithm's rounds, so the fit is the pooled fit
(statsmodels ``GLM(..., offset=LP)``, lifelines ``CoxPHFitter``) to rounding
error. Only the inner algorithm's aggregates leave a station.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.prediction.published_model import LINEAR_PREDICTOR, PublishedModel
from perron.algorithms.prediction.scoring import score_rows
from perron.algorithms.regression.glm import GLM
from perron.algorithms.regression.glm_result import GLMResult
from perron.algorithms.survival.cox_result import CoxResult
from perron.algorithms.survival.coxph import CoxPH
from perron.data.frame import FrameSource
from perron.data.source import DataSource
from perron.protocol.errors import InputError

Method = Literal["intercept", "logistic", "revision"]
_INNER: Mapping[str, type[FederatedAlgorithm[Any, Any]]] = {"glm": GLM, "coxph": CoxPH}


@dataclass(frozen=True, kw_only=True)
class RecalibrationResult(FederatedResult):
    """The updated model and the federated fit that produced it."""

    method: str
    original: PublishedModel
    model: PublishedModel
    fit: GLMResult | CoxResult

    @property
    def intercept(self) -> float | None:
        """The fitted intercept (the calibration-in-the-large for ``intercept``)."""
        value = self.fit.params.get("Intercept")
        return None if value is None else float(value)

    @property
    def slope(self) -> float | None:
        """The coefficient of the published LP (the calibration slope)."""
        value = self.fit.params.get(LINEAR_PREDICTOR)
        return None if value is None else float(value)

    def __str__(self) -> str:
        return f"{self.method} update of {self.original.name}\n{self.fit}"


class Recalibrate(FederatedAlgorithm[Any, RecalibrationResult]):
    """A GLM or Cox fit on the published linear predictor (offset or predictor)."""

    name = "recalibrate"
    contract = DisclosureContract(
        releases={
            **GLM.contract.releases,
            **CoxPH.contract.releases,
        },
        rules=tuple(dict.fromkeys([*GLM.contract.rules, *CoxPH.contract.rules])),
    )
    max_rounds = max(GLM.max_rounds, CoxPH.max_rounds)

    def __init__(
        self,
        model: PublishedModel,
        outcome: str,
        *,
        event: str | None = None,
        method: Method = "intercept",
        revise: Sequence[str] = (),
    ) -> None:
        if (model.kind == "cox") != (event is not None):
            raise InputError(
                "a Cox model is updated with duration= and event=, a logistic model with "
                "outcome= only."
            )
        if method not in ("intercept", "logistic", "revision"):
            raise InputError(
                f"method must be 'intercept', 'logistic' or 'revision', not {method!r}."
            )
        unknown = [t for t in revise if t not in model.coefficients]
        if unknown:
            raise InputError(
                f"terms {unknown} are not in the model; revise= takes term names of "
                f"{list(model.coefficients)}."
            )
        if (method == "revision") != bool(revise):
            raise InputError("give revise=[terms] with method='revision' (and only then).")
        if model.kind == "cox" and method != "logistic":
            raise InputError(
                "a Cox model is recalibrated by its slope only (method='logistic'); "
                "intercept updates and revisions need an offset the Cox fit does not take."
            )
        self.model = model
        self.outcome = outcome
        self.event = event
        self.method = method
        self.revise = tuple(revise)
        self.inner: FederatedAlgorithm[Any, Any]
        if model.kind == "cox":
            spec = ModelSpec.from_columns(outcome, [LINEAR_PREDICTOR])
            self.inner = CoxPH(spec, outcome, event or "")
        elif method == "intercept":
            self.inner = GLM(
                ModelSpec.from_columns(outcome, [], offset=LINEAR_PREDICTOR), "binomial"
            )
        elif method == "logistic":
            self.inner = GLM(ModelSpec.from_columns(outcome, [LINEAR_PREDICTOR]), "binomial")
        else:
            spec = ModelSpec.from_columns(outcome, self.revise, offset=LINEAR_PREDICTOR)
            self.inner = GLM(spec, "binomial")

    # -- station ----------------------------------------------------------------------

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        model = PublishedModel.from_dict(params["model"])
        outcome = str(params["outcome"])
        event = params.get("event")
        scored, decisions = score_rows(data, model, outcome, event, context)
        columns: dict[str, Any] = {LINEAR_PREDICTOR: scored.lp}
        if scored.time is not None and event:
            columns[outcome] = scored.time
            columns[str(event)] = scored.y
        else:
            columns[outcome] = scored.y
        names = [t.name for t in model.terms]
        for term in params["revise"]:
            columns[str(term)] = scored.x[:, names.index(str(term))]
        inner_params: Payload = params["inner_params"]
        inner = _INNER[str(params["inner"])]
        output = inner.station_step(FrameSource(pd.DataFrame(columns)), inner_params, context)
        first = inner_params.get("step") == "prepare"
        return StationOutput(output.payload, [*(decisions if first else []), *output.decisions])

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str] | None:
        inner = _INNER[str(params["inner"])]
        return inner.secure_fields(params["inner_params"])

    # -- coordinator ------------------------------------------------------------------

    def _wrap(self, step: Next[Any]) -> Next[Any]:
        params = {
            "inner": self.inner.name,
            "inner_params": dict(step.params),
            "model": self.model.to_dict(),
            "outcome": self.outcome,
            "event": self.event,
            "revise": list(self.revise),
        }
        return Next(params, step.state)

    def start(self) -> Next[Any]:
        return self._wrap(self.inner.start())

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: Any
    ) -> Next[Any] | Done[RecalibrationResult]:
        outcome = self.inner.coordinator_step(partials, state)
        if isinstance(outcome, Next):
            return self._wrap(outcome)
        fit: GLMResult | CoxResult = outcome.result
        params = fit.params
        if self.method == "intercept":
            updated = self.model.recalibrated(float(params["Intercept"]))
        elif self.method == "logistic":
            intercept = float(params.get("Intercept", 0.0))
            updated = self.model.recalibrated(intercept, float(params[LINEAR_PREDICTOR]))
        else:
            updates = {t: float(params[t]) for t in self.revise}
            updated = self.model.recalibrated(float(params["Intercept"]), 1.0, updates)
        return Done(
            RecalibrationResult(
                method=self.method,
                original=self.model,
                model=updated,
                fit=fit,
                nobs_per_station=dict(fit.nobs_per_station),
            )
        )
