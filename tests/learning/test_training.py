"""Federated training against centralised training and the pooled optimum, on real data.

References: the same gradient steps done in numpy on the pooled rows (one
station), scikit-learn's ``LogisticRegression`` with the matching penalty and
``C = 1 / (alpha * N)`` (L2: lbfgs; L1 and elastic net: saga), statsmodels'
``GLM(Binomial)`` without a penalty. Federated weights are compared on the
standardised design the run agreed (:class:`perron.learning.features.Scaling`),
where the penalty applies.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import perron
from perron.algorithms.prediction.trained import TrainedModel
from perron.learning.features import design_matrix
from perron.learning.metrics import RoundMetrics
from perron.learning.network import FloatArray
from perron.protocol.errors import InputError
from tests.learning.conftest import LBW_FORMULA

NUMERIC = ["age", "lwt", "smoke", "ui", "ptl"]


def _pooled(model: TrainedModel, frame: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
    """The standardised pooled design of ``model`` and the outcome."""
    X, _ = design_matrix(frame, model.design)
    return model.scaling.apply(X), frame[model.design.response].to_numpy(dtype=np.float64)


def _sklearn(Xs: FloatArray, y: FloatArray, penalty: str, alpha: float) -> FloatArray:
    """sklearn's fit of mean log-loss + alpha * penalty (intercept unpenalised)."""
    ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": 0.5}[penalty]
    solver = "lbfgs" if penalty == "l2" else "saga"
    fit = LogisticRegression(
        C=1.0 / (alpha * y.size), l1_ratio=ratio, solver=solver, tol=1e-14, max_iter=1_000_000
    ).fit(Xs[:, 1:], y)
    weights: FloatArray = np.r_[fit.intercept_, fit.coef_[0]]
    return weights


def test_one_station_equals_centralised_gradient_descent(lbw):
    """FedAvg with one station is plain gradient descent on the pooled rows: 10 rounds
    of 3 full-batch epochs with a ridge penalty, repeated in numpy, agree to 1e-10."""
    session = perron.simulate({"only": lbw})
    model = session.train(
        "logistic", "low", NUMERIC, rounds=10, local_epochs=3, learning_rate=0.5,
        penalty="l2", alpha=0.05,
    )  # fmt: skip

    X = lbw[NUMERIC].to_numpy(dtype=np.float64)
    Xs = np.column_stack([np.ones(len(lbw)), (X - X.mean(axis=0)) / X.std(axis=0)])
    y = lbw["low"].to_numpy(dtype=np.float64)
    w = np.zeros(Xs.shape[1])
    mask = np.r_[0.0, np.ones(len(NUMERIC))]
    for _ in range(10 * 3):
        p = 1.0 / (1.0 + np.exp(-(Xs @ w)))
        w = w - 0.5 * (Xs.T @ (p - y) / y.size + 0.05 * mask * w)

    np.testing.assert_allclose(model.weights, w, rtol=0, atol=1e-10)
    assert [m.round for m in model.history] == list(range(1, 11))
    assert model.nobs_per_station == {"only": len(lbw)}


@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
def test_fedavg_reaches_the_pooled_penalised_optimum(lbw, lbw_stations, penalty):
    """Three uneven stations, 1000 rounds of one full-batch step (learning rate 1):
    the weights equal scikit-learn's pooled fit to 1e-7 (measured: 3e-8 for L2, 3e-14
    for L1 and elastic net, whose soft-thresholding the coordinator applies)."""
    session = perron.simulate(lbw_stations)
    model = session.train(
        "logistic", LBW_FORMULA, rounds=1000, learning_rate=1.0, penalty=penalty, alpha=0.02
    )

    Xs, y = _pooled(model, lbw)
    reference = _sklearn(Xs, y, penalty, 0.02)
    np.testing.assert_allclose(model.weights, reference, rtol=0, atol=1e-7)
    if penalty == "l1":
        assert np.count_nonzero(model.weights == 0.0) == np.count_nonzero(reference == 0.0) > 0


def test_fedavg_without_penalty_reaches_the_statsmodels_fit(lbw, lbw_stations):
    """Unpenalised: 2000 rounds give statsmodels' coefficients (original scale) to 1e-6
    relative; the pooled log-likelihood to 1e-9."""
    session = perron.simulate(lbw_stations)
    model = session.train("logistic", LBW_FORMULA, rounds=2000, learning_rate=1.0)

    reference = sm.GLM.from_formula(LBW_FORMULA, lbw, family=sm.families.Binomial()).fit()
    ours = model.coefficients
    np.testing.assert_allclose(
        ours.to_numpy(), reference.params[ours.index].to_numpy(), rtol=1e-5, atol=1e-6
    )
    assert model.history[-1].train_loss * len(lbw) == pytest.approx(-reference.llf, rel=1e-9)


