"""Tests of perron.surveillance.nowcast.

The reference values come from R's ``surveillance::nowcast(method = "lawless")`` and
``method = "bayes.notrunc.bnb"`` (surveillance 1.20.3) on ``data(husO104Hosp)``: point
estimates and delay distributions at 1e-8 relative, interval bounds (R's are
deterministic: discretised distributions) exactly. tests/surveillance/r_nowcast.py quotes
them and tests/surveillance/r/nowcast.R produced them. R is run both on the daily data
and on the data aggregated by R to ISO weeks. The daily triangle is nowcast here as if
each day were a week (day ``k`` after the first onset is labelled ``2011-W01 + k``): the
method only counts positions in the triangle, never the calendar.
"""

from __future__ import annotations

import doctest
from collections import defaultdict
from datetime import date

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import betanbinom, binom

from perron.protocol.errors import InputError
from perron.surveillance import nowcast as nowcast_module
from perron.surveillance.nowcast import PRIOR_CONCENTRATION, Nowcast, ReportingTriangle, nowcast
from perron.surveillance.weeks import IsoWeek
from tests.surveillance import r_nowcast as ref

CASES = ("DAILY", "DAILY_WINDOW", "WEEKLY", "WEEKLY_WINDOW")
DAY_ZERO = IsoWeek(2011, 1)  # the label of the first day when days stand for weeks


FloatArray = npt.NDArray[np.float64]


def _array(tag: str, name: str) -> FloatArray:
    """A quoted R vector or matrix of a case (``NAN`` where R has ``NA``)."""
    return np.array(getattr(ref, f"{tag}_{name}"), dtype=np.float64)


def _text(tag: str, name: str) -> str:
    return str(getattr(ref, f"{tag}_{name}"))


def _hazard(result: Nowcast) -> FloatArray:
    hazard = result.parameters["hazard"]
    assert isinstance(hazard, np.ndarray)
    return hazard


def _triangle_from_line_list(tag: str) -> ReportingTriangle:
    """The cells of husO104Hosp, as R's nowcast of the case sees them."""
    first, now = date.fromisoformat(_text(tag, "FIRST")), date.fromisoformat(_text(tag, "NOW"))
    weekly = tag.startswith("WEEKLY")
    cells: dict[tuple[IsoWeek, int], float] = defaultdict(float)
    for hosp, report, cases in ref.HUS_O104_HOSP:
        onset, reported = date.fromisoformat(hosp), date.fromisoformat(report)
        if weekly:
            week = IsoWeek.of(onset)
            cells[week, IsoWeek.of(reported) - week] += cases
        else:
            cells[DAY_ZERO + (onset - first).days, (reported - onset).days] += cases
    if weekly:
        start, last = IsoWeek.of(first), IsoWeek.of(now)
    else:
        start, last = DAY_ZERO, DAY_ZERO + (now - first).days
    max_delay = int(_text(tag, "D"))
    return ReportingTriangle.from_cells(cells, now=last, max_delay=max_delay, start=start)


def _r_nowcast(tag: str, interval: str) -> Nowcast:
    m = _text(tag, "M")
    return nowcast(
        _triangle_from_line_list(tag),
        level=1.0 - float(_text(tag, "ALPHA")),
        moving_window=None if m == "None" else int(m),
        interval=interval,
    )


@pytest.mark.parametrize("tag", CASES)
def test_the_triangle_of_the_line_list_is_rs(tag):
    """R drops reports after now and folds delays > D into D (DAILY_WINDOW, WEEKLY fold)."""
    expected = _array(tag, "TRIANGLE")

    triangle = _triangle_from_line_list(tag)

    np.testing.assert_array_equal(triangle.counts, expected)  # NaN where R has NA
    np.testing.assert_array_equal(triangle.reported, _array(tag, "REPORTED"))


@pytest.mark.parametrize("tag", CASES)
def test_the_hazards_and_the_delay_distribution_are_rs(tag):
    n_x, big_n_x = _array(tag, "N_X"), _array(tag, "BIG_N_X")
    # R: g.hat <- ifelse(!is.na(n.x/N.x), n.x/N.x, 0); g.hat[1] <- 1
    hazard = np.divide(n_x, big_n_x, out=np.zeros_like(n_x), where=big_n_x > 0)
    hazard[0] = 1.0
    delay_cdf = _array(tag, "DELAY_CDF")[: n_x.size]

    result = _r_nowcast(tag, "lawless")

    np.testing.assert_allclose(_hazard(result), hazard, rtol=1e-8, atol=0)
    np.testing.assert_allclose(np.cumsum(result.delay_distribution), delay_cdf, rtol=1e-8, atol=0)


