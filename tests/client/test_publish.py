"""The documents that publish results to a study, built from real results on real data."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

import perron
from perron import DisclosurePolicy
from perron.client.publish import MAX_TASK_IDS, cell, frame_table, number, result_document
from perron.protocol.errors import DisclosureBlocked, InputError, UnknownColumn

SHARES = (0.60, 0.25, 0.15)
FIELDS = {
    "result_id",
    "study",
    "title",
    "kind",
    "task_ids",
    "created_at",
    "tables",
    "figure",
    "errors",
}


def document(result: object, **changes: Any) -> dict[str, Any]:
    """A result's document, checked for what every document must be."""
    arguments: dict[str, Any] = {"title": "A result", "study": "lung"} | changes
    built = result_document(result, **arguments)
    assert set(built) == FIELDS
    json.dumps(built, allow_nan=False)  # JSON-safe: no NaN or infinity anywhere
    for table in built["tables"]:
        assert set(table) == {"name", "columns", "rows"}
        assert all(isinstance(c, str) for c in table["columns"])
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    return built


def table(built: dict[str, Any], name: str) -> pd.DataFrame:
    """A table of the document as a DataFrame (pandas reads a null of a number column as NaN)."""
    (found,) = [t for t in built["tables"] if t["name"] == name]
    return pd.DataFrame(found["rows"], columns=found["columns"])


def rows(built: dict[str, Any], name: str) -> list[list[Any]]:
    (found,) = [t for t in built["tables"] if t["name"] == name]
    return list(found["rows"])


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    from lifelines.datasets import load_lung

    return pd.DataFrame(load_lung())


@pytest.fixture(scope="module")
def lung_session(lung: pd.DataFrame) -> perron.Session:
    return perron.simulate({"a": lung.iloc[:80], "b": lung.iloc[80:160], "c": lung.iloc[160:]})


# -- regression: forest plots on the scale they are read on --------------------------------


def test_a_logistic_glm_shows_odds_ratios_without_the_intercept(lbw, split):
    result = perron.simulate(split(lbw, SHARES)).glm(
        "low ~ age + lwt + smoke + C(race)", family="binomial"
    )

    built = document(result)

    assert built["kind"] == "glm"
    figure = built["figure"]
    assert (figure["type"], figure["label"], figure["scale"], figure["reference"]) == (
        "forest",
        "Odds ratio",
        "log",
        1.0,
    )
    names = [t["name"] for t in figure["terms"]]
    assert names == [n for n in result.params.index if n != "Intercept"]
    ci = result.conf_int()
    for term in figure["terms"]:
        name = term["name"]
        assert term["estimate"] == pytest.approx(math.exp(result.params[name]), rel=1e-12)
        assert term["lower"] == pytest.approx(math.exp(ci.loc[name, 0]), rel=1e-12)
        assert term["upper"] == pytest.approx(math.exp(ci.loc[name, 1]), rel=1e-12)
    coefficients = table(built, "Coefficients").set_index("term")
    assert list(coefficients.index) == list(result.params.index)
    np.testing.assert_allclose(coefficients["coef"], result.params, rtol=1e-12)
    np.testing.assert_allclose(coefficients["P>|z|"], result.pvalues, rtol=1e-12)
    fit = table(built, "Fit").set_index("statistic")["value"]
    assert fit["rows"] == result.nobs == 189
    assert fit["converged"] is True


def test_a_poisson_glm_shows_rate_ratios(randhie, split):
    result = perron.simulate(split(randhie, SHARES)).glm(
        "mdvis ~ lncoins + idp + physlm", family="poisson"
    )

    figure = document(result)["figure"]

    assert (figure["label"], figure["scale"]) == ("Rate ratio", "log")
    estimates = {t["name"]: t["estimate"] for t in figure["terms"]}
    assert estimates["idp"] == pytest.approx(math.exp(result.params["idp"]), rel=1e-12)


