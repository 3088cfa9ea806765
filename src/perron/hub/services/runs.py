"""Runs, the station's side: claim the next run addressed to it, post the sealed answer.

Delivery is at-least-once: claiming a run leases it for ``lease_seconds``; a run not
answered within its lease is claimed again (the station's replay guard answers a
redelivery from its stored result). A claim is a compare-and-set ``UPDATE`` on the
run's state, so two pollers never both win the same lease, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from perron.hub.db.models import Run, Station, utcnow
from perron.hub.db.tables import (
    ORGANISATIONS,
    RUNS,
    STUDIES,
    STUDY_ORGANISATIONS,
    TASKS,
    USERS,
)
from perron.hub.errors import NotFound
from perron.hub.services.auth import Caller
from perron.hub.services.studies import StudyView
from perron.protocol.errors import NotAuthorized, TaskCancelled

#: How many candidate runs one claim attempt tries before querying again.
_CANDIDATES = 5
#: The states of a run that may still change.
OPEN = ("pending", "claimed")


@dataclass(frozen=True)
class Requester:
    """Who signed a task, with the keys the task was sent under."""

    username: str
    verify_key: str
    box_key: str


@dataclass(frozen=True)
class Delivery:
    """A run handed to a station: the signed envelope and what it needs to answer."""

    run_id: int
    task_id: str
    study: StudyView
    envelope: dict[str, Any]
    requester: Requester


def _claimable(lease_seconds: float) -> ColumnElement[bool]:
    cutoff = utcnow() - timedelta(seconds=lease_seconds)
    return or_(
        RUNS.c.status == "pending",
        and_(RUNS.c.status == "claimed", RUNS.c.claimed_at < cutoff),
    )


def claim_next(session: Session, station: Caller, lease_seconds: float) -> Delivery | None:
    """Claim the oldest run for ``station`` that is pending or whose lease expired.

    Only runs addressed to this station, of tasks not cancelled, of studies that
    (still) include the station's organisation are considered.
    """
    connection = session.connection()
    candidates = (
        connection.execute(
            select(RUNS.c.id)
            .join_from(RUNS, TASKS, TASKS.c.task_id == RUNS.c.task_id)
            .join(
                STUDY_ORGANISATIONS,
                and_(
                    STUDY_ORGANISATIONS.c.study_id == TASKS.c.study_id,
                    STUDY_ORGANISATIONS.c.organisation_id == station.organisation_id,
                ),
            )
            .where(RUNS.c.station_id == station.id, TASKS.c.cancelled.is_(False))
            .where(_claimable(lease_seconds))
            .order_by(RUNS.c.id)
            .limit(_CANDIDATES)
        )
        .scalars()
        .all()
    )
    for run_id in candidates:
        claimed = connection.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id, _claimable(lease_seconds))
            .values(status="claimed", claimed_at=utcnow())
            .returning(RUNS.c.id)
        ).scalar()
        session.commit()
        if claimed is not None:
            return _delivery(session, run_id)
        connection = session.connection()
    return None


def release_claims(session: Session, station: Station) -> int:
    """Make the station's claimed, unanswered runs pending again (it restarted)."""
    released = session.execute(
        update(Run)
        .where(Run.station_id == station.id, Run.status == "claimed")
        .values(status="pending", claimed_at=None)
    )
    session.commit()
    return int(getattr(released, "rowcount", 0) or 0)


def _delivery(session: Session, run_id: int) -> Delivery:
    connection = session.connection()
    row = connection.execute(
        select(
            TASKS.c.task_id,
            TASKS.c.study_id,
            TASKS.c.envelope,
            TASKS.c.requester_verify_key,
            TASKS.c.requester_box_key,
            USERS.c.username,
            STUDIES.c.name.label("study"),
        )
        .join_from(RUNS, TASKS, TASKS.c.task_id == RUNS.c.task_id)
        .join(USERS, USERS.c.id == TASKS.c.requester_id)
        .join(STUDIES, STUDIES.c.id == TASKS.c.study_id)
        .where(RUNS.c.id == run_id)
    ).one()
    organisations = connection.execute(
        select(ORGANISATIONS.c.name)
        .join_from(
            STUDY_ORGANISATIONS,
            ORGANISATIONS,
            ORGANISATIONS.c.id == STUDY_ORGANISATIONS.c.organisation_id,
        )
        .where(STUDY_ORGANISATIONS.c.study_id == row.study_id)
        .order_by(ORGANISATIONS.c.name)
    ).scalars()
    requester = Requester(row.username, row.requester_verify_key, row.requester_box_key)
    study = StudyView(row.study, tuple(organisations))
    return Delivery(run_id, row.task_id, study, json.loads(row.envelope), requester)


def finish_run(
    session: Session, station: Caller, run_id: int, status: str, payload: str
) -> str | None:
    """Store a station's sealed answer; return the task's id if that finished the task.

    Idempotent: a second answer for a finished run is accepted and ignored (the first
    one stays), so a station may safely retry. ``None`` is returned when this answer
    was not stored or other runs of the task are still open.

    Raises
    ------
    NotFound
        No such run.
    NotAuthorized
        The run is addressed to another station.
    TaskCancelled
        The task was cancelled; the answer is not stored.
    """
    connection = session.connection()
    run = connection.execute(
        select(RUNS.c.station_id, RUNS.c.status, RUNS.c.task_id, TASKS.c.cancelled)
        .join_from(RUNS, TASKS, TASKS.c.task_id == RUNS.c.task_id)
        .where(RUNS.c.id == run_id)
    ).first()
    if run is None:
        raise NotFound(f"no run {run_id} on this hub.")
    if run.station_id != station.id:
        raise NotAuthorized(f"run {run_id} is addressed to another station.")
    cancelled = TaskCancelled(f"task {run.task_id!r} was cancelled; the answer was not stored.")
    if run.cancelled or run.status == "cancelled":
        raise cancelled
    stored = connection.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id, RUNS.c.status.in_(OPEN))
        .values(status=status, payload=payload, finished_at=utcnow())
        .returning(RUNS.c.id)
    ).scalar()
    if stored is None:  # answered before, or cancelled meanwhile
        now = connection.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()
        session.commit()
        if now == "cancelled":
            raise cancelled
        return None
    still_open = connection.execute(
        select(RUNS.c.id).where(RUNS.c.task_id == run.task_id, RUNS.c.status.in_(OPEN)).limit(1)
    ).scalar()
    session.commit()
    return run.task_id if still_open is None else None
