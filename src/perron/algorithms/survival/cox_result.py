"""The result of a federated Cox model, shaped like lifelines' ``CoxPHFitter``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from perron.algorithms.core.base import FederatedResult


@dataclass(frozen=True)
class TestResult:
    """A chi-square test: statistic, degrees of freedom and p-value."""

    statistic: float
    df: int

    @property
    def p_value(self) -> float:
        return float(stats.chi2.sf(self.statistic, self.df))


@dataclass(frozen=True, kw_only=True)
class CoxResult(FederatedResult):
    """Estimates, standard errors and tests of a Cox proportional hazards model."""

    params: pd.Series
    covariance: pd.DataFrame
    llf: float
    llf_null: float
    score_statistic: float
    ties: str
    strata: str | None
    nobs: int
    n_events: int
    iterations: int
    dropped_per_station: Mapping[str, int]
    #: Harrell's C over pairs of subjects within the same station (and stratum);
    #: ``None`` for (start, stop] data. Pairs across stations would need two
    #: stations to compare individual risk scores, which neither releases.
    concordance: float | None = None

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.covariance)), index=self.params.index, name="bse")

    @property
    def hazard_ratios(self) -> pd.Series:
        return pd.Series(np.exp(self.params), index=self.params.index, name="exp(coef)")

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("z")

    @property
    def pvalues(self) -> pd.Series:
        p = 2 * stats.norm.sf(np.abs(self.tvalues.to_numpy()))
        return pd.Series(p, index=self.params.index, name="p")

    def cov_params(self) -> pd.DataFrame:
        return self.covariance

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals for the coefficients (exponentiate for hazard ratios)."""
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({0: self.params - z * self.bse, 1: self.params + z * self.bse})

    @property
    def likelihood_ratio_test(self) -> TestResult:
        return TestResult(2.0 * (self.llf - self.llf_null), len(self.params))

    @property
    def wald_test(self) -> TestResult:
        beta = self.params.to_numpy()
        statistic = float(beta @ np.linalg.solve(self.covariance.to_numpy(), beta))
        return TestResult(statistic, len(self.params))

    @property
    def score_test(self) -> TestResult:
        return TestResult(self.score_statistic, len(self.params))

    @property
    def aic(self) -> float:
        """Partial AIC, ``-2 llf + 2 p`` (lifelines' ``AIC_partial_``)."""
        return -2.0 * self.llf + 2.0 * len(self.params)

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        ci = self.conf_int(alpha)
        level = f"{100 * (1 - alpha):g}%"
        return pd.DataFrame(
            {
                "coef": self.params,
                "exp(coef)": self.hazard_ratios,
                "se(coef)": self.bse,
                f"coef lower {level}": ci[0],
                f"coef upper {level}": ci[1],
                f"exp(coef) lower {level}": np.exp(ci[0]),
                f"exp(coef) upper {level}": np.exp(ci[1]),
                "z": self.tvalues,
                "p": self.pvalues,
            }
        )

    def plot(self, path: str | Path) -> Path:
        """Forest plot of the hazard ratios with 95% intervals, saved as PNG."""
        from perron.plots.forest import forest_plot  # noqa: PLC0415 - matplotlib only when plotting

        table = self.summary()
        return forest_plot(
            table["coef"],
            table.iloc[:, 3],
            table.iloc[:, 4],
            path,
            exponentiate=True,
            xlabel="hazard ratio (95% CI)",
            title=f"Federated Cox model over {len(self.nobs_per_station)} stations, "
            f"n={self.nobs}, {self.n_events} events",
        )

    def __str__(self) -> str:
        lr = self.likelihood_ratio_test
        header = (
            f"Cox PH ({self.ties} ties{', strata ' + self.strata if self.strata else ''}): "
            f"{self.nobs} rows, {self.n_events} events over {len(self.nobs_per_station)} "
            f"stations; partial log-likelihood {self.llf:.6g}; LR test {lr.statistic:.4g} "
            f"on {lr.df} df, p={lr.p_value:.3g}"
        )
        return f"{header}\n{self.summary().to_string()}"
