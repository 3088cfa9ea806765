"""Federated training between real processes: a hub and three stations on 127.0.0.1."""

from __future__ import annotations

import numpy as np

from perron.learning.metrics import RoundMetrics
from perron.sandbox.localnet import LocalNetwork
from perron.sandbox.simulation import simulate
from tests.learning.conftest import LBW_FORMULA


def test_training_over_the_network_equals_the_simulation(tmp_path, lbw_stations):
    """Weights travel as JSON numbers (exact for float64), so 5 rounds of FedAvg over
    HTTP give bit-for-bit the model of the simulation; the model saves and loads."""
    seen: list[RoundMetrics] = []
    with LocalNetwork(lbw_stations, workdir=tmp_path) as network:
        session = network.connect()
        model = session.train(
            "logistic", LBW_FORMULA, rounds=5, learning_rate=1.0, validation=0.3,
            on_round=seen.append,
        )  # fmt: skip
    reference = simulate(lbw_stations).train(
        "logistic", LBW_FORMULA, rounds=5, learning_rate=1.0, validation=0.3
    )

    np.testing.assert_array_equal(model.weights, reference.weights)
    assert [m.round for m in seen] == [1, 2, 3, 4, 5]
    assert [m.validation_loss for m in model.history] == [
        m.validation_loss for m in reference.history
    ]
    assert model.nobs_per_station == reference.nobs_per_station