@pytest.mark.parametrize("interval", ["lawless", "surveillance"])
@pytest.mark.parametrize("tag", CASES)
def test_the_point_nowcast_is_rs(tag, interval):
    result = _r_nowcast(tag, interval)

    np.testing.assert_allclose(result.estimate, _array(tag, "ESTIMATE"), rtol=1e-8, atol=0)
    np.testing.assert_array_equal(result.reported, _array(tag, "REPORTED"))


@pytest.mark.parametrize("tag", CASES)
def test_the_surveillance_interval_is_r_1_20_3s_to_the_integer(tag):
    """R's interval is deterministic (a discretised normal): its bounds match exactly."""
    result = _r_nowcast(tag, "surveillance")

    np.testing.assert_array_equal(result.lower, _array(tag, "LOWER"))
    np.testing.assert_array_equal(result.upper, _array(tag, "UPPER"))


@pytest.mark.parametrize("tag", CASES)
def test_the_lawless_interval_is_the_one_rs_code_means(tag):
    """Both terms of (2.16), the normal censored at N(t, T), computed in R from R's objects."""
    result = _r_nowcast(tag, "lawless")

    np.testing.assert_array_equal(result.lower, _array(tag, "INTENDED_LOWER"))
    np.testing.assert_array_equal(result.upper, _array(tag, "INTENDED_UPPER"))
    assert np.all(result.upper >= _array(tag, "UPPER"))  # R's is too narrow


@pytest.mark.parametrize("tag", CASES)
def test_bayes_notrunc_bnb_is_rs_to_the_integer(tag):
    """R's "bayes.notrunc.bnb" draws no samples: its medians and bounds match exactly."""
    case = _r_nowcast(tag, "lawless")
    result = nowcast(
        _triangle_from_line_list(tag),
        method="bayes.notrunc.bnb",
        level=case.level,
        moving_window=None if _text(tag, "M") == "None" else int(_text(tag, "M")),
    )

    cdf = np.cumsum(result.delay_distribution)
    np.testing.assert_allclose(cdf, _array(tag, "BNB_DELAY_CDF"), rtol=1e-8, atol=0)
    np.testing.assert_array_equal(result.estimate, _array(tag, "BNB_MEDIAN"))
    np.testing.assert_array_equal(result.lower, _array(tag, "BNB_LOWER"))
    np.testing.assert_array_equal(result.upper, _array(tag, "BNB_UPPER"))


def test_bayes_notrunc_bnb_gives_an_infinite_bound_when_nothing_is_reported_at_once():
    """No case ever reported at delay 0: the latest week's share is Beta(0.1, 40.1)."""
    rows = 5
    counts = np.tile([0.0, 10.0], (rows, 1))
    counts[-1, 1] = np.nan
    triangle = ReportingTriangle(IsoWeek(2024, 1), counts, IsoWeek(2024, 5))

    result = nowcast(triangle, method="bayes.notrunc.bnb", weeks=1)

    assert result.upper[0] == np.inf
    assert np.isfinite(result.lower[0])
    np.testing.assert_allclose(result.delay_distribution, [0.1 / 40.2, 40.1 / 40.2], rtol=1e-12)


def test_bayes_notrunc_bnb_finds_quantiles_far_in_the_tail():
    """A 97.5% quantile about 10^5 cases out, past the term-by-term sum: scipy's ppf."""
    counts = [[0.35, 10.0], [0.0, 10.0], [0.0, 9.9], [0.0, 0.0], [0.0, np.nan]]
    triangle = ReportingTriangle(IsoWeek(2024, 1), counts, IsoWeek(2024, 5))
    a, b = PRIOR_CONCENTRATION + 0.35, PRIOR_CONCENTRATION + 29.9  # delay 0, delay 1

    result = nowcast(triangle, method="bayes.notrunc.bnb", weeks=1)

    # nothing reported yet: N - 0 ~ BNB(n = 1, a, b)
    assert result.upper[0] == betanbinom.ppf(0.975, 1, a, b) > 1 << 16
    assert result.estimate[0] == betanbinom.ppf(0.5, 1, a, b)


