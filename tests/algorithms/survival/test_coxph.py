"""Federated Cox PH equals the pooled fit of statsmodels and lifelines.

statsmodels' ``PHReg`` is fitted with ``tol=1e-14`` (its Newton stops at a
parameter change of 1e-8 by default) and lifelines with ``precision=1e-12``: its
default stopping rule lands up to 4e-6 (relative, lung) from the optimum, where
the tighter fit agrees with statsmodels and with Perron to ~1e-12.
R: ``coxph(Surv(lenfol, fstat) ~ age + bmi + gender + hr + sysbp + chf,
data = whas500)`` gives the same estimates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given
from hypothesis import strategies as st

import perron
from perron import DisclosureBlocked, DisclosurePolicy, InputError, SingularDesign
from tests.support import assert_close, reference_settings

SHARES = (0.60, 0.25, 0.15)
TIGHT = {"precision": 1e-12}
#: A holder that releases single events at full resolution: the exact setting.
EXACT = DisclosurePolicy(min_cell=1)
WHAS = ["age", "bmi", "gender", "hr", "sysbp", "chf"]


def phreg(data: pd.DataFrame, time: str, event: str, covariates: list[str], **kwargs: Any) -> Any:
    model = sm.PHReg(data[time], data[covariates], status=data[event], **kwargs)
    return model.fit(tol=1e-14)


def assert_matches(result: perron.CoxResult, params: Any, bse: Any, llf: float) -> None:
    names = (
        list(pd.Series(params).index)
        if isinstance(params, pd.Series)
        else list(result.params.index)
    )
    assert_close(result.params[names], np.asarray(params))
    assert_close(result.bse[names], np.asarray(bse))
    assert_close(result.llf, llf)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_whas500_equals_statsmodels(whas500, split, ties):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.coxph("lenfol", "fstat", WHAS, ties=ties)

    expected = phreg(whas500, "lenfol", "fstat", WHAS, ties=ties)
    assert_matches(result, expected.params, expected.bse, expected.llf)
    assert result.n_events == int(whas500["fstat"].sum())
    assert result.nobs == 500


def test_whas500_efron_equals_lifelines(whas500, split):
    from lifelines import CoxPHFitter

    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.coxph("lenfol", "fstat", WHAS)

    expected = CoxPHFitter().fit(
        whas500[[*WHAS, "lenfol", "fstat"]], "lenfol", "fstat", fit_options=TIGHT
    )
    assert_matches(result, expected.params_, expected.standard_errors_, expected.log_likelihood_)
    lr = expected.log_likelihood_ratio_test()
    assert_close(result.likelihood_ratio_test.statistic, lr.test_statistic)
    assert_close(result.likelihood_ratio_test.p_value, lr.p_value)
    assert_close(result.aic, expected.AIC_partial_)


def test_score_and_wald_tests_equal_the_pooled_ones(whas500, split):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.coxph("lenfol", "fstat", WHAS, ties="breslow")

    model = sm.PHReg(whas500["lenfol"], whas500[WHAS], status=whas500["fstat"], ties="breslow")
    zero = np.zeros(len(WHAS))
    score = model.score(zero)
    assert_close(result.score_test.statistic, score @ np.linalg.solve(-model.hessian(zero), score))
    fit = phreg(whas500, "lenfol", "fstat", WHAS, ties="breslow")
    wald = fit.params @ np.linalg.solve(fit.cov_params(), fit.params)
    assert_close(result.wald_test.statistic, wald)
    assert_close(result.llf_null, model.loglike(zero))


def test_lung_split_by_real_institutions_equals_lifelines():
    """R: coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung); R codes status 1/2."""
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_lung

    lung = load_lung().rename(columns=lambda c: c.replace(".", "_")).dropna(subset=["inst"])
    sites = {
        "north": lung[lung["inst"] <= 6],
        "centre": lung[(lung["inst"] > 6) & (lung["inst"] <= 15)],
        "south": lung[lung["inst"] > 15],
    }
    session = perron.simulate(sites, disclosure=EXACT)

    result = session.coxph("time", "status", ["age", "sex", "ph_ecog"])

    data = lung[["time", "status", "age", "sex", "ph_ecog"]].dropna()
    expected = CoxPHFitter().fit(data, "time", "status", fit_options=TIGHT)
    assert_matches(result, expected.params_, expected.standard_errors_, expected.log_likelihood_)
    assert sum(result.dropped_per_station.values()) == 1  # one ph.ecog missing


def test_veterans_with_string_categories_equals_statsmodels(split):
    from sksurv.datasets import load_veterans_lung_cancer

    x, y = load_veterans_lung_cancer()
    data = x.assign(
        time=y["Survival_in_days"],
        status=y["Status"].astype(int),
        celltype=x["Celltype"].astype(str),
    )
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.coxph("time", "status", "Karnofsky_score + Age_in_years + C(celltype)")

    expected = sm.PHReg.from_formula(
        "time ~ Karnofsky_score + Age_in_years + C(celltype)",
        data,
        status=data["status"],
        ties="efron",
    ).fit(tol=1e-14)
    names = list(expected.model.exog_names)
    assert sorted(result.params.index) == sorted(names)
    assert_close(result.params[names], expected.params)
    assert_close(result.bse[names], expected.bse)
    assert_close(result.llf, expected.llf)


def test_gbsg2_equals_lifelines(split):
    from lifelines import CoxPHFitter
    from sksurv.datasets import load_gbsg2

    x, y = load_gbsg2()
    data = x.assign(
        time=y["time"], cens=y["cens"].astype(int), horTh=(x["horTh"] == "yes").astype(int)
    )[["time", "cens", "age", "horTh", "pnodes", "progrec", "tsize"]]
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.coxph("time", "cens", ["age", "horTh", "pnodes", "progrec", "tsize"])

    expected = CoxPHFitter().fit(data, "time", "cens", fit_options=TIGHT)
    assert_matches(result, expected.params_, expected.standard_errors_, expected.log_likelihood_)


def test_strata_column_equals_statsmodels(whas500, split):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)
    covariates = ["age", "bmi", "hr", "chf"]

    result = session.coxph("lenfol", "fstat", covariates, strata="gender")

    expected = phreg(whas500, "lenfol", "fstat", covariates, ties="efron", strata=whas500["gender"])
    assert_matches(result, expected.params, expected.bse, expected.llf)


def test_station_as_stratum_equals_statsmodels_stratified_by_site(whas500, split):
    stations = split(whas500, SHARES)
    session = perron.simulate(stations, disclosure=EXACT)

    result = session.coxph("lenfol", "fstat", WHAS, strata="station", ties="breslow")

    pooled = pd.concat([frame.assign(site=name) for name, frame in stations.items()])
    expected = phreg(pooled, "lenfol", "fstat", WHAS, ties="breslow", strata=pooled["site"])
    assert_matches(result, expected.params, expected.bse, expected.llf)


def test_delayed_entry_equals_lifelines():
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_multicenter_aids_cohort_study

    data = load_multicenter_aids_cohort_study().reset_index(drop=True)
    stations = {"a": data.iloc[::2], "b": data.iloc[1::2]}
    session = perron.simulate(stations, disclosure=EXACT)

    result = session.coxph("T", "D", ["AIDSY"], entry="W")

    expected = CoxPHFitter().fit(data, "T", "D", entry_col="W", fit_options=TIGHT)
    assert_matches(result, expected.params_, expected.standard_errors_, expected.log_likelihood_)


def test_start_stop_rows_equal_lifelines_time_varying():
    """R: coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart)."""
    from lifelines import CoxTimeVaryingFitter
    from lifelines.datasets import load_stanford_heart_transplants

    heart = load_stanford_heart_transplants()
    ids = heart["id"].unique()
    stations = {
        "a": heart[heart["id"].isin(ids[:60])],
        "b": heart[heart["id"].isin(ids[60:85])],
        "c": heart[heart["id"].isin(ids[85:])],
    }
    session = perron.simulate(stations, disclosure=EXACT)
    covariates = ["age", "year", "surgery", "transplant"]

    result = session.coxph(
        event="event", covariates=covariates, start="start", stop="stop", id="id"
    )

    lifelines = CoxTimeVaryingFitter().fit(
        heart, id_col="id", event_col="event", start_col="start", stop_col="stop", fit_options=TIGHT
    )
    assert_close(result.params[covariates], lifelines.params_[covariates])
    assert_close(result.llf, lifelines.log_likelihood_)
    # lifelines takes its standard errors from the second-to-last iterate (4e-8 off
    # here); statsmodels evaluates them at the estimate. statsmodels treats entry as
    # a closed interval, so positive starts move up by 1e-7 (DATASETS.md's trap).
    entry = np.where(heart["start"] > 0, heart["start"] + 1e-7, heart["start"])
    expected = sm.PHReg(
        heart["stop"], heart[covariates], status=heart["event"], entry=entry, ties="efron"
    ).fit(tol=1e-14)
    assert_matches(result, expected.params, expected.bse, expected.llf)
    assert round(float(result.params["transplant"]), 4) == -0.0103  # R: coef -0.0103
    assert result.nobs == len(heart)


@reference_settings(15)
@given(k=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_random_splits_equal_pooled(whas500, k, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(whas500))
    sizes = 20 + np.floor(rng.dirichlet(np.ones(k)) * (len(whas500) - 20 * k))
    cuts = np.cumsum(sizes[:-1]).astype(int)
    stations = {f"s{i}": whas500.iloc[idx] for i, idx in enumerate(np.split(order, cuts))}
    session = perron.simulate(stations, disclosure=EXACT)

    result = session.coxph("lenfol", "fstat", ["age", "hr", "chf"], ties="breslow")

    expected = phreg(whas500, "lenfol", "fstat", ["age", "hr", "chf"], ties="breslow")
    assert_matches(result, expected.params, expected.bse, expected.llf)


def test_rounded_times_give_the_exact_fit_of_the_rounded_data(whas500, split):
    policy = DisclosurePolicy(min_cell=1, event_times="rounded", time_grid=30.0)
    session = perron.simulate(split(whas500, SHARES), disclosure=policy)

    result = session.coxph("lenfol", "fstat", WHAS)

    rounded = whas500.assign(lenfol=np.ceil(whas500["lenfol"] / 30.0) * 30.0)
    expected = phreg(rounded, "lenfol", "fstat", WHAS, ties="efron")
    assert_matches(result, expected.params, expected.bse, expected.llf)
    assert any(d.rule == "event_times" and d.outcome == "rounded" for d in result.decisions)


def test_default_blocks_coarsen_but_stay_close(whas500, split):
    exact = perron.simulate(split(whas500, SHARES), disclosure=EXACT).coxph("lenfol", "fstat", WHAS)

    coarse = perron.simulate(split(whas500, SHARES)).coxph("lenfol", "fstat", WHAS)

    assert not np.allclose(coarse.params, exact.params, rtol=1e-8)
    assert np.all(np.abs(coarse.params - exact.params) < 2 * exact.bse)


def test_holder_without_event_times_blocks(whas500, split):
    stations = split(whas500, SHARES)
    session = perron.simulate(stations, disclosure={"s1": DisclosurePolicy(event_times="none")})
    with pytest.raises(DisclosureBlocked) as error:
        session.coxph("lenfol", "fstat", WHAS)
    assert error.value.rule == "event_times"
    assert error.value.station == "s1"


def test_stratum_with_too_few_events_is_blocked(whas500, split):
    data = whas500.assign(group=np.where(np.arange(500) < 8, "tiny", "rest"))
    session = perron.simulate({"a": data.iloc[:250], "b": data.iloc[250:]})
    with pytest.raises(DisclosureBlocked) as error:
        session.coxph("lenfol", "fstat", ["age"], strata="group")
    assert error.value.rule in {"min_cell"}


def test_collinear_covariate_is_named(whas500, split):
    data = whas500.assign(age2=whas500["age"] * 2 + 1)
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)
    with pytest.raises(SingularDesign, match="age2"):
        session.coxph("lenfol", "fstat", ["age", "bmi", "age2"])


def test_event_must_be_zero_one(whas500, split):
    data = whas500.assign(fstat=whas500["fstat"] + 1)
    with pytest.raises(InputError, match="coded 0/1"):
        perron.simulate(split(data, SHARES)).coxph("lenfol", "fstat", ["age"])


def test_bad_arguments_are_explained(whas500, split):
    session = perron.simulate(split(whas500, SHARES))
    with pytest.raises(InputError, match="ties"):
        session.coxph("lenfol", "fstat", ["age"], ties="exact")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="start= and stop= together"):
        session.coxph("lenfol", "fstat", ["age"], start="lenfol")
    with pytest.raises(InputError, match="at least one covariate"):
        session.coxph("lenfol", "fstat", [])


def test_summary_plot_and_text(whas500, split, tmp_path):
    result = perron.simulate(split(whas500, SHARES)).coxph("lenfol", "fstat", WHAS)

    table = result.summary()
    assert list(table.index) == WHAS
    assert_close(table["exp(coef)"], np.exp(result.params))
    assert "Cox PH (efron ties)" in str(result)
    png = result.plot(tmp_path / "cox.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def _pairs(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> tuple[float, int]:
    """Harrell's counts by brute force over all pairs (the test's own reference)."""
    earlier = event[:, None] & (
        (time[None, :] > time[:, None]) | ((time[None, :] == time[:, None]) & ~event[None, :])
    )
    concordant = (risk[:, None] > risk[None, :]) + 0.5 * (risk[:, None] == risk[None, :])
    return float(np.sum(concordant * earlier)), int(np.sum(earlier))


def test_concordance_of_one_station_equals_lifelines(whas500):
    from lifelines import CoxPHFitter

    result = perron.simulate({"a": whas500}, disclosure=EXACT).coxph("lenfol", "fstat", WHAS)

    expected = CoxPHFitter().fit(whas500[[*WHAS, "lenfol", "fstat"]], "lenfol", "fstat")
    assert_close(result.concordance, expected.concordance_index_)


def test_concordance_counts_pairs_within_stations(whas500, split):
    stations = split(whas500, SHARES)

    result = perron.simulate(stations, disclosure=EXACT).coxph("lenfol", "fstat", WHAS)

    counts = [
        _pairs(
            frame["lenfol"].to_numpy(),
            frame["fstat"].to_numpy() == 1,
            frame[WHAS].to_numpy() @ result.params[WHAS].to_numpy(),
        )
        for frame in stations.values()
    ]
    assert_close(result.concordance, sum(c for c, _ in counts) / sum(n for _, n in counts))


def test_concordance_is_not_reported_for_start_stop_rows():
    from lifelines.datasets import load_stanford_heart_transplants

    heart = load_stanford_heart_transplants()
    session = perron.simulate({"a": heart}, disclosure=EXACT)
    result = session.coxph(event="event", covariates=["age"], start="start", stop="stop")
    assert result.concordance is None


def test_monotone_likelihood_is_reported(whas500, split):
    from perron import ConvergenceFailed

    # Everyone flagged dies before anyone unflagged has an event: the likelihood
    # rises for ever as the flag's coefficient grows.
    early = whas500["lenfol"] < whas500.loc[whas500["fstat"] == 1, "lenfol"].quantile(0.3)
    data = whas500.assign(flag=(early & (whas500["fstat"] == 1)).astype(int))
    data.loc[
        (data["flag"] == 0) & (data["lenfol"] < data.loc[data["flag"] == 1, "lenfol"].max()),
        "fstat",
    ] = 0
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)
    with pytest.raises(ConvergenceFailed, match="monotone likelihood"):
        session.coxph("lenfol", "fstat", ["age", "flag"])


def test_delayed_entry_under_rounded_times_drops_collapsed_rows_with_their_covariates():
    """A time grid can round an entry time up to its exit time: that row leaves the risk
    sets, and its covariates with it (they used to stay and misalign the arrays)."""
    rng = np.random.default_rng(4)
    n = 400
    entry = rng.uniform(0, 5, n)
    data = pd.DataFrame(
        {
            "W": entry,
            "T": entry + rng.exponential(2.0, n),
            "D": rng.integers(0, 2, n),
            "x": rng.normal(size=n),
        }
    )
    policy = DisclosurePolicy(min_cell=1, event_times="rounded", time_grid=1.0, min_events=1)
    rounded = data.assign(W=np.ceil(data["W"]), T=np.ceil(data["T"]))
    kept = data[rounded["W"] < rounded["T"]]
    assert len(kept) < len(data)  # the grid collapses some rows

    result = perron.simulate({"a": data[::2], "b": data[1::2]}, disclosure=policy).coxph(
        "T", "D", ["x"], entry="W"
    )
    expected = perron.simulate({"a": kept[::2], "b": kept[1::2]}, disclosure=policy).coxph(
        "T", "D", ["x"], entry="W"
    )

    assert_close(result.params.to_numpy(), expected.params.to_numpy())