def test_a_linear_glm_shows_its_coefficients_around_zero(diabetes, split):
    result = perron.simulate(split(diabetes, SHARES)).glm("target ~ age + sex + bmi + bp")

    figure = document(result)["figure"]

    assert (figure["label"], figure["scale"], figure["reference"]) == (
        "Coefficient",
        "linear",
        0.0,
    )
    estimates = {t["name"]: t["estimate"] for t in figure["terms"]}
    assert estimates == pytest.approx(result.params.drop("Intercept").to_dict(), rel=1e-12)


def test_a_cox_model_shows_hazard_ratios(lung_session):
    result = lung_session.coxph("time", "status", ["age", "sex", "ph.ecog"])

    built = document(result)

    assert built["kind"] == "coxph"
    figure = built["figure"]
    assert (figure["label"], figure["scale"], figure["reference"]) == ("Hazard ratio", "log", 1.0)
    ci = np.exp(result.conf_int())
    for term in figure["terms"]:
        name = term["name"]
        assert term["estimate"] == pytest.approx(result.hazard_ratios[name], rel=1e-12)
        assert (term["lower"], term["upper"]) == pytest.approx(tuple(ci.loc[name]), rel=1e-12)
    coefficients = table(built, "Coefficients").set_index("term")
    np.testing.assert_allclose(coefficients["exp(coef)"], result.hazard_ratios, rtol=1e-12)
    fit = table(built, "Fit").set_index("statistic")["value"]
    assert fit["events"] == result.n_events
    assert fit["likelihood ratio p"] == pytest.approx(result.likelihood_ratio_test.p_value)


# -- survival --------------------------------------------------------------------------


def test_kaplan_meier_curves_with_their_intervals_per_group(lung_session):
    result = lung_session.kaplan_meier("time", "status", by=["sex"], times=[180, 365])

    built = document(result)

    assert built["kind"] == "kaplan_meier"
    figure = built["figure"]
    assert (figure["type"], figure["duration"]) == ("km", "time")
    assert [c["label"] for c in figure["curves"]] == ["sex=1", "sex=2"]
    for curve, key in zip(figure["curves"], result.groups, strict=True):
        source = result.tables[key]
        assert len(curve["time"]) == len(curve["survival"]) == len(curve["lower"])
        assert len(curve["upper"]) == len(curve["time"])
        assert (curve["time"][0], curve["survival"][0]) == (0.0, 1.0)
        assert curve["time"] == list(source.index)
        np.testing.assert_allclose(curve["survival"], source["survival"], rtol=1e-12)
        assert all(
            lo <= s <= hi
            for lo, s, hi in zip(*(curve[k] for k in ("lower", "survival", "upper")), strict=True)
        )
    curves = table(built, "Survival curves")
    assert built["tables"][0]["name"] == "Survival curves"
    assert {"group", "time", "at_risk", "survival", "lower", "upper"} <= set(curves.columns)
    assert len(curves) == sum(len(t) for t in result.tables.values())
    median = table(built, "Median survival").set_index("group")
    assert median.loc["sex=1", "median"] == result.median.loc["1", "median"]
    at = table(built, "Survival at the requested times")
    assert list(at["time"]) == [180.0, 365.0, 180.0, 365.0]


def test_a_median_not_reached_is_null(lung):
    censored = lung.assign(status=np.where(lung["time"] < 100, lung["status"], 0))
    result = perron.simulate({"a": censored.iloc[:120], "b": censored.iloc[120:]}).kaplan_meier(
        "time", "status"
    )
    assert math.isinf(result.median.iloc[0]["median"])

    built = document(result)

    median = table(built, "Median survival").set_index("group")
    assert median.loc["all", "median"] is None
    assert [c["label"] for c in built["figure"]["curves"]] == ["all"]


