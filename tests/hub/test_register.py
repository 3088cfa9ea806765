"""The public register of data requests: JSON and an HTML page, without login."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from perron.governance.request import Period
from perron.governance.route import Step, TrackStatus
from perron.hub.services.requests import overall_status, results_due
from tests.hub.world import World

NORTH, EAST, WEST = "umc-north", "insurer-east", "pharmacy-west"


def test_the_register_lists_every_request_without_login(gov: World):
    # A period in the future: an approved request is "approved", not yet "running".
    request_id = gov.request(period={"start": "2090-01-01", "end": "2091-01-31"})
    gov.go(request_id, WEST, until=Step.DPIA)
    gov.decide("pia", request_id, WEST, Step.DPIA, "no_go", comment="never in the register")
    gov.go(request_id, NORTH)
    gov.call(
        "ana",
        "POST",
        f"/api/requests/{request_id}/results",
        json={"summary": "Survival differs by region.", "publications": ["doi:10.1000/xyz"]},
    )

    answer = gov.client.get("/api/register")

    assert answer.status_code == 200, answer.text
    [entry] = answer.json()
    registered_at = entry.pop("registered_at")
    [result] = entry.pop("results")
    assert entry == {
        "request_id": request_id,
        "study": "lung-survival",
        "title": "Lung cancer survival after first-line treatment",
        "lay_summary": "Do patients treated in the north live longer than elsewhere, "
        "taking age and sex into account?",
        "purpose": "scientific_research",
        "applicant_organisation": "research",
        "holders": [
            {"holder": NORTH, "status": "approved"},
            {"holder": EAST, "status": "in_progress"},
            {"holder": WEST, "status": "stopped"},
        ],
        "status": "approved",
        "period": {"start": "2090-01-01", "end": "2091-01-31"},
        "results_due": "2092-07-31",
    }
    assert datetime.fromisoformat(registered_at) <= datetime.now(UTC)
    assert result["summary"] == "Survival differs by region."
    assert result["publications"] == ["doi:10.1000/xyz"]
    assert result["reported_at"] >= registered_at
    # No variables, comments, documents or people's names.
    text = answer.text
    for private in ("never in the register", '"ana"', "nora", "variables", "lung-cancer.md"):
        assert private not in text


def test_the_register_page_escapes_every_user_string(gov: World):
    script = "<script>alert('pwned')</script>"
    request_id = gov.request(title=f"Survival {script}", lay_summary=f"A summary {script} here.")
    gov.call(
        "ana",
        "POST",
        f"/api/requests/{request_id}/results",
        json={"summary": f"Result {script}", "publications": ["<img src=x onerror=alert(1)>"]},
    )

    page = gov.client.get("/register")

    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text
    assert "<img" not in page.text
    assert page.text.count("&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;") == 3
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "lung-survival" in page.text
    assert "2029-06-01" in page.text


def test_an_empty_register(client):
    assert client.get("/api/register").json() == []
    assert "No data requests yet." in client.get("/register").text


PERIOD = Period(start=date(2026, 12, 1), end=date(2027, 12, 1))
IN_PERIOD, BEFORE = date(2027, 3, 1), date(2026, 11, 30)
GOING, STOPPED, APPROVED, DONE = (
    TrackStatus.IN_PROGRESS,
    TrackStatus.STOPPED,
    TrackStatus.APPROVED,
    TrackStatus.COMPLETED,
)


@pytest.mark.parametrize(
    ("statuses", "today", "expected"),
    [
        ([GOING, GOING], IN_PERIOD, "in review"),
        ([GOING, STOPPED], IN_PERIOD, "in review"),
        ([APPROVED, GOING], BEFORE, "approved"),
        ([APPROVED, STOPPED], IN_PERIOD, "running"),
        ([DONE, GOING], IN_PERIOD, "running"),
        ([DONE, STOPPED, DONE], IN_PERIOD, "completed"),
        ([STOPPED, STOPPED], IN_PERIOD, "stopped"),
    ],
)
def test_the_status_of_a_request_from_its_tracks(statuses, today, expected):
    assert overall_status(statuses, PERIOD, today) == expected


def test_results_are_due_18_months_after_the_period_ends():
    assert results_due(PERIOD) == date(2029, 6, 1)
    assert results_due(Period(start=date(2026, 1, 1), end=date(2027, 8, 31))) == date(2029, 2, 28)
