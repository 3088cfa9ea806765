"""Tests of perron.surveillance.farrington against R's ``surveillance::farringtonFlexible``.

Two kinds of reference:

- the values published in CRAN surveillance ``tests/testthat/test-farringtonFlexible.R``
  (quoted in the tests below, with that file's tolerance: ``expect_equal(...,
  tolerance = 1e-6, scale = 1)``, an absolute 1e-6, as they are printed to 7 digits);
- full runs of R 4.2.2 / surveillance 1.20.3 on ``data(salmonella.agona)`` (312 weeks
  from 1990), quoted in tests/surveillance/r_farrington.py, which
  tests/surveillance/r/farrington.R printed. The sts is the one of the testthat file:
  ``epoch`` the Mondays from 1990-01-01, which is ISO week 1990-W01, so R's 1-based
  position ``i`` is ISO week ``1990-W01 + (i - 1)``.

The GLM is the same deterministic computation as R's (same IRLS start, steps and
stopping rule), so expected and upperbound are asserted to 1e-8 relative; they agree
to about 1e-13.
"""

from __future__ import annotations

import doctest
import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest

from perron.protocol.errors import InputError
from perron.surveillance import farrington as farrington_module
from perron.surveillance.farrington import (
    anscombe_weights,
    farrington_flexible,
    farrington_threshold,
    noufaily_threshold,
    reference_days,
)
from perron.surveillance.series import Detection, WeeklySeries
from perron.surveillance.weeks import IsoWeek
from tests.surveillance import r_farrington as ref

FloatArray = npt.NDArray[np.float64]
FIRST = IsoWeek(1990, 1)
HOLES = {
    "holes_trend": ref.HOLES_TREND,
    "holes_no_trend": ref.HOLES_NO_TREND,
    "holes_first_week": ref.HOLES_FIRST_WEEK,
    "empty_block": ref.HOLES_EMPTY_BLOCK,
}
# Relative agreement asserted for expected and upperbound. The score (y - mu0)/(U - mu0)
# is near 0 where y is near mu0, so it gets an absolute term too: mu0 carries ~1e-15
# relative rounding, so (y - mu0) ~1e-14 absolute at these counts.
RTOL = 1e-8
SCORE_ATOL = 1e-10


def _floats(values: object) -> FloatArray:
    return np.asarray(cast(Sequence[float], values), dtype=np.float64)


def _alarms(values: object) -> npt.NDArray[np.bool_]:
    """R's alarm vector; NA (a week R could not assess) is no alarm."""
    return np.array([bool(v) for v in cast(Sequence[bool | None], values)], dtype=np.bool_)


def _salmonella(run: str = "") -> WeeklySeries:
    counts = np.array(ref.SALMONELLA_OBSERVED, dtype=np.float64)
    counts[np.array(HOLES.get(run, ()), dtype=np.int64) - 1] = np.nan
    return WeeklySeries(FIRST, counts)


def _run(name: str) -> dict[str, object]:
    return cast(dict[str, object], ref.RUNS[name])


def _r_weeks(name: str) -> list[IsoWeek]:
    first, last = cast(tuple[int, int], _run(name)["range"])
    return [FIRST + (i - 1) for i in range(first, last + 1)]


def _assess(name: str, *, default_range: bool = False) -> Detection:
    kwargs = cast(dict[str, Any], _run(name)["kwargs"])
    series = _salmonella(name)
    if default_range:
        return farrington_flexible(series, **kwargs)
    return farrington_flexible(series, assess=_r_weeks(name), **kwargs)


# --- the published values of test-farringtonFlexible.R ------------------------------


def test_weights_are_one_when_every_residual_is_below_the_threshold() -> None:
    """test-farringtonFlexible.R: "gamma = 1 if everything below the threshold"."""
    # Prepare
    s = np.zeros(10)

    # Execute
    weights = anscombe_weights(s, 0.0)

    # Assert
    np.testing.assert_allclose(weights, np.ones(10), rtol=1e-15, atol=0)


