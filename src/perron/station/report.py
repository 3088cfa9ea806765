"""What a station reports to the hub for its holder's pages, and when.

The report (``PUT /api/station/report``) replaces the one before it::

    {"audit_lines": [the last 5000 lines of the audit log, as written],
     "audit_total": number of entries in the log,
     "objections": {"count": standing objections, "updated_at": last change or null,
                    "digest": keyed digest of the register's history or null},
     "datasets": [the dataset names the station serves]}

The holder's pages show it and check the hash chain of the audit lines again
(:func:`perron.crypto.audit.verify_audit_lines`), so the hub also holds a recent head
of the log, out of the station's reach. The objection register itself never leaves
the station: the digest is an HMAC under a key derived from the station's private
signing key, so nobody without that key can test a guessed identifier against it.

:class:`ReportPusher` sends a report at start (and after every reconnect) and again
whenever the audit head, the objection register or the datasets changed, at most
every ``interval`` seconds and only while the station is idle: the runner calls it
between its polls, never while it answers a run. A failed push is logged and tried
again later (backing off to a minute); it never stops the station. A hub that does
not know the endpoint (404, an older hub) is noted once at debug level and not asked
again until the station reconnects.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from perron.crypto.audit import AuditLog
from perron.crypto.keys import KeyPair
from perron.protocol.errors import PerronError
from perron.protocol.http import check
from perron.station.objections import ObjectionRegister, RegisterSummary

logger = logging.getLogger(__name__)

REPORT_PATH = "/api/station/report"
#: Audit lines a report carries at most (the hub keeps the last ones only).
AUDIT_LINES = 5000
#: What the hub takes: audit lines of at most this many characters ...
MAX_LINE = 20_000
#: ... and this many characters of lines together.
MAX_CHARS = 8 * 2**20
#: The least time between two reports, in seconds.
INTERVAL_SECONDS = 2.0
_MAX_BACKOFF = 60.0
_DIGEST_LABEL = b"perron objection register digest v1"

State = tuple[tuple[int, str], RegisterSummary, tuple[str, ...]]


def digest_key(keys: KeyPair) -> bytes:
    """The station's key for the objection register's digest, derived from its signing key.

    Examples
    --------
    >>> keys = KeyPair.generate()
    >>> digest_key(keys) == digest_key(keys) != digest_key(KeyPair.generate())
    True
    """
    return hmac.new(bytes(keys.signing), _DIGEST_LABEL, hashlib.sha256).digest()


def station_report(
    audit: AuditLog,
    objections: ObjectionRegister,
    datasets: Sequence[str],
    key: bytes,
    *,
    lines: int = AUDIT_LINES,
) -> dict[str, Any]:
    """The report's body: the last ``lines`` audit lines, the register's summary, datasets.

    The lines end at the log's last line and begin where the hub's limits allow
    (:data:`MAX_LINE`, :data:`MAX_CHARS`); ``audit_total`` counts the whole log.

    Raises
    ------
    AuditLogTampered
        The audit log's last line is broken (the station refuses to append too).
    """
    tail, total = audit.tail(lines)
    return {
        "audit_lines": _sendable(tail),
        "audit_total": total,
        "objections": objections.summary(key).to_wire(),
        "datasets": list(datasets),
    }


def _sendable(lines: list[str]) -> list[str]:
    """The longest end of ``lines`` the hub takes: the lines after the last one too
    long to send, within the hub's total (a cut line would break the hash chain)."""
    size = 0
    start = len(lines)
    while start > 0:
        length = len(lines[start - 1])
        if length > MAX_LINE or size + length > MAX_CHARS:
            break
        size += length
        start -= 1
    return lines[start:]


class ReportPusher:
    """Sends the station's report when it changed, at most every ``interval`` seconds.

    Parameters
    ----------
    client
        The station's HTTP client for the hub (its token and version headers set).
    audit, objections, datasets
        What the report is made of.
    key
        The objection register's digest key (:func:`digest_key`).
    interval
        The least time between two pushes.
    clock
        Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        client: httpx.Client,
        audit: AuditLog,
        objections: ObjectionRegister,
        datasets: Sequence[str],
        key: bytes,
        *,
        interval: float = INTERVAL_SECONDS,
        lines: int = AUDIT_LINES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._audit = audit
        self._objections = objections
        self._datasets = tuple(datasets)
        self._key = key
        self.interval = interval
        self._lines = lines
        self._clock = clock
        self._pushed: State | None = None
        self._next_at = 0.0
        self._failures = 0
        self._told_missing = False
        #: False once the hub answered 404: it has no report endpoint (until a reconnect).
        self.enabled = True

    def restart(self) -> None:
        """After a (re)connect: report again at once, to a hub that may be new."""
        self._pushed = None
        self._next_at = 0.0
        self._failures = 0
        self.enabled = True

    def due_in(self) -> float | None:
        """Seconds until a report is due (0: now); ``None`` when there is nothing new."""
        due = self._due()
        return None if due is None else due[0]

    def push_if_due(self) -> bool:
        """Send the report if it changed and the interval has passed; True if it was sent.

        Never raises for the hub's or the network's sake: a failure is logged and
        the report is tried again later.
        """
        due = self._due()
        if due is None or due[0] > 0:
            return False
        state = due[1]
        try:
            report = station_report(
                self._audit, self._objections, self._datasets, self._key, lines=self._lines
            )
            response = self._client.put(REPORT_PATH, json=report)
            if response.status_code == 404:
                self._missing()
                return False
            check(response)
        except (PerronError, OSError, httpx.HTTPError) as error:
            self._failures += 1
            backoff = min(self.interval * 2**self._failures, _MAX_BACKOFF)
            self._next_at = self._clock() + backoff
            logger.warning("station report not sent (%s); trying again in %.0f s", error, backoff)
            return False
        self._pushed = state
        self._failures = 0
        self._next_at = self._clock() + self.interval
        return True

    def _due(self) -> tuple[float, State] | None:
        """Seconds until the report is due, and the state it would report."""
        if not self.enabled:
            return None
        try:
            state = self._state()
        except (PerronError, OSError) as error:
            logger.warning("station report: cannot read the station's state (%s)", error)
            return None
        if state == self._pushed:
            return None
        return max(0.0, self._next_at - self._clock()), state

    def _state(self) -> State:
        """What the report reflects; a report is due when this changed."""
        return self._audit.head(), self._objections.summary(self._key), self._datasets

    def _missing(self) -> None:
        self.enabled = False
        if not self._told_missing:
            self._told_missing = True
            logger.debug(
                "the hub has no %s (an older hub); the station does not report", REPORT_PATH
            )
