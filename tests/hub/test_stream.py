"""The station stream (``/api/station/stream``): the long-poll exchange over one WebSocket.

Every test runs on SQLite and on PostgreSQL (the ``world`` fixture). The stream
takes runs from the same queue as ``GET /api/station/next``, so the authorisation
matrix of the HTTP routes is tried here again over the socket: the wrong kind of
token, a revoked one, another organisation's runs, another station's run, a
cancelled task and a message that does not fit the schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from perron.crypto.envelope import seal, unseal
from perron.hub import admin
from perron.hub.api.routes.stream import POLICY_VIOLATION
from perron.hub.api.schemas import DeliveryPublic
from tests.hub.world import World

PATH = "/api/station/stream"


@contextmanager
def stream(world: World, who: str | None) -> Iterator[WebSocketTestSession]:
    """A WebSocket to the stream as station (or user) ``who``; ``None``: no token."""
    principal = None if who is None else world.stations.get(who) or world.users[who]
    headers = {} if principal is None else principal.headers
    with world.client.websocket_connect(PATH, headers=headers) as socket:
        yield socket


def exchange(socket: WebSocketTestSession, message: dict[str, Any]) -> dict[str, Any]:
    socket.send_text(json.dumps(message))
    reply: dict[str, Any] = json.loads(socket.receive_text())
    return reply


def answer(
    world: World, station: str, run_id: int, partial: dict[str, Any], wait: float = 0.0
) -> dict[str, Any]:
    sealed = seal(partial, world.users["ada"].keys.public(), world.stations[station].keys)
    return {"wait": wait, "answer": {"run_id": run_id, "status": "done", "payload": sealed}}


def assert_error(reply: dict[str, Any], status: int, kind: str) -> None:
    assert set(reply) == {"error"}, reply
    assert reply["error"]["status"] == status
    assert reply["error"]["kind"] == kind
    assert reply["error"]["detail"]


def assert_closed_for_policy(socket: WebSocketTestSession) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_text()
    assert closed.value.code == POLICY_VIOLATION


def test_a_run_travels_over_the_stream_and_its_sealed_answer_back(world: World):
    task_id = world.task("ada", "lung", ["sa"])

    with stream(world, "sa") as socket:
        run = exchange(socket, {"wait": 0})["run"]
        # The same delivery as GET /api/station/next gives.
        assert DeliveryPublic.model_validate(run).task_id == task_id
        assert run["envelope"]["body"]["task_id"] == task_id
        assert run["requester"]["username"] == "ada"
        partial = {"task_id": task_id, "payload": {"n": 7}}
        assert exchange(socket, answer(world, "sa", run["run_id"], partial)) == {"run": None}

    task = world.read("ada", task_id).json()
    assert task["status"] == "done"
    opened = unseal(
        task["runs"][0]["payload"], world.users["ada"].keys, world.stations["sa"].keys.public()
    )
    assert opened["payload"] == {"n": 7}


def test_an_answer_brings_the_next_run_and_answering_twice_keeps_the_first(world: World):
    first = world.task("ada", "lung", ["sa"])
    second = world.task("ada", "lung", ["sa"])

    with stream(world, "sa") as socket:
        run = exchange(socket, {"wait": 0})["run"]
        assert run["task_id"] == first
        following = exchange(socket, answer(world, "sa", run["run_id"], {"answer": 1}))["run"]
        assert following["task_id"] == second
        # A redelivered answer (the station lost the reply) is stored once.
        again = exchange(socket, answer(world, "sa", run["run_id"], {"answer": 2}))
        assert again == {"run": None}  # the second run is claimed already

    payload = world.read("ada", first).json()["runs"][0]["payload"]
    sa = world.stations["sa"].keys.public()
    assert unseal(payload, world.users["ada"].keys, sa) == {"answer": 1}


def test_the_stream_and_the_long_poll_share_one_queue(world: World):
    task_id = world.task("ada", "lung", ["sa"])

    with stream(world, "sa") as socket:
        assert exchange(socket, {"wait": 0})["run"]["task_id"] == task_id
        assert world.next("sa").status_code == 204  # claimed once, by the stream


def test_a_waiting_stream_is_woken_by_a_new_task(world: World):
    with stream(world, "sa") as socket:
        socket.send_text(json.dumps({"wait": 30}))
        task_id = world.task("ada", "lung", ["sa"])
        assert json.loads(socket.receive_text())["run"]["task_id"] == task_id


def test_a_station_outside_the_study_or_not_addressed_receives_nothing(world: World):
    world.task("ada", "lung", ["sa"])

    for name in ("sb", "sc"):  # sb: in the study, not addressed; sc: not in the study
        with stream(world, name) as socket:
            assert exchange(socket, {"wait": 0}) == {"run": None}


def test_a_station_cannot_answer_another_stations_run_and_keeps_its_stream(world: World):
    world.task("ada", "lung", ["sa"])
    run_id = world.next("sa").json()["run_id"]

    with stream(world, "sb") as socket:
        assert_error(exchange(socket, answer(world, "sb", run_id, {"x": 1})), 403, "NotAuthorized")
        assert_error(exchange(socket, answer(world, "sb", 999_999, {"x": 1})), 404, "NotFound")
        assert exchange(socket, {"wait": 0}) == {"run": None}  # still open


def test_a_late_answer_to_a_cancelled_task_gets_409(world: World):
    task_id = world.task("ada", "lung", ["sa"])
    with stream(world, "sa") as socket:
        run_id = exchange(socket, {"wait": 0})["run"]["run_id"]
        cancel = f"/api/tasks/{task_id}/cancel"
        assert world.client.post(cancel, headers=world.users["ada"].headers).status_code == 204
        assert_error(exchange(socket, answer(world, "sa", run_id, {"x": 1})), 409, "TaskCancelled")


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"wait": -1},
        {"wait": "soon"},
        {"wait": 0, "answer": {"run_id": 0, "status": "done", "payload": "YQ=="}},
        {"wait": 0, "answer": {"run_id": 1, "status": "maybe", "payload": "YQ=="}},
        {"wait": 0, "answer": {"run_id": 1, "status": "done", "payload": "not base64!"}},
        ["wait", 0],
    ],
)
def test_a_message_that_does_not_fit_gets_422_and_the_stream_stays_open(world: World, message):
    with stream(world, "sa") as socket:
        assert_error(exchange(socket, message), 422, "InputError")
        socket.send_text("{not json")
        assert_error(json.loads(socket.receive_text()), 422, "InputError")
        assert exchange(socket, {"wait": 0}) == {"run": None}


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({}, 401, "AuthenticationFailed"),
        ({"Authorization": "Bearer ps_not-a-real-token"}, 401, "AuthenticationFailed"),
        ({"Authorization": "Basic abc"}, 401, "AuthenticationFailed"),
    ],
)
def test_a_stream_without_a_valid_token_is_refused_and_closed(world: World, headers, status, kind):
    with world.client.websocket_connect(PATH, headers=headers) as socket:
        assert_error(json.loads(socket.receive_text()), status, kind)
        assert_closed_for_policy(socket)


def test_a_users_token_cannot_open_a_station_stream(world: World):
    with stream(world, "ada") as socket:
        assert_error(json.loads(socket.receive_text()), 403, "NotAuthorized")
        assert_closed_for_policy(socket)


def test_a_token_revoked_while_the_stream_is_open_fails_at_the_next_message(world: World):
    with stream(world, "sa") as socket:
        assert exchange(socket, {"wait": 0}) == {"run": None}
        with admin.admin_session(world.database_url) as session:
            admin.rotate_station_token(session, "sa")
        world.task("ada", "lung", ["sa"])
        assert_error(exchange(socket, {"wait": 0}), 401, "AuthenticationFailed")
        assert_closed_for_policy(socket)
    # The run was not handed to the revoked token: the rotated station gets it.
    assert world.sql("SELECT status FROM runs") == [("pending",)]
