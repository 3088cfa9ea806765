"""The Session's own argument checks and the simulate() wiring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perron
from perron import DisclosurePolicy, InputError


@pytest.fixture
def session(lbw):
    return perron.simulate({"a": lbw[:100], "b": lbw[100:]})


def test_stations_keep_their_order(lbw):
    assert perron.simulate({"z": lbw[:50], "a": lbw[50:]}).stations == ["z", "a"]


def test_summary_accepts_a_single_column_name(session):
    assert ("age", "combined") in session.summary("age", quantiles=None).table.index


def test_summary_needs_a_column(session):
    with pytest.raises(InputError):
        session.summary([])


def test_histogram_needs_positive_bins(session):
    with pytest.raises(InputError, match="positive"):
        session.histogram("age", bins=0)


def test_disclosure_for_an_unknown_station_is_rejected(lbw):
    with pytest.raises(InputError, match="unknown stations"):
        perron.simulate({"a": lbw}, disclosure={"b": DisclosurePolicy()})


def test_per_station_policies_apply_to_their_station_only(lbw):
    session = perron.simulate(
        {"a": lbw[:100], "b": lbw[100:]}, disclosure={"a": DisclosurePolicy(release_extremes=True)}
    )
    table = session.summary(["age"], quantiles=None).table
    minimum = table["min"]
    assert not np.isnan(minimum[("age", "a")])
    assert np.isnan(minimum[("age", "b")])
    assert "min" not in table.loc[("age", "combined"), :].dropna().index


def test_glm_without_intercept_from_columns(lbw):
    session = perron.simulate({"a": lbw[lbw.index % 2 == 0], "b": lbw[lbw.index % 2 == 1]})
    result = session.glm("bwt", ["age", "lwt"], intercept=False)
    assert list(result.params.index) == ["age", "lwt"]


def test_categorical_must_be_a_predictor(session):
    with pytest.raises(InputError, match="not among the predictors"):
        session.glm("low", ["age"], categorical=["race"], family="binomial")


def test_boolean_outcome_and_category_dtype_work(lbw):
    data = lbw.assign(low=lbw["low"].astype(bool), race=lbw["race"].astype("category"))
    stations = {"a": data[data.index % 2 == 0], "b": data[data.index % 2 == 1]}
    result = perron.simulate(stations).glm("low ~ age + C(race)", family="binomial")
    assert result.nobs == len(lbw)
    assert isinstance(result.params, pd.Series)


def test_poisson_station_with_only_zero_counts_starts_safely(randhie):
    zeros = randhie[randhie["mdvis"] == 0].iloc[:200]
    rest = randhie[randhie["mdvis"] > 0].iloc[:800]
    result = perron.simulate({"a": zeros, "b": rest}).glm("mdvis ~ lncoins", family="poisson")
    assert np.isfinite(result.params).all()
