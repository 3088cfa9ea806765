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
from sqlalchemy.orm import Session, joinedload

from perron.hub.db.models import Run, Station, Study, StudyOrganisation, Task, utcnow
from perron.hub.errors import NotFound
from perron.hub.services.studies import StudyView, view
from perron.protocol.errors import NotAuthorized, TaskCancelled

#: How many candidate runs one claim attempt tries before querying again.
_CANDIDATES = 5


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
        Run.status == "pending",
        and_(Run.status == "claimed", Run.claimed_at < cutoff),
    )


def claim_next(session: Session, station: Station, lease_seconds: float) -> Delivery | None:
    """Claim the oldest run for ``station`` that is pending or whose lease expired.

    Only runs addressed to this station, of tasks not cancelled, of studies that
    (still) include the station's organisation are considered.
    """
    candidates = session.scalars(
        select(Run.id)
        .join(Task, Task.task_id == Run.task_id)
        .join(
            StudyOrganisation,
            and_(
                StudyOrganisation.study_id == Task.study_id,
                StudyOrganisation.organisation_id == station.organisation_id,
            ),
        )
        .where(Run.station_id == station.id, Task.cancelled.is_(False))
        .where(_claimable(lease_seconds))
        .order_by(Run.id)
        .limit(_CANDIDATES)
    ).all()
    for run_id in candidates:
        claimed = session.scalar(
            update(Run)
            .where(Run.id == run_id, _claimable(lease_seconds))
            .values(status="claimed", claimed_at=utcnow())
            .returning(Run.id)
        )
        session.commit()
        if claimed is not None:
            return _delivery(session, run_id)
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


def task_of(session: Session, run_id: int) -> str:
    """The id of the task a run belongs to."""
    return session.get_one(Run, run_id).task_id


def _delivery(session: Session, run_id: int) -> Delivery:
    run = session.scalars(
        select(Run)
        .where(Run.id == run_id)
        .options(
            joinedload(Run.task).joinedload(Task.requester),
            joinedload(Run.task).joinedload(Task.study).selectinload(Study.organisations),
        )
    ).one()
    task = run.task
    envelope = json.loads(task.envelope)
    requester = Requester(
        task.requester.username, task.requester_verify_key, task.requester_box_key
    )
    return Delivery(run.id, task.task_id, view(task.study), envelope, requester)


def finish_run(session: Session, station: Station, run_id: int, status: str, payload: str) -> bool:
    """Store a station's sealed answer; return whether this call stored it.

    Idempotent: a second answer for a finished run is accepted and ignored (the first
    one stays), so a station may safely retry.

    Raises
    ------
    NotFound
        No such run.
    NotAuthorized
        The run is addressed to another station.
    TaskCancelled
        The task was cancelled; the answer is not stored.
    """
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id} on this hub.")
    if run.station_id != station.id:
        raise NotAuthorized(f"run {run_id} is addressed to another station.")
    if run.task.cancelled or run.status == "cancelled":
        raise TaskCancelled(f"task {run.task_id!r} was cancelled; the answer was not stored.")
    stored = session.scalar(
        update(Run)
        .where(Run.id == run_id, Run.status.in_(("pending", "claimed")))
        .values(status=status, payload=payload, finished_at=utcnow())
        .returning(Run.id)
    )
    session.commit()
    if stored is None:
        session.refresh(run)
        if run.status == "cancelled":
            raise TaskCancelled(f"task {run.task_id!r} was cancelled; the answer was not stored.")
    return stored is not None
