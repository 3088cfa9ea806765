"""Outbreak detection across three holders: detection delay and false alarm rate.

For each replicate (a seed), the three synthetic holders of
:mod:`perron.surveillance.synthetic` (a GP network, a hospital and a laboratory, seven
years of salmonella-like weekly cases with a yearly cycle) get one outbreak planted,
reported over four weeks from a week drawn between 2024-W10 and 2025-W30. The
holders' weekly counts (by week of report, cases of 1 or 2 suppressed at each holder)
are pooled through the federated weekly counts in one process, and each method
assesses the weeks from 52 weeks before the outbreak to its last week, each week on
the series up to it as a weekly job would.

Per method it prints:

- detection: the share of outbreaks alarmed in one of their four weeks;
- delay: the median and mean weeks from the outbreak's first week to the first alarm
  in it (0 = the first week), over the detected ones;
- false alarms: alarms per week in the 52 weeks before the outbreak (a week alarming
  counts once), with its binomial 95% interval; with an ideal alpha of 0.01 it is 0.01.

Run: ``.venv/bin/python benchmarks/surveillance_detection.py [--replicates 30]``
(figures in docs/surveillance.md).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import binomtest

import perron
from perron.algorithms.surveillance.signal import RECENT_WEEKS
from perron.algorithms.surveillance.weekly_result import detector
from perron.privacy.policy import DisclosurePolicy
from perron.surveillance.series import WeeklySeries
from perron.surveillance.synthetic import Outbreak, synthetic_surveillance
from perron.surveillance.weeks import IsoWeek

#: Method -> its options (alpha 0.01 where the method has one).
METHODS: Mapping[str, dict[str, Any]] = {
    "farrington_flexible (Noufaily)": {
        "method": "farrington_flexible",
        "alpha": 0.01,
        "no_periods": 10,
        "past_weeks_not_included": 26,
    },
    "farrington_flexible (original)": {
        "method": "farrington_flexible",
        "alpha": 0.01,
        "b": 3,
        "weights_threshold": 1.0,
    },
    "ears_c1": {"method": "ears_c1", "alpha": 0.01},
    "ears_c2": {"method": "ears_c2", "alpha": 0.01},
    "ears_c3": {"method": "ears_c3", "alpha": 0.01},
    "nb_cusum": {"method": "nb_cusum"},
}
CASE = [{"column": "icd10", "in": ["A02.0"]}]
OUTBREAK_WEEKS = 4
BEFORE = 52
#: Methods whose statistic runs on from week to week (a CUSUM): assessed as the job does.
SEQUENTIAL = frozenset({"nb_cusum"})


def _weekly_job(series: WeeklySeries, week: IsoWeek, method: str, settings: dict[str, Any]) -> bool:
    """What the weekly job decides for ``week``: the method on the series up to it, over
    the recent weeks (:data:`RECENT_WEEKS`), read at ``week``."""
    upto = WeeklySeries(series.start, series.counts[: week - series.start + 1])
    recent = [w for w in upto.weeks if week - w < RECENT_WEEKS]
    return bool(detector(method)(upto, assess=recent, **settings).alarm[-1])


def replicate(seed: int) -> tuple[int, dict[str, tuple[list[bool], list[bool]]]]:
    """One outbreak: per method, the alarms of the weeks before it and of its weeks."""
    rng = np.random.default_rng(seed)
    start = IsoWeek(2024, 10) + int(rng.integers(0, 72))
    last = start + (OUTBREAK_WEEKS - 1)
    data = synthetic_surveillance(
        IsoWeek(2017, 1), last, outbreak=Outbreak(start, weeks=OUTBREAK_WEEKS), seed=seed
    )
    session = perron.simulate(data.frames, disclosure=DisclosurePolicy(min_cell=3))
    counts = session.weekly_counts(case=CASE, date="report", first="2017-W01", last=str(last))
    series = counts.series()
    assessed = [start + k for k in range(-BEFORE, OUTBREAK_WEEKS)]
    out: dict[str, tuple[list[bool], list[bool]]] = {}
    for label, options in METHODS.items():
        settings = dict(options)
        method = settings.pop("method")
        if method in SEQUENTIAL:
            alarms = [_weekly_job(series, week, method, settings) for week in assessed]
        else:
            # A week's threshold uses only weeks before it (its baseline), so assessing
            # them all at once gives what the weekly job gives week by week.
            found = detector(method)(series, assess=assessed, **settings)
            alarms = [bool(a) for a in found.alarm]
        out[label] = (alarms[:BEFORE], alarms[BEFORE:])
    return int(start - IsoWeek(2017, 1)), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--replicates", type=int, default=30)
    args = parser.parse_args()
    began = time.perf_counter()
    results: dict[str, list[tuple[list[bool], list[bool]]]] = {m: [] for m in METHODS}
    for seed in range(args.replicates):
        _, out = replicate(1000 + seed)
        for label, alarms in out.items():
            results[label].append(alarms)
    seconds = time.perf_counter() - began
    print(
        f"{args.replicates} outbreaks of {OUTBREAK_WEEKS} weeks at three holders ({seconds:.0f} s)"
    )
    print("| method | detected | median delay | mean delay | false alarms / week (95% CI) |")
    print("|---|---|---|---|---|")
    for label, runs in results.items():
        delays = [during.index(True) for _, during in runs if any(during)]
        false = sum(sum(before) for before, _ in runs)
        weeks = sum(len(before) for before, _ in runs)
        ci = binomtest(false, weeks).proportion_ci(0.95)
        median = f"{np.median(delays):.1f}" if delays else "-"
        mean = f"{np.mean(delays):.2f}" if delays else "-"
        print(
            f"| {label} | {len(delays)}/{len(runs)} | {median} | {mean} | "
            f"{false / weeks:.4f} ({ci.low:.4f}-{ci.high:.4f}) |"
        )


if __name__ == "__main__":
    main()
