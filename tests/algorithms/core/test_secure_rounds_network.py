"""Secure aggregation between real station processes: the hub and the researcher's
coordinator see masked vectors only, and the fit equals the plain one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import perron
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.core.secure_rounds import SecureAggregation
from perron.algorithms.regression.glm import GLM
from perron.client.http_grid import HttpGrid
from perron.protocol.messages import Task
from perron.sandbox.localnet import LocalNetwork


def test_a_logistic_regression_under_secure_aggregation_through_a_hub(lbw, split, tmp_path):
    frames = split(lbw, (0.5, 0.3, 0.2))
    formula = "low ~ age + lwt + smoke + ui"
    expected = perron.simulate(frames).glm(formula, family="binomial")

    with LocalNetwork(frames, workdir=tmp_path) as network:
        session = network.connect()
        session.secure_aggregation = True
        result = session.glm(formula, family="binomial")
        summary = session.summary(["age", "lwt"])
        session.close()

    np.testing.assert_allclose(result.params, expected.params, rtol=1e-9)
    assert result.nobs_per_station == {"(secure sum)": len(lbw)}
    assert summary.table.loc[("age", "combined"), "mean"] == pytest.approx(
        lbw["age"].mean(), rel=1e-12
    )


class _StopsAStation:
    """A grid that takes station ``s3`` offline after the run's keys round."""

    def __init__(self, network: LocalNetwork, grid: Any) -> None:
        self.network = network
        self.grid = grid

    @property
    def stations(self) -> Any:
        return self.grid.stations

    def run_round(self, task: Task) -> Any:
        partials = self.grid.run_round(task)
        if (
            "s3" in self.grid.stations
            and task.params.get("secure_aggregation", {}).get("stage") == "keys"
        ):
            self.network.stop_station("s3")
        return partials

    def without(self, stations: Any) -> Any:
        return self.grid.without(stations)


def test_a_station_that_drops_out_through_a_hub_is_left_out_and_the_fit_runs_again(
    lbw, split, tmp_path
):
    frames = split(lbw, (0.4, 0.25, 0.2, 0.15))
    formula = "low ~ age + lwt"
    rest = {k: v for k, v in frames.items() if k != "s3"}
    expected = perron.simulate(rest).glm(formula, family="binomial")

    with LocalNetwork(frames, workdir=tmp_path) as network:
        session = network.connect()
        grid = session.grid
        assert isinstance(grid, HttpGrid)
        grid.timeout = 8.0
        spec = ModelSpec.from_formula(formula)
        result = GLM(spec, "binomial").run(
            _StopsAStation(network, grid), secure=SecureAggregation()
        )
        session.close()

    np.testing.assert_allclose(result.params, expected.params, rtol=1e-9)
    assert [(d.station, d.outcome) for d in result.decisions[:1]] == [("s3", "withheld")]
    assert result.nobs_per_station == {"(secure sum)": sum(len(f) for f in rest.values())}
