"""The surveillance policy fixes what a weekly task may ask; the station's check enforces it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from perron.governance.policy import check_task, policy_from_request
from perron.governance.request import AnalysisRequest
from perron.governance.surveillance import surveillance_request
from perron.protocol.errors import InputError, OutsidePolicy

COUNTS: dict[str, Any] = {
    "case": [{"column": "icd10", "in": ["A02.0"]}],
    "date": "onset",
    "first": "2020-W01",
    "by": ["age", "region"],
    "bands": {"age": [0, 15, 65]},
    "levels": {"region": ["NL111", "NL113"]},
}
TASK = {**COUNTS, "last": "2025-W15"}


def _policy(**options: Any) -> Any:
    request = surveillance_request(
        title="Salmonella enteritis, weekly",
        applicant="ana",
        organisation="rivm",
        holders={"gp_network": "cases", "hospital": "cases"},
        counts=options.pop("counts", COUNTS),
        columns=["onset", "icd10", "age", "region"],
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        purpose_description="early warning of outbreaks",
        case_description="salmonella enteritis (A02.0)",
        **options,
    )
    return policy_from_request(
        request,
        study="surveillance",
        holder="hospital",
        granted_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def _check(policy: Any, params: dict[str, Any], when: datetime | None = None) -> None:
    check_task(
        policy,
        algorithm="weekly_counts",
        params=params,
        dataset="cases",
        now=when or datetime(2025, 4, 14, tzinfo=UTC),
        tasks_used=0,
    )


def test_the_weekly_task_the_policy_was_made_for_passes():
    policy = _policy()

    _check(policy, TASK)

    assert policy.purpose == "public_health"
    assert policy.max_tasks == 2 * 53


@pytest.mark.parametrize(
    ("change", "term"),
    [
        ({"case": [{"column": "icd10", "prefix": ["A0"]}]}, "case"),
        ({"first": "2015-W01"}, "first"),
        ({"by": ["region"]}, "by"),
        ({"levels": {"region": ["NL111", "NL113", "NL124"]}}, "levels"),
        ({"date": "report"}, "date"),
    ],
)
def test_other_codes_strata_regions_or_history_are_refused(change, term):
    policy = _policy()

    with pytest.raises(OutsidePolicy, match=f"weekly_counts.{term} = "):
        _check(policy, {**TASK, **change})


def test_a_task_that_leaves_a_fixed_term_out_is_refused():
    policy = _policy()
    params = {k: v for k, v in TASK.items() if k != "levels"}  # every region

    with pytest.raises(OutsidePolicy, match=r"weekly_counts\.levels must be given"):
        _check(policy, params)


def test_outside_the_period_nothing_runs():
    policy = _policy()

    with pytest.raises(OutsidePolicy, match="rule 'period'"):
        _check(policy, TASK, datetime(2026, 1, 5, tzinfo=UTC))


def test_noisy_counts_are_capped_per_task_and_exact_ones_still_pass():
    policy = _policy(epsilon=0.5, privacy_budget=20.0)

    _check(policy, {**TASK, "epsilon": 0.5})
    with pytest.raises(OutsidePolicy, match=r"agreed maximum 0\.5"):
        _check(policy, {**TASK, "epsilon": 1.0})
    _check(policy, TASK)  # exact counts, under the holder's small-cell rule


def test_a_request_names_what_a_policy_can_fix():
    with pytest.raises(InputError, match="fixes \\['first'\\]"):
        _policy(counts={k: v for k, v in COUNTS.items() if k != "first"})
    with pytest.raises(InputError, match="'last'"):
        _policy(counts={**COUNTS, "last": "2025-W15"})


def test_required_must_be_a_boolean_next_to_a_bound():
    with pytest.raises(ValueError, match="required of parameter"):
        AnalysisRequest(
            algorithm="weekly_counts", bounds={"first": {"one_of": ["x"], "required": 1}}
        )
    with pytest.raises(ValueError, match="write"):
        AnalysisRequest(algorithm="weekly_counts", bounds={"first": {"required": True}})
