"""Federated (simulated) logistic GLM vs pooled statsmodels, at 1e4, 1e5 and 1e6 rows.

Three stations hold 60/25/15 % of a synthetic cohort with five continuous
predictors and one binary predictor. Both fits start from the same data frames;
the federated time includes station set-up, the prepare round and every IRLS
round. Target (issue 3): ratio <= 1.5 at 1e6 rows.

Run: ``.venv/bin/python benchmarks/glm.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import statsmodels.api as sm

import perron

PREDICTORS = ["x1", "x2", "x3", "x4", "x5", "treated"]


def cohort(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 5)), columns=PREDICTORS[:5])
    frame["treated"] = rng.integers(0, 2, n)
    eta = -0.5 + frame.to_numpy() @ np.array([0.4, -0.3, 0.2, 0.1, -0.2, 0.5])
    frame["y"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    return frame


def best_of(repeats: int, run: Callable[[], pd.Series]) -> tuple[float, pd.Series]:
    """Shortest wall time of ``repeats`` runs, and the estimates of the last run."""
    times = []
    params = pd.Series(dtype=float)
    for _ in range(repeats):
        start = time.perf_counter()
        params = run()
        times.append(time.perf_counter() - start)
    return min(times), params


def federated(stations: dict[str, pd.DataFrame]) -> pd.Series:
    formula = "y ~ " + " + ".join(PREDICTORS)
    return perron.simulate(stations).glm(formula, family="binomial").params


def pooled(frame: pd.DataFrame) -> pd.Series:
    X = sm.add_constant(frame[PREDICTORS]).rename(columns={"const": "Intercept"})
    params: pd.Series = sm.GLM(frame["y"], X, family=sm.families.Binomial()).fit().params
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'rows':>10} {'perron s':>10} {'statsmodels s':>14} {'ratio':>7} {'max |dparam|':>13}")
    for n in args.sizes:
        frame = cohort(n)
        parts = np.split(np.arange(n), [int(0.60 * n), int(0.85 * n)])
        stations = {f"s{i}": frame.iloc[p].reset_index(drop=True) for i, p in enumerate(parts)}
        t_fed, ours = best_of(args.repeats, partial(federated, stations))
        t_pool, theirs = best_of(args.repeats, partial(pooled, frame))
        deviation = float(np.max(np.abs(ours - theirs[ours.index])))
        print(f"{n:>10} {t_fed:>10.4f} {t_pool:>14.4f} {t_fed / t_pool:>7.2f} {deviation:>13.2e}")


if __name__ == "__main__":
    main()
