"""Tests of the hub service (perron.hub), on SQLite and PostgreSQL."""
