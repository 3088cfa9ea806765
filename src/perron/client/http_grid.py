"""The HTTP grid: one round of a federated algorithm through the hub.

The researcher's machine signs each task (Ed25519), submits it for the study's
stations, long-polls the hub until every station has answered, and opens the
sealed partials with its own private key, checking each station's signature. The
hub only ever relays ciphertext. The round loop is the same code as in
``simulate``: :meth:`perron.algorithms.core.base.FederatedAlgorithm.run` over this grid.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from perron.crypto.envelope import sign, unseal
from perron.crypto.keys import KeyPair, PublicKeys
from perron.protocol.errors import (
    HubUnavailable,
    PerronError,
    RoundTimeout,
    TamperedMessage,
    TaskCancelled,
)
from perron.protocol.http import check
from perron.protocol.messages import Partial, Task

_POLL_SECONDS = 25.0
_FINISHED = frozenset({"done", "failed", "cancelled"})
_MAX_BACKOFF = 2.0


class _Resent(Exception):
    """A task sent again after a lost answer was already stored by the first attempt."""


def _duplicate(response: httpx.Response) -> bool:
    """Whether the hub refused a task as one it has (its id is taken)."""
    if response.status_code != 409:
        return False
    try:
        return bool(response.json().get("kind") == "Conflict")
    except ValueError:
        return False


@dataclass(frozen=True)
class StationInfo:
    name: str
    organisation: str
    keys: PublicKeys


@dataclass
class TaskLog:
    """The tasks a session sent through the hub, and how many a publication covered."""

    ids: list[str] = field(default_factory=list)
    published: int = 0

    def unpublished(self) -> list[str]:
        """The tasks sent since the last publication (what the next one names)."""
        return self.ids[self.published :]


class HttpGrid:
    """A :class:`~perron.protocol.grid.Grid` whose stations sit behind a hub."""

    def __init__(
        self,
        client: httpx.Client,
        study: str,
        username: str,
        keys: KeyPair,
        stations: Sequence[StationInfo],
        *,
        timeout: float = 120.0,
        progress: bool = True,
        tasks: TaskLog | None = None,
    ) -> None:
        self._client = client
        self._study = study
        self._username = username
        self._keys = keys
        self._stations = {s.name: s for s in stations}
        self.timeout = timeout
        self.progress = progress
        self.last_task_id: str | None = None
        #: Every task sent, shared with the grids :meth:`without` makes.
        self.tasks = tasks if tasks is not None else TaskLog()

    @property
    def study(self) -> str:
        return self._study

    @property
    def stations(self) -> Sequence[str]:
        return list(self._stations)

    def close(self) -> None:
        """Close the connection to the hub."""
        self._client.close()

    def without(self, stations: Collection[str]) -> HttpGrid:
        """The same study without ``stations`` (to run an analysis again after a
        dropout); it shares this grid's connection."""
        kept = [info for name, info in self._stations.items() if name not in stations]
        return HttpGrid(
            self._client,
            self._study,
            self._username,
            self._keys,
            kept,
            timeout=self.timeout,
            progress=self.progress,
            tasks=self.tasks,
        )

    def publish(self, document: dict[str, Any]) -> str:
        """Sign a result's document (:func:`perron.client.publish.result_document`) and
        post it to the study's results; its result id. The tasks sent so far count as
        published."""
        sent = len(self.tasks.ids)
        response = self._client.post(
            f"/api/studies/{self._study}/results", json={"envelope": sign(document, self._keys)}
        )
        check(response)
        self.tasks.published = sent
        return str(response.json()["result_id"])

    def run_round(self, task: Task) -> Mapping[str, Partial]:
        """Send ``task`` and wait for every station's answer: one request if they come
        within a long-poll (the hub answers the task's creation with them)."""
        deadline = time.monotonic() + self.timeout
        body = self._task_body(task)
        try:
            state = self._send(body, wait=min(_POLL_SECONDS, self.timeout))
        except KeyboardInterrupt:
            # The task may or may not have been stored: cancel it if it was.
            with contextlib.suppress(PerronError, httpx.HTTPError):
                self.cancel(body["task_id"])
            raise
        return self._collect(body["task_id"], task, state, deadline)

    def collect(self, task_id: str, task: Task) -> Mapping[str, Partial]:
        """Wait for every station's answer to a submitted task and open them.

        Raises :class:`RoundTimeout` (and cancels the task) when a station does not
        answer in time, :class:`TaskCancelled` when the task was cancelled.
        """
        return self._collect(task_id, task, None, time.monotonic() + self.timeout)

    def _collect(
        self, task_id: str, task: Task, state: dict[str, Any] | None, deadline: float
    ) -> Mapping[str, Partial]:
        """As :meth:`collect`; ``state`` is the task's state as last read, if any."""
        try:
            runs = self._wait(task_id, task, state, deadline)
        except KeyboardInterrupt:
            self.cancel(task_id)
            raise
        return {run["station"]: self._open(run, task_id) for run in runs}

    def submit(self, task: Task) -> str:
        """Send ``task`` to every station; its id (see :meth:`collect`)."""
        body = self._task_body(task)
        self._send(body, wait=None)
        return str(body["task_id"])

    def _task_body(self, task: Task) -> dict[str, Any]:
        now = time.time()
        return {
            "task_id": uuid.uuid4().hex,
            "study": self._study,
            "requester": self._username,
            "algorithm": task.algorithm,
            "params": dict(task.params),
            "round": task.round,
            "disclosure": dict(task.disclosure),
            "nonce": secrets.token_hex(16),
            "issued_at": now,
            "expires_at": now + max(self.timeout, 60.0),
        }

    def _send(self, body: dict[str, Any], wait: float | None) -> dict[str, Any] | None:
        """Sign and send a task; the task's state (with ``wait``: once answered).

        ``None`` from a hub that answers a new task with its id only (older hubs):
        the state is then read with ``GET /api/tasks/{id}``.
        """
        envelope = sign(body, self._keys)
        self.last_task_id = body["task_id"]
        self.tasks.ids.append(body["task_id"])
        request = {"envelope": envelope, "stations": self.stations}
        params = None if wait is None else {"wait": wait}
        path = f"/api/studies/{self._study}/tasks"
        try:
            response = self._retrying(
                lambda: self._client.post(path, json=request, params=params),
                time.monotonic() + self.timeout,
            )
        except _Resent:
            # The first attempt's answer was lost but the hub had stored the task (a
            # hub worker stopped mid-request): the same signed task, so follow it.
            return None
        state: dict[str, Any] = response.json()
        return state if "runs" in state else None

    def _state(self, task_id: str, wait: float, deadline: float) -> dict[str, Any]:
        """The task's state, long-polling up to ``wait`` seconds."""
        path = f"/api/tasks/{task_id}"
        response = self._retrying(lambda: self._client.get(path, params={"wait": wait}), deadline)
        state: dict[str, Any] = response.json()
        return state

    @staticmethod
    def _retrying(send: Callable[[], httpx.Response], deadline: float) -> httpx.Response:
        """``send`` until the hub answers, across lost connections and a hub whose
        database is restarting (503), until ``deadline`` (``time.monotonic``).

        A retried request is the same request: reading is safe, and a task sent again
        is refused as a duplicate if the first attempt stored it (:class:`_Resent`).
        """
        backoff = 0.05
        tries = 0
        while True:
            tries += 1
            try:
                response = send()
                if tries > 1 and _duplicate(response):
                    raise _Resent
                check(response)
                return response
            except (httpx.TransportError, HubUnavailable):
                if time.monotonic() + backoff >= deadline:
                    raise
            time.sleep(backoff)
            backoff = min(2 * backoff, _MAX_BACKOFF)

    def cancel(self, task_id: str) -> None:
        check(self._client.post(f"/api/tasks/{task_id}/cancel"))

    def _wait(
        self, task_id: str, task: Task, state: dict[str, Any] | None, deadline: float
    ) -> list[dict[str, Any]]:
        if not self.progress:  # no progress bar to build for every round
            return self._poll(task_id, task, state, deadline, lambda _done, _waiting: None)
        total = len(self._stations)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            line = bar.add_task(f"{task.algorithm} round {task.round}", total=total)

            def show(done: int, waiting: list[str]) -> None:
                bar.update(
                    line,
                    completed=done,
                    description=f"{task.algorithm} round {task.round}: {done}/{total} "
                    f"stations answered"
                    + (f", waiting for {', '.join(waiting)}" if waiting else ""),
                )

            return self._poll(task_id, task, state, deadline, show)

    def _poll(
        self,
        task_id: str,
        task: Task,
        state: dict[str, Any] | None,
        deadline: float,
        show: Callable[[int, list[str]], None],
    ) -> list[dict[str, Any]]:
        """Long-poll the task (unless ``state`` is given) until every run finished."""
        while True:
            if state is None:
                remaining = deadline - time.monotonic()
                wait = max(0.0, min(_POLL_SECONDS, remaining))
                state = self._state(task_id, wait, deadline)
            runs: list[dict[str, Any]] = state["runs"]
            waiting = sorted(r["station"] for r in runs if r["status"] not in _FINISHED)
            show(len(runs) - len(waiting), waiting)
            if state["status"] == "cancelled" or any(r["status"] == "cancelled" for r in runs):
                raise TaskCancelled(f"task {task_id} of {task.algorithm} was cancelled.")
            if not waiting:
                return runs
            if time.monotonic() >= deadline:
                self.cancel(task_id)
                error = RoundTimeout(
                    f"{task.algorithm} round {task.round}: no answer within "
                    f"{self.timeout:g} s from station(s) {', '.join(waiting)}; they may be "
                    "offline. The round was cancelled; try again when they are back or "
                    "leave them out of the study."
                )
                error.stations = tuple(waiting)
                raise error
            state = None

    def _open(self, run: dict[str, Any], task_id: str) -> Partial:
        station = self._stations.get(run["station"])
        if station is None or run["payload"] is None:
            raise TamperedMessage(f"the hub returned an unexpected run for {run['station']!r}.")
        body = unseal(run["payload"], self._keys, station.keys)
        if body.get("task_id") != task_id or body.get("station") != station.name:
            raise TamperedMessage(
                f"station {station.name!r} answered another task; the answer was rejected."
            )
        return Partial.from_wire(body)
