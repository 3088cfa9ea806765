"""The station process: pull tasks from the hub, check them, run them, answer sealed.

For every delivered run the station

1. verifies the task's Ed25519 signature with the requester's key, and that the
   signed task names this run's study and requester;
2. checks that the study includes its organisation and that the requester is
   allowed (``allowed_requesters``), then the replay guard: a task seen before with
   another content, a reused nonce or an expired task is refused, and an identical
   redelivery (at-least-once delivery) is answered from the stored answer without
   running again;
3. finds the study's signed policy, checks the task against it and assembles the
   cohort: the policy's columns without the identifier, the rows of everyone who has
   not objected (:class:`~perron.station.governance.Governor`); a refusal is
   answered and audited like any other, naming the policy rule;
4. runs the allow-listed algorithm step on that cohort under the holder's disclosure
   settings, as the policy and the request tightened them
   (:class:`~perron.station.node.Station`);
5. signs the partial and seals it for the requester, so the hub relays only
   ciphertext, and appends an entry to its hash-chained audit log: who asked,
   which study and policy, algorithm and parameters, how the cohort was assembled,
   what was released or refused, and why (the policy rule).

It makes outbound connections only: one WebSocket to the hub, or long-polls
(:mod:`perron.station.link`), so a task arrives within milliseconds; when the hub
is unreachable it retries with back-off and picks up its pending runs when the hub
is back. Every request carries the station's Perron version
(:mod:`perron.station.hub_client`), and while idle, between its polls, the station
reports its audit log's end, its objection register's summary and its datasets for
its holder's pages (:mod:`perron.station.report`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx

from perron.algorithms.quality.reports import Quality, WithQualityReport
from perron.crypto.audit import AuditLog
from perron.crypto.envelope import canonical, seal, verify
from perron.crypto.keys import KeyPair, PublicKeys
from perron.crypto.replay import ReplayGuard
from perron.data.source import DataSource
from perron.protocol.errors import (
    NotAuthorized,
    SecurityError,
    TamperedMessage,
    TransportError,
    error_to_wire,
)
from perron.protocol.http import check
from perron.protocol.messages import Partial, Task
from perron.quality.store import report_files
from perron.station.config import StationConfig
from perron.station.counter import TaskCounter
from perron.station.governance import Admission, Governor, policy_rule
from perron.station.hub_client import VERSION_HEADER, hub_client, perron_version
from perron.station.link import HttpLink, HubLink, StreamLink
from perron.station.node import Station
from perron.station.objections import ObjectionRegister
from perron.station.policies import HubPolicies, PolicyBook, PolicySource
from perron.station.query_ledger import SqliteLedger
from perron.station.report import ReportPusher, digest_key
from perron.station.view import DatasetView

logger = logging.getLogger(__name__)

POLL_SECONDS = 25.0
#: How long a station that just answered a run waits for the next before it reports.
REPORT_IDLE_SECONDS = 2.0
_MAX_BACKOFF = 5.0


class StationRunner:
    """One station: its data, rules, keys, audit log and connection to the hub.

    Parameters
    ----------
    config
        The station's configuration.
    client
        The connection to the hub (default: one made from the configuration).
    policies
        Where the signed study policies come from (default: the hub, through
        ``client``); used only when ``[governance.signers]`` is configured.
    clock
        The current time for the policy checks and objections (default: the system
        clock, UTC).
    """

    def __init__(
        self,
        config: StationConfig,
        *,
        client: httpx.Client | None = None,
        policies: PolicySource | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.keys = KeyPair.load(config.keys_dir)
        settings = config.governance
        self.view = DatasetView.from_config(config)
        self.station = Station(
            config.name,
            self.view.source(None, frozenset()),
            config.disclosure,
            allowed=config.allowed_algorithms,
        )
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = SqliteLedger(config.feasibility_file)
        self.station.ledger = self.ledger
        self.replay = ReplayGuard(config.state_dir / "replay.sqlite")
        self.objections = ObjectionRegister(config.objections_file)
        self.counter = TaskCounter(config.policy_tasks_file)
        self.audit = AuditLog(config.audit_log)
        #: Stores an answer while the audit entry is written (see :meth:`answer`).
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="station-store")
        self.client = client or hub_client(config, timeout=POLL_SECONDS + 10.0)
        self.client.headers.setdefault(VERSION_HEADER, perron_version())
        #: Where runs come from and answers go (station.toml's ``transport``).
        self.link: HubLink = (
            StreamLink(config.hub_url, config.token)
            if config.transport == "websocket"
            else HttpLink(self.client)
        )
        #: Sends the holder's pages the audit log's end, the register's summary and
        #: the datasets, between polls (:mod:`perron.station.report`).
        self.reporter = ReportPusher(
            self.client,
            self.audit,
            self.objections,
            [config.dataset_name],
            digest_key(self.keys),
        )
        book = None
        if settings.signers:
            book = PolicyBook(
                policies or HubPolicies(self.client),
                holder=config.organisation,
                trusted=settings.signers,
            )
        self.governor = Governor(
            self.view,
            self.objections,
            self.counter,
            settings,
            config.disclosure,
            book=book,
            clock=clock,
        )

    def _source_for(self, task: Task, admission: Admission) -> DataSource | None:
        """The data a task may see; a quality task also finds the holder's CDM report
        (``perron station quality`` writes it into the state folder)."""
        if task.algorithm != Quality.name:
            return admission.source
        source = self.station.source if admission.source is None else admission.source
        report = report_files(self.config.state_dir, self.config.dataset_name).exact
        return WithQualityReport(source, report)

    def close(self) -> None:
        """Release the station's databases and the hub connection."""
        self._writer.shutdown()
        self.replay.close()
        self.objections.close()
        self.counter.close()
        self.ledger.close()
        self.link.close()
        self.client.close()
        self.view.close()

    def register_keys(self) -> None:
        """Publish this station's public keys at the hub."""
        check(self.client.put("/api/station/keys", json=self.keys.public().to_dict()))

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Pull and answer runs until ``stop`` is set."""
        stop = stop or threading.Event()
        backoff = 0.2
        registered = False
        while not stop.is_set():
            try:
                if not registered:
                    self.register_keys()
                    registered = True
                    self.reporter.restart()
                # Idle here: no run is being answered, so the report may go out.
                self.reporter.push_if_due()
                self.poll_once(self._idle_wait())
                backoff = 0.2
            except (httpx.TransportError, TransportError) as error:
                logger.warning(
                    "station %s: hub unreachable (%s); retrying", self.config.name, error
                )
                registered = False  # say hello again: runs claimed before may be lost
                stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)

    def poll_once(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for a run and answer it, and every run that follows
        at once (each answer also waits for the next run); True if there was one."""
        run = self.link.next_run(wait)
        if run is None:
            return False
        # After a run the audit head has changed: wait a short while for the next run
        # (the next round of an analysis comes within milliseconds), then return, so
        # that the report goes out while the station is idle.
        next_wait = min(wait, REPORT_IDLE_SECONDS) if self.reporter.enabled else wait
        while run is not None:
            # The answer also asks for the next run: one exchange per run.
            status, sealed = self.answer(run)
            run = self.link.answer(int(run["run_id"]), status, sealed, next_wait)
        return True

    def _idle_wait(self) -> float:
        """How long the next poll may wait: until a pending report is due, at most a poll."""
        due = self.reporter.due_in()
        return POLL_SECONDS if due is None else min(POLL_SECONDS, max(due, 0.1))

    def answer(self, run: dict[str, Any]) -> tuple[str, str]:
        """The sealed answer to one delivered run (and its status)."""
        requester = run["requester"]
        recipient = PublicKeys(requester["verify_key"], requester["box_key"])
        body: dict[str, Any] = {}
        admission: Admission | None = None
        try:
            body = self._verified(run)
            digest = hashlib.sha256(canonical(run["envelope"])).hexdigest()
            fresh = self.replay.check_and_remember(
                body["task_id"], body["nonce"], digest, float(body["expires_at"])
            )
            if not fresh:
                stored = self.replay.result_for(body["task_id"])
                if stored is not None:  # a redelivery: the same answer, not a second run
                    status, sealed = stored.split(":", 1)
                    return status, sealed
            task = Task(body["algorithm"], body["params"], int(body["round"]), body["disclosure"])
            admission = self.governor.admit(body["study"], body["task_id"], task)
            if admission.refusal is not None:
                partial = Partial(self.config.name, None, error=error_to_wire(admission.refusal))
            else:
                partial = self.station.handle(
                    task,
                    source=self._source_for(task, admission),
                    disclosure=admission.disclosure,
                    linkage=admission.linkage,
                    requester=str(run["requester"]["username"]),
                )
                self.governor.settle(admission, body["task_id"], partial)
                partial = self.governor.with_budget(admission, task, partial)
            outcome = "released" if partial.error is None else "refused"
        except SecurityError as error:
            partial = Partial(self.config.name, None, error=error_to_wire(error))
            outcome = "rejected"
        status = "done" if partial.error is None else "failed"
        message = {"task_id": run["task_id"], **partial.to_wire()}
        sealed = seal(message, recipient, self.keys)
        # Both the stored answer (for redeliveries) and the audit entry are on disk
        # before the answer leaves; written side by side, their fsyncs overlap.
        storing: Future[None] | None = None
        if outcome != "rejected":
            storing = self._writer.submit(
                self.replay.store_result, body["task_id"], f"{status}:{sealed}"
            )
        try:
            self.audit.append(self._audit_entry(run, body, partial, outcome, admission))
        finally:
            if storing is not None:
                storing.result()
        return status, sealed

    def _verified(self, run: dict[str, Any]) -> dict[str, Any]:
        body = verify(run["envelope"], run["requester"]["verify_key"])
        study = run["study"]
        if (
            body.get("task_id") != run["task_id"]
            or body.get("study") != study["name"]
            or body.get("requester") != run["requester"]["username"]
        ):
            raise TamperedMessage(
                "the signed task names another task, study or requester than the hub "
                "delivered it for; it was rejected."
            )
        if self.config.organisation not in study["organisations"]:
            raise NotAuthorized(
                f"study {study['name']!r} does not include organisation "
                f"{self.config.organisation!r} of station {self.config.name!r}."
            )
        allowed = self.config.allowed_requesters
        if allowed and body["requester"] not in allowed:
            raise NotAuthorized(
                f"station {self.config.name!r} does not accept tasks from {body['requester']!r}."
            )
        if float(body["expires_at"]) - float(body["issued_at"]) > self.config.task_timeout:
            raise NotAuthorized(
                f"the task stays valid longer than station {self.config.name!r} accepts "
                f"({self.config.task_timeout:g} s)."
            )
        return body

    def _audit_entry(
        self,
        run: dict[str, Any],
        body: dict[str, Any],
        partial: Partial,
        outcome: str,
        admission: Admission | None,
    ) -> dict[str, Any]:
        policy = rule = cohort = None
        if admission is not None:  # the task passed the security checks
            policy, cohort = admission.policy, admission.cohort()
            rule = admission.rule if admission.refusal is not None else policy_rule(partial.error)
        return {
            "task_id": run["task_id"],
            "study": run["study"]["name"],
            "requester": run["requester"]["username"],
            "algorithm": body.get("algorithm"),
            "round": body.get("round"),
            "params": body.get("params"),
            "disclosure_request": body.get("disclosure"),
            "outcome": outcome,
            "released": sorted(partial.payload) if partial.payload is not None else [],
            "decisions": [[d.rule, d.threshold, d.outcome, d.subject] for d in partial.decisions],
            "error": None if partial.error is None else dict(partial.error),
            "policy_id": None if policy is None else policy.policy_id,
            "rule": rule,
            "cohort": cohort,
            # The study's privacy budget at this holder after the task (None: no budget).
            "budget": None if admission is None else self.governor.budget(policy),
            "at": time.time(),
        }


def run_station(config: StationConfig, stop: threading.Event | None = None) -> None:
    """Start a station and serve until stopped (used by ``perron station start``)."""
    runner = StationRunner(config)
    logger.info("station %s serving %s", config.name, config.hub_url)
    try:
        runner.serve_forever(stop)
    finally:
        runner.close()
