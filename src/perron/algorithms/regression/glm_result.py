"""The result of a federated GLM fit, shaped like statsmodels' ``GLMResults``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from perron.algorithms.core.base import FederatedResult


@dataclass(frozen=True, kw_only=True)
class GLMResult(FederatedResult):
    """Estimates, standard errors and fit statistics of a GLM.

    All per-term quantities are pandas objects indexed by term name; inference is
    Wald-based on the normal distribution, as statsmodels' GLM default.
    """

    family: str
    params: pd.Series
    covariance: pd.DataFrame
    llf: float
    deviance: float
    pearson_chi2: float
    scale: float
    nobs: int
    df_model: int
    df_resid: int
    iterations: int
    converged: bool
    dropped_per_station: Mapping[str, int]

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the estimates (scaled by the dispersion)."""
        return self.covariance

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.covariance)), index=self.params.index, name="bse")

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("tvalues")

    @property
    def pvalues(self) -> pd.Series:
        p = 2 * stats.norm.sf(np.abs(self.tvalues.to_numpy()))
        return pd.Series(p, index=self.params.index, name="pvalues")

    @property
    def aic(self) -> float:
        """Akaike's criterion, ``-2 llf + 2 (df_model + 1)`` as in statsmodels."""
        return -2.0 * self.llf + 2.0 * (self.df_model + 1)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals; columns 0 (lower) and 1 (upper)."""
        z = stats.norm.ppf(1 - alpha / 2)
        lower = self.params - z * self.bse
        upper = self.params + z * self.bse
        return pd.DataFrame({0: lower, 1: upper})

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """The coefficient table: estimate, standard error, z, p and confidence limits."""
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "coef": self.params,
                "std err": self.bse,
                "z": self.tvalues,
                "P>|z|": self.pvalues,
                f"[{alpha / 2:g}": ci[0],
                f"{1 - alpha / 2:g}]": ci[1],
            }
        )

    def __str__(self) -> str:
        header = (
            f"GLM {self.family}: {self.nobs} rows over {len(self.nobs_per_station)} stations, "
            f"{self.iterations} iterations, deviance {self.deviance:.6g}, "
            f"log-likelihood {self.llf:.6g}, AIC {self.aic:.6g}"
        )
        return f"{header}\n{self.summary().to_string()}"