def test_weights_match_the_case_checked_by_hand() -> None:
    """test-farringtonFlexible.R: s = c(0, 0, 0, 0, 0, 2, 2, 2, 2, 2), threshold 0 gives
    weights 1.6 (first five) and 0.4 (last five)."""
    # Prepare
    s = np.array([0.0] * 5 + [2.0] * 5)

    # Execute
    weights = anscombe_weights(s, 0.0)

    # Assert
    np.testing.assert_allclose(weights[:5], [1.6] * 5, rtol=1e-14, atol=0)
    np.testing.assert_allclose(weights[5:], [0.4] * 5, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    ("power_trans", "published"),
    [
        ("none", (1.3073128, 8.6926872, 0.0907246, 0.8124165)),
        ("1/2", (1.9891097, 9.3744842, 0.1189986, 0.6857951)),
        ("2/3", (1.8084477, 9.1154825, 0.1094727, 0.7289546)),
    ],
)
def test_farrington_threshold_matches_the_published_values(
    power_trans: str, published: tuple[float, ...]
) -> None:
    """test-farringtonFlexible.R, THRESHOLD FUNCTION FARRINGTON: predFit = 5,
    predSeFit = 0.2, phi = 1, alpha = 0.05, y = 8, method = "delta"."""
    # Execute
    found = farrington_threshold(5.0, 0.2, 1.0, power_trans, 0.05, 8.0)

    # Assert
    np.testing.assert_allclose(tuple(found), published, rtol=0, atol=1e-6)
    assert found.prob <= 1
    assert found.upper > found.lower >= 0


def test_farrington_threshold_rejects_an_improper_exponent() -> None:
    """test-farringtonFlexible.R: skewness.transform "2/88" fails with "proper exponent"."""
    with pytest.raises(InputError, match="proper exponent"):
        farrington_threshold(5.0, 0.2, 1.0, "2/88", 0.05, 8.0)


@pytest.mark.parametrize(
    ("phi", "method", "published"),
    [
        (1.5, "muan", (8.0, 24.0, 0.8597797, 0.4193982)),
        (1.0, "muan", (9.0, 22.0, 0.9093099, 0.4605347)),
        (1.5, "nbPlugin", (1.0, 10.0, 0.03763657, 1.11918153)),
        (1.0, "nbPlugin", (2.0, 9.0, 0.01369527, 1.27061541)),
    ],
)
def test_noufaily_threshold_matches_the_published_values(
    phi: float, method: str, published: tuple[float, ...]
) -> None:
    """test-farringtonFlexible.R, THRESHOLD FUNCTION NOUFAILY: predFit = log(5),
    predSeFit = log(2), skewness.transform "none", alpha = 0.05, y = 11."""
    # Execute
    found = noufaily_threshold(math.log(5), math.log(2), phi, 0.05, 11.0, method)

    # Assert
    np.testing.assert_allclose(tuple(found), published, rtol=0, atol=1e-6)
    assert found.upper > found.lower >= 0


def test_reference_days_are_the_published_ones() -> None:
    """test-farringtonFlexible.R: from Thursday 2013-06-06, b = 3, the reference days are
    2010-06-03, 2013-06-06, 2012-06-07 and 2011-06-09, all Thursdays."""
    # Execute
    days = reference_days(date(2013, 6, 6), 3)

    # Assert
    assert sorted(days) == sorted(
        [date(2010, 6, 3), date(2013, 6, 6), date(2012, 6, 7), date(2011, 6, 9)]
    )
    assert all(day.isoweekday() == 4 for day in days)
    assert [d.isoformat() for d in days] == list(ref.REFERENCE_DAYS_2013_06_06)


def test_reference_days_roll_29_february_as_r_does() -> None:
    """R's seq.Date makes 29 February 2016 one year back 1 March 2015; nearest Monday."""
    # Execute
    days = reference_days(date(2016, 2, 29), 4)

    # Assert
    assert [d.isoformat() for d in days] == list(ref.REFERENCE_DAYS_2016_02_29)


