"""``/api/tasks``: follow (long-poll) and cancel a task, for its requester."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import Connection

from perron.hub.api import render
from perron.hub.api.deps import CurrentUser, Hub, HubDep, SessionDep, TokenDep
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


@router.get("/{task_id}", response_model=TaskPublic)
async def read_task(task_id: TaskId, hub: HubDep, token: TokenDep, wait: Wait = 0.0) -> Response:
    """The task's state; with ``wait``, answer as soon as every run finished."""
    return render.task(await follow(hub, token, task_id, wait))


async def follow(
    hub: Hub, token: str, task_id: str, wait: float, tried: tuple[int, TaskView] | None = None
) -> TaskView:
    """The task's state once every run finished, or when ``wait`` seconds have passed.

    ``tried``: the task channel's generation and the state the caller already read.
    """

    def view(connection: Connection, caller: Caller) -> TaskView:
        return tasks.task_view(connection, caller.require_user(), task_id)

    return await poll_until(
        hub.execute,
        hub.unit(token, view),
        lambda task: task.finished,
        notifier=hub.notifier.channel(task_key(task_id)),
        wait=hub.wait_seconds(wait),
        poll_seconds=hub.settings.poll_seconds,
        tried=tried,
    )


@router.post("/{task_id}/cancel", status_code=204)
def cancel_task(task_id: TaskId, user: CurrentUser, session: SessionDep, hub: HubDep) -> None:
    """Cancel the task: unanswered runs are not delivered and late answers get 409."""
    tasks.cancel_task(session, user, task_id)
    hub.notifier.notify(task_key(task_id))
