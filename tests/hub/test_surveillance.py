"""Standing surveillance at the hub: jobs, their weekly schedule, the runs their runners record.

The standard world (see ``conftest.world``): study ``lung`` = organisations A, B with
researchers ada (A) and bob (B) and admin root (A); ``heart`` = B, C with eve (C);
stations sa (A), sb (B), sc (C).

The schedule is tested with the service functions and an explicit ``now``; the routes,
which take the hub's clock, with a slot half a week away from the test's clock, so the
week due cannot change while a test runs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from perron.crypto.envelope import sign
from perron.hub import admin
from perron.hub.db.models import User
from perron.hub.migrate import check, current, downgrade, upgrade
from perron.hub.services import surveillance
from perron.hub.services.surveillance import add_weeks, due_week, next_due, slot, week_of
from tests.hub.databases import BACKENDS, fresh_database
from tests.hub.world import World

SPEC: dict[str, Any] = {
    "counts": {
        "case": [{"column": "icd10", "in": ["A02.0"]}],
        "date": "onset",
        "first": "2020-W01",
        "by": ["region"],
        "levels": {"region": ["Groningen", "Friesland", "Drenthe"]},
    },
    "detection": {"method": "farrington_flexible", "options": {"b": 3, "w": 3, "alpha": 0.01}},
    "title": "Salmonella enteritis (A02.0), northern Netherlands",
}
DETECTION: dict[str, Any] = {
    "type": "detection",
    "method": "farrington_flexible",
    "weeks": ["2024-W51", "2024-W52", "2025-W01"],
    "observed": [3, None, 12.0],
    "expected": [2.5, 2.6, 2.8],
    "upperbound": [6.1, 6.3, 6.6],
    "alarm": [False, False, True],
}
JOBS = "/api/studies/lung/surveillance"


def assert_error(answer, status: int, kind: str, text: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert text in answer.json()["detail"], answer.json()["detail"]


def far_slot() -> tuple[int, int]:
    """A weekly slot (weekday, hour) about half a week from now: the week due stays put."""
    later = datetime.now(UTC) + timedelta(days=3, hours=12)
    return later.isoweekday(), later.hour


def put_job(world: World, who: str, name: str = "salmonella", study: str = "lung", **body: Any):
    weekday, hour = far_slot()
    return world.call(
        who,
        "PUT",
        f"/api/studies/{study}/surveillance/{name}",
        json={"spec": SPEC, "weekday": weekday, "hour": hour} | body,
    )


def signal(
    world: World, who: str = "ada", study: str = "lung", kind: str = "surveillance", **changes: Any
) -> str:
    """Publish a signal (a result with a detection figure) as ``who``; its id."""
    body: dict[str, Any] = {
        "result_id": uuid.uuid4().hex,
        "study": study,
        "title": "Salmonella, week 2025-W01",
        "kind": kind,
        "task_ids": [uuid.uuid4().hex],
        "created_at": "2025-01-06T06:00:00+00:00",
        "tables": [],
        "figure": DETECTION,
        "errors": [],
    } | changes
    envelope = sign(body, world.users[who].keys)
    answer = world.call(who, "POST", f"/api/studies/{study}/results", json={"envelope": envelope})
    assert answer.status_code == 201, answer.text
    result_id: str = body["result_id"]
    return result_id


def record(
    world: World,
    who: str,
    week: str,
    result_id: str,
    name: str = "salmonella",
    **changes: Any,
):
    body = {"week": week, "result_id": result_id, "alarm": False, "alarm_weeks": []} | changes
    return world.call(who, "POST", f"{JOBS}/{name}/runs", json=body)


def the_due_week() -> str:
    weekday, hour = far_slot()
    return due_week(datetime.now(UTC), weekday, hour)


def user(session: Session, name: str) -> User:
    found = session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


# The migration


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_builds_the_two_tables_and_goes_back(backend: str, tmp_path: Path):
    with fresh_database(backend, tmp_path) as url:
        upgrade(url)
        assert current(url) == "0005"
        check(url)
        downgrade(url, "0004")
        assert current(url) == "0004"
        upgrade(url)
        check(url)


# The schedule (no clock: ``now`` is given)


@pytest.mark.parametrize(
    ("now", "weekday", "hour", "week"),
    [
        # Monday 2024-01-08 is in 2024-W02; the slot is Monday 06:00.
        (datetime(2024, 1, 8, 6, tzinfo=UTC), 1, 6, "2024-W01"),
        (datetime(2024, 1, 8, 5, 59, 59, 999999, tzinfo=UTC), 1, 6, "2023-W52"),
        (datetime(2024, 1, 14, 23, 59, tzinfo=UTC), 1, 6, "2024-W01"),
        # Sunday 23:00 slots: the week before is due only at the very end of the week.
        (datetime(2024, 1, 14, 22, 59, tzinfo=UTC), 7, 23, "2023-W52"),
        (datetime(2024, 1, 14, 23, 0, tzinfo=UTC), 7, 23, "2024-W01"),
        # Across a year with 53 weeks (2026) and the first week of the next.
        (datetime(2027, 1, 4, 12, tzinfo=UTC), 1, 9, "2026-W53"),
        (datetime(2027, 1, 1, 12, tzinfo=UTC), 1, 9, "2026-W52"),
        # Another zone is the same moment in UTC.
        (datetime(2024, 1, 8, 7, 30, tzinfo=UTC).astimezone(), 1, 7, "2024-W01"),
    ],
)
def test_the_week_due_is_the_latest_whose_slot_has_passed(
    now: datetime, weekday: int, hour: int, week: str
):
    assert due_week(now, weekday, hour) == week


def test_a_job_is_due_exactly_when_its_next_slot_has_passed():
    start = datetime(2026, 12, 20, tzinfo=UTC)  # a Sunday before a 53-week year's end
    for last_week in (None, "2026-W50", "2026-W51", "2026-W52", "2026-W53"):
        for step in range(0, 24 * 28, 5):  # every 5 hours for four weeks
            now = start + timedelta(hours=step)
            due = surveillance.is_due(last_week, 3, 14, now)
            assert due == (now >= next_due(last_week, 3, 14, now)), (last_week, now)


def test_the_next_slot_is_the_one_after_the_latest_weeks():
    now = datetime(2024, 1, 10, tzinfo=UTC)

    assert next_due("2024-W01", 1, 6, now) == datetime(2024, 1, 15, 6, tzinfo=UTC)
    assert next_due("2026-W52", 5, 0, now) == slot("2027-W01", 5, 0)
    assert next_due(None, 1, 6, now) == datetime(2024, 1, 8, 6, tzinfo=UTC)  # overdue
    assert add_weeks("2026-W53", 1) == "2027-W01"
    assert week_of(datetime(2027, 1, 3, 23, 59, tzinfo=UTC)) == "2026-W53"


def test_a_job_is_due_before_and_after_its_slot_and_a_run_moves_it_on(world: World):
    slot_time = datetime(2025, 3, 10, 6, tzinfo=UTC)  # Monday 06:00 of 2025-W11
    answer = world.call(
        "ada", "PUT", f"{JOBS}/salmonella", json={"spec": SPEC, "weekday": 1, "hour": 6}
    )
    assert answer.status_code == 201, answer.text
    result_id = signal(world)

    with world.hub.sessions() as session:
        ada = user(session, "ada")
        before = surveillance.due_jobs(session, ada, slot_time - timedelta(seconds=1))
        at = surveillance.due_jobs(session, ada, slot_time)
        run = surveillance.record_run(
            session,
            ada,
            "lung",
            "salmonella",
            week="2025-W10",
            result_id=result_id,
            alarm=True,
            alarm_weeks=["2025-W10"],
            now=slot_time + timedelta(minutes=5),
        )
        after = surveillance.due_jobs(session, ada, slot_time + timedelta(hours=1))
        (job,) = surveillance.jobs_of(session, ada, "lung", slot_time + timedelta(hours=1))
        week_later = surveillance.due_jobs(session, ada, slot_time + timedelta(weeks=1))

    assert [(d.study, d.name, d.week, d.last_week) for d in before] == [
        ("lung", "salmonella", "2025-W09", None)
    ]
    assert before[0].spec == SPEC
    assert [d.week for d in at] == ["2025-W10"]
    assert (run.week, run.alarm, run.alarm_weeks) == ("2025-W10", True, ("2025-W10",))
    assert after == []
    assert (job.last_week, job.due) == ("2025-W10", False)
    assert job.next_due == datetime(2025, 3, 17, 6, tzinfo=UTC)
    assert job.last_run_at == slot_time + timedelta(minutes=5)
    assert [(d.week, d.last_week) for d in week_later] == [("2025-W11", "2025-W10")]


def test_a_week_missed_earlier_may_be_recorded_later_without_moving_the_latest_back(
    world: World,
):
    assert put_job(world, "ada").status_code == 201
    latest = the_due_week()
    missed = add_weeks(latest, -3)

    assert record(world, "ada", latest, signal(world)).status_code == 201
    assert record(world, "ada", missed, signal(world)).status_code == 201

    job = world.call("ada", "GET", f"{JOBS}/salmonella").json()
    assert job["last_week"] == latest
    assert [run["week"] for run in job["runs"]] == [latest, missed]  # latest week first


# Jobs through the API


def test_a_member_creates_a_job_and_members_read_it(world: World):
    start = datetime.now(UTC).replace(microsecond=0)
    weekday, hour = far_slot()

    answer = put_job(world, "ada", weekday=weekday, hour=hour)

    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert {k: created[k] for k in ("study", "name", "owner", "spec", "weekday", "hour")} == {
        "study": "lung",
        "name": "salmonella",
        "owner": "ada",
        "spec": SPEC,
        "weekday": weekday,
        "hour": hour,
    }
    assert start <= datetime.fromisoformat(created["created_at"]) <= datetime.now(UTC)
    assert (created["last_week"], created["last_run_at"], created["latest_run"]) == (
        None,
        None,
        None,
    )
    assert created["due"] is True  # never ran: the week due now is to be assessed
    # The slot of the week due when the job was made (far_slot keeps it clear of a boundary).
    assert datetime.fromisoformat(created["next_due"]) == next_due(None, weekday, hour, start)
    (listed,) = world.call("bob", "GET", JOBS).json()
    assert listed == created
    shown = world.call("root", "GET", f"{JOBS}/salmonella").json()
    assert shown == created | {"runs": []}


def test_the_owner_updates_the_job_and_its_runs_stay(world: World):
    assert put_job(world, "ada").status_code == 201
    week = the_due_week()
    assert record(world, "ada", week, signal(world)).status_code == 201
    spec = SPEC | {"title": "Salmonella, all ages"}

    answer = put_job(world, "ada", spec=spec)

    assert answer.status_code == 200, answer.text
    assert answer.json()["spec"] == spec
    assert answer.json()["last_week"] == week
    assert answer.json()["latest_run"]["week"] == week
    assert len(world.call("ada", "GET", f"{JOBS}/salmonella").json()["runs"]) == 1


def test_jobs_are_listed_by_name_and_per_study(world: World):
    with world.hub.sessions() as session:
        admin.add_user_to_study(session, "heart", "bob")
    for who, name in (("bob", "listeria"), ("ada", "campylobacter")):
        assert put_job(world, who, name).status_code == 201
    assert put_job(world, "eve", "influenza", study="heart").status_code == 201

    assert [job["name"] for job in world.call("ada", "GET", JOBS).json()] == [
        "campylobacter",
        "listeria",
    ]
    heart = world.call("eve", "GET", "/api/studies/heart/surveillance").json()
    assert [(job["name"], job["owner"]) for job in heart] == [("influenza", "eve")]


def test_recording_a_run_moves_next_due_on(world: World):
    weekday, hour = far_slot()
    assert put_job(world, "ada", weekday=weekday, hour=hour).status_code == 201
    week = due_week(datetime.now(UTC), weekday, hour)
    (due,) = world.call("ada", "GET", "/api/surveillance/due").json()
    assert due == {
        "study": "lung",
        "name": "salmonella",
        "spec": SPEC,
        "week": week,
        "last_week": None,
        "weekday": weekday,
        "hour": hour,
    }
    result_id = signal(world)
    before = datetime.now(UTC).replace(microsecond=0)

    answer = record(
        world, "ada", week, result_id, alarm=True, alarm_weeks=[week, add_weeks(week, -2)]
    )

    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert (run["week"], run["result_id"], run["alarm"]) == (week, result_id, True)
    assert run["alarm_weeks"] == [add_weeks(week, -2), week]  # in week order
    assert before <= datetime.fromisoformat(run["created_at"]) <= datetime.now(UTC)
    (job,) = world.call("bob", "GET", JOBS).json()
    assert (job["last_week"], job["due"]) == (week, False)
    assert job["latest_run"] == {"week": week, "alarm": True, "result_id": result_id}
    assert datetime.fromisoformat(job["next_due"]) == slot(add_weeks(week, 2), weekday, hour)
    assert datetime.fromisoformat(job["next_due"]) > datetime.now(UTC)
    assert job["last_run_at"] == run["created_at"]
    assert world.call("ada", "GET", "/api/surveillance/due").json() == []
    shown = world.call("bob", "GET", f"{JOBS}/salmonella").json()
    assert shown["runs"] == [run]


def test_a_week_is_recorded_once(world: World):
    assert put_job(world, "ada").status_code == 201
    week = the_due_week()
    first = signal(world)
    assert record(world, "ada", week, first).status_code == 201

    assert_error(record(world, "ada", week, signal(world)), 409, "Conflict", "recorded before")
    assert_error(record(world, "ada", week, first), 409, "Conflict")
    assert [
        run["result_id"] for run in world.call("ada", "GET", f"{JOBS}/salmonella").json()["runs"]
    ] == [first]


def test_a_week_whose_slot_has_not_come_cannot_be_recorded(world: World):
    assert put_job(world, "ada").status_code == 201
    result_id = signal(world)

    for week in (add_weeks(the_due_week(), 1), week_of(datetime.now(UTC)), "2999-W01"):
        assert_error(
            record(world, "ada", week, result_id), 422, "InputError", "cannot be assessed yet"
        )
    assert world.call("ada", "GET", f"{JOBS}/salmonella").json()["runs"] == []


def test_a_run_must_name_the_owners_surveillance_signal_on_the_studys_board(world: World):
    with world.hub.sessions() as session:
        admin.add_user_to_study(session, "heart", "ada")
    assert put_job(world, "ada").status_code == 201
    week = the_due_week()
    elsewhere = signal(world, study="heart")
    summary = signal(world, kind="summary", figure=None)
    by_bob = signal(world, "bob")

    assert_error(record(world, "ada", week, uuid.uuid4().hex), 404, "NotFound", "no result")
    assert_error(record(world, "ada", week, elsewhere), 404, "NotFound", "board of study 'lung'")
    assert_error(record(world, "ada", week, summary), 422, "InputError", "of kind 'summary'")
    assert_error(record(world, "ada", week, by_bob), 422, "InputError", "published by bob")
    assert world.call("ada", "GET", f"{JOBS}/salmonella").json()["runs"] == []


# Who may do what


def test_no_token_gets_401(world: World):
    path = f"{JOBS}/salmonella"
    for method, url, body in (
        ("PUT", path, {"spec": SPEC, "weekday": 1, "hour": 6}),
        ("GET", JOBS, None),
        ("GET", path, None),
        (
            "POST",
            f"{path}/runs",
            {"week": "2025-W01", "result_id": "a" * 32, "alarm": False, "alarm_weeks": []},
        ),
        ("GET", "/api/surveillance/due", None),
    ):
        assert_error(world.client.request(method, url, json=body), 401, "AuthenticationFailed")


def test_surveillance_is_for_users_not_stations(world: World):
    assert put_job(world, "ada").status_code == 201
    result_id = signal(world)

    for answer in (
        put_job(world, "sa", "station-job"),
        world.call("sa", "GET", JOBS),
        world.call("sa", "GET", f"{JOBS}/salmonella"),
        record(world, "sa", the_due_week(), result_id),
        world.call("sa", "GET", "/api/surveillance/due"),
    ):
        assert_error(answer, 403, "NotAuthorized", "for users")


def test_a_user_outside_the_study_may_neither_create_nor_read_nor_record(world: World):
    assert put_job(world, "ada").status_code == 201
    result_id = signal(world)

    for answer in (
        put_job(world, "eve", "mine"),
        put_job(world, "eve"),
        world.call("eve", "GET", JOBS),
        world.call("eve", "GET", f"{JOBS}/salmonella"),
        record(world, "eve", the_due_week(), result_id),
    ):
        assert_error(answer, 403, "NotAuthorized", "not a member")
    assert world.call("eve", "GET", "/api/surveillance/due").json() == []
    assert_error(put_job(world, "ada", study="nope"), 404, "NotFound", "no study")


def test_a_member_who_is_not_the_owner_may_neither_change_the_job_nor_record_its_runs(
    world: World,
):
    assert put_job(world, "ada").status_code == 201
    result_id = signal(world, "bob")

    assert_error(put_job(world, "bob", spec={"title": "mine now"}), 403, "NotAuthorized", "owner")
    assert_error(record(world, "bob", the_due_week(), result_id), 403, "NotAuthorized", "owner")
    assert world.call("bob", "GET", "/api/surveillance/due").json() == []  # not bob's job
    assert world.call("ada", "GET", f"{JOBS}/salmonella").json()["spec"] == SPEC


def test_a_job_of_an_owner_who_left_the_study_is_no_longer_due(world: World):
    assert put_job(world, "ada").status_code == 201
    assert len(world.call("ada", "GET", "/api/surveillance/due").json()) == 1

    world.sql(
        "DELETE FROM study_users WHERE user_id = (SELECT id FROM users WHERE username = 'ada')"
    )

    assert world.call("ada", "GET", "/api/surveillance/due").json() == []


def test_an_unknown_job_or_study_is_404(world: World):
    assert_error(
        world.call("ada", "GET", f"{JOBS}/nothing"), 404, "NotFound", "no surveillance job"
    )
    assert_error(record(world, "ada", "2025-W01", "a" * 32, "nothing"), 404, "NotFound")
    assert_error(world.call("ada", "GET", "/api/studies/nope/surveillance"), 404, "NotFound")


# What the hub checks


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("Salmonella", {}),
        ("-salmonella", {}),
        ("s" * 64, {}),
        ("salmonella", {"weekday": 0}),
        ("salmonella", {"weekday": 8}),
        ("salmonella", {"weekday": "1"}),
        ("salmonella", {"weekday": True}),
        ("salmonella", {"hour": 24}),
        ("salmonella", {"hour": 6.5}),
        ("salmonella", {"spec": ["not", "an", "object"]}),
        ("salmonella", {"spec": {"title": "x" * (64 * 1024)}}),
    ],
)
def test_a_job_that_does_not_fit_is_refused(world: World, name: str, changes: dict[str, Any]):
    assert_error(put_job(world, "ada", name, **changes), 422, "InputError")
    assert world.call("ada", "GET", JOBS).json() == []


def test_a_whole_number_as_a_float_is_an_hour(world: World):
    answer = put_job(world, "ada", hour=6.0)

    assert answer.status_code == 201, answer.text
    assert answer.json()["hour"] == 6


@pytest.mark.parametrize(
    "changes",
    [
        {"week": "2025-W54"},
        {"week": "2025-W53"},  # 2025 has 52 weeks
        {"week": "2025-W00"},
        {"week": "2025-01-06"},
        {"week": "25-W01"},
        {"result_id": "not-hex"},
        {"alarm": "yes"},
        {"alarm": 1},
        {"alarm_weeks": ["2025-W60"]},
        {"alarm_weeks": ["2025-W01"] * 61},
    ],
)
def test_a_run_that_does_not_fit_is_refused(world: World, changes: dict[str, Any]):
    assert put_job(world, "ada").status_code == 201

    sent = {"week": the_due_week(), "result_id": signal(world)} | changes

    answer = record(world, "ada", **sent)

    assert_error(answer, 422, "InputError")


def test_alarm_weeks_are_weeks_assessed_by_then_each_once(world: World):
    assert put_job(world, "ada").status_code == 201
    week = the_due_week()
    result_id = signal(world)

    later = record(world, "ada", week, result_id, alarm_weeks=[add_weeks(week, 1)])
    twice = record(world, "ada", week, result_id, alarm_weeks=[week, week])

    assert_error(later, 422, "InputError", "after the week assessed")
    assert_error(twice, 422, "InputError", "twice")


# The signal on the board


def test_the_board_takes_a_surveillance_signal_with_a_detection_figure(world: World):
    result_id = signal(world)

    answer = world.call("bob", "GET", f"/api/studies/lung/results/{result_id}")

    assert answer.json()["kind"] == "surveillance"
    assert answer.json()["envelope"]["body"]["figure"] == DETECTION


@pytest.mark.parametrize(
    "figure",
    [
        DETECTION | {"observed": [3, 4]},
        DETECTION | {"alarm": [False, True]},
        DETECTION | {"weeks": ["2024-W51", "2024-W52", "2025-W53"]},
        DETECTION | {"weeks": ["2024-W51", "2024-w52", "2025-W01"]},
        DETECTION | {"weeks": ["2024-W52", "2024-W51", "2025-W01"]},
        DETECTION | {"alarm": [False, False, "yes"]},
        DETECTION | {"expected": [2.5, "high", 2.8]},
        DETECTION | {"weeks": ["2000-W01"] * 1001},
        {k: v for k, v in DETECTION.items() if k != "upperbound"},
    ],
    ids=[
        "lengths-differ",
        "alarm-length",
        "no-such-week",
        "bad-week-text",
        "weeks-out-of-order",
        "alarm-not-bool",
        "expected-not-number",
        "too-many-weeks",
        "no-upperbound",
    ],
)
def test_a_malformed_detection_figure_is_refused(world: World, figure: dict[str, Any]):
    body = {
        "result_id": uuid.uuid4().hex,
        "study": "lung",
        "title": "Salmonella",
        "kind": "surveillance",
        "task_ids": [],
        "created_at": "2025-01-06T06:00:00+00:00",
        "tables": [],
        "figure": figure,
        "errors": [],
    }
    envelope = sign(body, world.users["ada"].keys)

    answer = world.call("ada", "POST", "/api/studies/lung/results", json={"envelope": envelope})

    assert_error(answer, 422, "InputError", "does not fit")


def test_a_spec_that_json_cannot_carry_back_is_refused(world: World):
    body = '{"spec": {"detection": {"options": {"alpha": NaN}}}, "weekday": 1, "hour": 6}'

    answer = world.client.put(
        f"{JOBS}/salmonella",
        content=body.encode(),
        headers=world.users["ada"].headers | {"Content-Type": "application/json"},
    )

    assert_error(answer, 422, "InputError", "NaN")
    assert world.call("ada", "GET", JOBS).json() == []