def test_fedprox_with_one_epoch_is_fedavg_and_with_many_drifts_less(cancer):
    """The proximal term vanishes at the first local step, so one full-batch epoch is
    FedAvg exactly; with 20 local epochs over stations split by outcome share, both
    settle (300 rounds) away from the pooled optimum (client drift), FedProx nearer."""
    malignant = cancer[cancer["target"] == 0]  # 212 rows
    benign = cancer[cancer["target"] == 1]  # 357 rows
    # Uneven outcome mixes: 88%, 25% and 11% malignant.
    stations = {
        "a": pd.concat([malignant.iloc[:140], benign.iloc[:20]]),
        "b": pd.concat([malignant.iloc[140:190], benign.iloc[20:170]]),
        "c": pd.concat([malignant.iloc[190:], benign.iloc[170:]]),
    }
    session = perron.simulate(stations)
    features = ["mean_radius", "mean_texture", "mean_smoothness", "worst_concavity"]
    fit = partial(
        session.train, "logistic", "target", features, penalty="l2", alpha=0.01, learning_rate=0.5
    )

    avg1 = fit(rounds=5)
    prox1 = fit(rounds=5, strategy="fedprox")
    avg = fit(rounds=300, local_epochs=20)
    prox = fit(rounds=300, local_epochs=20, strategy="fedprox", mu=1.0)

    np.testing.assert_array_equal(prox1.weights, avg1.weights)
    Xs, y = _pooled(avg, cancer)
    reference = _sklearn(Xs, y, "l2", 0.01)
    drift_avg = np.abs(avg.weights - reference).max()
    drift_prox = np.abs(prox.weights - reference).max()
    # Measured: 0.156 (FedAvg) and 0.046 (FedProx, mu = 1) in the largest coefficient.
    assert drift_prox < 0.5 * drift_avg
    assert prox.card["training_procedure"]["strategy"] == "fedprox"


def test_fedadam_converges_to_the_pooled_optimum(lbw, lbw_stations):
    """FedAdam (server rate 0.05, tau 1e-3; local rate 0.5) over 300 rounds: within 1e-3
    of the pooled ridge fit (it oscillates near the optimum at a scale set by eta)."""
    session = perron.simulate(lbw_stations)
    model = session.train(
        "logistic", LBW_FORMULA, strategy="fedadam", rounds=300, learning_rate=0.5,
        server_learning_rate=0.05, tau=1e-3, penalty="l2", alpha=0.02,
    )  # fmt: skip

    Xs, y = _pooled(model, lbw)
    np.testing.assert_allclose(model.weights, _sklearn(Xs, y, "l2", 0.02), rtol=0, atol=1e-3)
    losses = [m.train_loss for m in model.history]
    assert losses[-1] < losses[0]


def test_early_stopping_keeps_the_best_round(cancer):
    """A network that overfits: training stops ``patience`` rounds after the best
    validation loss and keeps that round's weights, which a run of exactly that many
    rounds reproduces."""
    session = perron.simulate({"a": cancer.iloc[:300], "b": cancer.iloc[300:]})
    fit = partial(
        session.train, "mlp", "target",
        ["mean_radius", "mean_texture", "mean_smoothness", "mean_symmetry"],
        hidden=(32,), learning_rate=2.0, local_epochs=5, validation=0.3, seed=3,
    )  # fmt: skip
    seen: list[RoundMetrics] = []

    model = fit(rounds=300, patience=5, on_round=seen.append)
    again = fit(rounds=model.best_round)

    assert model.stopped_early
    assert len(model.history) == model.best_round + 5 < 300
    best = min(model.history, key=lambda m: m.validation_loss)
    assert best.round == model.best_round
    assert all(m.validation_loss > best.validation_loss for m in model.history[best.round :])
    np.testing.assert_array_equal(model.weights, again.weights)
    assert seen == list(model.history)


def test_a_small_network_learns_the_breast_cancer_outcome(cancer, split):
    """An MLP 30-8-1 over three stations separates the classes (AUC > 0.98 on the
    pooled rows) and its losses fall; per-round metrics carry n, one per round."""
    features = [c for c in cancer.columns if c != "target"]
    session = perron.simulate(split(cancer, [0.4, 0.35, 0.25]))
    model = session.train(
        "mlp", "target", features, hidden=(8,), rounds=40, learning_rate=0.5,
        local_epochs=2, batch_size=32, validation=0.1, seed=1,
    )  # fmt: skip

    auc = roc_auc_score(cancer["target"], model.predict_proba(cancer))
    assert auc > 0.98
    assert model.history[-1].train_loss < 0.5 * model.history[0].train_loss
    first = model.history[0]
    assert sum(first.n.values()) + sum(first.n_validation.values()) == len(cancer)
    assert [m.round for m in model.history] == list(range(1, len(model.history) + 1))
    with pytest.raises(InputError, match="no coefficients"):
        _ = model.coefficients


