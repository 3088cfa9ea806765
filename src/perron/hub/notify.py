"""Long-polling: wake waiting requests when something changed, but trust only the database.

A :class:`Notifier` is a change counter that coroutines can wait on. Services call
:meth:`Notifier.notify` (from any thread) after they commit a new task, a
cancellation or a result; :func:`poll_until` re-runs its query as soon as the
counter moves, and at least every ``poll_seconds`` anyway. The answer always comes
from the database, never from memory, so nothing is lost when the hub restarts
(pending runs are still there) or when another hub process made the change, and a
claimed run whose lease expired is found by the periodic re-query. Several hub workers
on one PostgreSQL database also wake each other's waiters
(:mod:`perron.hub.wakeups`, attached with :meth:`Channels.attach`).

A waiting long-poll is a suspended coroutine on the event loop, not a worker thread
blocked on a lock: a thousand idle stations cost no threads, and only the short
database queries run in the thread pool.

**Serving waiters.** The unit of work that makes the change a long-poll waits for
(a new task for a station, the last answer of a task for its researcher) can run
that long-poll's next attempt itself, right after its own commit, in the same
worker-thread call and on the same connection: :meth:`Notifier.serve`. The attempt
is the waiter's own (it checks the waiter's token and reads the database); only the
thread hop, the connection and the wake-up in between are saved. With three
stations that takes four worker-thread round trips off the critical path of a round.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from sqlalchemy import Connection

T = TypeVar("T")

#: A long-poll's attempt as a unit of work: authenticate, read (and claim), commit.
Attempt = Callable[[Connection], T]


@dataclass(frozen=True)
class Served:
    """The outcome of a waiter's attempt that another unit of work made for it.

    ``generation`` is the notifier's count read before the attempt ran; ``error`` is
    what the attempt raised, to be raised again by the waiter as its own.
    """

    generation: int
    result: object = None
    error: Exception | None = None


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    #: The waiter's attempt, if another unit of work may run it (see ``serve``).
    attempt: Attempt[object] | None
    #: Taken by a ``serve``: the waiter must wait for the outcome, not time out.
    taken: bool = False
    served: Served | None = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # it may have timed out meanwhile
        future.set_result(None)


def _wake(waiters: list[_Waiter]) -> None:
    for waiter in waiters:
        # A closed loop raises RuntimeError: nobody waits there any more.
        with contextlib.suppress(RuntimeError):
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future)


class Notifier:
    """A change counter that waiting coroutines can sleep on; notified from any thread.

    Examples
    --------
    >>> import asyncio
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

    @property
    def waiting(self) -> int:
        """How many requests wait on this notifier now."""
        with self._lock:
            return len(self._waiters)

    def notify(self) -> None:
        """Something changed: wake every waiting request."""
        with self._lock:
            self._generation += 1
            waiters, self._waiters = self._waiters, []
        _wake(waiters)

    async def wait(
        self, generation: int, timeout: float, attempt: Attempt[object] | None = None
    ) -> bool | Served:
        """Sleep until the counter moves past ``generation`` or ``timeout`` passes.

        Returns whether there was a change (or the notifier was closed), or, if
        another unit of work ran ``attempt`` for this waiter (:meth:`serve`), its
        outcome.
        """
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop, loop.create_future(), attempt)
        with self._lock:
            if self._generation != generation or self._closed:
                return True
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), timeout=max(timeout, 0.0))
        except TimeoutError:
            with self._lock:
                if waiter in self._waiters:  # nothing came
                    self._waiters.remove(waiter)
                    return False
                taken = waiter.taken
            if not taken:  # a notify (from any thread) took it just as the time ran out
                return True
            await waiter.future  # a serve has its attempt under way: take its outcome
        finally:
            with self._lock:
                if waiter in self._waiters:  # cancelled
                    self._waiters.remove(waiter)
        return True if waiter.served is None else waiter.served

    def serve(self, connection: Connection) -> int:
        """Run the attempts of the waiting requests on ``connection``; wake each with its
        outcome. Call it from a unit of work right after it committed the change they
        wait for. Returns how many were served.

        An attempt's error is handed to its waiter (and the connection rolled back),
        never raised here: the serving request's own work is done and committed.
        """
        with self._lock:
            taken = [w for w in self._waiters if w.attempt is not None]
            self._waiters = [w for w in self._waiters if w.attempt is None]
            for waiter in taken:
                waiter.taken = True
            generation = self._generation
        for index, waiter in enumerate(taken):
            assert waiter.attempt is not None
            try:
                waiter.served = Served(generation, result=waiter.attempt(connection))
            # Not handled here but handed over: the waiter raises it as its own.
            except Exception as error:
                connection.rollback()
                waiter.served = Served(generation, error=error)
            except BaseException:
                _wake(taken[index:])  # not served: they simply try again
                raise
            _wake([waiter])  # at once: its answer can go out while the next is served
        return len(taken)

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

    A subject's notifier lives as long as someone holds it (a long-poll holds it from
    reading its generation until it stops waiting), so one notifier per task ever
    followed does not pile up; a notifier made afresh has nobody waiting on it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: weakref.WeakValueDictionary[str, Notifier] = weakref.WeakValueDictionary()
        self._epochs: dict[str, int] = {}
        self._closed = False
        #: Sends every change to the other hub workers too (see :meth:`attach`).
        self._publish: Callable[[list[str]], None] | None = None

    def attach(self, publish: Callable[[list[str]], None] | None) -> None:
        """Send every later change (:meth:`notify`, :meth:`bump`) to ``publish`` as well,
        after waking this process's waiters: the other hub workers' share
        (:class:`perron.hub.wakeups.PostgresWakeups`); ``None`` stops it."""
        self._publish = publish

    def receive(self, subjects: Sequence[str]) -> None:
        """Changes another hub worker made: wake the waiters of each subject here
        (``bump:<subject>`` as :meth:`bump`), without sending them on."""
        for subject in subjects:
            if subject.startswith(_BUMP):
                self._bump(subject[len(_BUMP) :])
            else:
                self.channel(subject).notify()

    def wake_all(self) -> None:
        """Wake every waiter of this process: changes may have gone unseen."""
        with self._lock:
            channels = list(self._channels.values())
        for notifier in channels:
            notifier.notify()

    def epoch(self, key: str) -> int:
        """How many times the subject started afresh (see :meth:`bump`)."""
        with self._lock:
            return self._epochs.get(key, 0)

    def bump(self, key: str) -> None:
        """The subject started afresh: waits begun before are stale (in every worker)."""
        self._bump(key)
        if self._publish is not None:
            self._publish([_BUMP + key])

    def _bump(self, key: str) -> None:
        with self._lock:
            self._epochs[key] = self._epochs.get(key, 0) + 1

    def channel(self, key: str) -> Notifier:
        """The subject's notifier; hold it from reading its generation until the wait."""
        with self._lock:
            notifier = self._channels.get(key)
            if notifier is None:
                notifier = self._channels[key] = Notifier()
                if self._closed:
                    notifier.close()
            return notifier

    @property
    def closed(self) -> bool:
        """Whether the hub is shutting down."""
        return self._closed

    def notify(self, *keys: str) -> None:
        """The subjects changed (committed): wake their waiters, here and in the other
        hub workers."""
        for key in keys:
            self.channel(key).notify()
        if self._publish is not None and keys:
            self._publish(list(keys))

    def close(self) -> None:
        """Release every waiting request (at shutdown)."""
        with self._lock:
            self._closed = True
            channels = list(self._channels.values())
        for notifier in channels:
            notifier.close()


