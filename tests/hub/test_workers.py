"""Several hub workers over one PostgreSQL database.

Two hub applications on one database stand for two worker processes: each has its own
notifiers and its own LISTEN connection, exactly as a worker has. They re-read the
database only every 30 s unless woken, so a long-poll answered within its wait was
woken by the other worker. Claims made through both at once never hand one run out
twice, and none is lost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from perron.hub.app import create_app
from perron.hub.settings import Settings
from tests.hub.databases import empty_tables
from tests.hub.world import CHEAP_ARGON2, World

#: Longer than any wait below: only a wake-up answers a long-poll in time.
SLOW_POLL = 30.0
#: A long-poll's wait: it answers at its end anyway, with what it finds then.
WAIT = 40.0
#: How long a test gives a woken long-poll; far less than WAIT, far more than a wake-up.
WOKEN = 15.0


@pytest.fixture
def workers(postgres_database: str) -> Iterator[tuple[World, World]]:
    """The standard world through worker one, and the same principals through worker two."""
    empty_tables(postgres_database)
    settings = Settings(database_url=postgres_database, poll_seconds=SLOW_POLL, **CHEAP_ARGON2)
    with (
        TestClient(create_app(settings)) as first_client,
        TestClient(create_app(settings)) as second_client,
    ):
        first = World.standard(first_client, postgres_database)
        second = World(second_client, postgres_database)
        second.users, second.stations = first.users, first.stations
        yield first, second


def test_a_task_sent_through_one_worker_wakes_a_station_waiting_at_another(workers):
    first, second = workers
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(second.next, "sa", WAIT)
        _until_waiting(second, "sa")

        task_id = first.task("ada", "lung", ["sa"])

        delivery = poll.result(timeout=WOKEN)
    assert delivery.status_code == 200
    assert delivery.json()["task_id"] == task_id


def test_the_last_answer_at_one_worker_wakes_the_researcher_waiting_at_another(workers):
    first, second = workers
    task_id = first.task("ada", "lung", ["sa"])
    run_id = first.next("sa").json()["run_id"]
    with ThreadPoolExecutor(1) as pool:
        follow = pool.submit(first.read, "ada", task_id, WAIT)
        _until_following(first, task_id)

        assert second.answer("sa", run_id, {"n": 1}, "ada").status_code == 204

        task = follow.result(timeout=WOKEN)
    assert task.json()["status"] == "done"


def test_a_station_restarted_at_one_worker_retires_its_old_poll_at_another(workers):
    first, second = workers
    station = first.stations["sa"]
    with ThreadPoolExecutor(1) as pool:
        orphan = pool.submit(second.next, "sa", WAIT)  # the old process's poll
        _until_waiting(second, "sa")
        epoch = second.hub.notifier.epoch("station:sa")

        keys = station.keys.public().to_dict()
        restarted = first.client.put("/api/station/keys", json=keys, headers=station.headers)
        _until(lambda: second.hub.notifier.epoch("station:sa") > epoch)
        task_id = first.task("ada", "lung", ["sa"])

        assert orphan.result(timeout=WOKEN).status_code == 204  # it claimed nothing
    assert restarted.status_code == 204
    delivery = first.next("sa")
    assert delivery.json()["task_id"] == task_id


def test_pollers_at_both_workers_claim_every_run_once(workers):
    first, second = workers
    sent = [first.task("ada", "lung", ["sa", "sb"]) for _ in range(30)]
    claimed: list[tuple[str, str]] = []

    def drain(world: World, station: str) -> None:
        while True:
            delivery = world.next(station, wait=1.0)
            if delivery.status_code == 204:
                return
            run = delivery.json()
            claimed.append((station, run["task_id"]))
            answer = world.answer(station, run["run_id"], {"n": 1}, "ada")
            assert answer.status_code == 204

    # Eight pollers, four per worker, two stations: they race for every run.
    pollers = [(world, station) for world in (first, second) for station in ("sa", "sb")] * 2
    with ThreadPoolExecutor(len(pollers)) as pool:
        for done in [pool.submit(drain, world, station) for world, station in pollers]:
            done.result(timeout=120)

    counts = Counter(claimed)
    assert set(counts.values()) == {1}  # none twice
    assert set(counts) == {(station, task) for task in sent for station in ("sa", "sb")}
    statuses = {first.read("ada", task).json()["status"] for task in sent}
    assert statuses == {"done"}


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    # A bounded number of looks, not a clock: the bound only keeps a failure from hanging.
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("the condition did not hold in time")


def _until_waiting(world: World, station: str) -> None:
    """Until a long-poll of ``station`` waits on the worker's channel."""
    _until(lambda: _waiters(world, f"station:{station}") > 0)


def _until_following(world: World, task_id: str) -> None:
    _until(lambda: _waiters(world, f"task:{task_id}") > 0)


def _waiters(world: World, key: str) -> int:
    return world.hub.notifier.channel(key).waiting
