"""The hub's tables (SQLAlchemy 2, typed ORM).

What is stored, and what is not: password hashes (Argon2id), SHA-256 hashes of
tokens, public keys, the signed task envelopes (the researcher's request, which names
an algorithm and its parameters, never data) and the sealed partials as the stations
sent them (ciphertext for the researcher; the hub holds no key to open it).

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

ROLES = ("admin", "researcher")
RUN_STATUSES = ("pending", "claimed", "done", "failed", "cancelled")
#: A run in one of these states has its answer (or will never get one).
FINISHED = ("done", "failed", "cancelled")
NAME_LENGTH = 100
#: Names of organisations, users, stations and studies.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
KEY_LENGTH = 64
TASK_ID_LENGTH = 64

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

    organisation: Mapped[Organisation] = relationship()


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
