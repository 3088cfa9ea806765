"""A model trained by federated learning: its weights, history, card; saved and loaded.

Saved format (a directory): ``model.safetensors`` holds the tensors, one weight
matrix and one bias vector per layer (``layer0.weight`` of shape fan-in x fan-out,
``layer0.bias``) and the standardisation (``input.center``, ``input.scale``), in
the safetensors format (a JSON header and raw little-endian float64; loading runs
no code, unlike a pickle); ``model_card.json`` is the model card
(:mod:`perron.learning.card`) and carries what is needed to rebuild the inputs (the
design: outcome, terms, category levels, offset; the architecture).

Examples
--------
>>> import perron, pandas as pd, numpy as np, tempfile
>>> rng = np.random.default_rng(1)
>>> def station(n):
...     x = rng.normal(size=n)
...     return pd.DataFrame({"x": x, "y": (rng.random(n) < 1 / (1 + np.exp(-x))) * 1})
>>> session = perron.simulate({"a": station(300), "b": station(200)})
>>> model = session.train("logistic", "y", ["x"], rounds=50, learning_rate=1.0)
>>> round(float(model.coefficients["x"]), 1)
1.3
>>> with tempfile.TemporaryDirectory() as folder:
...     again = TrainedModel.load(model.save(folder))
>>> new = station(5)
>>> bool(np.array_equal(again.predict_proba(new), model.predict_proba(new)))
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perron.algorithms.core.base import FederatedResult
from perron.data.design import Design
from perron.learning.features import Scaling, design_matrix
from perron.learning.metrics import RoundMetrics
from perron.learning.network import FloatArray, Perceptron
from perron.protocol.errors import DataSourceError, InputError

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "model_card.json"
_FORMAT = "perron-federated-model"


@dataclass(frozen=True, kw_only=True)
class TrainedModel(FederatedResult):
    """A trained logistic regression or multilayer perceptron.

    ``weights`` are those of the network on standardised inputs (see
    :mod:`perron.learning.features`); ``history`` holds one :class:`RoundMetrics`
    per round; ``best_round`` is the round whose weights these are (the last, or
    the best on validation loss with early stopping); ``epsilon`` the differential
    privacy loss each station spent (empty without DP); ``card`` the model card.
    """

    kind: str
    design: Design
    network: Perceptron
    scaling: Scaling
    weights: FloatArray
    history: tuple[RoundMetrics, ...] = ()
    best_round: int = 0
    stopped_early: bool = False
    epsilon: Mapping[str, float] = field(default_factory=dict)
    card: Mapping[str, Any] = field(default_factory=dict)

    # -- use --------------------------------------------------------------------------

    def predict_proba(self, frame: pd.DataFrame) -> FloatArray:
        """The predicted probability that the outcome is 1, per row of ``frame``
        (``NaN`` where a predictor is missing)."""
        X, offset = design_matrix(frame, self.design)
        return self.network.predict_proba(self.weights, self.scaling.apply(X), offset)

    def predict(self, frame: pd.DataFrame, threshold: float = 0.5) -> FloatArray:
        """0/1 predictions at ``threshold`` (``NaN`` where a predictor is missing)."""
        p = self.predict_proba(frame)
        return np.where(np.isnan(p), np.nan, (p >= threshold) * 1.0)

    @property
    def coefficients(self) -> pd.Series:
        """Logistic regression: the coefficients on the original scale of the columns.

        Raises
        ------
        InputError
            The model is a multilayer perceptron (it has no coefficients per term).
        """
        if not self.network.logistic:
            raise InputError("a multilayer perceptron has no coefficients per term; use .weights.")
        beta = self.weights / self.scaling.scale
        intercepts = [j for j, t in enumerate(self.design.terms) if t.is_intercept]
        if intercepts:
            beta[intercepts[0]] -= float(beta @ self.scaling.center)
        return pd.Series(beta, index=self.design.names, name="coefficients")

    @property
    def history_frame(self) -> pd.DataFrame:
        """The per-round metrics as a table (one row per round)."""
        rows = [
            {
                "round": m.round,
                "train_loss": m.train_loss,
                "validation_loss": m.validation_loss,
                "n": sum(m.n.values()),
                "seconds": m.seconds,
            }
            for m in self.history
        ]
        return pd.DataFrame(rows).set_index("round") if rows else pd.DataFrame()

    # -- storage ----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write ``model.safetensors`` and ``model_card.json`` into the folder ``path``
        (created if needed); returns the folder."""
        from safetensors.numpy import save_file  # noqa: PLC0415

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, FloatArray] = {
            "input.center": np.ascontiguousarray(self.scaling.center),
            "input.scale": np.ascontiguousarray(self.scaling.scale),
        }
        for index, (W, b) in enumerate(self.network.layers(self.weights)):
            tensors[f"layer{index}.weight"] = np.ascontiguousarray(W)
            if b.size:
                tensors[f"layer{index}.bias"] = np.ascontiguousarray(b)
        save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": _FORMAT})
        card = {
            **self.card,
            "model": {
                "kind": self.kind,
                "network": self.network.to_wire(),
                "design": self.design.to_wire(),
                "best_round": self.best_round,
                "stopped_early": self.stopped_early,
                "epsilon": dict(self.epsilon),
                "nobs_per_station": dict(self.nobs_per_station),
            },
        }
        (folder / CARD_FILE).write_text(json.dumps(card, indent=2, default=_plain) + "\n")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> TrainedModel:
        """Read a model written by :meth:`save`.

        Raises
        ------
        DataSourceError
            The folder lacks one of the two files, or they do not describe one model.
        """
        from safetensors.numpy import load_file  # noqa: PLC0415

        folder = Path(path)
        weights_path, card_path = folder / WEIGHTS_FILE, folder / CARD_FILE
        if not weights_path.is_file() or not card_path.is_file():
            raise DataSourceError(
                f"{folder} does not hold a saved model: it needs {WEIGHTS_FILE} and {CARD_FILE} "
                "(written by TrainedModel.save)."
            )
        card = json.loads(card_path.read_text())
        tensors = load_file(str(weights_path))
        try:
            spec = card["model"]
            network = Perceptron.from_wire(dict(spec["network"]))
            parts: list[FloatArray] = []
            for index, (_, bias) in enumerate(network.shapes):
                parts.append(tensors[f"layer{index}.weight"].astype(np.float64).ravel())
                if bias:
                    parts.append(tensors[f"layer{index}.bias"].astype(np.float64))
            weights = np.concatenate(parts)
            scaling = Scaling(
                tensors["input.center"].astype(np.float64),
                tensors["input.scale"].astype(np.float64),
            )
            design = Design.from_wire(spec["design"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataSourceError(
                f"the model in {folder} is incomplete or inconsistent ({exc!r}); save it again."
            ) from exc
        if weights.size != network.size or scaling.center.size != len(design.terms):
            raise DataSourceError(
                f"the weights in {weights_path} do not fit the architecture in {card_path}."
            )
        history = tuple(RoundMetrics.from_dict(m) for m in card["metrics"]["per_round"])
        card_without = {k: v for k, v in card.items() if k != "model"}
        return cls(
            kind=str(spec["kind"]),
            design=design,
            network=network,
            scaling=scaling,
            weights=weights,
            history=history,
            best_round=int(spec["best_round"]),
            stopped_early=bool(spec["stopped_early"]),
            epsilon={str(k): float(v) for k, v in spec["epsilon"].items()},
            card=card_without,
            nobs_per_station={str(k): int(v) for k, v in spec["nobs_per_station"].items()},
        )


def _plain(value: object) -> object:
    """JSON for numpy scalars a card may hold."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
