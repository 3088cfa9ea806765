"""Alembic migrations of the hub's database; run them with :mod:`perron.hub.migrate`."""
