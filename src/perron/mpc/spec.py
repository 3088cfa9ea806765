"""The public description of one vertical model: what every party agrees on.

A :class:`VerticalSpec` travels to all three parties (the two data holders and the
helper) as JSON before the computation starts. It names columns, never values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from perron.mpc.sigmoid import FourierSigmoid
from perron.protocol.errors import InputError

__all__ = ["FAMILIES", "HELPER", "Family", "VerticalSpec"]

Family = Literal["gaussian", "binomial"]
FAMILIES: tuple[Family, ...] = ("gaussian", "binomial")

#: The index of the helper party; the holders are 0 (with the outcome) and 1.
HELPER = 2


@dataclass(frozen=True)
class VerticalSpec:
    """A regression on the linked cohort of two holders, run with a helper party.

    Attributes
    ----------
    family : {"gaussian", "binomial"}
        Linear (least squares) or logistic regression.
    outcome : str
        The outcome column; holder 0 has it.
    columns : tuple of two tuples of str
        The predictors of holder 0 and of holder 1 (holder 0 also gets the intercept).
    holders : tuple of two str
        Display names of the holders (e.g. ``("hospital", "insurer")``).
    key : str or None
        The study pseudonym column both holders have. If given, each holder sorts
        by it and the parties compare a SHA-256 digest of the sorted keys, so that
        misaligned cohorts stop the computation. If None, the row order is trusted.
    max_iter : int
        Newton iterations for the logistic model.
    tol : float
        Convergence: every coefficient step (in whitened units) below ``tol``.
    sigmoid : FourierSigmoid
        The separable approximation of the logistic function.

    Examples
    --------
    >>> spec = VerticalSpec("binomial", "low", (("age", "smoke"), ("ptl", "ht")))
    >>> VerticalSpec.from_json(spec.to_json()) == spec
    True
    >>> spec.names
    ['Intercept', 'age', 'smoke', 'ptl', 'ht']
    """

    family: Family
    outcome: str
    columns: tuple[tuple[str, ...], tuple[str, ...]]
    holders: tuple[str, str] = ("A", "B")
    key: str | None = None
    max_iter: int = 25
    tol: float = 1e-8
    sigmoid: FourierSigmoid = field(default_factory=FourierSigmoid)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise InputError(f"family {self.family!r} is not supported; use one of {FAMILIES}.")
        if len(self.columns) != 2 or len(self.holders) != 2:
            raise InputError("a vertical model has exactly two data holders (and a helper).")
        named = [self.outcome, *self.columns[0], *self.columns[1]]
        twice = sorted({c for c in named if named.count(c) > 1})
        if twice:
            raise InputError(
                f"columns {twice} appear more than once; each variable belongs to one "
                "holder, and the outcome is not a predictor."
            )
        if not self.columns[1]:
            raise InputError("holder 1 contributes no columns; a vertical model needs both.")
        if self.max_iter < 1 or not self.tol > 0:
            raise InputError("max_iter must be at least 1 and tol positive.")

    @property
    def names(self) -> list[str]:
        """Coefficient names in order: intercept, holder 0's, holder 1's."""
        return ["Intercept", *self.columns[0], *self.columns[1]]

    @property
    def widths(self) -> tuple[int, int]:
        """Coefficients per holder (holder 0 counts the intercept)."""
        return 1 + len(self.columns[0]), len(self.columns[1])

    def to_json(self) -> str:
        """The spec as a JSON text."""
        return json.dumps(
            {
                "family": self.family,
                "outcome": self.outcome,
                "columns": [list(self.columns[0]), list(self.columns[1])],
                "holders": list(self.holders),
                "key": self.key,
                "max_iter": self.max_iter,
                "tol": self.tol,
                "sigmoid": {"period": self.sigmoid.period, "harmonics": self.sigmoid.harmonics},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> VerticalSpec:
        """Read a spec written by :meth:`to_json`."""
        try:
            raw: dict[str, Any] = json.loads(text)
            columns = raw["columns"]
            sigmoid = raw.get("sigmoid", {})
            return cls(
                family=cast(Family, raw["family"]),
                outcome=str(raw["outcome"]),
                columns=(tuple(map(str, columns[0])), tuple(map(str, columns[1]))),
                holders=(str(raw["holders"][0]), str(raw["holders"][1])),
                key=None if raw.get("key") is None else str(raw["key"]),
                max_iter=int(raw.get("max_iter", 25)),
                tol=float(raw.get("tol", 1e-8)),
                sigmoid=FourierSigmoid(
                    float(sigmoid.get("period", 16.0)), int(sigmoid.get("harmonics", 28))
                ),
            )
        except (KeyError, IndexError, TypeError, ValueError, json.JSONDecodeError) as error:
            raise InputError(f"cannot read the vertical model spec: {error!r}.") from None
