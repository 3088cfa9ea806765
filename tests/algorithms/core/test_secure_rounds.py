"""Analyses under secure aggregation equal the same analyses without it (1e-9 relative),
on real data split unevenly; the coordinator sees only masked vectors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import perron
from perron import DisclosurePolicy
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.core.secure_rounds import SECURE_SUM, SecureAggregation
from perron.algorithms.regression.glm import GLM
from perron.client.grid import InMemoryGrid
from perron.protocol.errors import InputError
from perron.protocol.grid import Grid
from perron.protocol.messages import Partial, Task

SHARES = (0.60, 0.25, 0.15)
RTOL = 1e-9


def test_logistic_regression_under_secure_aggregation_equals_the_plain_fit(lbw, split):
    formula = "low ~ age + lwt + smoke + ptl + ui + C(race)"
    frames = split(lbw, SHARES)

    plain = perron.simulate(frames).glm(formula, family="binomial")
    secure = perron.simulate(frames, secure_aggregation=True).glm(formula, family="binomial")

    np.testing.assert_allclose(secure.params, plain.params, rtol=RTOL)
    np.testing.assert_allclose(secure.bse, plain.bse, rtol=RTOL)
    assert secure.deviance == pytest.approx(plain.deviance, rel=RTOL)
    assert secure.nobs_per_station == {SECURE_SUM: 189}


def test_poisson_regression_under_secure_aggregation_equals_the_plain_fit(randhie, split):
    formula = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea"
    frames = split(randhie, SHARES)

    plain = perron.simulate(frames).glm(formula, family="poisson")
    secure = perron.simulate(frames, secure_aggregation=True).glm(formula, family="poisson")

    np.testing.assert_allclose(secure.params, plain.params, rtol=RTOL)


def test_summary_under_secure_aggregation_equals_the_plain_combined_row(lbw, split):
    frames = split(lbw, SHARES)
    plain = perron.simulate(frames).summary(["age", "lwt", "bwt"], quantiles=None)
    secure = perron.simulate(frames, secure_aggregation=True).summary(["age", "lwt", "bwt"])

    combined = plain.table.xs("combined", level="station")
    got = secure.table.xs("combined", level="station")
    for column in ("count", "missing", "mean", "var"):
        np.testing.assert_allclose(got[column], combined[column], rtol=RTOL)
    assert set(secure.table.index.get_level_values("station")) == {SECURE_SUM, "combined"}


def test_histogram_under_secure_aggregation_keeps_suppressed_cells_unknown(lbw, split):
    frames = split(lbw, SHARES)
    edges = [14, 20, 25, 30, 35, 46]
    plain = perron.simulate(frames).histogram("age", bins=edges)
    secure = perron.simulate(frames, secure_aggregation=True).histogram("age", bins=edges)

    np.testing.assert_array_equal(np.isnan(secure.counts), np.isnan(plain.counts))
    assert np.isnan(plain.counts).any()  # a station suppressed a small cell
    known = ~np.isnan(plain.counts)
    np.testing.assert_array_equal(secure.counts[known], plain.counts[known])


def test_cox_under_secure_aggregation_equals_the_plain_fit(whas500, split):
    frames = split(whas500, SHARES)
    covariates = ["age", "bmi", "gender", "hr"]
    plain = perron.simulate(frames).coxph("lenfol", "fstat", covariates, strata="cvd")
    secure = perron.simulate(frames, secure_aggregation=True).coxph(
        "lenfol", "fstat", covariates, strata="cvd"
    )

    np.testing.assert_allclose(secure.params, plain.params, rtol=RTOL)
    np.testing.assert_allclose(secure.bse, plain.bse, rtol=RTOL)
    assert secure.concordance == pytest.approx(plain.concordance, rel=RTOL)


def test_crosstab_under_secure_aggregation_equals_the_plain_table(lbw, split):
    frames = split(lbw, SHARES)
    plain = perron.simulate(frames, disclosure=DisclosurePolicy(min_cell=1)).crosstab(
        "race", "smoke"
    )
    secure = perron.simulate(
        frames, disclosure=DisclosurePolicy(min_cell=1), secure_aggregation=True
    ).crosstab("race", "smoke")

    pd.testing.assert_frame_equal(secure.table, plain.table)
    assert list(secure.per_station) == [SECURE_SUM]


class _Recording:
    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.partials: list[dict[str, Any]] = []

    @property
    def stations(self) -> Any:
        return self.grid.stations

    def run_round(self, task: Task) -> Any:
        partials = self.grid.run_round(task)
        self.partials += [dict(p.payload or {}) for p in partials.values()]
        return partials


def test_the_coordinator_sees_masked_vectors_not_a_stations_sums(lbw, split):
    frames = split(lbw, SHARES)
    session = perron.simulate(frames)
    grid = _Recording(session.grid)
    spec = ModelSpec.from_formula("low ~ age + smoke")

    GLM(spec, "binomial").run(grid, secure=SecureAggregation())

    irls = [p for p in grid.partials if "masked" in p and "levels" not in p]
    assert irls  # every IRLS partial was masked
    assert all(set(p) <= {"masked", "saturated"} for p in irls)
    text = json.dumps(grid.partials)
    for payload in irls:  # the layout names fields and shapes, never a value
        assert all(isinstance(d, int) for _, dims in payload["masked"]["layout"] for d in dims)
    alone = perron.simulate({"s0": frames["s0"]}).glm("low ~ age + smoke", family="binomial")
    assert f"{alone.deviance:.6f}" not in text


def test_two_stations_are_refused_and_an_unsupported_analysis_says_so(lbw, split):
    two = perron.simulate(split(lbw, (0.5, 0.5)), secure_aggregation=True)
    with pytest.raises(InputError, match="at least 3 stations"):
        two.glm("low ~ age", family="binomial")
    three = perron.simulate(split(lbw, SHARES), secure_aggregation=True)
    with pytest.raises(InputError, match="cannot run under secure aggregation"):
        three.quantiles("age", [0.5])
    with pytest.raises(InputError, match="stratified by station"):
        three.coxph("age", "low", ["lwt"], strata="station")


class _Dropping:
    """A grid whose station ``s3`` stops answering in the third round."""

    def __init__(self, grid: InMemoryGrid) -> None:
        self.grid = grid

    @property
    def stations(self) -> Any:
        return self.grid.stations

    def run_round(self, task: Task) -> dict[str, Partial]:
        partials = dict(self.grid.run_round(task))
        if task.round >= 2:
            partials.pop("s3", None)
        return partials

    def without(self, stations: Any) -> InMemoryGrid:
        return self.grid.without(stations)


def test_a_station_that_drops_out_is_left_out_and_the_analysis_runs_again(diabetes, split):
    frames = split(diabetes, (0.4, 0.3, 0.2, 0.1))
    grid = perron.simulate(frames).grid
    assert isinstance(grid, InMemoryGrid)
    spec = ModelSpec.from_formula("target ~ age + sex + bmi + bp")

    result = GLM(spec, "gaussian").run(_Dropping(grid), secure=SecureAggregation())

    rest = {k: v for k, v in frames.items() if k != "s3"}
    expected = perron.simulate(rest).glm("target ~ age + sex + bmi + bp")
    np.testing.assert_allclose(result.params, expected.params, rtol=RTOL)
    assert [(d.station, d.outcome) for d in result.decisions[:1]] == [("s3", "withheld")]


def test_with_too_few_stations_left_a_dropout_fails_the_run(lbw, split):
    frames = split(lbw, SHARES)
    grid = perron.simulate(frames).grid
    assert isinstance(grid, InMemoryGrid)

    class _Loses(_Dropping):
        def run_round(self, task: Task) -> dict[str, Partial]:
            partials = dict(self.grid.run_round(task))
            if task.round >= 2:
                partials.pop("s2", None)
            return partials

    with pytest.raises(InputError, match=r"\['s2'\] dropped out"):
        GLM(ModelSpec.from_formula("low ~ age"), "binomial").run(
            _Loses(grid), secure=SecureAggregation()
        )


def test_disclosure_settings_still_apply_at_each_station(lbw, split):
    frames: dict[str, pd.DataFrame] = split(lbw, SHARES)
    strict = perron.simulate(
        frames, disclosure=DisclosurePolicy(min_rows=60), secure_aggregation=True
    )
    with pytest.raises(Exception, match="min_rows"):
        strict.glm("low ~ age", family="binomial")
