"""What the HTTP API accepts and answers, separate from the tables (docs/network.md).

Times are seconds since the epoch (like ``issued_at`` / ``expires_at`` in a signed
task), except in the governance answers (tracks, policies, the register) and the
answers for the web pages (station state and reports, task lists, the results
board), which carry ISO 8601 dates and times. Names are 1 to 100
letters, digits, ``.``, ``_`` or ``-``. Free text must be storable: no NUL
characters, no lone surrogates, no NaN or infinity in JSON values
(docs/hub-governance.md).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal, overload

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SkipValidation,
    StrictBool,
    StringConstraints,
    model_validator,
)

from perron.governance.request import DataRequest
from perron.governance.roles import Role
from perron.governance.route import Outcome, Step
from perron.hub.db.models import NAME_PATTERN
from perron.hub.services.documents import MAX_DOCUMENT_BYTES
from perron.hub.services.requests import RequestStatus
from perron.hub.services.results import RESULT_ID_PATTERN, Kind, ResultDocument
from perron.hub.services.surveillance import MAX_ALARM_WEEKS, WEEK_PATTERN

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
RunStatus = Literal["pending", "claimed", "done", "failed", "cancelled"]
#: Largest sealed partial accepted (base64 characters).
MAX_PAYLOAD = 16 * 2**20
#: Base64 (standard alphabet, padded), the form :func:`perron.crypto.envelope.seal` returns.
BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"
#: Base64 of a 32-byte public key.
PUBLIC_KEY_PATTERN = r"^[A-Za-z0-9+/]{43}=$"
PublicKey = Annotated[str, StringConstraints(pattern=PUBLIC_KEY_PATTERN)]


class ErrorPublic(BaseModel):
    """Every error answer: what happened and the Perron error class."""

    detail: str
    kind: str


class TokenRequest(BaseModel):
    """A login."""

    username: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TokenPublic(BaseModel):
    """A new user token; shown once."""

    token: str
    expires_at: float


class MePublic(BaseModel):
    """The calling user: hub role, organisation and the roles held in it."""

    username: str
    organisation: str
    role: Literal["admin", "researcher"]
    roles: list[Role]


class KeysIn(BaseModel):
    """Public keys (base64), from :meth:`perron.crypto.keys.KeyPair.public`."""

    verify_key: PublicKey
    box_key: PublicKey


class StudyPublic(BaseModel):
    """A study and its organisations."""

    name: str
    organisations: list[str]


class StationPublic(BaseModel):
    """A station of a study; keys are ``null`` until the station registers them."""

    name: str
    organisation: str
    verify_key: str | None
    box_key: str | None


class EnvelopeIn(BaseModel):
    """A signed task, from :func:`perron.crypto.envelope.sign`."""

    body: dict[str, Any]
    signature: Annotated[str, StringConstraints(max_length=200)]


class TaskCreate(BaseModel):
    """A task to send: the signed envelope and the stations to run it at."""

    envelope: EnvelopeIn
    stations: Annotated[list[Name], Field(min_length=1, max_length=1000)]


class RunPublic(BaseModel):
    """One station's part of a task; ``payload`` is the sealed partial."""

    station: str
    status: RunStatus
    payload: str | None


class TaskPublic(BaseModel):
    """A task's state."""

    task_id: str
    status: RunStatus
    runs: list[RunPublic]


class TaskCreated(TaskPublic):
    """The stored task (its id is the one in the signed body) and its state."""


class RequesterPublic(BaseModel):
    """The researcher who signed a task and the keys to verify it and seal for them."""

    username: str
    verify_key: str
    box_key: str


class DeliveryPublic(BaseModel):
    """A run for a station."""

    run_id: int
    task_id: str
    study: StudyPublic
    envelope: dict[str, Any]
    requester: RequesterPublic


class RunResult(BaseModel):
    """A station's answer: the partial sealed for the requester."""

    status: Literal["done", "failed"]
    payload: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_PAYLOAD, pattern=BASE64_PATTERN)
    ]


# Governance (docs/hub-governance.md)

#: A request's or policy's id (uuid4 hex).
REQUEST_ID_PATTERN = r"^[0-9a-f]{32}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
#: Largest JSON object of disclosure settings (characters of its JSON).
MAX_SETTINGS = 10_000
#: Largest data request (characters of its JSON).
MAX_REQUEST = 1_000_000
MAX_COMMENT = 20_000


