"""Long-polling: wake waiting requests when something changed, but trust only the database.

A :class:`Notifier` is a ``threading.Condition`` around a change counter. Services
call :meth:`Notifier.notify` after they commit a new task, a cancellation or a
result; :func:`poll_until` re-runs its query as soon as the counter moves, and at
least every ``poll_seconds`` anyway. The answer always comes from the database, never
from memory, so nothing is lost when the hub restarts (pending runs are still there)
or when another hub process made the change, and a claimed run whose lease expired is
found by the periodic re-query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Notifier:
    """A change counter that waiting threads can sleep on.

    Examples
    --------
    >>> notifier = Notifier()
    >>> seen = notifier.generation
    >>> notifier.notify()
    >>> notifier.wait(seen, timeout=0.0)
    True
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._closed = False

    @property
    def generation(self) -> int:
        """The number of changes so far; read it *before* querying."""
        with self._condition:
            return self._generation

    @property
    def closed(self) -> bool:
        """Whether the hub is shutting down (waiting requests should answer now)."""
        return self._closed

    def notify(self) -> None:
        """Something changed: wake every waiting request."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, generation: int, timeout: float) -> bool:
        """Sleep until the counter moves past ``generation`` or ``timeout`` passes.

        Returns whether there was a change (or the notifier was closed).
        """
        with self._condition:
            return self._condition.wait_for(
                lambda: self._generation != generation or self._closed, timeout=max(timeout, 0.0)
            )

    def close(self) -> None:
        """Release every waiting request (at shutdown)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class Channels:
    """One :class:`Notifier` per subject (a station's inbox, a task's answers).

    A change wakes only the requests waiting on that subject, not every waiting
    request: a finished run wakes its researcher, a new task its stations. Waking
    everyone made each change cost one database query per waiting request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, Notifier] = {}
        self._epochs: dict[str, int] = {}
        self._closed = False

    def epoch(self, key: str) -> int:
        """How many times the subject started afresh (see :meth:`bump`)."""
        with self._lock:
            return self._epochs.get(key, 0)

    def bump(self, key: str) -> None:
        """The subject started afresh: waits begun before are stale."""
        with self._lock:
            self._epochs[key] = self._epochs.get(key, 0) + 1

    def channel(self, key: str) -> Notifier:
        with self._lock:
            notifier = self._channels.get(key)
            if notifier is None:
                notifier = self._channels[key] = Notifier()
                if self._closed:
                    notifier.close()
            return notifier

    def notify(self, *keys: str) -> None:
        for key in keys:
            self.channel(key).notify()

    def close(self) -> None:
        """Release every waiting request (at shutdown)."""
        with self._lock:
            self._closed = True
            channels = list(self._channels.values())
        for notifier in channels:
            notifier.close()


def station_key(name: str) -> str:
    return f"station:{name}"


def task_key(task_id: str) -> str:
    return f"task:{task_id}"


def poll_until(
    attempt: Callable[[], T],
    ready: Callable[[T], bool],
    *,
    notifier: Notifier,
    wait: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``attempt`` until ``ready(result)`` or until ``wait`` seconds have passed.

    ``attempt`` runs at once, again right after every change the notifier reports,
    and at least every ``poll_seconds``; the last result is returned either way.
    Errors raised by ``attempt`` (e.g. ``NotAuthorized``) propagate at once.

    Examples
    --------
    >>> poll_until(lambda: 42, lambda n: n > 0, notifier=Notifier(), wait=5, poll_seconds=1)
    42
    """
    deadline = clock() + wait
    while True:
        generation = notifier.generation
        result = attempt()
        remaining = deadline - clock()
        if ready(result) or remaining <= 0 or notifier.closed:
            return result
        notifier.wait(generation, min(remaining, poll_seconds))
