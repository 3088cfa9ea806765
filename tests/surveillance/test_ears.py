"""EARS C1, C2, C3 against R's ``surveillance::earsC`` (values in r_ears.py)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy.stats import norm

from perron.protocol.errors import InputError
from perron.surveillance import ears
from perron.surveillance.ears import ears_c
from perron.surveillance.series import WeeklySeries
from perron.surveillance.weeks import IsoWeek, week_range
from tests.surveillance import r_ears

NEWPORT = WeeklySeries(IsoWeek(*r_ears.FIRST_WEEK), r_ears.OBSERVED)
IN2011 = week_range(IsoWeek(2011, 1), IsoWeek(2011, 52))


def r_alarms(values: tuple[bool | None, ...]) -> np.ndarray:
    """R's alarms with NA read as no alarm (a week that could not be assessed)."""
    return np.array([bool(v) for v in values])


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(ears)

    assert attempted > 0
    assert failed == 0


def test_the_weeks_of_2011_are_rs_range():
    # Prepare
    first, last = r_ears.IN2011_FIRST - 1, r_ears.IN2011_LAST - 1

    # Execute
    weeks = [NEWPORT.start + first, NEWPORT.start + last]

    # Assert
    assert weeks == [IN2011[0], IN2011[-1]]
    assert len(NEWPORT) == 528


def test_c1_matches_the_values_published_in_rs_tests():
    """Published in test-earsC.R: method C1, alpha 0.05, range = the weeks of 2011."""
    # Execute
    found = ears_c(NEWPORT, method="C1", assess=IN2011, alpha=0.05)

    # Assert: the published values have 7 digits.
    np.testing.assert_allclose(
        found.upperbound[:4], r_ears.PUBLISHED_C1_UPPERBOUND, rtol=0, atol=1e-6
    )


@pytest.mark.parametrize(("method", "alpha"), sorted(r_ears.REFERENCE))
def test_upperbound_and_alarm_match_r(method: str, alpha: float):
    # Prepare
    upperbound, alarm = r_ears.REFERENCE[(method, alpha)]

    # Execute
    found = ears_c(NEWPORT, method=method, assess=IN2011, alpha=alpha)

    # Assert: the same arithmetic as R, so agreement to rounding.
    assert found.method == f"ears_{method.lower()}"
    assert [str(w) for w in found.weeks] == [str(w) for w in IN2011]
    np.testing.assert_allclose(found.upperbound, upperbound, rtol=1e-10, atol=0)
    np.testing.assert_array_equal(found.alarm, r_alarms(alarm))
    np.testing.assert_array_equal(found.observed, NEWPORT.counts[365:417])


def test_defaults_are_rs_alpha_and_range_for_c3():
    """earsC(germany, list(method = "C3", baseline = 10, minSigma = 0.5)): alpha 0.025."""
    # Execute
    found = ears_c(NEWPORT, method="C3", baseline=10, min_sigma=0.5)

    # Assert
    assert found.parameters["alpha"] == 0.025
    assert found.weeks[0] == NEWPORT.start + (r_ears.DEFAULT_C3_FIRST - 1)
    assert found.weeks[-1] == NEWPORT.weeks[-1]
    np.testing.assert_allclose(found.upperbound, r_ears.DEFAULT_C3_UPPERBOUND, rtol=1e-10, atol=0)
    np.testing.assert_array_equal(found.alarm, r_alarms(r_ears.DEFAULT_C3_ALARM))


@pytest.mark.parametrize("method", ["C1", "C2", "C3"])
def test_unknown_counts_pass_through_as_rs_na(method: str):
    # Prepare
    counts = NEWPORT.counts.copy()
    counts[np.array(r_ears.NA_POSITIONS) - 1] = np.nan
    upperbound, alarm = r_ears.NA_REFERENCE[method]

    # Execute
    found = ears_c(WeeklySeries(NEWPORT.start, counts), method=method, assess=IN2011, alpha=0.05)

    # Assert: NaN exactly where R has NA; the rest as R; NA alarms are no alarms.
    np.testing.assert_array_equal(np.isnan(found.upperbound), np.isnan(np.array(upperbound)))
    np.testing.assert_allclose(found.upperbound, upperbound, rtol=1e-10, atol=0, equal_nan=True)
    np.testing.assert_array_equal(found.alarm, r_alarms(alarm))


