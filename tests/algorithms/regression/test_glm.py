"""Federated GLM equals the pooled statsmodels fit.

The reference is ``statsmodels.GLM(...).fit(tol=1e-13)``: statsmodels stops by
default at a deviance change of 1e-8 and takes its covariance from the weights of
its second-to-last iterate, so its default bse can sit ~1e-7 (relative) away from
the MLE's. Both converge to the same optimum; the tighter tolerance compares
like with like.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from hypothesis import given
from hypothesis import strategies as st

import perron
from perron import DisclosurePolicy
from tests.support import assert_matches_statsmodels, random_split, reference_settings, stations

SHARES = (0.60, 0.25, 0.15)
FAMILIES: Mapping[str, Any] = {
    "gaussian": sm.families.Gaussian(),
    "binomial": sm.families.Binomial(),
    "poisson": sm.families.Poisson(),
}


def reference(formula: str, data: pd.DataFrame, family: str, **kwargs: Any) -> Any:
    return smf.glm(formula, data=data, family=FAMILIES[family], **kwargs).fit(tol=1e-13)


def test_lbw_logistic_with_categorical_race_equals_pooled(lbw, split):
    formula = "low ~ age + lwt + smoke + ptl + ui + C(race)"
    session = perron.simulate(split(lbw, SHARES))

    result = session.glm(formula, family="binomial")

    assert_matches_statsmodels(result, reference(formula, lbw, "binomial"))
    assert result.nobs_per_station == {"s0": 113, "s1": 48, "s2": 28}


def test_randhie_poisson_equals_pooled(randhie, split):
    formula = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
    session = perron.simulate(split(randhie, SHARES))

    result = session.glm(formula, family="poisson")

    assert_matches_statsmodels(result, reference(formula, randhie, "poisson"))


def test_diabetes_gaussian_equals_pooled_ols(diabetes, split):
    columns = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    session = perron.simulate(split(diabetes, SHARES))

    result = session.glm("target", columns, family="gaussian")

    expected = reference("target ~ " + " + ".join(columns), diabetes, "gaussian")
    assert_matches_statsmodels(result, expected)
    assert result.scale == pytest.approx(expected.scale, rel=1e-10)


def test_whas500_binary_outcome_equals_pooled(whas500, split):
    formula = "fstat ~ age + bmi + gender + hr + sysbp + chf + C(afb)"
    session = perron.simulate(split(whas500, SHARES))

    result = session.glm(formula, family="binomial")

    assert_matches_statsmodels(result, reference(formula, whas500, "binomial"))


def test_poisson_offset_equals_pooled(randhie, split):
    data = randhie.assign(log_exposure=np.log1p(randhie["lpi"]))
    session = perron.simulate(split(data, SHARES))

    result = session.glm("mdvis ~ lncoins + idp + physlm", family="poisson", offset="log_exposure")

    expected = smf.glm(
        "mdvis ~ lncoins + idp + physlm",
        data=data,
        family=sm.families.Poisson(),
        offset=data["log_exposure"],
    ).fit(tol=1e-13)
    assert_matches_statsmodels(result, expected)


def test_list_form_with_categorical_names_terms_like_patsy(lbw, split):
    session = perron.simulate(split(lbw, SHARES))

    result = session.glm("low", ["age", "race"], categorical=["race"], family="binomial")

    assert list(result.params.index) == ["Intercept", "age", "race[T.other]", "race[T.white]"]


def test_missing_values_are_dropped_complete_case_and_counted(lbw, split):
    data = lbw.copy()
    data.loc[[0, 1, 2, 150, 180], "lwt"] = np.nan
    session = perron.simulate(split(data, SHARES))

    result = session.glm("low ~ age + lwt", family="binomial")

    assert result.dropped_per_station == {"s0": 3, "s1": 1, "s2": 1}
    assert result.nobs == 184
    assert_matches_statsmodels(result, reference("low ~ age + lwt", data.dropna(), "binomial"))


def test_result_records_station_decisions(lbw, split):
    session = perron.simulate(split(lbw, SHARES))

    result = session.glm("low ~ age + smoke", family="binomial")

    rules = {(d.station, d.rule) for d in result.decisions}
    for station in ("s0", "s1", "s2"):
        assert (station, "min_rows") in rules
        assert (station, "glm_saturation") in rules
        assert (station, "min_cell") in rules
    assert all(d.outcome == "passed" for d in result.decisions)


def test_result_interface_matches_statsmodels_shape(lbw, split):
    result = perron.simulate(split(lbw, SHARES)).glm("low ~ age", family="binomial")
    expected = reference("low ~ age", lbw, "binomial")

    ci = result.conf_int()
    np.testing.assert_allclose(ci.to_numpy(), expected.conf_int().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(result.tvalues, expected.tvalues, rtol=1e-8)
    np.testing.assert_allclose(result.pvalues, expected.pvalues, rtol=1e-7)
    assert result.cov_params().shape == (2, 2)
    assert list(result.summary().columns) == ["coef", "std err", "z", "P>|z|", "[0.025", "0.975]"]
    assert result.iterations >= 3
    assert "GLM binomial" in str(result)


PERMISSIVE = DisclosurePolicy(min_rows=1, min_cell=1, max_params_ratio=1.0, levels_density=1.0)


@reference_settings(25)
@given(data=st.data())
def test_random_splits_of_lbw_logistic_equal_pooled(lbw, data):
    seed, cuts = data.draw(random_split(len(lbw)))
    formula = "low ~ age + lwt + smoke + C(race)"
    session = perron.simulate(stations(lbw, seed, cuts), disclosure=PERMISSIVE)

    result = session.glm(formula, family="binomial")

    assert_matches_statsmodels(result, reference(formula, lbw, "binomial"))


@reference_settings(25)
@given(data=st.data())
def test_random_splits_of_diabetes_ols_equal_pooled(diabetes, data):
    seed, cuts = data.draw(random_split(len(diabetes)))
    formula = "target ~ age + sex + bmi + bp + s5"
    session = perron.simulate(stations(diabetes, seed, cuts), disclosure=PERMISSIVE)

    result = session.glm(formula, family="gaussian")

    assert_matches_statsmodels(result, reference(formula, diabetes, "gaussian"))
