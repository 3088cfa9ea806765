"""A study's results board: researchers publish the results their clients computed.

The hub cannot read a partial (each is sealed for its researcher), so a result reaches
the study's pages only when its researcher publishes it: a document
(:class:`ResultDocument`: tables, an optional figure, the stations' errors) signed
with the researcher's keys, as :func:`perron.crypto.envelope.sign` makes it. The hub
checks that the author is a user member of the study, the size, the signature against
the author's registered verify key, and then the document's form; it stores the
envelope as signed, so a reader can check the signature again. Study members (users)
read the board.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.crypto.envelope import canonical, verify
from perron.hub.db.models import TITLE_LENGTH, StudyResult, User, utcnow
from perron.hub.errors import Conflict, NotFound
from perron.hub.services.studies import require_member
from perron.hub.services.surveillance import WEEK_PATTERN, checked_week
from perron.hub.services.tasks import TASK_ID_PATTERN
from perron.protocol.errors import InputError

#: Largest signed result (bytes of its canonical JSON).
MAX_RESULT_BYTES = 2 * 2**20
RESULT_ID_PATTERN = r"^[0-9a-f]{32}$"
Kind = Literal[
    "summary",
    "crosstab",
    "count",
    "glm",
    "coxph",
    "kaplan_meier",
    "logrank",
    "surveillance",
    "other",
]
KINDS: tuple[str, ...] = get_args(Kind)
_TEXT = 2000

Text = Annotated[str, StringConstraints(max_length=_TEXT)]
Cell = str | int | float | bool | None


def _same_lengths(columns: dict[str, list[Any]], where: str) -> None:
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{where}: {', '.join(lengths)} must be of one length, got {lengths}")


def _iso(text: str) -> str:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("created_at must be an ISO 8601 date and time") from None
    return text


class _Strict(BaseModel):
    # Checked as sent: the signed envelope is stored, not this model.
    model_config = ConfigDict(strict=True)


class Table(_Strict):
    """A table of the result: its columns and rows of plain values."""

    name: Text
    columns: Annotated[list[Text], Field(max_length=1000)]
    rows: list[list[Cell]]

    @model_validator(mode="after")
    def _rectangular(self) -> Table:
        for index, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"row {index} of table {self.name!r} has {len(row)} cells for "
                    f"{len(self.columns)} columns"
                )
        return self


class Curve(_Strict):
    """One Kaplan-Meier curve: survival at each time, with its confidence band."""

    label: Text
    time: list[float]
    survival: list[float]
    lower: list[float | None]
    upper: list[float | None]

    @model_validator(mode="after")
    def _aligned(self) -> Curve:
        values = {"time": self.time, "survival": self.survival}
        _same_lengths({**values, "lower": self.lower, "upper": self.upper}, self.label)
        return self


class KaplanMeierFigure(_Strict):
    """Survival curves over ``duration``."""

    type: Literal["km"]
    duration: Text
    curves: Annotated[list[Curve], Field(max_length=100)]


class Term(_Strict):
    """One row of a forest plot."""

    name: Text
    estimate: float
    lower: float | None
    upper: float | None


def _reference(value: float) -> float:
    if value not in (0.0, 1.0):
        raise ValueError("the reference line of a forest plot is at 1.0 (ratios) or 0.0")
    return value


class ForestFigure(_Strict):
    """Estimates with confidence intervals; ratios already exponentiated (scale log)."""

    type: Literal["forest"]
    label: Literal["Hazard ratio", "Odds ratio", "Rate ratio", "Coefficient"]
    scale: Literal["log", "linear"]
    reference: Annotated[float, AfterValidator(_reference)]
    terms: Annotated[list[Term], Field(max_length=10_000)]


Week = Annotated[str, StringConstraints(pattern=WEEK_PATTERN), AfterValidator(checked_week)]


class DetectionFigure(_Strict):
    """Aberration detection over weeks: observed counts, the expected count and the
    upper bound of each assessed week, and which weeks alarmed.

    ``None`` is an unknown count, or a week that could not be assessed (it never
    alarms).
    """

    type: Literal["detection"]
    method: Text
    weeks: Annotated[list[Week], Field(max_length=1000)]
    observed: list[float | None]
    expected: list[float | None]
    upperbound: list[float | None]
    alarm: list[bool]

    @model_validator(mode="after")
    def _aligned(self) -> DetectionFigure:
        values: dict[str, list[Any]] = {
            "weeks": self.weeks,
            "observed": self.observed,
            "expected": self.expected,
            "upperbound": self.upperbound,
            "alarm": self.alarm,
        }
        _same_lengths(values, "detection")
        if any(later <= earlier for earlier, later in pairwise(self.weeks)):
            raise ValueError("detection: the weeks must be in order, each once")
        return self


class StationError(_Strict):
    """A station that did not contribute, and why."""

    station: Text
    kind: Text
    message: Text


class ResultDocument(_Strict):
    """The signed body of a published result (what ``Session.publish`` signs)."""

    result_id: Annotated[str, StringConstraints(pattern=RESULT_ID_PATTERN)]
    study: str
    title: Annotated[
        str, StringConstraints(min_length=1, max_length=TITLE_LENGTH, pattern=r"^[^\x00]*$")
    ]
    kind: Kind
    task_ids: Annotated[
        list[Annotated[str, StringConstraints(pattern=TASK_ID_PATTERN)]],
        Field(max_length=1000),
    ]
    created_at: Annotated[str, StringConstraints(max_length=64), AfterValidator(_iso)]
    tables: Annotated[list[Table], Field(max_length=1000)]
    figure: (
        Annotated[KaplanMeierFigure | ForestFigure | DetectionFigure, Field(discriminator="type")]
        | None
    )
    errors: Annotated[list[StationError], Field(max_length=1000)]


@dataclass(frozen=True)
class ResultSummary:
    """A result on the board."""

    result_id: str
    title: str
    kind: Kind
    author: str
    created_at: datetime


@dataclass(frozen=True)
class ResultView(ResultSummary):
    """A result with its signed envelope ``{"body", "signature"}``."""

    envelope: dict[str, Any]


def publish(session: Session, user: User, study_name: str, envelope: dict[str, Any]) -> str:
    """Store a result signed by ``user`` on the board of study ``study_name``; its id.

    Raises
    ------
    NotFound
        No such study.
    NotAuthorized
        ``user`` is not a member of the study.
    InputError
        Too large, no registered keys, or the document does not fit
        :class:`ResultDocument` or names another study.
    TamperedMessage
        The signature does not verify with ``user``'s verify key.
    Conflict
        A result with this id was published before.
    """
    study = require_member(session, study_name, user)
    signed = canonical(envelope)
    size = len(signed)
    if size > MAX_RESULT_BYTES:
        raise InputError(
            f"the signed result is {size} bytes; the board takes at most {MAX_RESULT_BYTES} "
            "(2 MiB): publish fewer rows or split the tables into several results."
        )
    if user.verify_key is None:
        raise InputError("register your public keys first (PUT /api/me/keys), then publish.")
    body = verify(envelope, user.verify_key)
    document = _document(body)
    if document.study != study_name:
        raise InputError(
            f"the signed result names study {document.study!r} but was sent to study "
            f"{study_name!r}; publish it to the study it names."
        )
    session.add(
        StudyResult(
            result_id=document.result_id,
            study_id=study.id,
            author_id=user.id,
            title=document.title,
            kind=document.kind,
            envelope=signed.decode("ascii"),
            created_at=utcnow(),
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"a result with id {document.result_id!r} was published before; every result "
            "needs a new id (uuid4().hex)."
        ) from None
    return document.result_id


def _document(body: dict[str, Any]) -> ResultDocument:
    try:
        _storable(body, "body")
        return ResultDocument.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()[:10]
        )
        raise InputError(f"the signed result does not fit the board's form: {problems}") from None
    except ValueError as error:
        raise InputError(f"the signed result cannot be stored: {error}.") from None


def _storable(value: Any, where: str) -> None:
    """Refuse what could be stored but not sent back as JSON (NaN, lone surrogates)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is NaN or infinite, which JSON cannot carry")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where} is not valid Unicode (a lone surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, where)
            _storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _storable(item, f"{where}[{index}]")


