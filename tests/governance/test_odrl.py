"""The study policy as an ODRL 2.2 Agreement with DPV and DUO terms."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from perron.governance.odrl import DPV_OF_PURPOSE, DUO_OF_PURPOSE, ODRL_CONTEXT, to_odrl
from perron.governance.policy import Budget, StudyPolicy, policy_from_request
from perron.governance.request import DataRequest, Purpose
from perron.protocol.errors import InputError

GRANTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
POLICY_ID = "0b0a3c1e6f7d4f4b9d6e8f5a4c3b2a19"


@pytest.fixture
def policy(study_request: DataRequest) -> StudyPolicy:
    return policy_from_request(
        study_request,
        study="lung-1",
        holder="umc-north",
        granted_at=GRANTED,
        disclosure={"min_rows": 20, "min_cell": 5},
        policy_id=POLICY_ID,
    )


@pytest.fixture
def agreement(policy: StudyPolicy) -> dict[str, Any]:
    return to_odrl(policy)


def _simple(constraints: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [
        (c["leftOperand"], c["operator"], c["rightOperand"])
        for c in constraints
        if "leftOperand" in c
    ]


def test_the_agreement_is_odrl_json_ld_with_the_vocabularies(agreement):
    context = agreement["@context"]

    assert context[0] == ODRL_CONTEXT == "http://www.w3.org/ns/odrl.jsonld"
    assert context[1]["odrl"] == "http://www.w3.org/ns/odrl/2/"
    assert context[1]["dpv"] == "https://w3id.org/dpv#"
    assert context[1]["duo"] == context[1]["DUO"] == "http://purl.obolibrary.org/obo/DUO_"
    assert context[1]["dct"] == "http://purl.org/dc/terms/"
    assert agreement["@type"] == "Agreement"
    assert agreement["profile"] == "urn:perron:odrl:profile"
    assert agreement["dct:title"] == "Lung cancer survival after first-line treatment"
    assert agreement["dct:issued"] == {
        "@value": "2026-11-30T12:00:00+00:00",
        "@type": "xsd:dateTime",
    }


def test_the_parties_and_the_uid(agreement):
    assert agreement["uid"] == "urn:uuid:0b0a3c1e-6f7d-4f4b-9d6e-8f5a4c3b2a19"
    assert agreement["assigner"] == "urn:perron:holder:umc-north"
    assert agreement["assignee"] == "urn:perron:study:lung-1"


def test_a_policy_id_that_is_not_a_uuid_becomes_a_perron_urn(policy):
    odd = dataclasses.replace(policy, policy_id="p 1:x", holder="umc north", study="a/b")

    agreement = to_odrl(odd)

    assert agreement["uid"] == "urn:perron:policy:p%201%3Ax"
    assert agreement["assigner"] == "urn:perron:holder:umc%20north"
    assert agreement["assignee"] == "urn:perron:study:a%2Fb"


def test_one_permission_per_dataset_to_use_its_columns(policy):
    two = dataclasses.replace(
        policy, datasets={"lung": ("time", "age"), "drugs": ("atc code", "age")}
    )

    permissions = to_odrl(two)["permission"]

    assert [p["target"]["uid"] for p in permissions] == [
        "urn:perron:dataset:umc-north:drugs",
        "urn:perron:dataset:umc-north:lung",
    ]
    drugs = permissions[0]["target"]
    assert drugs["@type"] == "AssetCollection"
    assert drugs["dct:title"] == "drugs"
    assert drugs["dct:hasPart"] == [
        "urn:perron:dataset:umc-north:drugs:age",
        "urn:perron:dataset:umc-north:drugs:atc%20code",
    ]
    assert {p["action"] for p in permissions} == {"odrl:use"}


def test_the_permission_constrains_purpose_period_count_and_algorithms(agreement):
    constraints = _simple(agreement["permission"][0]["constraint"])

    assert constraints == [
        ("odrl:purpose", "odrl:isA", {"@id": "dpv:ScientificResearch"}),
        ("odrl:purpose", "odrl:isA", {"@id": "DUO:0000042"}),
        (
            "odrl:dateTime",
            "odrl:gteq",
            {"@value": "2026-12-01T00:00:00+00:00", "@type": "xsd:dateTime"},
        ),
        (
            "odrl:dateTime",
            "odrl:lt",
            {"@value": "2027-12-01T00:00:00+00:00", "@type": "xsd:dateTime"},
        ),
        ("odrl:count", "odrl:lteq", 500),
        ("perron:algorithm", "odrl:isAnyOf", ["coxph", "kaplan_meier", "summary"]),
    ]


def test_a_parameter_bound_holds_for_its_own_algorithm_only(agreement):
    logical = [c for c in agreement["permission"][0]["constraint"] if "or" in c]

    assert [_simple(c["or"]["@list"]) for c in logical] == [
        [
            ("perron:algorithm", "odrl:neq", "coxph"),
            ("perron:parameter:max_iterations", "odrl:gteq", 1),
        ],
        [
            ("perron:algorithm", "odrl:neq", "coxph"),
            ("perron:parameter:max_iterations", "odrl:lteq", 50),
        ],
    ]


def test_agreed_values_become_is_any_of(policy):
    ties = dataclasses.replace(
        policy, algorithms={"coxph": {"ties": {"one_of": ["efron", "breslow"]}}}
    )

    (logical,) = [c for c in to_odrl(ties)["permission"][0]["constraint"] if "or" in c]

    assert _simple(logical["or"]["@list"])[1] == (
        "perron:parameter:ties",
        "odrl:isAnyOf",
        ["efron", "breslow"],
    )


def test_a_privacy_budget_becomes_constraints(policy):
    budgeted = dataclasses.replace(policy, budget=Budget(epsilon=1.0, delta=1e-6))
    epsilon_only = dataclasses.replace(policy, budget=Budget(epsilon=2.0))

    both = _simple(to_odrl(budgeted)["permission"][0]["constraint"])
    one = _simple(to_odrl(epsilon_only)["permission"][0]["constraint"])

    assert both[-2:] == [("perron:epsilon", "odrl:lteq", 1.0), ("perron:delta", "odrl:lteq", 1e-6)]
    assert one[-1] == ("perron:epsilon", "odrl:lteq", 2.0)
    assert all(left != "perron:delta" for left, _, _ in one)


@pytest.mark.parametrize("purpose", list(Purpose), ids=str)
def test_every_ehds_purpose_has_a_dpv_purpose_and_a_duo_permission(policy, purpose):
    agreement = to_odrl(dataclasses.replace(policy, purpose=purpose.value))

    purposes = _simple(agreement["permission"][0]["constraint"])[:2]

    assert purposes == [
        ("odrl:purpose", "odrl:isA", {"@id": DPV_OF_PURPOSE[purpose]}),
        ("odrl:purpose", "odrl:isA", {"@id": DUO_OF_PURPOSE[purpose]}),
    ]
    assert agreement["dct:subject"][0] == {"@id": DUO_OF_PURPOSE[purpose]}


def test_the_purpose_mappings():
    assert set(DPV_OF_PURPOSE) == set(DUO_OF_PURPOSE) == set(Purpose)
    assert DUO_OF_PURPOSE[Purpose.SCIENTIFIC_RESEARCH] == "DUO:0000042"  # GRU
    assert DPV_OF_PURPOSE[Purpose.SCIENTIFIC_RESEARCH] == "dpv:ScientificResearch"
    assert DUO_OF_PURPOSE[Purpose.IMPROVING_CARE] == "DUO:0000006"  # HMB
    assert DPV_OF_PURPOSE[Purpose.STATISTICS] == "dpv:ProvideOfficialStatistics"
    assert DPV_OF_PURPOSE[Purpose.POLICY] == "dpv:PublicPolicyMaking"
    assert DPV_OF_PURPOSE[Purpose.IMPROVING_CARE] == "dpv:ImproveHealthcare"
    for code in DUO_OF_PURPOSE.values():
        assert re.fullmatch(r"DUO:\d{7}", code)
    for term in DPV_OF_PURPOSE.values():
        assert re.fullmatch(r"dpv:[A-Z][A-Za-z]+", term)


def test_the_agreement_is_tagged_with_its_duo_codes(agreement):
    assert [s["@id"] for s in agreement["dct:subject"]] == [
        "DUO:0000042",  # GRU: general research use
        "DUO:0000019",  # PUB: publication required
        "DUO:0000027",  # PS: project specific restriction
        "DUO:0000025",  # TS: time limit on use
    ]


def test_row_level_data_may_not_be_distributed(agreement):
    (prohibition,) = agreement["prohibition"]

    assert prohibition["target"] == "urn:perron:dataset:umc-north:lung"
    assert prohibition["action"] == "odrl:distribute"
    assert "Row-level data never leave the station" in prohibition["dct:description"]


def test_the_results_must_be_published_within_18_months(agreement):
    (duty,) = agreement["obligation"]

    assert duty["action"] == "odrl:distribute"
    assert duty["output"] == "urn:perron:study:lung-1:results"
    assert duty["dct:subject"] == {"@id": "DUO:0000019"}
    assert "EHDS art. 61(4)" in duty["dct:description"]
    assert _simple(duty["constraint"]) == [
        (
            "odrl:dateTime",
            "odrl:lteq",
            {"@value": "2029-06-01T00:00:00+00:00", "@type": "xsd:dateTime"},
        )
    ]


def test_the_disclosure_settings_are_a_sorted_json_literal(agreement, policy):
    assert agreement["perron:disclosure"] == {
        "@type": "@json",
        "@value": {"min_cell": 5, "min_rows": 20},
    }
    assert list(agreement["perron:disclosure"]["@value"]) == ["min_cell", "min_rows"]
    assert "perron:disclosure" not in to_odrl(dataclasses.replace(policy, disclosure={}))


def test_the_agreement_is_strict_json(agreement):
    text = json.dumps(agreement, allow_nan=False)

    assert json.loads(text) == agreement


def test_the_agreement_is_deterministic(policy):
    shuffled = dataclasses.replace(
        policy,
        algorithms=dict(reversed(list(policy.algorithms.items()))),
        datasets={"lung": tuple(reversed(policy.datasets["lung"]))},
        disclosure=dict(reversed(list(policy.disclosure.items()))),
    )

    first = json.dumps(to_odrl(policy))

    assert json.dumps(to_odrl(policy)) == first
    assert json.dumps(to_odrl(shuffled)) == first
    assert json.dumps(to_odrl(StudyPolicy.from_wire(policy.to_wire()))) == first


def test_a_purpose_outside_the_ehds_has_no_odrl_form(policy):
    with pytest.raises(InputError, match=r"'marketing' is not an EHDS art\. 53 purpose"):
        to_odrl(dataclasses.replace(policy, purpose="marketing"))


def test_a_policy_ending_at_the_end_of_the_calendar_has_no_odrl_form(policy):
    endless = dataclasses.replace(policy, valid_until=datetime(9998, 12, 1, tzinfo=UTC))

    with pytest.raises(InputError, match="after the year 9999"):
        to_odrl(endless)
