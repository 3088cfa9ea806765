"""Replay protection for a station: each signed task runs at most once.

The hub delivers tasks at least once: a run whose answer does not arrive within
its lease is delivered again. A station must tell such a **redelivery** (the very
same signed task) from a **replay** (an old or altered task sent again) and answer a
redelivery with the answer it already sealed, without running the algorithm twice.

:class:`ReplayGuard` remembers, in a SQLite file, every task it accepted by its id,
its nonce and a digest of its signed envelope:

- a new task id with a new nonce is accepted once (``True``);
- the same id, nonce and digest again is a redelivery (``False``): answer it with
  :meth:`ReplayGuard.result_for`;
- the same id or the same nonce with another digest, or any task past its
  ``expires_at``, raises :class:`~perron.protocol.errors.ReplayedTask`.

Security assumptions: the digest covers the whole signed envelope (so the researcher's
signature binds id, nonce and expiry together); the station's clock is roughly right;
the SQLite file is only writable by the station. Tasks that expired before a
:meth:`ReplayGuard.prune` are forgotten, but a low-water mark remembers that they are
gone: every task that expired at or before it is rejected, so pruning never turns an
old task into a new one.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType

from perron.protocol.errors import InputError, ReplayedTask

__all__ = ["ReplayGuard"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id    TEXT PRIMARY KEY,
    nonce      TEXT NOT NULL UNIQUE,
    digest     TEXT NOT NULL,
    expires_at REAL NOT NULL,
    seen_at    REAL NOT NULL,
    result     TEXT
);
CREATE INDEX IF NOT EXISTS tasks_expires_at ON tasks (expires_at);
CREATE TABLE IF NOT EXISTS pruned (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    before REAL NOT NULL
);
"""


