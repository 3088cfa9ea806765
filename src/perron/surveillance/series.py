"""A weekly count series and the outcome of an aberration-detection method on it.

:class:`WeeklySeries` is what the detection methods read: consecutive ISO weeks and a
count per week (``NaN`` where the count is unknown, e.g. a suppressed cell).
:class:`Detection` is what every method returns, in the shape of the R package
``surveillance``'s ``sts`` result: for each assessed week the observed count, the
expected count, the alarm threshold (``upperbound``), whether it alarmed, and a
method-specific score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.protocol.errors import InputError
from perron.surveillance.weeks import IsoWeek

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class WeeklySeries:
    """Counts of consecutive ISO weeks from ``start``.

    Examples
    --------
    >>> s = WeeklySeries(IsoWeek(2024, 1), [3, 4, float("nan")])
    >>> [str(w) for w in s.weeks], s.known.tolist()
    (['2024-W01', '2024-W02', '2024-W03'], [True, True, False])
    """

    start: IsoWeek
    counts: FloatArray

    def __init__(self, start: IsoWeek, counts: Sequence[float] | npt.ArrayLike) -> None:
        values = np.asarray(counts, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise InputError("a weekly series needs a one-dimensional, non-empty list of counts.")
        known = values[~np.isnan(values)]
        if np.any(known < 0) or np.any(np.isinf(known)):
            raise InputError("weekly counts must be finite and not negative.")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "counts", values)

    def __len__(self) -> int:
        return int(self.counts.size)

    @property
    def weeks(self) -> list[IsoWeek]:
        return [self.start + k for k in range(len(self))]

    @property
    def mondays(self) -> list[date]:
        return [w.monday() for w in self.weeks]

    @property
    def known(self) -> BoolArray:
        return ~np.isnan(self.counts)

    def index_of(self, week: IsoWeek) -> int:
        """Position of ``week`` in the series."""
        position = week - self.start
        if not 0 <= position < len(self):
            raise InputError(f"{week} is outside the series ({self.start} to {self.weeks[-1]}).")
        return position


@dataclass(frozen=True)
class Detection:
    """What an aberration-detection method found in the weeks it assessed.

    Arrays are aligned with :attr:`weeks`. ``expected`` and ``upperbound`` are
    ``NaN`` where the method could not assess a week (too little history, unknown
    count); such a week never alarms. ``score`` is the method's own statistic:
    Farrington's exceedance score ``(y - expected) / (upperbound - expected)``,
    EARS's ``(y - mean) / sd``, the CUSUM statistic.
    """

    method: str
    weeks: tuple[IsoWeek, ...]
    observed: FloatArray
    expected: FloatArray
    upperbound: FloatArray
    alarm: BoolArray
    score: FloatArray
    parameters: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.weeks)
        for name in ("observed", "expected", "upperbound", "alarm", "score"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Detection.{name} has {len(getattr(self, name))} values, not {n}")

    @property
    def alarm_weeks(self) -> list[IsoWeek]:
        return [w for w, a in zip(self.weeks, self.alarm, strict=True) if a]

    def to_frame(self) -> pd.DataFrame:
        """One row per assessed week."""
        return pd.DataFrame(
            {
                "observed": self.observed,
                "expected": self.expected,
                "upperbound": self.upperbound,
                "alarm": self.alarm,
                "score": self.score,
            },
            index=pd.Index([str(w) for w in self.weeks], name="week"),
        )

    def __str__(self) -> str:
        alarms = ", ".join(str(w) for w in self.alarm_weeks) or "none"
        return f"{self.method}: {len(self.weeks)} weeks assessed; alarms: {alarms}"
