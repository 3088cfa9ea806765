"""Wake-ups across hub processes: PostgreSQL ``LISTEN``/``NOTIFY``.

Several hub workers serve one PostgreSQL database. A change one of them commits (a new
task for some stations, the last answer of a task, a station that restarted) must
wake the long-polls and station streams waiting in the others, not only its own
(:mod:`perron.hub.notify`). :class:`PostgresWakeups` carries the subjects of each
change to every other worker through the database they already share:

- **out:** :meth:`PostgresWakeups.publish` queues the subjects; a thread sends them
  with ``pg_notify`` on a connection of its own, a batch per message, right after the
  change was committed (the callers publish after their commit). The request that
  made the change does not wait for it.
- **in:** a thread holds a connection that ``LISTEN``\\ s, and hands every subject
  another worker sent to ``deliver`` (:meth:`perron.hub.notify.Channels.receive`).
  A worker ignores its own messages: it woke its own waiters already.

A wake-up only says "look again": the answer always comes from the database. A lost
message (the database restarting, a worker killed between its commit and its
``pg_notify``) costs at most ``poll_seconds``, after which every long-poll re-reads
anyway. When the listening connection is lost, the thread reconnects with back-off
and then wakes every local waiter (``on_reconnect``), since messages sent meanwhile
are gone.

PostgreSQL delivers a notification to listeners only when the sending transaction
commits, and a listener sees them in commit order: a restarted station's "bump" (its
old long-polls are stale) arrives before the wake-up that follows it.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import psycopg
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

#: The PostgreSQL channel every hub worker listens on.
CHANNEL = "perron_hub"
#: PostgreSQL refuses payloads of 8000 bytes and more; stay well below.
MAX_PAYLOAD = 7000
#: How often the listening thread looks up from its wait to see whether to stop.
_LISTEN_SECONDS = 0.5
_MAX_BACKOFF = 5.0


def conninfo(database_url: str) -> str:
    """A libpq connection string for a hub's SQLAlchemy PostgreSQL URL.

    Examples
    --------
    >>> conninfo("postgresql+psycopg://postgres@127.0.0.1:5432/hub")
    'postgresql://postgres@127.0.0.1:5432/hub'
    """
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def payloads(origin: str, subjects: Sequence[str]) -> Iterator[str]:
    """The messages that carry ``subjects``: ``"<origin> <subject> <subject> ..."``, each
    under :data:`MAX_PAYLOAD` bytes.

    Examples
    --------
    >>> list(payloads("w1", ["station:a", "task:t1"]))
    ['w1 station:a task:t1']
    """
    message = origin
    for subject in subjects:
        if len(message) + 1 + len(subject.encode()) > MAX_PAYLOAD and message != origin:
            yield message
            message = origin
        message = f"{message} {subject}"
    if message != origin:
        yield message


def parse(payload: str) -> tuple[str, list[str]]:
    """The origin and the subjects of a message.

    Examples
    --------
    >>> parse("w1 station:a task:t1")
    ('w1', ['station:a', 'task:t1'])
    """
    origin, _, rest = payload.partition(" ")
    return origin, rest.split()


class PostgresWakeups:
    """Publish this worker's changes to the other hub workers, and deliver theirs here.

    Parameters
    ----------
    database_url
        The hub's PostgreSQL URL.
    deliver
        Called (in the listening thread) with the subjects another worker sent.
    on_reconnect
        Called when the listening connection was (re)established: wake every local
        waiter, since what was sent while it was down is lost.

    Use :meth:`start` once, :meth:`close` at shutdown.
    """

    def __init__(
        self,
        database_url: str,
        deliver: Callable[[list[str]], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        self._conninfo = conninfo(database_url)
        self._deliver = deliver
        self._on_reconnect = on_reconnect
        #: Tells this worker's messages from the others'.
        self.origin = secrets.token_hex(8)
        self._outbox: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        #: Set once the listening connection is up (and again after each reconnect).
        self.listening = threading.Event()
        self._threads = [
            threading.Thread(target=self._listen, name="hub-wakeups-in", daemon=True),
            threading.Thread(target=self._send, name="hub-wakeups-out", daemon=True),
        ]

    def start(self) -> PostgresWakeups:
        for thread in self._threads:
            thread.start()
        return self

    def publish(self, subjects: Iterable[str]) -> None:
        """Queue ``subjects`` for the other workers; call it after the commit."""
        batch = list(subjects)
        if batch and not self._stop.is_set():
            self._outbox.put(batch)

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (waiting up to ``timeout`` for it), and stop listening.

        The listening thread is not waited for: it sees the stop within
        ``_LISTEN_SECONDS`` and closes its connection then; what it still receives
        meanwhile goes to notifiers already closed.
        """
        self._stop.set()
        self._outbox.put(None)
        sender = self._threads[1]
        if sender.is_alive():
            sender.join(timeout)

    # -- out -----------------------------------------------------------------------

    def _drain(self, first: list[str]) -> tuple[list[str], bool]:
        """``first`` and every batch queued behind it (one message for a burst);
        whether the end was queued."""
        subjects = list(first)
        while True:
            try:
                more = self._outbox.get_nowait()
            except queue.Empty:
                return subjects, False
            if more is None:
                return subjects, True
            subjects.extend(more)

    def _send(self) -> None:
        connection: psycopg.Connection[tuple[object, ...]] | None = None
        try:
            ended = False
            while not ended:
                first = self._outbox.get()
                if first is None:
                    break
                subjects, ended = self._drain(first)
                unique = list(dict.fromkeys(subjects))
                connection = self._notify(connection, unique)
        finally:
            if connection is not None:
                connection.close()

    def _notify(
        self, connection: psycopg.Connection[tuple[object, ...]] | None, subjects: list[str]
    ) -> psycopg.Connection[tuple[object, ...]] | None:
        """Send ``subjects``; on a lost connection, reconnect once and send again. What
        cannot be sent is dropped: the other workers' periodic re-reads find it."""
        for attempt in range(2):
            try:
                if connection is None or connection.closed:
                    connection = psycopg.connect(self._conninfo, autocommit=True)
                for payload in payloads(self.origin, subjects):
                    connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                return connection
            except psycopg.Error as error:
                if connection is not None:
                    connection.close()
                connection = None
                if attempt == 1:
                    logger.warning("hub wake-ups not sent (%s); other workers re-read soon", error)
        return connection

    # -- in ------------------------------------------------------------------------

    def _listen(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    backoff = 0.1
                    self._on_reconnect()
                    while not self._stop.is_set():
                        for note in connection.notifies(timeout=_LISTEN_SECONDS):
                            origin, subjects = parse(note.payload)
                            if origin != self.origin and subjects:
                                self._deliver(subjects)
            except psycopg.Error as error:
                self.listening.clear()
                if self._stop.is_set():
                    return
                logger.warning("hub wake-ups: lost the database (%s); reconnecting", error)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
