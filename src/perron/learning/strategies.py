"""How the coordinator turns the stations' local weights into the next global weights.

Every strategy starts from the same aggregate: the average of the stations' local
weights, each weighted by its number of training rows,
``w_avg = sum_k n_k w_k / sum_k n_k`` (only the sums ``sum_k n_k w_k`` and
``sum_k n_k`` are needed, so the round can run under secure aggregation). With the
pseudo-gradient ``delta = w_avg - w``:

- ``fedavg`` (McMahan et al. 2017): ``w <- w + eta * delta``; with the default
  server learning rate ``eta = 1`` the new weights are ``w_avg``;
- ``fedprox`` (Li et al. 2020): the same server step; the stations add the proximal
  term ``mu / 2 ||w - w_global||^2`` to their local objective;
- ``fedadam`` (Reddi et al. 2021, "Adaptive Federated Optimization"):
  ``m <- b1 m + (1 - b1) delta``, ``v <- b2 v + (1 - b2) delta^2``,
  ``w <- w + eta m / (sqrt(v) + tau)``, without bias correction, as in the paper and
  in Flower's ``FedAdam`` (defaults ``eta = 0.1``, ``b1 = 0.9``, ``b2 = 0.99``,
  ``tau = 1e-9``).

Examples
--------
>>> import numpy as np
>>> server = ServerOptimizer.named("fedavg")
>>> state = server.initial(2)
>>> w, state = server.step(np.zeros(2), np.array([1.0, -2.0]), state)
>>> w.tolist()
[1.0, -2.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from perron.learning.network import FloatArray
from perron.protocol.errors import InputError

Strategy = Literal["fedavg", "fedprox", "fedadam"]
STRATEGIES: tuple[Strategy, ...] = ("fedavg", "fedprox", "fedadam")


@dataclass(frozen=True)
class Moments:
    """FedAdam's first and second moments of the pseudo-gradient (empty otherwise)."""

    m: FloatArray = field(default_factory=lambda: np.zeros(0))
    v: FloatArray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class ServerOptimizer:
    """A strategy's server step: ``(w, w_avg, moments) -> (new w, new moments)``."""

    strategy: Strategy
    learning_rate: float
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-9

    @classmethod
    def named(
        cls,
        strategy: str,
        learning_rate: float | None = None,
        *,
        beta1: float = 0.9,
        beta2: float = 0.99,
        tau: float = 1e-9,
    ) -> ServerOptimizer:
        """The server step of ``strategy``; ``learning_rate`` None takes its default
        (1 for FedAvg and FedProx, 0.1 for FedAdam).

        Raises
        ------
        InputError
            An unknown strategy or a learning rate, beta or tau out of range.
        """
        chosen = next((s for s in STRATEGIES if s == strategy), None)
        if chosen is None:
            raise InputError(f"strategy {strategy!r} is not one of {list(STRATEGIES)}.")
        eta = (0.1 if chosen == "fedadam" else 1.0) if learning_rate is None else learning_rate
        if not (eta > 0 and np.isfinite(eta)):
            raise InputError(f"server_learning_rate = {eta!r} must be a positive number.")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1 and tau > 0):
            raise InputError("FedAdam needs 0 <= beta1, beta2 < 1 and tau > 0.")
        return cls(chosen, float(eta), beta1, beta2, tau)

    def initial(self, size: int) -> Moments:
        if self.strategy != "fedadam":
            return Moments()
        return Moments(np.zeros(size), np.zeros(size))

    def step(
        self, w: FloatArray, average: FloatArray, moments: Moments
    ) -> tuple[FloatArray, Moments]:
        delta = average - w
        if self.strategy != "fedadam":
            return w + self.learning_rate * delta, moments
        m = self.beta1 * moments.m + (1.0 - self.beta1) * delta
        v = self.beta2 * moments.v + (1.0 - self.beta2) * delta**2
        return w + self.learning_rate * m / (np.sqrt(v) + self.tau), Moments(m, v)
