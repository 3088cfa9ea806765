"""Where the station's policies come from, and which one is in force for a study."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from perron.governance.policy import SignedPolicy
from perron.protocol.errors import InputError, OutsidePolicy, TamperedMessage, TransportError
from perron.station.policies import HubPolicies
from tests.station.support import DAY, STUDY, study_policy

NOW = datetime.now(UTC)


def _hub(handler) -> HubPolicies:
    return HubPolicies(httpx.Client(base_url="http://hub", transport=httpx.MockTransport(handler)))


def test_the_hub_hands_out_a_list_of_signed_policies(signers):
    wire = signers.sign(study_policy()).to_wire()
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return httpx.Response(200, json=[wire])

    hub = _hub(handler)
    try:
        assert hub.fetch() == [wire]
    finally:
        hub.client.close()
    assert seen == [("GET", "/api/station/policies")]


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, text="not found"),
        httpx.Response(200, json={"policies": []}),
        httpx.Response(200, text="<html>"),
    ],
    ids=["missing-endpoint", "not-a-list", "not-json"],
)
def test_a_hub_answer_that_is_not_a_list_of_policies_is_a_transport_error(response):
    hub = _hub(lambda request: response)
    try:
        with pytest.raises(TransportError):
            hub.fetch()
    finally:
        hub.client.close()


def test_the_policy_granted_last_among_those_in_force_counts(signers, station):
    first = study_policy(granted_at=NOW - 10 * DAY)
    amended = study_policy(granted_at=NOW - 2 * DAY)
    expired = study_policy(granted_at=NOW - DAY, valid_until=NOW - DAY)
    book = station([signers.sign(p) for p in (first, amended, expired)]).governor.book

    assert book.policy_for(STUDY, NOW) == amended


def test_without_a_policy_in_force_the_latest_is_returned_for_the_period_check(signers, station):
    old = study_policy(valid_until=NOW - 2 * DAY, granted_at=NOW - 40 * DAY)
    older = study_policy(valid_until=NOW - DAY, granted_at=NOW - 50 * DAY)
    book = station([signers.sign(old), signers.sign(older)]).governor.book

    assert book.policy_for(STUDY, NOW) == old


def test_other_studies_and_holders_are_not_mixed_up(signers, station):
    book = station(
        [signers.sign(study_policy(study="other")), signers.sign(study_policy(holder="org-b"))]
    ).governor.book

    assert book.policy_for(STUDY, NOW) is None
    assert book.policy_for("other", NOW) is not None


def test_a_malformed_policy_of_the_study_refuses_it(signers, station):
    wire = signers.sign(study_policy()).to_wire()
    del wire["policy"]["max_tasks"]
    book = station([wire]).governor.book

    with pytest.raises(InputError, match="malformed"):
        book.policy_for(STUDY, NOW)


@pytest.mark.parametrize(
    ("change", "error"),
    [("unsigned", OutsidePolicy), ("tampered", TamperedMessage)],
)
def test_a_policy_that_does_not_verify_refuses_the_study_every_time(
    signers, station, change, error
):
    policy = study_policy()
    if change == "unsigned":
        wire = SignedPolicy(policy).to_wire()
    else:
        wire = signers.sign(policy).to_wire()
        wire["policy"]["purpose"] = "policy"
    book = station([wire]).governor.book

    for _ in range(2):  # the cached failure is raised afresh
        with pytest.raises(error):
            book.policy_for(STUDY, NOW)
