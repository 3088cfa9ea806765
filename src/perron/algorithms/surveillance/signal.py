"""One week's surveillance signal: the pooled counts, the detection, whether it alarmed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from perron.algorithms.core.base import FederatedResult
from perron.algorithms.surveillance.weekly_result import WeeklyCountsResult
from perron.protocol.errors import InputError
from perron.surveillance.series import Detection
from perron.surveillance.weeks import IsoWeek

#: Weeks before the assessed one that a signal shows (its plot and table).
RECENT_WEEKS = 26


@dataclass(frozen=True, kw_only=True)
class Signal(FederatedResult):
    """The outcome of assessing ``week``: ``detection`` covers the recent weeks up to it.

    ``alarm`` is whether ``week`` itself alarmed; ``detection.alarm_weeks`` also
    lists the earlier alarms of the recent weeks.
    """

    week: IsoWeek
    counts: WeeklyCountsResult
    detection: Detection

    @property
    def alarm(self) -> bool:
        weeks = list(self.detection.weeks)
        return self.week in weeks and bool(self.detection.alarm[weeks.index(self.week)])

    def __str__(self) -> str:
        state = "ALARM" if self.alarm else "no alarm"
        return f"{self.week}: {state} ({self.detection})"


def assess(
    counts: WeeklyCountsResult,
    method: str,
    options: dict[str, Any] | None = None,
    *,
    recent: int = RECENT_WEEKS,
) -> Signal:
    """Run ``method`` on the pooled series and keep the ``recent`` weeks up to the last.

    Raises
    ------
    InputError
        The method cannot assess the last week (too little history, or the week's
        pooled count is unknown because a station suppressed it).
    """
    week = counts.spec.last
    chosen = dict(options or {})
    recent_weeks = [w for w in counts.weeks if week - w < recent]
    while True:
        try:
            detection = counts.detect(method, **{"assess": recent_weeks, **chosen})
            break
        except InputError:
            if len(recent_weeks) == 1:
                raise
            # Too little history for the earliest of them: leave that week out.
            recent_weeks = recent_weeks[1:]
    weeks = list(detection.weeks)
    if week not in weeks or np.isnan(detection.upperbound[weeks.index(week)]):
        raise InputError(
            f"{method} could not assess {week}: its history starts at {counts.spec.first} "
            "or its pooled count is unknown (see .suppressed); give the job more history "
            "or fewer strata."
        )
    keep = [k for k, w in enumerate(weeks) if week - w < recent]
    recent_detection = replace(
        detection,
        weeks=tuple(weeks[k] for k in keep),
        observed=detection.observed[keep],
        expected=detection.expected[keep],
        upperbound=detection.upperbound[keep],
        alarm=detection.alarm[keep],
        score=detection.score[keep],
    )
    return Signal(
        week=week,
        counts=counts,
        detection=recent_detection,
        nobs_per_station=counts.nobs_per_station,
        decisions=counts.decisions,
    )
