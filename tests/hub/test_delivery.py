"""Delivery: the full round trip, long-polls that wake on change, leases, restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from perron.crypto.envelope import unseal
from perron.hub import admin
from perron.hub.app import create_app
from perron.hub.notify import Attempt, Notifier, Served
from perron.hub.services import runs
from perron.hub.services.auth import identify
from perron.hub.settings import Settings
from tests.hub.world import World


def test_a_task_travels_to_the_station_and_the_sealed_partial_back(world: World):
    task_id = world.task("ada", "lung", ["sa", "sb"])

    for name in ("sa", "sb"):
        delivery = world.next(name).json()
        assert delivery["task_id"] == task_id
        assert delivery["study"] == {"name": "lung", "organisations": ["A", "B"]}
        assert delivery["requester"]["username"] == "ada"
        assert delivery["requester"]["verify_key"] == world.users["ada"].keys.public().verify_key
        assert delivery["envelope"]["body"]["task_id"] == task_id
        partial = {"task_id": task_id, "station": name, "status": "done", "payload": {"n": 7}}
        assert world.answer(name, delivery["run_id"], partial, "ada").status_code == 204

    task = world.read("ada", task_id).json()
    assert task["status"] == "done"
    for run in task["runs"]:
        station = world.stations[run["station"]].keys.public()
        opened = unseal(run["payload"], world.users["ada"].keys, station)
        assert opened["payload"] == {"n": 7}


def test_answering_twice_is_idempotent_and_keeps_the_first_answer(world: World):
    task_id = world.task("ada", "lung", ["sa"])
    run_id = world.next("sa").json()["run_id"]

    assert world.answer("sa", run_id, {"answer": 1}, "ada").status_code == 204
    assert world.answer("sa", run_id, {"answer": 2}, "ada").status_code == 204

    payload = world.read("ada", task_id).json()["runs"][0]["payload"]
    opened = unseal(payload, world.users["ada"].keys, world.stations["sa"].keys.public())
    assert opened == {"answer": 1}


def test_a_status_shows_pending_claimed_and_done(world: World):
    task_id = world.task("ada", "lung", ["sa", "sb"])
    assert world.read("ada", task_id).json()["status"] == "pending"

    run_id = world.next("sa").json()["run_id"]
    assert world.read("ada", task_id).json()["status"] == "claimed"

    world.answer("sa", run_id, {}, "ada")
    world.answer("sb", world.next("sb").json()["run_id"], {}, "ada")
    assert world.read("ada", task_id).json()["status"] == "done"


def _spy_on_waits(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set when a long-poll starts waiting on one of the hub's channels."""
    waiting = threading.Event()
    wait = Notifier.wait

    async def spy(
        self: Notifier, generation: int, timeout: float, attempt: Attempt[object] | None = None
    ) -> bool | Served:
        waiting.set()
        return await wait(self, generation, timeout, attempt)

    monkeypatch.setattr(Notifier, "wait", spy)
    return waiting


@pytest.fixture
def slow_poll_world(settings: Settings) -> Iterator[World]:
    """A world whose hub re-reads the database only every 30 s unless notified."""
    with TestClient(create_app(settings.replace(poll_seconds=30.0))) as client:
        yield World.standard(client, settings.database_url)


