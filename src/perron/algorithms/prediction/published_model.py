"""A published prediction model: what a paper or a model file gives to validate.

A :class:`PublishedModel` is the intercept and coefficients of a logistic model, or
the coefficients (and optionally the baseline survival at a horizon) of a Cox
model, keyed by term names as Perron's GLM and Cox results name them: a numeric
column (``age``) or the indicator of one level of a categorical column
(``C(race)[T.2]`` or ``C(race)[2]``). The linear predictor of a row is

    LP = intercept + sum_j coefficient_j * x_j

and the predicted risk is ``1 / (1 + exp(-LP))`` (logistic) or
``1 - S0(horizon) ** exp(LP)`` (Cox; ``intercept`` there is minus the centring
constant of a model published with centred covariates, 0 by default).

The description is plain data (a dict or a JSON file), so it travels in a task's
parameters; every station evaluates it on its own rows.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.algorithms.regression.glm_result import GLMResult
from perron.algorithms.survival.cox_result import CoxResult
from perron.protocol.errors import InputError

FloatArray = npt.NDArray[np.float64]
Kind = Literal["logistic", "cox"]

#: The name of the linear predictor in recalibration fits; no term may use it.
LINEAR_PREDICTOR = "linear_predictor"

_INDICATOR = re.compile(r"^C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\[(?:T\.)?(.+)\]$")
_KEYS = frozenset(
    {"kind", "coefficients", "intercept", "baseline_survival", "horizon", "name", "source"}
)


@dataclass(frozen=True)
class ModelTerm:
    """One term of a published model: a numeric column or a level indicator."""

    name: str
    column: str
    level: str | None = None


def parse_term(name: str) -> ModelTerm:
    """Read a term name: ``age`` or ``C(race)[T.2]`` / ``C(race)[2]``.

    Examples
    --------
    >>> parse_term("C(race)[T.2]")
    ModelTerm(name='C(race)[T.2]', column='race', level='2')
    """
    if name.isidentifier():
        return ModelTerm(name, name)
    if match := _INDICATOR.match(name):
        return ModelTerm(name, match[1], match[2])
    raise InputError(
        f"term {name!r} is neither a column name nor a level indicator 'C(column)[level]'; "
        "compute transformed predictors (squares, splines, interactions) as columns of the "
        "data and name them here."
    )


@dataclass(frozen=True)
class PublishedModel:
    """The coefficients of a published logistic or Cox prediction model.

    Parameters
    ----------
    kind
        ``"logistic"`` or ``"cox"``.
    coefficients
        Term name -> coefficient (log odds ratio or log hazard ratio).
    intercept
        Logistic intercept; for Cox, minus the centring constant (default 0).
    baseline_survival, horizon
        Cox only: the baseline survival ``S0(horizon)`` at a time ``horizon``, which
        turns the linear predictor into a risk (both or neither).
    name, source
        What the model is called and where it was published.

    Examples
    --------
    >>> model = PublishedModel.from_dict(
    ...     {"kind": "logistic", "intercept": -1.2, "coefficients": {"age": 0.03}}
    ... )
    >>> model.columns
    ['age']
    """

    kind: Kind
    coefficients: Mapping[str, float]
    intercept: float = 0.0
    baseline_survival: float | None = None
    horizon: float | None = None
    name: str = "published model"
    source: str = ""
    terms: tuple[ModelTerm, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("logistic", "cox"):
            raise InputError(f"model kind must be 'logistic' or 'cox', not {self.kind!r}.")
        if not self.coefficients:
            raise InputError("the model has no coefficients; give at least one term.")
        values = {str(k): _number(v, f"coefficient of {k!r}") for k, v in self.coefficients.items()}
        object.__setattr__(self, "coefficients", values)
        object.__setattr__(self, "intercept", _number(self.intercept, "intercept"))
        if LINEAR_PREDICTOR in values:
            raise InputError(f"{LINEAR_PREDICTOR!r} is reserved; rename that term.")
        if "Intercept" in values:
            raise InputError("give the intercept as intercept=..., not as a coefficient.")
        object.__setattr__(self, "terms", tuple(parse_term(k) for k in values))
        has_s0 = self.baseline_survival is not None
        if has_s0 != (self.horizon is not None):
            raise InputError("give baseline_survival and horizon together, or neither.")
        if has_s0 and self.kind != "cox":
            raise InputError("baseline_survival and horizon belong to a Cox model only.")
        if self.baseline_survival is not None and not 0 < self.baseline_survival < 1:
            raise InputError("baseline_survival is S0(horizon), a probability in (0, 1).")
        if self.horizon is not None and not self.horizon > 0:
            raise InputError("horizon must be a positive time.")

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublishedModel:
        """Read the dict form (:meth:`to_dict`), refusing unknown keys."""
        unknown = set(data) - _KEYS
        if unknown:
            raise InputError(
                f"unknown model field(s) {sorted(unknown)}; the fields are {sorted(_KEYS)}."
            )
        for key in ("kind", "coefficients"):
            if key not in data:
                raise InputError(f"the model description lacks {key!r}.")
        coefficients = data["coefficients"]
        if not isinstance(coefficients, Mapping):
            raise InputError("coefficients must be a mapping of term name -> number.")
        optional = {k: data[k] for k in ("baseline_survival", "horizon") if data.get(k) is not None}
        return cls(
            kind=data["kind"],
            coefficients=dict(coefficients),
            intercept=data.get("intercept", 0.0),
            name=str(data.get("name", "published model")),
            source=str(data.get("source", "")),
            **{k: _number(v, k) for k, v in optional.items()},
        )

    @classmethod
    def from_json(cls, path: str | Path) -> PublishedModel:
        """Read a JSON file holding the dict form."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"could not read the model file {str(path)!r}: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError(f"the model file {str(path)!r} must hold a JSON object.")
        return cls.from_dict(data)

    @classmethod
    def from_result(
        cls,
        result: GLMResult | CoxResult,
        *,
        name: str = "fitted model",
        baseline_survival: float | None = None,
        horizon: float | None = None,
    ) -> PublishedModel:
        """The model of a fitted federated binomial GLM or Cox model."""
        params = {str(k): float(v) for k, v in result.params.items()}
        if isinstance(result, GLMResult):
            if result.family != "binomial":
                raise InputError(
                    f"a {result.family} GLM is not a logistic prediction model; fit it with "
                    "family='binomial'."
                )
            intercept = params.pop("Intercept", 0.0)
            return cls("logistic", params, intercept, name=name)
        return cls("cox", params, 0.0, baseline_survival, horizon, name=name)

    @classmethod
    def coerce(cls, model: PublishedModel | Mapping[str, Any] | str | Path) -> PublishedModel:
        """A model given as a :class:`PublishedModel`, its dict form or a JSON file."""
        if isinstance(model, PublishedModel):
            return model
        if isinstance(model, Mapping):
            return cls.from_dict(model)
        return cls.from_json(model)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "intercept": self.intercept,
            "coefficients": dict(self.coefficients),
        }
        if self.source:
            out["source"] = self.source
        if self.baseline_survival is not None:
            out["baseline_survival"] = self.baseline_survival
            out["horizon"] = self.horizon
        return out

    def to_json(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return out

    # -- use --------------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The data columns the model reads, in term order."""
        return list(dict.fromkeys(t.column for t in self.terms))

    @property
    def numeric(self) -> list[str]:
        return list(dict.fromkeys(t.column for t in self.terms if t.level is None))

    @property
    def categorical(self) -> list[str]:
        return list(dict.fromkeys(t.column for t in self.terms if t.level is not None))

    @property
    def beta(self) -> FloatArray:
        return np.asarray([self.coefficients[t.name] for t in self.terms], dtype=np.float64)

    def risk(self, lp: FloatArray) -> FloatArray | None:
        """Predicted risk from linear predictors (Cox without a baseline: ``None``)."""
        if self.kind == "logistic":
            return np.asarray(0.5 * (1.0 + np.tanh(0.5 * lp)), dtype=np.float64)
        if self.baseline_survival is None:
            return None
        return np.asarray(1.0 - self.baseline_survival ** np.exp(lp), dtype=np.float64)

    def linear_predictor(self, frame: pd.DataFrame) -> FloatArray:
        """The linear predictor of each row of a local frame (NaN where a value is missing).

        For local use (a model developer's own data, a test's oracle); at a station
        the scores are computed through the data seam and never leave it.
        """
        lp = np.full(len(frame), self.intercept)
        for term in self.terms:
            values = frame[term.column]
            if term.level is None:
                x = values.to_numpy(dtype=np.float64)
            else:
                level = term.level
                x = np.asarray([_same_level(v, level) for v in values], dtype=np.float64)
                x[values.isna().to_numpy()] = np.nan
            lp = lp + self.coefficients[term.name] * x
        return np.round(lp, 10)  # as the stations round theirs

    def recalibrated(
        self, intercept: float, slope: float = 1.0, updates: Mapping[str, float] | None = None
    ) -> PublishedModel:
        """The model with LP' = intercept + slope * LP and coefficient ``updates`` added."""
        coefficients = {k: slope * v for k, v in self.coefficients.items()}
        for term, delta in (updates or {}).items():
            coefficients[term] += delta
        return PublishedModel(
            self.kind,
            coefficients,
            intercept + slope * self.intercept,
            self.baseline_survival,
            self.horizon,
            name=f"{self.name} (updated)",
            source=self.source,
        )


def _same_level(value: object, level: str) -> bool:
    """Whether a data value is the level a term names (levels travel as text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    item = value.item() if isinstance(value, np.generic) else value
    if str(item) == level:
        return True
    if isinstance(item, int | float) and not isinstance(item, bool):
        try:
            return float(level) == float(item)
        except ValueError:
            return False
    return False


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"the {what} must be a number, not {value!r}.")
    out = float(value)
    if not math.isfinite(out):
        raise InputError(f"the {what} must be finite, not {value!r}.")
    return out