def test_c1_is_the_mean_and_sd_of_the_weeks_just_before():
    # Prepare
    counts = [2, 4, 3, 5, 1, 3, 4, 6, 9]
    series = WeeklySeries(IsoWeek(2023, 50), counts)

    # Execute
    found = ears_c(series, method="C1", alpha=0.01, baseline=4)

    # Assert: week t uses weeks t-4 .. t-1; sample sd (n - 1).
    z = norm.ppf(0.99)
    for row, t in enumerate(range(4, 9)):
        window = np.array(counts[t - 4 : t], dtype=float)
        mean, sd = window.mean(), window.std(ddof=1)
        np.testing.assert_allclose(found.expected[row], mean, rtol=1e-14)
        np.testing.assert_allclose(found.upperbound[row], mean + z * sd, rtol=1e-14)
        np.testing.assert_allclose(found.score[row], (counts[t] - mean) / sd, rtol=1e-14)
    assert found.weeks[0] == IsoWeek(2024, 2)


def test_c3_score_sums_the_last_three_c2_exceedances():
    # Prepare
    c2 = ears_c(NEWPORT, method="C2", alpha=0.05)

    # Execute
    c3 = ears_c(NEWPORT, method="C3", alpha=0.05)

    # Assert: C3(t) = sum over t-2 .. t of max(0, C2 - 1).
    excess = np.maximum(0.0, c2.score - 1.0)
    expected = excess[:-2] + excess[1:-1] + excess[2:]
    assert c3.weeks == c2.weeks[2:]
    np.testing.assert_allclose(c3.score, expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(c3.expected, c2.expected[2:], rtol=0, atol=0)


def test_c3_alarm_follows_rs_upperbound_which_looks_at_the_two_previous_weeks():
    """R's C3 upperbound is max(0, y + sd (z - p)), p the previous weeks' exceedances.

    So (for sd > 0) R alarms iff p > z and y > 0, whatever the week's own C2.
    """
    # Prepare
    c2 = ears_c(NEWPORT, method="C2", alpha=0.05)
    c3 = ears_c(NEWPORT, method="C3", alpha=0.05)
    excess = np.maximum(0.0, c2.score - 1.0)
    previous = excess[:-2] + excess[1:-1]

    # Execute
    rule = (previous > c3.parameters["z"]) & (c3.observed > 0)

    # Assert: 2011-W44 (9 cases, C2 = 3.7, the outbreak's start) has C3 >= z but no alarm.
    np.testing.assert_array_equal(c3.alarm, rule)
    spike = c3.weeks.index(IsoWeek(2011, 44))
    assert c3.observed[spike] == 9
    assert c3.score[spike] >= c3.parameters["z"]
    assert not c3.alarm[spike]
    assert c3.alarm[spike + 1]


def test_min_sigma_floors_the_spread_of_a_flat_baseline():
    # Prepare
    series = WeeklySeries(IsoWeek(2024, 1), [2, 2, 2, 2, 2, 2, 2, 3])

    # Execute
    plain = ears_c(series, alpha=0.05)
    floored = ears_c(series, alpha=0.05, min_sigma=1.0)

    # Assert: sd = 0 alarms on any excess; min_sigma = 1 asks for z * 1 more.
    assert plain.upperbound.tolist() == [2.0]
    assert plain.alarm.tolist() == [True]
    assert plain.score.tolist() == [np.inf]
    np.testing.assert_allclose(floored.upperbound, [2.0 + norm.ppf(0.95)], rtol=1e-15)
    assert floored.alarm.tolist() == [False]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": 2}, "Minimum baseline to use is 3."),
        ({"min_sigma": -2.0}, "min_sigma must be zero or positive"),
        ({"method": "C4"}, "use one of C1, C2, C3"),
        ({"alpha": 1.5}, "alpha must lie between 0 and 1"),
        ({"baseline": 1500}, "The vector of observed is too short"),
        ({"assess": [IsoWeek(2004, 5)]}, "Assess from 2004-W09 on"),
        ({"assess": [IsoWeek(2030, 1)]}, "outside the series"),
    ],
)
def test_bad_input_says_what_to_do(kwargs: dict[str, object], message: str):
    with pytest.raises(InputError, match=message):
        ears_c(NEWPORT, **kwargs)  # type: ignore[arg-type]


def test_a_series_shorter_than_the_baseline_is_refused():
    # Prepare
    series = WeeklySeries(IsoWeek(2024, 1), [1, 2, 3, 4, 5, 6, 7, 8, 9])

    # Execute / Assert: C2 with 7 weeks of baseline needs 10 weeks.
    with pytest.raises(InputError, match="needs more than 9 weeks, the series has 9"):
        ears_c(series, method="C2")
