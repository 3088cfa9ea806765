"""One data request to many holders, after EHDS art. 67 (the application for access).

A researcher fills in one :class:`DataRequest`; it goes to every requested holder,
and each holder sees only its own part (:meth:`DataRequest.part_for`): the common
terms and the datasets and variables asked of *it*, not what the other holders
hold. Validation errors name the field and say what to write.

Examples
--------
>>> request = DataRequest.model_validate(EXAMPLE)
>>> [part.holder for part in request.holders]
['umc-north', 'insurer-east', 'pharmacy-west']
>>> view = request.part_for("insurer-east")
>>> [part.holder for part in view.holders]
['insurer-east']
"""

from __future__ import annotations

import calendar
import math
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from perron.protocol.errors import InputError


class Purpose(StrEnum):
    """The purposes of EHDS art. 53(1)."""

    PUBLIC_HEALTH = "public_health"
    POLICY = "policy"
    STATISTICS = "statistics"
    EDUCATION = "education"
    SCIENTIFIC_RESEARCH = "scientific_research"
    IMPROVING_CARE = "improving_care"


class DataForm(StrEnum):
    """How the data are processed (EHDS art. 66: anonymised unless justified)."""

    ANONYMISED = "anonymised"
    PSEUDONYMISED = "pseudonymised"


class Pet(StrEnum):
    """Privacy-enhancing technologies a request may ask to use."""

    FEDERATED = "federated_analysis"
    LINKAGE = "linkage"
    MPC = "mpc"
    DP = "differential_privacy"
    SECURE_AGGREGATION = "secure_aggregation"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Pico(_Strict):
    """The research question as population, intervention, comparison, outcome."""

    population: str = Field(min_length=1)
    intervention: str = Field(min_length=1)
    comparison: str = ""
    outcome: str = Field(min_length=1)


class Variable(_Strict):
    """A requested variable and whether it identifies a person (directly or not)."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    identifying: bool = False


class DatasetRequest(_Strict):
    """A dataset asked of one holder, with the variables needed from it."""

    name: str = Field(min_length=1, max_length=100)
    variables: tuple[Variable, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> DatasetRequest:
        _require_unique("variables", [v.name for v in self.variables], "a variable")
        return self


class HolderPart(_Strict):
    """What the request asks of one data holder."""

    holder: str = Field(min_length=1, max_length=100)
    datasets: tuple[DatasetRequest, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> HolderPart:
        # Two entries of one dataset would merge into one in the policy, losing columns.
        _require_unique("datasets", [ds.name for ds in self.datasets], "a dataset")
        return self


class AnalysisRequest(_Strict):
    """An analysis the researcher intends to run, with bounds on its parameters.

    ``bounds`` maps a parameter name to ``{"min": x, "max": y}`` or to
    ``{"one_of": [...]}``, with ``"required": true`` when a task must give the
    parameter (a task that leaves out a bounded parameter otherwise passes that
    bound); the agreed bounds become part of each holder's policy.
    """

    algorithm: str = Field(min_length=1, max_length=64)
    description: str = ""
    bounds: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounds_readable(self) -> AnalysisRequest:
        # A bound the station cannot read would be no bound at all: refuse it here.
        for param, bound in self.bounds.items():
            _check_bound(param, bound)
        return self


def _require_unique(field: str, names: list[str], what: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{field} {names} name {what} twice ({', '.join(repeated)})")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_bound(param: str, bound: dict[str, Any]) -> None:
    unknown = sorted(set(bound) - {"min", "max", "one_of", "required"})
    if unknown or not set(bound) - {"required"}:
        raise ValueError(
            f"the bound of parameter {param!r} has keys {sorted(bound)}; write "
            '{"min": x, "max": y} (either or both) or {"one_of": [...]}'
        )
    if "required" in bound and not isinstance(bound["required"], bool):
        raise ValueError(f"required of parameter {param!r} must be true or false")
    for key in ("min", "max"):
        if key in bound and not _is_number(bound[key]):
            raise ValueError(f"{key} of parameter {param!r} must be a finite number")
    if "min" in bound and "max" in bound and bound["min"] > bound["max"]:
        raise ValueError(f"the bound of parameter {param!r} has min above max")
    if "one_of" in bound and (not isinstance(bound["one_of"], list) or not bound["one_of"]):
        raise ValueError(f"one_of of parameter {param!r} must be a non-empty list of values")


#: EHDS art. 61(4): the results are made public within this many months.
PUBLICATION_MONTHS = 18

_Day = TypeVar("_Day", bound=date)


def publication_deadline(end: _Day) -> _Day:
    """The last day to publish the results of processing that ends on ``end``.

    EHDS art. 61(4): no later than 18 months after the processing ends; where the
    month has no such day, its last day.

    Examples
    --------
    >>> publication_deadline(date(2027, 8, 31))
    datetime.date(2029, 2, 28)
    """
    index = end.month - 1 + PUBLICATION_MONTHS
    year, month = end.year + index // 12, index % 12 + 1
    return end.replace(
        year=year, month=month, day=min(end.day, calendar.monthrange(year, month)[1])
    )


class Period(_Strict):
    """How long the data are needed."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError("the period must end after it starts")
        return self


