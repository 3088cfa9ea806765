"""The inputs of a trained model: the design's columns, standardised with pooled moments.

Gradient descent converges slowly when predictors live on very different scales
(age in years next to a 0/1 flag). With ``standardize`` the prepare round releases,
per station, the sum and the sum of squares of each numeric predictor over its
complete rows; the coordinator pools them into means and standard deviations
(``ddof = 0``, as scikit-learn's ``StandardScaler``; each over the rows where the
column is present) and every numeric column is
used as ``(x - mean) / sd`` (only divided by the sd when the model has no
intercept). Indicator columns of categories and the intercept are left as they
are. As in glmnet's default, a penalty then applies to the coefficients of the
standardised columns; :attr:`TrainedModel.coefficients` reports them back on the
original scale.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from perron.data.design import Design, Term
>>> design = Design("y", (Term("Intercept"), Term("age", "age")))
>>> scaling = Scaling.pooled(design, {"age": 30.0}, {"age": 500.0}, {"age": 2})
>>> scaling.center.tolist(), scaling.scale.tolist()
([0.0, 15.0], [1.0, 5.0])
>>> design_matrix(pd.DataFrame({"age": [10.0, None]}), design)[0].tolist()
[[1.0, 10.0], [nan, nan]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perron.data.design import Design
from perron.learning.network import FloatArray
from perron.protocol.errors import InputError, SingularDesign, UnknownColumn


@dataclass(frozen=True)
class Scaling:
    """Per design column: subtract ``center``, divide by ``scale``."""

    center: FloatArray
    scale: FloatArray

    @classmethod
    def identity(cls, p: int) -> Scaling:
        return cls(np.zeros(p), np.ones(p))

    @classmethod
    def pooled(
        cls,
        design: Design,
        sums: Mapping[str, float],
        squares: Mapping[str, float],
        counts: Mapping[str, float],
    ) -> Scaling:
        """Means and standard deviations (``ddof = 0``) of the numeric terms.

        Raises
        ------
        SingularDesign
            A numeric predictor is constant over all stations.
        """
        p = len(design.terms)
        center, scale = np.zeros(p), np.ones(p)
        intercept = any(t.is_intercept for t in design.terms)
        for j, term in enumerate(design.terms):
            if term.column is None or term.is_indicator:
                continue
            n = counts[term.column]
            mean = sums[term.column] / n
            variance = max(squares[term.column] / n - mean * mean, 0.0)
            sd = math.sqrt(variance)
            if sd <= 1e-12 * max(1.0, abs(mean)):
                raise SingularDesign(
                    f"predictor {term.name!r} is constant over all stations; drop it from "
                    "the model."
                )
            center[j] = mean if intercept else 0.0
            scale[j] = sd
        return cls(center, scale)

    def apply(self, X: FloatArray) -> FloatArray:
        return (X - self.center) / self.scale

    def to_wire(self) -> dict[str, Any]:
        return {"center": self.center.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Scaling:
        center = np.asarray(wire["center"], dtype=np.float64)
        scale = np.asarray(wire["scale"], dtype=np.float64)
        if center.shape != scale.shape or not np.all(scale > 0):
            raise InputError("a model's scaling needs centres and positive scales per column.")
        return cls(center, scale)


def design_matrix(frame: pd.DataFrame, design: Design) -> tuple[FloatArray, FloatArray]:
    """The design matrix of ``frame`` (any rows; the outcome need not be there) and
    the offset; a row missing a model column is all ``NaN``.

    Raises
    ------
    UnknownColumn
        A predictor or the offset is not a column of ``frame``.
    """
    needed = [t.column for t in design.terms if t.column is not None]
    if design.offset is not None:
        needed.append(design.offset)
    missing = sorted({c for c in needed if c not in frame.columns})
    if missing:
        raise UnknownColumn(
            f"columns {missing} are not in the frame; the model needs {sorted(set(needed))}."
        )
    n = len(frame)
    X = np.empty((n, len(design.terms)))
    incomplete = np.zeros(n, dtype=bool)
    for j, term in enumerate(design.terms):
        if term.column is None:
            X[:, j] = 1.0
            continue
        values = frame[term.column]
        incomplete |= values.isna().to_numpy()
        if term.is_indicator:
            X[:, j] = (values == term.level).to_numpy(dtype=np.float64)
        else:
            X[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    offset = np.zeros(n)
    if design.offset is not None:
        offset = pd.to_numeric(frame[design.offset], errors="coerce").to_numpy(dtype=np.float64)
        incomplete |= np.isnan(offset)
    X[incomplete] = np.nan
    incomplete |= np.isnan(X).any(axis=1)
    X[incomplete] = np.nan
    return X, offset
