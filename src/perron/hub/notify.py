"""Long-polling: wake waiting requests when something changed, but trust only the database.

A :class:`Notifier` is a change counter that coroutines can wait on. Services call
:meth:`Notifier.notify` (from any thread) after they commit a new task, a
cancellation or a result; :func:`poll_until` re-runs its query as soon as the
counter moves, and at least every ``poll_seconds`` anyway. The answer always comes
from the database, never from memory, so nothing is lost when the hub restarts
(pending runs are still there) or when another hub process made the change, and a
claimed run whose lease expired is found by the periodic re-query.

A waiting long-poll is a suspended coroutine on the event loop, not a worker thread
blocked on a lock: a thousand idle stations cost no threads, and only the short
database queries run in the thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # it may have timed out meanwhile
        future.set_result(None)


def _wake(waiters: list[_Waiter]) -> None:
    for loop, future in waiters:
        # A closed loop raises RuntimeError: nobody waits there any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, future)


class Notifier:
    """A change counter that waiting coroutines can sleep on; notified from any thread.

        Examples
        --------
        >>> import asyncio
    import contextlib
        >>> notifier = Notifier()
        >>> seen = notifier.generation
        >>> notifier.notify()
        >>> asyncio.run(notifier.wait(seen, timeout=0.0))
        True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._closed = False
        self._waiters: list[_Waiter] = []

    @property
    def generation(self) -> int:
        """The number of changes so far; read it *before* querying."""
        with self._lock:
            return self._generation

    @property
    def closed(self) -> bool:
        """Whether the hub is shutting down (waiting requests should answer now)."""
        return self._closed

    def notify(self) -> None:
        """Something changed: wake every waiting request."""
        with self._lock:
            self._generation += 1
            waiters, self._waiters = self._waiters, []
        _wake(waiters)

    async def wait(self, generation: int, timeout: float) -> bool:
        """Sleep until the counter moves past ``generation`` or ``timeout`` passes.

        Returns whether there was a change (or the notifier was closed).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = (loop, future)
        with self._lock:
            if self._generation != generation or self._closed:
                return True
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout=max(timeout, 0.0))
        except TimeoutError:
            return False
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return True

    def close(self) -> None:
        """Release every waiting request (at shutdown); safe from any thread."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        _wake(waiters)


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


async def poll_until(
    attempt: Callable[[], Awaitable[T]],
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
        >>> import asyncio
    import contextlib
        >>> async def answer() -> int:
        ...     return 42
        >>> asyncio.run(
        ...     poll_until(answer, lambda n: n > 0, notifier=Notifier(), wait=5, poll_seconds=1)
        ... )
        42
    """
    deadline = clock() + wait
    while True:
        generation = notifier.generation
        result = await attempt()
        remaining = deadline - clock()
        if ready(result) or remaining <= 0 or notifier.closed:
            return result
        await notifier.wait(generation, min(remaining, poll_seconds))