def storable(value: Any, where: str = "value") -> Any:
    """``value`` if every string and number in it can be stored and sent back as JSON.

    (NUL characters are refused by the ``pattern`` of the text fields stored as
    they are; in JSON values, which are stored as ASCII JSON, they are harmless.)

    Raises
    ------
    ValueError
        A string holds a lone surrogate (it cannot be UTF-8), or a number is NaN or
        infinite.

    Examples
    --------
    >>> storable({"k": [1, "two"]})
    {'k': [1, 'two']}
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where} is not valid Unicode (a lone surrogate)") from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is NaN or infinite, which JSON cannot carry")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key, where)
            storable(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            storable(item, f"{where}[{index}]")
    return value


def _settings(value: dict[str, Any]) -> dict[str, Any]:
    storable(value, "disclosure")
    if len(json.dumps(value)) > MAX_SETTINGS:
        raise ValueError(f"disclosure settings are limited to {MAX_SETTINGS} characters of JSON")
    return value


#: Text stored as it is: no NUL characters (PostgreSQL text cannot hold them).
NO_NUL_PATTERN = r"^[^\x00]*$"
Comment = Annotated[
    str,
    StringConstraints(max_length=MAX_COMMENT, pattern=NO_NUL_PATTERN),
    AfterValidator(storable),
]
Settings = Annotated[dict[str, Any], AfterValidator(_settings)]


class RolesIn(BaseModel):
    """The roles a member holds in their organisation (replaces the set)."""

    roles: Annotated[list[Role], Field(max_length=len(Role))]


class MemberRolesPublic(BaseModel):
    """A member's roles after a grant (researcher is implied by the hub role)."""

    username: str
    organisation: str
    roles: list[Role]


class RequestCreate(BaseModel):
    """A data request for a study (created if new).

    ``request`` is documented as a :class:`DataRequest` but validated by the hub
    after it checked that the caller may apply with it (applicant, organisation,
    role): an outsider learns nothing from the validation of a request.
    """

    study: Name
    # At run time the JSON value as sent (SkipValidation): not yet a DataRequest.
    request: SkipValidation[DataRequest]

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        storable(data, "body")
        if isinstance(data, dict) and len(json.dumps(data)) > MAX_REQUEST:
            raise ValueError(f"a data request is limited to {MAX_REQUEST} characters of JSON")
        return data


class RequestCreated(BaseModel):
    """The id of the stored request."""

    request_id: str


class RequestSummaryPublic(BaseModel):
    """A request in the caller's list; a holder's user sees only its own holder."""

    request_id: str
    study: str
    title: str
    holders: list[str]
    status: str


class AttachmentPublic(BaseModel):
    """A document attached to a decision."""

    name: str
    sha256: str
    media_type: str


class EventPublic(BaseModel):
    """A decision or send-back on a track."""

    kind: Literal["decision", "send_back"]
    step: Step
    actor: str
    roles: list[Role]
    at: str
    outcome: Outcome | None
    comment: str
    attachments: list[AttachmentPublic]


class TrackPublic(BaseModel):
    """A holder's track (:meth:`perron.governance.route.Track.to_wire`)."""

    holder: str
    current: Step
    lead: Role
    status: Literal["in_progress", "stopped", "approved", "completed"]
    decisions: dict[str, EventPublic]
    history: list[EventPublic]


class RequestPublic(BaseModel):
    """A request as the caller may see it, with the tracks the caller may see."""

    request_id: str
    study: str
    request: DataRequest
    tracks: dict[str, TrackPublic]


class DecisionIn(BaseModel):
    """A go / no-go on the current step of a track."""

    step: Step
    outcome: Outcome
    comment: Comment = ""
    attachments: Annotated[list[Sha256], Field(max_length=100)] = []
    #: Disclosure settings agreed on a holder-side step (merged into the policy).
    disclosure: Settings | None = None


class SendBackIn(BaseModel):
    """Send a track back to an earlier step."""

    to: Step
    comment: Comment = ""


class DocumentIn(BaseModel):
    """A text document of a request; ``holder`` addresses it to one holder."""

    name: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200, pattern=NO_NUL_PATTERN),
        AfterValidator(storable),
    ]
    media_type: Annotated[
        str, StringConstraints(pattern=r"^[a-z]+/[a-z0-9.+-]+$", max_length=100)
    ] = "text/markdown"
    content: Annotated[
        str,
        StringConstraints(max_length=MAX_DOCUMENT_BYTES, pattern=NO_NUL_PATTERN),
        AfterValidator(storable),
    ]
    holder: Name | None = None