class DataRequest(_Strict):
    """The application for data access, sent once to every requested holder."""

    title: str = Field(min_length=3, max_length=200)
    lay_summary: str = Field(min_length=10)
    applicant: str = Field(min_length=1)
    organisation: str = Field(min_length=1)
    purpose: Purpose
    purpose_description: str = Field(min_length=1)
    question: Pico
    holders: tuple[HolderPart, ...] = Field(min_length=1)
    data_form: DataForm = DataForm.ANONYMISED
    pseudonymisation_justification: str = ""
    analyses: tuple[AnalysisRequest, ...] = Field(min_length=1)
    pets: tuple[Pet, ...] = (Pet.FEDERATED,)
    safeguards: str = Field(min_length=1)
    period: Period
    expected_outputs: str = Field(min_length=1)
    ethics_declaration: str = Field(min_length=1)
    max_tasks: int = Field(default=1000, ge=1)
    privacy_budget: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> DataRequest:
        if self.data_form is DataForm.PSEUDONYMISED and not self.pseudonymisation_justification:
            raise ValueError(
                "pseudonymised data need a justification (EHDS art. 68(1)(c)); fill in "
                "pseudonymisation_justification or ask for anonymised data"
            )
        names = [part.holder for part in self.holders]
        if len(set(names)) != len(names):
            raise ValueError(f"holders {names} name a holder twice")
        algorithms = [analysis.algorithm for analysis in self.analyses]
        if len(set(algorithms)) != len(algorithms):
            raise ValueError(f"analyses {algorithms} name an algorithm twice")
        return self

    @classmethod
    def parse(cls, raw: Any) -> DataRequest:
        """Validate a request; ``InputError`` names every field that is wrong."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InputError("the data request is not valid: " + describe(exc)) from None

    def part_for(self, holder: str) -> DataRequest:
        """The request as ``holder`` sees it: the common terms and its own part only.

        Raises
        ------
        InputError
            ``holder`` is not asked for data in this request.
        """
        own = tuple(part for part in self.holders if part.holder == holder)
        if not own:
            raise InputError(f"holder {holder!r} is not asked for data in this request.")
        return self.model_copy(update={"holders": own})

    @property
    def holder_names(self) -> tuple[str, ...]:
        """The requested holders, in the order the request names them."""
        return tuple(part.holder for part in self.holders)

    def variables_of(self, holder: str) -> dict[str, tuple[str, ...]]:
        """The dataset names and variable names asked of ``holder``."""
        part = self.part_for(holder).holders[0]
        return {ds.name: tuple(v.name for v in ds.variables) for ds in part.datasets}


def describe(error: ValidationError) -> str:
    """Pydantic's errors as one line per field: ``where: what``."""
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ())) or "request"
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


#: A complete example request: three holders, a logistic model and a survival analysis.
EXAMPLE: dict[str, Any] = {
    "title": "Lung cancer survival after first-line treatment",
    "lay_summary": "Do patients treated in the north live longer than elsewhere, "
    "taking age and sex into account?",
    "applicant": "ana",
    "organisation": "research",
    "purpose": "scientific_research",
    "purpose_description": "Observational study of survival after first-line treatment.",
    "question": {
        "population": "adults with advanced lung cancer",
        "intervention": "first-line treatment at the holder's centres",
        "comparison": "other centres",
        "outcome": "overall survival",
    },
    "holders": [
        {
            "holder": "umc-north",
            "datasets": [
                {
                    "name": "lung",
                    "variables": [
                        {"name": "time", "description": "days to death or censoring"},
                        {"name": "status", "description": "1 = died"},
                        {"name": "age"},
                        {"name": "sex"},
                    ],
                }
            ],
        },
        {
            "holder": "insurer-east",
            "datasets": [{"name": "lung", "variables": [{"name": "time"}, {"name": "age"}]}],
        },
        {
            "holder": "pharmacy-west",
            "datasets": [{"name": "lung", "variables": [{"name": "age"}, {"name": "sex"}]}],
        },
    ],
    "data_form": "anonymised",
    "analyses": [
        {"algorithm": "summary", "description": "descriptive statistics"},
        {"algorithm": "kaplan_meier", "description": "survival curves"},
        {
            "algorithm": "coxph",
            "description": "adjusted hazard ratios",
            "bounds": {"max_iterations": {"min": 1, "max": 50}},
        },
    ],
    "pets": ["federated_analysis"],
    "safeguards": "Only aggregates leave the stations; disclosure rules of each holder.",
    "period": {"start": "2026-12-01", "end": "2027-12-01"},
    "expected_outputs": "Kaplan-Meier curves, hazard ratios, a publication.",
    "ethics_declaration": "The study was reviewed by the METC; no stigmatising use.",
    "max_tasks": 500,
}