def test_a_waiting_station_is_woken_by_a_new_task(slow_poll_world: World, monkeypatch):
    world = slow_poll_world
    waiting = _spy_on_waits(world.client, monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(world.next, "sa", 20.0)
        assert waiting.wait(10)

        task_id = world.task("ada", "lung", ["sa"])

        # The poll re-reads the database only every 30 s: within its 20 s wait only
        # the notification can have delivered the run.
        delivery = poll.result(timeout=20)
    assert delivery.status_code == 200
    assert delivery.json()["task_id"] == task_id


def test_a_waiting_researcher_is_woken_by_the_last_answer(slow_poll_world: World, monkeypatch):
    world = slow_poll_world
    task_id = world.task("ada", "lung", ["sa"])
    run_id = world.next("sa").json()["run_id"]
    waiting = _spy_on_waits(world.client, monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(world.read, "ada", task_id, 20.0)
        assert waiting.wait(10)

        world.answer("sa", run_id, {"n": 1}, "ada")

        task = poll.result(timeout=20)
    assert task.json()["status"] == "done"


def test_a_long_poll_without_work_answers_204_after_the_wait(world: World):
    assert world.next("sa", wait=0.3).status_code == 204


def test_a_claimed_run_is_delivered_again_when_its_lease_expires(settings: Settings):
    with TestClient(create_app(settings.replace(lease_seconds=2.0, poll_seconds=0.1))) as client:
        world = World.standard(client, settings.database_url)
        task_id = world.task("ada", "lung", ["sa"])
        first = world.next("sa").json()

        assert world.next("sa").status_code == 204  # leased
        again = world.next("sa", wait=15)

        assert again.status_code == 200
        assert again.json()["run_id"] == first["run_id"]
        assert world.answer("sa", first["run_id"], {}, "ada").status_code == 204
        assert world.read("ada", task_id).json()["status"] == "done"
        assert world.next("sa", wait=0.3).status_code == 204  # answered: never again


def test_pending_and_abandoned_runs_survive_a_restart(settings: Settings):
    # First hub: two tasks; one run is claimed and then the hub dies (no answer).
    with TestClient(create_app(settings)) as client:
        world = World.standard(client, settings.database_url)
        abandoned = world.task("ada", "lung", ["sa"])
        assert world.next("sa").json()["task_id"] == abandoned
        pending = world.task("ada", "lung", ["sb"])
        users, stations = world.users, world.stations

    # Second hub on the same database, with a short lease.
    restarted = settings.replace(lease_seconds=1.0, poll_seconds=0.1)
    with TestClient(create_app(restarted)) as client:
        world = World(client, settings.database_url)
        world.users, world.stations = users, stations

        assert world.next("sb").json()["task_id"] == pending
        assert world.next("sa", wait=15).json()["task_id"] == abandoned
        assert world.read("ada", pending).json()["status"] == "claimed"


def test_two_pollers_of_one_station_never_both_claim_a_run(world: World):
    world.task("ada", "lung", ["sa"])

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: world.next("sa", wait=0.5), range(4)))

    assert sorted(answer.status_code for answer in answers) == [200, 204, 204, 204]


def test_a_restarted_station_retires_its_old_long_poll(slow_poll_world: World, monkeypatch):
    world = slow_poll_world
    waiting = _spy_on_waits(world.client, monkeypatch)
    station = world.stations["sa"]
    with ThreadPoolExecutor(1) as pool:
        orphan = pool.submit(world.next, "sa", 20.0)  # the old process's poll
        assert waiting.wait(10)

        keys = station.keys.public().to_dict()
        restarted = world.client.put("/api/station/keys", json=keys, headers=station.headers)
        task_id = world.task("ada", "lung", ["sa"])

        assert orphan.result(timeout=20).status_code == 204  # it claimed nothing
    assert restarted.status_code == 204
    delivery = world.next("sa")
    assert delivery.status_code == 200
    assert delivery.json()["task_id"] == task_id


def test_an_answer_with_next_wait_returns_the_stations_next_run(world: World):
    first = world.task("ada", "lung", ["sa"])
    second = world.task("ada", "lung", ["sa"])
    run = world.next("sa").json()
    assert run["task_id"] == first

    chained = world.answer("sa", run["run_id"], {"n": 1}, "ada", next_wait=5.0)

    assert chained.status_code == 200
    assert chained.json()["task_id"] == second
    assert world.read("ada", first).json()["status"] == "done"
    last = world.answer("sa", chained.json()["run_id"], {"n": 2}, "ada", next_wait=0.2)
    assert last.status_code == 204  # stored; nothing more within the wait
    assert world.read("ada", second).json()["status"] == "done"


def test_a_task_sent_without_wait_comes_back_pending(world: World):
    answer = world.send("ada", "lung", ["sb", "sa"])

    assert answer.status_code == 201
    state = answer.json()
    assert state["status"] == "pending"
    assert state["runs"] == [
        {"station": "sa", "status": "pending", "payload": None},
        {"station": "sb", "status": "pending", "payload": None},
    ]


