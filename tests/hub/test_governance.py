"""The study route at the hub: requests, tracks, policies, stations and study membership.

The governance world (see ``conftest.gov``): applicant ana of ``research`` sends
:data:`~perron.governance.request.EXAMPLE` to umc-north (steward nora, station
st-north), insurer-east (ivan, st-east) and pharmacy-west (pia, st-west); rosa of
``research`` is a member of the study, rik is not.
"""

from __future__ import annotations

import hashlib

from perron.crypto.keys import KeyPair
from perron.governance.policy import SignedPolicy, verify_policy
from perron.governance.request import EXAMPLE
from perron.governance.roles import Role
from perron.governance.route import SIGNING_ROLES, Step
from perron.hub import admin
from tests.hub.world import World

NORTH, EAST, WEST = "umc-north", "insurer-east", "pharmacy-west"


def assert_error(answer, status: int, kind: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert answer.json()["detail"]


def station_policies(world: World, station: str) -> list[SignedPolicy]:
    answer = world.call(station, "GET", "/api/station/policies")
    assert answer.status_code == 200, answer.text
    return [SignedPolicy.from_wire(wire) for wire in answer.json()]


# Requests


def test_a_request_creates_the_study_and_opens_a_track_per_holder(gov: World):
    request_id = gov.request()

    view = gov.call("ana", "GET", f"/api/requests/{request_id}").json()
    listed = gov.call("ana", "GET", "/api/requests").json()

    assert view["study"] == "lung-survival"
    assert view["request"]["title"] == "Lung cancer survival after first-line treatment"
    assert list(view["tracks"]) == [NORTH, EAST, WEST]
    assert {t["current"] for t in view["tracks"].values()} == {"research_question"}
    assert {t["status"] for t in view["tracks"].values()} == {"in_progress"}
    assert listed == [
        {
            "request_id": request_id,
            "study": "lung-survival",
            "title": view["request"]["title"],
            "holders": [NORTH, EAST, WEST],
            "status": "in review",
        }
    ]
    # Only the applicant's organisation takes part until a holder approves.
    assert gov.study_organisations() == ["research"]
    studies = gov.call("ana", "GET", "/api/studies").json()
    assert studies == [{"name": "lung-survival", "organisations": ["research"]}]


def test_the_applicant_may_apply_again_for_their_study_but_not_for_anothers(gov: World):
    gov.request()
    with gov.hub.sessions() as session:
        admin.create_study(session, "by-the-admin", organisations=["research"])

    again = gov.submit(study="lung-survival")
    admins = gov.submit(study="by-the-admin")
    gov.grant("rosa", Role.RESEARCHER)
    rosas = gov.submit("rosa", study="lung-survival", applicant="rosa")

    assert again.status_code == 201, again.text
    assert_error(admins, 409, "Conflict")
    assert_error(rosas, 409, "Conflict")
    assert len(gov.call("ana", "GET", "/api/requests").json()) == 2


def test_a_holder_that_is_not_an_organisation_gets_404_naming_it(gov: World):
    south = {
        "holder": "clinic-south",
        "datasets": [{"name": "lung", "variables": [{"name": "age"}]}],
    }
    holders = [*EXAMPLE["holders"], south]

    answer = gov.submit(holders=holders)

    assert_error(answer, 404, "NotFound")
    assert "clinic-south" in answer.json()["detail"]
    assert gov.sql("SELECT id FROM studies WHERE name = 'lung-survival'") == []


def test_an_invalid_request_gets_422_naming_the_field(gov: World):
    period = gov.submit(period={"start": "2027-01-01", "end": "2026-01-01"})
    title = gov.submit(title="")
    not_an_object = gov.call(
        "ana", "POST", "/api/requests", json={"study": "s", "request": ["not", "a", "request"]}
    )

    assert_error(period, 422, "InputError")
    assert "period" in period.json()["detail"]
    assert_error(title, 422, "InputError")
    assert "title" in title.json()["detail"]
    assert_error(not_an_object, 422, "InputError")


# The route


def test_approving_a_track_gives_its_holder_a_policy_its_station_receives(gov: World):
    request_id = gov.request()

    track = gov.go(request_id, NORTH)

    assert (track["status"], track["current"], track["lead"]) == (
        "approved",
        "analysis",
        "researcher",
    )
    assert [e["step"] for e in track["history"]] == [s.value for s in Step][:-1]
    assert track["history"][1]["actor"] == "nora"
    assert "privacy_officer" in track["history"][1]["roles"]
    assert gov.study_organisations() == ["research", NORTH]
    policy = SignedPolicy.from_wire(gov.policy(request_id, NORTH).json())
    assert (policy.policy.study, policy.policy.holder) == ("lung-survival", NORTH)
    assert dict(policy.policy.datasets) == {"lung": ("time", "status", "age", "sex")}
    assert policy.signatures == ()
    # The holder's approvers sign it; its station gets it and verifies it itself.
    for role in SIGNING_ROLES:
        assert gov.sign("nora", request_id, NORTH, role).status_code == 200
    [received] = station_policies(gov, "st-north")
    nora_key = gov.users["nora"].keys.public().verify_key
    verified = verify_policy(received, dict.fromkeys(SIGNING_ROLES, nora_key))
    assert verified.policy_id == policy.policy.policy_id
    # No other organisation's station gets it.
    for station in ("st-east", "st-west", "st-else", "st-research"):
        assert station_policies(gov, station) == []
    # The holder's station is now addressable in the study, the others' are not.
    assert gov.task("ana", "lung-survival", ["st-north"])
    assert_error(gov.send("ana", "lung-survival", ["st-east"]), 403, "NotAuthorized")


def test_a_no_go_stops_one_holder_while_the_others_go_on(gov: World):
    request_id = gov.request()
    gov.go(request_id, WEST, until=Step.DPIA)

    stopped = gov.decide("pia", request_id, WEST, Step.DPIA, "no_go", comment="too identifying")
    gov.go(request_id, NORTH)
    gov.go(request_id, EAST)

    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped"
    tracks = gov.call("ana", "GET", f"/api/requests/{request_id}").json()["tracks"]
    assert {h: t["status"] for h, t in tracks.items()} == {
        NORTH: "approved",
        EAST: "approved",
        WEST: "stopped",
    }
    assert_error(gov.decide("pia", request_id, WEST, Step.DPIA), 409, "RouteViolation")
    assert_error(
        gov.send_back("pia", request_id, WEST, Step.RESEARCH_QUESTION), 409, "RouteViolation"
    )
    assert_error(gov.policy(request_id, WEST), 409, "Conflict")
    # The stopped holder never joins the study; its station gets no policy and no task.
    assert gov.study_organisations() == [EAST, "research", NORTH]
    assert station_policies(gov, "st-west") == []
    assert_error(gov.send("ana", "lung-survival", ["st-west"]), 403, "NotAuthorized")


def test_a_no_go_on_the_analysis_withdraws_the_policy(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH)

    stopped = gov.decide("ana", request_id, NORTH, Step.ANALYSIS, "no_go")

    assert stopped.json()["status"] == "stopped"
    assert gov.study_organisations() == ["research"]
    assert station_policies(gov, "st-north") == []


def test_sending_an_approved_track_back_withdraws_the_policy_until_it_is_approved_again(
    gov: World,
):
    request_id = gov.request()
    gov.go(request_id, NORTH)
    first = SignedPolicy.from_wire(gov.policy(request_id, NORTH).json())
    gov.sign("nora", request_id, NORTH, Role.DATA_MANAGER)

    back = gov.send_back("ana", request_id, NORTH, Step.DPIA, "the DPIA missed linkage")

    assert back.status_code == 200, back.text
    assert (back.json()["current"], back.json()["status"]) == ("dpia", "in_progress")
    assert sorted(back.json()["decisions"]) == ["dataset_preparation", "research_question"]
    assert back.json()["history"][-1]["kind"] == "send_back"
    assert_error(gov.policy(request_id, NORTH), 409, "Conflict")
    assert station_policies(gov, "st-north") == []
    assert gov.study_organisations() == ["research"]

    gov.go(request_id, NORTH)

    second = SignedPolicy.from_wire(gov.policy(request_id, NORTH).json())
    assert second.policy.policy_id != first.policy.policy_id
    assert second.signatures == ()
    assert [p.policy.policy_id for p in station_policies(gov, "st-north")] == [
        second.policy.policy_id
    ]
    assert gov.study_organisations() == ["research", NORTH]


def test_the_policy_takes_the_disclosure_settings_of_the_decisions_that_count(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH, until=Step.DATASET_PREPARATION)
    gov.decide("nora", request_id, NORTH, Step.DATASET_PREPARATION, disclosure={"min_cell": 10})
    gov.decide("nora", request_id, NORTH, Step.DPIA, disclosure={"min_cell": 20, "dp": True})
    # From the agreements, nora sends the track back to the DPIA: its settings are undone.
    gov.send_back("nora", request_id, NORTH, Step.DPIA)
    gov.decide("nora", request_id, NORTH, Step.DPIA, disclosure={"min_cell": 15})

    gov.go(request_id, NORTH)

    policy = gov.policy(request_id, NORTH).json()["policy"]
    assert policy["disclosure"] == {"min_cell": 15}


def test_completing_every_analysis_completes_the_request(gov: World):
    request_id = gov.request()
    for holder in (NORTH, EAST, WEST):
        gov.go(request_id, holder)

    for holder in (NORTH, EAST, WEST):
        done = gov.decide("ana", request_id, holder, Step.ANALYSIS, comment="reported")
        assert done.json()["status"] == "completed"

    [listed] = gov.call("ana", "GET", "/api/requests").json()
    assert listed["status"] == "completed"
    # A completed track keeps its policy (it is valid until the period ends).
    assert len(station_policies(gov, "st-east")) == 1
    assert_error(gov.decide("ana", request_id, NORTH, Step.ANALYSIS), 409, "RouteViolation")


def test_a_new_signature_of_a_role_replaces_the_earlier_one(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH)
    gov.sign("nora", request_id, NORTH, Role.PRIVACY_OFFICER)
    new_keys = KeyPair.generate()
    gov.call("nora", "PUT", "/api/me/keys", json=new_keys.public().to_dict())
    gov.users["nora"].keys = new_keys

    answer = gov.sign("nora", request_id, NORTH, Role.PRIVACY_OFFICER)

    assert answer.status_code == 200, answer.text
    [signature] = answer.json()["signatures"]
    assert signature["verify_key"] == new_keys.public().verify_key


# Documents and drafts


def test_documents_are_attached_to_decisions_by_their_sha256(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH, until=Step.DPIA)
    content = "# DPIA\n\nLinkage is not needed.\n"
    uploaded = gov.call(
        "nora",
        "POST",
        f"/api/requests/{request_id}/documents",
        json={"name": "dpia.md", "content": content},
    )
    digest = uploaded.json()["sha256"]

    decided = gov.decide("nora", request_id, NORTH, Step.DPIA, attachments=[digest])
    read = gov.call("ana", "GET", f"/api/requests/{request_id}/documents/{digest}")

    assert uploaded.status_code == 201, uploaded.text
    assert digest == hashlib.sha256(content.encode()).hexdigest()
    assert decided.json()["decisions"]["dpia"]["attachments"] == [
        {"name": "dpia.md", "sha256": digest, "media_type": "text/markdown"}
    ]
    assert read.json() == {"name": "dpia.md", "media_type": "text/markdown", "content": content}
    # Another holder cannot read it, nor attach it to its own track.
    path = f"/api/requests/{request_id}/documents/{digest}"
    assert_error(gov.call("ivan", "GET", path), 404, "NotFound")
    gov.go(request_id, EAST, until=Step.DPIA)
    assert_error(
        gov.decide("ivan", request_id, EAST, Step.DPIA, attachments=[digest]), 422, "InputError"
    )


def test_a_document_must_exist_and_fit(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH, until=Step.DPIA)
    path = f"/api/requests/{request_id}/documents"

    unknown = gov.decide("nora", request_id, NORTH, Step.DPIA, attachments=["0" * 64])
    too_big = gov.call("ana", "POST", path, json={"name": "big", "content": "é" * 600_000})
    nul = gov.call("ana", "POST", path, json={"name": "x", "content": "a\x00b"})

    assert_error(unknown, 422, "InputError")
    assert_error(too_big, 422, "InputError")
    assert "1000000 bytes" in too_big.json()["detail"]
    assert_error(nul, 422, "InputError")
    assert gov.track(request_id, NORTH)["current"] == "dpia"


def test_drafts_as_markdown_or_html_and_a_holder_gets_only_its_part(gov: World):
    request_id = gov.request()
    path = f"/api/requests/{request_id}/drafts"

    whole = gov.call("ana", "GET", f"{path}/dpia")
    one = gov.call("ana", "GET", f"{path}/term-sheet", params={"holder": EAST})
    forced = gov.call("nora", "GET", f"{path}/privacy-matrix", params={"holder": EAST})
    page = gov.call("nora", "GET", f"{path}/dpia", params={"format": "html"})

    assert whole.status_code == 200, whole.text
    assert whole.headers["content-type"].startswith("text/markdown")
    assert all(holder in whole.text for holder in (NORTH, EAST, WEST))
    assert EAST in one.text
    assert NORTH not in one.text
    assert NORTH in forced.text
    assert EAST not in forced.text
    assert WEST not in forced.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")
    assert EAST not in page.text
    assert_error(gov.call("ana", "GET", f"{path}/minutes"), 422, "InputError")


# Results


def test_the_applicant_reports_results(gov: World):
    request_id = gov.request()
    path = f"/api/requests/{request_id}/results"

    first = gov.call("ana", "POST", path, json={"summary": "Survival differs.", "publications": []})
    second = gov.call(
        "ana", "POST", path, json={"summary": "Published.", "publications": ["doi:10.1/x"]}
    )

    assert (first.status_code, second.status_code) == (204, 204)
    [entry] = gov.client.get("/api/register").json()
    assert [r["summary"] for r in entry["results"]] == ["Survival differs.", "Published."]
    assert entry["results"][1]["publications"] == ["doi:10.1/x"]
