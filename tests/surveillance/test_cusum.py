"""The NB CUSUM and GLR detector against R's ``surveillance::algo.glrnb`` (r_cusum.py)."""

from __future__ import annotations

import doctest
from typing import cast

import numpy as np
import pytest

from perron.protocol.errors import ConvergenceFailed, InputError, ModelError
from perron.surveillance import cusum
from perron.surveillance.cusum import nb_cusum
from perron.surveillance.series import Detection, WeeklySeries
from perron.surveillance.weeks import IsoWeek
from tests.surveillance import r_cusum as ref

# R's test series has no calendar: week t = 1..120 is placed from 2020-W01 on.
SERIES = WeeklySeries(IsoWeek(2020, 1), ref.X)
MU0 = np.array(ref.MU0)
X = np.array(ref.X, dtype=float)
# mu0 = NULL, range = 53:120: the first 52 weeks are the baseline.
LATER = SERIES.weeks[52:]


def coefficients_of(found: Detection) -> tuple[float, ...]:
    """The fitted (intercept, cos, sin) of the mu0 model."""
    return cast(tuple[float, ...], found.parameters["mu0_coefficients"])


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(cusum)

    assert attempted > 0
    assert failed == 0


def test_the_quoted_mu0_is_the_simulations_mean():
    # Prepare
    t = np.arange(1, 121)

    # Execute
    mu0 = np.exp(1.5 + 0.6 * np.cos(2 * np.pi / 52 * t) + 0.6 * np.sin(2 * np.pi / 52 * t))

    # Assert
    np.testing.assert_allclose(mu0, MU0, rtol=1e-14, atol=0)


def test_glr_matches_the_values_published_in_rs_tests():
    """test-algo.glrnb.R: c.ARL = 5, mu0, alpha = 0.2, ret = "value"; signif(., 7)."""
    # Execute
    found = nb_cusum(SERIES, mu0=MU0, alpha=0.2, ret="value")

    # Assert: 7 significant digits are a relative rounding of at most 5e-7.
    assert found.method == "nb_glr"
    np.testing.assert_allclose(found.upperbound, ref.PUBLISHED_UPPERBOUND, rtol=1e-6, atol=0)
    np.testing.assert_allclose(found.score, ref.PUBLISHED_UPPERBOUND, rtol=1e-6, atol=0)


