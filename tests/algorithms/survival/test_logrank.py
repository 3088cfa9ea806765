"""Federated log-rank tests equal lifelines' on the pooled data.

The plain and weighted tests are compared with lifelines'
``multivariate_logrank_test(..., weightings=...)`` (and ``logrank_test`` for two
groups). lifelines has no stratified test: the stratified ones are compared with
the textbook computation below (Klein & Moeschberger section 7.5, written out
over the pooled rows) and, where its weights allow, statsmodels' ``survdiff``.

R: ``survdiff(Surv(time, status) ~ sex, data = lung)`` gives Chisq = 10.3 on 1 df.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lifelines.statistics import logrank_test, multivariate_logrank_test
from statsmodels.duration.survfunc import survdiff

import perron
from perron import DisclosureBlocked, DisclosurePolicy, InputError
from perron.algorithms.core.base import StationContext
from perron.algorithms.survival.logrank import Logrank
from perron.data.frame import FrameSource
from tests.algorithms.survival import survival_data
from tests.algorithms.survival.survival_data import random_split, stations
from tests.support import assert_close, reference_settings

SHARES = (0.60, 0.25, 0.15)
EXACT = DisclosurePolicy(min_cell=1)
WEIGHTINGS: list[tuple[str | None, dict[str, float]]] = [
    (None, {}),
    ("wilcoxon", {}),
    ("tarone-ware", {}),
    ("fleming-harrington", {"p": 1.0, "q": 0.0}),
    ("fleming-harrington", {"p": 0.0, "q": 1.0}),
    ("fleming-harrington", {"p": 0.5, "q": 2.0}),
]


def lifelines_test(data: pd.DataFrame, time: str, event: str, group: str, weights: Any, **pq: Any):
    return multivariate_logrank_test(data[time], data[group], data[event], weightings=weights, **pq)


def textbook(
    data: pd.DataFrame,
    time: str,
    event: str,
    group: str,
    strata: str | None = None,
    weights: str | None = None,
    p: float = 0.0,
    q: float = 0.0,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The (stratified, weighted) log-rank statistic, observed and expected, by the book.

    Per stratum and distinct event time t: n_j at risk (time >= t) and d_j events in
    group j; E_j = n_j d / n; Z += w (d_j - E_j); V += w^2 d (n - d) / (n - 1) *
    (diag(n_j / n) - (n_j / n)(n_j / n)'); S(t-) is the stratum's pooled KM.
    """
    levels = sorted(data[group].unique())
    size = len(levels)
    score, variance = np.zeros(size), np.zeros((size, size))
    observed, expected = np.zeros(size), np.zeros(size)
    parts = [data] if strata is None else [rows for _, rows in data.groupby(strata)]
    for rows in parts:
        t_all = rows[time].to_numpy(dtype=float)
        e_all = rows[event].to_numpy() == 1
        g_all = rows[group].to_numpy()
        survival = 1.0
        for t in np.unique(t_all[e_all]):
            n_j = np.array([np.sum((t_all >= t) & (g_all == lv)) for lv in levels], dtype=float)
            d_j = np.array(
                [np.sum((t_all == t) & e_all & (g_all == lv)) for lv in levels], dtype=float
            )
            n, d = n_j.sum(), d_j.sum()
            w = {
                None: 1.0,
                "wilcoxon": n,
                "tarone-ware": np.sqrt(n),
                "fleming-harrington": survival**p * (1 - survival) ** q,
            }[weights]
            share = n_j / n
            score += w * (d_j - share * d)
            observed += d_j
            expected += share * d
            if n > 1:
                variance += w**2 * d * (n - d) / (n - 1) * (np.diag(share) - np.outer(share, share))
            survival *= 1 - d / n
    statistic = score[:-1] @ np.linalg.solve(variance[:-1, :-1], score[:-1])
    return float(statistic), observed, expected


@pytest.mark.parametrize(("weights", "pq"), WEIGHTINGS)
def test_whas500_by_gender_equals_lifelines(whas500, split, weights, pq):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.logrank("lenfol", "fstat", "gender", weights=weights, **pq)

    expected = lifelines_test(whas500, "lenfol", "fstat", "gender", weights, **pq)
    assert_close(result.statistic, expected.test_statistic)
    assert_close(result.p_value, expected.p_value)
    assert result.df == 1


def test_two_groups_equal_lifelines_logrank_test(whas500, split):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.logrank("lenfol", "fstat", "gender")

    men, women = (whas500[whas500["gender"] == g] for g in (0.0, 1.0))
    expected = logrank_test(men["lenfol"], women["lenfol"], men["fstat"], women["fstat"])
    assert_close(result.statistic, expected.test_statistic)
    assert_close(result.p_value, expected.p_value)
    assert list(result.observed) == [111.0, 104.0]
    assert_close(result.expected.sum(), 215.0)


