"""The station's report for its holder's pages, its version header, and when it reports."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from perron.crypto.audit import AuditLog, verify_audit_lines
from perron.crypto.keys import KeyPair
from perron.protocol.errors import TransportError
from perron.station.config import StationConfig
from perron.station.hub_client import VERSION_HEADER, hub_client, perron_version
from perron.station.link import StreamLink
from perron.station.objections import ObjectionRegister
from perron.station.report import REPORT_PATH, ReportPusher, digest_key, station_report
from perron.station.runner import StationRunner
from tests.station.support import DATASET, HOLDER, ID_COLUMN, make_run

Handler = Callable[[httpx.Request], httpx.Response]


class FakeHub:
    """The hub's station endpoints in memory: one queued run, answers, keys, reports."""

    def __init__(self, runs: list[dict[str, Any]] | None = None, report_status: int = 204):
        self.runs = list(runs or [])
        self.report_status = report_status
        self.requests: list[httpx.Request] = []
        self.reports: list[dict[str, Any]] = []
        self.events: list[str] = []
        self.answered = threading.Event()
        self.reported = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/station/keys":
            return httpx.Response(204)
        if path == REPORT_PATH:
            self.events.append("report")
            if self.report_status == 204:
                self.reports.append(json.loads(request.content))
                self.reported.set()
            return httpx.Response(self.report_status, json={"detail": "no"})
        if path == "/api/station/next":
            if self.runs:
                self.events.append("run")
                return httpx.Response(200, json=self.runs.pop(0))
            threading.Event().wait(0.01)  # a long-poll that found nothing
            return httpx.Response(204)
        if path.startswith("/api/station/runs/"):
            self.events.append("answer")
            self.answered.set()
            return httpx.Response(204)
        return httpx.Response(404, json={"detail": "Not Found"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def folder(tmp_path: Path, cohort: pd.DataFrame) -> Path:
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    KeyPair.generate().save(tmp_path / "keys")
    (tmp_path / "station.token").write_text("ps_station")
    return tmp_path


def _config(folder: Path, **settings: Any) -> StationConfig:
    raw = {
        "name": "north",
        "organisation": HOLDER,
        "hub_url": "http://hub.test",
        "dataset": "cohort.csv",
        "transport": "http",
        "governance": {"dataset_name": DATASET, "id_column": ID_COLUMN},
        **settings,
    }
    return StationConfig.from_mapping(raw, folder)


@pytest.fixture
def make_runner(folder: Path) -> Iterator[Callable[[FakeHub], StationRunner]]:
    made: list[StationRunner] = []

    def make(hub: FakeHub) -> StationRunner:
        client = httpx.Client(base_url="http://hub.test", transport=httpx.MockTransport(hub))
        runner = StationRunner(_config(folder), client=client)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


def _serve(runner: StationRunner, until: Callable[[], bool]) -> None:
    """Run the station's loop in a thread until ``until()`` holds (at most 10 s)."""
    stop = threading.Event()
    thread = threading.Thread(target=runner.serve_forever, args=(stop,))
    thread.start()
    try:
        for _ in range(1000):
            if until():
                break
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert until()


# -- the report ---------------------------------------------------------------------


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[AuditLog, ObjectionRegister]]:
    audit = AuditLog(tmp_path / "audit.jsonl")
    with ObjectionRegister(tmp_path / "objections.sqlite") as register:
        yield audit, register


def test_the_report_holds_the_audit_end_the_register_summary_and_the_datasets(parts):
    audit, register = parts
    for i in range(7):
        audit.append({"event": "task", "task_id": f"t{i}"})
    register.add("P0001", at=datetime(2026, 1, 10, tzinfo=UTC))
    register.add("P0002", at=datetime(2026, 1, 12, tzinfo=UTC))
    register.remove("P0002", at=datetime(2026, 2, 1, tzinfo=UTC))

    report = station_report(audit, register, ["whas"], b"key", lines=5)

    assert set(report) == {"audit_lines", "audit_total", "objections", "datasets"}
    assert report["audit_total"] == 7
    assert len(report["audit_lines"]) == 5
    assert verify_audit_lines(report["audit_lines"], expected_head=audit.head()) == 5
    assert report["objections"]["count"] == 1
    assert report["objections"]["updated_at"].startswith("2026-02-01T00:00:00")
    assert len(report["objections"]["digest"]) == 64
    assert report["datasets"] == ["whas"]


def test_the_report_begins_after_a_line_too_long_for_the_hub(parts):
    """The hub takes lines of up to 20,000 characters; a cut line would break the chain."""
    audit, register = parts
    audit.append({"event": "task", "task_id": "t0"})
    audit.append({"event": "task", "params": "x" * 25_000})
    audit.append({"event": "task", "task_id": "t2"})
    audit.append({"event": "task", "task_id": "t3"})

    report = station_report(audit, register, [], b"key")

    assert report["audit_total"] == 4
    assert [json.loads(line)["seq"] for line in report["audit_lines"]] == [3, 4]
    assert verify_audit_lines(report["audit_lines"], expected_head=audit.head()) == 2


def test_the_report_never_holds_an_identifier(parts):
    audit, register = parts
    register.add("P0001")

    text = json.dumps(station_report(audit, register, ["whas"], b"key"))

    assert "P0001" not in text


def test_the_digest_follows_every_change_and_needs_the_stations_key(parts):
    _, register = parts
    register.add("P0001", at=datetime(2026, 1, 10, tzinfo=UTC))
    first = register.summary(b"key").digest

    assert register.summary(b"key").digest == first
    assert register.summary(b"other key").digest != first
    register.remove("P0001", at=datetime(2026, 1, 20, tzinfo=UTC))
    assert register.summary(b"key").digest not in (None, first)


def test_an_empty_register_and_log_report_nothing_but_zeros(parts):
    audit, register = parts

    report = station_report(audit, register, [], b"key")

    assert report == {
        "audit_lines": [],
        "audit_total": 0,
        "objections": {"count": 0, "updated_at": None, "digest": None},
        "datasets": [],
    }


def test_the_digest_key_comes_from_the_stations_signing_key():
    keys = KeyPair.generate()

    assert digest_key(keys) == digest_key(KeyPair(keys.signing, KeyPair.generate().box))
    assert digest_key(keys) != digest_key(KeyPair.generate())


# -- when it is pushed ---------------------------------------------------------------


@pytest.fixture
def pusher(parts) -> Callable[[FakeHub], tuple[ReportPusher, Clock]]:
    audit, register = parts

    def make(hub: FakeHub) -> tuple[ReportPusher, Clock]:
        clock = Clock()
        client = httpx.Client(base_url="http://hub.test", transport=httpx.MockTransport(hub))
        return ReportPusher(client, audit, register, ["whas"], b"key", clock=clock), clock

    return make


def test_a_report_goes_out_at_start_and_again_only_after_a_change(parts, pusher):
    audit, register = parts
    hub = FakeHub()
    reporter, clock = pusher(hub)

    assert reporter.push_if_due()
    assert reporter.due_in() is None
    assert not reporter.push_if_due()
    audit.append({"event": "task"})
    clock.now += 2.0
    assert reporter.push_if_due()
    register.add("P0001")
    clock.now += 2.0
    assert reporter.push_if_due()

    assert [r["audit_total"] for r in hub.reports] == [0, 1, 1]
    assert hub.reports[-1]["objections"]["count"] == 1


def test_reports_go_out_at_most_every_two_seconds(parts, pusher):
    audit, _ = parts
    hub = FakeHub()
    reporter, clock = pusher(hub)
    reporter.push_if_due()

    audit.append({"event": "task"})
    clock.now += 0.5

    assert reporter.due_in() == pytest.approx(1.5)
    assert not reporter.push_if_due()
    clock.now += 1.5
    assert reporter.push_if_due()
    assert len(hub.reports) == 2


def test_a_failed_push_is_logged_and_tried_again_later(parts, pusher, caplog):
    hub = FakeHub(report_status=503)
    reporter, clock = pusher(hub)

    with caplog.at_level(logging.WARNING, logger="perron.station.report"):
        assert not reporter.push_if_due()
    assert "station report not sent" in caplog.text
    assert reporter.due_in() == pytest.approx(4.0)  # backing off
    hub.report_status = 204
    clock.now += 4.0
    assert reporter.push_if_due()
    assert len(hub.reports) == 1


def test_an_unreachable_hub_does_not_raise(parts):
    audit, register = parts

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(base_url="http://hub.test", transport=httpx.MockTransport(refuse))
    reporter = ReportPusher(client, audit, register, [], b"key", clock=Clock())

    assert not reporter.push_if_due()
    assert reporter.due_in() is not None


def test_a_hub_without_the_endpoint_is_noted_once_at_debug_level(parts, pusher, caplog):
    audit, _ = parts
    hub = FakeHub(report_status=404)
    reporter, clock = pusher(hub)

    with caplog.at_level(logging.DEBUG, logger="perron.station.report"):
        assert not reporter.push_if_due()
        audit.append({"event": "task"})
        clock.now += 10
        assert not reporter.push_if_due()  # not asked again
        reporter.restart()  # a reconnect: the hub may have been upgraded
        assert not reporter.push_if_due()

    notes = [r for r in caplog.records if "does not report" in r.getMessage()]
    assert [r.levelno for r in notes] == [logging.DEBUG]
    assert hub.events == ["report", "report"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- in the station's loop ------------------------------------------------------------


def test_the_station_reports_at_start_and_after_a_run_never_inside_it(make_runner, researcher):
    hub = FakeHub([make_run(researcher)])
    runner = make_runner(hub)

    _serve(runner, lambda: len(hub.reports) >= 2)

    first, second = hub.reports[:2]
    assert (first["audit_total"], second["audit_total"]) == (0, 1)
    assert json.loads(second["audit_lines"][-1])["entry"]["outcome"] == "released"
    assert second["datasets"] == [DATASET]
    # Nothing goes out between a run's delivery and its answer.
    assert hub.events.index("report") < hub.events.index("run") < hub.events.index("answer")
    assert hub.events[hub.events.index("answer") + 1 :].count("report") >= 1


def test_every_request_of_the_station_carries_its_version(make_runner, researcher):
    hub = FakeHub([make_run(researcher)])
    runner = make_runner(hub)

    _serve(runner, lambda: len(hub.reports) >= 2)

    assert {r.url.path for r in hub.requests} >= {
        "/api/station/keys",
        "/api/station/next",
        "/api/station/runs/1",
        REPORT_PATH,
    }
    assert {r.headers.get(VERSION_HEADER) for r in hub.requests} == {perron_version()}


def test_a_hub_without_reports_still_gets_its_runs_answered(make_runner, researcher):
    hub = FakeHub([make_run(researcher)], report_status=404)
    runner = make_runner(hub)

    _serve(runner, hub.answered.is_set)

    assert hub.events.count("report") == 1
    assert not runner.reporter.enabled


def test_a_failing_report_does_not_stop_the_station(make_runner, researcher):
    hub = FakeHub([make_run(researcher)], report_status=500)
    runner = make_runner(hub)

    _serve(runner, hub.answered.is_set)

    assert "report" in hub.events


def test_the_hub_clients_of_the_station_send_token_and_version(folder):
    with hub_client(_config(folder)) as client:
        assert client.headers["Authorization"] == "Bearer ps_station"
        assert client.headers[VERSION_HEADER] == perron_version()


def test_the_stream_handshake_carries_the_version():
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def refuse() -> None:
            connection, _ = server.accept()
            with connection:
                received.append(connection.recv(65536))
                connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=refuse)
        thread.start()
        link = StreamLink(f"http://127.0.0.1:{port}", "ps_token")
        with pytest.raises(TransportError, match="404"):
            link.next_run(0.0)
        thread.join()

    headers = received[0].decode("latin-1").lower()
    assert f"{VERSION_HEADER.lower()}: {perron_version()}" in headers
    assert "authorization: bearer ps_token" in headers
