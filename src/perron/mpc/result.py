"""The result of a vertical MPC regression, as the holders receive it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from perron.mpc.spec import VerticalSpec
from perron.protocol.errors import TransportError

__all__ = ["VerticalResult"]


@dataclass(frozen=True)
class VerticalResult:
    """Coefficients and covariance of a model fitted on shares of two holders' data.

    Attributes
    ----------
    spec : VerticalSpec
        The model.
    params : Series
        Coefficients by name (intercept, holder 0's columns, holder 1's columns).
    nobs : int
        Rows of the linked cohort.
    iterations : int
        Newton iterations (0 for a linear model).
    scale : float
        Residual variance (linear) or 1 (logistic).
    seconds : list of float
        Wall time per iteration, as holder 0 measured it.
    total_seconds : float
        Wall time from all parties connected to the result, at holder 0.
    learned : dict of str to list of str
        Per party (holder names and ``"helper"``): the labels of everything it
        opened in the clear during the run.
    inputs : dict of str to tuple of int
        Per party: the rows and columns of data it secret-shared (the helper: none).
    """

    spec: VerticalSpec
    params: pd.Series
    covariance: pd.DataFrame
    nobs: int
    iterations: int
    scale: float
    seconds: list[float] = field(default_factory=list)
    total_seconds: float = 0.0
    learned: dict[str, list[str]] = field(default_factory=dict)
    inputs: dict[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def from_reports(cls, spec: VerticalSpec, reports: list[dict[str, Any]]) -> VerticalResult:
        """Build the result from the three parties' JSON reports (holder 0 first)."""
        main = reports[0]
        if "params" not in main:
            raise TransportError("holder 0 finished without coefficients in its report.")
        names = list(main["names"])
        roles = [*spec.holders, "helper"]
        by_role = list(zip(roles, reports, strict=True))
        return cls(
            spec=spec,
            params=pd.Series(np.asarray(main["params"], dtype=float), index=names),
            covariance=pd.DataFrame(
                np.asarray(main["cov"], dtype=float), index=names, columns=names
            ),
            nobs=int(main["nobs"]),
            iterations=int(main["iterations"]),
            scale=float(main["scale"]),
            seconds=[float(s) for s in main["seconds"]],
            total_seconds=float(main["total_seconds"]),
            learned={
                role: list(r.get("opened", [])) for role, r in zip(roles, reports, strict=True)
            },
            inputs={
                role: (int(r.get("input_rows", 0)), int(r.get("input_columns", 0)))
                for role, r in by_role
            },
        )

    @property
    def bse(self) -> pd.Series:
        """Standard errors."""
        return pd.Series(np.sqrt(np.diag(self.covariance.to_numpy())), index=self.params.index)

    def cov_params(self) -> pd.DataFrame:
        """The covariance matrix of the coefficients (statsmodels' name)."""
        return self.covariance

    def summary(self) -> pd.DataFrame:
        """Coefficient table: estimate, standard error, z (or t), p-value, 95 % CI.

        Examples
        --------
        >>> spec = VerticalSpec("binomial", "y", (("a",), ("b",)))
        >>> names = spec.names
        >>> result = VerticalResult(
        ...     spec, pd.Series([0.1, 0.2, 0.3], index=names),
        ...     pd.DataFrame(np.eye(3) / 100, index=names, columns=names), 50, 4, 1.0)
        >>> list(result.summary().columns)
        ['coef', 'std err', 'z', 'P>|z|', '[0.025', '0.975]']
        """
        bse = self.bse
        statistic = self.params / bse
        linear = self.spec.family == "gaussian"
        if linear:
            df = self.nobs - len(self.params)
            p = 2 * stats.t.sf(np.abs(statistic), df)
            q = stats.t.ppf(0.975, df)
        else:
            p = 2 * stats.norm.sf(np.abs(statistic))
            q = stats.norm.ppf(0.975)
        name = "t" if linear else "z"
        return pd.DataFrame(
            {
                "coef": self.params,
                "std err": bse,
                name: statistic,
                f"P>|{name}|": p,
                "[0.025": self.params - q * bse,
                "0.975]": self.params + q * bse,
            }
        )