class ReplayGuard:
    """Remember accepted tasks in SQLite and reject replays and expired tasks.

    Safe to share between threads (one lock around one connection) and between
    processes (SQLite's write lock, WAL journal). Close it with :meth:`close` or use
    it as a context manager.

    Parameters
    ----------
    path : str or Path
        The SQLite file; it is created (with its tables) if missing.

    Examples
    --------
    >>> import tempfile, pathlib, time
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "replay.sqlite"
    >>> with ReplayGuard(path) as guard:
    ...     expires = time.time() + 600
    ...     first = guard.check_and_remember("t1", "n1", "d1", expires)
    ...     guard.store_result("t1", "<sealed answer>")
    ...     again = guard.check_and_remember("t1", "n1", "d1", expires)
    ...     (first, again, guard.result_for("t1"))
    (True, False, '<sealed answer>')
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE,
        # which takes the write lock up front so check-then-insert is atomic.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a stored answer must survive a power cut, or a task could run twice
            # with two answers (a task's acceptance waits for it: see _Transaction).
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO pruned (id, before) VALUES (1, ?)", (-math.inf,)
            )
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> ReplayGuard:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def check_and_remember(
        self,
        task_id: str,
        nonce: str,
        digest: str,
        expires_at: float,
        now: float | None = None,
    ) -> bool:
        """Accept a task once; recognise its redeliveries; reject replays.

        Parameters
        ----------
        task_id : str
            The task's id from its signed body.
        nonce : str
            The task's nonce from its signed body.
        digest : str
            A digest of the whole signed envelope (e.g. SHA-256 of its canonical
            JSON), so that any other content under the same id or nonce differs.
        expires_at : float
            The task's expiry from its signed body, in seconds since the epoch.
        now : float, optional
            The current time in seconds since the epoch; ``time.time()`` by default.

        Returns
        -------
        bool
            True if the task is new (it is now remembered: run it); False if exactly
            this task was accepted before (a redelivery: answer from
            :meth:`result_for`, or run it again if no result was stored).

        Raises
        ------
        ReplayedTask
            If the task has expired (``now > expires_at``, or it expired before the
            last :meth:`prune`), has no finite expiry, or its id or nonce was seen
            with another digest.
        InputError
            If ``now`` is not a finite number.
        """
        now = time.time() if now is None else now
        if not math.isfinite(now):
            raise InputError(f"the current time must be a finite number, not {now!r}.")
        if not math.isfinite(expires_at):
            raise ReplayedTask(
                f"task {task_id!r} has no finite expiry ({expires_at!r}); it was rejected. "
                "The researcher's client must set expires_at."
            )
        if now > expires_at:
            raise ReplayedTask(
                f"task {task_id!r} expired at {expires_at:.3f} (station time {now:.3f}); "
                "it was rejected. Send the task again, or check the station's clock."
            )
        with self._lock, self._transaction(durable=False):
            (pruned_before,) = self._db.execute("SELECT before FROM pruned").fetchone()
            if expires_at <= pruned_before:
                raise ReplayedTask(
                    f"task {task_id!r} expired at {expires_at:.3f}, before this station "
                    "forgot the tasks that expired by then; it was rejected as expired."
                )
            rows = self._db.execute(
                "SELECT task_id, nonce, digest FROM tasks WHERE task_id = ? OR nonce = ?",
                (task_id, nonce),
            ).fetchall()
            if not rows:
                self._db.execute(
                    "INSERT INTO tasks (task_id, nonce, digest, expires_at, seen_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (task_id, nonce, digest, expires_at, now),
                )
                return True
            if rows == [(task_id, nonce, digest)]:
                return False
            # The nonce is unique and the id is the key, so an exact match is the only
            # row there is: any row here conflicts.
            seen_id, seen_nonce, _ = rows[0]
            if seen_id != task_id:
                reason = f"nonce {nonce!r} was already used by task {seen_id!r}"
            elif seen_nonce != nonce:
                reason = f"task {task_id!r} was seen before with another nonce"
            else:
                reason = f"task {task_id!r} was seen before with other content"
            raise ReplayedTask(
                f"{reason}; it was rejected as a replay. If the researcher meant a new "
                "task, the client must give it a new task id and nonce."
            )

    def store_result(self, task_id: str, payload: str) -> None:
        """Keep the sealed answer to an accepted task, to answer its redeliveries.

        The first stored answer wins: later calls for the same task leave it as it
        is, so every delivery of a task gets the same answer.

        Parameters
        ----------
        task_id : str
            A task that :meth:`check_and_remember` accepted.
        payload : str
            The sealed answer as sent to the hub.

        Raises
        ------
        InputError
            If the guard does not know the task (never accepted, or pruned).
        """
        with self._lock, self._transaction():
            known = self._db.execute("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
            if known is None:
                raise InputError(
                    f"no accepted task {task_id!r} to store a result for; call "
                    "check_and_remember first (or the task was pruned)."
                )
            self._db.execute(
                "UPDATE tasks SET result = ? WHERE task_id = ? AND result IS NULL",
                (payload, task_id),
            )

    def result_for(self, task_id: str) -> str | None:
        """The stored answer to a task, or None if there is none (yet).

        Parameters
        ----------
        task_id : str
            The task's id.

        Returns
        -------
        str or None
            The payload given to :meth:`store_result`.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT result FROM tasks WHERE task_id = ?", (task_id,)
            ).fetchone()
        return None if row is None else row[0]

    def prune(self, older_than: float) -> int:
        """Forget tasks that expired before ``older_than``; return how many.

        The guard remembers the largest ``older_than`` it was given and from then on
        rejects every task that expires at or before it, so a forgotten task can
        never be accepted again.

        Parameters
        ----------
        older_than : float
            Seconds since the epoch; typically ``time.time() - retention``.

        Returns
        -------
        int
            The number of tasks forgotten.

        Raises
        ------
        InputError
            If ``older_than`` is not a finite number.
        """
        if not math.isfinite(older_than):
            raise InputError(f"prune needs a finite time, not {older_than!r}.")
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE pruned SET before = MAX(before, ?) WHERE id = 1", (older_than,)
            )
            cursor = self._db.execute("DELETE FROM tasks WHERE expires_at < ?", (older_than,))
            return cursor.rowcount

    def _transaction(self, *, durable: bool = True) -> _Transaction:
        return _Transaction(self._db, durable)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception.

    A transaction that is not ``durable`` commits without waiting for the disk
    (``synchronous=NORMAL`` in WAL mode: it survives a crash of the process, not a
    power cut). The acceptance of a task is written so: it becomes durable with the
    next durable commit, the stored answer, which always comes before the answer
    leaves the station (an fsync of the write-ahead log covers every earlier
    frame). A power cut before that can lose only the acceptance of a task that was
    never answered, which at-least-once delivery would run again anyway; it saves
    one disk wait per task on the round's critical path.
    """

    def __init__(self, db: sqlite3.Connection, durable: bool) -> None:
        self._db = db
        self._durable = durable

    def __enter__(self) -> None:
        if not self._durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            if not self._durable:
                self._db.execute("PRAGMA synchronous=FULL")