@pytest.mark.parametrize(("weights", "pq"), WEIGHTINGS)
def test_veterans_four_cell_types_equal_lifelines(split, weights, pq):
    data = survival_data.veterans()
    session = perron.simulate(split(data, (0.7, 0.3)), disclosure=EXACT)

    result = session.logrank("time", "status", "Celltype", weights=weights, **pq)

    expected = lifelines_test(data, "time", "status", "Celltype", weights, **pq)
    assert_close(result.statistic, expected.test_statistic)
    assert_close(result.p_value, expected.p_value)
    assert result.df == 3
    assert result.groups == ["adeno", "large", "smallcell", "squamous"]


@pytest.mark.parametrize(("weights", "pq"), WEIGHTINGS[:4])
def test_gbsg2_tumour_grade_equals_lifelines(split, weights, pq):
    data = survival_data.gbsg2()
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.logrank("time", "cens", "tgrade", weights=weights, **pq)

    expected = lifelines_test(data, "time", "cens", "tgrade", weights, **pq)
    assert_close(result.statistic, expected.test_statistic)
    assert_close(result.p_value, expected.p_value)
    _, observed, expected_events = textbook(data, "time", "cens", "tgrade")
    assert_close(result.observed, observed)
    assert_close(result.expected, expected_events)


def test_lung_split_by_institution_equals_lifelines_and_r():
    data = survival_data.lung()
    session = perron.simulate(survival_data.lung_by_institution(), disclosure=EXACT)

    result = session.logrank("time", "status", "sex")

    expected = lifelines_test(data, "time", "status", "sex", None)
    assert_close(result.statistic, expected.test_statistic)
    assert round(result.statistic, 1) == 10.3  # R's survdiff


# -- stratified ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "pq"), [(None, {}), ("wilcoxon", {}), ("tarone-ware", {}), *WEIGHTINGS[3:]]
)
def test_stratified_by_a_column_equals_the_textbook(split, weights, pq):
    data = survival_data.gbsg2()
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.logrank("time", "cens", "horTh", strata="menostat", weights=weights, **pq)

    statistic, observed, expected = textbook(
        data, "time", "cens", "horTh", "menostat", weights, **pq
    )
    assert_close(result.statistic, statistic)
    assert_close(result.observed, observed)
    assert_close(result.expected, expected)


@pytest.mark.parametrize(
    ("weights", "weight_type", "pq"),
    [(None, None, {}), ("wilcoxon", "gb", {}), ("tarone-ware", "tw", {})],
)
def test_stratified_three_groups_equals_statsmodels_survdiff(split, weights, weight_type, pq):
    data = survival_data.gbsg2()
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.logrank("time", "cens", "tgrade", strata="menostat", weights=weights)

    chisq, p_value = survdiff(
        data["time"], data["cens"], data["tgrade"], weight_type=weight_type, strata=data["menostat"]
    )
    assert_close(result.statistic, chisq)
    assert_close(result.p_value, p_value)


def test_fleming_harrington_stratified_equals_statsmodels_survdiff(split):
    data = survival_data.gbsg2()
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.logrank(
        "time", "cens", "horTh", strata="tgrade", weights="fleming-harrington", p=1.5
    )

    chisq, _ = survdiff(
        data["time"], data["cens"], data["horTh"], weight_type="fh", strata=data["tgrade"], fh_p=1.5
    )
    assert_close(result.statistic, chisq)


def test_stratified_by_station_equals_the_textbook_per_institution_group():
    parts = survival_data.lung_by_institution()
    pooled = pd.concat([frame.assign(site=name) for name, frame in parts.items()])
    session = perron.simulate(parts, disclosure=EXACT)

    result = session.logrank("time", "status", "sex", strata="station")

    statistic, observed, expected = textbook(pooled, "time", "status", "sex", "site")
    assert_close(result.statistic, statistic)
    assert_close(result.observed, observed)
    assert_close(result.expected, expected)
    plain = session.logrank("time", "status", "sex")
    assert result.statistic != pytest.approx(plain.statistic)


def test_one_stratum_equals_the_plain_test(whas500, split):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)
    one = perron.simulate({"only": whas500}, disclosure=EXACT)

    by_station = one.logrank("lenfol", "fstat", "gender", strata="station")
    constant = perron.simulate(split(whas500.assign(site="x"), SHARES), disclosure=EXACT).logrank(
        "lenfol", "fstat", "gender", strata="site"
    )

    plain = session.logrank("lenfol", "fstat", "gender")
    assert_close(by_station.statistic, plain.statistic)
    assert_close(constant.statistic, plain.statistic)
    statistic, _, _ = textbook(whas500, "lenfol", "fstat", "gender")
    assert_close(plain.statistic, statistic)


PERMISSIVE = DisclosurePolicy(min_rows=1, min_cell=1, levels_density=1.0)