def test_blocks_have_the_published_lengths() -> None:
    """test-farringtonFlexible.R, BLOCKS FUNCTION: dates from 1990-06-07 (1301 weeks),
    day 2013-06-06, b = 3, w = 3: the windows hold w + 1 + b (2w + 1) weeks for p = 1
    and p = 8; p = 8 gives p levels and blocks of each level differ by at most b weeks.
    (Tests the private ``_blocks``, R's ``blocks``, on positions.)"""
    # Prepare
    first = date(1990, 6, 7)
    references = [date(2012, 6, 7), date(2011, 6, 9), date(2010, 6, 3)]
    now = (date(2013, 6, 6) - first).days // 7
    positions = [(day - first).days // 7 for day in references]
    b, w = 3, 3

    # Execute
    one = farrington_module._blocks(now, positions, 1301, w, 1)
    eight = farrington_module._blocks(now, positions, 1301, w, 8)

    # Assert
    assert np.sum(one == 1) == w + 1 + b * (2 * w + 1)
    assert np.sum(eight == 8) == w + 1 + b * (2 * w + 1)
    levels, counts = np.unique(eight[~np.isnan(eight)], return_counts=True)
    assert levels.tolist() == list(range(1, 9))
    assert np.all(np.abs(np.diff(counts[:7])) <= b)


def test_thresholds_match_r_to_full_precision() -> None:
    """The threshold calls of test-farringtonFlexible.R and two more, at R's 17 digits."""
    # Prepare
    log5, log2 = math.log(5), math.log(2)

    # Execute
    found = {
        "delta_none": farrington_threshold(5, 0.2, 1, "none", 0.05, 8),
        "delta_1/2": farrington_threshold(5, 0.2, 1, "1/2", 0.05, 8),
        "delta_2/3": farrington_threshold(5, 0.2, 1, "2/3", 0.05, 8),
        "muan_1.5": noufaily_threshold(log5, log2, 1.5, 0.05, 11, "muan"),
        "muan_1": noufaily_threshold(log5, log2, 1.0, 0.05, 11, "muan"),
        "nbPlugin_1.5": noufaily_threshold(log5, log2, 1.5, 0.05, 11, "nbPlugin"),
        "nbPlugin_1": noufaily_threshold(log5, log2, 1.0, 0.05, 11, "nbPlugin"),
        # a lower end whose 3/2 power is NaN, floored to 0 as R does
        "delta_2/3_small": farrington_threshold(0.3, 0.5, 2.5, "2/3", 0.01, 2),
        "delta_1/2_phi": farrington_threshold(12.5, 3.1, 1.7, "1/2", 0.1, 20),
    }

    # Assert
    assert set(found) == set(ref.THRESHOLDS)
    for name, threshold in found.items():
        np.testing.assert_allclose(
            tuple(threshold), ref.THRESHOLDS[name], rtol=1e-12, atol=1e-15, err_msg=name
        )


# --- full runs on salmonella.agona --------------------------------------------------


def test_salmonella_series_is_the_r_one_on_iso_weeks() -> None:
    """R's epoch starts on Monday 1990-01-01, the Monday of ISO week 1990-W01."""
    # Execute
    series = _salmonella()

    # Assert
    assert FIRST.monday() == date.fromisoformat(ref.SALMONELLA_FIRST_MONDAY)
    assert len(series) == 312
    assert series.mondays[-1] == FIRST.monday() + timedelta(weeks=311)


@pytest.mark.parametrize("name", sorted(set(ref.RUNS) - {"holes_first_week"}))
def test_run_matches_r(name: str) -> None:
    """farringtonFlexible(salm, control) of r/farrington.R, week by week."""
    # Prepare
    run = _run(name)

    # Execute
    found = _assess(name)

    # Assert
    assert found.weeks == tuple(_r_weeks(name))
    np.testing.assert_allclose(found.expected, _floats(run["expected"]), rtol=RTOL, atol=0)
    np.testing.assert_allclose(found.upperbound, _floats(run["upperbound"]), rtol=RTOL, atol=0)
    np.testing.assert_allclose(found.score, _floats(run["score"]), rtol=RTOL, atol=SCORE_ATOL)
    np.testing.assert_array_equal(found.alarm, _alarms(run["alarm"]))
    positions = [week - FIRST for week in found.weeks]
    np.testing.assert_array_equal(found.observed, _salmonella(name).counts[positions])


def test_references_keep_and_drop_the_trend() -> None:
    """The runs exercise both branches of the trend rule (R's control$trend)."""
    # Execute
    kept = {name: _floats(_run(name)["trend"]) for name in ref.RUNS}

    # Assert
    assert kept["defaults"].sum() > 0
    assert (kept["defaults"] == 0).sum() > 0
    assert kept["muan_trend"].sum() > 0
    assert kept["none_trend"].sum() > 0
    assert kept["sqrt_plain"].sum() == 0


@pytest.mark.parametrize("name", ["defaults", "noufaily_alpha_0.1", "testthat_alarms"])
def test_default_assessed_weeks_are_r_default_range(name: str) -> None:
    """R's control$range defaults to (freq * b + w + 1):nrow, here 264:312 for b = 5."""
    # Prepare
    run = _run(name)

    # Execute
    found = _assess(name, default_range=True)

    # Assert
    assert found.weeks == tuple(_r_weeks(name))
    assert run["range"] == (52 * 5 + 3 + 1, 312)
    np.testing.assert_allclose(found.upperbound, _floats(run["upperbound"]), rtol=RTOL, atol=0)


def test_only_alarms_when_expected() -> None:
    """test-farringtonFlexible.R, ALARMS: farringtonFlexible(salm, control =
    list(thresholdMethod = "nbPlugin", alpha = 0.1)): no alarm where 0 cases, and the
    alarms are the weeks above the upperbound."""
    # Execute
    found = _assess("testthat_alarms", default_range=True)

    # Assert
    assert not found.alarm[found.observed == 0].any()
    above = found.observed > np.nan_to_num(found.upperbound, nan=np.inf)  # R's na.rm
    assert above.sum() == found.alarm.sum()
    assert found.alarm.sum() == _alarms(_run("testthat_alarms")["alarm"]).sum() > 0


def test_unknown_first_baseline_week_keeps_one_time_origin() -> None:
    """A deviation from R, documented in farrington.py: where the first baseline week of
    an assessed week is unknown and R keeps a trend, R predicts with the trend measured
    from the first known week but fits it from the first baseline week. Elsewhere the
    results are R's."""
    # Prepare
    name = "holes_first_week"
    run = _run(name)
    weeks = _r_weeks(name)
    b, w = 3, 3
    unknown = set(ref.HOLES_FIRST_WEEK)
    first_baseline = [
        (reference_days(week.monday(), b)[-1] - FIRST.monday()).days // 7 + 1 - w for week in weeks
    ]
    affected = np.array([first in unknown for first in first_baseline])

    # Execute
    found = _assess(name)

    # Assert
    expected = _floats(run["expected"])
    np.testing.assert_allclose(found.expected[~affected], expected[~affected], rtol=RTOL, atol=0)
    differs = ~np.isclose(found.expected, expected, rtol=1e-6, atol=0, equal_nan=True)
    assert differs.any()
    assert not (differs & ~affected).any()


def test_no_convergence_gives_no_assessment() -> None:
    """test-farringtonFlexible.R, NO CONVERGENCE: zeros from 2001-01-01 but one case at
    position 696, range 697:698, noPeriods = 10, b = 5, w = 4, nbPlugin: R's glm does not
    converge, with or without trend, and R gives NA."""
    # Prepare
    counts = np.zeros(698)
    counts[695] = 1
    series = WeeklySeries(IsoWeek.of(date(2001, 1, 1)), counts)

    # Execute
    found = farrington_flexible(
        series,
        assess=[series.start + 696, series.start + 697],
        no_periods=10,
        alpha=0.01,
        b=5,
        w=4,
        weights_threshold=2.58,
        past_weeks_not_included=26,
        p_threshold_trend=1,
        threshold_method="nbPlugin",
        limit54=(4, 5),
    )

    # Assert
    np.testing.assert_array_equal(found.upperbound, _floats(ref.NO_CONVERGENCE_UPPERBOUND))
    assert np.isnan(found.expected).all()
    assert np.isnan(found.score).all()
    assert not found.alarm.any()


def test_all_zero_baseline_follows_r_iterations() -> None:
    """The same zeros under the delta method: R's IRLS stops (|dev - dev_old| / (|dev| +
    0.1) < 1e-8) at mu near 0, and so does this port, step for step."""
    # Prepare
    counts = np.zeros(698)
    counts[695] = 1
    series = WeeklySeries(IsoWeek.of(date(2001, 1, 1)), counts)

    # Execute
    found = farrington_flexible(
        series,
        assess=[series.start + 696, series.start + 697],
        alpha=0.01,
        b=5,
        w=4,
        past_weeks_not_included=26,
        p_threshold_trend=1,
        limit54=(0, 4),
    )

    # Assert
    np.testing.assert_allclose(found.expected, ref.ALL_ZERO_EXPECTED, rtol=RTOL, atol=0)
    np.testing.assert_allclose(found.upperbound, ref.ALL_ZERO_UPPERBOUND, rtol=RTOL, atol=0)
    np.testing.assert_allclose(found.score, ref.ALL_ZERO_SCORE, rtol=RTOL, atol=0)
    assert not found.alarm.any()


# --- behaviour ----------------------------------------------------------------------


def _seasonal(seed: int, years: int = 7) -> tuple[WeeklySeries, FloatArray]:
    """Poisson counts with a yearly cycle, mean 2.7 to 13.5 (fixed seed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(52 * years)
    mean = np.exp(2.0 + 0.8 * np.sin(2 * np.pi * t / 52.18))
    return WeeklySeries(IsoWeek(2017, 1), rng.poisson(mean).astype(np.float64)), mean


def test_planted_outbreak_alarms_in_its_weeks_and_not_before() -> None:
    # Prepare
    series, mean = _seasonal(20240611)
    counts = series.counts.copy()
    outbreak = np.arange(len(counts) - 12, len(counts) - 8)
    counts[outbreak] += np.round(3 * mean[outbreak] + 10)
    planted = WeeklySeries(series.start, counts)
    last_year = planted.weeks[-52:]

    # Execute
    noufaily = farrington_flexible(
        planted,
        assess=last_year,
        no_periods=10,
        past_weeks_not_included=26,
        threshold_method="nbPlugin",
        alpha=0.01,
    )
    original = farrington_flexible(planted, assess=last_year, alpha=0.01)

    # Assert
    outbreak_weeks = [planted.start + int(k) for k in outbreak]
    for found in (noufaily, original):
        assert found.alarm_weeks[: len(outbreak_weeks)] == outbreak_weeks
        first = found.weeks.index(outbreak_weeks[0])
        assert not found.alarm[:first].any()
        assert np.all(found.score[first : first + len(outbreak)] > 1)


def test_limit54_withholds_an_alarm_on_too_few_recent_cases() -> None:
    # Prepare: a quiet series whose last week has 4 cases after 3 empty weeks
    counts = np.zeros(6 * 52)
    counts[::9] = 1
    counts[-4:] = [0, 0, 0, 4]
    series = WeeklySeries(IsoWeek(2015, 1), counts)
    last = [series.weeks[-1]]

    # Execute
    default = farrington_flexible(series, assess=last)
    loose = farrington_flexible(series, assess=last, limit54=(4, 4))

    # Assert: 4 < 5 cases in 4 weeks: R's NA upperbound and expected, its score kept
    assert not default.alarm[0]
    assert np.isnan(default.upperbound[0])
    assert np.isnan(default.expected[0])
    assert default.score[0] > 1
    assert loose.alarm[0]
    assert loose.score[0] == default.score[0]
    assert loose.upperbound[0] < 4


def test_unknown_counts() -> None:
    # Prepare
    series, _ = _seasonal(7)
    counts = series.counts.copy()
    counts[-1] = np.nan  # the assessed week itself
    counts[-3] = np.nan  # in the limit54 window of the weeks after it
    counts[-53] = np.nan  # in the baseline, one year back
    holes = WeeklySeries(series.start, counts)
    weeks = holes.weeks[-4:]

    # Execute
    found = farrington_flexible(holes, assess=weeks, limit54=(0, 2))

    # Assert: week -4 is assessed from a baseline with one unknown count
    assert np.isfinite(found.upperbound[0])
    # weeks -3 and -2 have an unknown count in their last two weeks: no decision
    assert np.isnan(found.upperbound[1:3]).all()
    assert np.isnan(found.expected[1:3]).all()
    # week -1: unknown count
    assert np.isnan(found.observed[3])
    assert np.isnan(found.score[3])
    assert np.isnan(found.expected[3])
    assert not found.alarm[1:].any()


def test_a_week_whose_own_block_is_unknown_is_not_assessed() -> None:
    """With every count of the reference windows unknown, the seasonal factor has no
    level for the assessed week (R fails: "factor seasgroups has new level")."""
    # Prepare
    counts = np.array(ref.SALMONELLA_OBSERVED, dtype=np.float64)
    week = FIRST + 299
    for day in reference_days(week.monday(), 3)[1:]:
        centre = (day - FIRST.monday()).days // 7
        counts[centre - 3 : centre + 4] = np.nan
    series = WeeklySeries(FIRST, counts)

    # Execute
    found = farrington_flexible(
        series, assess=[week], b=3, no_periods=10, past_weeks_not_included=26, limit54=(0, 4)
    )

    # Assert
    assert np.isnan(found.expected[0])
    assert np.isnan(found.upperbound[0])
    assert not found.alarm[0]


def test_detection_records_method_and_settings() -> None:
    # Prepare
    series, _ = _seasonal(3)

    # Execute
    found = farrington_flexible(series, assess=series.weeks[-2:], w=2)

    # Assert
    assert found.method == "farrington_flexible"
    assert found.parameters == {
        "b": 5,
        "w": 2,
        "reweight": True,
        "weights_threshold": 2.58,
        "trend": True,
        "p_threshold_trend": 0.05,
        "no_periods": 1,
        "past_weeks_not_included": 2,
        "alpha": 0.05,
        "limit54": (5, 4),
        "power_trans": "2/3",
        "threshold_method": "delta",
    }


def test_doctests_run() -> None:
    # Execute
    failed, attempted = doctest.testmod(farrington_module)

    # Assert
    assert attempted > 0
    assert failed == 0


# --- input errors -------------------------------------------------------------------


def test_too_many_years_back_is_an_input_error() -> None:
    """test-farringtonFlexible.R: range = 250 with b = 10 fails with "Some reference"."""
    # Prepare
    series = _salmonella()

    # Execute / Assert
    with pytest.raises(InputError, match="Some reference time points did not exist"):
        farrington_flexible(
            series,
            assess=[FIRST + 249],
            no_periods=10,
            b=10,
            w=3,
            past_weeks_not_included=26,
            p_threshold_trend=1,
            threshold_method="muan",
        )


def test_too_short_a_series_is_an_input_error() -> None:
    # Prepare
    series = WeeklySeries(IsoWeek(2020, 1), np.ones(100))

    # Execute / Assert
    with pytest.raises(InputError, match="too short for b=5 years"):
        farrington_flexible(series)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"power_trans": "3/4"}, "proper exponent"),
        ({"threshold_method": "poisson"}, "threshold_method 'poisson' is unknown"),
        ({"limit54": (5, 0)}, "out of bounds"),
        ({"limit54": (-1, 4)}, "out of bounds"),
        ({"alpha": 1.0}, "alpha must lie between 0 and 1"),
        ({"b": 0}, "b must be at least 1"),
        ({"no_periods": 0}, "no_periods must be at least 1"),
        ({"past_weeks_not_included": -1}, "past_weeks_not_included must be 0 or more"),
        ({"no_periods": 60}, "no_periods=60 needs at least 59 weeks"),
    ],
)
def test_bad_settings_are_input_errors(settings: dict[str, Any], message: str) -> None:
    # Prepare
    series = _salmonella()

    # Execute / Assert
    with pytest.raises(InputError, match=message):
        farrington_flexible(series, assess=[series.weeks[-1]], **settings)


def test_a_week_outside_the_series_is_an_input_error() -> None:
    # Prepare
    series = _salmonella()

    # Execute / Assert
    with pytest.raises(InputError, match="outside the series"):
        farrington_flexible(series, assess=[series.weeks[-1] + 1])


def test_noufaily_threshold_rejects_the_delta_method() -> None:
    with pytest.raises(InputError, match="not a Noufaily threshold"):
        noufaily_threshold(1.0, 0.1, 1.0, 0.05, 3.0, "delta")


def test_farrington_threshold_needs_a_positive_prediction() -> None:
    with pytest.raises(InputError, match="positive expected count"):
        farrington_threshold(0.0, 0.1, 1.0, "2/3", 0.05, 3.0)
