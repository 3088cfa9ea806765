"""The real network: a hub and station processes on 127.0.0.1, killed and restarted.

Every test here starts OS processes (``perron hub start``, ``perron station
start``) through :class:`perron.sandbox.localnet.LocalNetwork`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from perron import DisclosureBlocked, RoundTimeout
from perron.client.http_grid import HttpGrid
from perron.crypto.audit import verify_audit_log
from perron.demos.study import POLICY, lung_stations
from perron.protocol.errors import TaskCancelled
from perron.protocol.messages import Task
from perron.sandbox.localnet import LocalNetwork
from perron.sandbox.simulation import simulate
from tests.support import assert_close

SUMMARY = Task("summary", {"columns": ["x"]})


@pytest.fixture(scope="module")
def lung_network() -> Iterator[LocalNetwork]:
    with LocalNetwork(lung_stations(), disclosure=POLICY) as network:
        yield network


@pytest.fixture(params=["websocket", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    """How the stations take their runs: one WebSocket each, or HTTP long-polls."""
    value: str = request.param
    return value


@pytest.fixture
def small() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(3)
    return {name: pd.DataFrame({"x": rng.normal(size=40)}) for name in ("a", "b", "c")}


def _grid(network: LocalNetwork, **options: Any) -> HttpGrid:
    grid = network.connect(**options).grid
    assert isinstance(grid, HttpGrid)
    return grid


def test_network_results_equal_the_simulation(lung_network):
    session = lung_network.connect()
    reference = simulate(lung_stations(), disclosure=POLICY)

    glm = session.glm("status ~ age + sex + ph_ecog", family="binomial")
    cox = session.coxph("time", "status", ["age", "sex", "ph_ecog"])
    summary = session.summary(["age", "wt_loss"])

    expected_glm = reference.glm("status ~ age + sex + ph_ecog", family="binomial")
    expected_cox = reference.coxph("time", "status", ["age", "sex", "ph_ecog"])
    assert_close(glm.params, expected_glm.params)
    assert_close(glm.bse, expected_glm.bse)
    assert_close(cox.params, expected_cox.params)
    assert_close(cox.llf, expected_cox.llf)
    expected = reference.summary(["age", "wt_loss"]).table
    assert_close(summary.table["mean"].sort_index(), expected["mean"].sort_index())
    assert glm.nobs_per_station == expected_glm.nobs_per_station


def test_a_disclosure_block_names_the_station_and_rule(lung_network):
    session = lung_network.connect()

    with pytest.raises(DisclosureBlocked) as error:
        session.summary(["age"], quantiles=None, disclosure={"min_rows": 70})

    assert error.value.station == "hospital_south"
    assert error.value.rule == "min_rows"
    assert "61" not in str(error.value)


def test_every_station_keeps_a_verifiable_audit_log(lung_network):
    lung_network.connect().summary(["age"], quantiles=None)

    for path in lung_network.audit_logs():
        assert verify_audit_log(path) >= 1
    config = lung_network.workdir / "stations" / "hospital_north" / "station.toml"
    result = subprocess.run(
        [sys.executable, "-m", "perron", "station", "audit", "verify", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "chain intact" in result.stdout


def test_the_hub_database_holds_no_plaintext_result(lung_network):
    session = lung_network.connect()
    table = session.summary(["age"], quantiles=None).table
    marker = repr(float(table.loc[("age", "hospital_north"), "mean"]))

    stored = b"".join(
        path.read_bytes() for path in lung_network.workdir.glob("hub.db*") if path.is_file()
    )

    assert marker.encode() not in stored
    assert marker[:8].encode() not in stored


def test_an_offline_station_picks_up_its_task_when_it_returns(small, transport):
    with LocalNetwork(small, transport=transport) as network:
        grid = _grid(network)
        network.stop_station("b")
        task_id = grid.submit(SUMMARY)
        network.start_station("b")

        partials = grid.collect(task_id, SUMMARY)

    assert set(partials) == {"a", "b", "c"}
    assert all(p.error is None for p in partials.values())


def test_tasks_survive_a_hub_killed_with_sigkill(small, transport):
    with LocalNetwork(small, transport=transport) as network:
        grid = _grid(network)
        for name in small:
            network.stop_station(name)
        task_id = grid.submit(SUMMARY)
        network.stop_hub(kill=True)
        network.start_hub()
        for name in small:
            network.start_station(name)

        partials = grid.collect(task_id, SUMMARY)

    counts = {name: (p.payload or {})["columns"]["x"]["n"] for name, p in partials.items()}
    assert counts == dict.fromkeys(small, 40)


def test_stations_come_back_by_themselves_after_the_hub_was_killed_under_them(small, transport):
    with LocalNetwork(small, transport=transport) as network:
        grid = _grid(network, timeout=60.0)
        before = grid.run_round(SUMMARY)
        network.stop_hub(kill=True)  # the stations' connections break mid-wait
        network.start_hub()

        after = grid.run_round(SUMMARY)

    assert {n: p.payload for n, p in after.items()} == {n: p.payload for n, p in before.items()}
    assert set(after) == set(small)


def test_stations_on_websockets_and_on_long_polls_serve_one_study(small):
    transports = {"a": "http", "b": "websocket", "c": "websocket"}
    with LocalNetwork(small, transport=transports) as network:
        summary = network.connect().summary(["x"], quantiles=None)
    reference = simulate(small).summary(["x"], quantiles=None)

    columns = ["count", "mean", "var"]
    assert_close(summary.table[columns].sort_index(), reference.table[columns].sort_index())


def test_a_station_that_never_answers_times_the_round_out(small, transport):
    with LocalNetwork(small, transport=transport) as network:
        session = network.connect(timeout=1.5)
        network.stop_station("c", kill=True)

        with pytest.raises(RoundTimeout, match=r"from station\(s\) c;"):
            session.summary(["x"], quantiles=None)


def test_a_round_can_be_cancelled(small):
    with LocalNetwork(small) as network:
        grid = _grid(network, timeout=30.0)
        network.stop_station("a")
        task_id = grid.submit(SUMMARY)
        grid.cancel(task_id)

        with pytest.raises(TaskCancelled):
            grid.collect(task_id, SUMMARY)
