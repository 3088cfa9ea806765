"""``/api/studies``: the caller's studies, their stations, sending and listing tasks,
and the results board."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import Connection

from perron.hub.api import render
from perron.hub.api.deps import CurrentPrincipal, CurrentUser, HubDep, SessionDep, TokenDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.routes.tasks import follow
from perron.hub.api.schemas import (
    BoardResultCreate,
    BoardResultCreated,
    BoardResultPublic,
    BoardResultSummaryPublic,
    StationPublic,
    StudyPublic,
    TaskCreate,
    TaskCreated,
    TaskRunSummaryPublic,
    TaskSummaryPublic,
    iso,
)
from perron.hub.db.models import NAME_PATTERN
from perron.hub.notify import station_key, task_key
from perron.hub.services import results, studies, tasks
from perron.hub.services.auth import Caller
from perron.hub.services.tasks import TaskView

router = APIRouter(prefix="/api/studies", tags=["studies"], responses=ERROR_RESPONSES)

StudyName = Annotated[str, Path(pattern=NAME_PATTERN, description="The study's name.")]
ResultId = Annotated[
    str, Path(pattern=results.RESULT_ID_PATTERN, description="The result's id (uuid4 hex).")
]
TaskLimit = Annotated[int, Query(ge=1, le=500, description="How many of the newest tasks.")]
ResultLimit = Annotated[int, Query(ge=1, le=1000, description="How many of the newest results.")]


@router.get("")
def list_studies(principal: CurrentPrincipal, session: SessionDep) -> list[StudyPublic]:
    """The studies the caller (user or station) belongs to."""
    return [
        StudyPublic.model_validate(study, from_attributes=True)
        for study in studies.studies_of(session, principal.subject)
    ]


@router.get("/{study}/stations")
def list_stations(
    study: StudyName, principal: CurrentPrincipal, session: SessionDep
) -> list[StationPublic]:
    """The stations of the study's organisations and their public keys (members only)."""
    return [
        StationPublic.model_validate(station, from_attributes=True)
        for station in studies.study_stations(session, study, principal.subject)
    ]


Wait = Annotated[
    float | None,
    Query(
        ge=0,
        allow_inf_nan=False,
        description="If given, wait up to this many seconds (max 60) for every station's "
        "answer: the task's state then comes back with them, in one request.",
    ),
]


@router.post("/{study}/tasks", status_code=201, response_model=TaskCreated)
async def create_task(
    study: StudyName, request: TaskCreate, hub: HubDep, token: TokenDep, wait: Wait = None
) -> Response:
    """Send a signed task to some of the study's stations (researchers of the study).

    The answer is the stored task's state: every run pending, or, with ``wait``, the
    state once every station answered (or when the wait ended), as
    ``GET /api/tasks/{task_id}?wait=`` gives it.
    """
    envelope = request.envelope.model_dump()
    # Read before the task exists, so no answer can come in unseen; the notifier is
    # held (``channel``) until ``follow`` below waits on it.
    channel = hub.notifier.channel(task_key(str(envelope["body"].get("task_id"))))
    generation = channel.generation

    def create(connection: Connection, caller: Caller) -> TaskView:
        user = caller.require_user()
        view = tasks.create_task(connection, user, study, envelope, request.stations)
        # The stations' waiting long-polls claim their runs here, at once.
        for name in request.stations:
            hub.notifier.channel(station_key(name)).serve(connection)
        return view

    created = await hub.run(token, create)
    # And those that were not waiting a moment ago try again.
    hub.notifier.notify(*(station_key(name) for name in request.stations))
    if wait is not None:
        created = await follow(hub, token, created.task_id, wait, tried=(generation, created))
    return render.task(created, status_code=201)


@router.get("/{study}/tasks")
def list_tasks(
    study: StudyName, principal: CurrentPrincipal, session: SessionDep, limit: TaskLimit = 50
) -> list[TaskSummaryPublic]:
    """The study's newest tasks, newest first, and each station's progress (members only).

    No payloads: a task's sealed partials are for its requester
    (``GET /api/tasks/{task_id}``).
    """
    return [
        TaskSummaryPublic(
            task_id=task.task_id,
            algorithm=task.algorithm,
            requester=task.requester,
            created_at=iso(task.created_at),
            cancelled=task.cancelled,
            status=task.status,
            runs=[
                TaskRunSummaryPublic(
                    station=run.station,
                    status=run.status,
                    claimed_at=iso(run.claimed_at),
                    finished_at=iso(run.finished_at),
                )
                for run in task.runs
            ],
        )
        for task in tasks.study_tasks(session, study, principal.subject, limit)
    ]


@router.post("/{study}/results", status_code=201)
def publish_result(
    study: StudyName, request: BoardResultCreate, user: CurrentUser, session: SessionDep
) -> BoardResultCreated:
    """Publish a result to the study's board, signed by its author (user members).

    The hub checks the author, the size (at most 2 MiB), the signature against the
    author's registered verify key and the document's form, and stores the envelope
    as signed.
    """
    raw: object = request.envelope.body  # the JSON as sent; the service validates it
    envelope = {"body": raw, "signature": request.envelope.signature}
    return BoardResultCreated(result_id=results.publish(session, user, study, envelope))


@router.get("/{study}/results")
def list_results(
    study: StudyName, user: CurrentUser, session: SessionDep, limit: ResultLimit = 100
) -> list[BoardResultSummaryPublic]:
    """The results on the study's board, newest first (user members of the study)."""
    return [
        BoardResultSummaryPublic(
            result_id=result.result_id,
            title=result.title,
            kind=result.kind,
            author=result.author,
            created_at=iso(result.created_at),
        )
        for result in results.results_of(session, user, study, limit)
    ]


@router.get("/{study}/results/{result_id}")
def read_result(
    study: StudyName, result_id: ResultId, user: CurrentUser, session: SessionDep
) -> BoardResultPublic:
    """One result of the study's board, with its signed envelope (user members)."""
    result = results.result_of(session, user, study, result_id)
    return BoardResultPublic(
        result_id=result.result_id,
        title=result.title,
        kind=result.kind,
        author=result.author,
        created_at=iso(result.created_at),
        envelope=result.envelope,
    )
