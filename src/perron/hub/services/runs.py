"""Runs, the station's side: claim the next run addressed to it, post the sealed answer.

Delivery is at-least-once: claiming a run leases it for ``lease_seconds``; a run not
answered within its lease is claimed again (the station's replay guard answers a
redelivery from its stored result). A claim is a compare-and-set ``UPDATE`` on the
run's state, so two pollers never both win the same lease, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Connection, and_, bindparam, or_, select, update
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
    #: The signed envelope as stored: canonical JSON text, relayed without re-encoding.
    envelope: str
    requester: Requester


def _claimable() -> ColumnElement[bool]:
    """Pending, or claimed before the ``cutoff`` parameter (the lease expired)."""
    return or_(
        RUNS.c.status == "pending",
        and_(RUNS.c.status == "claimed", RUNS.c.claimed_at < bindparam("cutoff")),
    )


# The statements of a round are built once: constructing one costs more than running
# it on SQLite.
_CANDIDATES_OF_STATION = (
    select(RUNS.c.id)
    .join_from(RUNS, TASKS, TASKS.c.task_id == RUNS.c.task_id)
    .join(
        STUDY_ORGANISATIONS,
        and_(
            STUDY_ORGANISATIONS.c.study_id == TASKS.c.study_id,
            STUDY_ORGANISATIONS.c.organisation_id == bindparam("organisation_id"),
        ),
    )
    .where(RUNS.c.station_id == bindparam("station_id"), TASKS.c.cancelled.is_(False))
    .where(_claimable())
    .order_by(RUNS.c.id)
    .limit(_CANDIDATES)
)
_CLAIM = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"), _claimable())
    .values(status="claimed", claimed_at=bindparam("now"))
    .returning(RUNS.c.id)
)
_DELIVERY = (
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
    .where(RUNS.c.id == bindparam("run_id"))
)
_ORGANISATIONS_OF_STUDY = (
    select(ORGANISATIONS.c.name)
    .join_from(
        STUDY_ORGANISATIONS,
        ORGANISATIONS,
        ORGANISATIONS.c.id == STUDY_ORGANISATIONS.c.organisation_id,
    )
    .where(STUDY_ORGANISATIONS.c.study_id == bindparam("study_id"))
    .order_by(ORGANISATIONS.c.name)
)
# Locks the task's row (PostgreSQL; SQLite has one writer anyway): answers to one task
# are stored one after the other, so the last one sees every other one and knows the
# task is finished. Without it two answers stored at once could each see the other's
# run still open, and nobody would wake the researcher.
_RUN_TO_FINISH = (
    select(RUNS.c.station_id, RUNS.c.status, RUNS.c.task_id, TASKS.c.cancelled)
    .join_from(RUNS, TASKS, TASKS.c.task_id == RUNS.c.task_id)
    .where(RUNS.c.id == bindparam("run_id"))
    .with_for_update(of=TASKS)
)
_FINISH = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"), RUNS.c.status.in_(OPEN))
    .values(
        status=bindparam("new_status"),
        payload=bindparam("new_payload"),
        finished_at=bindparam("now"),
    )
    .returning(RUNS.c.id)
)
_STATUS_OF_RUN = select(RUNS.c.status).where(RUNS.c.id == bindparam("run_id"))
_AN_OPEN_RUN_OF_TASK = (
    select(RUNS.c.id)
    .where(RUNS.c.task_id == bindparam("task_id"), RUNS.c.status.in_(OPEN))
    .limit(1)
)


def claim_next(connection: Connection, station: Caller, lease_seconds: float) -> Delivery | None:
    """Claim the oldest run for ``station`` that is pending or whose lease expired.

    Only runs addressed to this station, of tasks not cancelled, of studies that
    (still) include the station's organisation are considered. Each claim is
    committed before the run is handed out.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=lease_seconds)
    candidates = (
        connection.execute(
            _CANDIDATES_OF_STATION,
            {
                "station_id": station.id,
                "organisation_id": station.organisation_id,
                "cutoff": cutoff,
            },
        )
        .scalars()
        .all()
    )
    for run_id in candidates:
        claimed = connection.execute(
            _CLAIM, {"run_id": run_id, "cutoff": cutoff, "now": now}
        ).scalar()
        # Read in the claim's transaction: one commit per claim, not two transactions.
        delivery = None if claimed is None else _delivery(connection, run_id)
        connection.commit()
        if delivery is not None:
            return delivery
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


def _delivery(connection: Connection, run_id: int) -> Delivery:
    row = connection.execute(_DELIVERY, {"run_id": run_id}).one()
    organisations = connection.execute(
        _ORGANISATIONS_OF_STUDY, {"study_id": row.study_id}
    ).scalars()
    requester = Requester(row.username, row.requester_verify_key, row.requester_box_key)
    study = StudyView(row.study, tuple(organisations))
    return Delivery(run_id, row.task_id, study, row.envelope, requester)


def finish_run(
    connection: Connection, station: Caller, run_id: int, status: str, payload: str
) -> str | None:
    """Store a station's sealed answer; return the task's id if that finished the task.

    Idempotent: a second answer for a finished run is accepted and ignored (the first
    one stays), so a station may safely retry. ``None`` is returned when this answer
    was not stored or other runs of the task are still open. The answer is committed
    before this returns.

    Raises
    ------
    NotFound
        No such run.
    NotAuthorized
        The run is addressed to another station.
    TaskCancelled
        The task was cancelled; the answer is not stored.
    """
    run = connection.execute(_RUN_TO_FINISH, {"run_id": run_id}).first()
    if run is None:
        raise NotFound(f"no run {run_id} on this hub.")
    if run.station_id != station.id:
        raise NotAuthorized(f"run {run_id} is addressed to another station.")
    cancelled = TaskCancelled(f"task {run.task_id!r} was cancelled; the answer was not stored.")
    if run.cancelled or run.status == "cancelled":
        raise cancelled
    stored = connection.execute(
        _FINISH,
        {"run_id": run_id, "new_status": status, "new_payload": payload, "now": utcnow()},
    ).scalar()
    if stored is None:  # answered before, or cancelled meanwhile
        now = connection.execute(_STATUS_OF_RUN, {"run_id": run_id}).scalar()
        connection.commit()
        if now == "cancelled":
            raise cancelled
        return None
    still_open = connection.execute(_AN_OPEN_RUN_OF_TASK, {"task_id": run.task_id}).scalar()
    connection.commit()
    return run.task_id if still_open is None else None
