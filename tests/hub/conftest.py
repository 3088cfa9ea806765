"""Hub fixtures: every test runs on SQLite and on PostgreSQL (127.0.0.1:5432).

Each pytest(-xdist) worker creates its own uniquely named PostgreSQL database,
migrates it once, empties its tables before every test and drops it at the end. If
PostgreSQL cannot be reached the tests fail: they are never skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from perron.hub.app import create_app
from perron.hub.migrate import upgrade
from perron.hub.settings import Settings
from tests.hub.databases import (
    BACKENDS,
    create_postgres_database,
    drop_postgres_database,
    empty_tables,
    postgres_url,
)
from tests.hub.world import CHEAP_ARGON2, World


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """This worker's migrated PostgreSQL database (its URL)."""
    name = create_postgres_database()
    try:
        url = postgres_url(name)
        upgrade(url)
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test works on a copy."""
    path = tmp_path_factory.mktemp("template") / "hub.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty hub database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "hub.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    empty_tables(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Fast settings: cheap password hashing, short polls."""
    return Settings(database_url=database_url, poll_seconds=0.2, **CHEAP_ARGON2)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, settings: Settings) -> World:
    """Organisations A, B, C; study ``lung`` (A, B) and ``heart`` (B, C).

    Researchers ``ada`` (A) and ``bob`` (B) are members of ``lung``, ``eve`` (C) of
    ``heart``; admin ``root`` (A) is a member of ``lung``. Stations ``sa``, ``sb``,
    ``sc`` belong to A, B, C. Everyone has registered keys.
    """
    return World.standard(client, settings.database_url)


@pytest.fixture
def gov(client: TestClient, settings: Settings) -> World:
    """The world of the example data request (see :meth:`World.governance`)."""
    return World.governance(client, settings.database_url)
