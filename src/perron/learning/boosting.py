"""Gradient-boosted trees as a model: the trees, predictions, a JSON file and a card.

A :class:`BoostedModel` is what a federated boosting run
(:mod:`perron.algorithms.prediction.boosting`) returns: a base margin plus a sum of regression
trees over the columns of a :class:`~perron.data.design.Design` (numeric columns and
indicators of categorical levels). Each inner node of a :class:`Tree` sends a row
left when ``x[feature] < threshold``; every threshold is one of the bin edges the
stations agreed on, never a data value. A leaf holds its weight, already multiplied
by the learning rate, so the margin of a row is ``base_score + sum of its leaves``
and, for the logistic loss, its probability is ``1 / (1 + exp(-margin))``.

The same :func:`margins` serves the station (gradients of the current ensemble)
and the researcher (predictions), so both compute the same numbers.

File format (``save`` / ``load``): one JSON document, no code and no pickle::

    {
      "format": "perron.boosted_trees",   "version": 1,
      "loss": "logistic" | "squared_error",
      "response": "<outcome column>",
      "features": [{"name": ..., "column": ..., "level": null | <level>}, ...],
      "base_score": <margin before the first tree>,
      "edges": [[<bin edges of feature 0>], ...],
      "trees": [{"feature": [...], "threshold": [...], "left": [...],
                 "right": [...], "value": [...]}, ...],
      "card": {<model card, see BoostedModel.card>}
    }

A tree lists its nodes in parallel arrays, the root first; at a leaf ``feature``,
``left`` and ``right`` are ``-1`` and ``value`` is the leaf weight; at an inner node
``value`` is ``0``. Floats are written with ``repr`` precision, so a loaded model
predicts exactly what the saved one did.

Examples
--------
>>> import numpy as np
>>> stump = Tree(feature=(0, -1, -1), threshold=(2.5, 0.0, 0.0), left=(1, -1, -1),
...              right=(2, -1, -1), value=(0.0, -0.3, 0.4))
>>> margins(0.1, [stump], np.array([[1.0], [3.0]])).round(6).tolist()
[-0.2, 0.5]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.data.design import Design, Term
from perron.protocol.errors import InputError, UnknownColumn
from perron.protocol.messages import Decision

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Loss = Literal["logistic", "squared_error"]
LOSSES: tuple[Loss, ...] = ("logistic", "squared_error")

FORMAT = "perron.boosted_trees"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Tree:
    """One regression tree as parallel node arrays (node 0 is the root).

    While a federated run grows a tree, its open nodes are leaves with weight 0.
    """

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    @classmethod
    def root(cls) -> Tree:
        """A tree of one (open) node."""
        return cls((-1,), (0.0,), (-1,), (-1,), (0.0,))

    @property
    def size(self) -> int:
        return len(self.feature)

    @property
    def depth(self) -> int:
        """Edges on the longest path from the root to a leaf."""
        depths = [0] * self.size
        for node in range(self.size):  # children always come after their parent
            if self.feature[node] >= 0:
                depths[self.left[node]] = depths[self.right[node]] = depths[node] + 1
        return max(depths)

    def apply(self, X: FloatArray) -> IntArray:
        """The node each row of ``X`` ends in (a leaf, or an open node while growing)."""
        feature = np.asarray(self.feature, dtype=np.intp)
        threshold = np.asarray(self.threshold, dtype=np.float64)
        left = np.asarray(self.left, dtype=np.intp)
        right = np.asarray(self.right, dtype=np.intp)
        node = np.zeros(X.shape[0], dtype=np.intp)
        rows = np.arange(X.shape[0])
        while rows.size:
            f = feature[node[rows]]
            inner = f >= 0
            rows, f = rows[inner], f[inner]
            if not rows.size:
                break
            here = node[rows]
            goes_left = X[rows, f] < threshold[here]
            node[rows] = np.where(goes_left, left[here], right[here])
        return node

    def predict(self, X: FloatArray) -> FloatArray:
        """The leaf weight of every row."""
        return np.asarray(self.value, dtype=np.float64)[self.apply(X)]

    def to_wire(self) -> dict[str, list[Any]]:
        return {
            "feature": list(self.feature),
            "threshold": list(self.threshold),
            "left": list(self.left),
            "right": list(self.right),
            "value": list(self.value),
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Sequence[Any]]) -> Tree:
        tree = cls(
            feature=tuple(int(v) for v in wire["feature"]),
            threshold=tuple(float(v) for v in wire["threshold"]),
            left=tuple(int(v) for v in wire["left"]),
            right=tuple(int(v) for v in wire["right"]),
            value=tuple(float(v) for v in wire["value"]),
        )
        tree.validate()
        return tree

    def validate(self) -> None:
        """Parallel arrays of one length whose children come after their parents."""
        size = self.size
        lengths = {len(self.threshold), len(self.left), len(self.right), len(self.value)}
        if size == 0 or lengths != {size}:
            raise InputError("a tree's node arrays must be non-empty and of one length.")
        for node in range(size):
            if self.feature[node] < 0:
                continue
            for child in (self.left[node], self.right[node]):
                if not node < child < size:
                    raise InputError(
                        "a tree node points to a child that does not follow it; the tree "
                        "is malformed (was the model file edited?)."
                    )


def margins(base: float, trees: Sequence[Tree], X: FloatArray) -> FloatArray:
    """``base`` plus the leaf weights of every tree, per row of ``X``."""
    margin = np.full(X.shape[0], base, dtype=np.float64)
    for tree in trees:
        margin += tree.predict(X)
    return margin


def sigmoid(margin: FloatArray) -> FloatArray:
    """The logistic function, without overflow for large negative margins."""
    out: FloatArray = np.exp(-np.logaddexp(0.0, -margin))
    return out


def design_matrix(design: Design, frame: pd.DataFrame) -> FloatArray:
    """The model's feature columns of ``frame`` as a float matrix (one column per term).

    Raises
    ------
    UnknownColumn
        If a feature column is missing from ``frame``.
    InputError
        If a feature value is missing or not numeric.
    """
    X = np.empty((len(frame), len(design.terms)), dtype=np.float64)
    for j, term in enumerate(design.terms):
        if term.column is None:
            X[:, j] = 1.0
            continue
        if term.column not in frame.columns:
            raise UnknownColumn(
                f"the model needs column {term.column!r}, which the data frame lacks; "
                f"available columns: {sorted(map(str, frame.columns))}."
            )
        values = frame[term.column]
        if values.isna().any():
            raise InputError(
                f"column {term.column!r} has missing values; the trees were trained on "
                "complete rows only, so impute or drop those rows before predicting."
            )
        if term.level is not None:
            X[:, j] = np.asarray(values.to_numpy() == term.level, dtype=np.float64)
        else:
            try:
                X[:, j] = values.to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"column {term.column!r} is not numeric; the model uses it as a number."
                ) from exc
    return X


@dataclass(frozen=True)
class BoostedModel:
    """An ensemble of regression trees trained by federated gradient boosting.

    Attributes
    ----------
    loss
        ``"logistic"`` (0/1 outcome; margins are log-odds) or ``"squared_error"``.
    design
        The outcome and the feature columns (numeric, or indicators of levels).
    base_score
        The margin before the first tree: the pooled log-odds or mean of the outcome.
    trees
        The trees; leaf weights include the learning rate.
    edges
        The bin edges per feature that every split threshold was chosen from.
    card
        The model card: data holders, cohort sizes, dates, hyper-parameters,
        training loss per tree and what the run revealed.
    decisions
        The disclosure decisions the stations took during training.
    """

    loss: Loss
    design: Design
    base_score: float
    trees: tuple[Tree, ...]
    edges: tuple[tuple[float, ...], ...]
    card: Mapping[str, Any] = field(default_factory=dict)
    decisions: tuple[Decision, ...] = ()

    @property
    def features(self) -> list[str]:
        """The feature names, in the order of the trees' feature indices."""
        return self.design.names

    @property
    def nobs_per_station(self) -> dict[str, int]:
        """Complete training rows per station (``(secure sum)`` under secure aggregation)."""
        sizes = self.card.get("training_data", {}).get("cohort_sizes", {})
        return {str(k): int(v) for k, v in sizes.items()}

    def decision_function(self, frame: pd.DataFrame) -> FloatArray:
        """The margin of every row: log-odds (logistic) or the predicted value."""
        return margins(self.base_score, self.trees, design_matrix(self.design, frame))

    def predict_proba(self, frame: pd.DataFrame) -> FloatArray:
        """Probabilities of outcome 0 and 1, one row per row of ``frame`` (as scikit-learn).

        Raises
        ------
        InputError
            For a squared-error model, which predicts values, not probabilities.
        """
        if self.loss != "logistic":
            raise InputError(
                "predict_proba needs a model trained with loss='logistic'; this one predicts "
                "values: use predict()."
            )
        p = sigmoid(self.decision_function(frame))
        return np.column_stack([1.0 - p, p])

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        """Predicted class (0/1 at probability 0.5) or predicted value."""
        margin = self.decision_function(frame)
        if self.loss == "logistic":
            return (margin > 0).astype(np.float64)
        return margin

    # -- the file ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The model as a JSON document (see the module docstring for the format)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "loss": self.loss,
            "response": self.design.response,
            "features": [
                {"name": t.name, "column": t.column, "level": t.level} for t in self.design.terms
            ],
            "base_score": self.base_score,
            "edges": [list(e) for e in self.edges],
            "trees": [tree.to_wire() for tree in self.trees],
            "card": dict(self.card),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> BoostedModel:
        if document.get("format") != FORMAT or document.get("version") != FORMAT_VERSION:
            raise InputError(
                f"not a Perron boosted-trees model (expected format {FORMAT!r} version "
                f"{FORMAT_VERSION}); was it saved by another program or version?"
            )
        loss = str(document["loss"])
        if loss not in LOSSES:
            raise InputError(f"unknown loss {loss!r} in the model file; expected {LOSSES}.")
        terms = tuple(Term(str(f["name"]), f["column"], f["level"]) for f in document["features"])
        trees = tuple(Tree.from_wire(t) for t in document["trees"])
        for tree in trees:
            if any(f >= len(terms) for f in tree.feature):
                raise InputError("a tree uses a feature the model file does not list.")
        return cls(
            loss="logistic" if loss == "logistic" else "squared_error",
            design=Design(str(document["response"]), terms),
            base_score=float(document["base_score"]),
            trees=trees,
            edges=tuple(tuple(float(v) for v in e) for e in document["edges"]),
            card=dict(document.get("card", {})),
        )

    def save(self, path: str | Path) -> Path:
        """Write the model (trees and card) as one JSON file; returns its path."""
        target = Path(path)
        target.write_text(json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> BoostedModel:
        """Read a model written by :meth:`save`.

        Examples
        --------
        >>> model = BoostedModel.load("model.json")  # doctest: +SKIP
        >>> model.predict_proba(frame)[:, 1]  # doctest: +SKIP
        """
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"could not read the model file {str(path)!r}: {exc}") from exc
        return cls.from_json(document)


@contextmanager
def tree_progress(total: int, enabled: bool) -> Iterator[Callable[[int, float], None] | None]:
    """A progress bar over ``total`` trees (rich), or ``None`` when not ``enabled``.

    The callback takes the number of trees done and the training loss at that point.
    """
    if not enabled:
        yield None
        return
    from rich.progress import Progress  # noqa: PLC0415 - only when a bar is wanted

    with Progress(transient=False) as bar:
        task = bar.add_task("boosting", total=total)

        def advance(done: int, loss: float) -> None:
            text = "nan" if math.isnan(loss) else f"{loss:.5g}"
            bar.update(task, completed=done, description=f"boosting (training loss {text})")

        yield advance
