"""Schemathesis drives every endpoint from the hub's own OpenAPI document, in process.

Requests carry a valid user token (and, for the station endpoints, a valid station
token) so the authenticated paths are exercised. No request may make the hub fail
(5xx), and every answer must match the documented status codes and schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from perron.hub.app import create_app
from perron.hub.settings import Settings
from tests.hub.world import CHEAP_ARGON2, Principal, World

FUZZ = settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzz_world(settings: Settings) -> Iterator[World]:
    # Long-polls would make every example wait: cap them at 50 ms.
    with TestClient(create_app(settings.replace(max_wait_seconds=0.05))) as client:
        yield World.standard(client, settings.database_url)


# The schema is read from an app on an unused in-memory database (reading it touches
# no database); the requests go to each test's own app (``app=``), on SQLite and on
# PostgreSQL. (``schemathesis.pytest.from_fixture`` does not run on pytest 9.2.)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(database_url="sqlite://", **CHEAP_ARGON2))
)


def call_as(case: schemathesis.Case[Any], world: World, principal: Principal) -> None:
    """Send the case with the principal's token, unless the case tests a missing token."""
    negated = case.operation.schema.is_security_param_negated(case)
    case.call_and_validate(app=world.client.app, headers=None if negated else principal.headers)


@schema.parametrize()
@FUZZ
def test_the_api_as_a_researcher(case, fuzz_world: World):
    call_as(case, fuzz_world, fuzz_world.users["ada"])


@schema.include(path_regex="^/api/(station|studies)").parametrize()
@FUZZ
def test_the_api_as_a_station(case, fuzz_world: World):
    call_as(case, fuzz_world, fuzz_world.stations["sa"])
