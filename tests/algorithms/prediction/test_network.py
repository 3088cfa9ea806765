"""Validation and recalibration between real processes: a hub and three stations.

The stations run the installed ``validate`` and ``recalibrate`` algorithms from
the registry; the results equal the in-process simulation on the same data.
"""

from __future__ import annotations

from perron.algorithms.prediction.published_model import PublishedModel
from perron.demos.study import POLICY, lung_stations
from perron.sandbox.localnet import LocalNetwork
from perron.sandbox.simulation import simulate
from tests.support import assert_close

#: Illustrative coefficients of a logistic model of death on the lung data.
MODEL = PublishedModel.from_dict(
    {
        "kind": "logistic",
        "intercept": -1.0,
        "coefficients": {"age": 0.03, "sex": -0.8, "ph_ecog": 0.5},
    }
)


def test_validation_and_recalibration_over_the_network_equal_the_simulation():
    reference = simulate(lung_stations(), disclosure=POLICY)
    expected = reference.validate(MODEL, "status")
    expected_update = reference.recalibrate(MODEL, "status", method="logistic")

    with LocalNetwork(lung_stations(), disclosure=POLICY) as network:
        session = network.connect()
        result = session.validate(MODEL, "status")
        update = session.recalibrate(MODEL, "status", method="logistic")

    assert_close(result.auc, expected.auc)
    assert_close(result.brier, expected.brier)
    assert_close(result.slope, expected.slope)
    assert result.nobs_per_station == expected.nobs_per_station
    assert_close(update.model.intercept, expected_update.model.intercept)
    assert_close(update.model.beta, expected_update.model.beta)