@reference_settings(20)
@given(data=st.data(), weighting=st.sampled_from(WEIGHTINGS))
def test_random_splits_of_whas500_equal_lifelines(whas500, data, weighting):
    seed, cuts = data.draw(random_split(len(whas500)))
    weights, pq = weighting
    session = perron.simulate(stations(whas500, seed, cuts), disclosure=PERMISSIVE)

    result = session.logrank("lenfol", "fstat", "gender", weights=weights, **pq)

    expected = lifelines_test(whas500, "lenfol", "fstat", "gender", weights, **pq)
    assert_close(result.statistic, expected.test_statistic)


# -- disclosure and errors ----------------------------------------------------------------


def released(frame: pd.DataFrame, policy: DisclosurePolicy, **test: Any) -> dict[str, Any]:
    """What one station releases for a log-rank request."""
    params = Logrank("time", "cens", "horTh", **test).start().params
    context = StationContext("s", policy)
    tables: dict[str, Any] = Logrank.station_step(FrameSource(frame), params, context).payload[
        "tables"
    ]
    return tables


def test_default_policy_releases_blocks_of_at_least_five_events(split):
    data = survival_data.gbsg2()
    for frame in split(data, (0.6, 0.4)).values():
        tables = released(frame, DisclosurePolicy(), strata="menostat")

        assert set(tables) == {"Post|no", "Post|yes", "Pre|no", "Pre|yes"}
        for table in tables.values():
            events = np.asarray(table["events"])
            assert ((events == 0) | (events >= 5)).all()


def test_default_policy_is_lifelines_on_the_released_data(split):
    """Coarsened, the test is exact for what the stations released (and it moves:
    docs/survival.md measures how far)."""
    data = survival_data.gbsg2()
    parts = split(data, (0.6, 0.4))
    session = perron.simulate(parts)

    result = session.logrank("time", "cens", "horTh")

    rows = []
    for frame in parts.values():
        for group, table in released(frame, DisclosurePolicy()).items():
            for t, d, c in zip(table["time"], table["events"], table["censored"], strict=True):
                rows += [(t, 1, group)] * d + [(t, 0, group)] * c
    pseudo = pd.DataFrame(rows, columns=["time", "cens", "horTh"])
    expected = lifelines_test(pseudo, "time", "cens", "horTh", None)
    assert_close(result.statistic, expected.test_statistic)
    # Coarsening moves events, never drops them.
    assert list(result.observed) == data.groupby("horTh")["cens"].sum().tolist()


def test_rounded_times_equal_lifelines_on_rounded_times(whas500, split):
    policy = DisclosurePolicy(min_cell=1, event_times="rounded", time_grid=30)
    session = perron.simulate(split(whas500, SHARES), disclosure=policy)

    result = session.logrank("lenfol", "fstat", "gender")

    rounded = whas500.assign(lenfol=np.ceil(whas500["lenfol"] / 30) * 30)
    expected = lifelines_test(rounded, "lenfol", "fstat", "gender", None)
    assert_close(result.statistic, expected.test_statistic)


def test_no_event_times_blocks(whas500, split):
    session = perron.simulate(
        split(whas500, SHARES), disclosure=DisclosurePolicy(event_times="none")
    )

    with pytest.raises(DisclosureBlocked) as blocked:
        session.logrank("lenfol", "fstat", "gender")

    assert blocked.value.rule == "event_times"


def test_a_group_with_too_few_events_is_blocked(split):
    data = survival_data.veterans()
    session = perron.simulate(split(data, SHARES))

    with pytest.raises(DisclosureBlocked) as blocked:
        session.logrank("time", "status", "Celltype", disclosure={"min_cell": 8})

    assert blocked.value.rule == "min_cell"


def test_one_group_is_rejected(whas500, split):
    session = perron.simulate(split(whas500.assign(arm="a"), SHARES))

    with pytest.raises(InputError, match="at least two groups"):
        session.logrank("lenfol", "fstat", "arm")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": "peto"}, "weights must be"),
        ({"p": 1.0}, "exponents of weights='fleming-harrington'"),
        ({"weights": "fleming-harrington", "q": -1.0}, ">= 0"),
        ({"strata": "gender"}, "cannot also be the strata"),
    ],
)
def test_bad_arguments_are_rejected(whas500, split, kwargs, message):
    session = perron.simulate(split(whas500, SHARES))

    with pytest.raises(InputError, match=message):
        session.logrank("lenfol", "fstat", "gender", **kwargs)


def test_str_and_summary(whas500, split):
    result = perron.simulate(split(whas500, SHARES)).logrank("lenfol", "fstat", "gender")

    assert list(result.summary().columns) == ["observed", "expected", "O - E (weighted)"]
    assert "chi2 =" in str(result)
    assert "on 1 df" in str(result)
