"""The engine factory: SQLite (default) or PostgreSQL through psycopg 3.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (readers never block the writer;
a power cut may lose the last commits but never corrupts the file) and with foreign
keys enforced; connections may be used from the request thread pool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from perron.hub.settings import normalise_database_url

#: Seconds a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_SECONDS = 30.0


def create_hub_engine(database_url: str) -> Engine:
    """An engine for the hub's database.

    Parameters
    ----------
    database_url
        ``sqlite:///path.db`` or ``postgresql://user@host/db`` (the psycopg 3 driver
        is selected for PostgreSQL).

    Examples
    --------
    >>> engine = create_hub_engine("sqlite:///:memory:")
    >>> engine.dialect.name
    'sqlite'
    >>> engine.dispose()
    """
    url = normalise_database_url(database_url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
    }
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One in-memory database shared by every thread (tests and docs only).
        options["poolclass"] = StaticPool
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine``; services commit explicitly."""
    return sessionmaker(engine)
