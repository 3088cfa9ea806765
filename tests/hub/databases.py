"""Test databases: uniquely named PostgreSQL databases on 127.0.0.1:5432 (trust auth).

Nothing here skips: if PostgreSQL cannot be reached, the tests that need it fail.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from perron.hub.db.models import Base
from perron.hub.db.session import create_hub_engine

POSTGRES_SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
BACKENDS = ["sqlite", "postgresql"]


def postgres_url(name: str) -> str:
    """The hub's URL of database ``name``."""
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def create_postgres_database() -> str:
    """Create a new, empty, uniquely named database and return its name."""
    name = f"perron_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_postgres_database(name: str) -> None:
    """End every connection to database ``name`` and drop it."""
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database of ``backend`` (a SQLite file in ``folder``, or a
    PostgreSQL database of its own, dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'fresh.db'}"
        return
    name = create_postgres_database()
    try:
        yield postgres_url(name)
    finally:
        drop_postgres_database(name)


def empty_tables(url: str) -> None:
    """Delete every row of a migrated hub database (its schema stays)."""
    engine = create_hub_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()
