"""A unit of work's transaction: committed when it returns, rolled back when it raises.

Ending a unit's reads with a commit (not the pool's rollback) also keeps the
connection's prepared statements on PostgreSQL: psycopg forgets them on every
rollback, and planning each statement of a round afresh cost about 7 ms a round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from perron.hub.api.deps import Hub

T = TypeVar("T")


def _execute(client: TestClient, unit: Callable[[Connection], T]) -> T:
    hub = client.app.state.hub  # type: ignore[attr-defined]
    assert isinstance(hub, Hub)

    async def main() -> T:
        return await hub.execute(unit)

    return anyio.run(main)


def _organisations(connection: Connection) -> list[str]:
    return list(connection.execute(text("SELECT name FROM organisations")).scalars())


def _insert(name: str) -> Callable[[Connection], None]:
    def unit(connection: Connection) -> None:
        connection.execute(
            text("INSERT INTO organisations (name, created_at) VALUES (:n, CURRENT_TIMESTAMP)"),
            {"n": name},
        )

    return unit


def test_a_unit_that_returns_is_committed_and_one_that_raises_is_rolled_back(client):
    def failing(connection: Connection) -> None:
        _insert("lost")(connection)
        raise RuntimeError("the unit failed")

    _execute(client, _insert("kept"))
    with pytest.raises(RuntimeError, match="the unit failed"):
        _execute(client, failing)

    assert _execute(client, _organisations) == ["kept"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_units_that_only_read_keep_the_connections_prepared_statements(client):
    # Prepared statements are PostgreSQL's; SQLite has none to keep.
    # psycopg prepares a statement the sixth time one connection runs it; units run
    # one after another share the pool's one connection.
    for _ in range(7):
        _execute(client, lambda connection: connection.execute(text("SELECT 41 + 1")).scalar())

    prepared = _execute(
        client,
        lambda connection: connection.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%41 + 1%'")
        ).scalar(),
    )

    assert prepared == 1
