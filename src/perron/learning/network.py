"""The models a station trains: logistic regression and a small multilayer perceptron.

Both are one numpy class, :class:`Perceptron`: a stack of dense layers with a
sigmoid output for a 0/1 outcome. Logistic regression is the perceptron without
hidden layers and without an output bias (the design's intercept column plays that
role, so its coefficients are those of a GLM); the multilayer perceptron drops the
intercept column and has a bias in every layer.

All weights live in one flat float64 vector (what travels between the coordinator
and the stations); :meth:`Perceptron.layers` views it as ``(W, b)`` pairs. The loss
is the log-loss ``log(1 + exp(eta)) - y * eta`` of the logit ``eta``, summed over
rows; its gradient is computed by back-propagation, per row when a
differentially private step needs every row's gradient clipped.

Why numpy and not PyTorch: the models are small (a few hundred weights), a station
step runs full-batch or mini-batch gradient steps on at most a few million rows, and
numpy is already what every station runs; PyTorch would add a ~800 MB dependency to
every station for no gain at this size, and bit-for-bit reproducible float64 steps
(the test that one station equals centralised training to 1e-10) are simpler here.

Examples
--------
>>> import numpy as np
>>> net = Perceptron(3, (), intercept=0)
>>> net.size
3
>>> w = np.array([0.5, 1.0, -1.0])
>>> X = np.array([[1.0, 0.2, 0.1], [1.0, -0.3, 0.4]])
>>> round(float(net.loss(w, X, np.array([1.0, 0.0]), np.zeros(2))), 6)
1.035627
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from perron.protocol.errors import InputError

FloatArray = npt.NDArray[np.float64]
Activation = Literal["tanh", "relu"]
ACTIVATIONS: tuple[Activation, ...] = ("tanh", "relu")


@dataclass(frozen=True)
class Perceptron:
    """Dense layers ``n_inputs -> hidden... -> 1`` with a sigmoid output.

    ``intercept`` is the index of the design's intercept column (``None``: the design
    has none). Without hidden layers the model is logistic regression on every
    design column (no output bias); with hidden layers the intercept column is
    dropped and each layer has a bias.
    """

    n_inputs: int
    hidden: tuple[int, ...] = ()
    intercept: int | None = None
    activation: Activation = "tanh"

    def __post_init__(self) -> None:
        if any(h < 1 for h in self.hidden):
            raise InputError(f"hidden layer sizes {list(self.hidden)} must be positive integers.")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation {self.activation!r} is not one of {list(ACTIVATIONS)}.")

    @property
    def logistic(self) -> bool:
        return not self.hidden

    @property
    def inputs(self) -> npt.NDArray[np.intp]:
        """The design columns the network reads."""
        columns: npt.NDArray[np.intp] = np.arange(self.n_inputs)
        if self.logistic or self.intercept is None:
            return columns
        kept: npt.NDArray[np.intp] = columns[columns != self.intercept]
        return kept

    @property
    def shapes(self) -> list[tuple[tuple[int, int], int]]:
        """``((fan_in, fan_out), bias_size)`` per layer; bias size 0 means no bias."""
        sizes = [int(self.inputs.size), *self.hidden, 1]
        bias = 0 if self.logistic else 1
        return [((a, b), b * bias) for a, b in itertools.pairwise(sizes)]

    @property
    def size(self) -> int:
        return sum(a * b + c for (a, b), c in self.shapes)

    def layers(self, w: FloatArray) -> list[tuple[FloatArray, FloatArray]]:
        """Views ``(W, b)`` of the flat weight vector, one per layer."""
        out: list[tuple[FloatArray, FloatArray]] = []
        at = 0
        for (a, b), c in self.shapes:
            W = w[at : at + a * b].reshape(a, b)
            at += a * b
            out.append((W, w[at : at + c]))
            at += c
        return out

    def penalised(self) -> FloatArray:
        """1 for every weight a penalty shrinks, 0 for biases and the intercept."""
        mask = np.zeros(self.size)
        at = 0
        for index, ((a, b), c) in enumerate(self.shapes):
            block = np.ones((a, b))
            if index == 0 and self.logistic and self.intercept is not None:
                block[self.intercept, :] = 0.0
            mask[at : at + a * b] = block.ravel()
            at += a * b + c
        return mask

    def initial(self, rng: np.random.Generator) -> FloatArray:
        """Zeros for logistic regression (a convex model); Glorot-uniform weights and
        zero biases for a network (zeros would keep its hidden units identical)."""
        if self.logistic:
            return np.zeros(self.size)
        parts: list[FloatArray] = []
        for (a, b), c in self.shapes:
            limit = np.sqrt(6.0 / (a + b))
            parts.append(rng.uniform(-limit, limit, a * b))
            parts.append(np.zeros(c))
        return np.concatenate(parts)

    # -- forward and backward ---------------------------------------------------------

    def _forward(
        self, w: FloatArray, X: FloatArray, offset: FloatArray
    ) -> tuple[FloatArray, list[FloatArray], list[FloatArray]]:
        """The logits, and each layer's input and pre-activation (for back-propagation)."""
        a = X[:, self.inputs] if not self.logistic and self.intercept is not None else X
        inputs: list[FloatArray] = []
        pre: list[FloatArray] = []
        layers = self.layers(w)
        for index, (W, b) in enumerate(layers):
            inputs.append(a)
            z = a @ W
            if b.size:
                z = z + b
            pre.append(z)
            if index < len(layers) - 1:
                a = np.tanh(z) if self.activation == "tanh" else np.maximum(z, 0.0)
        return pre[-1][:, 0] + offset, inputs, pre

    def logits(self, w: FloatArray, X: FloatArray, offset: FloatArray) -> FloatArray:
        return self._forward(w, X, offset)[0]

    def loss(self, w: FloatArray, X: FloatArray, y: FloatArray, offset: FloatArray) -> float:
        """The summed log-loss (minus the log-likelihood) of the rows."""
        eta = self.logits(w, X, offset)
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta))

    def _deltas(
        self, w: FloatArray, X: FloatArray, y: FloatArray, offset: FloatArray
    ) -> tuple[list[FloatArray], list[FloatArray]]:
        """Each layer's input and the loss's derivative by its pre-activation, per row."""
        eta, inputs, pre = self._forward(w, X, offset)
        delta = (_sigmoid(eta) - y)[:, None]
        layers = self.layers(w)
        deltas: list[FloatArray] = [delta]
        for index in range(len(layers) - 1, 0, -1):
            W = layers[index][0]
            z = pre[index - 1]
            slope = 1.0 - np.tanh(z) ** 2 if self.activation == "tanh" else (z > 0.0) * 1.0
            delta = (delta @ W.T) * slope
            deltas.append(delta)
        deltas.reverse()
        return inputs, deltas

    def gradient(
        self, w: FloatArray, X: FloatArray, y: FloatArray, offset: FloatArray
    ) -> FloatArray:
        """The gradient of the summed log-loss."""
        inputs, deltas = self._deltas(w, X, y, offset)
        parts: list[FloatArray] = []
        for ((_, _), c), a, delta in zip(self.shapes, inputs, deltas, strict=True):
            parts.append((a.T @ delta).ravel())
            if c:
                parts.append(delta.sum(axis=0))
        return np.concatenate(parts)

    def row_gradients(
        self, w: FloatArray, X: FloatArray, y: FloatArray, offset: FloatArray
    ) -> FloatArray:
        """The gradient of each row's log-loss: an ``n x size`` matrix."""
        inputs, deltas = self._deltas(w, X, y, offset)
        parts: list[FloatArray] = []
        for ((_, _), c), a, delta in zip(self.shapes, inputs, deltas, strict=True):
            parts.append(np.einsum("ni,nj->nij", a, delta).reshape(a.shape[0], -1))
            if c:
                parts.append(delta)
        return np.concatenate(parts, axis=1)

    def predict_proba(self, w: FloatArray, X: FloatArray, offset: FloatArray) -> FloatArray:
        return _sigmoid(self.logits(w, X, offset))

    # -- wire -------------------------------------------------------------------------

    def to_wire(self) -> dict[str, object]:
        return {
            "n_inputs": self.n_inputs,
            "hidden": list(self.hidden),
            "intercept": self.intercept,
            "activation": self.activation,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, object] | object) -> Perceptron:
        if not isinstance(wire, dict):
            raise InputError("the model description must be a mapping.")
        hidden = wire.get("hidden") or []
        intercept = wire.get("intercept")
        activation = str(wire.get("activation", "tanh"))
        if activation not in ACTIVATIONS:
            raise InputError(f"activation {activation!r} is not one of {list(ACTIVATIONS)}.")
        return cls(
            n_inputs=int(str(wire["n_inputs"])),
            hidden=tuple(int(h) for h in _sequence(hidden)),
            intercept=None if intercept is None else int(str(intercept)),
            activation="tanh" if activation == "tanh" else "relu",
        )


def _sequence(value: object) -> Sequence[int]:
    if not isinstance(value, list | tuple):
        raise InputError("hidden layer sizes must be a list of integers.")
    return [int(v) for v in value]


def _sigmoid(eta: FloatArray) -> FloatArray:
    # exp of minus |eta| only: no overflow for large logits of either sign.
    e = np.exp(-np.abs(eta))
    return np.where(eta >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
