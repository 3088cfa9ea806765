"""Disclosure control for time-to-event data, applied by the station to its own data.

Exact survival analysis needs event times, and every released risk-set quantity
changes exactly where a subject enters or leaves, so a station's releases can be
differenced to single subjects. Two holder settings control this:

1. **Time resolution** (``event_times``): ``"exact"``; ``"rounded"``, where every
   time is first rounded *up* to a multiple of ``time_grid``; or ``"none"``, where
   survival analyses are blocked.
   (The rounding and the moves below are :class:`perron.data.survival.TimeMap`,
   applied where the data lives.)
2. **Blocks of at least ``min_cell`` events**: the station groups its distinct
   event times (per group or stratum) into consecutive blocks of at least
   ``min_cell`` events (a short tail joins the block before it). Every event moves
   to the last event time of its block; a censoring or an entry moves *down* to
   the end of the block before it. The station's risk set then changes only at
   block ends, and each change involves at least ``min_cell`` events, so no
   released number can be differenced down to fewer than ``min_cell`` events.

With ``min_cell = 1`` and exact times nothing is moved and the analysis is exact.
Otherwise it is exact *for the coarsened data*, which is what the station
released; ``docs/survival.md`` reports how far that moves results on WHAS500.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from perron.privacy.policy import DisclosurePolicy
from perron.privacy.rules import MIN_CELL
from perron.protocol.errors import DisclosureBlocked
from perron.protocol.messages import Decision, Outcome

FloatArray = npt.NDArray[np.float64]
EVENT_TIMES = "event_times"


def check_event_times(station: str, policy: DisclosurePolicy, subject: str) -> Decision:
    """Block survival analyses where the holder releases no time information."""
    if policy.event_times == "none":
        raise DisclosureBlocked(
            station,
            EVENT_TIMES,
            0,
            "This station does not release event times, so no survival analysis can use "
            "its data; ask its data holder to allow rounded times.",
        )
    outcome: Outcome = "rounded" if policy.event_times == "rounded" else "passed"
    return Decision(station, EVENT_TIMES, policy.time_grid, outcome, subject)


def time_grid(policy: DisclosurePolicy) -> float | None:
    """The grid times are rounded up to before anything else (None: exact times)."""
    return policy.time_grid if policy.event_times == "rounded" else None


def block_ends(
    event_times: FloatArray,
    event_counts: npt.NDArray[np.int64],
    min_events: int,
    station: str,
    subject: str,
) -> FloatArray:
    """Ends of consecutive blocks of event times holding at least ``min_events`` events.

    ``event_times`` are the distinct event times (sorted) and ``event_counts`` the
    number of events at each. Raises :class:`DisclosureBlocked` when there are fewer
    than ``min_events`` events in all. With ``min_events <= 1`` the holder allows
    single events, nothing is coarsened and the result is empty (a
    :class:`~perron.data.survival.TimeMap` then keeps the times): moving censorings
    down to the station's own previous event time would drop them from the risk
    sets at other stations' event times in between.
    """
    if min_events <= 1:
        return np.empty(0, dtype=np.float64)
    if int(event_counts.sum()) < min_events:
        raise DisclosureBlocked(
            station,
            MIN_CELL,
            min_events,
            f"Too few events for {subject} at this station; leave the station out or "
            "combine groups.",
        )
    ends: list[float] = []
    running = 0
    for time, count in zip(event_times.tolist(), event_counts.tolist(), strict=True):
        running += count
        if running >= min_events:
            ends.append(time)
            running = 0
    if running > 0:  # a short tail joins the block before it
        ends[-1] = float(event_times[-1])
    return np.asarray(ends, dtype=np.float64)