def _board(session: Session, user: User, study_name: str) -> int:
    return require_member(session, study_name, user).id


def results_of(session: Session, user: User, study_name: str, limit: int) -> list[ResultSummary]:
    """The newest ``limit`` results of the study's board, newest first (members only).

    Raises
    ------
    NotFound
        No such study.
    NotAuthorized
        ``user`` is not a member of the study.
    """
    study_id = _board(session, user, study_name)
    rows = session.execute(
        select(
            StudyResult.result_id,
            StudyResult.title,
            StudyResult.kind,
            User.username,
            StudyResult.created_at,
        )
        .join(User, User.id == StudyResult.author_id)
        .where(StudyResult.study_id == study_id)
        .order_by(StudyResult.created_at.desc(), StudyResult.id.desc())
        .limit(limit)
    )
    return [
        ResultSummary(result_id, title, cast(Kind, kind), author, created_at)
        for result_id, title, kind, author, created_at in rows
    ]


def result_of(session: Session, user: User, study_name: str, result_id: str) -> ResultView:
    """One result of the study's board with its signed envelope (members only).

    Raises
    ------
    NotFound
        No such study, or no such result on its board.
    NotAuthorized
        ``user`` is not a member of the study.
    """
    study_id = _board(session, user, study_name)
    row = session.execute(
        select(StudyResult, User.username)
        .join(User, User.id == StudyResult.author_id)
        .where(StudyResult.study_id == study_id, StudyResult.result_id == result_id)
    ).first()
    if row is None:
        raise NotFound(
            f"no result {result_id!r} on the board of study {study_name!r}; "
            f"GET /api/studies/{study_name}/results lists them."
        )
    stored, author = row
    return ResultView(
        result_id=stored.result_id,
        title=stored.title,
        kind=cast(Kind, stored.kind),
        author=author,
        created_at=stored.created_at,
        envelope=json.loads(stored.envelope),
    )
