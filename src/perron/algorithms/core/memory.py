"""Station-side memory for protocols that span rounds (e.g. a PSI session's secret).

An algorithm's station step is otherwise stateless. A multi-round protocol keeps
what must not leave the station (a secret scalar, its own blinded set) here,
under a session id it chose, for at most ``ttl`` seconds. The memory lives in the
station process only; a restarted station forgets it and the protocol must start
again (its coordinator sees the error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from perron.protocol.errors import InputError

#: How long a session's memory is kept without use.
DEFAULT_TTL = 600.0


class SessionMemory:
    """A small, expiring, thread-safe store: session id -> a dict of values.

    Examples
    --------
    >>> memory = SessionMemory()
    >>> memory.open("s1")["secret"] = 42
    >>> memory.get("s1")["secret"]
    42
    """

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[float, dict[str, Any]]] = {}

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, (at, _) in self._sessions.items() if now - at > self._ttl]:
            del self._sessions[key]

    def open(self, session: str) -> dict[str, Any]:
        """A fresh memory for ``session`` (replacing an older one of that id)."""
        with self._lock:
            self._expire()
            values: dict[str, Any] = {}
            self._sessions[session] = (self._clock(), values)
            return values

    def get(self, session: str) -> dict[str, Any]:
        """The memory of ``session``; ``InputError`` if it is unknown or expired."""
        with self._lock:
            self._expire()
            found = self._sessions.get(session)
            if found is None:
                raise InputError(
                    f"this station has no memory of session {session!r} (it expired or the "
                    "station restarted); start the protocol again."
                )
            self._sessions[session] = (self._clock(), found[1])
            return found[1]

    def close(self, session: str) -> None:
        """Forget ``session``."""
        with self._lock:
            self._sessions.pop(session, None)
