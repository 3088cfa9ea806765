"""A hub whose database cannot be reached answers 503 HubUnavailable, never a bare 500.

Clients and stations take that (and a lost connection) as "try again"
(:class:`perron.protocol.errors.HubUnavailable` is a transport error), so a PostgreSQL
restart delays a round instead of failing it.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from perron.hub.app import create_app
from perron.hub.settings import Settings
from perron.protocol.errors import HubUnavailable, TransportError, error_from_wire
from perron.sandbox.localnet import free_port
from tests.hub.world import CHEAP_ARGON2

HEADERS = {"Authorization": "Bearer ps_" + "x" * 43}


@pytest.fixture
def unreachable() -> TestClient:
    # Nothing listens on this port: every connection attempt is refused at once.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/hub?connect_timeout=2"
    # No lifespan (no `with`): it would only retry its LISTEN connection meanwhile.
    return TestClient(create_app(Settings(database_url=url, **CHEAP_ARGON2)))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/me"),  # a synchronous route, on an ORM session
        ("GET", "/api/station/next"),  # a unit of work in the thread pool
        ("POST", "/api/auth/token"),
    ],
)
def test_every_kind_of_route_answers_503_while_the_database_is_away(unreachable, method, path):
    body = {"username": "ana", "password": "secret"} if path.endswith("token") else None
    answer = unreachable.request(method, path, headers=HEADERS, json=body)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["kind"] == "HubUnavailable"
    assert "try again" in answer.json()["detail"].lower()


def test_the_answer_becomes_a_transport_error_that_clients_retry():
    error = error_from_wire({"kind": "HubUnavailable", "message": "restarting"})
    assert isinstance(error, HubUnavailable)
    assert isinstance(error, TransportError)
