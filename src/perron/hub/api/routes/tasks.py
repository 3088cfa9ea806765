"""``/api/tasks``: follow (long-poll) and cancel a task, for its requester."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from perron.hub.api.deps import CurrentUser, HubDep, SessionDep, TokenDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import TaskPublic
from perron.hub.notify import poll_until, task_key
from perron.hub.services import tasks
from perron.hub.services.auth import Caller
from perron.hub.services.tasks import TASK_ID_PATTERN, TaskView

router = APIRouter(prefix="/api/tasks", tags=["tasks"], responses=ERROR_RESPONSES)

TaskId = Annotated[str, Path(pattern=TASK_ID_PATTERN, description="The task's id.")]
Wait = Annotated[
    float,
    Query(ge=0, allow_inf_nan=False, description="Seconds to wait for a change (max 60)."),
]


@router.get("/{task_id}")
async def read_task(task_id: TaskId, hub: HubDep, token: TokenDep, wait: Wait = 0.0) -> TaskPublic:
    """The task's state; with ``wait``, answer as soon as every run finished."""

    def view(session: Session, caller: Caller) -> TaskView:
        return tasks.task_view(session, caller.require_user(), task_id)

    found = await poll_until(
        lambda: hub.run(token, view),
        lambda task: task.finished,
        notifier=hub.notifier.channel(task_key(task_id)),
        wait=hub.wait_seconds(wait),
        poll_seconds=hub.settings.poll_seconds,
    )
    return TaskPublic.model_validate(found, from_attributes=True)


@router.post("/{task_id}/cancel", status_code=204)
def cancel_task(task_id: TaskId, user: CurrentUser, session: SessionDep, hub: HubDep) -> None:
    """Cancel the task: unanswered runs are not delivered and late answers get 409."""
    tasks.cancel_task(session, user, task_id)
    hub.notifier.notify(task_key(task_id))
