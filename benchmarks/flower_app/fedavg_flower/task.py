"""The data and the maths both sides of the benchmark share; numpy only.

Station ``k`` holds ``rows`` rows drawn from ``numpy.random.default_rng([seed, k])``:
``x ~ N(0, I_features)`` and ``y ~ Bernoulli(expit(b0 + x @ b))`` with fixed true
coefficients. The model is ``w = (intercept, coef_1, ..., coef_features)``, all zero
at the start. One local epoch is one full-batch gradient step on the mean negative
log-likelihood,

    w <- w - lr * X1' (expit(X1 w) - y) / n,    X1 = [1, X],

and FedAvg replaces the global ``w`` by the average of the station results weighted
by their row counts ``n``. ``federated_fit`` runs those rounds in one process: the
reference both Perron and Flower must reproduce.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]


def true_coefficients(features: int) -> Vector:
    """Intercept then slopes, alternating in sign and growing to 1 in size."""
    slopes = np.array([(-1.0) ** j * (j + 1) / features for j in range(features)])
    return np.concatenate([[-0.5], slopes])


def station_data(station: int, rows: int, features: int, seed: int) -> tuple[Matrix, Vector]:
    """The ``(x, y)`` of one station, the same on every call and in every process."""
    rng = np.random.default_rng([seed, station])
    x = rng.normal(size=(rows, features))
    beta = true_coefficients(features)
    p = 1.0 / (1.0 + np.exp(-(beta[0] + x @ beta[1:])))
    y = rng.binomial(1, p).astype(np.float64)
    return x, y


def local_step(weights: Vector, x: Matrix, y: Vector, epochs: int, lr: float) -> Vector:
    """``epochs`` full-batch gradient steps from ``weights`` on one station's data."""
    w = np.array(weights, dtype=np.float64)
    n = len(y)
    for _ in range(epochs):
        residual = 1.0 / (1.0 + np.exp(-(w[0] + x @ w[1:]))) - y
        w[0] -= lr * residual.sum() / n
        w[1:] -= lr * (x.T @ residual) / n
    return w


def fedavg(updates: list[tuple[Vector, int]]) -> Vector:
    """The average of the station weights, each weighted by its row count."""
    total = sum(n for _, n in updates)
    return np.asarray(sum(w * (n / total) for w, n in updates), dtype=np.float64)


def federated_fit(
    stations: int, rows: int, features: int, seed: int, rounds: int, epochs: int, lr: float
) -> Vector:
    """All rounds of FedAvg in one process, with every station's data in memory."""
    data = [station_data(k, rows, features, seed) for k in range(stations)]
    w = np.zeros(features + 1)
    for _ in range(rounds):
        w = fedavg([(local_step(w, x, y, epochs, lr), len(y)) for x, y in data])
    return w
