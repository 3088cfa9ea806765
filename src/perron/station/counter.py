"""How many tasks a station ran under each study policy (the ``max_tasks`` rule).

The count lives in a SQLite file in the station's state folder, so it survives a
restart. It counts task ids, not deliveries: a task counts once however often the
hub delivers it (a redelivery answered from the replay guard never gets here, and a
task run again after a crash is the same id). A task is counted when the station
runs it, before its algorithm step starts (so a crash mid-run cannot free a place),
and uncounted when its run was refused by the policy (a column outside it).

Security assumptions: only the station writes the file; deleting it resets the
counts, which the audit log (every task with its ``policy_id``) would show.

Examples
--------
>>> import tempfile, pathlib
>>> with TaskCounter(pathlib.Path(tempfile.mkdtemp()) / "policy_tasks.sqlite") as counter:
...     first = counter.claim("policy-1", "task-a", limit=1)
...     again = counter.claim("policy-1", "task-a", limit=1)  # the same task again
...     other = counter.claim("policy-1", "task-b", limit=1)
...     (first, again, other, counter.used("policy-1"))
(True, True, False, 1)
"""

from __future__ import annotations

import time

from perron.station._sqlite import Store, transaction

__all__ = ["TaskCounter"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS policy_tasks (
    task_id    TEXT PRIMARY KEY,
    policy_id  TEXT NOT NULL,
    counted_at REAL NOT NULL,
    epsilon    REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS policy_tasks_policy ON policy_tasks (policy_id);
"""


class TaskCounter(Store):
    """The durable count of tasks run under each policy.

    Parameters
    ----------
    path
        The SQLite file; it is created (with its table) if missing.
    """

    SCHEMA = _SCHEMA

    def used(self, policy_id: str) -> int:
        """The number of tasks counted under ``policy_id``."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM policy_tasks WHERE policy_id = ?", (policy_id,)
            ).fetchone()
        return int(count)

    def spent(self, policy_id: str) -> float:
        """The privacy loss (epsilon) spent under ``policy_id``: the budget ledger."""
        with self._lock:
            (total,) = self._db.execute(
                "SELECT COALESCE(SUM(epsilon), 0) FROM policy_tasks WHERE policy_id = ?",
                (policy_id,),
            ).fetchone()
        return float(total)

    def claim(
        self,
        policy_id: str,
        task_id: str,
        limit: int,
        epsilon: float = 0.0,
        budget: float | None = None,
    ) -> bool:
        """Count ``task_id`` (spending ``epsilon``) if the task and budget limits allow.

        Both limits are checked and the task recorded in one transaction, so two
        tasks at once cannot both take the last place or the last of the budget.

        Returns
        -------
        bool
            True if the task is counted (now, or already before); False if the
            policy's tasks or its privacy budget are used up.
        """
        with self._lock, transaction(self._db):
            if self._db.execute(
                "SELECT 1 FROM policy_tasks WHERE task_id = ?", (task_id,)
            ).fetchone():
                return True
            (count, spent) = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(epsilon), 0) FROM policy_tasks WHERE policy_id = ?",
                (policy_id,),
            ).fetchone()
            if count >= limit:
                return False
            if epsilon and (budget is None or spent + epsilon > budget * (1 + 1e-12)):
                return False
            self._db.execute(
                "INSERT INTO policy_tasks (task_id, policy_id, counted_at, epsilon) "
                "VALUES (?, ?, ?, ?)",
                (task_id, policy_id, time.time(), epsilon),
            )
            return True

    def release(self, task_id: str) -> None:
        """Uncount a task whose run the policy refused."""
        with self._lock, transaction(self._db):
            self._db.execute("DELETE FROM policy_tasks WHERE task_id = ?", (task_id,))
