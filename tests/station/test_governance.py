"""The station enforces its study's signed policy on every task and audits why it refused.

Each policy rule is refused with its name (in the error the researcher gets and in
the audit log); a task within the policy runs on the policy's columns only, counts
once towards ``max_tasks`` however often it is delivered, and is audited with the
policy's id.
"""

from __future__ import annotations

import pytest

from perron.crypto.audit import verify_audit_log
from perron.crypto.keys import KeyPair
from perron.governance.policy import Budget, SignedPolicy
from perron.governance.roles import Role
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError, error_from_wire
from perron.protocol.messages import Partial
from perron.station.governance import policy_rule, tightened_by_policy
from tests.station.support import (
    COLUMNS,
    DAY,
    ID_COLUMN,
    answer,
    audit_entries,
    error_kind,
    make_run,
    policy_source,
    study_policy,
)


def test_a_task_within_the_policy_runs_and_is_audited_with_its_policy_id(
    station, signers, researcher
):
    policy = study_policy()
    runner = station([signers.sign(policy)])

    partial = answer(runner, researcher, make_run(researcher, "summary", {"columns": ["age"]}))

    assert partial.error is None
    assert partial.payload is not None
    assert partial.payload["columns"]["age"]["n"] == 500
    (entry,) = audit_entries(runner.config.audit_log)
    assert entry["outcome"] == "released"
    assert entry["policy_id"] == policy.policy_id
    assert entry["rule"] is None
    assert entry["cohort"]["dataset"] == "whas"
    assert entry["cohort"]["policy_granted_at"] == policy.granted_at.isoformat()
    assert entry["cohort"]["excluded"] == 0
    assert runner.counter.used(policy.policy_id) == 1


@pytest.mark.parametrize(
    ("algorithm", "params", "rule"),
    [
        ("histogram", {"column": "age", "edges": [0, 50, 100]}, "algorithm"),
        ("glm", {"step": "prepare", "family": "poisson", "response": "fstat"}, "parameter"),
        ("summary", {"columns": ["hr"]}, "column"),
        ("summary", {"columns": [ID_COLUMN]}, "column"),
        ("crosstab", {"row": "gender", "col": "cvd"}, "column"),
        ("kaplan_meier", {"spec": {"stop": "lenfol", "event": "fstat"}, "by": ["sho"]}, "column"),
    ],
)
def test_a_task_outside_the_policy_is_refused_naming_the_rule(
    station, signers, researcher, algorithm, params, rule
):
    policy = study_policy()
    runner = station([signers.sign(policy)])

    partial = answer(runner, researcher, make_run(researcher, algorithm, params))

    assert partial.payload is None
    assert error_kind(partial) == "OutsidePolicy"
    assert f"policy rule '{rule}'" in str(error_from_wire(dict(partial.error or {})))
    (entry,) = audit_entries(runner.config.audit_log)
    assert (entry["outcome"], entry["rule"], entry["policy_id"]) == (
        "refused",
        rule,
        policy.policy_id,
    )
    assert entry["error"]["kind"] == "OutsidePolicy"
    assert runner.counter.used(policy.policy_id) == 0  # refused tasks do not count


def test_a_column_outside_the_policy_is_not_even_named_as_available(station, signers, researcher):
    runner = station([signers.sign(study_policy())])

    partial = answer(runner, researcher, make_run(researcher, "summary", {"columns": ["hr"]}))

    message = str((partial.error or {})["message"])
    assert "'hr'" in message
    assert "sysbp" not in message  # other columns of the dataset stay unnamed
    assert ID_COLUMN not in message


def test_a_permitted_column_that_the_dataset_lacks_is_an_unknown_column(
    station, signers, researcher
):
    policy = study_policy(datasets={"whas": (*COLUMNS, "smoking")})
    runner = station([signers.sign(policy)])

    partial = answer(runner, researcher, make_run(researcher, "summary", {"columns": ["smoking"]}))

    assert error_kind(partial) == "UnknownColumn"


def test_a_dataset_outside_the_policy_is_refused(station, signers, researcher):
    runner = station([signers.sign(study_policy(datasets={"lung": ("age",)}))])

    partial = answer(runner, researcher, make_run(researcher))

    assert "policy rule 'dataset'" in str((partial.error or {})["message"])
    assert audit_entries(runner.config.audit_log)[0]["rule"] == "dataset"


_VALID = study_policy()
PERIODS = {
    "expired": {"valid_from": _VALID.valid_from - 90 * DAY, "valid_until": _VALID.valid_from},
    "not-yet-valid": {"valid_from": _VALID.valid_until, "valid_until": _VALID.valid_until + DAY},
}


