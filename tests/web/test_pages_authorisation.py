"""The pages' authorisation matrix, sessions and CSRF, on the hub's app in process.

The pages hold no rights of their own: each is checked here as every persona of
:meth:`tests.hub.world.World.governance` (the applicant, a researcher outside the
study, a holder's steward, a clerk without roles, another organisation, the hub
admin, nobody), for what it shows and what it refuses.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from perron.catalogue.metadata import EXAMPLE
from perron.crypto.envelope import sign
from perron.hub.app import create_app
from perron.hub.migrate import upgrade
from perron.hub.settings import Settings
from tests.hub.world import CHEAP_ARGON2, PASSWORD, World

BASE = "https://testserver"


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url)
    settings = Settings(database_url=url, poll_seconds=0.2, **CHEAP_ARGON2)
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield World.governance(client, url)


def csrf_of(browser: TestClient) -> str:
    if "perron_csrf" not in browser.cookies:
        browser.get("/ui/login")
    return str(browser.cookies["perron_csrf"])


def signed_in(gov: World, username: str | None) -> TestClient:
    """A browser of its own (its own cookies) on the same hub, signed in as ``username``."""
    browser = TestClient(gov.client.app, base_url=BASE, follow_redirects=False)
    if username is not None:
        answer = browser.post(
            "/ui/login",
            data={"username": username, "password": PASSWORD, "csrf": csrf_of(browser)},
        )
        assert answer.status_code == 303, answer.text
    return browser


@pytest.fixture
def request_id(gov: World) -> str:
    return gov.request(title="A <script>alert('x')</script> survival study")


def test_the_session_cookie_is_httponly_secure_and_strict(gov: World) -> None:
    browser = TestClient(gov.client.app, base_url=BASE, follow_redirects=False)
    answer = browser.post(
        "/ui/login", data={"username": "ana", "password": PASSWORD, "csrf": csrf_of(browser)}
    )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("perron_session=pu_")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/ui"):
        assert flag.lower() in cookie.lower()


def test_signing_out_revokes_the_token_at_the_hub(gov: World) -> None:
    browser = signed_in(gov, "ana")
    token = browser.cookies["perron_session"]
    assert browser.post("/ui/logout", data={"csrf": csrf_of(browser)}).status_code == 303
    assert (
        gov.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_a_wrong_password_is_refused_without_saying_which_part(gov: World) -> None:
    browser = TestClient(gov.client.app, base_url=BASE, follow_redirects=False)
    answer = browser.post(
        "/ui/login", data={"username": "ana", "password": "wrong", "csrf": csrf_of(browser)}
    )
    assert answer.status_code == 401
    assert "Wrong username or password" in answer.text
    assert "perron_session" not in browser.cookies


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_a_form_without_this_browsers_csrf_token_is_refused(
    gov: World, request_id: str, csrf: str | None
) -> None:
    browser = signed_in(gov, "ana")
    data = {"step": "research_question", "outcome": "go", "comment": "PICO agreed"}
    if csrf is not None:
        data["csrf"] = csrf
    answer = browser.post(f"/ui/requests/{request_id}/tracks/umc-north/decide", data=data)
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    assert gov.track(request_id, "umc-north")["history"] == []  # nothing recorded


def test_the_sign_in_form_needs_the_csrf_token_too(gov: World) -> None:
    browser = TestClient(gov.client.app, base_url=BASE, follow_redirects=False)
    answer = browser.post("/ui/login", data={"username": "ana", "password": PASSWORD})
    assert answer.status_code == 403
    assert "perron_session" not in browser.cookies


def test_a_decision_from_the_page_is_recorded_as_the_cli_records_it(
    gov: World, request_id: str
) -> None:
    browser = signed_in(gov, "ana")
    data = {
        "step": "research_question",
        "outcome": "go",
        "comment": "PICO agreed",
        "csrf": csrf_of(browser),
    }
    answer = browser.post(f"/ui/requests/{request_id}/tracks/umc-north/decide", data=data)
    assert answer.status_code == 303
    [event] = gov.track(request_id, "umc-north")["history"]
    assert (event["kind"], event["step"], event["outcome"], event["actor"], event["comment"]) == (
        "decision",
        "research_question",
        "go",
        "ana",
        "PICO agreed",
    )
    assert event["attachments"] == []


def test_sign_in_goes_back_only_to_a_page_of_the_ui(gov: World) -> None:
    browser = TestClient(gov.client.app, base_url=BASE, follow_redirects=False)
    for target, expected in (
        ("/studies", "/ui/studies"),
        ("//evil.example", "/ui/"),
        ("https://evil.example", "/ui/"),
    ):
        answer = browser.post(
            "/ui/login",
            data={
                "username": "ana",
                "password": PASSWORD,
                "csrf": csrf_of(browser),
                "next": target,
            },
        )
        assert answer.headers["location"] == expected


def test_titles_are_escaped_on_every_page(gov: World, request_id: str) -> None:
    for username, path in (
        ("ana", f"/ui/requests/{request_id}"),
        ("nora", "/ui/inbox"),
        (None, "/ui/register"),
    ):
        if username == "nora":
            gov.decide("ana", request_id, "umc-north", "research_question", "go")
        page = signed_in(gov, username).get(path)
        assert page.status_code == 200, (path, page.text)
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert" in page.text


def test_pages_send_a_strict_content_security_policy(gov: World) -> None:
    page = signed_in(gov, None).get("/ui/register")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"


# (persona, page, status): what each persona gets. 303 is the way to the sign-in page.
MATRIX = [
    (None, "/ui/", 200),
    (None, "/ui/register", 200),
    (None, "/ui/catalogue", 200),
    (None, "/ui/studies", 303),
    (None, "/ui/inbox", 303),
    (None, "/ui/requests/{rid}", 303),
    (None, "/ui/stations", 303),
    (None, "/ui/admin", 303),
    ("ana", "/ui/requests/{rid}", 200),
    ("ana", "/ui/requests/{rid}/tracks/umc-north", 200),
    ("ana", "/ui/admin", 403),
    ("ana", "/ui/stations?org=umc-north", 403),
    ("rik", "/ui/requests/{rid}", 403),
    ("rik", "/ui/requests/{rid}/drafts/dpia", 403),
    ("olaf", "/ui/requests/{rid}", 403),
    ("olaf", "/ui/requests/{rid}/tracks/umc-north", 403),
    ("olaf", "/ui/studies/lung-survival", 403),
    ("olaf", "/ui/stations?org=umc-north", 403),
    ("olaf", "/ui/stations/st-north?org=umc-north", 403),
    ("nora", "/ui/requests/{rid}", 200),
    ("nora", "/ui/requests/{rid}/tracks/umc-north", 200),
    ("nora", "/ui/requests/{rid}/tracks/insurer-east", 404),
    ("nora", "/ui/stations", 200),
    ("nora", "/ui/stations?org=insurer-east", 403),
    ("nora", "/ui/stations/st-east?org=umc-north", 404),
    ("nora", "/ui/admin", 403),
    ("nick", "/ui/admin", 403),
    ("root", "/ui/admin", 200),
    ("root", "/ui/stations?org=umc-north", 200),
]


@pytest.mark.parametrize(("persona", "path", "status"), MATRIX)
def test_the_authorisation_matrix_of_the_pages(
    gov: World, request_id: str, persona: str | None, path: str, status: int
) -> None:
    page = signed_in(gov, persona).get(path.format(rid=request_id))
    assert page.status_code == status, page.text[-600:]
    if status == 303:
        assert page.headers["location"].startswith("/ui/login")
    if status in (403, 404):
        assert 'id="error"' in page.text
        assert "survival study" not in page.text  # nothing of the request leaks


def test_a_steward_sees_only_its_own_track_and_station(gov: World, request_id: str) -> None:
    nora = signed_in(gov, "nora")
    page = nora.get(f"/ui/requests/{request_id}").text
    assert "umc-north" in page
    assert not re.search(r"track-(insurer-east|pharmacy-west)", page)
    stations = nora.get("/ui/stations").text
    assert "st-north" in stations
    assert "st-east" not in stations
    assert "st-west" not in stations


def test_the_inbox_lists_only_steps_for_a_role_held(gov: World, request_id: str) -> None:
    gov.decide("ana", request_id, "umc-north", "research_question", "go")
    assert request_id in signed_in(gov, "nora").get("/ui/inbox").text
    assert request_id not in signed_in(gov, "nick").get("/ui/inbox").text  # no role
    assert request_id not in signed_in(gov, "ivan").get("/ui/inbox").text  # not yet its turn
    assert "insurer-east" in signed_in(gov, "ana").get("/ui/inbox").text  # the applicant's step


def test_a_clerk_without_the_role_is_refused_by_the_hub_and_told_why(
    gov: World, request_id: str
) -> None:
    gov.decide("ana", request_id, "umc-north", "research_question", "go")
    nick = signed_in(gov, "nick")
    data = {"step": "dataset_preparation", "outcome": "go", "comment": "ok", "csrf": csrf_of(nick)}
    answer = nick.post(f"/ui/requests/{request_id}/tracks/umc-north/decide", data=data)
    assert answer.status_code == 403
    assert "data_manager" in answer.text or "data manager" in answer.text
    assert len(gov.track(request_id, "umc-north")["history"]) == 1


def test_a_dataset_page_shows_the_description_and_its_quality_summary(gov: World) -> None:
    described = copy.deepcopy(EXAMPLE) | {"holder": "umc-north", "name": "lung"}
    described["quality_report"] = {"summary": "DQD: 412 checks, 3 failed <b>(dates)</b>"}
    answer = gov.call("st-north", "PUT", "/api/catalogue/datasets/umc-north/lung", json=described)
    assert answer.status_code in (200, 201), answer.text
    listed = signed_in(gov, None).get("/ui/catalogue?text=" + described["title"].split()[0])
    assert "/ui/catalogue/umc-north/lung" in listed.text
    page = signed_in(gov, None).get("/ui/catalogue/umc-north/lung")
    assert page.status_code == 200
    assert described["title"] in page.text
    assert "DQD: 412 checks, 3 failed &lt;b&gt;(dates)&lt;/b&gt;" in page.text


def test_a_draft_is_shown_to_the_holder_and_runs_no_script(gov: World, request_id: str) -> None:
    page = signed_in(gov, "nora").get(f"/ui/requests/{request_id}/drafts/dpia?holder=umc-north")
    assert page.status_code == 200
    assert "DPIA" in page.text or "Data protection" in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_a_published_result_downloads_as_its_signed_json(gov: World, request_id: str) -> None:
    ana = gov.users["ana"]
    body = {
        "result_id": "ab" * 16,
        "study": "lung-survival",
        "title": "Counts",
        "kind": "count",
        "task_ids": [],
        "created_at": "2026-12-07T10:00:00+00:00",
        "tables": [{"name": "Counts", "columns": ["station", "n"], "rows": [["st-north", 40]]}],
        "figure": None,
        "errors": [],
    }
    posted = gov.call(
        "ana", "POST", "/api/studies/lung-survival/results", json={"envelope": sign(body, ana.keys)}
    )
    assert posted.status_code == 201, posted.text
    browser = signed_in(gov, "ana")
    download = browser.get(f"/ui/studies/lung-survival/results/{'ab' * 16}/download.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    assert json.loads(download.text)["envelope"]["body"] == body
    csv_text = browser.get(f"/ui/studies/lung-survival/results/{'ab' * 16}/download.csv").text
    assert csv_text.splitlines() == ["station,n", "st-north,40"]
    assert "Counts" in browser.get("/ui/feasibility").text
    # Not for someone outside the study.
    assert (
        signed_in(gov, "olaf").get(f"/ui/studies/lung-survival/results/{'ab' * 16}").status_code
        == 403
    )
