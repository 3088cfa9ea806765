"""Standing surveillance from the researcher's side: jobs, and the runner that runs them.

A :class:`SurveillanceJob` is what a public-health authority asks every week: the
weekly-count request (case definition, strata, first week; fixed by the holders'
signed surveillance policies, :mod:`perron.governance.surveillance`) and the
detection method with its options. The hub keeps the job's schedule (a weekday and
an hour, UTC) and says when it is due (``GET /api/surveillance/due``); it holds no
keys and computes nothing. The :class:`Runner` holds the researcher's keys: for each
due job it counts at the study's stations, runs the detection on the pooled series
(:func:`~perron.algorithms.surveillance.signal.assess`), publishes the signal to the
study's results board (signed) and records the run, once per job and week (the hub
refuses a second record of a week, so a restarted runner never publishes a week
twice as a run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from perron.algorithms.surveillance.signal import Signal, assess
from perron.client.connect import connect, hub_client
from perron.client.session import Session
from perron.crypto.keys import KeyPair
from perron.protocol.errors import InputError, PerronError
from perron.protocol.http import check
from perron.surveillance.weeks import IsoWeek


@dataclass(frozen=True)
class SurveillanceJob:
    """A weekly job: ``counts`` are ``Session.weekly_counts`` parameters without ``last``.

    Examples
    --------
    >>> job = SurveillanceJob("salmonella", "surv", title="Salmonella enteritis",
    ...     counts={"case": [{"column": "icd10", "in": ["A02.0"]}], "date": "onset",
    ...             "first": "2020-W01"})
    >>> SurveillanceJob.from_spec("salmonella", "surv", job.spec()) == job
    True
    """

    name: str
    study: str
    title: str
    counts: Mapping[str, Any]
    method: str = "farrington_flexible"
    options: Mapping[str, Any] = field(default_factory=dict)
    weekday: int = 1
    hour: int = 6

    def __post_init__(self) -> None:
        if "last" in self.counts:
            raise InputError("a job's counts run to the week assessed; leave 'last' out.")
        for key in ("case", "date", "first"):
            if key not in self.counts:
                raise InputError(f"a surveillance job's counts need {key!r}.")
        if not 1 <= self.weekday <= 7 or not 0 <= self.hour <= 23:
            raise InputError("a job runs on an ISO weekday 1-7 (1 = Monday) at an hour 0-23 UTC.")

    def spec(self) -> dict[str, Any]:
        """What the hub stores (opaque to it)."""
        return {
            "counts": dict(self.counts),
            "detection": {"method": self.method, "options": dict(self.options)},
            "title": self.title,
        }

    @classmethod
    def from_spec(
        cls, name: str, study: str, spec: Mapping[str, Any], *, weekday: int = 1, hour: int = 6
    ) -> SurveillanceJob:
        detection = dict(spec.get("detection") or {})
        return cls(
            name=name,
            study=study,
            title=str(spec.get("title") or name),
            counts=dict(spec["counts"]),
            method=str(detection.get("method", "farrington_flexible")),
            options=dict(detection.get("options") or {}),
            weekday=weekday,
            hour=hour,
        )

    def assess(self, session: Session, week: IsoWeek) -> Signal:
        """Count up to ``week`` at the session's stations and assess ``week``."""
        counts = session.weekly_counts(**{**self.counts, "last": str(week)})
        return assess(counts, self.method, dict(self.options))


def define(client: httpx.Client, job: SurveillanceJob) -> dict[str, Any]:
    """Create or update ``job`` at the hub (you become its owner)."""
    response = client.put(
        f"/api/studies/{job.study}/surveillance/{job.name}",
        json={"spec": job.spec(), "weekday": job.weekday, "hour": job.hour},
    )
    check(response)
    return dict(response.json())


@dataclass(frozen=True)
class Run:
    """A run the runner made: the job, the week and the signal (or the error)."""

    study: str
    job: str
    week: IsoWeek
    signal: Signal | None
    result_id: str | None
    error: str | None = None


class Runner:
    """Runs the caller's due jobs: count, detect, publish, record.

    ``open_session(study)`` opens a session on the study (``perron.connect`` with the
    runner's token and keys); the runner closes it after each job.
    """

    def __init__(
        self,
        client: httpx.Client,
        open_session: Callable[[str], Session],
        *,
        report: Callable[[Run], None] | None = None,
    ) -> None:
        self._client = client
        self._open = open_session
        self._report = report or (lambda run: None)

    def close(self) -> None:
        """Close the hub client (a runner made by :func:`runner_for` owns it)."""
        self._client.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def due(self) -> list[tuple[SurveillanceJob, IsoWeek]]:
        """The caller's jobs the hub says are due, each with the week to assess."""
        response = self._client.get("/api/surveillance/due")
        check(response)
        return [
            (
                SurveillanceJob.from_spec(
                    str(entry["name"]),
                    str(entry["study"]),
                    entry["spec"],
                    weekday=int(entry.get("weekday", 1)),
                    hour=int(entry.get("hour", 6)),
                ),
                IsoWeek.parse(str(entry["week"])),
            )
            for entry in response.json()
        ]

    def run_due(self) -> list[Run]:
        """Run every due job once; a failing job is reported and the others still run."""
        runs = []
        for job, week in self.due():
            try:
                run = self.run(job, week)
            except PerronError as error:
                run = Run(job.study, job.name, week, None, None, f"{type(error).__name__}: {error}")
            self._report(run)
            runs.append(run)
        return runs

    def run(self, job: SurveillanceJob, week: IsoWeek) -> Run:
        """Assess ``week`` for ``job``, publish the signal and record the run."""
        session = self._open(job.study)
        try:
            signal = job.assess(session, week)
            result_id = session.publish(signal, title=f"{job.title}: {week}")
        finally:
            session.close()
        response = self._client.post(
            f"/api/studies/{job.study}/surveillance/{job.name}/runs",
            json={
                "week": str(week),
                "result_id": result_id,
                "alarm": signal.alarm,
                "alarm_weeks": [str(w) for w in signal.detection.alarm_weeks][-60:],
            },
        )
        check(response)
        return Run(job.study, job.name, week, signal, result_id)

    def serve(self, stop: threading.Event, *, interval: float = 300.0) -> None:
        """Run due jobs every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            self.run_due()
            stop.wait(interval)


def runner_for(
    url: str,
    *,
    token: str,
    keys: KeyPair | None = None,
    report: Callable[[Run], None] | None = None,
) -> Runner:
    """A runner at the hub ``url`` with a user token; one key pair for all its sessions.

    The runner owns its hub client: close it (or use it in a ``with`` block).
    """
    pair = keys or KeyPair.generate()
    client = hub_client(url)
    client.headers["Authorization"] = f"Bearer {token}"
    return Runner(
        client,
        lambda study: connect(url, study=study, token=token, keys=pair, progress=False),
        report=report,
    )
