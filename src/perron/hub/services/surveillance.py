"""Standing outbreak surveillance: the hub keeps each job's schedule and its runs.

A public-health authority runs a weekly surveillance job for a study. Its runner, a
client process holding the owner's keys, asks the hub which jobs are due
(:func:`due_jobs`), runs the federated weekly counts and the aberration detection,
publishes the signal to the study's results board (a signed document of kind
``"surveillance"``) and records the run (:func:`record_run`). The hub holds no key and
computes nothing: it stores the job's ``spec`` (the weekly-count request and the
detection settings) without reading it, says what is due, and keeps the runs.

The schedule, in ISO weeks (UTC; :meth:`datetime.date.isocalendar`): a job assesses
each completed week W once, at its slot (``weekday``, 1 = Monday, and ``hour``) in week
W + 1. At time ``now`` the latest week whose slot has passed is :func:`due_week`; a job
is due when it has no run yet, or its latest run is of an earlier week. The next
slot after the latest run's is :func:`next_due`. Weeks are text, ``"2024-W05"``: fixed
width, so text order is week order (in Python and in SQL).

Who may do what: user members of the study (the check of the results board) create
jobs and read them and their runs; only a job's owner changes it, is told when it is
due and records its runs. A run names a result on the same study's board, of kind
``"surveillance"`` and published by the owner, and a week is recorded once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.crypto.envelope import canonical
from perron.hub.db.models import (
    JOB_NAME_PATTERN,
    Study,
    StudyResult,
    StudyUser,
    SurveillanceJob,
    SurveillanceRun,
    User,
    utcnow,
)
from perron.hub.errors import Conflict, NotFound
from perron.hub.services.studies import require_member
from perron.protocol.errors import InputError, NotAuthorized

#: An ISO week as text: year 0001 to 9999, week 01 to 53. :func:`checked_week` also
#: checks that the year has the week (only some years have a W53).
WEEK_PATTERN = (
    r"^(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
    r"-W(?:0[1-9]|[1-4][0-9]|5[0-3])$"
)
#: Largest spec (bytes of its canonical JSON).
MAX_SPEC_BYTES = 64 * 2**10
#: Most alarm weeks a run may list.
MAX_ALARM_WEEKS = 60
#: The board's kind of a surveillance signal.
SIGNAL_KIND = "surveillance"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")


# The schedule (pure functions of the calendar)


def monday(week: str) -> date:
    """The Monday of ISO week ``week`` (``"YYYY-Www"``).

    Raises
    ------
    ValueError
        Not a week, or a week the year does not have (only some years have a W53).

    Examples
    --------
    >>> monday("2024-W01"), monday("2020-W53")
    (datetime.date(2024, 1, 1), datetime.date(2020, 12, 28))
    """
    match = _WEEK.fullmatch(week)
    if match is None:
        raise ValueError(f"{week!r} is not an ISO week; write it as 2024-W05")
    year, number = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{week!r} is not a week of the ISO calendar") from None


def checked_week(week: str) -> str:
    """``week`` if it is a week of the ISO calendar (a validator for the API's models).

    Examples
    --------
    >>> checked_week("2026-W53")
    '2026-W53'
    """
    monday(week)
    return week


def week_of(day: date) -> str:
    """The ISO week a day (or the day of a UTC time) falls in.

    Examples
    --------
    >>> week_of(date(2024, 12, 30)), week_of(date(2027, 1, 1))
    ('2025-W01', '2026-W53')
    """
    if isinstance(day, datetime):
        day = day.astimezone(UTC).date()
    year, number, _ = day.isocalendar()
    return f"{year:04d}-W{number:02d}"


def add_weeks(week: str, weeks: int) -> str:
    """The week ``weeks`` after ``week`` (before, if negative).

    Examples
    --------
    >>> add_weeks("2026-W52", 1), add_weeks("2027-W01", -1)
    ('2026-W53', '2026-W53')
    """
    return week_of(monday(week) + timedelta(weeks=weeks))


def slot(week: str, weekday: int, hour: int) -> datetime:
    """The time (UTC) of the slot ``weekday`` (1 = Monday), ``hour`` in ``week``.

    Examples
    --------
    >>> slot("2024-W02", 1, 6).isoformat()
    '2024-01-08T06:00:00+00:00'
    """
    day = monday(week) + timedelta(days=weekday - 1)
    return datetime.combine(day, time(hour), tzinfo=UTC)


def due_week(now: datetime, weekday: int, hour: int) -> str:
    """The latest week whose slot has passed at ``now``: the week to assess then.

    Week W is assessed at its slot in week W + 1, so at ``now`` in week C that is
    C - 1 once this week's slot has come, and C - 2 before it.

    Examples
    --------
    >>> monday_six = datetime(2024, 1, 8, 6, tzinfo=UTC)  # in 2024-W02
    >>> due_week(monday_six, 1, 6), due_week(monday_six - timedelta(seconds=1), 1, 6)
    ('2024-W01', '2023-W52')
    """
    current = week_of(now)
    return add_weeks(current, -1 if now >= slot(current, weekday, hour) else -2)


def next_due(last_week: str | None, weekday: int, hour: int, now: datetime) -> datetime:
    """When a job is (or was) next due: the slot after the one of ``last_week``.

    A job that never ran was due at the slot of the week due at ``now`` (a time that
    has passed: it is due now). A job is due exactly when this time has passed.

    Examples
    --------
    >>> now = datetime(2024, 1, 10, tzinfo=UTC)
    >>> next_due("2024-W01", 1, 6, now).isoformat()
    '2024-01-15T06:00:00+00:00'
    >>> next_due(None, 1, 6, now).isoformat()
    '2024-01-08T06:00:00+00:00'
    """
    assessed = due_week(now, weekday, hour) if last_week is None else add_weeks(last_week, 1)
    return slot(add_weeks(assessed, 1), weekday, hour)


def is_due(last_week: str | None, weekday: int, hour: int, now: datetime) -> bool:
    """Whether a job whose latest run is of ``last_week`` is due at ``now``.

    Examples
    --------
    >>> now = datetime(2024, 1, 8, 6, tzinfo=UTC)
    >>> is_due(None, 1, 6, now), is_due("2023-W52", 1, 6, now), is_due("2024-W01", 1, 6, now)
    (True, True, False)
    """
    return last_week is None or last_week < due_week(now, weekday, hour)


def schedule_text(weekday: int, hour: int) -> str:
    """The schedule in words.

    Examples
    --------
    >>> schedule_text(1, 6)
    'every Monday at 06:00 UTC, assessing the week before'
    """
    return f"every {WEEKDAYS[weekday - 1]} at {hour:02d}:00 UTC, assessing the week before"


# What the service answers


@dataclass(frozen=True)
class RunView:
    """A recorded run: the week assessed, the signal on the board and its alarms."""

    week: str
    result_id: str
    alarm: bool
    alarm_weeks: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class JobView:
    """A job, its schedule and its latest run (the run of ``last_week``)."""

    study: str
    name: str
    owner: str
    spec: dict[str, Any]
    weekday: int
    hour: int
    created_at: datetime
    last_week: str | None
    last_run_at: datetime | None
    next_due: datetime
    due: bool
    latest_run: RunView | None


@dataclass(frozen=True)
class JobDetail:
    """A job with its runs, the latest week first."""

    job: JobView
    runs: tuple[RunView, ...]


@dataclass(frozen=True)
class DueJob:
    """A job due now, for its owner's runner: what to run and the ``week`` to assess.

    ``last_week`` is the latest week recorded before (``None`` before the first run):
    the weeks after it up to ``week`` are the ones not yet assessed.
    """

    study: str
    name: str
    spec: dict[str, Any]
    week: str
    last_week: str | None
    weekday: int
    hour: int


def _run_view(run: SurveillanceRun) -> RunView:
    return RunView(
        week=run.week,
        result_id=run.result_id,
        alarm=run.alarm,
        alarm_weeks=tuple(json.loads(run.alarm_weeks)),
        created_at=run.created_at,
    )


def _job_view(
    job: SurveillanceJob, study: str, owner: str, latest: SurveillanceRun | None, now: datetime
) -> JobView:
    return JobView(
        study=study,
        name=job.name,
        owner=owner,
        spec=json.loads(job.spec),
        weekday=job.weekday,
        hour=job.hour,
        created_at=job.created_at,
        last_week=job.last_week,
        last_run_at=job.last_run_at,
        next_due=next_due(job.last_week, job.weekday, job.hour, now),
        due=is_due(job.last_week, job.weekday, job.hour, now),
        latest_run=None if latest is None else _run_view(latest),
    )


# Checks


def _spec_text(spec: Any) -> str:
    """The spec as the canonical JSON it is stored as, if it is an object that fits."""
    if not isinstance(spec, dict):
        raise InputError("a job's spec is a JSON object: the weekly-count request and detection.")
    try:
        # What could be stored but not sent back as JSON: NaN, infinity, lone surrogates.
        json.dumps(spec, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:  # UnicodeEncodeError is one
        raise InputError(
            "the spec holds NaN, infinity or text that is not valid Unicode (a lone "
            "surrogate), which JSON cannot carry."
        ) from None
    text = canonical(spec)
    if len(text) > MAX_SPEC_BYTES:
        raise InputError(
            f"the spec is {len(text)} bytes of JSON; a job's spec takes at most "
            f"{MAX_SPEC_BYTES} (64 KiB): name fewer levels or criteria."
        )
    return text.decode("ascii")


def _schedule(name: str, weekday: int, hour: int) -> None:
    if re.fullmatch(JOB_NAME_PATTERN, name) is None:
        raise InputError(
            f"a job name is 1 to 63 lower-case letters, digits, '_' or '-' (starting with a "
            f"letter or digit), not {name!r}."
        )
    if not 1 <= weekday <= 7:
        raise InputError(f"weekday is 1 (Monday) to 7 (Sunday), not {weekday}.")
    if not 0 <= hour <= 23:
        raise InputError(f"hour is 0 to 23 (UTC), not {hour}.")


def _week(week: str, what: str) -> str:
    try:
        return checked_week(week)
    except ValueError as error:
        raise InputError(f"{what}: {error}.") from None


def _job(session: Session, study: Study, name: str) -> SurveillanceJob:
    job = session.scalar(
        select(SurveillanceJob).where(
            SurveillanceJob.study_id == study.id, SurveillanceJob.name == name
        )
    )
    if job is None:
        raise NotFound(
            f"no surveillance job {name!r} in study {study.name!r}; "
            f"GET /api/studies/{study.name}/surveillance lists them."
        )
    return job


def _not_the_owner(job: SurveillanceJob, study: str, what: str) -> NotAuthorized:
    return NotAuthorized(
        f"only the owner of surveillance job {job.name!r} of study {study!r} "
        f"({job.owner.username}) {what}; choose another name for a job of your own."
    )


# The service


def save_job(
    session: Session,
    user: User,
    study_name: str,
    name: str,
    spec: Any,
    weekday: int,
    hour: int,
    now: datetime | None = None,
) -> tuple[JobView, bool]:
    """Create job ``name`` of study ``study_name`` for ``user``, or update it (its owner).

    An update changes the spec and the slot; the runs and the latest week stay.

    Returns
    -------
    tuple of JobView and bool
        The job as stored, and whether it is new.

    Raises
    ------
    NotFound
        No such study.
    NotAuthorized
        ``user`` is not a member of the study, or the job is someone else's.
    InputError
        A bad name, weekday or hour, or a spec that is not a JSON object of at most
        64 KiB.
    Conflict
        The same job was created meanwhile (send it again to update it).
    """
    now = utcnow() if now is None else now
    study = require_member(session, study_name, user)
    job = session.scalar(
        select(SurveillanceJob).where(
            SurveillanceJob.study_id == study.id, SurveillanceJob.name == name
        )
    )
    if job is not None and job.owner_id != user.id:
        raise _not_the_owner(job, study_name, "changes it")
    _schedule(name, weekday, hour)
    text = _spec_text(spec)
    created = job is None
    if job is None:
        job = SurveillanceJob(
            study_id=study.id,
            name=name,
            owner_id=user.id,
            spec=text,
            weekday=weekday,
            hour=hour,
            created_at=now,
        )
        session.add(job)
    else:
        job.spec, job.weekday, job.hour = text, weekday, hour
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"surveillance job {name!r} of study {study_name!r} was created meanwhile; "
            "send it again to update it (if it is yours)."
        ) from None
    latest = None if job.last_week is None else _run_of(session, job.id, job.last_week)
    return _job_view(job, study_name, user.username, latest, now), created


def _run_of(session: Session, job_id: int, week: str) -> SurveillanceRun | None:
    return session.scalar(
        select(SurveillanceRun).where(
            SurveillanceRun.job_id == job_id, SurveillanceRun.week == week
        )
    )


def jobs_of(
    session: Session, user: User, study_name: str, now: datetime | None = None
) -> list[JobView]:
    """The study's jobs by name, each with its latest run (members only).

    Raises
    ------
    NotFound
        No such study.
    NotAuthorized
        ``user`` is not a member of the study.
    """
    now = utcnow() if now is None else now
    study = require_member(session, study_name, user)
    rows = session.execute(
        select(SurveillanceJob, User.username, SurveillanceRun)
        .join(User, User.id == SurveillanceJob.owner_id)
        .outerjoin(
            SurveillanceRun,
            and_(
                SurveillanceRun.job_id == SurveillanceJob.id,
                SurveillanceRun.week == SurveillanceJob.last_week,
            ),
        )
        .where(SurveillanceJob.study_id == study.id)
        .order_by(SurveillanceJob.name)
    )
    return [_job_view(job, study_name, owner, latest, now) for job, owner, latest in rows]


def job_of(
    session: Session,
    user: User,
    study_name: str,
    name: str,
    limit: int = 1000,
    now: datetime | None = None,
) -> JobDetail:
    """One job with its newest ``limit`` runs, the latest week first (members only).

    Raises
    ------
    NotFound
        No such study, or no such job in it.
    NotAuthorized
        ``user`` is not a member of the study.
    """
    now = utcnow() if now is None else now
    study = require_member(session, study_name, user)
    job = _job(session, study, name)
    runs = list(
        session.scalars(
            select(SurveillanceRun)
            .where(SurveillanceRun.job_id == job.id)
            .order_by(SurveillanceRun.week.desc())
            .limit(limit)
        )
    )
    # The latest week is the greatest one recorded: the first run, if any.
    latest = runs[0] if runs and runs[0].week == job.last_week else None
    return JobDetail(
        job=_job_view(job, study_name, job.owner.username, latest, now),
        runs=tuple(_run_view(run) for run in runs),
    )


def due_jobs(session: Session, user: User, now: datetime | None = None) -> list[DueJob]:
    """``user``'s own jobs due at ``now``, in studies ``user`` is still a member of.

    Each comes with the week to assess (:func:`due_week`): the latest complete week
    whose slot has passed. Ordered by study and name.
    """
    now = utcnow() if now is None else now
    rows = session.execute(
        select(SurveillanceJob, Study.name)
        .join(Study, Study.id == SurveillanceJob.study_id)
        .join(
            StudyUser,
            and_(StudyUser.study_id == Study.id, StudyUser.user_id == SurveillanceJob.owner_id),
        )
        .where(SurveillanceJob.owner_id == user.id)
        .order_by(Study.name, SurveillanceJob.name)
    )
    return [
        DueJob(
            study=study,
            name=job.name,
            spec=json.loads(job.spec),
            week=due_week(now, job.weekday, job.hour),
            last_week=job.last_week,
            weekday=job.weekday,
            hour=job.hour,
        )
        for job, study in rows
        if is_due(job.last_week, job.weekday, job.hour, now)
    ]


def record_run(
    session: Session,
    user: User,
    study_name: str,
    name: str,
    *,
    week: str,
    result_id: str,
    alarm: bool,
    alarm_weeks: list[str],
    now: datetime | None = None,
) -> RunView:
    """Record that job ``name`` assessed ``week``, with the signal ``result_id`` (the owner).

    The job's latest week moves on to ``week`` if it is later (a week missed earlier
    may be recorded after a later one).

    Raises
    ------
    NotFound
        No such study, no such job in it, or no result ``result_id`` on its board.
    NotAuthorized
        ``user`` is not a member of the study, or not the job's owner.
    InputError
        ``week`` is not a week, or its slot has not come yet (it is after
        :func:`due_week`); an alarm week is not a week, or after ``week``, or listed
        twice, or more than 60; the result is not of kind ``"surveillance"`` or was
        published by someone else.
    Conflict
        A run of ``week`` was recorded before: a week is assessed once.
    """
    now = utcnow() if now is None else now
    study = require_member(session, study_name, user)
    job = _job(session, study, name)
    if job.owner_id != user.id:
        raise _not_the_owner(job, study_name, "records its runs")
    _week(week, "week")
    latest = due_week(now, job.weekday, job.hour)
    if week > latest:
        raise InputError(
            f"week {week} cannot be assessed yet: the job runs "
            f"{schedule_text(job.weekday, job.hour)}, so the latest week due now is {latest}; "
            "a week is assessed once it is over, at the slot in the week after it."
        )
    weeks = _alarm_weeks(alarm_weeks, week)
    _signal(session, study, job, result_id)
    session.add(
        SurveillanceRun(
            job_id=job.id,
            week=week,
            result_id=result_id,
            alarm=alarm,
            alarm_weeks=json.dumps(weeks),
            created_at=now,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"week {week} of surveillance job {name!r} was recorded before; a week is "
            f"assessed once (GET /api/studies/{study_name}/surveillance/{name} shows its run)."
        ) from None
    # Atomic: of two runs recorded at once, the later week stays the latest.
    session.execute(
        update(SurveillanceJob)
        .where(
            SurveillanceJob.id == job.id,
            or_(SurveillanceJob.last_week.is_(None), SurveillanceJob.last_week < week),
        )
        .values(last_week=week, last_run_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return RunView(week, result_id, alarm, tuple(weeks), now)


def _alarm_weeks(alarm_weeks: list[str], week: str) -> list[str]:
    if len(alarm_weeks) > MAX_ALARM_WEEKS:
        raise InputError(
            f"a run lists at most {MAX_ALARM_WEEKS} alarm weeks, got {len(alarm_weeks)}."
        )
    for position, alarmed in enumerate(alarm_weeks):
        _week(alarmed, f"alarm week {position}")
        if alarmed > week:
            raise InputError(f"alarm week {alarmed} is after the week assessed ({week}).")
    if len(set(alarm_weeks)) != len(alarm_weeks):
        raise InputError(f"alarm weeks {alarm_weeks} name a week twice.")
    return sorted(alarm_weeks)


def _signal(session: Session, study: Study, job: SurveillanceJob, result_id: str) -> None:
    """Check that ``result_id`` is the owner's surveillance signal on the study's board."""
    result = session.scalar(
        select(StudyResult).where(
            StudyResult.study_id == study.id, StudyResult.result_id == result_id
        )
    )
    if result is None:
        raise NotFound(
            f"no result {result_id!r} on the board of study {study.name!r}; publish the "
            "signal to the study first (kind 'surveillance'), then record the run."
        )
    if result.kind != SIGNAL_KIND:
        raise InputError(
            f"result {result_id!r} is of kind {result.kind!r}; a run records a signal of "
            f"kind {SIGNAL_KIND!r}."
        )
    if result.author_id != job.owner_id:
        raise InputError(
            f"result {result_id!r} was published by {result.author.username}, not by the "
            "job's owner; record the signal the job's runner published."
        )
