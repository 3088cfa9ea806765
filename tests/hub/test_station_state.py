"""Stations as the web pages show them: last seen, version, transport, and their reports.

The standard world (see ``conftest.world``): organisations A, B, C; ada (A), bob (B),
eve (C) researchers and root (A) a hub admin; stations sa (A), sb (B), sc (C).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from perron.hub.app import create_app
from perron.hub.migrate import check, current, downgrade, upgrade
from perron.hub.services.stations import Sighting, Sightings, version_of
from perron.hub.settings import Settings
from tests.hub.databases import BACKENDS, fresh_database
from tests.hub.world import World


def assert_error(answer, status: int, kind: str, text: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert text in answer.json()["detail"]


def poll(world: World, station: str, version: str | None = "0.4.0"):
    headers = dict(world.stations[station].headers)
    if version is not None:
        headers["X-Perron-Version"] = version
    return world.client.get("/api/station/next", params={"wait": 0}, headers=headers)


def stations_of(world: World, who: str, org: str = "A"):
    return world.call(who, "GET", f"/api/organisations/{org}/stations")


def state(world: World, station: str, org: str = "A") -> dict[str, Any]:
    answer = stations_of(world, "root", org)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = next(s for s in answer.json() if s["name"] == station)
    return found


def age_sightings(world: World, minutes: float) -> datetime:
    """Move every station's last-seen time ``minutes`` into the past; that time."""
    past = (datetime.now(UTC) - timedelta(minutes=minutes)).replace(tzinfo=None)
    world.sql("UPDATE stations SET last_seen_at = :past", past=past)
    return past.replace(tzinfo=UTC)


def report(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "audit_lines": ['{"entry":{"kind":"run"},"seq":1}', '{"entry":{"kind":"run"},"seq":2}'],
        "audit_total": 2,
        "objections": {"count": 1, "updated_at": "2026-12-01T09:00:00+00:00", "digest": "ab12"},
        "datasets": ["lung", "visits"],
    }
    return body | changes


def put_report(world: World, who: str, body: dict[str, Any] | None = None):
    return world.call(who, "PUT", "/api/station/report", json=body or report())


def read_report(world: World, who: str, org: str = "A", name: str = "sa"):
    return world.call(who, "GET", f"/api/organisations/{org}/stations/{name}/report")


# The migration


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_adds_the_columns_and_tables_and_goes_back(backend: str, tmp_path: Path):
    with fresh_database(backend, tmp_path) as url:
        upgrade(url)
        assert current(url) == "0005"
        check(url)
        downgrade(url, "0003")
        assert current(url) == "0003"
        upgrade(url)
        check(url)


# Sightings


def test_a_long_poll_notes_when_the_station_was_seen_and_its_version(world: World):
    start = datetime.now(UTC).replace(microsecond=0)
    before = state(world, "sa")
    assert before["last_seen_at"] is None
    assert (before["online"], before["version"], before["transport"]) == (False, None, None)

    assert poll(world, "sa").status_code == 204

    after = state(world, "sa")
    assert after["online"] is True
    assert (after["version"], after["transport"]) == ("0.4.0", "long-poll")
    seen = datetime.fromisoformat(after["last_seen_at"])
    assert start <= seen <= datetime.now(UTC)  # noted during the poll
    assert after["created_at"]
    assert after["verify_key"]
    assert after["box_key"]
    assert state(world, "sb", "B")["last_seen_at"] is None  # only the station that called


def test_an_answer_notes_the_station_too(world: World):
    world.task("ada", "lung", ["sb"])
    run_id = world.next("sb").json()["run_id"]
    age_sightings(world, 10)
    world.hub.sightings._written.clear()  # as a fresh hub process would start

    assert world.answer("sb", run_id, {"n": 1}, "ada").status_code == 204

    found = state(world, "sb", "B")
    assert found["online"] is True
    assert found["transport"] == "long-poll"
    assert found["version"] is None  # this station sent no version header


def test_the_sighting_is_written_at_most_every_five_seconds(world: World):
    assert poll(world, "sa").status_code == 204
    past = age_sightings(world, 10)

    assert poll(world, "sa").status_code == 204  # within 5 s of the first: not written

    assert datetime.fromisoformat(state(world, "sa")["last_seen_at"]) == past
    assert poll(world, "sa", version="0.5.0").status_code == 204  # a new version is news
    after = state(world, "sa")
    assert after["version"] == "0.5.0"
    assert datetime.fromisoformat(after["last_seen_at"]) > past


def test_the_throttle_lets_a_sighting_through_after_five_seconds_or_when_it_changed():
    now = [100.0]
    sightings = Sightings(clock=lambda: now[0])
    seen = Sighting("0.4.0", "long-poll")

    assert sightings.due(1, seen)
    assert not sightings.due(1, seen)
    assert sightings.due(2, seen)  # per station
    assert sightings.due(1, Sighting("0.4.0", "websocket"))
    now[0] += 4.9
    assert not sightings.due(1, Sighting("0.4.0", "websocket"))
    now[0] += 0.2
    assert sightings.due(1, Sighting("0.4.0", "websocket"))


