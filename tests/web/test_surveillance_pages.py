"""The surveillance pages: a job in words with its runs and signal, and the study's list.

The standard world of the hub tests (:meth:`tests.hub.world.World.standard`): study
``lung`` = organisations A, B with researchers ada (A) and bob (B); ``heart`` = B, C
with eve (C). The job's runner is played by the API calls its client would make.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perron.crypto.envelope import sign
from perron.hub.app import create_app
from perron.hub.migrate import upgrade
from perron.hub.services.surveillance import add_weeks, due_week
from perron.hub.settings import Settings
from tests.hub.world import CHEAP_ARGON2, PASSWORD, World

BASE = "https://testserver"
JOB = "/ui/studies/lung/surveillance/salmonella"
SPEC: dict[str, Any] = {
    "counts": {
        "case": [{"column": "icd10", "in": ["A02.0"]}, {"column": "age", "between": [0, 120]}],
        "date": "onset",
        "first": "2020-W01",
        "by": ["region"],
        "levels": {"region": ["Groningen", "Friesland", "Drenthe"]},
    },
    "detection": {"method": "farrington_flexible", "options": {"b": 3, "w": 3, "alpha": 0.01}},
    "title": "Salmonella enteritis (A02.0), northern Netherlands",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url)
    settings = Settings(database_url=url, poll_seconds=0.2, **CHEAP_ARGON2)
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield World.standard(client, url)


def signed_in(world: World, username: str | None) -> TestClient:
    """A browser of its own on the same hub, signed in as ``username`` (or nobody)."""
    browser = TestClient(world.client.app, base_url=BASE, follow_redirects=False)
    if username is not None:
        browser.get("/ui/login")
        csrf = browser.cookies["perron_csrf"]
        answer = browser.post(
            "/ui/login", data={"username": username, "password": PASSWORD, "csrf": csrf}
        )
        assert answer.status_code == 303, answer.text
    return browser


def slot() -> tuple[int, int]:
    """A weekly slot about half a week from now: the week due stays put during a test."""
    later = datetime.now(UTC) + timedelta(days=3, hours=12)
    return later.isoweekday(), later.hour


def create_job(world: World, spec: dict[str, Any] = SPEC) -> tuple[int, int]:
    weekday, hour = slot()
    answer = world.call(
        "ada",
        "PUT",
        "/api/studies/lung/surveillance/salmonella",
        json={"spec": spec, "weekday": weekday, "hour": hour},
    )
    assert answer.status_code == 201, answer.text
    return weekday, hour


def run_a_week(world: World, weekday: int, hour: int, *, alarm: bool) -> tuple[str, str]:
    """Publish a week's signal and record the run, as the job's runner does; (week, id)."""
    week = due_week(datetime.now(UTC), weekday, hour)
    weeks = [add_weeks(week, -k) for k in (2, 1, 0)]
    body = {
        "result_id": uuid.uuid4().hex,
        "study": "lung",
        "title": f"Salmonella, week {week}",
        "kind": "surveillance",
        "task_ids": [uuid.uuid4().hex],
        "created_at": datetime.now(UTC).isoformat(),
        "tables": [],
        "figure": {
            "type": "detection",
            "method": "farrington_flexible",
            "weeks": weeks,
            "observed": [2, None, 14 if alarm else 3],
            "expected": [2.5, 2.6, 2.8],
            "upperbound": [6.1, 6.3, 6.6],
            "alarm": [False, False, alarm],
        },
        "errors": [],
    }
    envelope = sign(body, world.users["ada"].keys)
    published = world.call("ada", "POST", "/api/studies/lung/results", json={"envelope": envelope})
    assert published.status_code == 201, published.text
    run = {
        "week": week,
        "result_id": body["result_id"],
        "alarm": alarm,
        "alarm_weeks": [week] if alarm else [],
    }
    recorded = world.call("ada", "POST", "/api/studies/lung/surveillance/salmonella/runs", json=run)
    assert recorded.status_code == 201, recorded.text
    return week, str(body["result_id"])


def test_a_member_sees_the_job_in_words_its_runs_and_its_latest_signal(world: World) -> None:
    weekday, hour = create_job(world)
    week, result_id = run_a_week(world, weekday, hour, alarm=True)

    page = signed_in(world, "bob").get(JOB)

    assert page.status_code == 200, page.text
    text = page.text
    assert "Salmonella enteritis (A02.0), northern Netherlands" in text
    assert "icd10 is one of A02.0" in text
    assert "age is between 0 and 120" in text
    assert "region" in text
    assert "Groningen, Friesland, Drenthe" in text
    assert "2020-W01" in text
    assert "farrington_flexible" in text
    assert "alpha = 0.01" in text
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    assert f"every {days[weekday - 1]} at {hour:02d}:00 UTC" in text
    assert f"<td>{week}</td>" in text
    assert 'class="status status-failed alarm">alarm</span>' in text
    assert f'href="/ui/studies/lung/results/{result_id}"' in text
    figure = f"/ui/studies/lung/results/{result_id}/figure.svg"
    assert f'src="{figure}"' in text
    svg = signed_in(world, "bob").get(figure)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert ET.fromstring(svg.content).tag.endswith("svg")
    assert week in svg.text


def test_a_run_without_an_alarm_shows_as_such_and_a_new_job_has_no_run(world: World) -> None:
    weekday, hour = create_job(world)
    browser = signed_in(world, "ada")
    assert "No week assessed yet" in browser.get(JOB).text

    run_a_week(world, weekday, hour, alarm=False)

    text = browser.get(JOB).text
    assert 'class="status status-done no-alarm">no alarm</span>' in text
    assert "status-failed" not in text


def test_the_study_page_lists_its_jobs_with_their_latest_alarm_state(world: World) -> None:
    browser = signed_in(world, "bob")
    assert "No standing surveillance" in browser.get("/ui/studies/lung").text
    weekday, hour = create_job(world)
    assert "not run yet" in browser.get("/ui/studies/lung").text

    week, _ = run_a_week(world, weekday, hour, alarm=True)

    page = browser.get("/ui/studies/lung")
    assert page.status_code == 200
    assert f'href="/ui/studies/lung/surveillance/salmonella">{SPEC["title"]}</a>' in page.text
    assert f"<td>{week}</td>" in page.text
    assert 'class="status status-failed alarm">alarm</span>' in page.text


@pytest.mark.parametrize(("persona", "status"), [("eve", 403), (None, 303)])
def test_someone_outside_the_study_is_refused(
    world: World, persona: str | None, status: int
) -> None:
    create_job(world)

    page = signed_in(world, persona).get(JOB)

    assert page.status_code == status
    if status == 303:
        assert page.headers["location"].startswith("/ui/login")
    else:
        assert 'id="error"' in page.text
        assert "Salmonella" not in page.text  # nothing of the job leaks


def test_an_unknown_job_is_not_found(world: World) -> None:
    page = signed_in(world, "ada").get("/ui/studies/lung/surveillance/nothing")

    assert page.status_code == 404
    assert "no surveillance job" in page.text


def test_the_spec_is_escaped_on_the_job_and_study_pages(world: World) -> None:
    spec = SPEC | {
        "title": "<script>alert('x')</script> outbreak",
        "counts": SPEC["counts"] | {"case": [{"column": "icd10", "in": ["<b>A02</b>"]}]},
    }
    create_job(world, spec)
    browser = signed_in(world, "ada")

    for path in (JOB, "/ui/studies/lung"):
        page = browser.get(path)
        assert page.status_code == 200, page.text
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert" in page.text
    assert "icd10 is one of &lt;b&gt;A02&lt;/b&gt;" in browser.get(JOB).text


def test_a_spec_of_another_shape_is_shown_as_stored(world: World) -> None:
    create_job(world, {"counts": "weekly", "detection": ["ears_c1"], "title": 7})

    page = signed_in(world, "ada").get(JOB)

    assert page.status_code == 200, page.text
    assert "not given" in page.text
    assert "ears_c1" in page.text  # in the spec as stored
