"""Faults under load: two hub workers on a PostgreSQL server of the test's own, three
station processes, three researchers running GLM, Cox and crosstab analyses at once.

While they run, one hub worker is killed with SIGKILL mid-round, a station is killed
and started again, and PostgreSQL is restarted. Every analysis completes with the
numbers of its simulation, every task the researchers sent is done at the hub (none
lost), every station ran each task once (an answer lost with a connection is given
again from the station's stored answer, not computed twice), and every audit chain
verifies. Each wait is bounded: a fault the network does not recover from fails the
test instead of hanging it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import psutil
import pytest
from lifelines.datasets import load_rossi
from sqlalchemy import text

from perron.client.http_grid import HttpGrid
from perron.client.session import Session
from perron.crypto.audit import verify_audit_log
from perron.hub.db.session import create_hub_engine
from perron.sandbox.localnet import LocalNetwork
from perron.sandbox.simulation import simulate
from tests.sandbox.private_postgres import PrivatePostgres
from tests.support import assert_close

HUB_WORKERS = 2
RESEARCHERS = 3
#: Analyses every researcher completes before a fault, and all of them together after it.
BEFORE, AFTER = 1, 6
#: Bound on every wait of a test: recovery takes seconds, not minutes.
BOUND = 240.0

#: Every Load's researchers are new users of the module's network.
_NAMES = itertools.count()

Analysis = Callable[[Any], Any]
ANALYSES: dict[str, Analysis] = {
    "glm": lambda s: s.glm("arrest ~ fin + age + prio", family="binomial"),
    "cox": lambda s: s.coxph("week", "arrest", ["fin", "age", "prio"]),
    "crosstab": lambda s: s.crosstab("fin", "race"),
}


def _rossi() -> dict[str, pd.DataFrame]:
    """lifelines' Rossi recidivism data (432 rows), split unevenly over three holders."""
    rossi = load_rossi()
    return {"a": rossi.iloc[:150], "b": rossi.iloc[150:240], "c": rossi.iloc[240:]}


def _same(name: str, result: Any, expected: Any) -> None:
    if name == "crosstab":
        pd.testing.assert_frame_equal(result.table, expected.table)
    else:
        assert_close(result.params, expected.params)
        assert_close(result.bse, expected.bse)


class Load:
    """Researchers running analyses in threads until stopped; errors kept, not raised."""

    def __init__(self, network: LocalNetwork, references: dict[str, Any]) -> None:
        self.sessions: list[Session] = []
        for _ in range(RESEARCHERS):
            name = f"researcher-{next(_NAMES)}"
            network.add_researcher(name)
            self.sessions.append(network.connect(researcher=name, timeout=BOUND))
        self.references = references
        self.completed = Counter[int]()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, args=(index,), daemon=True)
            for index in range(RESEARCHERS)
        ]

    def _work(self, index: int) -> None:
        names = list(ANALYSES)
        turn = index
        while not self._stop.is_set():
            name = names[turn % len(names)]
            turn += 1
            try:
                _same(name, ANALYSES[name](self.sessions[index]), self.references[name])
            except Exception as error:  # kept for the test to report
                with self._lock:
                    self.errors.append(f"researcher {index}, {name}: {error!r}")
                return
            with self._lock:
                self.completed[index] += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(BOUND)
        assert not any(thread.is_alive() for thread in self._threads), "an analysis hung"

    def total(self) -> int:
        with self._lock:
            return sum(self.completed.values())

    def until(self, condition: Callable[[], bool], what: str) -> None:
        # A bounded number of looks, not a clock: the bound only keeps a failure from hanging.
        for _ in range(int(BOUND / 0.05)):
            assert not self.errors, self.errors
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"not within {BOUND:g} s: {what}")

    def warmed_up(self) -> None:
        self.until(
            lambda: all(self.completed[i] >= BEFORE for i in range(RESEARCHERS)),
            "every researcher's first analysis",
        )

    def task_ids(self) -> list[str]:
        grids = [session.grid for session in self.sessions]
        assert all(isinstance(grid, HttpGrid) for grid in grids)
        return [task for grid in grids if isinstance(grid, HttpGrid) for task in grid.tasks.ids]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as server:
        yield server


@pytest.fixture(scope="module")
def network(postgres: PrivatePostgres) -> Iterator[LocalNetwork]:
    with LocalNetwork(_rossi(), database_url=postgres.url, hub_workers=HUB_WORKERS) as network:
        yield network


@pytest.fixture(scope="module")
def references() -> dict[str, Any]:
    simulated = simulate(_rossi())
    return {name: analysis(simulated) for name, analysis in ANALYSES.items()}


def _workers(network: LocalNetwork) -> list[int]:
    """The hub's worker processes (its supervisor's children but the resource tracker)."""
    assert network.hub is not None
    children = psutil.Process(network.hub.pid).children()
    return [c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline())]


def _open_runs(network: LocalNetwork) -> int:
    """Runs sent but not yet answered: a round is under way."""
    engine = create_hub_engine(network.database_url)
    try:
        with engine.connect() as connection:
            query = "SELECT count(*) FROM runs WHERE status IN ('pending', 'claimed')"
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def _nothing_lost_nothing_twice(network: LocalNetwork, load: Load) -> None:
    sent = load.task_ids()
    engine = create_hub_engine(network.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT task_id, status FROM runs WHERE task_id = ANY(:ids)"),
                {"ids": sent},
            ).all()
    finally:
        engine.dispose()
    assert Counter(status for _task, status in rows) == {"done": len(sent) * len(network.datasets)}
    for log in network.audit_logs():
        verify_audit_log(log)
        entries = [line for line in log.read_text().splitlines() if line]
        ran = Counter(task for task in (_task_of(line) for line in entries) if task in set(sent))
        assert set(ran) == set(sent), f"{log.parent.name} missed tasks"
        assert set(ran.values()) == {1}, f"{log.parent.name} ran a task twice"


def _task_of(line: str) -> str:
    entry: dict[str, Any] = json.loads(line)["entry"]
    return str(entry.get("task_id"))


def _under_load(network: LocalNetwork, references: dict[str, Any], fault: Callable[[], None]):
    with Load(network, references) as load:
        load.warmed_up()
        load.until(lambda: _open_runs(network) > 0, "a round under way")
        fault()
        done = load.total()
        load.until(lambda: load.total() >= done + AFTER, f"{AFTER} analyses after the fault")
    assert not load.errors, load.errors
    _nothing_lost_nothing_twice(network, load)


def test_a_hub_worker_killed_mid_round(network, references):
    before = _workers(network)
    assert len(before) == HUB_WORKERS

    _under_load(network, references, lambda: os.kill(before[0], signal.SIGKILL))

    # The supervisor started a new worker in its place.
    after = _workers(network)
    assert len(after) == HUB_WORKERS
    assert before[0] not in after


def test_a_station_killed_and_started_again(network, references):
    def fault() -> None:
        network.stop_station("b", kill=True)
        network.start_station("b")

    _under_load(network, references, fault)


def test_postgresql_restarted(network, postgres, references):
    _under_load(network, references, postgres.restart)
