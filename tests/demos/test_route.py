"""The study route end to end with real processes: ``perron demo --route``.

One request to three hospitals; the southern one says no-go at the DPIA and is left
out; the others are approved, their approvers sign the policies with keys the
stations trust; analyses run only within the policies; an objection changes the
counts; the patient's question "which studies used my data" is answered; the
public register lists the study.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from perron.demos.route import OBJECTORS, STUDY, RouteOutcome, run_route
from perron.demos.study import lung_stations


@pytest.fixture(scope="module")
def outcome() -> RouteOutcome:
    return run_route(Console(quiet=True))


def test_the_holder_that_said_no_go_is_left_out_and_the_others_are_approved(
    outcome: RouteOutcome,
):
    assert outcome.tracks == {
        "umc-north": "approved",
        "hospital-centre": "approved",
        "hospital-south": "stopped",
    }
    assert set(outcome.policies_signed) == {"umc-north", "hospital-centre"}


def test_the_analyses_reach_only_the_approved_holders_and_leave_out_the_objectors(
    outcome: RouteOutcome,
):
    rows = {name: int(frame["age"].notna().sum()) for name, frame in lung_stations().items()}
    assert outcome.counts == {
        "hospital_north": rows["hospital_north"] - OBJECTORS,
        "hospital_centre": rows["hospital_centre"],
    }
    # One objector withdrew: they count again.
    assert outcome.counts_after_objection["hospital_north"] == outcome.counts["hospital_north"] + 1


def test_analyses_outside_the_policy_are_refused_by_the_stations_naming_the_rule(
    outcome: RouteOutcome,
):
    assert len(outcome.refusals) == 2
    assert "policy rule 'algorithm'" in outcome.refusals[0]
    assert "policy rule 'column'" in outcome.refusals[1]


def test_a_patient_learns_which_studies_used_their_data(outcome: RouteOutcome):
    assert [use["study"] for use in outcome.used_by] == [STUDY]


def test_the_public_register_lists_the_study_with_its_results(outcome: RouteOutcome):
    (entry,) = outcome.register
    assert entry["study"] == STUDY
    assert entry["results"]
    statuses = {holder["holder"]: holder["status"] for holder in entry["holders"]}
    assert statuses["hospital-south"] == "stopped"
