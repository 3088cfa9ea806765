"""Differentially private training: OpenDP's noise scale, clipping, and the budget ledger."""

from __future__ import annotations

import numpy as np
import pytest

import perron
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.prediction.training import FederatedTraining, TrainingPlan
from perron.governance.policy import Budget
from perron.learning.local import LocalConfig
from perron.learning.privacy import GradientNoise, clip_rows
from perron.protocol.messages import Partial
from tests.station.support import answer, make_run, study_policy


def test_the_noise_scale_matches_its_definition():
    """Scale = clip / epsilon; OpenDP's privacy map at distance ``clip`` gives at most
    epsilon; 20,000 noised zero gradients (80,000 draws) have the Laplace standard
    deviation sqrt(2) * scale to 3% (the estimate's own error is 0.4%)."""
    noise = GradientNoise.calibrate(clip=0.5, epsilon=0.25, dimension=4)
    draws = np.array([noise.release(np.zeros((3, 4))) for _ in range(20_000)])

    assert noise.scale == pytest.approx(2.0, rel=1e-12)
    assert noise.epsilon <= 0.25
    assert float(noise.measurement.map(0.5)) == pytest.approx(0.25, rel=1e-12)
    assert draws.std() == pytest.approx(np.sqrt(2) * 2.0, rel=0.03)
    assert abs(draws.mean()) < 0.05


def test_rows_are_clipped_to_l1_norm_clip():
    rows = np.array([[3.0, -4.0], [0.1, 0.2], [0.0, 0.0]])
    clipped = clip_rows(rows, 1.0)
    np.testing.assert_allclose(np.abs(clipped).sum(axis=1), [1.0, 0.3, 0.0])
    np.testing.assert_allclose(clipped[0], [3 / 7, -4 / 7])


def test_private_training_records_epsilon_and_still_learns(lbw_stations):
    session = perron.simulate(lbw_stations)
    model = session.train(
        "logistic", "low", ["age", "lwt", "smoke", "ui"], rounds=10, learning_rate=0.5,
        epsilon=5.0, clip=1.0,
    )  # fmt: skip

    assert model.epsilon == pytest.approx({"s0": 5.0, "s1": 5.0, "s2": 5.0})
    card = model.card["differential_privacy"]
    assert card["epsilon_per_round"] == pytest.approx(0.5)
    assert card["clip"] == 1.0
    assert all(np.isnan(m.train_loss) for m in model.history)
    assert len(model.history) == 10
    decisions = [d for d in model.decisions if d.rule == "differential_privacy"]
    assert len(decisions) == 30


def _drive(runner, researcher, algorithm: FederatedTraining) -> list[Partial]:
    """Run ``algorithm`` against one governed station runner, task by task."""
    step = algorithm.start()
    answers: list[Partial] = []
    for _ in range(algorithm.plan.rounds + 2):
        partial = answer(runner, researcher, make_run(researcher, "train", dict(step.params)))
        answers.append(partial)
        if partial.error is not None:
            return answers
        outcome = algorithm.coordinator_step({"north": partial.payload or {}}, step.state)
        if not hasattr(outcome, "params"):
            return answers
        step = outcome  # type: ignore[assignment]
    return answers


def test_the_station_charges_each_round_to_the_study_budget(station, signers, researcher):
    """Under a signed policy with epsilon = 1, a private run of 4 rounds at epsilon 0.8
    spends 0.2 per round task in the station's ledger; a second run gets the one round
    the budget still covers and is refused by the rule 'budget' at the next."""
    algorithms: dict[str, dict[str, object]] = {"train": {}}
    policy = study_policy(budget=Budget(epsilon=1.0), algorithms=algorithms)
    runner = station([signers.sign(policy)])
    spec = ModelSpec.from_columns("fstat", ["age", "bmi"])
    first = FederatedTraining(spec, TrainingPlan(rounds=4, epsilon=0.8, local=LocalConfig()))
    answers = _drive(runner, researcher, first)
    spent = runner.counter.spent(policy.policy_id)
    second = FederatedTraining(spec, TrainingPlan(rounds=4, epsilon=0.8, local=LocalConfig()))
    refused = _drive(runner, researcher, second)

    assert [a.error for a in answers] == [None] * 5  # prepare + 4 rounds
    assert spent == pytest.approx(0.8)
    assert [a.error is None for a in refused] == [True, True, False]  # prepare spends 0
    assert "policy rule 'budget'" in str((refused[-1].error or {})["message"])
    assert runner.counter.spent(policy.policy_id) == pytest.approx(1.0)