def test_a_noiseless_triangle_gives_back_its_delay_distribution_and_totals():
    """Counts that are exactly 100 x p by delay: the chain ladder is exact."""
    p = np.array([0.3, 0.3, 0.2, 0.12, 0.08])
    rows = 10
    counts = np.tile(100.0 * p, (rows, 1))
    counts[(np.arange(rows)[:, None] + np.arange(p.size)[None, :]) > rows - 1] = np.nan
    start = IsoWeek(2024, 50)

    result = nowcast(ReportingTriangle(start, counts, start + (rows - 1)))

    np.testing.assert_allclose(result.delay_distribution, p, rtol=1e-12, atol=0)
    np.testing.assert_allclose(result.estimate, 100.0, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(result.reported[-3:], 100.0 * np.cumsum(p)[[2, 1, 0]])
    assert np.all(result.lower <= 100.0)
    assert np.all(result.upper >= 100.0)


def test_simulated_triangles_recover_the_delay_distribution_and_cover_the_truth():
    """400 triangles of 20 weeks, N_t ~ Poisson(100), delays ~ p; the latest 4 weeks.

    Each week's 95% interval must cover the final count in a share of the replicates
    inside the 99.9% binomial band around 0.95 for 400 trials; the mean estimated delay
    distribution and the mean error of the nowcast must lie within 4 standard errors of
    the truth and of 0.
    """
    rng = np.random.default_rng(20110602)
    p = np.array([0.3, 0.3, 0.2, 0.12, 0.08])
    rows, replicates, lam = 20, 400, 100.0
    start = IsoWeek(2024, 1)
    future = (np.arange(rows)[:, None] + np.arange(p.size)[None, :]) > rows - 1
    covered = np.zeros((replicates, p.size - 1), dtype=bool)
    errors = np.zeros((replicates, p.size - 1))
    pmfs = np.zeros((replicates, p.size))
    for r in range(replicates):
        totals = rng.poisson(lam, size=rows)
        counts = np.array([rng.multinomial(n, p) for n in totals], dtype=np.float64)
        counts[future] = np.nan

        result = nowcast(ReportingTriangle(start, counts, start + (rows - 1)), weeks=p.size - 1)

        truth = totals[-(p.size - 1) :]
        covered[r] = (result.lower <= truth) & (truth <= result.upper)
        errors[r] = result.estimate - truth
        pmfs[r] = result.delay_distribution

    low, high = binom.interval(0.999, replicates, 0.95)
    hits = covered.sum(axis=0)
    assert np.all((low <= hits) & (hits <= high)), (hits, (low, high))
    se = pmfs.std(axis=0, ddof=1) / np.sqrt(replicates)
    assert np.all(np.abs(pmfs.mean(axis=0) - p) < 4 * se)
    se = errors.std(axis=0, ddof=1) / np.sqrt(replicates)
    assert np.all(np.abs(errors.mean(axis=0)) < 4 * se)


def test_an_unknown_cell_leaves_its_week_unknown_and_its_delays_out():
    start = IsoWeek(2024, 1)
    counts = [
        [10.0, 5.0, 5.0],
        [10.0, np.nan, 5.0],  # delay 1 unknown: the row enters the hazard of delay 0 only
        [12.0, 6.0, np.nan],
        [8.0, np.nan, np.nan],
    ]

    result = nowcast(ReportingTriangle(start, counts, start + 3))

    # g_2 from row 0: 5 / 20; g_1 from rows 0 and 2: (5 + 6) / (15 + 18).
    np.testing.assert_allclose(_hazard(result), [1.0, 11 / 33, 5 / 20], rtol=1e-12)
    for unknown in (result.reported, result.estimate, result.lower, result.upper):
        assert np.isnan(unknown[1])
    np.testing.assert_allclose(result.estimate[3], 8.0 / ((1 - 11 / 33) * (1 - 5 / 20)))


def test_from_cells_drops_reports_after_now_and_onsets_before_start():
    start = IsoWeek(2024, 1)
    cells = {(start, 0): 1.0, (start, 2): 4.0, (start + 1, 1): 3.0, (IsoWeek(2023, 52), 0): 9.0}

    triangle = ReportingTriangle.from_cells(cells, now=start + 1, max_delay=1, start=start)

    assert triangle.counts.tolist()[0] == [1.0, 0.0]
    assert triangle.counts[1, 0] == 0.0
    assert np.isnan(triangle.counts[1, 1])


def test_the_last_weeks_and_the_frame():
    triangle = _triangle_from_line_list("WEEKLY")

    result = nowcast(triangle, weeks=2)

    assert [str(w) for w in result.weeks] == ["2011-W22", "2011-W23"]
    frame = result.to_frame()
    assert list(frame.columns) == ["reported", "estimate", "lower", "upper"]
    assert list(frame.index) == ["2011-W22", "2011-W23"]
    assert str(result).startswith("lawless nowcast of 2 weeks; 2011-W23: 10 reported")


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(nowcast_module)

    assert attempted > 0
    assert failed == 0


# --- input errors -------------------------------------------------------------------


def _triangle(rows: int, max_delay: int) -> ReportingTriangle:
    counts = np.ones((rows, max_delay + 1))
    counts[(np.arange(rows)[:, None] + np.arange(max_delay + 1)[None, :]) > rows - 1] = np.nan
    return ReportingTriangle(IsoWeek(2024, 1), counts, IsoWeek(2024, 1) + (rows - 1))


def test_no_complete_row_to_estimate_the_delays_is_an_input_error():
    counts = _triangle(4, 2).counts.copy()
    counts[:2, 2] = np.nan  # the two onset weeks with delay 2 observed are unknown there

    with pytest.raises(InputError, match="has every delay up to 2 weeks observed"):
        nowcast(ReportingTriangle(IsoWeek(2024, 1), counts, IsoWeek(2024, 4)))


def test_a_moving_window_shorter_than_the_maximum_delay_is_an_input_error():
    with pytest.raises(InputError, match="moving window of 2 weeks holds no onset week"):
        nowcast(_triangle(8, 3), moving_window=2)


def test_a_maximum_delay_longer_than_the_history_is_an_input_error():
    counts = np.full((3, 5), np.nan)
    counts[0, :3] = counts[1, :2] = counts[2, :1] = 1.0

    with pytest.raises(InputError, match="longer than the history"):
        nowcast(ReportingTriangle(IsoWeek(2024, 1), counts, IsoWeek(2024, 3)))


def test_negative_counts_are_an_input_error():
    counts = _triangle(3, 1).counts.copy()
    counts[0, 0] = -1.0

    with pytest.raises(InputError, match="not negative"):
        ReportingTriangle(IsoWeek(2024, 1), counts, IsoWeek(2024, 3))
    with pytest.raises(InputError, match="not negative"):
        ReportingTriangle.from_cells({(IsoWeek(2024, 1), 0): -2}, now=IsoWeek(2024, 3), max_delay=1)


def test_now_before_the_start_is_an_input_error():
    with pytest.raises(InputError, match="before the first onset week"):
        ReportingTriangle(IsoWeek(2024, 5), [[1.0]], IsoWeek(2024, 4))
    with pytest.raises(InputError, match="before the first onset week"):
        ReportingTriangle.from_cells({(IsoWeek(2024, 5), 0): 1}, now=IsoWeek(2024, 4), max_delay=0)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([[1.0, 1.0], [1.0, 1.0]], "reported after now"),
        ([[1.0, 1.0]], "give one row per onset week"),
        ([1.0, 2.0], "two-dimensional"),
    ],
)
def test_a_malformed_triangle_is_an_input_error(counts, message):
    with pytest.raises(InputError, match=message):
        ReportingTriangle(IsoWeek(2024, 1), counts, IsoWeek(2024, 2))


def test_a_negative_delay_is_an_input_error():
    with pytest.raises(InputError, match="reported before its onset"):
        ReportingTriangle.from_cells({(IsoWeek(2024, 2), -1): 1}, now=IsoWeek(2024, 3), max_delay=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "bayes.trunc"}, "method 'bayes.trunc' is unknown"),
        ({"interval": "wald"}, "interval 'wald' is unknown"),
        ({"level": 1.0}, "level must lie between 0 and 1"),
        ({"weeks": 0}, "weeks must be between 1 and the 6 onset weeks"),
        ({"weeks": 7}, "weeks must be between 1 and the 6 onset weeks"),
    ],
)
def test_bad_options_are_input_errors(options, message):
    with pytest.raises(InputError, match=message):
        nowcast(_triangle(6, 2), **options)
