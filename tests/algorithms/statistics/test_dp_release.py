"""Differentially private releases through OpenDP: calibrated, combined, budgeted.

The noise comes from OpenDP's cryptographically secure sampler, which cannot be
seeded. Tests on the noise therefore either check OpenDP's own accounting (the
sensitivity from the transformation's stability map, the loss from the
measurement's privacy map) exactly, or compare results with a tolerance of many
noise standard deviations, or test the noise's distribution at an explicit level
(p < 1e-6 for a correct sampler: one false alarm in a million runs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perron
from perron.algorithms.core.base import StationContext
from perron.algorithms.statistics.dp_release import DPRelease
from perron.client.grid import InMemoryGrid
from perron.client.session import Session
from perron.crypto.keys import KeyPair
from perron.data.frame import FrameSource
from perron.governance.policy import Budget, StudyPolicy
from perron.privacy import dp
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError, NonNumericColumn, OutsidePolicy
from perron.protocol.messages import Partial, Task
from perron.station.config import StationConfig
from perron.station.policies import StaticPolicies
from perron.station.runner import StationRunner
from tests.station.support import (
    DATASET,
    HOLDER,
    ID_COLUMN,
    Signers,
    answer,
    audit_entries,
    make_run,
    study_policy,
    with_ids,
)

#: A result is within this many standard deviations of its noise of the truth;
#: for Laplace noise P(|X| > 20 sd) < 1e-12 (sums of two Laplace draws: < 1e-8).
NOISE_SDS = 20
#: The level of the distribution tests.
LEVEL = 1e-6


# -- accuracy: large epsilon, results close to the truth --------------------------------


@pytest.fixture
def whas_session(whas500: pd.DataFrame, split: Any) -> Session:
    return perron.simulate(split(whas500, (0.6, 0.4)))


def test_a_noisy_count_sum_and_mean_are_close_to_the_truth(whas_session, whas500):
    age = whas500["age"]

    count = whas_session.dp_count("age", epsilon=20.0)
    total = whas_session.dp_sum("age", (0, 120), epsilon=20.0)
    mean = whas_session.dp_mean("age", (0, 120), epsilon=20.0)

    assert abs(count.value - age.count()) <= NOISE_SDS * count.std_error[0]
    assert abs(total.value - age.sum()) <= NOISE_SDS * total.std_error[0]
    assert abs(mean.value - age.mean()) <= NOISE_SDS * mean.std_error[0]
    assert mean.std_error[0] < 0.2  # the noise is small at this epsilon
    assert count.nobs_per_station == {}  # no exact row count leaves a station


def test_a_noisy_histogram_is_close_to_the_bin_counts(whas_session, whas500):
    edges = [30.0, 50.0, 70.0, 90.0]

    result = whas_session.dp_histogram("age", edges, epsilon=20.0)

    age = whas500["age"]
    expected = [
        (age < 30).sum(),
        *np.histogram(age[age < 90], bins=edges)[0],
        (age >= 90).sum(),
    ]
    assert np.all(np.abs(result.estimate - expected) <= NOISE_SDS * result.std_error)
    assert result.counts.shape == (3,)
    frame = result.to_frame()
    assert list(frame.columns) == ["left", "right", "count", "std_error"]
    assert len(frame) == 3


def test_the_coordinator_adds_up_the_stations_noisy_answers(whas_session):
    result = whas_session.dp_count("age", epsilon=1.0)

    assert result.value == sum(v[0] for v in result.per_station.values())
    assert set(result.per_station) == {"s0", "s1"}
    table = result.to_frame()
    assert list(table.index) == ["s0", "s1", "combined"]
    assert table.loc["combined", "estimate"] == result.value
    assert result.budget == {}  # a simulation keeps no budget


def test_a_station_releases_noisy_numbers_and_their_accounting_only():
    source = FrameSource(pd.DataFrame({"x": np.arange(100.0)}))
    context = StationContext("s", DisclosurePolicy())
    params = {"statistic": "mean", "column": "x", "epsilon": 1.0, "bounds": [0, 100]}

    output = DPRelease.station_step(source, params, context)

    assert set(output.payload) == {"statistic", "values", "scales", "sensitivities", "epsilon"}
    assert len(output.payload["values"]) == 2  # a noisy sum and a noisy count
    (decision,) = output.decisions
    assert (decision.rule, decision.threshold, decision.outcome) == (
        "differential_privacy",
        output.payload["epsilon"],
        "passed",
    )


# -- the noise scale is the mechanism's definition ---------------------------------------


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 1.0, 3.0])
def test_the_scale_of_a_count_is_one_over_epsilon(epsilon):
    query = dp.noisy_count(epsilon)

    assert query.sensitivities == (1.0,)
    assert query.scales[0] == pytest.approx(1 / epsilon, rel=1e-12)
    assert query.epsilon <= epsilon
    assert query.measurement.map(1) == query.epsilon  # OpenDP's privacy map


@pytest.mark.parametrize(
    ("bounds", "sensitivity"),
    [
        ((0.0, 100.0), 100.0),  # bounds of one sign: max(|lower|, |upper|)
        ((-120.0, -20.0), 120.0),
        ((2.0, 3.0), 3.0),
        ((-5.0, 3.0), 8.0),  # mixed signs: OpenDP's bound is upper - lower
    ],
)
def test_the_scale_of_a_clamped_sum_is_its_bound_sensitivity_over_epsilon(bounds, sensitivity):
    query = dp.noisy_sum(bounds, 0.5)

    # OpenDP adds a term for floating-point rounding of up to SIZE_LIMIT values.
    assert query.sensitivities[0] == pytest.approx(sensitivity, rel=1e-6)
    assert query.sensitivities[0] >= sensitivity
    assert query.scales[0] == pytest.approx(query.sensitivities[0] / 0.5, rel=1e-12)
    assert query.epsilon == pytest.approx(0.5, rel=1e-12)
    assert query.epsilon <= 0.5


def test_a_mean_spends_half_of_epsilon_on_its_sum_and_half_on_its_count():
    query = dp.noisy_mean((0.0, 10.0), 1.0)

    sum_scale, count_scale = query.scales
    assert sum_scale == pytest.approx(query.sensitivities[0] / 0.5, rel=1e-12)
    assert count_scale == pytest.approx(1 / 0.5, rel=1e-12)
    assert query.epsilon == pytest.approx(1.0, rel=1e-12)  # basic composition: they add up
    assert query.epsilon <= 1.0


def test_every_bin_of_a_histogram_has_scale_one_over_epsilon():
    query = dp.noisy_histogram([0.0, 1.0, 2.0], 0.25)

    assert query.sensitivities == (1.0,) * 4  # one row changes one count by one
    assert query.scales == pytest.approx((4.0,) * 4, rel=1e-12)


def test_the_scales_reach_the_researcher(whas_session):
    result = whas_session.dp_sum("age", (0, 120), epsilon=0.5)

    for station in ("s0", "s1"):
        (scale,) = result.scales[station]
        assert scale == pytest.approx(120 / 0.5, rel=1e-6)
        assert result.epsilon[station] <= 0.5
    assert result.std_error[0] == pytest.approx(math.sqrt(2 * 2 * (120 / 0.5) ** 2), rel=1e-6)


def test_the_noise_of_a_sum_is_laplace_with_the_reported_scale():
    values = np.array([10.0, 20.0, 30.0, 250.0])  # 250 is clamped to 100
    query = dp.noisy_sum((0.0, 100.0), 1.0)
    scale = query.scales[0]

    noise = np.array([query.release(values)[0] - 160.0 for _ in range(4000)])

    assert stats.kstest(noise, stats.laplace(scale=scale).cdf).pvalue > LEVEL
    # The test has power: a noise twice as wide would be caught.
    assert stats.kstest(noise, stats.laplace(scale=2 * scale).cdf).pvalue < LEVEL


def test_the_noise_of_a_count_is_discrete_laplace_with_the_reported_scale():
    query = dp.noisy_count(0.5)
    a = 1 / query.scales[0]  # scipy's dlaplace: P(k) = tanh(a/2) exp(-a |k|)

    noise = np.array([query.release(np.zeros(7))[0] - 7 for _ in range(4000)])

    assert np.issubdtype(noise.dtype, np.integer)
    inner = np.arange(-8, 9)
    observed = [np.sum(noise < -8), *[np.sum(noise == k) for k in inner], np.sum(noise > 8)]
    law = stats.dlaplace(a)
    expected = np.array([law.cdf(-9), *law.pmf(inner), law.sf(8)]) * noise.size
    assert stats.chisquare(observed, expected).pvalue > LEVEL


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.0, -1.0, math.nan, math.inf, True, "0.1"])
def test_an_epsilon_that_is_not_a_positive_finite_number_is_refused(whas_session, epsilon):
    with pytest.raises(InputError, match="epsilon"):
        whas_session.dp_count("age", epsilon=epsilon)


def test_a_sum_or_mean_without_bounds_is_refused(whas_session):
    with pytest.raises(InputError, match="clamping bounds"):
        DPRelease("sum", "age", 1.0)
    with pytest.raises(InputError, match="clamping bounds"):
        DPRelease("mean", "age", 1.0)
    with pytest.raises(InputError, match="lower below upper"):
        whas_session.dp_mean("age", (120, 0), epsilon=1.0)
    with pytest.raises(InputError, match="two numbers"):
        whas_session.dp_sum("age", (0,), epsilon=1.0)


def test_bounds_opendp_cannot_calibrate_are_refused_naming_opendp():
    with pytest.raises(InputError, match="OpenDP cannot calibrate"):
        dp.noisy_sum((0.0, 1e308), 1.0)


def test_bad_edges_and_statistics_are_refused(whas_session):
    with pytest.raises(InputError, match="increasing"):
        whas_session.dp_histogram("age", [50, 40], epsilon=1.0)
    with pytest.raises(InputError, match="bin edges"):
        DPRelease("histogram", "age", 1.0)
    with pytest.raises(InputError, match="statistic"):
        DPRelease("median", "age", 1.0)  # type: ignore[arg-type]


def test_a_non_numeric_column_is_refused_by_the_station():
    session = perron.simulate({"a": pd.DataFrame({"sex": ["f", "m"] * 20})})

    with pytest.raises(NonNumericColumn, match="not numeric"):
        session.dp_sum("sex", (0, 1), epsilon=1.0)


def test_a_station_checks_the_query_itself():
    source = FrameSource(pd.DataFrame({"x": np.arange(10.0)}))
    context = StationContext("s", DisclosurePolicy())

    with pytest.raises(InputError, match="epsilon"):
        DPRelease.station_step(source, {"statistic": "count", "column": "x"}, context)
    with pytest.raises(InputError, match="clamping bounds"):
        DPRelease.station_step(source, {"statistic": "sum", "column": "x", "epsilon": 1.0}, context)


# -- the budget: a governed station ------------------------------------------------------

StationFactory = Callable[[StudyPolicy], StationRunner]


@pytest.fixture
def governed(
    tmp_path: Path, whas500: pd.DataFrame, researcher: KeyPair, signers: Signers
) -> Iterator[Callable[[StudyPolicy], tuple[Session, StationRunner]]]:
    """A session whose one station runs under ``policy`` (signed by the holder's signers).

    The station is a real :class:`StationRunner` (policy book, task counter, audit
    log); the grid signs each task as the researcher and opens the sealed answer.
    """
    made: list[StationRunner] = []

    def make(policy: StudyPolicy) -> tuple[Session, StationRunner]:
        folder = tmp_path / "station"
        folder.mkdir()
        with_ids(whas500).to_csv(folder / "cohort.csv", index=False)
        KeyPair.generate().save(folder / "keys")
        (folder / "station.token").write_text("ps_unused")
        raw = {
            "name": "north",
            "organisation": HOLDER,
            "hub_url": "http://127.0.0.1:9",
            "dataset": "cohort.csv",
            "governance": {
                "dataset_name": DATASET,
                "id_column": ID_COLUMN,
                "signers": signers.config(),
            },
        }
        runner = StationRunner(
            StationConfig.from_mapping(raw, folder),
            policies=StaticPolicies([signers.sign(policy)]),
        )
        made.append(runner)

        def handle(task: Task) -> Partial:
            return answer(
                runner, researcher, make_run(researcher, task.algorithm, dict(task.params))
            )

        return Session(InMemoryGrid({"north": handle})), runner

    yield make
    for runner in made:
        runner.close()


@pytest.fixture
def researcher() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def signers() -> Signers:
    return Signers(KeyPair.generate(), KeyPair.generate())


def _dp_policy(**changes: Any) -> StudyPolicy:
    return study_policy(**{"algorithms": {"dp_release": {}, "summary": {}}, **changes})


def test_the_budget_is_charged_shown_and_refused_at_exhaustion(governed):
    policy = _dp_policy(budget=Budget(epsilon=1.0))
    session, runner = governed(policy)

    first = session.dp_count("age", epsilon=0.4)
    second = session.dp_mean("age", (0, 120), epsilon=0.4)
    with pytest.raises(OutsidePolicy, match="policy rule 'budget'") as refused:
        session.dp_count("age", epsilon=0.4)  # 0.8 spent: 0.4 more would exceed 1.0
    last = session.dp_histogram("age", [40, 60, 80], epsilon=0.2)  # exactly what is left

    assert first.budget["north"] == pytest.approx({"epsilon": 1.0, "spent": 0.4, "remaining": 0.6})
    assert second.budget["north"] == pytest.approx({"epsilon": 1.0, "spent": 0.8, "remaining": 0.2})
    assert last.budget["north"] == pytest.approx({"epsilon": 1.0, "spent": 1.0, "remaining": 0.0})
    assert "spent 0.8" in str(refused.value)
    assert runner.counter.spent(policy.policy_id) == pytest.approx(1.0)
    entries = audit_entries(runner.config.audit_log)
    assert [entry["rule"] for entry in entries] == [None, None, "budget", None]
    assert [entry["budget"]["spent"] for entry in entries] == pytest.approx([0.4, 0.8, 0.8, 1.0])
    assert entries[0]["released"] == [
        "budget",
        "epsilon",
        "scales",
        "sensitivities",
        "statistic",
        "values",
    ]
    with pytest.raises(OutsidePolicy, match="policy rule 'budget'"):
        session.dp_count("age", epsilon=1e-3)  # nothing is left


def test_an_exact_task_spends_no_budget(governed):
    policy = _dp_policy(budget=Budget(epsilon=1.0))
    session, runner = governed(policy)

    session.summary(["age"], quantiles=None)

    assert runner.counter.spent(policy.policy_id) == 0.0
    (entry,) = audit_entries(runner.config.audit_log)
    assert entry["budget"] == {"epsilon": 1.0, "spent": 0.0, "remaining": 1.0}


def test_a_policy_without_a_budget_refuses_noisy_queries_naming_the_rule(governed):
    session, runner = governed(_dp_policy())

    with pytest.raises(OutsidePolicy, match="policy rule 'budget'") as refused:
        session.dp_sum("age", (0, 120), epsilon=0.1)

    assert "grants no privacy budget" in str(refused.value)
    (entry,) = audit_entries(runner.config.audit_log)
    assert (entry["outcome"], entry["rule"], entry["budget"]) == ("refused", "budget", None)


def test_the_holder_caps_epsilon_per_query_through_the_policy(governed):
    policy = _dp_policy(
        algorithms={"dp_release": {"epsilon": {"max": 0.5}}}, budget=Budget(epsilon=5.0)
    )
    session, runner = governed(policy)

    with pytest.raises(OutsidePolicy, match="policy rule 'parameter'"):
        session.dp_count("age", epsilon=0.6)
    allowed = session.dp_count("age", epsilon=0.5)

    assert allowed.budget["north"]["spent"] == pytest.approx(0.5)
    assert runner.counter.spent(policy.policy_id) == pytest.approx(0.5)