class DocumentCreated(BaseModel):
    """The SHA-256 (hex) of the stored document's UTF-8 bytes."""

    sha256: str


class DocumentPublic(BaseModel):
    """A document of a request."""

    name: str
    media_type: str
    content: str


class SignatureIn(BaseModel):
    """An approver's signature over a policy (:meth:`SignedPolicy.signed` makes one)."""

    role: Role
    signer: Name
    verify_key: PublicKey
    signature: Annotated[str, StringConstraints(max_length=128, pattern=BASE64_PATTERN)]


class SignaturePublic(BaseModel):
    """A signature over a policy."""

    role: Role
    signer: str
    verify_key: str
    signature: str


class SignedPolicyPublic(BaseModel):
    """A policy with its signatures (:meth:`SignedPolicy.to_wire`)."""

    policy: dict[str, Any]
    signatures: list[SignaturePublic]


Publication = Annotated[
    str, StringConstraints(max_length=2000, pattern=NO_NUL_PATTERN), AfterValidator(storable)
]


class ResultsIn(BaseModel):
    """Results of a request: a summary and publications."""

    summary: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_COMMENT, pattern=NO_NUL_PATTERN),
        AfterValidator(storable),
    ]
    publications: Annotated[list[Publication], Field(max_length=100)] = []


class HolderStatusPublic(BaseModel):
    """A holder of a request in the register, with its track's status."""

    holder: str
    status: str


class PeriodPublic(BaseModel):
    """The period the data are needed for (ISO dates)."""

    start: str
    end: str


class ResultPublic(BaseModel):
    """Reported results, with the time they were reported (ISO 8601)."""

    summary: str
    publications: list[str]
    reported_at: str


class RegisterEntryPublic(BaseModel):
    """One request in the public register."""

    request_id: str
    study: str
    title: str
    lay_summary: str
    purpose: str
    applicant_organisation: str
    holders: list[HolderStatusPublic]
    status: RequestStatus
    period: PeriodPublic
    results: list[ResultPublic]
    registered_at: str
    results_due: str


# The web pages (docs/ui.md): stations' state and reports, task lists, results board.

#: A station's report carries at most this many of its audit log's last lines.
MAX_AUDIT_LINES = 5000
MAX_AUDIT_LINE = 20_000
#: Largest report (characters of its audit lines together).
MAX_REPORT = 8 * 2**20
ShortText = Annotated[
    str, StringConstraints(max_length=200, pattern=NO_NUL_PATTERN), AfterValidator(storable)
]


def _whole_number(value: Any) -> Any:
    """A JSON integer (``3`` or ``3.0``) as an int; a bool or a string is not one."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


#: A count: a JSON integer, 0 or more (``true`` or ``"3"`` are not counts).
Count = Annotated[int, Field(ge=0), BeforeValidator(_whole_number)]
Digest = Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9+/=:._-]*$")]


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
def iso(moment: datetime | None) -> str | None:
    """An answer's time as ISO 8601 (UTC), or ``None``.

    Examples
    --------
    >>> from datetime import UTC
    >>> iso(datetime(2026, 12, 14, 9, 30, tzinfo=UTC))
    '2026-12-14T09:30:00+00:00'
    """
    return None if moment is None else moment.isoformat()


class StationStatePublic(BaseModel):
    """A station of an organisation: whether it is online, its version and transport."""

    name: str
    organisation: str
    online: bool
    version: str | None
    transport: Literal["long-poll", "websocket"] | None
    last_seen_at: str | None
    verify_key: str | None
    box_key: str | None
    created_at: str


class Objections(BaseModel):
    """How many objections a station holds, when they changed and a digest; no identifier."""

    count: Count
    updated_at: Annotated[str, StringConstraints(max_length=64, pattern=NO_NUL_PATTERN)] | None
    digest: Digest | None


AuditLine = Annotated[
    str,
    StringConstraints(max_length=MAX_AUDIT_LINE, pattern=NO_NUL_PATTERN),
    AfterValidator(storable),
]


class StationReportIn(BaseModel):
    """A station's report: the last lines of its audit log as written, objections, datasets."""

    audit_lines: Annotated[list[AuditLine], Field(max_length=MAX_AUDIT_LINES)]
    #: Lines in the whole log (``audit_lines`` are its last ones).
    audit_total: Count
    objections: Objections
    datasets: Annotated[list[ShortText], Field(max_length=1000)]

    @model_validator(mode="after")
    def _size(self) -> StationReportIn:
        if sum(len(line) for line in self.audit_lines) > MAX_REPORT:
            raise ValueError(f"audit lines are limited to {MAX_REPORT} characters together")
        return self