#: Marks a subject that started afresh in a message between workers.
_BUMP = "bump:"


def station_key(name: str) -> str:
    return f"station:{name}"


def task_key(task_id: str) -> str:
    return f"task:{task_id}"


async def poll_until(
    run: Callable[[Attempt[T]], Awaitable[T]],
    attempt: Attempt[T],
    ready: Callable[[T], bool],
    *,
    notifier: Notifier,
    wait: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    tried: tuple[int, T] | None = None,
) -> T:
    """Make ``attempt`` until ``ready(result)`` or until ``wait`` seconds have passed.

    ``run`` makes an attempt (in a worker thread, on a connection of its own). The
    first attempt is made at once, the next right after every change the notifier
    reports (or by the unit of work that made the change, see
    :meth:`Notifier.serve`), and at least every ``poll_seconds``; the last result is
    returned either way. Errors raised by an attempt (e.g. ``NotAuthorized``)
    propagate at once.

    Parameters
    ----------
    tried
        ``(generation, result)`` when the caller has already made the first attempt
        itself (e.g. in the same unit of work as storing an answer), having read
        ``notifier.generation`` before it: then the next attempt waits for a change
        after that generation instead of running at once.

    Examples
    --------
    >>> import asyncio
    >>> async def run(attempt):
    ...     return attempt(None)
    >>> asyncio.run(
    ...     poll_until(run, lambda _: 42, lambda n: n > 0, notifier=Notifier(), wait=5,
    ...                poll_seconds=1)
    ... )
    42
    """
    deadline = clock() + wait
    if tried is not None:
        generation, result = tried
    else:
        generation = notifier.generation
        result = await run(attempt)
    while True:
        remaining = deadline - clock()
        if ready(result) or remaining <= 0 or notifier.closed:
            return result
        outcome = await notifier.wait(
            generation, min(remaining, poll_seconds), cast(Attempt[object], attempt)
        )
        if isinstance(outcome, Served):
            if outcome.error is not None:
                raise outcome.error
            generation, result = outcome.generation, cast(T, outcome.result)
        else:
            generation = notifier.generation
            result = await run(attempt)
