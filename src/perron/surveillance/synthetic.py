"""Real-looking synthetic surveillance data at several holders, with a planted outbreak.

Each holder keeps one row per case: a ``patient_id`` pseudonym, ``onset`` and
``report`` dates, an ICD-10 code, ``age`` and a NUTS-3 ``region``. Weekly case
numbers follow a negative-binomial series with a yearly cycle and a slow trend, as
notifiable gastro-intestinal infections do (the shape of ``salmonella.agona`` and
``salmNewport`` in the R package ``surveillance``). Reporting delays follow a
discrete distribution with its mode at one week. Background codes of the same
chapter (``A08``, ``A09``) stand beside the case definition's code (``A02.0``,
salmonella enteritis). An outbreak adds cases in one region over a few weeks at the
holders that see it. Everything is drawn from one seeded generator, so a seed gives
the same data everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from perron.protocol.errors import InputError
from perron.surveillance.weeks import IsoWeek, week_range

#: NUTS-3 regions of the northern Netherlands (Groningen, Friesland, Drenthe).
REGIONS: tuple[str, ...] = ("NL111", "NL112", "NL113", "NL124", "NL125", "NL126", "NL131")
#: The case definition's code and the background codes of the same chapter.
CASE_CODE = "A02.0"
BACKGROUND_CODES: tuple[str, ...] = ("A08.0", "A08.4", "A09")
#: Probability of a report 0, 1, 2, ... weeks after onset.
DELAYS: tuple[float, ...] = (0.25, 0.40, 0.20, 0.10, 0.05)


@dataclass(frozen=True)
class Holder:
    """One data holder's share: baseline cases per week and how many it sees of an outbreak."""

    name: str
    weekly_cases: float
    outbreak_share: float
    mean_age: float


HOLDERS: tuple[Holder, ...] = (
    Holder("gp_network", 14.0, 0.5, 38.0),
    Holder("hospital", 7.0, 0.2, 55.0),
    Holder("laboratory", 10.0, 0.3, 42.0),
)


@dataclass(frozen=True)
class Outbreak:
    """Extra cases in one region: ``cases`` in total, *reported* over the weeks from
    ``start`` (their onsets up to a few weeks earlier, by the same delays), so that a
    count by week of report shows the outbreak from ``start`` on."""

    start: IsoWeek
    weeks: int = 4
    cases: int = 150
    region: str = "NL113"

    @property
    def period(self) -> list[IsoWeek]:
        return [self.start + k for k in range(self.weeks)]


@dataclass(frozen=True)
class SyntheticSurveillance:
    """The holders' case records and what was planted."""

    frames: Mapping[str, pd.DataFrame]
    first: IsoWeek
    last: IsoWeek
    outbreak: Outbreak | None
    #: The planted outbreak cases per week (all holders), aligned with first..last.
    planted: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))


#: The demo's period and outbreak: five years of history, then a spring outbreak.
FIRST = IsoWeek(2020, 1)
LAST = IsoWeek(2025, 20)
OUTBREAK = Outbreak(IsoWeek(2025, 15))


def synthetic_surveillance(
    first: IsoWeek = FIRST,
    last: IsoWeek = LAST,
    *,
    outbreak: Outbreak | None = OUTBREAK,
    holders: Sequence[Holder] = HOLDERS,
    dispersion: float = 0.05,
    background: float = 1.5,
    seed: int = 20,
) -> SyntheticSurveillance:
    """Draw the holders' case records.

    ``dispersion`` is the negative-binomial alpha (variance mu + alpha mu^2);
    ``background`` the number of background-code records per case.

    Examples
    --------
    >>> data = synthetic_surveillance(IsoWeek(2024, 1), IsoWeek(2024, 10), outbreak=None)
    >>> sorted(data.frames)
    ['gp_network', 'hospital', 'laboratory']
    >>> list(data.frames["hospital"].columns)
    ['patient_id', 'onset', 'report', 'icd10', 'age', 'region']
    """
    weeks = week_range(first, last)
    if outbreak is not None and not all(first <= w <= last for w in outbreak.period):
        raise InputError(
            f"the outbreak ({outbreak.start}, {outbreak.weeks} weeks) is outside the data."
        )
    rng = np.random.default_rng(seed)
    t = np.arange(len(weeks), dtype=np.float64)
    season = 0.45 * np.cos(2 * np.pi * (np.array([w.week for w in weeks]) - 33) / 52.0)
    trend = 0.002 * t
    planted = np.zeros(len(weeks))
    if outbreak is not None:
        at = outbreak.start - first
        shape = np.array([2.0, 3.0, 2.0, 1.0][: outbreak.weeks] + [0.5] * (outbreak.weeks - 4))
        planted[at : at + outbreak.weeks] = outbreak.cases * shape / shape.sum()
    frames: dict[str, pd.DataFrame] = {}
    for holder in holders:
        mu = holder.weekly_cases * np.exp(season + trend)
        cases = rng.negative_binomial(1 / dispersion, 1 / (1 + dispersion * mu))
        extra = rng.poisson(planted * holder.outbreak_share)
        frames[holder.name] = _records(rng, weeks, cases, extra, holder, outbreak, background)
    return SyntheticSurveillance(frames, first, last, outbreak, planted)


def _records(
    rng: np.random.Generator,
    weeks: Sequence[IsoWeek],
    cases: np.ndarray,
    extra: np.ndarray,
    holder: Holder,
    outbreak: Outbreak | None,
    background: float,
) -> pd.DataFrame:
    rows: list[tuple[object, ...]] = []
    regions = np.array(REGIONS)
    for k, week in enumerate(weeks):
        monday = week.monday()
        n_background = int(rng.poisson(background * cases[k]))
        groups = (
            (int(cases[k]), CASE_CODE, None),
            (int(extra[k]), CASE_CODE, outbreak.region if outbreak else None),
            (n_background, None, None),
        )
        for n, code, region in groups:
            if n == 0:
                continue
            days = rng.integers(0, 7, n)
            delay = rng.choice(len(DELAYS), size=n, p=DELAYS)
            codes = [code] * n if code else list(rng.choice(BACKGROUND_CODES, size=n))
            ages = np.clip(rng.gamma(4.0, holder.mean_age / 4.0, n), 0, 99).astype(int)
            where = [region] * n if region else list(rng.choice(regions, size=n))
            for i in range(n):
                lag = timedelta(days=int(7 * delay[i] + rng.integers(0, 3)))
                if region:  # an outbreak case: reported in this week, onset before
                    report = monday + timedelta(days=int(days[i]))
                    onset = report - lag
                else:
                    onset = monday + timedelta(days=int(days[i]))
                    report = onset + lag
                row = (onset.isoformat(), report.isoformat(), str(codes[i]), int(ages[i]))
                rows.append((*row, str(where[i])))
    frame = pd.DataFrame(rows, columns=["onset", "report", "icd10", "age", "region"])
    frame = frame.sample(frac=1.0, random_state=int(rng.integers(0, 2**31))).reset_index(drop=True)
    # One record per patient: a pseudonym the holder keeps (objections are per patient).
    frame.insert(0, "patient_id", [f"{holder.name[:3]}-{i:06d}" for i in range(len(frame))])
    return frame
