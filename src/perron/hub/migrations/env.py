"""Alembic environment of the hub, run by :mod:`perron.hub.migrate` (not imported).

The connection comes from ``config.attributes["connection"]``, so no ``alembic.ini``
is needed and the migrations work from an installed package. Offline (SQL script)
mode is not supported.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

import perron.hub.db.tables  # noqa: F401 - registers the Core tables on Base.metadata
from perron.hub.db.models import Base, UTCDateTime


def render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    """Write the hub's column types as plain SQLAlchemy types in new revisions.

    A revision must not import the models: it has to keep working after they change.
    """
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations() -> None:
    """Run the migrations on the connection :mod:`perron.hub.migrate` passed in."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "the hub's migrations run through perron.hub.migrate.upgrade(url), "
            "not the alembic command line."
        )
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
