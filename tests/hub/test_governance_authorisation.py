"""Who may do what on a data request, and what everyone else gets.

The governance world (see ``conftest.gov``): applicant ana and study member rosa of
``research`` (rik of ``research`` is not a member); the stewards nora (umc-north),
ivan (insurer-east) and pia (pharmacy-west) hold every holder role, nick
(umc-north) none; olaf of ``elsewhere`` has nothing to do with the request; root is
the hub admin. Stations st-north, st-east, st-west, st-else, st-research.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from perron.crypto.keys import KeyPair
from perron.governance.policy import SignedPolicy
from perron.governance.roles import Role
from perron.governance.route import Step, Track
from perron.hub.services import parties, tracks
from tests.hub.world import World

NORTH, EAST, WEST = "umc-north", "insurer-east", "pharmacy-west"


def assert_error(answer, status: int, kind: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert answer.json()["detail"]


def user_endpoints(request_id: str, holder: str = NORTH) -> list[tuple[str, str, object]]:
    """Every user endpoint of a request: (method, path, JSON body)."""
    base = f"/api/requests/{request_id}"
    track = f"{base}/tracks/{holder}"
    signature = {
        "role": "data_manager",
        "signer": "x",
        "verify_key": "A" * 43 + "=",
        "signature": "",
    }
    return [
        ("GET", base, None),
        ("POST", f"{track}/decisions", {"step": "dataset_preparation", "outcome": "go"}),
        ("POST", f"{track}/send-back", {"to": "research_question"}),
        ("GET", f"{track}/policy", None),
        ("POST", f"{track}/policy/signatures", signature),
        ("POST", f"{base}/documents", {"name": "n", "content": "c"}),
        ("GET", f"{base}/documents/{'0' * 64}", None),
        ("GET", f"{base}/drafts/dpia", None),
        ("POST", f"{base}/results", {"summary": "s"}),
    ]


def call(world: World, who: str, method: str, path: str, body: object):
    return world.call(who, method, path, **({} if body is None else {"json": body}))


# Who is a party


@pytest.mark.parametrize("outsider", ["olaf", "rik"])
def test_a_user_outside_the_request_sees_and_does_nothing(gov: World, outsider: str):
    request_id = gov.request()

    for method, path, body in user_endpoints(request_id):
        assert_error(call(gov, outsider, method, path, body), 403, "NotAuthorized")
    assert gov.call(outsider, "GET", "/api/requests").json() == []
    assert gov.track(request_id, NORTH)["history"] == []


def test_station_tokens_are_refused_on_user_endpoints_and_user_tokens_on_station_ones(
    gov: World,
):
    request_id = gov.request()
    endpoints = [
        *user_endpoints(request_id),
        ("POST", "/api/requests", {"study": "s", "request": {}}),
        ("GET", "/api/requests", None),
        ("POST", "/api/organisations/umc-north/members/nick/roles", {"roles": []}),
    ]

    for method, path, body in endpoints:
        assert_error(call(gov, "st-north", method, path, body), 403, "NotAuthorized")
    for user in ("ana", "nora"):
        answer = gov.call(user, "GET", "/api/station/policies")
        assert_error(answer, 403, "NotAuthorized")


def test_every_new_endpoint_but_the_register_needs_a_token(gov: World):
    request_id = gov.request()

    for method, path, body in user_endpoints(request_id):
        answer = gov.client.request(method, path, json=body)
        assert_error(answer, 401, "AuthenticationFailed")
    assert_error(gov.client.get("/api/station/policies"), 401, "AuthenticationFailed")
    assert gov.client.get("/api/register").status_code == 200
    assert gov.client.get("/register").status_code == 200


def test_unknown_requests_and_holders_are_not_found(gov: World):
    request_id = gov.request()
    unknown = "0" * 32

    assert_error(gov.call("ana", "GET", f"/api/requests/{unknown}"), 404, "NotFound")
    assert_error(gov.decide("ana", unknown, NORTH, Step.RESEARCH_QUESTION), 404, "NotFound")
    answer = gov.decide("ana", request_id, "elsewhere", Step.RESEARCH_QUESTION)
    assert_error(answer, 404, "NotFound")


# Applying


def test_only_a_researcher_applies_and_only_for_themself(gov: World):
    gov.grant("rosa", Role.RESEARCHER)
    root = gov.submit("root", applicant="root", organisation="elsewhere")
    as_ana = gov.submit("rosa")  # rosa sends ana's request
    other_org = gov.submit(organisation="umc-north")

    assert_error(root, 403, "NotAuthorized")  # a hub admin without the researcher role
    assert "researcher" in root.json()["detail"]
    assert_error(as_ana, 403, "NotAuthorized")
    assert_error(other_org, 403, "NotAuthorized")
    assert gov.sql("SELECT id FROM data_requests") == []

    gov.grant("root", Role.RESEARCHER)
    assert gov.submit("root", applicant="root", organisation="elsewhere").status_code == 201


# Deciding


def test_a_holders_steps_are_decided_by_its_own_users_only(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH, until=Step.DATASET_PREPARATION)

    # ivan holds the data manager role, but at insurer-east.
    wrong_org = gov.decide("ivan", request_id, NORTH, Step.DATASET_PREPARATION)
    applicant = gov.decide("ana", request_id, NORTH, Step.DATASET_PREPARATION)

    assert_error(wrong_org, 403, "NotAuthorized")
    assert_error(applicant, 403, "NotAuthorized")
    assert gov.track(request_id, NORTH)["current"] == "dataset_preparation"


def test_a_step_is_decided_by_its_lead_role_only(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH, until=Step.DATASET_PREPARATION)

    nick = gov.decide("nick", request_id, NORTH, Step.DATASET_PREPARATION)
    gov.grant("nora", Role.PRIVACY_OFFICER)  # roles count as they are now
    nora = gov.decide("nora", request_id, NORTH, Step.DATASET_PREPARATION)
    gov.grant("nick", Role.DATA_MANAGER)
    nick_now = gov.decide("nick", request_id, NORTH, Step.DATASET_PREPARATION)

    assert_error(nick, 403, "NotAuthorized")
    assert "data manager" in nick.json()["detail"]
    assert_error(nora, 403, "NotAuthorized")
    assert nick_now.status_code == 200, nick_now.text
    assert nick_now.json()["decisions"]["dataset_preparation"]["roles"] == [
        "data_manager",
        "researcher",
    ]


def test_the_applicants_steps_are_decided_by_the_applicant_only(gov: World):
    request_id = gov.request()

    # rosa is on the applicant's side (and a researcher); nora holds researcher too.
    for who in ("rosa", "nora", "ivan"):
        answer = gov.decide(who, request_id, NORTH, Step.RESEARCH_QUESTION)
        assert_error(answer, 403, "NotAuthorized")
    assert gov.decide("ana", request_id, NORTH, Step.RESEARCH_QUESTION).status_code == 200


def test_a_replayed_decision_gets_409_because_the_track_moved_on(gov: World):
    request_id = gov.request()
    body = {"step": "research_question", "outcome": "go", "comment": "ok"}
    path = f"/api/requests/{request_id}/tracks/{NORTH}/decisions"

    first = gov.call("ana", "POST", path, json=body)
    replayed = gov.call("ana", "POST", path, json=body)

    assert first.status_code == 200, first.text
    assert_error(replayed, 409, "RouteViolation")
    assert len(gov.track(request_id, NORTH)["history"]) == 1


def test_deciding_out_of_order_gets_409(gov: World):
    request_id = gov.request()

    early_dpia = gov.decide("nora", request_id, NORTH, Step.DPIA)
    early_analysis = gov.decide("ana", request_id, NORTH, Step.ANALYSIS)
    gov.go(request_id, NORTH, until=Step.AGREEMENTS)
    back_to_the_future = gov.send_back("nora", request_id, NORTH, Step.RISK_ASSESSMENT)

    assert_error(early_dpia, 409, "RouteViolation")
    assert_error(early_analysis, 409, "RouteViolation")
    assert_error(back_to_the_future, 409, "RouteViolation")
    assert gov.track(request_id, NORTH)["current"] == "agreements"


def test_a_track_is_sent_back_by_the_current_steps_lead_on_its_side(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH, until=Step.AGREEMENTS)

    by_applicant = gov.send_back("ana", request_id, NORTH, Step.DPIA)
    by_other_holder = gov.send_back("ivan", request_id, NORTH, Step.DPIA)
    by_clerk = gov.send_back("nick", request_id, NORTH, Step.DPIA)
    by_lead = gov.send_back("nora", request_id, NORTH, Step.DPIA)

    assert_error(by_applicant, 403, "NotAuthorized")
    assert_error(by_other_holder, 403, "NotAuthorized")
    assert_error(by_clerk, 403, "NotAuthorized")
    assert by_lead.status_code == 200, by_lead.text
    assert by_lead.json()["current"] == "dpia"


def test_disclosure_settings_come_with_holder_steps_only_and_must_be_json(gov: World):
    request_id = gov.request()
    path = f"/api/requests/{request_id}/tracks/{NORTH}/decisions"

    applicant = gov.decide("ana", request_id, NORTH, Step.RESEARCH_QUESTION, disclosure={"k": 5})
    nan = gov.client.post(
        path,
        content=b'{"step": "dataset_preparation", "outcome": "go", "disclosure": {"k": NaN}}',
        headers={**gov.users["nora"].headers, "Content-Type": "application/json"},
    )

    assert_error(applicant, 422, "InputError")
    assert_error(nan, 422, "InputError")
    assert gov.track(request_id, NORTH)["history"] == []


# What a holder sees


def test_a_holder_never_sees_another_holders_part_or_track(gov: World):
    request_id = gov.request()
    for holder in (NORTH, EAST, WEST):
        gov.go(request_id, holder, until=Step.DPIA)
    gov.decide("ivan", request_id, EAST, Step.DPIA, comment="insurer-east's secret concern")
    east_doc = gov.call(
        "ivan",
        "POST",
        f"/api/requests/{request_id}/documents",
        json={"name": "east.md", "content": "insurer-east only"},
    ).json()["sha256"]

    view = gov.call("nora", "GET", f"/api/requests/{request_id}")
    listed = gov.call("nora", "GET", "/api/requests")
    drafts = [
        gov.call("nora", "GET", f"/api/requests/{request_id}/drafts/{kind}", params=params).text
        for kind in ("dpia", "privacy-matrix", "term-sheet")
        for params in ({}, {"holder": EAST}, {"format": "html"})
    ]

    assert view.status_code == 200, view.text
    assert [part["holder"] for part in view.json()["request"]["holders"]] == [NORTH]
    assert list(view.json()["tracks"]) == [NORTH]
    assert [entry["holders"] for entry in listed.json()] == [[NORTH]]
    seen = json.dumps([view.json(), listed.json()]) + "".join(drafts)
    for name in (EAST, WEST, "secret concern"):
        assert name not in seen
    document = f"/api/requests/{request_id}/documents/{east_doc}"
    assert_error(gov.call("nora", "GET", document), 404, "NotFound")
    assert_error(gov.policy(request_id, EAST, "nora"), 403, "NotAuthorized")
    assert_error(gov.decide("nora", request_id, EAST, Step.DPIA), 403, "NotAuthorized")
    # The applicant's side sees every track; ivan his own.
    assert list(gov.call("rosa", "GET", f"/api/requests/{request_id}").json()["tracks"]) == [
        NORTH,
        EAST,
        WEST,
    ]
    assert gov.call("ivan", "GET", document).json()["content"] == "insurer-east only"


def test_a_holder_cannot_address_a_document_to_another_holder(gov: World):
    request_id = gov.request()
    path = f"/api/requests/{request_id}/documents"

    answer = gov.call("nora", "POST", path, json={"name": "n", "content": "c", "holder": EAST})

    assert_error(answer, 403, "NotAuthorized")


# Policy signatures


def approved(world: World) -> tuple[str, SignedPolicy]:
    request_id = world.request()
    world.go(request_id, NORTH)
    return request_id, SignedPolicy.from_wire(world.policy(request_id, NORTH).json())


def test_a_tampered_policy_signature_is_rejected(gov: World):
    request_id, policy = approved(gov)
    wider = SignedPolicy(dataclasses.replace(policy.policy, max_tasks=10**6))
    good = policy.signed(Role.DATA_MANAGER, "nora", gov.users["nora"].keys).signatures[0]
    raw = bytearray(base64.b64decode(good.signature))
    raw[0] ^= 1
    flipped = good.to_wire() | {"signature": base64.b64encode(bytes(raw)).decode()}

    widened = gov.sign("nora", request_id, NORTH, Role.DATA_MANAGER, policy=wider)
    tampered = gov.call(
        "nora", "POST", f"/api/requests/{request_id}/tracks/{NORTH}/policy/signatures", json=flipped
    )

    assert_error(widened, 400, "TamperedMessage")
    assert_error(tampered, 400, "TamperedMessage")
    assert gov.policy(request_id, NORTH).json()["signatures"] == []


def test_a_signature_by_another_key_is_rejected(gov: World):
    request_id, _policy = approved(gov)

    fresh = gov.sign("nora", request_id, NORTH, Role.DATA_MANAGER, keys=KeyPair.generate())
    ivans = gov.sign("nora", request_id, NORTH, Role.DATA_MANAGER, keys=gov.users["ivan"].keys)
    # A signature made with another key but naming nora's registered key.
    other = gov.users["ivan"].keys
    answer = gov.policy(request_id, NORTH, "nora")
    signed = SignedPolicy.from_wire(answer.json()).signed(Role.DATA_MANAGER, "nora", other)
    forged = signed.signatures[0].to_wire() | {
        "verify_key": gov.users["nora"].keys.public().verify_key
    }
    path = f"/api/requests/{request_id}/tracks/{NORTH}/policy/signatures"
    claimed = gov.call("nora", "POST", path, json=forged)

    assert_error(fresh, 400, "TamperedMessage")
    assert_error(ivans, 400, "TamperedMessage")
    assert_error(claimed, 400, "TamperedMessage")
    assert gov.policy(request_id, NORTH).json()["signatures"] == []


def test_a_policy_is_signed_by_its_holders_approvers_as_themselves(gov: World):
    request_id, policy = approved(gov)
    path = f"/api/requests/{request_id}/tracks/{NORTH}/policy/signatures"
    by_nora = policy.signed(Role.DATA_MANAGER, "nora", gov.users["nora"].keys).signatures[0]

    posted_by_nick = gov.call("nick", "POST", path, json=by_nora.to_wire())
    gov.grant("nick", Role.ORG_ADMIN)
    not_held = gov.sign("nick", request_id, NORTH, Role.DATA_MANAGER)
    not_signing = gov.sign("nick", request_id, NORTH, Role.ORG_ADMIN)
    other_holder = gov.call("ivan", "POST", path, json=by_nora.to_wire())
    applicant = gov.call("ana", "POST", path, json=by_nora.to_wire())

    assert_error(posted_by_nick, 403, "NotAuthorized")
    assert_error(not_held, 403, "NotAuthorized")
    assert_error(not_signing, 422, "InputError")
    assert_error(other_holder, 403, "NotAuthorized")
    assert_error(applicant, 403, "NotAuthorized")
    assert gov.policy(request_id, NORTH).json()["signatures"] == []


def test_a_policy_before_approval_gets_409(gov: World):
    request_id = gov.request()
    gov.go(request_id, NORTH, until=Step.RISK_ASSESSMENT)

    answer = gov.policy(request_id, NORTH, "nora")
    signature = {
        "role": "data_manager",
        "signer": "nora",
        "verify_key": gov.users["nora"].keys.public().verify_key,
        "signature": "AAAA",
    }
    posted = gov.call(
        "nora",
        "POST",
        f"/api/requests/{request_id}/tracks/{NORTH}/policy/signatures",
        json=signature,
    )

    assert_error(answer, 409, "Conflict")
    assert_error(posted, 409, "Conflict")


# Results


def test_only_the_applicant_reports_results(gov: World):
    request_id = gov.request()
    path = f"/api/requests/{request_id}/results"

    for who in ("rosa", "nora"):
        answer = gov.call(who, "POST", path, json={"summary": "not mine to report"})
        assert_error(answer, 403, "NotAuthorized")
    assert gov.client.get("/api/register").json()[0]["results"] == []


def test_of_two_decisions_made_at_once_on_a_track_the_second_gets_409(gov: World, monkeypatch):
    request_id = gov.request()
    gov.decide("ana", request_id, NORTH, Step.RESEARCH_QUESTION)
    # The second decision read the track before the first was stored: it replays a
    # stale track, on which the step is still open, and appends as the same event.
    with gov.hub.sessions() as session:
        record = parties.load_record(session, request_id)
        holder = parties.holder_named(session, record, NORTH)
        stale = tracks.TrackState(holder, Track(NORTH), ())
    monkeypatch.setattr(tracks, "load_track", lambda *_args: stale)

    answer = gov.decide("ana", request_id, NORTH, Step.RESEARCH_QUESTION)

    assert_error(answer, 409, "Conflict")
    monkeypatch.undo()
    assert len(gov.track(request_id, NORTH)["history"]) == 1


def test_a_request_too_large_or_not_json_safe_gets_422(gov: World):
    huge = gov.submit(lay_summary="x" * 1_000_001)
    nan = gov.client.post(
        "/api/requests",
        content=b'{"study": "s", "request": {"max_tasks": 1, "privacy_budget": Infinity}}',
        headers={**gov.users["ana"].headers, "Content-Type": "application/json"},
    )

    assert_error(huge, 422, "InputError")
    assert_error(nan, 422, "InputError")
    assert gov.sql("SELECT id FROM data_requests") == []


def test_a_request_that_is_not_json_gets_422(gov: World):
    answer = gov.client.post(
        "/api/requests",
        content=b'{"study": "s", "request": {}}',
        headers={**gov.users["ana"].headers, "Content-Type": "text/plain"},
    )

    assert_error(answer, 422, "InputError")
