"""``/api/station/stream``: a station's runs and answers over one WebSocket.

The same exchange as ``GET /api/station/next`` and ``POST /api/station/runs/{id}``
(:mod:`perron.hub.api.routes.station`), taking runs from the same queue with the
same leases, but over one connection the station keeps open: no HTTP request to
parse, route, authenticate through the dependency chain and answer per run. That was
most of the hub's work in a round (docs/network.md, "Measured").

The station speaks first and the hub answers each message once, in order:

- ``{"wait": 25}``: the station's next run, waiting up to that many seconds;
- ``{"wait": 25, "answer": {"run_id": 7, "status": "done", "payload": "..."}}``:
  store the answer (idempotent), then the same wait for the next run.

The hub answers ``{"run": <delivery or null>}``, the delivery as
:class:`~perron.hub.api.schemas.DeliveryPublic`, or ``{"error": {"kind": ...,
"detail": ..., "status": ...}}`` with the error and HTTP status the HTTP routes
would give. The token goes in the handshake's ``Authorization: Bearer`` header
and is checked again, in the database, with every message: a revoked token fails
at once. The station's version goes in its ``X-Perron-Version`` header; the hub
notes it, and when it saw the station, as the HTTP routes do. An authentication
error closes the connection (code 1008); so does a user's token, since a station's
is required. Other errors (another station's run, a cancelled task, a message that
does not fit) leave it open. When the hub shuts down it answers a waiting station at
once and closes (code 1012, "service restart").
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection

from perron.hub.api import render
from perron.hub.api.deps import Hub
from perron.hub.api.errors import describe_problems, status_code
from perron.hub.api.routes.station import answer_run, next_delivery
from perron.hub.api.schemas import RunResult
from perron.hub.services.auth import Caller, well_formed
from perron.hub.services.runs import Delivery
from perron.hub.services.stations import WEBSOCKET, Sighting, version_of
from perron.protocol.errors import AuthenticationFailed, InputError, NotAuthorized, PerronError

router = APIRouter(prefix="/api/station", tags=["station"])

#: WebSocket close codes (RFC 6455 7.4.1).
POLICY_VIOLATION = 1008
SERVICE_RESTART = 1012


class StreamAnswer(RunResult):
    """An answer to one of the station's runs."""

    run_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class StreamMessage(BaseModel):
    """One message of a station: wait for the next run, after storing an answer."""

    wait: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    answer: StreamAnswer | None = None


def _bearer(websocket: WebSocket) -> str | None:
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _error(error: PerronError) -> str:
    kind = type(error).__name__
    return json.dumps(
        {"error": {"kind": kind, "detail": str(error), "status": status_code(error)}},
        ensure_ascii=False,
    )


def _run(found: Delivery | None) -> str:
    return '{"run":null}' if found is None else f'{{"run":{render.delivery_text(found)}}}'


async def _reply(hub: Hub, token: str, sighting: Sighting, text: str) -> str:
    try:
        message = StreamMessage.model_validate_json(text)
    except ValidationError as error:
        problems = describe_problems(error.errors())
        raise InputError(f"the stream message is not valid: {problems}") from None
    answer = message.answer
    if answer is None:
        return _run(await next_delivery(hub, token, message.wait, sighting))
    found = await answer_run(hub, token, answer.run_id, answer, message.wait, sighting)
    return _run(found)


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Runs and answers of one station over one WebSocket (see the module's doc)."""
    hub = websocket.app.state.hub
    assert isinstance(hub, Hub)
    await websocket.accept()
    sighting = Sighting(version_of(websocket.headers.get("x-perron-version")), WEBSOCKET)

    def connect(connection: Connection, caller: Caller) -> None:
        hub.sightings.record(connection, caller.require_station(), sighting)

    try:
        token = well_formed(_bearer(websocket))
        await hub.run(token, connect)
    except (AuthenticationFailed, NotAuthorized) as error:
        await websocket.send_text(_error(error))
        await websocket.close(POLICY_VIOLATION)
        return
    try:
        while True:
            text = await websocket.receive_text()
            try:
                reply = await _reply(hub, token, sighting, text)
            except AuthenticationFailed as error:  # e.g. revoked meanwhile
                await websocket.send_text(_error(error))
                await websocket.close(POLICY_VIOLATION)
                return
            except PerronError as error:
                reply = _error(error)
            await websocket.send_text(reply)
            if hub.notifier.closed:
                await websocket.close(SERVICE_RESTART)
                return
    except WebSocketDisconnect:
        return
