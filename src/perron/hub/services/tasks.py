"""Tasks, the researcher's side: send a signed task, follow it, cancel it; list a study's.

Before relaying a task the hub checks what it can: the envelope's signature against
the requester's registered verify key, that the signed body names this study and
this requester, and that every station addressed belongs to an organisation of the
study. The station checks the signature again; the hub's check only stops forged or
misdirected tasks early.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.crypto.envelope import canonical, verify
from perron.hub.db.models import (
    FINISHED,
    Run,
    Station,
    Task,
    User,
    utcnow,
)
from perron.hub.db.tables import RUNS, STATIONS, STUDIES, STUDY_ORGANISATIONS, STUDY_USERS, TASKS
from perron.hub.errors import Conflict, NotFound
from perron.hub.services.auth import Caller
from perron.hub.services.studies import no_study, not_a_member, require_member
from perron.protocol.errors import InputError, NotAuthorized

TASK_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
#: A run's state, and a task's (see :func:`_status`).
Status = Literal["pending", "claimed", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class RunView:
    """One station's part of a task; ``payload`` is the sealed partial, if any."""

    station: str
    status: str
    payload: str | None


@dataclass(frozen=True)
class TaskView:
    """A task's state as its requester sees it."""

    task_id: str
    status: str
    runs: tuple[RunView, ...]

    @property
    def finished(self) -> bool:
        """Whether no run will change any more."""
        return self.status in FINISHED


@dataclass(frozen=True)
class RunSummary:
    """One station's part of a task in a study's task list (no payload)."""

    station: str
    status: Status
    claimed_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class TaskSummary:
    """A task in a study's task list: who sent what, and how far it got."""

    task_id: str
    #: As the signed body names it (``None`` if it names none).
    algorithm: str | None
    requester: str
    created_at: datetime
    cancelled: bool
    status: Status
    runs: tuple[RunSummary, ...]


# The statements of a round are built once: constructing one costs more than running
# it on SQLite.
_INSERT_TASK = insert(TASKS)
_INSERT_RUN = insert(RUNS)
_MEMBER_STUDY = select(
    STUDIES.c.id,
    exists()
    .where(
        STUDY_USERS.c.study_id == STUDIES.c.id,
        STUDY_USERS.c.user_id == bindparam("user_id"),
    )
    .label("member"),
).where(STUDIES.c.name == bindparam("name"))
_STATIONS_BY_NAME = select(
    STATIONS.c.id,
    STATIONS.c.name,
    select(STUDY_ORGANISATIONS.c.organisation_id)
    .where(
        STUDY_ORGANISATIONS.c.study_id == bindparam("study_id"),
        STUDY_ORGANISATIONS.c.organisation_id == STATIONS.c.organisation_id,
    )
    .exists()
    .label("in_study"),
).where(STATIONS.c.name.in_(bindparam("names", expanding=True)))
_TASK_OF = select(TASKS.c.requester_id, TASKS.c.cancelled).where(
    TASKS.c.task_id == bindparam("task_id")
)
_RUNS_OF_TASK = (
    select(STATIONS.c.name, RUNS.c.status, RUNS.c.payload)
    .join_from(RUNS, STATIONS, STATIONS.c.id == RUNS.c.station_id)
    .where(RUNS.c.task_id == bindparam("task_id"))
    .order_by(STATIONS.c.name)
)


def create_task(
    connection: Connection,
    user: Caller,
    study_name: str,
    envelope: dict[str, Any],
    stations: Sequence[str],
) -> TaskView:
    """Store a signed task and one pending run per station; commit; return its state.

    Parameters
    ----------
    user
        The requester (must be a researcher, a member of the study, with keys).
    study_name
        The study in the request path; the signed body must name the same.
    envelope
        ``{"body": {...}, "signature": "..."}`` from :func:`perron.crypto.envelope.sign`.
    stations
        Names of the stations to run the task at.

    Raises
    ------
    NotAuthorized
        Not a researcher, not a member, or a station outside the study.
    NotFound
        No such study or station.
    InputError
        No registered keys, or the body does not match the request.
    TamperedMessage
        The signature does not verify with the requester's verify key.
    Conflict
        A task with this id exists.
    """
    if user.role != "researcher":
        raise NotAuthorized(f"only researchers send tasks; {user.name!r} has role {user.role!r}.")
    study_id = _member_study(connection, study_name, user.id)
    if user.verify_key is None or user.box_key is None:
        raise InputError("register your public keys first (PUT /api/me/keys), then sign tasks.")
    body = verify(envelope, user.verify_key)
    task_id = _check_body(body, study_name, user.name)
    targets = _stations_of_study(connection, study_id, study_name, stations)
    now = utcnow()
    try:
        # The task id is the table's key: a duplicate fails the insert, and nothing
        # of this task is stored.
        connection.execute(
            _INSERT_TASK,
            {
                "task_id": task_id,
                "study_id": study_id,
                "requester_id": user.id,
                "requester_verify_key": user.verify_key,
                "requester_box_key": user.box_key,
                "envelope": canonical(envelope).decode("ascii"),
                "created_at": now,
                "cancelled": False,
            },
        )
        connection.execute(
            _INSERT_RUN,
            [
                {"task_id": task_id, "station_id": s, "status": "pending", "created_at": now}
                for s in targets.values()
            ],
        )
        connection.commit()
    except IntegrityError as exc:
        connection.rollback()
        raise Conflict(f"a task with id {task_id!r} exists; every task needs a new id.") from exc
    runs = tuple(RunView(name, "pending", None) for name in sorted(targets))
    return TaskView(task_id, "pending", runs)


