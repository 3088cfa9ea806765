"""``/api/studies``: the caller's studies, their stations, and sending tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from perron.hub.api.deps import CurrentPrincipal, HubDep, SessionDep, TokenDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import StationPublic, StudyPublic, TaskCreate, TaskCreated
from perron.hub.db.models import NAME_PATTERN
from perron.hub.notify import station_key
from perron.hub.services import studies, tasks
from perron.hub.services.auth import Caller

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


@router.post("/{study}/tasks", status_code=201)
async def create_task(
    study: StudyName, request: TaskCreate, hub: HubDep, token: TokenDep
) -> TaskCreated:
    """Send a signed task to some of the study's stations (researchers of the study)."""
    envelope = request.envelope.model_dump()

    def create(session: Session, caller: Caller) -> str:
        user = caller.require_user()
        return tasks.create_task(session, user, study, envelope, request.stations)

    task_id = await hub.run(token, create)
    hub.notifier.notify(*(station_key(name) for name in request.stations))
    return TaskCreated(task_id=task_id)