def test_a_long_poll_takes_no_extra_worker_thread_call_for_its_sighting(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    assert poll(world, "sa").status_code == 204  # learns the station's channel
    calls: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(function)
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    world.hub.sightings._written.clear()  # the sighting is due: it is written now

    assert poll(world, "sa", version="0.6.0").status_code == 204

    monkeypatch.undo()
    assert len(calls) == 1
    assert state(world, "sa")["version"] == "0.6.0"


def test_the_stream_notes_a_websocket_station_when_it_connects(world: World):
    headers = world.stations["sc"].headers | {"X-Perron-Version": "0.4.1"}

    with world.client.websocket_connect("/api/station/stream", headers=headers) as socket:
        socket.send_text('{"wait": 0}')
        assert socket.receive_json() == {"run": None}
        found = state(world, "sc", "C")

    assert (found["online"], found["version"], found["transport"]) == (True, "0.4.1", "websocket")


def test_a_station_not_seen_for_longer_than_the_setting_is_offline(world: World):
    assert poll(world, "sa").status_code == 204
    age_sightings(world, 2)  # 120 s > the default 90 s

    assert state(world, "sa")["online"] is False


def test_the_online_window_is_a_setting(settings: Settings):
    with TestClient(create_app(settings.replace(station_online_seconds=300))) as client:
        world = World.standard(client, settings.database_url)
        assert poll(world, "sa").status_code == 204
        age_sightings(world, 2)

        assert state(world, "sa")["online"] is True


def test_a_version_header_is_cleaned_never_refused():
    assert version_of("0.4.0+g1a2b3c") == "0.4.0+g1a2b3c"
    assert version_of("x" * 100) == "x" * 64
    assert version_of("0.4\x00.0\u00e9") == "0.4.0"
    assert version_of("") is None
    assert version_of(None) is None


def test_a_long_version_header_still_gets_the_run(world: World):
    task_id = world.task("ada", "lung", ["sa"])

    answer = poll(world, "sa", version="v" * 300)

    assert answer.status_code == 200
    assert answer.json()["task_id"] == task_id
    assert state(world, "sa")["version"] == "v" * 64


# Who may see an organisation's stations


def test_the_users_of_the_organisation_and_hub_admins_list_its_stations(world: World):
    world.user("cleo", "C")  # of C, no study, no roles
    world.station("sa2", "A")

    assert [s["name"] for s in stations_of(world, "ada").json()] == ["sa", "sa2"]
    assert [s["name"] for s in stations_of(world, "cleo", "C").json()] == ["sc"]
    assert [s["name"] for s in stations_of(world, "root", "B").json()] == ["sb"]
    assert stations_of(world, "ada").json()[0]["organisation"] == "A"


def test_others_may_not_list_an_organisations_stations(world: World):
    assert_error(stations_of(world, "bob", "A"), 403, "NotAuthorized", "hub admins")
    assert_error(stations_of(world, "sa", "A"), 403, "NotAuthorized", "for users")
    answer = world.client.get("/api/organisations/A/stations")
    assert_error(answer, 401, "AuthenticationFailed")
    # Whether an organisation exists is told to hub admins only.
    assert_error(stations_of(world, "ada", "nowhere"), 403, "NotAuthorized")
    assert_error(stations_of(world, "root", "nowhere"), 404, "NotFound", "nowhere")


# Reports


def test_a_station_reports_and_its_organisation_reads_the_report(world: World):
    assert put_report(world, "sa").status_code == 204

    answer = read_report(world, "ada")

    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got == {
        "station": "sa",
        "organisation": "A",
        "reported_at": got["reported_at"],
        **report(),
    }
    assert abs(datetime.fromisoformat(got["reported_at"]) - datetime.now(UTC)) < timedelta(
        minutes=1
    )
    assert read_report(world, "root").status_code == 200  # a hub admin of any organisation


def test_a_new_report_replaces_the_last_one(world: World):
    assert put_report(world, "sa").status_code == 204
    lines = [f'{{"seq":{n}}}' for n in range(1, 5001)]
    newer = report(
        audit_lines=lines,
        audit_total=7000,
        objections={"count": 0, "updated_at": None, "digest": None},
        datasets=[],
    )

    assert put_report(world, "sa", newer).status_code == 204

    got = read_report(world, "ada").json()
    assert got["audit_lines"] == lines
    assert (got["audit_total"], got["datasets"]) == (7000, [])
    assert got["objections"] == {"count": 0, "updated_at": None, "digest": None}
    assert world.sql("SELECT COUNT(*) FROM station_reports")[0][0] == 1


def test_a_station_that_has_not_reported_has_no_report(world: World):
    assert_error(read_report(world, "ada"), 404, "NotFound", "has not reported yet")


def test_a_report_is_read_through_its_own_organisation_only(world: World):
    assert put_report(world, "sa").status_code == 204
    assert put_report(world, "sb").status_code == 204

    assert_error(read_report(world, "root", "B", "sa"), 404, "NotFound", "no station 'sa'")
    assert_error(read_report(world, "ada", "A", "sb"), 404, "NotFound", "no station 'sb'")
    assert_error(read_report(world, "bob", "A", "sa"), 403, "NotAuthorized")
    assert_error(read_report(world, "sa", "A", "sa"), 403, "NotAuthorized")
    answer = world.client.get("/api/organisations/A/stations/sa/report")
    assert_error(answer, 401, "AuthenticationFailed")


def test_only_a_station_reports(world: World):
    assert_error(put_report(world, "ada"), 403, "NotAuthorized", "for stations")
    answer = world.client.put("/api/station/report", json=report())
    assert_error(answer, 401, "AuthenticationFailed")


@pytest.mark.parametrize(
    "changes",
    [
        {"audit_lines": ["{}"] * 5001, "audit_total": 6000},
        {"audit_total": -1},
        {"audit_total": "3"},
        {"objections": {"count": True, "updated_at": None, "digest": None}},
        {"objections": {"count": -1, "updated_at": None, "digest": None}},
        {"objections": {"count": 0}},
        {"datasets": ["x" * 201]},
        {"audit_lines": ["nul \x00 in a line"]},
    ],
)
def test_a_report_that_does_not_fit_is_refused(world: World, changes: dict[str, Any]):
    assert_error(put_report(world, "sa", report(**changes)), 422, "InputError")
    assert_error(read_report(world, "ada"), 404, "NotFound")
