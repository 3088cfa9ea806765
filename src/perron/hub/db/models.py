"""The hub's tables (SQLAlchemy 2, typed ORM).

What is stored, and what is not: password hashes (Argon2id), SHA-256 hashes of
tokens, public keys, the signed task envelopes (the researcher's request, which names
an algorithm and its parameters, never data) and the sealed partials as the stations
sent them (ciphertext for the researcher; the hub holds no key to open it).

Governance (:mod:`perron.governance`): the roles people hold in their organisation,
data requests and the events of each holder's track (the state is what replaying
them gives, never stored), the documents attached to decisions, the policies made
when a track is approved with their approvers' signatures, and reported results.

For the web pages: when each station was last seen (and with which version and
transport), the last report each station pushed (its audit lines, a count of
objections, its dataset names; never an identifier), and the results researchers
published to a study's board, signed (documents their clients computed from the
partials; the hub cannot read a partial).

Standing surveillance: each job's schedule, its owner and its spec (opaque to the
hub), and the runs its owner's runner recorded (the week, the result on the board,
the alarms); the hub computes nothing of them.

Times are stored as naive UTC (:class:`UTCDateTime`) so SQLite and PostgreSQL
compare them the same way; Python always sees timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from perron.governance.roles import Role

ROLES = ("admin", "researcher")
#: The roles a person may hold in their organisation (:class:`Role`).
ORGANISATION_ROLES = tuple(role.value for role in Role)
EVENT_KINDS = ("decision", "send_back")
RUN_STATUSES = ("pending", "claimed", "done", "failed", "cancelled")
#: A run in one of these states has its answer (or will never get one).
FINISHED = ("done", "failed", "cancelled")
NAME_LENGTH = 100
#: Names of organisations, users, stations and studies.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
KEY_LENGTH = 64
TASK_ID_LENGTH = 64
#: Data requests and policies are named by a uuid4 hex.
REQUEST_ID_LENGTH = 32
#: A station's software version, from its ``X-Perron-Version`` header.
VERSION_LENGTH = 64
#: How a station takes its runs: ``"long-poll"`` or ``"websocket"``.
TRANSPORT_LENGTH = 16
#: A published result's title.
TITLE_LENGTH = 200

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware datetime to naive UTC; a naive one is refused (its zone is unknown)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the hub stores timezone-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """Naive UTC from the database to an aware datetime."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Organisation(Base):
    """A data holder or a research group; users and stations belong to one."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    """A person: an ``admin`` or a ``researcher``."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    verify_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    box_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organisation: Mapped[Organisation] = relationship()


class Station(Base):
    """A data holder's node; it authenticates with a long-lived station token."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    verify_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    box_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When the station last called the hub (written at most every few seconds).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The version the station last said it runs (``X-Perron-Version``).
    version: Mapped[str | None] = mapped_column(String(VERSION_LENGTH))
    #: How the station last took its runs: ``"long-poll"`` or ``"websocket"``.
    transport: Mapped[str | None] = mapped_column(String(TRANSPORT_LENGTH))

    organisation: Mapped[Organisation] = relationship()


class StationReport(Base):
    """The last report a station pushed: audit lines, objections, dataset names (JSON)."""

    __tablename__ = "station_reports"

    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``{"audit_lines", "audit_total", "objections", "datasets"}`` as JSON (ASCII).
    content: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Token(Base):
    """A bearer token, stored as the SHA-256 of its text; it names one principal."""

    __tablename__ = "tokens"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (station_id IS NULL)", name="one_principal"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    station_id: Mapped[int | None] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: ``None``: does not expire (station tokens; revoke them by rotation).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User | None] = relationship()
    station: Mapped[Station | None] = relationship()


class Study(Base):
    """A collaboration of organisations; its researchers may send tasks to its stations."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organisations: Mapped[list[Organisation]] = relationship(
        secondary="study_organisations", viewonly=True, order_by=Organisation.name
    )


class StudyOrganisation(Base):
    """An organisation taking part in a study (its stations may be addressed)."""

    __tablename__ = "study_organisations"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )


class StudyUser(Base):
    """A user who is a member of a study."""

    __tablename__ = "study_users"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class Task(Base):
    """A signed task, as the researcher sent it, addressed to some stations."""

    __tablename__ = "tasks"

    #: Chosen by the client (a uuid4 hex) and signed inside the envelope.
    task_id: Mapped[str] = mapped_column(String(TASK_ID_LENGTH), primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The researcher's public keys when the task was sent: the station verifies the
    #: envelope and seals its answer with these, even if the researcher rotates keys.
    requester_verify_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    requester_box_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    #: The signed envelope ``{"body", "signature"}`` as canonical JSON.
    envelope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)

    study: Mapped[Study] = relationship()
    requester: Mapped[User] = relationship()
    runs: Mapped[list[Run]] = relationship(back_populates="task", order_by="Run.id")


class Run(Base):
    """One task at one station: its delivery state and the sealed answer."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("task_id", "station_id", name="uq_runs_task_station"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        Index("ix_runs_station_status", "station_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.task_id", ondelete="CASCADE"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The sealed partial (base64 ciphertext for the requester), stored as given.
    payload: Mapped[str | None] = mapped_column(Text)

    task: Mapped[Task] = relationship(back_populates="runs")
    station: Mapped[Station] = relationship()


class UserRole(Base):
    """A role a user holds in their organisation (a user may hold several)."""

    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(_in("role", ORGANISATION_ROLES), name="role"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class RequestRecord(Base):
    """A data request (:class:`perron.governance.request.DataRequest`) for a study."""

    __tablename__ = "data_requests"

    id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH), primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The applicant's organisation (the applicant side of the route).
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    #: The request as JSON (ASCII), as the applicant sent it.
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    study: Mapped[Study] = relationship()
    applicant: Mapped[User] = relationship()
    organisation: Mapped[Organisation] = relationship()


class RequestTrack(Base):
    """One holder's track of a data request; its state is the replay of its events."""

    __tablename__ = "request_tracks"

    request_id: Mapped[str] = mapped_column(
        ForeignKey("data_requests.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id"), primary_key=True, index=True
    )
    #: The holder's place in the request (the order the applicant named them).
    position: Mapped[int] = mapped_column(Integer)

    organisation: Mapped[Organisation] = relationship()