class StationReportPublic(BaseModel):
    """A station's last report and when it came (ISO 8601)."""

    station: str
    organisation: str
    reported_at: str
    audit_lines: list[str]
    audit_total: int
    objections: Objections
    datasets: list[str]


class TaskRunSummaryPublic(BaseModel):
    """One station's part of a task in a task list (no payload)."""

    station: str
    status: RunStatus
    claimed_at: str | None
    finished_at: str | None


class TaskSummaryPublic(BaseModel):
    """A task of a study: who sent which algorithm when, and how far it got."""

    task_id: str
    algorithm: str | None
    requester: str
    created_at: str
    cancelled: bool
    status: RunStatus
    runs: list[TaskRunSummaryPublic]


class SignedResultIn(BaseModel):
    """A result document signed by its author (:func:`perron.crypto.envelope.sign`).

    ``body`` is documented as a :class:`ResultDocument` but checked by the hub after it
    checked the author and the signature.
    """

    # At run time the JSON value as sent (SkipValidation): not yet a ResultDocument.
    body: SkipValidation[ResultDocument]
    signature: Annotated[str, StringConstraints(max_length=200)]


class BoardResultCreate(BaseModel):
    """A result to publish on a study's board."""

    envelope: SignedResultIn


class BoardResultCreated(BaseModel):
    """The id of the published result (the one in its signed body)."""

    result_id: str


class BoardResultSummaryPublic(BaseModel):
    """A result on a study's board."""

    result_id: str
    title: str
    kind: Kind
    author: str
    created_at: str


class BoardResultPublic(BoardResultSummaryPublic):
    """A result on a study's board with its signed envelope ``{"body", "signature"}``."""

    envelope: dict[str, Any]


# Standing surveillance (perron.hub.services.surveillance)

#: A week of the ISO calendar, ``"2024-W05"``. Whether the year has the week (a W53) is
#: checked by the service, after the caller and the job: the pattern cannot say it.
WeekText = Annotated[str, StringConstraints(max_length=8, pattern=WEEK_PATTERN)]
Weekday = Annotated[int, Field(ge=1, le=7), BeforeValidator(_whole_number)]
Hour = Annotated[int, Field(ge=0, le=23), BeforeValidator(_whole_number)]


class SurveillanceJobIn(BaseModel):
    """A surveillance job: its spec (opaque to the hub) and its weekly slot (UTC).

    Week W is assessed at the slot in week W + 1: ISO ``weekday`` (1 = Monday) at
    ``hour`` UTC.
    """

    #: The weekly-count request and the detection settings (at most 64 KiB of JSON).
    spec: dict[str, Any]
    weekday: Weekday
    hour: Hour


class SurveillanceRunIn(BaseModel):
    """A week a job's runner assessed and the signal it published to the board."""

    week: WeekText
    #: A result of kind ``"surveillance"`` on the study's board, published by the owner.
    result_id: Annotated[str, StringConstraints(pattern=RESULT_ID_PATTERN)]
    alarm: StrictBool
    alarm_weeks: Annotated[list[WeekText], Field(max_length=MAX_ALARM_WEEKS)]


class SurveillanceRunPublic(BaseModel):
    """A recorded run of a job."""

    week: str
    result_id: str
    alarm: bool
    alarm_weeks: list[str]
    created_at: str


class SurveillanceLatestRunPublic(BaseModel):
    """The run of a job's latest week."""

    week: str
    alarm: bool
    result_id: str


class SurveillanceJobPublic(BaseModel):
    """A job, its schedule, when it is next due (ISO 8601) and its latest run."""

    study: str
    name: str
    owner: str
    spec: dict[str, Any]
    weekday: int
    hour: int
    created_at: str
    last_week: str | None
    last_run_at: str | None
    next_due: str
    due: bool
    latest_run: SurveillanceLatestRunPublic | None


class SurveillanceJobDetailPublic(SurveillanceJobPublic):
    """A job with its runs, the latest week first."""

    runs: list[SurveillanceRunPublic]


class SurveillanceDuePublic(BaseModel):
    """A job of the caller's that is due: what to run and the ``week`` to assess.

    ``last_week`` is the latest week recorded before (``None`` before the first run).
    """

    study: str
    name: str
    spec: dict[str, Any]
    week: str
    last_week: str | None
    weekday: int
    hour: int
