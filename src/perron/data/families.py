"""GLM families with their canonical links, evaluated row-wise at the station.

These are the textbook formulas (McCullagh & Nelder) that statsmodels uses too;
they are written here as numpy kernels because a station evaluates them where the
data lives (and an SQL source will render the same expressions in SQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import expit, gammaln, xlogy

from perron.protocol.errors import InputError

FamilyName = Literal["gaussian", "binomial", "poisson"]
FloatArray = npt.NDArray[np.float64]

#: Probabilities are kept this far from 0 and 1, as statsmodels' ``Binary`` variance.
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Family:
    """A GLM family with its canonical link."""

    name: FamilyName

    def start_mu(self, y: FloatArray) -> FloatArray:
        """Starting fitted values (statsmodels' choice; the optimum does not depend on it)."""
        if self.name == "binomial":
            return (y + 0.5) / 2.0
        if self.name == "poisson":
            # A station with only zero counts must not start at log(0).
            return (y + (float(y.mean()) or 1.0)) / 2.0
        return y.copy()

    def link(self, mu: FloatArray) -> FloatArray:
        if self.name == "binomial":
            p = np.clip(mu, _EPS, 1 - _EPS)
            return np.asarray(np.log(p / (1 - p)), dtype=np.float64)
        if self.name == "poisson":
            return np.asarray(np.log(mu), dtype=np.float64)
        return mu

    def inverse(self, eta: FloatArray) -> FloatArray:
        if self.name == "binomial":
            return np.asarray(expit(eta), dtype=np.float64)
        if self.name == "poisson":
            return np.asarray(np.exp(eta), dtype=np.float64)
        return eta

    def link_derivative(self, mu: FloatArray) -> FloatArray:
        """d eta / d mu."""
        if self.name == "binomial":
            p = np.clip(mu, _EPS, 1 - _EPS)
            return 1.0 / (p * (1 - p))
        if self.name == "poisson":
            return 1.0 / mu
        return np.ones_like(mu)

    def variance(self, mu: FloatArray) -> FloatArray:
        if self.name == "binomial":
            p = np.clip(mu, _EPS, 1 - _EPS)
            return p * (1 - p)
        if self.name == "poisson":
            return mu
        return np.ones_like(mu)

    def deviance(self, y: FloatArray, mu: FloatArray) -> float:
        if self.name == "binomial":
            p = np.clip(mu, _EPS, 1 - _EPS)
            return float(-2.0 * np.sum(xlogy(y, p) + xlogy(1 - y, 1 - p)))
        if self.name == "poisson":
            return float(2.0 * np.sum(xlogy(y, y / mu) - (y - mu)))
        return float(np.sum((y - mu) ** 2))

    def loglik(self, y: FloatArray, mu: FloatArray) -> float:
        """Log-likelihood at scale 1 (the Gaussian one is finished by the coordinator)."""
        if self.name == "binomial":
            p = np.clip(mu, _EPS, 1 - _EPS)
            return float(np.sum(xlogy(y, p) + xlogy(1 - y, 1 - p)))
        if self.name == "poisson":
            return float(np.sum(xlogy(y, mu) - mu - gammaln(y + 1)))
        return 0.0

    def check_response(self, y: FloatArray, column: str) -> None:
        """Raise a clear error for a response the family cannot model."""
        if self.name == "binomial" and not np.isin(y, (0.0, 1.0)).all():
            raise InputError(
                f"the binomial outcome {column!r} must be coded 0/1; recode it "
                "(for example `df[col] = (df[col] == 'yes').astype(int)`)."
            )
        if self.name == "poisson" and (y < 0).any():
            raise InputError(f"the Poisson outcome {column!r} must be a non-negative count.")


def family(name: str) -> Family:
    """Look a family up by name, with a clear error for an unknown one."""
    if name not in ("gaussian", "binomial", "poisson"):
        raise InputError(
            f"unknown GLM family {name!r}; choose 'gaussian', 'binomial' or 'poisson'."
        )
    return Family(name)  # type: ignore[arg-type]