@pytest.mark.parametrize("period", PERIODS.values(), ids=PERIODS)
def test_a_task_outside_the_policys_period_is_refused(station, signers, researcher, period):
    runner = station([signers.sign(study_policy(**period))])

    partial = answer(runner, researcher, make_run(researcher))

    assert "policy rule 'period'" in str((partial.error or {})["message"])
    assert audit_entries(runner.config.audit_log)[0]["rule"] == "period"


def test_max_tasks_counts_tasks_not_deliveries(station, signers, researcher):
    policy = study_policy(max_tasks=2)
    runner = station([signers.sign(policy)])
    first = make_run(researcher)

    answer(runner, researcher, first)
    runner.answer(first)  # the hub delivers it again: answered from the replay guard
    answer(runner, researcher, make_run(researcher, "summary", {"columns": ["hr"]}))  # refused
    second = answer(runner, researcher, make_run(researcher))
    third = answer(runner, researcher, make_run(researcher))

    assert second.error is None
    assert "policy rule 'max_tasks'" in str((third.error or {})["message"])
    assert runner.counter.used(policy.policy_id) == 2
    rules = [entry["rule"] for entry in audit_entries(runner.config.audit_log)]
    assert rules == [None, "column", None, "max_tasks"]  # the redelivery is not audited again


def test_the_task_count_survives_a_restart(station, signers, researcher):
    policy = study_policy(max_tasks=1)
    answer(station([signers.sign(policy)]), researcher, make_run(researcher))

    restarted = station([signers.sign(policy)])
    partial = answer(restarted, researcher, make_run(researcher))

    assert "policy rule 'max_tasks'" in str((partial.error or {})["message"])


def test_a_policy_missing_a_required_signature_is_not_in_force(station, signers, researcher):
    unsigned = SignedPolicy(study_policy()).signed(
        Role.PRIVACY_OFFICER, "petra", signers.privacy_officer
    )
    runner = station([unsigned])

    partial = answer(runner, researcher, make_run(researcher))

    assert error_kind(partial) == "OutsidePolicy"
    assert "policy rule 'signature'" in str((partial.error or {})["message"])
    (entry,) = audit_entries(runner.config.audit_log)
    assert (entry["outcome"], entry["rule"]) == ("refused", "signature")


def test_a_tampered_policy_is_refused(station, signers, researcher):
    wire = signers.sign(study_policy(max_tasks=10)).to_wire()
    wire["policy"]["max_tasks"] = 10_000  # widened by someone at the hub after signing

    runner = station([wire])
    partial = answer(runner, researcher, make_run(researcher))

    assert error_kind(partial) == "TamperedMessage"
    (entry,) = audit_entries(runner.config.audit_log)
    assert (entry["outcome"], entry["rule"]) == ("refused", "signature")


def test_a_policy_signed_with_an_untrusted_key_is_refused(station, signers, researcher):
    impostor = KeyPair.generate()
    forged = signers.sign(study_policy()).signed(Role.PRIVACY_OFFICER, "mallory", impostor)

    runner = station([forged])
    partial = answer(runner, researcher, make_run(researcher))

    assert error_kind(partial) == "TamperedMessage"
    assert audit_entries(runner.config.audit_log)[0]["rule"] == "signature"


def test_a_verified_policy_wins_over_a_tampered_copy(station, signers, researcher):
    policy = study_policy()
    tampered = signers.sign(study_policy(study="whas")).to_wire()
    tampered["policy"]["title"] = "changed"

    runner = station([tampered, signers.sign(policy)])
    partial = answer(runner, researcher, make_run(researcher))

    assert partial.error is None
    assert audit_entries(runner.config.audit_log)[0]["policy_id"] == policy.policy_id


def test_a_study_without_a_policy_runs_as_before_but_never_sees_the_id_column(
    station, signers, researcher
):
    runner = station([signers.sign(study_policy(study="another-study"))])

    released = answer(runner, researcher, make_run(researcher, "summary", {"columns": ["hr"]}))
    hidden = answer(runner, researcher, make_run(researcher, "summary", {"columns": [ID_COLUMN]}))

    assert released.payload is not None
    assert released.payload["columns"]["hr"]["n"] == 500
    assert "policy rule 'column'" in str((hidden.error or {})["message"])
    entries = audit_entries(runner.config.audit_log)
    assert [e["policy_id"] for e in entries] == [None, None]
    assert [e["rule"] for e in entries] == [None, "column"]


def test_require_policy_refuses_a_study_without_one(station, signers, researcher):
    runner = station(
        governance={
            "dataset_name": "whas",
            "id_column": ID_COLUMN,
            "require_policy": True,
            "signers": signers.config(),
        }
    )

    partial = answer(runner, researcher, make_run(researcher))

    assert "policy rule 'required'" in str((partial.error or {})["message"])
    assert audit_entries(runner.config.audit_log)[0]["rule"] == "required"


