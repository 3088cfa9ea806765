"""Feasibility counts (Beacon v2 precision) and the station's differencing guard.

The attack: the requester knows that the target is the only woman aged 54 at the
hospital and wants to learn whether she had a myocardial infarction (I21). Two
cohorts that differ only by her give it away; rounding alone falls to padding the
two cohorts until the rounding boundary lies between them; the guard refuses the
near copy and locks the requester out after repeated attempts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import perron
from perron import DisclosurePolicy
from perron.algorithms.feasibility.counts import release
from perron.client.session import Session
from perron.data.cohort import Cohort
from perron.data.frame import FrameSource
from perron.protocol.errors import DisclosureBlocked, InputError, LooseningRejected
from perron.protocol.messages import Task
from perron.station.node import Station

NO_GUARD = DisclosurePolicy(count_precision="exact", min_difference=0, max_repeats=10_000)
ROUNDING_ONLY = DisclosurePolicy(min_difference=0, max_repeats=10_000)


def _hospital(target_has_mi: bool, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 91, n),
            "sex": rng.choice(["F", "M"], n),
            "icd10": rng.choice(["I21.9", "I50.9", "E11.9", "C50.9"], n, p=[0.3, 0.3, 0.2, 0.2]),
            "admitted": [
                f"20{rng.integers(15, 24)}-0{rng.integers(1, 10)}-1{rng.integers(0, 9)}"
                for _ in range(n)
            ],
        }
    )
    women_54 = frame.index[(frame["age"] == 54) & (frame["sex"] == "F")]
    frame = frame.drop(index=women_54[1:]).reset_index(drop=True)
    target = (frame["age"] == 54) & (frame["sex"] == "F")
    assert target.sum() == 1
    frame.loc[target, "icd10"] = "I21.4" if target_has_mi else "E11.9"
    return frame


def _women_with_mi(low: int, high: int) -> list[dict[str, object]]:
    return [
        {"column": "sex", "in": ["F"]},
        {"column": "age", "between": [low, high]},
        {"column": "icd10", "prefix": ["I21"]},
    ]


def _padding_attack(session: Session) -> bool | None:
    """Compare 'women 54..54+k with MI' and 'women 55..54+k with MI' for growing k; a
    difference means the target had an MI; None when the stations stopped the attack."""
    for k in range(1, 36):
        try:
            with_her = session.feasibility(_women_with_mi(54, 54 + k)).counts["hospital"]
            without = session.feasibility(_women_with_mi(55, 54 + k)).counts["hospital"]
        except DisclosureBlocked:
            return None
        if with_her.text != without.text:
            return True
    return False


@pytest.mark.parametrize("target_has_mi", [True, False])
def test_without_the_rules_two_exact_counts_reveal_the_target(target_has_mi):
    session = perron.simulate({"hospital": _hospital(target_has_mi)}, disclosure=NO_GUARD)

    with_her = session.feasibility(_women_with_mi(54, 60)).counts["hospital"]
    without = session.feasibility(_women_with_mi(55, 60)).counts["hospital"]

    assert with_her.value is not None
    assert without.value is not None
    assert (with_her.value - without.value == 1) is target_has_mi


@pytest.mark.parametrize("target_has_mi", [True, False])
def test_rounding_alone_falls_to_padding(target_has_mi):
    session = perron.simulate({"hospital": _hospital(target_has_mi)}, disclosure=ROUNDING_ONLY)

    assert _padding_attack(session) is target_has_mi


@pytest.mark.parametrize("target_has_mi", [True, False])
def test_with_the_rules_the_attack_is_refused_and_the_requester_locked_out(target_has_mi):
    session = perron.simulate({"hospital": _hospital(target_has_mi)})

    assert _padding_attack(session) is None  # the first near copy was refused
    for _ in range(2):  # asking the near copy again: three refusals in all
        with pytest.raises(DisclosureBlocked, match="min_difference") as refused:
            session.feasibility(_women_with_mi(55, 55))
        message = str(refused.value)
        assert "hospital" in message
        assert message.count("10") == 1  # the threshold, and no count
    with pytest.raises(DisclosureBlocked, match="lockout"):
        session.feasibility([{"column": "age", "between": [20, 90]}])


def test_counts_equal_pandas_and_carry_the_holders_precision():
    frames = {"north": _hospital(True, seed=1), "south": _hospital(False, seed=2)}
    cohort: list[dict[str, Any]] = [
        {"column": "age", "between": [40, 70]},
        {"column": "icd10", "prefix": ["I21", "I50"]},
        {"column": "admitted", "between": ["2018-01-01", "2021-12-31"]},
    ]
    policies = {"north": NO_GUARD, "south": DisclosurePolicy(count_round=50)}
    result = perron.simulate(frames, disclosure=policies).feasibility(cohort)

    expected = {}
    for name, frame in frames.items():
        rows = (
            frame["age"].between(40, 70)
            & frame["icd10"].str.startswith(("I21", "I50"))
            & frame["admitted"].between("2018-01-01", "2021-12-31")
        )
        expected[name] = int(rows.sum())
    assert result.counts["north"].value == expected["north"]
    assert result.counts["north"].precision == "exact"
    assert result.counts["south"].value == -(-expected["south"] // 50) * 50
    assert result.low == result.high == result.counts["north"].value + result.counts["south"].value


def test_small_counts_and_imprecise_counts_give_a_range():
    frames = {"a": pd.DataFrame({"age": range(30, 35)}), "b": pd.DataFrame({"age": range(30, 90)})}
    policies = {"b": DisclosurePolicy(count_precision="imprecise")}
    result = perron.simulate(frames, disclosure=policies).feasibility(
        [{"column": "age", "between": [0, 100]}]
    )

    assert result.counts["a"].text == "< 10"
    assert result.counts["b"].text == ">= 10"
    assert (result.low, result.high) == (10, None)
    assert result.total_text == ">= 10"
    assert release(9, DisclosurePolicy()).value is None


def test_the_same_cohort_may_be_counted_max_repeats_times():
    session = perron.simulate({"h": _hospital(True)})
    cohort = [{"column": "age", "between": [30, 80]}]
    for _ in range(3):
        session.feasibility(cohort)
    with pytest.raises(DisclosureBlocked, match="max_repeats"):
        session.feasibility(cohort)


def test_the_ledger_is_per_requester():
    station = Station("h", FrameSource(_hospital(True)))
    first = {"cohort": _women_with_mi(54, 60)}
    second = {"cohort": _women_with_mi(55, 60)}
    assert station.handle(Task("feasibility", first), requester="ann").error is None
    refused = station.handle(Task("feasibility", second), requester="ann")
    assert refused.error is not None
    assert "min_difference" in str(refused.error)
    assert station.handle(Task("feasibility", second), requester="bob").error is None


def test_a_request_may_tighten_but_not_loosen_the_count_rules():
    session = perron.simulate({"h": _hospital(True)})
    cohort = [{"column": "age", "between": [30, 80]}]
    tight = session.feasibility(cohort, disclosure={"count_round": 100})
    assert tight.counts["h"].value is not None
    assert tight.counts["h"].value % 100 == 0
    with pytest.raises(LooseningRejected):
        session.feasibility(
            [{"column": "age", "between": [20, 80]}], disclosure={"count_precision": "exact"}
        )


@pytest.mark.parametrize(
    ("cohort", "message"),
    [
        ([], "non-empty list"),
        ([{"between": [1, 2]}], "names no column"),
        ([{"column": "age", "near": [50]}], "one of"),
        ([{"column": "age", "between": [50]}], "low, high"),
        ([{"column": "age", "between": 50}], "list of values"),
        ([{"column": "icd10", "prefix": [21]}], "codes"),
        ([{"column": "sex", "between": [1, 2]}], "compared"),
    ],
)
def test_malformed_cohorts_are_named(cohort, message):
    session = perron.simulate({"h": _hospital(True)})
    with pytest.raises(InputError, match=message):
        session.feasibility(cohort)


def test_an_unknown_column_is_named():
    session = perron.simulate({"h": _hospital(True)})
    with pytest.raises(InputError, match="'smoker' does not exist"):
        session.feasibility([{"column": "smoker", "in": ["yes"]}])


def test_a_cohort_and_its_difference_with_missing_values():
    frame = pd.DataFrame({"age": [50, 51, None, 53], "sex": ["F", None, "F", "M"]})
    data = FrameSource(frame)
    women = Cohort.from_wire([{"column": "sex", "in": ["F"]}])
    fifties = Cohort.from_wire([{"column": "age", "between": [50, 59]}])
    assert women.count(data) == 2
    assert fifties.count(data) == 3
    # in exactly one: 51 (no sex), the woman without age, 53 (man)
    assert women.difference(fifties, data) == 3
    assert women.difference(women, data) == 0


def test_presence_at_several_holders_counts_the_cohorts_linked_records():
    rng = np.random.default_rng(8)
    people = [f"p{i:04d}" for i in range(600)]
    frames = {}
    for name, share in (("hospital", 0.7), ("insurer", 0.6)):
        chosen = [p for p in people if rng.random() < share]
        frames[name] = pd.DataFrame({"pid": chosen, "age": rng.integers(20, 90, len(chosen))})
    cohort: list[dict[str, Any]] = [{"column": "age", "between": [50, 80]}]
    session = perron.simulate(frames, link_column="pid", disclosure=DisclosurePolicy(min_cell=1))

    result = session.feasibility(cohort, linked=True)

    inside = {
        name: set(frame.loc[frame["age"].between(50, 80), "pid"]) for name, frame in frames.items()
    }
    assert result.linked is not None
    assert result.linked.sizes == {name: float(len(keys)) for name, keys in inside.items()}
    assert result.linked.overlap == len(inside["hospital"] & inside["insurer"])
    assert "linked across holders" in str(result)
