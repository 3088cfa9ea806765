"""Bad input to a GLM raises a documented PerronError subclass that says what to do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perron
from perron import (
    FormulaError,
    InputError,
    NoCompleteRows,
    NonNumericColumn,
    PerfectSeparation,
    SingularDesign,
    UnknownColumn,
)

SHARES = (0.60, 0.25, 0.15)


@pytest.fixture
def session(lbw, split):
    return perron.simulate(split(lbw, SHARES))


def test_missing_column_names_the_column_and_alternatives(session):
    with pytest.raises(UnknownColumn, match=r"'weight' does not exist.*available columns"):
        session.glm("low ~ age + weight", family="binomial")


def test_non_numeric_column_suggests_categorical(session):
    with pytest.raises(NonNumericColumn, match=r"C\(race\)"):
        session.glm("low ~ age + race", family="binomial")


def test_all_missing_column_raises_no_complete_rows(lbw, split):
    data = lbw.assign(empty=np.nan)
    session = perron.simulate(split(data, SHARES))

    with pytest.raises(NoCompleteRows, match="no complete rows"):
        session.glm("low ~ age + empty", family="binomial")


def test_perfect_separation_is_detected(lbw, split):
    data = lbw.assign(birthweight_kg=lbw["bwt"] / 1000.0)  # low == (bwt < 2500)
    session = perron.simulate(split(data, SHARES))

    with pytest.raises(PerfectSeparation, match="separate the outcome"):
        session.glm("low ~ birthweight_kg", family="binomial")


def test_quasi_complete_separation_is_detected(lbw, split):
    # All smokers with a low-weight birth get flagged: the flag predicts low == 1 exactly
    # for its rows while the rest remain mixed.
    data = lbw.assign(flag=((lbw["low"] == 1) & (lbw["smoke"] == 1)).astype(int))
    # The flag is rare at the smallest station; this test is about separation.
    session = perron.simulate(split(data, SHARES), disclosure=perron.DisclosurePolicy(min_cell=1))

    with pytest.raises(PerfectSeparation):
        session.glm("low ~ age + flag", family="binomial")


def test_collinear_predictor_is_named(lbw, split):
    data = lbw.assign(age_months=lbw["age"] * 12.0)
    session = perron.simulate(split(data, SHARES))

    with pytest.raises(SingularDesign, match=r"'age_months'.*collinear"):
        session.glm("low ~ age + lwt + age_months", family="binomial")


def test_binomial_outcome_must_be_zero_one(session):
    with pytest.raises(InputError, match="coded 0/1"):
        session.glm("ptl ~ age", family="binomial")


def test_unknown_family_is_rejected(session):
    with pytest.raises(InputError, match="unknown GLM family"):
        session.glm("low ~ age", family="gamma")


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("low ~ age:smoke", "interaction"),
        ("low ~ np.log(age)", "not supported"),
    ],
)
def test_unsupported_formulas_say_why(session, formula, message):
    with pytest.raises(FormulaError, match=message):
        session.glm(formula, family="binomial")


def test_outcome_without_predictors_asks_for_a_formula(session):
    with pytest.raises(InputError, match=r"formula 'y ~ x1 \+ x2'"):
        session.glm("low age", family="binomial")


def test_negative_poisson_outcome_is_rejected(lbw, split):
    data = lbw.assign(change=lbw["lwt"] - 130)
    session = perron.simulate(split(data, SHARES))

    with pytest.raises(InputError, match="negative values"):
        session.glm("change ~ age", family="poisson")


def test_every_error_is_a_perron_error():
    for error in (
        UnknownColumn,
        NonNumericColumn,
        NoCompleteRows,
        PerfectSeparation,
        SingularDesign,
    ):
        assert issubclass(error, perron.PerronError)
        assert error.__doc__


def test_no_intercept_model_codes_every_level(lbw, split):
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    from tests.support import assert_matches_statsmodels

    session = perron.simulate(split(lbw, SHARES))
    result = session.glm("low ~ C(race) + age - 1", family="binomial")

    expected = smf.glm("low ~ C(race) + age - 1", data=lbw, family=sm.families.Binomial()).fit(
        tol=1e-13
    )
    assert_matches_statsmodels(result, expected)
    assert isinstance(result.params, pd.Series)
