"""The researcher's side of the network opens only genuine answers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from perron import TamperedMessage
from perron.client.http_grid import HttpGrid, StationInfo
from perron.crypto.envelope import seal
from perron.crypto.keys import KeyPair
from perron.protocol.errors import PerronError
from perron.protocol.messages import Task


@pytest.fixture
def parties() -> Iterator[tuple[KeyPair, KeyPair, HttpGrid]]:
    researcher, station = KeyPair.generate(), KeyPair.generate()
    client = httpx.Client(base_url="http://127.0.0.1:9")
    grid = HttpGrid(
        client,
        "lung",
        "ana",
        researcher,
        [StationInfo("north", "org", station.public())],
        progress=False,
    )
    yield researcher, station, grid
    client.close()


def _answer(task_id: str, station: KeyPair, researcher: KeyPair) -> str:
    body: dict[str, Any] = {
        "task_id": task_id,
        "station": "north",
        "status": "done",
        "payload": {"n": 12},
        "decisions": [],
        "error": None,
    }
    return seal(body, researcher.public(), station)


def test_a_genuine_answer_is_opened(parties):
    researcher, station, grid = parties
    run = {"station": "north", "status": "done", "payload": _answer("t1", station, researcher)}

    partial = grid._open(run, "t1")

    assert partial.payload == {"n": 12}


def test_a_tampered_answer_is_rejected(parties):
    researcher, station, grid = parties
    sealed = bytearray(base64.b64decode(_answer("t1", station, researcher)))
    sealed[-5] ^= 0x01
    run = {"station": "north", "status": "done", "payload": base64.b64encode(sealed).decode()}

    with pytest.raises(TamperedMessage):
        grid._open(run, "t1")


def test_an_answer_forged_by_another_key_is_rejected(parties):
    researcher, _, grid = parties
    forger = KeyPair.generate()
    run = {"station": "north", "status": "done", "payload": _answer("t1", forger, researcher)}

    with pytest.raises(TamperedMessage):
        grid._open(run, "t1")


def test_an_answer_to_another_task_is_rejected(parties):
    researcher, station, grid = parties
    run = {"station": "north", "status": "done", "payload": _answer("t0", station, researcher)}

    with pytest.raises(TamperedMessage, match="another task"):
        grid._open(run, "t1")


def _hub(
    station: KeyPair, researcher: KeyPair, *, answers_with_state: bool
) -> tuple[httpx.MockTransport, list[str]]:
    """A hub whose station has answered every task by the time it is asked."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            task_id = json.loads(request.content)["envelope"]["body"]["task_id"]
            if not answers_with_state:  # a hub that answers with the id only
                return httpx.Response(201, json={"task_id": task_id})
        else:
            task_id = request.url.path.rsplit("/", 1)[1]
        payload = _answer(task_id, station, researcher)
        run = {"station": "north", "status": "done", "payload": payload}
        return httpx.Response(200, json={"task_id": task_id, "status": "done", "runs": [run]})

    return httpx.MockTransport(handle), seen


@pytest.mark.parametrize("answers_with_state", [True, False])
def test_a_round_is_one_request_when_the_hub_answers_with_the_state(answers_with_state):
    researcher, station = KeyPair.generate(), KeyPair.generate()
    transport, seen = _hub(station, researcher, answers_with_state=answers_with_state)
    client = httpx.Client(base_url="http://hub", transport=transport)
    stations = [StationInfo("north", "org", station.public())]
    grid = HttpGrid(client, "lung", "ana", researcher, stations, progress=False)

    partials = grid.run_round(Task("summary", {"columns": ["age"]}))

    client.close()
    assert partials["north"].payload == {"n": 12}
    assert seen[0] == "POST /api/studies/lung/tasks"
    assert len(seen) == (1 if answers_with_state else 2)  # else it asks with a GET


def _grid_over(
    transport: httpx.MockTransport, researcher: KeyPair, station: KeyPair, **options: Any
) -> HttpGrid:
    """A grid of one station, ``north``, talking to ``transport`` as its hub."""
    client = httpx.Client(base_url="http://hub", transport=transport)
    stations = [StationInfo("north", "org", station.public())]
    return HttpGrid(client, "lung", "ana", researcher, stations, progress=False, **options)


def _flaky_hub(
    station: KeyPair, researcher: KeyPair, failures: list[str]
) -> tuple[httpx.MockTransport, list[str]]:
    """A hub that fails the first requests as ``failures`` says, then answers.

    ``"lost"``: the connection drops after the hub stored the task (its worker was
    killed mid-request); ``"refused"``: no worker takes the connection; ``"503"``: the
    hub's database is restarting.
    """
    seen: list[str] = []
    stored: set[str] = set()

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            task_id = json.loads(request.content)["envelope"]["body"]["task_id"]
        else:
            task_id = request.url.path.rsplit("/", 1)[1]
        failure = failures.pop(0) if failures else None
        if failure == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if failure == "503":
            return httpx.Response(503, json={"detail": "restarting", "kind": "HubUnavailable"})
        if request.method == "POST":
            if task_id in stored:
                return httpx.Response(409, json={"detail": "exists", "kind": "Conflict"})
            stored.add(task_id)
        if failure == "lost":
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        payload = _answer(task_id, station, researcher)
        run = {"station": "north", "status": "done", "payload": payload}
        return httpx.Response(200, json={"task_id": task_id, "status": "done", "runs": [run]})

    return httpx.MockTransport(handle), seen


@pytest.mark.parametrize(
    ("failures", "requests"),
    [
        (["lost"], ["POST", "POST", "GET"]),  # stored, answer lost: the resend is a duplicate
        (["refused", "503"], ["POST", "POST", "POST"]),
        (["lost", "refused", "503"], ["POST", "POST", "POST", "POST", "GET"]),
    ],
)
def test_a_round_rides_out_a_lost_connection_and_a_restarting_database(failures, requests):
    researcher, station = KeyPair.generate(), KeyPair.generate()
    transport, seen = _flaky_hub(station, researcher, list(failures))
    grid = _grid_over(transport, researcher, station)

    partials = grid.run_round(Task("summary", {"columns": ["age"]}))

    grid.close()
    assert partials["north"].payload == {"n": 12}
    assert [line.split()[0] for line in seen] == requests
    assert len(set(grid.tasks.ids)) == 1  # one task, sent again, never a second one


def test_a_duplicate_task_id_on_the_first_attempt_is_an_error():
    researcher, station = KeyPair.generate(), KeyPair.generate()

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"detail": "a task with id exists", "kind": "Conflict"})

    grid = _grid_over(httpx.MockTransport(handle), researcher, station)

    with pytest.raises(PerronError, match="a task with id exists"):
        grid.run_round(Task("summary", {"columns": ["age"]}))
    grid.close()


def test_a_hub_that_stays_away_fails_the_round_when_its_time_is_up():
    researcher, station = KeyPair.generate(), KeyPair.generate()

    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    grid = _grid_over(httpx.MockTransport(handle), researcher, station, timeout=0.5)

    with pytest.raises(httpx.ConnectError):
        grid.run_round(Task("summary", {"columns": ["age"]}))
    grid.close()