def test_a_logrank_test_shows_its_statistic_and_the_observed_and_expected(lung_session):
    result = lung_session.logrank("time", "status", "sex")

    built = document(result)

    assert (built["kind"], built["figure"]) == ("logrank", None)
    test = table(built, "Test").set_index("statistic")["value"]
    assert test["chi2"] == pytest.approx(result.statistic)
    assert (test["df"], test["p"]) == (1, pytest.approx(result.p_value))
    observed = table(built, "Observed and expected events").set_index("sex")
    np.testing.assert_allclose(observed["expected"], result.expected)


# -- counts and descriptive statistics ---------------------------------------------------


def test_a_summary_with_quantiles_keeps_missing_ones_as_null(lung_session):
    result = lung_session.summary(["age", "wt.loss"])

    built = document(result)

    assert built["kind"] == "summary"
    summary = table(built, "Summary")
    assert list(summary.columns[:3]) == ["column", "station", "count"]
    combined = summary.set_index(["column", "station"]).loc[[("wt.loss", "combined")]]
    expected = result.table.loc[[("wt.loss", "combined")]]
    assert combined[["count", "50%"]].equals(expected[["count", "50%"]])
    (raw,) = [t for t in built["tables"] if t["name"] == "Summary"]
    (per_station,) = [row for row in raw["rows"] if row[:2] == ["age", "a"]]
    assert per_station[raw["columns"].index("50%")] is None


def test_a_crosstab_names_both_variables_and_keeps_suppressed_cells_null(lung_session):
    result = lung_session.crosstab("sex", "ph.ecog")

    built = document(result)

    assert built["kind"] == "crosstab"
    combined = built["tables"][0]
    assert combined["name"] == "Combined"
    assert combined["columns"] == ["sex \\ ph.ecog", "0.0", "1.0", "2.0", "3.0"]
    expected = [
        [level, *(None if np.isnan(v) else v for v in values)]
        for level, values in zip(result.table.index, result.table.to_numpy(), strict=True)
    ]
    assert combined["rows"] == expected
    assert None in combined["rows"][0]  # a suppressed cell
    assert [t["name"] for t in built["tables"][1:4]] == ["Station a", "Station b", "Station c"]


def test_feasibility_counts_as_the_stations_released_them(lung_session):
    result = lung_session.feasibility([{"column": "age", "between": [40, 60]}])

    built = document(result)

    assert (built["kind"], built["figure"]) == ("count", None)
    counts = table(built, "Counts").set_index("station")
    assert counts.loc["total", "count"] == result.total_text
    assert counts.loc["a", "precision"] == result.counts["a"].precision
    total = table(built, "Total").set_index("statistic")["value"]
    assert (total["low"], total["high"]) == (result.low, result.high)


@pytest.mark.parametrize(
    "analysis",
    [
        lambda s: s.histogram("age", bins=5),
        lambda s: s.quantiles("age", [0.25, 0.5]),
        lambda s: s.dp_count("age", epsilon=1.0),
        lambda s: s.dp_histogram("age", [40, 60, 80], epsilon=1.0),
    ],
    ids=["histogram", "quantiles", "dp_count", "dp_histogram"],
)
def test_other_analyses_publish_as_tables(lung_session, analysis):
    built = document(analysis(lung_session))

    assert (built["kind"], built["figure"]) == ("other", None)
    assert built["tables"][0]["rows"]


def test_every_federated_result_shows_its_rows_and_disclosure_decisions(lung_session):
    result = lung_session.coxph("time", "status", ["age", "ph.ecog"])

    built = document(result)

    rows = table(built, "Rows per station").set_index("station")
    assert rows["rows used"].to_dict() == dict(result.nobs_per_station)
    assert rows["rows dropped"].to_dict() == dict(result.dropped_per_station)
    decisions = table(built, "Disclosure decisions")
    assert list(decisions.columns) == ["station", "rule", "outcome", "outputs"]
    assert decisions["outputs"].sum() == len(result.decisions)


# -- anything else, errors and the envelope's fields ------------------------------------


@dataclass(frozen=True)
class Scorecard:
    name: str
    auc: float
    per_site: pd.DataFrame
    counts: dict[str, int]
    ignored: object = field(default_factory=object)


