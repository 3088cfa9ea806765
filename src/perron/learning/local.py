"""A station's local training: gradient steps from the global weights on its own rows.

The station minimises its share of the federated objective

    F_k(w) = (1 / n_k) sum_i loss_i(w)
             + alpha * ((1 - l1_ratio) / 2 * ||w||^2 + l1_ratio * ||w||_1)
             + mu / 2 * ||w - w_global||^2

over ``epochs`` passes through its training rows, full batch or in mini-batches
(shuffled by a generator seeded with the run's seed, the round and the station, so
a run is reproducible). The penalty (``alpha``, ``l1_ratio``; sklearn's and
glmnet's parametrisation: ``"l2"`` is ``l1_ratio = 0``, ``"l1"`` is ``1``) spares
biases and the intercept. The stations take gradient steps on the smooth part
only (loss, ridge and proximal terms); the L1 part is applied by the coordinator,
after averaging, with its proximal operator (:func:`soft_threshold`, threshold
``learning_rate * alpha * l1_ratio * steps``), so coefficients reach exactly zero
and one full-batch step per round is exactly proximal gradient descent (ISTA) on
the pooled objective. (Soft-thresholding at each station and then averaging would
not be: the average of thresholded weights is not the thresholded average, and
that run settles at a different, wrong point.) ``mu > 0`` is FedProx's proximal
term (Li et al. 2020), which keeps the local weights near the global ones when
stations' data differ.

With differential privacy (:class:`~perron.learning.privacy.GradientNoise`) every
step's summed gradient is a sum of row gradients each clipped to L1 norm ``clip``
plus OpenDP's Laplace noise; the penalty and proximal terms do not touch the data
and are added after the noise.

The n-weighted average of one full-batch step from the same weights is exactly one
gradient step on the pooled objective: FedAvg with ``epochs = 1`` and full batches
is gradient descent on the union of the data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from perron.learning.network import FloatArray, Perceptron
from perron.learning.privacy import GradientNoise
from perron.protocol.errors import InputError

Penalty = Literal["none", "l2", "l1", "elasticnet"]
PENALTIES: tuple[Penalty, ...] = ("none", "l2", "l1", "elasticnet")


@dataclass(frozen=True)
class LocalConfig:
    """How a station trains in one round."""

    epochs: int = 1
    learning_rate: float = 0.1
    batch_size: int | None = None
    penalty: Penalty = "none"
    alpha: float = 0.0
    l1_ratio: float = 0.5
    mu: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise InputError(f"local_epochs = {self.epochs} must be at least 1.")
        if not (self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise InputError(f"learning_rate = {self.learning_rate!r} must be a positive number.")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(
                f"batch_size = {self.batch_size} must be a positive integer (None: full batch)."
            )
        if self.penalty not in PENALTIES:
            raise InputError(f"penalty {self.penalty!r} is not one of {list(PENALTIES)}.")
        if not (self.alpha >= 0 and np.isfinite(self.alpha)):
            raise InputError(f"alpha = {self.alpha!r} must be a non-negative number.")
        if not 0.0 <= self.l1_ratio <= 1.0:
            raise InputError(f"l1_ratio = {self.l1_ratio!r} must lie in [0, 1].")
        if not (self.mu >= 0 and np.isfinite(self.mu)):
            raise InputError(f"mu = {self.mu!r} (FedProx) must be a non-negative number.")

    @property
    def ridge(self) -> float:
        """The coefficient of ``||w||^2 / 2`` in the objective."""
        return 0.0 if self.penalty == "none" else self.alpha * (1.0 - self.lasso_ratio)

    @property
    def lasso(self) -> float:
        """The coefficient of ``||w||_1`` in the objective."""
        return self.alpha * self.lasso_ratio

    @property
    def lasso_ratio(self) -> float:
        return {"none": 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": self.l1_ratio}[self.penalty]

    @property
    def penalised(self) -> bool:
        return self.penalty != "none" and self.alpha > 0

    def penalty_value(self, w: FloatArray, mask: FloatArray) -> float:
        """The penalty term of the objective at ``w``."""
        if not self.penalised:
            return 0.0
        v = w * mask
        return float(self.ridge / 2 * v @ v + self.lasso * np.abs(v).sum())

    def to_wire(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "penalty": self.penalty,
            "alpha": self.alpha,
            "l1_ratio": self.l1_ratio,
            "mu": self.mu,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> LocalConfig:
        penalty = str(wire.get("penalty", "none"))
        if penalty not in PENALTIES:
            raise InputError(f"penalty {penalty!r} is not one of {list(PENALTIES)}.")
        batch = wire.get("batch_size")
        return cls(
            epochs=int(wire.get("epochs", 1)),
            learning_rate=float(wire.get("learning_rate", 0.1)),
            batch_size=None if batch is None else int(batch),
            penalty=_penalty(penalty),
            alpha=float(wire.get("alpha", 0.0)),
            l1_ratio=float(wire.get("l1_ratio", 0.5)),
            mu=float(wire.get("mu", 0.0)),
        )


def _penalty(name: str) -> Penalty:
    for penalty in PENALTIES:
        if penalty == name:
            return penalty
    raise InputError(f"penalty {name!r} is not one of {list(PENALTIES)}.")


def station_rng(seed: int, station: str, *stream: int) -> np.random.Generator:
    """A generator for one station, fixed by the run's seed and ``stream`` (e.g. the
    round); stable across processes (no ``hash()``, which Python salts)."""
    digest = hashlib.sha256(station.encode()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "big"), *stream])


def validation_split(n: int, fraction: float, seed: int, station: str) -> npt.NDArray[np.bool_]:
    """Which of the station's ``n`` complete rows are held out for validation.

    ``round(fraction * n)`` rows, drawn by a generator fixed by the seed and the
    station, so every round of a run holds out the same rows.
    """
    held = np.zeros(n, dtype=bool)
    count = round(fraction * n)
    if count:
        held[station_rng(seed, station).permutation(n)[:count]] = True
    return held


def local_train(
    net: Perceptron,
    start: FloatArray,
    X: FloatArray,
    y: FloatArray,
    offset: FloatArray,
    config: LocalConfig,
    rng: np.random.Generator,
    noise: GradientNoise | None = None,
) -> FloatArray:
    """The weights after ``config.epochs`` passes of gradient descent on the smooth
    part of the objective (the coordinator applies the L1 part)."""
    n = y.size
    mask = net.penalised()
    w = start.copy()
    size = n if config.batch_size is None else min(config.batch_size, n)
    lr = config.learning_rate
    for _ in range(config.epochs):
        order = None if size == n else rng.permutation(n)
        for begin in range(0, n, size):
            rows = slice(begin, begin + size) if order is None else order[begin : begin + size]
            Xb, yb, ob = X[rows], y[rows], offset[rows]
            if noise is None:
                total = net.gradient(w, Xb, yb, ob)
            else:
                total = noise.release(net.row_gradients(w, Xb, yb, ob))
            step = total / yb.size
            if config.ridge:
                step = step + config.ridge * mask * w
            if config.mu:
                step = step + config.mu * (w - start)
            w = w - lr * step
    return w


def soft_threshold(w: FloatArray, threshold: float, mask: FloatArray) -> FloatArray:
    """The proximal operator of ``threshold * ||mask * w||_1``: shrink the penalised
    weights towards zero by ``threshold``, and those within it to exactly zero."""
    shrunk: FloatArray = np.sign(w) * np.maximum(np.abs(w) - threshold * mask, 0.0)
    return shrunk


def steps_per_round(n: int, config: LocalConfig) -> int:
    """How many gradient steps a station with ``n`` training rows takes in one round."""
    size = n if config.batch_size is None else min(config.batch_size, n)
    return config.epochs * -(-n // size)
