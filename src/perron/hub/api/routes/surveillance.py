"""``/api/studies/{study}/surveillance`` and ``/api/surveillance/due``: standing surveillance.

The hub keeps each job's schedule and its runs; the owner's runner (a client holding
the owner's keys) asks what is due, computes, publishes the signal to the study's
board and records the run (:mod:`perron.hub.services.surveillance`). For users only:
a station token is refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from perron.hub.api.deps import CurrentUser, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import (
    SurveillanceDuePublic,
    SurveillanceJobDetailPublic,
    SurveillanceJobIn,
    SurveillanceJobPublic,
    SurveillanceLatestRunPublic,
    SurveillanceRunIn,
    SurveillanceRunPublic,
    iso,
)
from perron.hub.db.models import JOB_NAME_PATTERN, NAME_PATTERN
from perron.hub.services import surveillance
from perron.hub.services.surveillance import JobView, RunView

router = APIRouter(tags=["surveillance"], responses=ERROR_RESPONSES)

StudyName = Annotated[str, Path(pattern=NAME_PATTERN, description="The study's name.")]
JobName = Annotated[
    str,
    Path(pattern=JOB_NAME_PATTERN, description="The job's name: unique in the study, a slug."),
]
RunLimit = Annotated[int, Query(ge=1, le=1000, description="How many of the latest runs.")]


def _run(run: RunView) -> SurveillanceRunPublic:
    return SurveillanceRunPublic(
        week=run.week,
        result_id=run.result_id,
        alarm=run.alarm,
        alarm_weeks=list(run.alarm_weeks),
        created_at=iso(run.created_at),
    )


def _job(job: JobView) -> SurveillanceJobPublic:
    latest = job.latest_run
    return SurveillanceJobPublic(
        study=job.study,
        name=job.name,
        owner=job.owner,
        spec=job.spec,
        weekday=job.weekday,
        hour=job.hour,
        created_at=iso(job.created_at),
        last_week=job.last_week,
        last_run_at=iso(job.last_run_at),
        next_due=iso(job.next_due),
        due=job.due,
        latest_run=None
        if latest is None
        else SurveillanceLatestRunPublic(
            week=latest.week, alarm=latest.alarm, result_id=latest.result_id
        ),
    )


@router.put(
    "/api/studies/{study}/surveillance/{job}",
    responses={201: {"model": SurveillanceJobPublic, "description": "The job was created."}},
)
def save_job(
    study: StudyName,
    job: JobName,
    request: SurveillanceJobIn,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
) -> SurveillanceJobPublic:
    """Create a surveillance job (201), or update one of the caller's own (200).

    User members of the study create jobs; only a job's owner changes it. Week W is
    assessed at the slot in week W + 1 (``weekday``, 1 = Monday, ``hour`` UTC).
    """
    view, created = surveillance.save_job(
        session, user, study, job, request.spec, request.weekday, request.hour
    )
    if created:
        response.status_code = 201
    return _job(view)


@router.get("/api/studies/{study}/surveillance")
def list_jobs(
    study: StudyName, user: CurrentUser, session: SessionDep
) -> list[SurveillanceJobPublic]:
    """The study's surveillance jobs by name, each with its latest run (user members)."""
    return [_job(view) for view in surveillance.jobs_of(session, user, study)]


@router.get("/api/studies/{study}/surveillance/{job}")
def read_job(
    study: StudyName, job: JobName, user: CurrentUser, session: SessionDep, limit: RunLimit = 1000
) -> SurveillanceJobDetailPublic:
    """One surveillance job and its runs, the latest week first (user members)."""
    detail = surveillance.job_of(session, user, study, job, limit)
    return SurveillanceJobDetailPublic(
        **_job(detail.job).model_dump(), runs=[_run(run) for run in detail.runs]
    )


@router.post("/api/studies/{study}/surveillance/{job}/runs", status_code=201)
def record_run(
    study: StudyName,
    job: JobName,
    request: SurveillanceRunIn,
    user: CurrentUser,
    session: SessionDep,
) -> SurveillanceRunPublic:
    """Record the week a job assessed and its signal on the board (the job's owner).

    The result must be on the study's board, of kind ``"surveillance"`` and published
    by the owner; a week whose slot has not come is refused (422), a week recorded
    before is a conflict (409): nothing is delivered twice.
    """
    run = surveillance.record_run(
        session,
        user,
        study,
        job,
        week=request.week,
        result_id=request.result_id,
        alarm=request.alarm,
        alarm_weeks=request.alarm_weeks,
    )
    return _run(run)


@router.get("/api/surveillance/due")
def due_jobs(user: CurrentUser, session: SessionDep) -> list[SurveillanceDuePublic]:
    """The caller's own surveillance jobs that are due now, each with the week to assess."""
    return [
        SurveillanceDuePublic(
            study=due.study,
            name=due.name,
            spec=due.spec,
            week=due.week,
            last_week=due.last_week,
            weekday=due.weekday,
            hour=due.hour,
        )
        for due in surveillance.due_jobs(session, user)
    ]