def test_another_result_becomes_tables_field_by_field():
    card = Scorecard(
        "model", float("nan"), pd.DataFrame({"auc": [0.7, np.inf]}, index=["a", "b"]), {"a": 3}
    )

    built = document(card)

    assert built["kind"] == "other"
    assert rows(built, "Values") == [["name", "model"], ["auc", None]]
    assert rows(built, "per_site") == [["a", 0.7], ["b", None]]
    assert rows(built, "counts") == [["a", 3]]


def test_a_dataframe_publishes_as_one_table():
    built = document(pd.DataFrame({"x": [1, 2], "y": ["p", "q"]}))

    assert built["tables"] == [
        {"name": "Result", "columns": ["x", "y"], "rows": [[1, "p"], [2, "q"]]}
    ]


def test_an_object_that_is_no_result_is_refused():
    with pytest.raises(InputError, match="cannot be published"):
        result_document(object(), title="x", study="lung")


def test_a_refused_run_publishes_its_stations_errors(lbw):
    session = perron.simulate(
        {"north": lbw[:100], "south": lbw[100:]}, disclosure=DisclosurePolicy(min_rows=150)
    )
    with pytest.raises(DisclosureBlocked) as blocked:
        session.summary("age", quantiles=None)

    built = document(blocked.value)

    assert (built["kind"], built["tables"], built["figure"]) == ("other", [], None)
    (error,) = built["errors"]
    assert (error["station"], error["kind"]) == ("north", "DisclosureBlocked")
    assert "min_rows" in error["message"]


def test_a_stations_error_is_published_in_its_own_words(lbw):
    session = perron.simulate({"north": lbw[:100], "south": lbw[100:]})
    with pytest.raises(UnknownColumn) as unknown:
        session.summary("weight", quantiles=None)

    (error,) = document(unknown.value)["errors"]

    assert (error["station"], error["kind"]) == ("north", "UnknownColumn")
    assert "weight" in error["message"]
    assert not error["message"].startswith("station 'north'")


def test_errors_come_with_a_result(lung_session):
    result = lung_session.summary("age", quantiles=None)
    entry = {"station": "d", "kind": "RoundTimeout", "message": "no answer"}

    built = document(result, errors=[entry, ValueError("late")])

    assert built["errors"] == [entry, {"station": "", "kind": "ValueError", "message": "late"}]


def test_the_fields_of_the_envelope(lung_session):
    result = lung_session.summary("age", quantiles=None)
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    tasks = [f"{i:032x}" for i in range(MAX_TASK_IDS + 5)]

    built = document(
        result,
        title="  Age at inclusion ",
        task_ids=tasks,
        result_id="ab" * 16,
        created_at=moment,
    )

    assert built["result_id"] == "ab" * 16
    assert (built["study"], built["title"]) == ("lung", "Age at inclusion")
    assert built["created_at"] == "2026-03-01T12:00:00+00:00"
    assert built["task_ids"] == tasks[-MAX_TASK_IDS:]
    fresh = document(result)
    assert re.fullmatch("[0-9a-f]{32}", fresh["result_id"])
    assert datetime.fromisoformat(fresh["created_at"]).tzinfo is not None


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_a_title_of_1_to_200_characters(lung_session, title):
    with pytest.raises(InputError, match="title"):
        result_document(lung_session.summary("age", quantiles=None), title=title, study="s")


def test_cells_and_numbers_are_json_safe():
    assert [number(v) for v in (2, np.float32(0.5), -np.inf, "x", pd.NA)] == [
        2.0,
        0.5,
        None,
        None,
        None,
    ]
    assert cell(pd.Timestamp("2026-01-02")) == "2026-01-02T00:00:00"
    assert cell(pd.NaT) is None
    assert cell(("a", 1)) == "a, 1"
    frame = pd.DataFrame({"count": [1.0]}, index=pd.Index(["x"], name="count"))
    assert frame_table("t", frame)["columns"] == ["count'", "count"]
