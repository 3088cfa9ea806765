"""Stations on a real hub: their version and transport recorded, their reports kept.

Starts OS processes (``perron hub start``, ``perron station start``) through
:class:`perron.sandbox.localnet.LocalNetwork`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from perron.client.connect import hub_client, log_in
from perron.crypto.audit import verify_audit_lines
from perron.hub import admin
from perron.sandbox.localnet import RESEARCH_ORG, LocalNetwork
from perron.station.hub_client import perron_version

ADMIN = "root"
PASSWORD = "a long admin password"


@pytest.fixture(scope="module")
def network() -> Iterator[LocalNetwork]:
    rng = np.random.default_rng(11)
    frames = {name: pd.DataFrame({"x": rng.normal(size=40)}) for name in ("a", "b", "c")}
    with LocalNetwork(frames, transport={"a": "websocket", "b": "http", "c": "http"}) as running:
        with admin.admin_session(running.database_url) as db:
            admin.create_user(db, ADMIN, organisation=RESEARCH_ORG, password=PASSWORD, role="admin")
        yield running


@pytest.fixture(scope="module")
def hub_admin(network: LocalNetwork) -> Iterator[httpx.Client]:
    client = hub_client(network.url)
    client.headers["Authorization"] = f"Bearer {log_in(client, ADMIN, PASSWORD)}"
    yield client
    client.close()


def _eventually(read: Callable[[], Any], holds: Callable[[Any], bool]) -> Any:
    """``read()`` once ``holds`` of it (within 15 s): reports come while stations idle."""
    deadline = time.monotonic() + 15
    while True:
        value = read()
        if holds(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _report(client: httpx.Client, station: str) -> dict[str, Any] | None:
    answer = client.get(f"/api/organisations/org-{station}/stations/{station}/report")
    return answer.json() if answer.status_code == 200 else None


def test_the_hub_knows_each_stations_version_and_transport(network, hub_admin):
    network.connect().summary(["x"], quantiles=None)  # every station seen on its link

    states = {}
    for station in ("a", "b"):
        (states[station],) = hub_admin.get(f"/api/organisations/org-{station}/stations").json()

    assert {s["version"] for s in states.values()} == {perron_version()}
    assert (states["a"]["transport"], states["b"]["transport"]) == ("websocket", "long-poll")
    assert all(s["online"] for s in states.values())


def test_a_station_reports_at_start_and_after_its_runs(network, hub_admin):
    before = _eventually(lambda: _report(hub_admin, "a"), lambda r: r is not None)
    assert before is not None
    session = network.connect()

    session.summary(["x"], quantiles=None)
    after = _eventually(
        lambda: _report(hub_admin, "a"),
        lambda r: r is not None and r["audit_total"] > before["audit_total"],
    )

    assert after["audit_total"] > before["audit_total"]
    assert verify_audit_lines(after["audit_lines"]) == len(after["audit_lines"])
    last = json.loads(after["audit_lines"][-1])["entry"]
    assert (last["algorithm"], last["outcome"]) == ("summary", "released")
    assert after["objections"] == {"count": 0, "updated_at": None, "digest": None}
    assert after["datasets"] == ["data"]


def test_the_audit_lines_on_the_hub_are_the_stations_own(network, hub_admin):
    network.connect().summary(["x"], quantiles=None)
    path = network.workdir / "stations" / "b" / "audit.jsonl"

    def same(report: dict[str, Any] | None) -> bool:
        lines = path.read_text(encoding="ascii").splitlines()
        return report is not None and report["audit_lines"] == lines

    report = _eventually(lambda: _report(hub_admin, "b"), same)

    assert same(report)
