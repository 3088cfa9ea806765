"""Publishing through a real hub: the hub keeps the signed document as the client built it.

Starts OS processes (``perron hub start``, ``perron station start``) through
:class:`perron.sandbox.localnet.LocalNetwork`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from perron.client.http_grid import HttpGrid
from perron.client.publish import result_document
from perron.client.session import Session
from perron.crypto.envelope import verify
from perron.demos.study import POLICY, lung_stations
from perron.protocol.errors import InputError, UnknownColumn
from perron.sandbox.localnet import LocalNetwork
from perron.sandbox.simulation import simulate


@pytest.fixture(scope="module")
def network() -> Iterator[LocalNetwork]:
    with LocalNetwork(lung_stations(), disclosure=POLICY) as running:
        yield running


@pytest.fixture
def session(network: LocalNetwork) -> Session:
    return network.connect()


def _client(session: Session) -> httpx.Client:
    grid = session.grid
    assert isinstance(grid, HttpGrid)
    return grid._client


def _read(session: Session, study: str, result_id: str) -> dict[str, Any]:
    answer = _client(session).get(f"/api/studies/{study}/results/{result_id}")
    assert answer.status_code == 200, answer.text
    published: dict[str, Any] = answer.json()
    return published


def test_a_published_result_is_on_the_board_signed_by_its_researcher(network, session):
    curves = session.kaplan_meier("time", "status", by=["sex"])
    grid = session.grid
    assert isinstance(grid, HttpGrid)
    sent = list(grid.tasks.ids)

    result_id = session.publish(curves, title="Overall survival by sex")

    published = _read(session, network.study, result_id)
    assert (published["title"], published["kind"]) == ("Overall survival by sex", "kaplan_meier")
    body = verify(published["envelope"], grid._keys.public().verify_key)
    assert body["result_id"] == result_id
    assert body["task_ids"] == sent
    assert body["figure"]["type"] == "km"
    assert [c["label"] for c in body["figure"]["curves"]] == ["sex=1", "sex=2"]
    listed = _client(session).get(f"/api/studies/{network.study}/results").json()
    assert result_id in [r["result_id"] for r in listed]
    tasks = _client(session).get(f"/api/studies/{network.study}/tasks").json()
    assert set(sent) <= {t["task_id"] for t in tasks}


def test_a_second_publication_names_only_the_tasks_sent_since(network, session):
    first = session.coxph("time", "status", ["age", "sex", "ph_ecog"])
    session.publish(first, title="Hazard ratios")
    grid = session.grid
    assert isinstance(grid, HttpGrid)
    before = len(grid.tasks.ids)

    model = session.glm("status ~ age + sex", family="binomial")
    result_id = session.publish(model, title="Odds of death")

    body = _read(session, network.study, result_id)["envelope"]["body"]
    assert body["task_ids"] == grid.tasks.ids[before:]
    assert body["figure"]["label"] == "Odds ratio"


def test_every_kind_of_result_fits_the_board(network, session):
    analyses = {
        "summary": session.summary(["age", "wt_loss"]),
        "crosstab": session.crosstab("sex", "ph_ecog"),
        "logrank": session.logrank("time", "status", "sex"),
        "other": session.histogram("age", bins=6),
    }

    for kind, result in analyses.items():
        result_id = session.publish(result, title=f"A {kind}")
        assert _read(session, network.study, result_id)["kind"] == kind


def test_a_failed_run_is_published_as_its_stations_errors(network, session):
    with pytest.raises(UnknownColumn) as unknown:
        session.summary(["weight"])

    result_id = session.publish_error(unknown.value, title="Weight")

    body = _read(session, network.study, result_id)["envelope"]["body"]
    (error,) = body["errors"]
    assert error["station"] in network.datasets
    assert error["kind"] == "UnknownColumn"
    assert "weight" in error["message"]


def test_the_network_document_equals_the_simulated_one(network, session):
    """The same tables and figure as the same analysis in one process (ids aside)."""
    result = session.kaplan_meier("time", "status")
    reference = simulate(lung_stations(), disclosure=POLICY).kaplan_meier("time", "status")

    body = _read(session, network.study, session.publish(result, title="KM"))["envelope"]["body"]

    expected = result_document(reference, title="KM", study=network.study)
    assert body["figure"] == expected["figure"]
    assert body["tables"][:2] == expected["tables"][:2]


def test_a_simulated_session_cannot_publish():
    session = simulate(lung_stations(), disclosure=POLICY)

    with pytest.raises(InputError, match=r"perron\.connect"):
        session.publish(session.summary(["age"]), title="Age")
