"""The objection register, and how objections change what an analysis counts.

EHDS art. 71(3): a person who objected is left out of every analysis under a policy
granted after the objection; for policies granted before it, the holder's setting
decides; without a policy every current objection counts; a withdrawn objection
counts no more. The counts asserted below are those pandas gives on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from perron.protocol.errors import InputError
from perron.protocol.messages import Partial
from perron.station.objections import Objection, ObjectionRegister, excludes
from tests.station.support import (
    DAY,
    ID_COLUMN,
    answer,
    audit_entries,
    make_run,
    study_policy,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def register(tmp_path):
    with ObjectionRegister(tmp_path / "objections.sqlite") as reg:
        yield reg


# -- the register ---------------------------------------------------------------------


def test_an_objection_is_kept_with_its_history(register):
    register.add("P1", at=T0)
    register.remove("P1", at=T0 + DAY)
    register.add("P1", at=T0 + 3 * DAY)

    assert register.history("P1") == (
        Objection("P1", T0, T0 + DAY),
        Objection("P1", T0 + 3 * DAY, None),
    )
    assert register.list() == register.history("P1")


def test_adding_twice_keeps_the_first_objection(register):
    assert register.add("P1", at=T0) is True
    assert register.add("P1", at=T0 + DAY) is False
    assert register.history("P1") == (Objection("P1", T0),)


def test_withdrawing_without_an_objection_changes_nothing(register):
    assert register.remove("P1") is False
    assert register.list() == ()


def test_the_register_survives_a_restart(tmp_path):
    with ObjectionRegister(tmp_path / "objections.sqlite") as first:
        first.add("P1", at=T0)

    with ObjectionRegister(tmp_path / "objections.sqlite") as again:
        assert again.excluded(None, False, at=T0 + DAY) == {"P1"}


@pytest.mark.parametrize("bad", ["", "   ", "\t", " P1", "P1 ", None, 17])
def test_an_empty_or_padded_identifier_is_refused(register, bad):
    with pytest.raises(InputError, match="identifier"):
        register.add(bad)
    assert register.list() == ()


def test_the_history_stays_in_order(register):
    register.add("P1", at=T0)
    with pytest.raises(InputError, match="before the objection"):
        register.remove("P1", at=T0 - DAY)
    register.remove("P1", at=T0 + 2 * DAY)
    with pytest.raises(InputError, match="before its withdrawal"):
        register.add("P1", at=T0 + DAY)


def test_a_naive_time_is_read_as_utc(register):
    register.add("P1", at=datetime(2026, 1, 1))

    assert register.history("P1")[0].objected_at == T0


@pytest.mark.parametrize(
    ("granted", "apply_to_earlier", "excluded"),
    [
        (None, False, True),  # no policy: every current objection counts
        (T0 + DAY, False, True),  # policy granted after the objection: always out
        (T0, False, True),  # granted at the very moment: after it
        (T0 - DAY, False, False),  # granted before: the holder's setting decides
        (T0 - DAY, True, True),
    ],
)
def test_who_is_left_out(granted, apply_to_earlier, excluded):
    objection = Objection("P1", objected_at=T0)

    assert excludes(objection, granted, apply_to_earlier, T0 + 5 * DAY) is excluded


def test_an_objection_counts_only_while_it_stands():
    objection = Objection("P1", objected_at=T0, withdrawn_at=T0 + 2 * DAY)

    assert not excludes(objection, None, True, T0 - DAY)
    assert excludes(objection, None, True, T0 + DAY)
    assert not excludes(objection, None, True, T0 + 2 * DAY)


def test_excluded_reads_the_register_at_a_moment(register):
    register.add("P1", at=T0)
    register.add("P2", at=T0 + 2 * DAY)
    register.add("P3", at=T0)
    register.remove("P3", at=T0 + DAY)

    assert register.excluded(None, False, at=T0 + 3 * DAY) == {"P1", "P2"}
    assert register.excluded(T0 + DAY, False, at=T0 + 3 * DAY) == {"P1"}
    assert register.excluded(T0 + DAY, True, at=T0 + 3 * DAY) == {"P1", "P2"}
    assert register.excluded(None, False, at=T0 + DAY / 2) == {"P1", "P3"}


# -- what an analysis counts ----------------------------------------------------------

NOW = datetime.now(UTC)
#: The test policy is granted 10 days ago (``study_policy``).
BEFORE_GRANT = NOW - 20 * DAY
AFTER_GRANT = NOW - 5 * DAY
#: P0001 objected before the policy, P0002 after it, P0003 objected and withdrew.
SCENARIOS = {
    "policy, holder keeps earlier permits": (True, False, {"P0001"}),
    "policy, holder applies objections to earlier permits": (True, True, {"P0001", "P0002"}),
    "no policy": (False, False, {"P0001", "P0002"}),
}


def _object(register: ObjectionRegister) -> None:
    register.add("P0001", at=BEFORE_GRANT)
    register.add("P0002", at=AFTER_GRANT)
    register.add("P0003", at=BEFORE_GRANT)
    register.remove("P0003", at=NOW - DAY)


def _released(partial: Partial) -> Mapping[str, Any]:
    assert partial.error is None, partial.error
    assert partial.payload is not None
    return partial.payload


@pytest.mark.parametrize(("under_policy", "apply", "out"), SCENARIOS.values(), ids=SCENARIOS)
def test_counts_leave_out_exactly_the_people_who_objected(
    station, signers, researcher, cohort, under_policy, apply, out
):
    policies = [signers.sign(study_policy())] if under_policy else []
    governance = {
        "dataset_name": "whas",
        "id_column": ID_COLUMN,
        "objections_apply_to_earlier": apply,
        "signers": signers.config(),
    }
    runner = station(policies, governance=governance)
    _object(runner.objections)
    kept = cohort[~cohort[ID_COLUMN].isin(out)]

    crosstab = {"row": "gender", "col": "fstat"}
    curve = {"spec": {"stop": "lenfol", "event": "fstat"}, "by": []}

    summary = _released(answer(runner, researcher, make_run(researcher)))
    table = _released(answer(runner, researcher, make_run(researcher, "crosstab", crosstab)))
    km = _released(answer(runner, researcher, make_run(researcher, "kaplan_meier", curve)))

    assert summary["columns"]["age"]["n"] == len(kept) == 500 - len(out)
    assert summary["columns"]["age"]["mean"] == pytest.approx(kept["age"].mean(), rel=1e-12)
    expected = pd.crosstab(kept["gender"], kept["fstat"])
    assert table["n"] == len(kept)
    assert table["counts"] == expected.to_numpy().tolist()
    assert km["n"] == len(kept)
    (events,) = km["tables"].values()
    assert sum(events["events"]) == int(kept["fstat"].sum())
    assert sum(events["events"]) + sum(events["censored"]) == len(kept)
    assert {e["cohort"]["excluded"] for e in audit_entries(runner.config.audit_log)} == {len(out)}


def test_a_withdrawn_objection_makes_the_person_count_again(station, signers, researcher):
    runner = station([signers.sign(study_policy())])
    runner.objections.add("P0001", at=BEFORE_GRANT)
    before = _released(answer(runner, researcher, make_run(researcher)))

    runner.objections.remove("P0001")
    after = _released(answer(runner, researcher, make_run(researcher)))

    assert (before["columns"]["age"]["n"], after["columns"]["age"]["n"]) == (499, 500)


def test_a_new_objection_applies_to_the_next_task(station, researcher):
    runner = station(governance={"id_column": ID_COLUMN})
    first = _released(answer(runner, researcher, make_run(researcher)))

    runner.objections.add("P0007")
    second = _released(answer(runner, researcher, make_run(researcher)))

    assert (first["columns"]["age"]["n"], second["columns"]["age"]["n"]) == (500, 499)


def test_objections_of_people_not_in_the_dataset_change_nothing(station, researcher):
    runner = station(governance={"id_column": ID_COLUMN})
    runner.objections.add("someone-elsewhere")

    partial = _released(answer(runner, researcher, make_run(researcher)))

    assert partial["columns"]["age"]["n"] == 500
    assert audit_entries(runner.config.audit_log)[0]["cohort"]["excluded"] == 0


def test_objections_without_an_id_column_stop_every_analysis(station, researcher):
    runner = station(governance={})
    runner.objections.add("P0001")

    partial = answer(runner, researcher, make_run(researcher))

    assert partial.error is not None
    assert partial.error["kind"] == "PolicyViolation"
    assert "id_column" in str(partial.error["message"])


def test_the_moment_of_the_task_decides(station, signers, researcher):
    """With a fixed clock: an objection made after the task's moment does not count."""
    moment = NOW - 2 * DAY
    runner = station([signers.sign(study_policy())], clock=lambda: moment)
    runner.objections.add("P0001", at=NOW - DAY)

    partial = _released(answer(runner, researcher, make_run(researcher)))

    assert partial["columns"]["age"]["n"] == 500


def test_a_period_outside_the_policy_under_a_fixed_clock(station, signers, researcher):
    runner = station([signers.sign(study_policy())], clock=lambda: NOW + timedelta(days=31))

    partial = answer(runner, researcher, make_run(researcher))

    assert "policy rule 'period'" in str((partial.error or {})["message"])
