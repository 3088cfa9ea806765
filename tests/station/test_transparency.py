"""Which studies used my data: the station's answer from its own audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from perron.crypto.audit import AuditLogTampered
from perron.protocol.errors import InputError
from perron.station.transparency import used_by
from tests.station.support import DAY, ID_COLUMN, answer, make_run, study_policy

NOW = datetime.now(UTC)


@pytest.fixture
def history(station, signers, researcher):
    """Study ``whas`` under a policy granted 10 days ago (two released tasks and one
    refused), study ``open`` without a policy (one task). P0001 objected before the
    policy, P0002 after it (the holder keeps earlier permits), P0003 objected and
    withdrew before the tasks."""
    policy = study_policy()
    runner = station([signers.sign(policy)])
    runner.objections.add("P0001", at=NOW - 20 * DAY)
    runner.objections.add("P0002", at=NOW - 5 * DAY)
    runner.objections.add("P0003", at=NOW - 20 * DAY)
    runner.objections.remove("P0003", at=NOW - 2 * DAY)
    for run in (
        make_run(researcher),
        make_run(researcher, "crosstab", {"row": "gender", "col": "fstat"}),
        make_run(researcher, "histogram", {"column": "age"}),  # refused: not in the policy
        make_run(researcher, study="open"),
    ):
        answer(runner, researcher, run)
    return runner, policy


def test_a_person_sees_every_study_that_used_their_data(history):
    runner, policy = history

    uses = used_by(runner.config, "P0004")

    assert [(u.study, u.policy_id) for u in uses] == [("whas", policy.policy_id), ("open", None)]
    whas = uses[0]
    assert whas.algorithms == ("crosstab", "summary")  # not the refused histogram
    assert whas.tasks == 2
    assert NOW - DAY < whas.first_use <= whas.last_use <= datetime.now(UTC)


def test_an_objection_before_the_policy_keeps_the_study_out(history):
    runner, _ = history

    assert used_by(runner.config, "P0001") == []


def test_an_objection_after_the_policy_leaves_that_study_but_not_the_next(history):
    runner, policy = history

    uses = used_by(runner.config, "P0002")

    assert [(u.study, u.policy_id) for u in uses] == [("whas", policy.policy_id)]


def test_a_withdrawn_objection_does_not_hide_later_uses(history):
    runner, _ = history

    assert [u.study for u in used_by(runner.config, "P0003")] == ["whas", "open"]


def test_an_objection_after_the_use_does_not_rewrite_the_past(history):
    runner, _ = history
    runner.objections.add("P0005")

    assert [u.study for u in used_by(runner.config, "P0005")] == ["whas", "open"]


def test_an_unknown_person_gets_an_empty_answer(history):
    runner, _ = history

    assert used_by(runner.config, "P9999") == []


def test_a_changed_audit_log_is_not_answered_from(history):
    runner, _ = history
    path = runner.config.audit_log
    path.write_text(path.read_text().replace('"summary"', '"glm"', 1))

    with pytest.raises(AuditLogTampered):
        used_by(runner.config, "P0004")


def test_the_question_needs_an_id_column(station):
    runner = station(governance={})

    with pytest.raises(InputError, match="id_column"):
        used_by(runner.config, "P0004")


def test_a_station_that_ran_nothing_used_nobodys_data(station):
    runner = station(governance={"id_column": ID_COLUMN})

    assert used_by(runner.config, "P0004") == []