def _member_study(connection: Connection, name: str, user_id: int) -> int:
    """The id of study ``name`` if the user is a member (as :func:`require_member`)."""
    row = connection.execute(_MEMBER_STUDY, {"name": name, "user_id": user_id}).first()
    if row is None:
        raise no_study(name)
    if not row.member:
        raise not_a_member(name)
    return int(row.id)


def _check_body(body: dict[str, Any], study: str, username: str) -> str:
    if body.get("study") != study:
        raise InputError(
            f"the signed task names study {body.get('study')!r} but was sent to study "
            f"{study!r}; sign a task for this study."
        )
    if body.get("requester") != username:
        raise InputError(
            f"the signed task names requester {body.get('requester')!r} but was sent by "
            f"{username!r}; a task is sent by the researcher who signed it."
        )
    task_id = body.get("task_id")
    if not isinstance(task_id, str) or re.fullmatch(TASK_ID_PATTERN, task_id) is None:
        raise InputError(
            f"the signed task's task_id {task_id!r} must be 8 to 64 letters, digits, '-' "
            "or '_' (uuid4().hex is one)."
        )
    if not _finite(body):
        raise InputError("the signed task holds NaN or infinity, which JSON cannot carry.")
    return task_id


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


def _stations_of_study(
    connection: Connection, study_id: int, study_name: str, names: Sequence[str]
) -> dict[str, int]:
    """Station name -> id, for the named stations, all of the study's organisations."""
    if not names:
        raise InputError("name at least one station to run the task at.")
    if len(set(names)) != len(names):
        raise InputError(f"stations {list(names)} name a station twice.")
    found = {
        row.name: row
        for row in connection.execute(
            _STATIONS_BY_NAME, {"study_id": study_id, "names": list(names)}
        )
    }
    missing = [name for name in names if name not in found]
    if missing:
        raise NotFound(f"no stations {missing} on this hub; GET the study's stations.")
    outside = [name for name in names if not found[name].in_study]
    if outside:
        raise NotAuthorized(
            f"stations {outside} belong to organisations outside study {study_name!r}; "
            f"GET /api/studies/{study_name}/stations lists the study's stations."
        )
    return {name: int(found[name].id) for name in names}


def _own_task(session: Session, user: User, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id!r} on this hub.")
    if task.requester_id != user.id:
        raise NotAuthorized(f"task {task_id!r} was sent by another researcher.")
    return task


def task_view(connection: Connection, user: Caller, task_id: str) -> TaskView:
    """The task's state and its sealed partials, for its requester only.

    Raises
    ------
    NotFound
        No such task.
    NotAuthorized
        The caller did not send it.
    """
    task = connection.execute(_TASK_OF, {"task_id": task_id}).first()
    if task is None:
        raise NotFound(f"no task {task_id!r} on this hub.")
    if task.requester_id != user.id:
        raise NotAuthorized(f"task {task_id!r} was sent by another researcher.")
    runs = tuple(
        RunView(row.name, row.status, row.payload)
        for row in connection.execute(_RUNS_OF_TASK, {"task_id": task_id})
    )
    return TaskView(task_id, _status(task.cancelled, [run.status for run in runs]), runs)


def _status(cancelled: bool, statuses: Sequence[str]) -> Status:
    if cancelled:
        return "cancelled"
    if all(status in FINISHED for status in statuses):
        return "failed" if "failed" in statuses else "done"
    if all(status == "pending" for status in statuses):
        return "pending"
    return "claimed"


def cancel_task(session: Session, user: User, task_id: str) -> None:
    """Cancel a task: runs not yet answered are never delivered (again); idempotent.

    Raises
    ------
    NotFound
        No such task.
    NotAuthorized
        The caller did not send it.
    """
    task = _own_task(session, user, task_id)
    task.cancelled = True
    session.execute(
        update(Run)
        .where(Run.task_id == task.task_id, Run.status.in_(("pending", "claimed")))
        .values(status="cancelled", finished_at=utcnow())
    )
    session.commit()


def study_tasks(
    session: Session, study_name: str, member: User | Station, limit: int
) -> list[TaskSummary]:
    """The study's newest ``limit`` tasks, newest first, without payloads (members only).

    Raises
    ------
    NotFound
        No such study.
    NotAuthorized
        ``member`` is not a member of the study.
    """
    study = require_member(session, study_name, member)
    found = session.execute(
        select(Task.task_id, Task.envelope, User.username, Task.created_at, Task.cancelled)
        .join(User, User.id == Task.requester_id)
        .where(Task.study_id == study.id)
        .order_by(Task.created_at.desc(), Task.task_id.desc())
        .limit(limit)
    ).all()
    runs: defaultdict[str, list[RunSummary]] = defaultdict(list)
    if found:
        rows = session.execute(
            select(Run.task_id, Station.name, Run.status, Run.claimed_at, Run.finished_at)
            .join(Station, Station.id == Run.station_id)
            .where(Run.task_id.in_([task.task_id for task in found]))
            .order_by(Station.name)
        )
        for task_id, station, status, claimed_at, finished_at in rows:
            summary = RunSummary(station, cast(Status, status), claimed_at, finished_at)
            runs[task_id].append(summary)
    return [
        TaskSummary(
            task_id=task.task_id,
            algorithm=_algorithm(task.envelope),
            requester=task.username,
            created_at=task.created_at,
            cancelled=task.cancelled,
            status=_status(task.cancelled, [run.status for run in runs[task.task_id]]),
            runs=tuple(runs[task.task_id]),
        )
        for task in found
    ]


def _algorithm(envelope: str) -> str | None:
    algorithm = json.loads(envelope).get("body", {}).get("algorithm")
    return algorithm if isinstance(algorithm, str) else None
