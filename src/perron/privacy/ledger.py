"""The station's record of a requester's feasibility queries (the differencing guard).

A station keeps, per requester, the cohorts it counted for them and how often, and
how often it refused them. :mod:`perron.algorithms.feasibility.counts` consults it before
answering. :class:`MemoryLedger` lives in the station process (``simulate``); a
station started with ``perron station start`` keeps it in a SQLite file in its
state folder.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class QueryLedger(Protocol):
    def earlier(self, requester: str) -> list[tuple[list[dict[str, Any]], int]]:
        """The cohorts counted for ``requester`` (as wire) and how often each was."""
        ...

    def record(self, requester: str, fingerprint: str, cohort: Sequence[Mapping[str, Any]]) -> None:
        """Count one more query of ``cohort`` for ``requester``."""
        ...

    def refusals(self, requester: str) -> int:
        """How many of ``requester``'s queries were refused as differencing or repeats."""
        ...

    def refuse(self, requester: str) -> None:
        """Count one more refusal."""
        ...


class MemoryLedger:
    """A :class:`QueryLedger` in memory.

    Examples
    --------
    >>> ledger = MemoryLedger()
    >>> ledger.record("ann", "f1", [{"column": "age", "between": [40, 60]}])
    >>> ledger.record("ann", "f1", [{"column": "age", "between": [40, 60]}])
    >>> ledger.earlier("ann")
    [([{'column': 'age', 'between': [40, 60]}], 2)]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queries: dict[str, dict[str, tuple[list[dict[str, Any]], int]]] = {}
        self._refusals: dict[str, int] = {}

    def earlier(self, requester: str) -> list[tuple[list[dict[str, Any]], int]]:
        with self._lock:
            return list(self._queries.get(requester, {}).values())

    def record(self, requester: str, fingerprint: str, cohort: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            mine = self._queries.setdefault(requester, {})
            wire, times = mine.get(fingerprint, ([dict(c) for c in cohort], 0))
            mine[fingerprint] = (wire, times + 1)

    def refusals(self, requester: str) -> int:
        with self._lock:
            return self._refusals.get(requester, 0)

    def refuse(self, requester: str) -> None:
        with self._lock:
            self._refusals[requester] = self._refusals.get(requester, 0) + 1
