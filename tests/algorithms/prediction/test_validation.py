"""External validation and updating of published models, against pooled references.

Exact quantities (O/E, Brier, calibration-in-the-large and slope, updated
coefficients) equal scikit-learn / statsmodels / lifelines on the pooled data to
1e-8. The c-statistic counts cross-station pairs from coarsened score histograms;
its tolerance is the measured deviation on each dataset (docs/prediction.md) with
a margin, and the logistic AUC also stays within its own reported bound.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index
from sklearn.metrics import brier_score_loss, roc_auc_score

import perron
from perron import DisclosureBlocked, DisclosurePolicy, InputError
from perron.algorithms.prediction.published_model import PublishedModel
from tests.conftest import split_frame
from tests.support import assert_close

#: LBW, illustrative coefficients (not a published model).
LBW_MODEL = {
    "kind": "logistic",
    "name": "LBW score",
    "intercept": 0.5,
    "coefficients": {
        "age": -0.03,
        "lwt": -0.012,
        "smoke": 0.9,
        "C(race)[T.black]": 1.1,
        "C(race)[T.other]": 0.7,
    },
}
BC_MODEL = {
    "kind": "logistic",
    "intercept": 30.0,
    "coefficients": {"mean_radius": -1.0, "mean_texture": -0.3, "worst_concave_points": -30.0},
}
WHAS_MODEL = {
    "kind": "cox",
    "coefficients": {"age": 0.045, "hr": 0.01, "bmi": -0.05, "chf": 0.7, "sysbp": -0.004},
}
UNEVEN = (0.45, 0.25, 0.17, 0.13)
#: Exact Cox fits need single event times released (the coarsening moves them).
EXACT_TIMES = DisclosurePolicy(min_events=1)


@pytest.fixture(scope="module")
def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    return frame.rename(columns=lambda c: c.replace(" ", "_"))


def _offset_fit(frame: pd.DataFrame, y: str, lp: np.ndarray, columns: list[str]) -> pd.Series:
    """statsmodels: ``GLM(y, [1, columns], family=Binomial(), offset=lp)``."""
    X = sm.add_constant(frame[columns].astype(float), has_constant="add")
    fit = sm.GLM(frame[y], X, family=sm.families.Binomial(), offset=lp).fit(tol=1e-12)
    params: pd.Series = fit.params
    return params


def test_logistic_validation_equals_the_pooled_references(lbw):
    model = PublishedModel.from_dict(LBW_MODEL)
    session = perron.simulate(split_frame(lbw, UNEVEN))

    result = session.validate(model, "low")

    lp = model.linear_predictor(lbw)
    risk = 1 / (1 + np.exp(-lp))
    assert_close(result.observed, lbw["low"].sum())
    assert_close(result.expected, risk.sum())
    assert_close(result.brier, brier_score_loss(lbw["low"], risk))
    citl = sm.GLM(lbw["low"], np.ones(len(lbw)), family=sm.families.Binomial(), offset=lp)
    assert_close(result.citl, citl.fit(tol=1e-12).params.iloc[0])
    slope = sm.GLM(lbw["low"], sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12)
    assert_close(result.slope, slope.params.iloc[1])
    # Cross-station pairs come from coarsened histograms: measured 0.0020 here.
    exact = roc_auc_score(lbw["low"], lp)
    assert result.concordance_max_error is not None
    assert abs(result.auc - exact) <= result.concordance_max_error
    assert abs(result.auc - exact) < 0.005
    assert result.calibration is not None
    assert int(result.calibration["n"].sum()) == len(lbw)
    assert_close(result.calibration["observed"].sum(), lbw["low"].sum())


def test_calibration_in_the_large_and_slope_per_station_equal_statsmodels(lbw):
    model = PublishedModel.from_dict(LBW_MODEL)
    frames = split_frame(lbw, (0.5, 0.3, 0.2))

    result = perron.simulate(frames).validate(model, "low")

    binomial = sm.families.Binomial()
    for name, frame in frames.items():
        lp = model.linear_predictor(frame)
        citl = sm.GLM(frame["low"], np.ones(len(frame)), family=binomial, offset=lp)
        assert_close(result.per_station.loc[name, "citl"], citl.fit(tol=1e-12).params.iloc[0])
        slope = sm.GLM(frame["low"], sm.add_constant(lp), family=binomial).fit(tol=1e-12)
        assert_close(result.per_station.loc[name, "slope"], slope.params.iloc[1])


def test_auc_per_station_is_exact_and_one_station_is_exact(breast_cancer):
    model = PublishedModel.from_dict(BC_MODEL)
    frames = split_frame(breast_cancer, UNEVEN)

    result = perron.simulate(frames).validate(model, "target")
    alone = perron.simulate({"all": breast_cancer}).validate(model, "target")

    for name, frame in frames.items():
        lp = model.linear_predictor(frame)
        assert_close(
            result.per_station.loc[name, "concordance"], roc_auc_score(frame["target"], lp)
        )
    exact = roc_auc_score(breast_cancer["target"], model.linear_predictor(breast_cancer))
    assert_close(alone.auc, exact)
    # Measured deviation 0.0007 on this split; the bound the result reports holds too.
    assert abs(result.auc - exact) < 0.002
    assert result.concordance_max_error is not None
    assert abs(result.auc - exact) <= result.concordance_max_error


def test_harrells_c_and_cox_slope_equal_lifelines(whas500):
    model = PublishedModel.from_dict(WHAS_MODEL)
    lp = model.linear_predictor(whas500)
    exact = concordance_index(whas500["lenfol"], -lp, whas500["fstat"])

    alone = perron.simulate({"all": whas500}, disclosure=EXACT_TIMES)
    one = alone.validate(model, duration="lenfol", event="fstat")
    several = perron.simulate(split_frame(whas500, UNEVEN), disclosure=EXACT_TIMES)
    result = several.validate(model, duration="lenfol", event="fstat")

    assert_close(one.concordance, exact)
    # Measured deviation 0.0022 (time intervals and score blocks across stations).
    assert abs(result.concordance - exact) < 0.005
    frame = pd.DataFrame({"T": whas500["lenfol"], "E": whas500["fstat"], "lp": lp})
    reference = CoxPHFitter().fit(frame, "T", "E", fit_options={"precision": 1e-14})
    assert_close(result.slope, reference.params_["lp"])


@pytest.mark.parametrize("method", ["intercept", "logistic", "revision"])
def test_recalibration_equals_statsmodels_with_offset(lbw, method):
    model = PublishedModel.from_dict(LBW_MODEL)
    session = perron.simulate(split_frame(lbw, UNEVEN))
    revise = ["smoke", "lwt"] if method == "revision" else []

    result = session.recalibrate(model, "low", method=method, revise=revise)

    lp = model.linear_predictor(lbw)
    if method == "logistic":
        fit = sm.GLM(lbw["low"], sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12)
        a, b = fit.params
        assert_close(result.model.intercept, a + b * model.intercept)
        assert_close(result.model.coefficients["age"], b * model.coefficients["age"])
        return
    columns = list(revise)
    params = _offset_fit(lbw, "low", lp, columns)
    assert_close(result.model.intercept, model.intercept + params["const"])
    for term, column in zip(revise, columns, strict=True):
        assert_close(result.model.coefficients[term], model.coefficients[term] + params[column])
    # The updated model is calibrated in the large on the pooled data.
    updated = result.model.linear_predictor(lbw)
    assert_close((1 / (1 + np.exp(-updated))).sum(), lbw["low"].sum())


def test_a_small_stations_bins_are_merged_to_min_cell(lbw):
    frames = split_frame(lbw, (0.5, 0.3, 0.2))
    session = perron.simulate(frames, disclosure=DisclosurePolicy(min_cell=8))

    result = session.validate(PublishedModel.from_dict(LBW_MODEL), "low")

    assert result.calibration_per_station is not None
    for table in result.calibration_per_station.values():
        assert (table["n"] >= 8).all()
    merged = [d for d in result.decisions if "blocks of >= min_cell" in d.subject]
    assert merged
    assert all(d.threshold == 8 for d in merged)


def test_too_few_cases_at_a_station_names_the_rule_not_the_number(lbw):
    frames = split_frame(lbw, UNEVEN)
    cases = int(frames["s3"]["low"].sum())
    policy = DisclosurePolicy(min_cell=cases + 1)

    with pytest.raises(DisclosureBlocked) as error:
        perron.simulate(frames, disclosure={"s3": policy}).validate(LBW_MODEL, "low")

    assert error.value.rule == "min_cell"
    assert error.value.station == "s3"
    assert f" {cases} " not in str(error.value).replace(str(cases + 1), "")


def test_a_model_file_round_trips_and_bad_models_are_refused(tmp_path, lbw):
    path = PublishedModel.from_dict(LBW_MODEL).to_json(tmp_path / "model.json")
    assert PublishedModel.from_json(path) == PublishedModel.from_dict(LBW_MODEL)
    fitted = perron.simulate({"a": lbw}).glm("low ~ age + smoke + C(race)", family="binomial")
    model = PublishedModel.from_result(fitted)
    assert set(model.coefficients) == {"age", "smoke", "C(race)[T.other]", "C(race)[T.white]"}

    bad = [
        {**LBW_MODEL, "kind": "linear"},
        {**LBW_MODEL, "coefficients": {"age**2": 1.0}},
        {**LBW_MODEL, "coefficients": {"age": "high"}},
        {**LBW_MODEL, "colour": "red"},
        {**WHAS_MODEL, "baseline_survival": 0.9},
    ]
    for description in bad:
        with pytest.raises(InputError):
            PublishedModel.from_dict(description)
    (tmp_path / "broken.json").write_text(json.dumps([1, 2]))
    with pytest.raises(InputError, match="JSON object"):
        PublishedModel.from_json(tmp_path / "broken.json")