def test_without_signers_the_station_does_not_look_for_policies(station, researcher):
    runner = station(governance={"id_column": ID_COLUMN})

    partial = answer(runner, researcher, make_run(researcher))

    assert partial.error is None
    assert runner.governor.book is None


def test_policies_of_another_holder_are_ignored(station, signers, researcher):
    runner = station([signers.sign(study_policy(holder="org-south", max_tasks=0))])

    partial = answer(runner, researcher, make_run(researcher))

    assert partial.error is None
    assert audit_entries(runner.config.audit_log)[0]["policy_id"] is None


def test_the_policys_disclosure_settings_tighten_the_holders(station, signers, researcher):
    runner = station([signers.sign(study_policy(disclosure={"min_rows": 1000}))])

    partial = answer(runner, researcher, make_run(researcher))

    assert error_kind(partial) == "DisclosureBlocked"
    assert (partial.error or {})["rule"] == "min_rows"


def test_a_looser_policy_setting_leaves_the_holders_in_place():
    holder = DisclosurePolicy(min_cell=10, min_rows=20)

    effective = tightened_by_policy(holder, {"min_cell": 3, "min_rows": 50})

    assert (effective.min_cell, effective.min_rows) == (10, 50)
    with pytest.raises(InputError, match="unknown disclosure setting"):
        tightened_by_policy(holder, {"min_cel": 30})


def test_policies_are_fetched_once_while_one_is_in_force(station, signers, researcher):
    runner = station([signers.sign(study_policy())])
    for _ in range(3):
        answer(runner, researcher, make_run(researcher))

    assert policy_source(runner).fetches == 1


def test_a_policy_signed_later_is_picked_up_at_the_next_task(station, signers, researcher):
    runner = station()
    before = answer(runner, researcher, make_run(researcher, "summary", {"columns": ["hr"]}))
    policy = study_policy()
    policy_source(runner).policies.append(signers.sign(policy))

    after = answer(runner, researcher, make_run(researcher, "summary", {"columns": ["hr"]}))

    assert before.error is None
    assert "policy rule 'column'" in str((after.error or {})["message"])


def test_an_expired_policy_is_replaced_by_its_amendment(station, signers, researcher):
    old = study_policy(valid_until=study_policy().valid_from + DAY)
    runner = station([signers.sign(old)])
    expired = answer(runner, researcher, make_run(researcher))
    amendment = study_policy(granted_at=old.granted_at + DAY)
    policy_source(runner).policies.append(signers.sign(amendment))

    partial = answer(runner, researcher, make_run(researcher))

    assert "policy rule 'period'" in str((expired.error or {})["message"])
    assert partial.error is None
    assert audit_entries(runner.config.audit_log)[-1]["policy_id"] == amendment.policy_id


def test_every_governed_answer_keeps_the_audit_chain_intact(station, signers, researcher):
    runner = station([signers.sign(study_policy())])
    answer(runner, researcher, make_run(researcher))
    answer(runner, researcher, make_run(researcher, "histogram", {"column": "age"}))

    assert verify_audit_log(runner.config.audit_log) == 2


def test_policy_rule_reads_the_rule_from_a_wire_error():
    assert policy_rule({"kind": "OutsidePolicy", "message": "policy rule 'period': ..."}) == (
        "period"
    )
    assert policy_rule({"kind": "UnknownColumn", "message": "policy rule 'x'"}) is None
    assert policy_rule(None) is None


def test_the_privacy_budget_ledger_refuses_a_task_that_would_exceed_it(
    station, signers, researcher
):
    policy = study_policy(budget=Budget(epsilon=1.0))
    runner = station([signers.sign(policy)])

    def noisy(epsilon: float) -> Partial:
        run = make_run(researcher, "summary", {"columns": ["age"], "epsilon": epsilon})
        return answer(runner, researcher, run)

    assert noisy(0.6).error is None
    assert noisy(0.3).error is None
    refused = noisy(0.2)  # 0.9 spent: 0.2 more would exceed 1.0
    exact = answer(runner, researcher, make_run(researcher))  # no noise: spends nothing

    assert "policy rule 'budget'" in str((refused.error or {})["message"])
    assert exact.error is None
    assert runner.counter.spent(policy.policy_id) == pytest.approx(0.9)
    rules = [entry["rule"] for entry in audit_entries(runner.config.audit_log)]
    assert rules == [None, None, "budget", None]


def test_a_noisy_task_is_refused_when_the_policy_grants_no_budget(station, signers, researcher):
    runner = station([signers.sign(study_policy())])
    run = make_run(researcher, "summary", {"columns": ["age"], "epsilon": 0.1})

    refused = answer(runner, researcher, run)

    assert "policy rule 'budget'" in str((refused.error or {})["message"])