def test_save_and_load_round_trip(tmp_path, lbw, lbw_stations):
    session = perron.simulate(lbw_stations)
    model = session.train("logistic", LBW_FORMULA, rounds=20, learning_rate=1.0, validation=0.25)
    net = session.train("mlp", LBW_FORMULA, rounds=5, hidden=(4, 3), activation="relu")

    folder = model.save(tmp_path / "lbw-model")
    loaded = TrainedModel.load(folder)
    net_loaded = TrainedModel.load(net.save(tmp_path / "net"))

    np.testing.assert_array_equal(loaded.predict_proba(lbw), model.predict_proba(lbw))
    np.testing.assert_array_equal(net_loaded.predict_proba(lbw), net.predict_proba(lbw))
    pd.testing.assert_series_equal(loaded.coefficients, model.coefficients)
    assert loaded.history == model.history
    assert loaded.design == model.design
    card = loaded.card
    assert card["training_data"]["data_holders"] == ["s0", "s1", "s2"]
    assert sum(card["training_data"]["cohort_sizes"]["training"].values()) + sum(
        card["training_data"]["cohort_sizes"]["validation"].values()
    ) == len(lbw)
    assert card["training_procedure"]["rounds_run"] == 20
    assert card["metrics"]["final"]["round"] == 20
    assert card["differential_privacy"] is None
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "model_card.json"}
    missing = lbw.drop(columns=["lwt"])
    with pytest.raises(perron.UnknownColumn, match="lwt"):
        loaded.predict_proba(missing)
    with pytest.raises(perron.DataSourceError, match=r"model_card\.json"):
        TrainedModel.load(tmp_path)


def test_secure_aggregation_gives_the_same_model(lbw_stations):
    """Under secure aggregation the coordinator sees only sums; the model agrees with
    the clear run to the fixed-point precision of the masks."""
    clear = perron.simulate(lbw_stations).train("logistic", LBW_FORMULA, rounds=10)
    secure = perron.simulate(lbw_stations, secure_aggregation=True).train(
        "logistic", LBW_FORMULA, rounds=10
    )

    np.testing.assert_allclose(secure.weights, clear.weights, rtol=0, atol=1e-8)
    assert list(secure.history[0].n) == ["(secure sum)"]
    assert secure.card["training_procedure"]["secure_aggregation"] is True


def test_a_station_below_min_rows_refuses(lbw_stations):
    small = {**lbw_stations, "tiny": lbw_stations["s2"].iloc[:12]}
    session = perron.simulate(small, disclosure=perron.DisclosurePolicy(min_rows=15, min_cell=3))

    with pytest.raises(perron.DisclosureBlocked, match=r"tiny.*min_rows"):
        session.train("logistic", "low", NUMERIC, rounds=2)


def test_held_out_rows_below_min_rows_are_refused(lbw_stations):
    session = perron.simulate(lbw_stations)

    with pytest.raises(perron.DisclosureBlocked, match="min_rows"):
        session.train("logistic", "low", NUMERIC, rounds=2, validation=0.1)


def test_a_crafted_train_task_meets_the_same_rules(lbw_stations):
    """A train round sent without the prepare round is checked again at the station:
    a design with an indicator for a rare level is refused."""
    from perron.algorithms.core.base import StationContext
    from perron.algorithms.prediction.training import FederatedTraining
    from perron.data.frame import FrameSource
    from perron.privacy.policy import DisclosurePolicy

    frame = lbw_stations["s0"]
    rare = float(frame["ptl"].value_counts().idxmin())
    params = {
        "step": "train",
        "design": {
            "response": "low", "offset": None, "terms": [["I", None, None], ["p", "ptl", rare]],
        },
        "network": {"n_inputs": 2, "hidden": [], "intercept": 0, "activation": "tanh"},
        "scaling": {"center": [0.0, 0.0], "scale": [1.0, 1.0]},
        "weights": [0.0, 0.0],
        "validation": 0.0,
        "seed": 0,
        "round": 0,
        "local": {},
    }  # fmt: skip
    context = StationContext("s0", DisclosurePolicy())

    with pytest.raises(perron.DisclosureBlocked, match="min_cell"):
        FederatedTraining.station_step(FrameSource(frame), params, context)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "fedsgd"}, "strategy"),
        ({"patience": 3}, "validation"),
        ({"penalty": "ridge"}, "penalty"),
        ({"validation": 1.0}, "validation"),
        ({"epsilon": 1.0, "validation": 0.2}, "no losses"),
        ({"rounds": 0}, "rounds"),
    ],
)
def test_wrong_options_are_input_errors(lbw_stations, options, message):
    session = perron.simulate(lbw_stations)
    with pytest.raises(InputError, match=message):
        session.train("logistic", "low", NUMERIC, **options)


def test_a_non_binary_outcome_is_refused(lbw_stations):
    session = perron.simulate(lbw_stations)
    with pytest.raises(InputError, match="0/1"):
        session.train("logistic", "ptl", ["age", "lwt"])
