"""The station's durable feasibility ledger (:class:`perron.privacy.ledger.QueryLedger`).

A SQLite file in the station's state folder: per requester, the cohorts counted
for them and how often, and how often their queries were refused. It survives a
restart, so a requester cannot clear the differencing guard by waiting for one.
``perron station feasibility unlock REQUESTER`` lifts a lockout (the holder's
decision, written to the station log).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "feasibility.sqlite"
>>> with SqliteLedger(path) as ledger:
...     ledger.record("ann", "f1", [{"column": "age", "between": [40, 60]}])
...     ledger.refuse("ann")
>>> with SqliteLedger(path) as ledger:  # after a restart
...     (ledger.earlier("ann"), ledger.refusals("ann"))
([([{'column': 'age', 'between': [40, 60]}], 1)], 1)
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from perron.station._sqlite import Store, transaction

__all__ = ["SqliteLedger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feasibility_queries (
    requester   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    cohort      TEXT NOT NULL,
    times       INTEGER NOT NULL,
    last_at     REAL NOT NULL,
    PRIMARY KEY (requester, fingerprint)
);
CREATE TABLE IF NOT EXISTS feasibility_refusals (
    requester TEXT PRIMARY KEY,
    refusals  INTEGER NOT NULL
);
"""


class SqliteLedger(Store):
    """The durable :class:`~perron.privacy.ledger.QueryLedger` of a station."""

    SCHEMA = _SCHEMA

    def earlier(self, requester: str) -> list[tuple[list[dict[str, Any]], int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT cohort, times FROM feasibility_queries WHERE requester = ? "
                "ORDER BY last_at",
                (requester,),
            ).fetchall()
        return [(json.loads(cohort), int(times)) for cohort, times in rows]

    def record(self, requester: str, fingerprint: str, cohort: Sequence[Mapping[str, Any]]) -> None:
        wire = json.dumps([dict(c) for c in cohort])
        with self._lock, transaction(self._db):
            self._db.execute(
                "INSERT INTO feasibility_queries (requester, fingerprint, cohort, times, last_at) "
                "VALUES (?, ?, ?, 1, ?) ON CONFLICT (requester, fingerprint) "
                "DO UPDATE SET times = times + 1, last_at = excluded.last_at",
                (requester, fingerprint, wire, time.time()),
            )

    def refusals(self, requester: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT refusals FROM feasibility_refusals WHERE requester = ?", (requester,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def refuse(self, requester: str) -> None:
        with self._lock, transaction(self._db):
            self._db.execute(
                "INSERT INTO feasibility_refusals (requester, refusals) VALUES (?, 1) "
                "ON CONFLICT (requester) DO UPDATE SET refusals = refusals + 1",
                (requester,),
            )

    def unlock(self, requester: str) -> int:
        """Lift ``requester``'s lockout; returns the refusals that were counted."""
        before = self.refusals(requester)
        with self._lock, transaction(self._db):
            self._db.execute("DELETE FROM feasibility_refusals WHERE requester = ?", (requester,))
        return before
