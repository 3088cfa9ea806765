"""``/api/studies``: the caller's studies, their stations, and sending tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import Connection

from perron.hub.api import render
from perron.hub.api.deps import CurrentPrincipal, HubDep, SessionDep, TokenDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.routes.tasks import follow
from perron.hub.api.schemas import StationPublic, StudyPublic, TaskCreate, TaskCreated
from perron.hub.db.models import NAME_PATTERN
from perron.hub.notify import station_key, task_key
from perron.hub.services import studies, tasks
from perron.hub.services.auth import Caller
from perron.hub.services.tasks import TaskView

router = APIRouter(prefix="/api/studies", tags=["studies"], responses=ERROR_RESPONSES)

StudyName = Annotated[str, Path(pattern=NAME_PATTERN, description="The study's name.")]


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