def test_glr_value_and_alarm_match_r_at_full_precision():
    # Execute
    found = nb_cusum(SERIES, mu0=MU0, alpha=0.2, ret="value")

    # Assert: R's Newton stops at a step of 1e-6 in kappa, which (quadratic convergence)
    # leaves an error of ~1e-12 in kappa and far less in the statistic.
    np.testing.assert_allclose(found.upperbound, ref.GLR_VALUE, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(found.alarm, ref.GLR_ALARM)
    assert found.alarm.sum() == 1
    np.testing.assert_array_equal(found.expected, MU0)
    np.testing.assert_array_equal(found.observed, X)


@pytest.fixture(scope="module")
def glr_cases() -> Detection:
    """The GLR detector of R's test with ret = "cases" (computed once: ~1 s)."""
    return nb_cusum(SERIES, mu0=MU0, alpha=0.2, ret="cases")


def test_glr_cases_match_r_where_r_searches_and_are_the_least_alarming_count(glr_cases):
    # Prepare
    r_cases = np.array(ref.GLR_CASES)
    zero = X == 0

    # Execute
    found = glr_cases

    # Assert: R's search starts at x >= 1; at x = 0 it returns 1e99.
    np.testing.assert_array_equal(found.upperbound[~zero], r_cases[~zero])
    assert np.all(r_cases[zero] == 1e99)
    assert np.all(np.isfinite(found.upperbound))
    np.testing.assert_array_equal(found.alarm, ref.GLR_CASES_ALARM)
    np.testing.assert_allclose(found.score, ref.GLR_VALUE, rtol=1e-9, atol=0)


@pytest.mark.parametrize("week", [19, 23, 36, 90, 104])
def test_glr_cases_is_the_smallest_count_whose_statistic_reaches_c_arl(glr_cases, week: int):
    # Prepare: week 19 has 0 cases (R: 1e99), week 104 alarms.
    bound = int(glr_cases.upperbound[week])

    # Execute
    stats = []
    for count in (bound - 1, bound):
        counts = X.copy()
        counts[week] = count
        trial = WeeklySeries(SERIES.start, counts)
        stats.append(nb_cusum(trial, mu0=MU0, alpha=0.2, ret="value").score[week])

    # Assert
    assert stats[0] < 5.0 <= stats[1]


@pytest.mark.parametrize("ret", ["value", "cases"])
def test_known_change_cusum_matches_r(ret: str):
    # Prepare
    values, alarms = (
        (ref.LR_VALUE, ref.LR_ALARM) if ret == "value" else (ref.LR_CASES, ref.LR_CASES_ALARM)
    )

    # Execute
    found = nb_cusum(SERIES, mu0=MU0, alpha=0.2, theta=0.4, ret=ret)

    # Assert: the same closed forms as R's C code.
    assert found.method == "nb_cusum"
    np.testing.assert_allclose(found.upperbound, values, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(found.alarm, alarms)
    np.testing.assert_allclose(found.score, ref.LR_VALUE, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("theta", "ret", "values", "alarms"),
    [
        (None, "value", ref.POIS_GLR_VALUE, ref.POIS_GLR_VALUE_ALARM),
        (None, "cases", ref.POIS_GLR_CASES, ref.POIS_GLR_CASES_ALARM),
        (0.4, "value", ref.POIS_LR_VALUE, ref.POIS_LR_VALUE_ALARM),
        (0.4, "cases", ref.POIS_LR_CASES, ref.POIS_LR_CASES_ALARM),
    ],
)
def test_poisson_charts_match_r(theta, ret, values, alarms):
    # Execute
    found = nb_cusum(SERIES, mu0=MU0, alpha=0.0, theta=theta, ret=ret)

    # Assert: closed forms (the Poisson GLR's change estimate is log(sum x / sum mu0)).
    np.testing.assert_allclose(found.upperbound, values, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(found.alarm, alarms)


def test_known_decrease_matches_r():
    # Execute
    value = nb_cusum(SERIES, mu0=MU0, alpha=0.2, theta=-0.4, c_arl=2, direction="dec", ret="value")
    cases = nb_cusum(SERIES, mu0=MU0, alpha=0.2, theta=-0.4, c_arl=2, direction="dec")

    # Assert
    np.testing.assert_allclose(value.upperbound, ref.DEC_LR_VALUE, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(value.alarm, ref.DEC_LR_ALARM)
    np.testing.assert_allclose(cases.upperbound, ref.DEC_LR_CASES, rtol=1e-9, atol=0)


def test_glr_decrease_matches_r_up_to_rs_stop_at_kappa_minus_18():
    """With dir = "dec", a window of zero counts has its supremum as kappa -> -inf.

    R's Newton stops once kappa < -18, short of the limit by at most e^-18 sum(mu0) over
    the window; such windows end at a week with 0 cases. Elsewhere R and this agree.
    """
    # Prepare
    r_value = np.array(ref.DEC_GLR_VALUE)
    zero = X == 0
    run = np.zeros_like(MU0)  # sum of mu0 over the run of zero counts ending at each week
    for n in np.flatnonzero(zero):
        run[n] = MU0[n] + (run[n - 1] if n > 0 else 0.0)

    # Execute
    found = nb_cusum(SERIES, mu0=MU0, alpha=0.2, c_arl=2, direction="dec", ret="value")

    # Assert
    np.testing.assert_allclose(found.upperbound[~zero], r_value[~zero], rtol=1e-9, atol=0)
    gap = found.upperbound[zero] - r_value[zero]
    assert np.all(gap >= -1e-12)
    assert np.all(gap <= np.exp(-18) * run[zero] + 1e-12)
    assert np.max(gap) > 1e-8  # the difference is real, and explained
    np.testing.assert_array_equal(found.alarm, ref.DEC_GLR_ALARM)


def test_poisson_glr_decrease_matches_r_until_a_window_without_cases():
    """R's Poisson GLR computes 0 * log(0) = NaN for a window of zero counts and skips it.

    Such a window's supremum is sum(mu0) (kappa -> -inf); from the first one (week 19,
    0 cases) the charts part: R's statistic is smaller there, so its alarms differ after.
    """
    # Prepare
    first_zero = int(np.flatnonzero(X == 0)[0])

    # Execute
    found = nb_cusum(SERIES, mu0=MU0, alpha=0.0, c_arl=2, direction="dec", ret="value")

    # Assert
    assert first_zero == 19
    r_value = np.array(ref.POIS_DEC_GLR_VALUE)
    np.testing.assert_allclose(
        found.upperbound[:first_zero], r_value[:first_zero], rtol=1e-9, atol=0
    )
    np.testing.assert_array_equal(found.alarm[:first_zero], ref.POIS_DEC_GLR_ALARM[:first_zero])
    # Week 19 alone: sup of -(e^kappa - 1) mu0 is mu0.
    assert found.upperbound[first_zero] == pytest.approx(MU0[first_zero], rel=1e-14)
    assert found.upperbound[first_zero] > r_value[first_zero]


def test_estimated_mu0_and_alpha_match_glm_nb():
    """mu0 = NULL, alpha = NULL: MASS::glm.nb on weeks 1:52, predicted for 53:120.

    glm.nb's joint maximum likelihood and statsmodels' Newton fit of the same NB2
    likelihood agree to 2e-11 (R's theta.ml stops at a step of 1.2e-4, its outer loop at
    a relative change of 1e-8; both fits are at the optimum to that precision).
    """
    # Execute
    found = nb_cusum(SERIES, assess=LATER, ret="value")

    # Assert
    assert found.parameters["alpha_estimated"] is True
    assert found.parameters["baseline"] == (str(SERIES.weeks[0]), str(SERIES.weeks[51]))
    np.testing.assert_allclose(coefficients_of(found), ref.EST_NB_COEF, rtol=1e-9)
    np.testing.assert_allclose(coefficients_of(found), ref.TIGHT_NB_COEF, rtol=1e-9)
    assert found.parameters["alpha"] == pytest.approx(ref.EST_NB_ALPHA, rel=1e-9)
    np.testing.assert_allclose(found.expected, ref.EST_NB_MU0, rtol=1e-9, atol=0)
    np.testing.assert_allclose(found.upperbound, ref.EST_NB_VALUE, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(found.alarm, ref.EST_NB_ALARM)


def test_estimated_mu0_with_fixed_alpha_is_at_the_optimum_rs_default_fit_stops_short_of():
    """alpha = 0.2: glm(family = negative.binomial(5)) on weeks 1:52.

    R's IRLS stops when the deviance changes by less than 1e-8 (relative); for the NB
    family's non-canonical log link it converges linearly, and stops ~5e-8 from the
    optimum (tight_fixed_coef, refitted with epsilon = 1e-15, agrees with this fit to
    3e-11). The statistic moves by sum(x - mu0) d(log mu0) ~ 10 * 6e-8, below 1e-6.
    """
    # Execute
    found = nb_cusum(SERIES, alpha=0.2, assess=LATER, ret="value")
    exact = nb_cusum(SERIES, mu0=ref.EST_FIXED_MU0, alpha=0.2, assess=LATER, ret="value")

    # Assert: the fit at 1e-9 of the converged R fit; 1e-7 of R's default stop.
    coefficients = coefficients_of(found)
    np.testing.assert_allclose(coefficients, ref.TIGHT_FIXED_COEF, rtol=1e-9)
    np.testing.assert_allclose(coefficients, ref.EST_FIXED_COEF, rtol=1e-7)
    np.testing.assert_allclose(found.expected, ref.EST_FIXED_MU0, rtol=1e-7, atol=0)
    np.testing.assert_allclose(found.upperbound, ref.EST_FIXED_VALUE, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(found.alarm, ref.EST_FIXED_ALARM)
    # The chart given R's mu0 is the same computation as R's.
    np.testing.assert_allclose(exact.upperbound, ref.EST_FIXED_VALUE, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(exact.alarm, ref.EST_FIXED_ALARM)


def test_estimated_mu0_with_poisson_matches_glm():
    """alpha = 0: glm(family = poisson()); IRLS is Newton for the canonical link."""
    # Execute
    found = nb_cusum(SERIES, alpha=0.0, assess=LATER, ret="value")

    # Assert: mu0 agrees to 3e-13; tiny statistics get that as an absolute error.
    coefficients = coefficients_of(found)
    np.testing.assert_allclose(coefficients, ref.EST_POIS_COEF, rtol=1e-9)
    np.testing.assert_allclose(coefficients, ref.TIGHT_POIS_COEF, rtol=1e-9)
    np.testing.assert_allclose(found.expected, ref.EST_POIS_MU0, rtol=1e-9, atol=0)
    np.testing.assert_allclose(found.upperbound, ref.EST_POIS_VALUE, rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(found.alarm, ref.EST_POIS_ALARM)


def test_known_change_with_estimated_mu0_and_alpha_matches_r():
    # Execute
    found = nb_cusum(SERIES, theta=0.4, assess=LATER, ret="cases")

    # Assert
    np.testing.assert_allclose(found.upperbound, ref.EST_LR_CASES, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(found.alarm, ref.EST_LR_ALARM)


def test_baseline_names_the_weeks_to_fit_and_assess_defaults_to_the_weeks_after():
    # Execute
    found = nb_cusum(SERIES, baseline=SERIES.weeks[:52], ret="value")

    # Assert
    assert found.weeks == tuple(LATER)
    np.testing.assert_allclose(found.upperbound, ref.EST_NB_VALUE, rtol=1e-9, atol=0)


@pytest.mark.parametrize("theta", [None, 0.4])
def test_the_chart_restarts_from_zero_after_an_alarm(theta):
    # Prepare
    whole = nb_cusum(SERIES, mu0=MU0, alpha=0.2, theta=theta, ret="value")
    first = int(np.flatnonzero(whole.alarm)[0])

    # Execute: a chart started at the week after the first alarm.
    rest = nb_cusum(
        SERIES, mu0=MU0[first + 1 :], alpha=0.2, theta=theta, assess=SERIES.weeks[first + 1 :]
    )

    # Assert
    np.testing.assert_allclose(whole.score[first + 1 :], rest.score, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(whole.alarm[first + 1 :], rest.alarm)


@pytest.mark.parametrize("theta", [None, 0.4])
def test_unknown_weeks_are_skipped_and_not_assessed(theta):
    # Prepare: weeks 10 and 60 unknown.
    counts = X.copy()
    counts[[10, 60]] = np.nan
    keep = np.ones(120, dtype=bool)
    keep[[10, 60]] = False
    holey = WeeklySeries(SERIES.start, counts)
    packed = WeeklySeries(SERIES.start, X[keep])

    # Execute
    found = nb_cusum(holey, mu0=MU0, alpha=0.2, theta=theta)
    without = nb_cusum(packed, mu0=MU0[keep], alpha=0.2, theta=theta)

    # Assert: the known weeks see the chart of the series without the unknown weeks.
    np.testing.assert_allclose(found.score[keep], without.score, rtol=1e-12, atol=0)
    np.testing.assert_allclose(found.upperbound[keep], without.upperbound, rtol=1e-12, atol=0)
    assert np.isnan(found.score[[10, 60]]).all()
    assert np.isnan(found.upperbound[[10, 60]]).all()
    assert not found.alarm[[10, 60]].any()
    np.testing.assert_array_equal(found.expected, MU0)


def test_unknown_baseline_weeks_are_dropped_from_the_fit():
    # Prepare
    counts = X.copy()
    counts[5] = np.nan
    holey = WeeklySeries(SERIES.start, counts)
    others = [w for k, w in enumerate(SERIES.weeks[:52]) if k != 5]

    # Execute
    found = nb_cusum(holey, alpha=0.0, assess=LATER)
    named = nb_cusum(SERIES, alpha=0.0, assess=LATER, baseline=others)

    # Assert: the same fit as on the 51 known weeks, and not the fit on all 52.
    np.testing.assert_allclose(found.expected, named.expected, rtol=1e-12, atol=0)
    assert not np.allclose(found.expected, ref.EST_POIS_MU0, rtol=1e-6)


def planted_outbreak() -> tuple[WeeklySeries, int]:
    """Three years of seasonal NB counts (seed fixed); the mean triples in weeks 130-133."""
    rng = np.random.default_rng(20240611)
    t = np.arange(156)
    mean = np.exp(2.0 + 0.5 * np.cos(2 * np.pi * t / 52) + 0.3 * np.sin(2 * np.pi * t / 52))
    onset = 130
    mean[onset : onset + 4] *= 3.0
    alpha = 0.1
    counts = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mean))
    return WeeklySeries(IsoWeek(2021, 1), counts), onset


@pytest.mark.parametrize("theta", [None, np.log(2.0)])
def test_a_planted_outbreak_alarms_at_its_start_and_not_before(theta):
    # Prepare
    series, onset = planted_outbreak()

    # Execute: mu0 and alpha from the first two years, the third monitored.
    found = nb_cusum(series, theta=theta, baseline=series.weeks[:104])

    # Assert
    alarms = [w - series.start for w in found.alarm_weeks]
    assert 0.0 < cast(float, found.parameters["alpha"]) < 0.5
    assert alarms, "the outbreak was missed"
    assert onset <= min(alarms) <= onset + 2  # nothing in the 26 weeks before the change


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mu0": MU0}, InputError, "with a given mu0, give alpha too"),
        ({"mu0": MU0[:10], "alpha": 0.2}, InputError, "mu0 has 10 values but 120 weeks"),
        ({"mu0": -MU0, "alpha": 0.2}, InputError, "mu0 must be positive"),
        ({"mu0": MU0, "alpha": -1.0}, InputError, "alpha must be 0"),
        ({"mu0": MU0, "alpha": 0.2, "theta": -0.4}, InputError, "pass direction='dec'"),
        ({"mu0": MU0, "alpha": 0.2, "theta": 0.0}, InputError, "non-zero change"),
        ({"mu0": MU0, "alpha": 0.2, "c_arl": 0.0}, InputError, "c_arl must be a positive"),
        ({"mu0": MU0, "alpha": 0.2, "direction": "up"}, InputError, "direction must be"),
        ({"mu0": MU0, "alpha": 0.2, "ret": "both"}, InputError, "ret must be"),
        ({}, InputError, "no week precedes the first assessed week"),
        ({"assess": SERIES.weeks[3:]}, InputError, "the in-control model needs at least 4"),
        ({"baseline": SERIES.weeks}, InputError, "no week is left to assess"),
    ],
)
def test_bad_input_says_what_to_do(kwargs, error, message):
    with pytest.raises(error, match=message):
        nb_cusum(SERIES, **kwargs)


def test_a_baseline_without_cases_cannot_give_mu0():
    # Prepare
    series = WeeklySeries(IsoWeek(2024, 1), [0] * 10 + [3, 4])

    # Execute / Assert
    with pytest.raises(ModelError, match="the baseline has no case at all"):
        nb_cusum(series, alpha=0.0, assess=series.weeks[10:])


def test_a_baseline_without_overdispersion_gives_the_poisson_chart():
    """The NB likelihood is highest at alpha = 0 (R's glm.nb: theta -> inf, a warning)."""
    # Prepare: counts closer together than Poisson counts would be.
    calm = [5, 6, 5, 4, 5, 6, 5, 4, 5, 5, 6, 4, 5, 5, 5, 6, 4, 5, 5, 5]
    series = WeeklySeries(IsoWeek(2024, 1), [*calm, 5, 9, 14])

    # Execute
    found = nb_cusum(series, assess=series.weeks[20:])
    poisson = nb_cusum(series, alpha=0.0, assess=series.weeks[20:])

    # Assert
    assert found.parameters["alpha"] == 0.0
    assert found.parameters["alpha_estimated"] is True
    np.testing.assert_array_equal(found.expected, poisson.expected)
    np.testing.assert_array_equal(found.score, poisson.score)


@pytest.mark.parametrize("alpha", [None, 0.0, 0.3])
def test_a_seasonal_curve_through_one_case_is_no_estimate(alpha):
    # Prepare: one case in 20 weeks; the harmonic can peak on it and vanish elsewhere.
    series = WeeklySeries(IsoWeek(2024, 1), [0] * 19 + [1, 5, 9, 14])

    # Execute / Assert
    with pytest.raises(ConvergenceFailed, match="too few cases to fix a seasonal curve"):
        nb_cusum(series, alpha=alpha, assess=series.weeks[20:])


def test_a_long_baseline_whose_irls_oscillates_in_the_last_bits_still_counts_as_fitted():
    """Regression: on these weeks statsmodels' IRLS never meets a 1e-13 deviance change
    (round-off), though the score equations hold; the chart must still run.

    The series is the pooled count of the benchmark's replicate 1003
    (benchmarks/surveillance_detection.py), assessed at 2023-W50 as the weekly job does.
    """
    import perron
    from perron.privacy.policy import DisclosurePolicy
    from perron.surveillance.synthetic import Outbreak, synthetic_surveillance

    data = synthetic_surveillance(
        IsoWeek(2017, 1), IsoWeek(2024, 34), outbreak=Outbreak(IsoWeek(2024, 31)), seed=1003
    )
    counts = perron.simulate(data.frames, disclosure=DisclosurePolicy(min_cell=3)).weekly_counts(
        case=[{"column": "icd10", "in": ["A02.0"]}],
        date="report",
        first="2017-W01",
        last="2023-W50",
    )
    series = counts.series()
    recent = [w for w in series.weeks if IsoWeek(2023, 50) - w < 26]

    detection = nb_cusum(series, assess=recent)

    assert np.isfinite(detection.upperbound).all()
    assert detection.weeks[-1] == IsoWeek(2023, 50)
