"""The Cox partial log-likelihood, its score and information from pooled risk-set sums.

For one stratum, at each distinct event time t with d_t events, the stations'
sums add up to the pooled
``S0 = sum_R w``, ``S1 = sum_R w x``, ``S2 = sum_R w x x'`` over the risk set R(t)
(w = exp(x'b)) and ``E0, E1, E2``, the same sums over the d_t events at t.

Breslow::

    l(b) = b'sum_events x - sum_t d_t log S0
    U(b) = sum_events x   - sum_t d_t S1 / S0
    I(b) = sum_t d_t (S2 / S0 - a a'),            a = S1 / S0

Efron replaces the d_t identical denominators by, for l = 0 .. d_t - 1 and
phi = l / d_t, ``D = S0 - phi E0``, ``A1 = S1 - phi E1``, ``A2 = S2 - phi E2``::

    l(b) = b'sum_events x - sum_t sum_l log D
    U(b) = sum_events x   - sum_t sum_l A1 / D
    I(b) = sum_t sum_l (A2 / D - A1 A1' / D^2)

These are the formulas lifelines and statsmodels evaluate on the pooled data, so
the federated fit is the pooled fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StratumSums:
    """Pooled sums of one stratum at its event times."""

    d: FloatArray
    s0: FloatArray
    s1: FloatArray
    s2: FloatArray
    e0: FloatArray
    e1: FloatArray
    e2: FloatArray
    xsum: FloatArray


@dataclass(frozen=True)
class Likelihood:
    llf: float
    score: FloatArray
    information: FloatArray


def partial_likelihood(
    strata: Iterable[StratumSums], beta: FloatArray, *, efron: bool
) -> Likelihood:
    """Partial log-likelihood, score and information summed over strata."""
    p = beta.size
    llf = 0.0
    score = np.zeros(p)
    information = np.zeros((p, p))
    for s in strata:
        keep = s.d > 0
        d, s0, s1, s2 = s.d[keep], s.s0[keep], s.s1[keep], s.s2[keep]
        llf += float(s.xsum @ beta)
        score += s.xsum
        if not efron:
            a = s1 / s0[:, None]
            llf -= float(np.sum(d * np.log(s0)))
            score -= np.sum(d[:, None] * a, axis=0)
            information += np.einsum("t,tij->ij", d, s2 / s0[:, None, None])
            information -= np.einsum("t,ti,tj->ij", d, a, a)
            continue
        e0, e1, e2 = s.e0[keep], s.e1[keep], s.e2[keep]
        for tie in range(int(d.max())):
            rows = d > tie
            phi = tie / d[rows]
            denominator = s0[rows] - phi * e0[rows]
            a1 = s1[rows] - phi[:, None] * e1[rows]
            a2 = s2[rows] - phi[:, None, None] * e2[rows]
            llf -= float(np.sum(np.log(denominator)))
            score -= np.sum(a1 / denominator[:, None], axis=0)
            information += np.sum(a2 / denominator[:, None, None], axis=0)
            scaled = a1 / denominator[:, None]
            information -= scaled.T @ scaled
    return Likelihood(llf, score, information)