def test_a_task_sent_with_wait_comes_back_with_every_answer(slow_poll_world: World):
    world = slow_poll_world
    with ThreadPoolExecutor(1) as pool:
        sent = pool.submit(world.send, "ada", "lung", ["sa"], wait=20.0)
        # The poll re-reads the database only every 30 s: the task's creation hands
        # the run to the waiting station, and its answer the state to the researcher.
        run = world.next("sa", wait=20.0)
        assert run.status_code == 200
        stored = world.answer("sa", run.json()["run_id"], {"n": 3}, "ada")
        answer = sent.result(timeout=20)

    assert stored.status_code == 204
    assert answer.status_code == 201
    state = answer.json()
    assert state["status"] == "done"
    [payload] = [r["payload"] for r in state["runs"]]
    assert unseal(payload, world.users["ada"].keys, world.stations["sa"].keys.public()) == {"n": 3}


def test_a_waiting_station_whose_token_was_revoked_is_handed_no_run(
    slow_poll_world: World, monkeypatch
):
    world = slow_poll_world
    waiting = _spy_on_waits(world.client, monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(world.next, "sa", 20.0)
        assert waiting.wait(10)
        with world.hub.sessions() as session:
            token = admin.rotate_station_token(session, "sa")

        task_id = world.task("ada", "lung", ["sa"])

        assert poll.result(timeout=20).status_code == 401
    world.stations["sa"].token = token
    delivery = world.next("sa")
    assert delivery.status_code == 200
    assert delivery.json()["task_id"] == task_id  # the revoked poll claimed nothing


def test_a_waiting_researcher_whose_token_was_revoked_is_handed_no_answers(
    slow_poll_world: World, monkeypatch
):
    world = slow_poll_world
    task_id = world.task("ada", "lung", ["sa"])
    run_id = world.next("sa").json()["run_id"]
    waiting = _spy_on_waits(world.client, monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(world.read, "ada", task_id, 20.0)
        assert waiting.wait(10)
        world.sql(
            "UPDATE tokens SET revoked = true "
            "WHERE user_id = (SELECT id FROM users WHERE username = 'ada')"
        )

        stored = world.answer("sa", run_id, {"n": 1}, "ada")

        assert poll.result(timeout=20).status_code == 401
    assert stored.status_code == 204  # the station's answer is stored all the same


def _waiting_for_a_lock(world: World) -> bool:
    """Whether a PostgreSQL backend of the hub's database waits for a row lock."""
    found = world.sql(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(found[0][0])


def test_two_answers_stored_at_once_find_the_task_finished(world: World):
    # The last answer of a task wakes its researcher: when two answers are stored at
    # once, the one stored second must see the first (on PostgreSQL the task's row
    # is locked while an answer is stored; SQLite has one writer).
    task_id = world.task("ada", "lung", ["sa", "sb"])
    first, second = (world.next(name).json()["run_id"] for name in ("sa", "sb"))
    hub = world.hub
    with hub.engine.connect() as held, ThreadPoolExecutor(1) as pool:
        # The first answer, stored but not committed yet.
        if hub.engine.dialect.name == "postgresql":
            held.execute(
                text("SELECT task_id FROM tasks WHERE task_id = :t FOR UPDATE"), {"t": task_id}
            )
        held.execute(
            text("UPDATE runs SET status = 'done', payload = 'x' WHERE id = :id"), {"id": first}
        )

        def store_second() -> str | None:
            with hub.engine.connect() as connection:
                station = identify(connection, world.stations["sb"].token)
                return runs.finish_run(connection, station, second, "done", "eA==")

        stored = pool.submit(store_second)
        if hub.engine.dialect.name == "postgresql":
            for _ in range(1000):  # until the second answer waits for the first
                if _waiting_for_a_lock(world):
                    break
                threading.Event().wait(0.01)
            else:
                raise AssertionError("the second answer did not wait for the first")
        held.commit()

        assert stored.result(timeout=30) == task_id
