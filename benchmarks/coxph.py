"""Federated (simulated) Cox PH (Efron) vs pooled lifelines, at 1e5 and 1e6 rows.

A synthetic cohort with four covariates, follow-up in whole days (up to ten years,
so event times tie as in registry data) and about 40 % events, held by three
stations (60/25/15 %) whose holders release event times at full resolution
(``min_cell=1``). The federated time includes station set-up and every round.
Target (issue 4): ratio <= 2 at 1e6 rows.

Run: ``.venv/bin/python benchmarks/coxph.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

import perron

COVARIATES = ["age", "sbp", "diabetes", "smoker"]


def cohort(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(65, 10, n),
            "sbp": rng.normal(135, 18, n),
            "diabetes": rng.integers(0, 2, n),
            "smoker": rng.integers(0, 2, n),
        }
    )
    risk = 0.04 * (frame["age"] - 65) + 0.01 * (frame["sbp"] - 135) + 0.4 * frame["diabetes"]
    risk += 0.3 * frame["smoker"]
    event_time = rng.exponential(3000 * np.exp(-risk))
    censor_time = rng.uniform(365, 3650, n)
    frame["days"] = np.ceil(np.minimum(event_time, censor_time))
    frame["died"] = (event_time <= censor_time).astype(int)
    return frame


def timed(run: Callable[[], pd.Series]) -> tuple[float, pd.Series]:
    start = time.perf_counter()
    params = run()
    return time.perf_counter() - start, params


def federated(stations: dict[str, pd.DataFrame], rounds: list[int]) -> pd.Series:
    session = perron.simulate(stations, disclosure=perron.DisclosurePolicy(min_cell=1))
    result = session.coxph("days", "died", COVARIATES, ties="efron")
    rounds.append(result.iterations)
    return result.params


def pooled(frame: pd.DataFrame) -> pd.Series:
    fitter = CoxPHFitter().fit(frame[[*COVARIATES, "days", "died"]], "days", "died")
    params: pd.Series = fitter.params_
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(
        f"{'rows':>9} {'events':>8} {'perron s':>9} {'lifelines s':>12} {'ratio':>6} "
        f"{'newton it':>9} {'max |dparam|':>13}"
    )
    for n in args.sizes:
        frame = cohort(n)
        parts = np.split(np.arange(n), [int(0.60 * n), int(0.85 * n)])
        stations = {f"s{i}": frame.iloc[p].reset_index(drop=True) for i, p in enumerate(parts)}
        rounds: list[int] = []
        t_fed, ours = timed(partial(federated, stations, rounds))
        t_pool, theirs = timed(partial(pooled, frame))
        deviation = float(np.max(np.abs(ours - theirs[ours.index])))
        print(
            f"{n:>9} {int(frame['died'].sum()):>8} {t_fed:>9.2f} {t_pool:>12.2f} "
            f"{t_fed / t_pool:>6.2f} {rounds[0]:>9} {deviation:>13.2e}"
        )


if __name__ == "__main__":
    main()
