"""Study policies: built from the request, signed by the holder's approvers, verified
by the station against the keys it trusts, and enforced on every task."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from perron.crypto.keys import KeyPair
from perron.governance.policy import (
    POLICY_VERSION,
    Budget,
    Signature,
    SignedPolicy,
    StudyPolicy,
    check_task,
    policy_from_request,
    requested_epsilon,
    verify_policy,
)
from perron.governance.request import DataRequest
from perron.governance.roles import Role
from perron.governance.route import SIGNING_ROLES
from perron.protocol.errors import InputError, OutsidePolicy, TamperedMessage

GRANTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
INSIDE = datetime(2027, 3, 1, tzinfo=UTC)


@pytest.fixture
def policy(study_request: DataRequest) -> StudyPolicy:
    return policy_from_request(
        study_request,
        study="lung-1",
        holder="umc-north",
        granted_at=GRANTED,
        disclosure={"min_rows": 20},
        policy_id="p-1",
    )


@pytest.fixture(scope="module")
def keys() -> dict[Role, KeyPair]:
    """One key pair per approver role (made here, never stored)."""
    return {role: KeyPair.generate() for role in SIGNING_ROLES}


@pytest.fixture
def trusted(keys: dict[Role, KeyPair]) -> dict[Role, str]:
    return {role: pair.public().verify_key for role, pair in keys.items()}


@pytest.fixture
def signed(policy: StudyPolicy, keys: dict[Role, KeyPair]) -> SignedPolicy:
    signed = SignedPolicy(policy)
    for role, pair in keys.items():
        signed = signed.signed(role, f"{role.value}-person", pair)
    return signed


# -- the policy from the request ------------------------------------------------------


def test_the_policy_carries_only_the_holders_own_datasets_and_columns(study_request):
    north = policy_from_request(study_request, study="s", holder="umc-north", granted_at=GRANTED)
    east = policy_from_request(study_request, study="s", holder="insurer-east", granted_at=GRANTED)

    assert north.datasets == {"lung": ("time", "status", "age", "sex")}
    assert east.datasets == {"lung": ("time", "age")}
    assert east.holder == "insurer-east"
    assert "status" not in json.dumps(east.to_wire())


def test_the_policy_carries_the_agreed_terms(policy):
    assert policy.policy_id == "p-1"
    assert policy.study == "lung-1"
    assert policy.purpose == "scientific_research"
    assert policy.title == "Lung cancer survival after first-line treatment"
    assert policy.algorithms == {
        "summary": {},
        "kaplan_meier": {},
        "coxph": {"max_iterations": {"min": 1, "max": 50}},
    }
    assert policy.valid_from == datetime(2026, 12, 1, tzinfo=UTC)
    assert policy.valid_until == datetime(2027, 12, 1, tzinfo=UTC)
    assert policy.granted_at == GRANTED
    assert policy.max_tasks == 500
    assert policy.disclosure == {"min_rows": 20}
    assert policy.budget is None


def test_a_privacy_budget_becomes_the_policys_budget(raw):
    raw["privacy_budget"] = 2.5
    request = DataRequest.parse(raw)

    policy = policy_from_request(request, study="s", holder="umc-north", granted_at=GRANTED)

    assert policy.budget == Budget(epsilon=2.5, delta=0.0)


def test_each_policy_gets_its_own_id(study_request):
    ids = {
        policy_from_request(
            study_request, study="s", holder="umc-north", granted_at=GRANTED
        ).policy_id
        for _ in range(3)
    }

    assert len(ids) == 3


def test_a_policy_for_a_holder_not_in_the_request_is_an_input_error(study_request):
    with pytest.raises(InputError, match="not asked for data"):
        policy_from_request(study_request, study="s", holder="nobody", granted_at=GRANTED)


# -- the wire ---------------------------------------------------------------------------


def test_the_policy_survives_the_wire(policy):
    budgeted = dataclasses.replace(policy, budget=Budget(1.0, 1e-6))

    for original in (policy, budgeted):
        wire = json.loads(json.dumps(original.to_wire()))
        back = StudyPolicy.from_wire(wire)

        assert back == original
        assert back.to_wire() == original.to_wire()
        assert wire["version"] == POLICY_VERSION


def test_a_policy_of_another_version_is_refused(policy):
    wire = policy.to_wire() | {"version": POLICY_VERSION + 1}

    with pytest.raises(InputError, match="upgrade the station"):
        StudyPolicy.from_wire(wire)


@pytest.mark.parametrize("field", ["study", "algorithms", "valid_until", "max_tasks"])
def test_a_policy_missing_a_field_is_malformed(policy, field):
    wire = policy.to_wire()
    del wire[field]

    with pytest.raises(InputError, match="malformed"):
        StudyPolicy.from_wire(wire)


def test_a_moment_without_a_zone_is_read_as_utc(policy):
    wire = policy.to_wire() | {"valid_from": "2026-12-01T00:00:00"}

    assert StudyPolicy.from_wire(wire).valid_from == datetime(2026, 12, 1, tzinfo=UTC)


def test_a_signed_policy_survives_the_wire_and_still_verifies(signed, trusted):
    back = SignedPolicy.from_wire(json.loads(json.dumps(signed.to_wire())))

    assert back == signed
    assert verify_policy(back, trusted) == signed.policy


def test_a_signed_policy_with_an_unknown_role_is_malformed(signed):
    wire = signed.to_wire()
    wire["signatures"][0]["role"] = "dean"

    with pytest.raises(InputError, match="malformed"):
        SignedPolicy.from_wire(wire)


def test_columns_of_gives_the_columns_or_refuses_another_dataset(policy):
    assert policy.columns_of("lung") == ("time", "status", "age", "sex")
    with pytest.raises(OutsidePolicy, match=r"^policy rule 'dataset'"):
        policy.columns_of("heart")


# -- signatures -----------------------------------------------------------------------


def test_a_policy_signed_by_every_trusted_role_is_accepted(signed, trusted, policy):
    assert verify_policy(signed, trusted) == policy
    assert {s.role for s in signed.signatures} == set(SIGNING_ROLES)


def test_the_station_checks_only_the_roles_it_trusts(policy, keys, trusted):
    two = {Role.PRIVACY_OFFICER, Role.LEGAL_COUNSEL}
    signed = SignedPolicy(policy)
    for role in two:
        signed = signed.signed(role, "x", keys[role])

    assert verify_policy(signed, {r: trusted[r] for r in two}) == policy


def test_signing_again_replaces_the_earlier_signature_of_that_role(signed, keys):
    again = signed.signed(Role.PRIVACY_OFFICER, "someone-else", keys[Role.PRIVACY_OFFICER])

    assert len(again.signatures) == len(signed.signatures)
    assert [s.signer for s in again.signatures if s.role is Role.PRIVACY_OFFICER] == [
        "someone-else"
    ]


@pytest.mark.parametrize("missing", SIGNING_ROLES, ids=str)
def test_a_policy_a_trusted_role_has_not_signed_is_not_in_force(policy, keys, trusted, missing):
    signed = SignedPolicy(policy)
    for role, pair in keys.items():
        if role is not missing:
            signed = signed.signed(role, "x", pair)

    with pytest.raises(OutsidePolicy, match=f"^policy rule 'signature'.*{missing.label}"):
        verify_policy(signed, trusted)


def test_a_station_without_trusted_signers_accepts_no_policy(signed):
    with pytest.raises(OutsidePolicy, match=r"^policy rule 'signature'.*configure"):
        verify_policy(signed, {})


@pytest.mark.parametrize(
    "change",
    [
        {"max_tasks": 100_000},
        {"datasets": {"lung": ("time", "status", "age", "sex", "name")}},
        {"algorithms": {"anything": {}}},
        {"valid_until": datetime(2099, 1, 1, tzinfo=UTC)},
        {"disclosure": {}},
    ],
)
def test_a_policy_changed_after_signing_is_tampered(signed, trusted, change):
    widened = SignedPolicy(dataclasses.replace(signed.policy, **change), signed.signatures)

    with pytest.raises(TamperedMessage, match="changed or signed by someone else"):
        verify_policy(widened, trusted)


def test_a_policy_signed_with_another_key_than_the_trusted_one_is_tampered(signed, trusted):
    forged = signed.signed(Role.SECURITY_OFFICER, "mallory", KeyPair.generate())

    with pytest.raises(TamperedMessage, match="security officer"):
        verify_policy(forged, trusted)


def test_a_signature_by_another_key_claiming_the_trusted_key_is_tampered(signed, trusted):
    forged_raw = signed.signed(Role.IT_ADMIN, "mallory", KeyPair.generate())
    forged_signature = next(s for s in forged_raw.signatures if s.role is Role.IT_ADMIN)
    claimed = dataclasses.replace(forged_signature, verify_key=trusted[Role.IT_ADMIN])
    others = tuple(s for s in signed.signatures if s.role is not Role.IT_ADMIN)

    with pytest.raises(TamperedMessage):
        verify_policy(SignedPolicy(signed.policy, (*others, claimed)), trusted)


def _corrupt(signature: Signature, how: str) -> Signature:
    text = signature.signature
    corrupted = {
        "flipped": ("B" if text[0] == "A" else "A") + text[1:],
        "truncated": text[:-8],
        "not base64": "!!" + text[2:],
        "empty": "",
    }[how]
    return dataclasses.replace(signature, signature=corrupted)


@pytest.mark.parametrize("how", ["flipped", "truncated", "not base64", "empty"])
def test_a_corrupted_signature_is_tampered(signed, trusted, how):
    first, *rest = signed.signatures
    broken = SignedPolicy(signed.policy, (_corrupt(first, how), *rest))

    assert not broken.signature_valid(broken.signatures[0])
    with pytest.raises(TamperedMessage):
        verify_policy(broken, trusted)


def test_a_garbage_verify_key_does_not_verify(signed):
    signature = dataclasses.replace(signed.signatures[0], verify_key="not-a-key")

    assert not signed.signature_valid(signature)


# -- tasks against the policy ---------------------------------------------------------


def _task(policy: StudyPolicy, **change: Any) -> None:
    task: dict[str, Any] = {
        "algorithm": "coxph",
        "params": {"max_iterations": 25, "formula": "time ~ age"},
        "dataset": "lung",
        "now": INSIDE,
        "tasks_used": 0,
    }
    task.update(change)
    check_task(policy, **task)


def test_a_task_inside_the_policy_passes(policy):
    _task(policy)
    _task(policy, algorithm="summary", params={})
    _task(policy, params={})  # an unbounded default is the algorithm's own


@pytest.mark.parametrize(
    "change",
    [
        {"params": {"max_iterations": 1}},
        {"params": {"max_iterations": 50}},
        {"params": {"max_iterations": 50.0}},
        {"now": datetime(2026, 12, 1, tzinfo=UTC)},
        {"now": datetime(2027, 12, 1, tzinfo=UTC) - timedelta(microseconds=1)},
        {"tasks_used": 499},
    ],
)
def test_a_task_on_the_edge_of_the_policy_passes(policy, change):
    _task(policy, **change)


@pytest.mark.parametrize(
    ("change", "rule", "detail"),
    [
        ({"algorithm": "logistic"}, "algorithm", "not among the analyses"),
        ({"params": {"max_iterations": 0}}, "parameter", "minimum 1"),
        ({"params": {"max_iterations": 51}}, "parameter", "maximum 50"),
        ({"params": {"max_iterations": "many"}}, "parameter", "numeric range"),
        ({"params": {"max_iterations": None}}, "parameter", "numeric range"),
        ({"params": {"max_iterations": float("nan")}}, "parameter", "numeric range"),
        ({"params": {"max_iterations": float("inf")}}, "parameter", "numeric range"),
        ({"params": {"max_iterations": True}}, "parameter", "numeric range"),
        ({"dataset": "heart"}, "dataset", "not part of the policy"),
        ({"now": datetime(2026, 11, 30, tzinfo=UTC)}, "period", "valid from 2026-12-01"),
        ({"now": datetime(2027, 12, 1, tzinfo=UTC)}, "period", "until 2027-12-01"),
        ({"now": datetime(2031, 1, 1, tzinfo=UTC)}, "period", "today it is not"),
        ({"tasks_used": 500}, "max_tasks", "all 500 tasks"),
        ({"tasks_used": 10_000}, "max_tasks", "amended policy"),
    ],
)
def test_a_task_outside_the_policy_is_refused_naming_the_rule(policy, change, rule, detail):
    with pytest.raises(OutsidePolicy, match=f"^policy rule '{rule}'") as caught:
        _task(policy, **change)

    assert detail in str(caught.value)


@pytest.fixture
def ties(policy: StudyPolicy) -> StudyPolicy:
    """The policy with a parameter that takes one of a few values."""
    return dataclasses.replace(
        policy, algorithms={"coxph": {"ties": {"one_of": ["efron", "breslow"]}, "k": {}}}
    )


@pytest.mark.parametrize("value", ["efron", "breslow"])
def test_a_value_among_the_agreed_values_passes(ties, value):
    _task(ties, params={"ties": value, "k": 7})


@pytest.mark.parametrize("value", ["exact", "efr", "", None, 1])
def test_a_value_not_among_the_agreed_values_is_refused(ties, value):
    with pytest.raises(OutsidePolicy, match=r"^policy rule 'parameter'.*agreed values"):
        _task(ties, params={"ties": value})


def test_true_is_not_the_agreed_value_one(policy):
    flags = dataclasses.replace(policy, algorithms={"coxph": {"level": {"one_of": [1, 2]}}})

    _task(flags, params={"level": 1})
    with pytest.raises(OutsidePolicy, match="agreed values"):
        _task(flags, params={"level": True})


def test_agreed_values_written_as_a_string_match_nothing(policy):
    loose = dataclasses.replace(policy, algorithms={"coxph": {"ties": {"one_of": "efron"}}})

    with pytest.raises(OutsidePolicy, match="agreed values"):
        _task(loose, params={"ties": "e"})


def test_a_bound_the_station_cannot_read_refuses_the_task(policy):
    future = dataclasses.replace(policy, algorithms={"coxph": {"step": {"multiple_of": 5}}})

    with pytest.raises(OutsidePolicy, match=r"^policy rule 'parameter'.*does not understand"):
        _task(future, params={"step": 7})


@pytest.mark.parametrize(
    ("budget", "spent", "epsilon", "refused"),
    [
        (None, 0.0, 0.1, True),  # no budget granted: no noisy output at all
        (1.0, 0.0, 1.0, False),  # exactly the budget
        (1.0, 0.5, 0.6, True),  # would exceed it
        (1.0, 0.9, 0.0, False),  # an exact task spends nothing
    ],
)
def test_check_task_enforces_the_privacy_budget(policy, budget, spent, epsilon, refused):
    granted = dataclasses.replace(policy, budget=None if budget is None else Budget(budget))
    params = {"epsilon": epsilon} if epsilon else {}
    if refused:
        with pytest.raises(OutsidePolicy, match="policy rule 'budget'"):
            _task(granted, algorithm="summary", params=params, epsilon_spent=spent)
    else:
        _task(granted, algorithm="summary", params=params, epsilon_spent=spent)


@pytest.mark.parametrize("epsilon", [-1.0, 0.0, float("nan"), float("inf"), True, "0.1"])
def test_an_epsilon_that_is_not_a_positive_finite_number_is_refused(epsilon):
    with pytest.raises(OutsidePolicy, match="policy rule 'budget'"):
        requested_epsilon({"epsilon": epsilon})


def test_a_request_for_secure_aggregation_makes_the_policy_require_it(raw):
    raw["pets"] = ["federated_analysis", "secure_aggregation"]
    request = DataRequest.parse(raw)

    policy = policy_from_request(request, study="s", holder="umc-north", granted_at=GRANTED)

    assert policy.secure_aggregation
    assert StudyPolicy.from_wire(policy.to_wire()) == policy
    plain = dataclasses.replace(policy, secure_aggregation=False)
    assert "secure_aggregation" not in plain.to_wire()  # earlier signatures stay valid


def test_under_a_secure_aggregation_policy_tasks_must_mask_with_three_stations(policy):
    required = dataclasses.replace(policy, secure_aggregation=True)
    keys = {"a": "k", "b": "k", "c": "k"}
    _task(required, algorithm="summary", params={"secure_aggregation": {"stage": "keys"}})
    _task(required, algorithm="summary", params={"secure_aggregation": {"keys": keys}})
    with pytest.raises(OutsidePolicy, match=r"policy rule 'secure_aggregation'.*requires secure"):
        _task(required, algorithm="summary", params={})
    two = {"a": "k", "b": "k"}
    with pytest.raises(OutsidePolicy, match="at least three"):
        _task(required, algorithm="summary", params={"secure_aggregation": {"keys": two}})