class TrackEvent(Base):
    """A decision or send-back on a track (:class:`perron.governance.route.Event`)."""

    __tablename__ = "track_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["request_id", "organisation_id"],
            ["request_tracks.request_id", "request_tracks.organisation_id"],
            ondelete="CASCADE",
        ),
        # Two decisions made at once on one track cannot both be stored.
        UniqueConstraint("request_id", "organisation_id", "seq", name="uq_track_events_seq"),
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH))
    organisation_id: Mapped[int] = mapped_column(Integer)
    #: 0, 1, 2, ... per track: the order of replay.
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: The actor's roles when deciding, comma-separated.
    roles: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text)
    #: ``[{"name", "sha256", "media_type"}, ...]`` as JSON.
    attachments: Mapped[str] = mapped_column(Text)
    #: Disclosure settings agreed with a holder-side decision (JSON), if any.
    disclosure: Mapped[str | None] = mapped_column(Text)


class RequestDocument(Base):
    """A text document of a request (a DPIA, an agreement, ...), named by its SHA-256.

    ``holder_id`` is ``None`` for a document shared with every holder; else only the
    applicant's side and that holder may read it.
    """

    __tablename__ = "request_documents"
    __table_args__ = (Index("ix_request_documents_request_sha256", "request_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("data_requests.id", ondelete="CASCADE"))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PolicyRecord(Base):
    """The policy an approved track gave its holder; ``withdrawn_at`` once it no longer holds."""

    __tablename__ = "study_policies"
    __table_args__ = (
        ForeignKeyConstraint(
            ["request_id", "organisation_id"],
            ["request_tracks.request_id", "request_tracks.organisation_id"],
            ondelete="CASCADE",
        ),
        Index("ix_study_policies_holder", "organisation_id", "withdrawn_at"),
    )

    policy_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH))
    organisation_id: Mapped[int] = mapped_column(Integer)
    #: :meth:`perron.governance.policy.StudyPolicy.to_wire` as canonical JSON.
    policy: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PolicySignature(Base):
    """An approver's signature over a policy; one per role."""

    __tablename__ = "policy_signatures"
    __table_args__ = (CheckConstraint(_in("role", ORGANISATION_ROLES), name="role"),)

    policy_id: Mapped[str] = mapped_column(
        ForeignKey("study_policies.policy_id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    signer: Mapped[str] = mapped_column(String(NAME_LENGTH))
    verify_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    signature: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RequestResult(Base):
    """Results the applicant reported for a request (EHDS art. 61(4)), appended."""

    __tablename__ = "request_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("data_requests.id", ondelete="CASCADE"), index=True
    )
    summary: Mapped[str] = mapped_column(Text)
    #: The publications as a JSON list of strings.
    publications: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StudyResult(Base):
    """A result a researcher published to a study's board, as the signed envelope."""

    __tablename__ = "study_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Chosen by the client (a uuid4 hex) and signed inside the envelope.
    result_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    #: The signed envelope ``{"body", "signature"}`` as canonical JSON.
    envelope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship()


#: A surveillance job's name: a slug, unique within its study.
JOB_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
JOB_NAME_LENGTH = 63
#: An ISO week as text, ``"2024-W05"`` (fixed width: text order is week order).
WEEK_LENGTH = 8


class SurveillanceJob(Base):
    """A standing weekly surveillance job of a study, kept for its owner's runner.

    The hub keeps the schedule and says when a week is due; the owner's runner (a
    client holding the owner's keys) runs the counts and the detection, publishes the
    signal to the study's board and records the run. ``spec`` is opaque to the hub.
    """

    __tablename__ = "surveillance_jobs"
    __table_args__ = (
        UniqueConstraint("study_id", "name", name="uq_surveillance_jobs_study_name"),
        CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
        CheckConstraint("hour BETWEEN 0 AND 23", name="hour"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    name: Mapped[str] = mapped_column(String(JOB_NAME_LENGTH))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The weekly-count request and the detection settings, as canonical JSON (ASCII).
    spec: Mapped[str] = mapped_column(Text)
    #: The slot in the week after the one assessed: ISO weekday (1 = Monday), hour UTC.
    weekday: Mapped[int] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The latest week a run was recorded for (``"YYYY-Www"``), ``None`` before the first.
    last_week: Mapped[str | None] = mapped_column(String(WEEK_LENGTH))
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    study: Mapped[Study] = relationship()
    owner: Mapped[User] = relationship()


class SurveillanceRun(Base):
    """One assessed week of a job: the signal published to the board and its alarms."""

    __tablename__ = "surveillance_runs"
    __table_args__ = (
        # A week is assessed (and its signal delivered) once.
        UniqueConstraint("job_id", "week", name="uq_surveillance_runs_job_week"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("surveillance_jobs.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(String(WEEK_LENGTH))
    #: The result (kind ``"surveillance"``) on the study's board.
    result_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH))
    alarm: Mapped[bool] = mapped_column(Boolean)
    #: The weeks that alarmed, a JSON list of ``"YYYY-Www"``.
    alarm_weeks: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
