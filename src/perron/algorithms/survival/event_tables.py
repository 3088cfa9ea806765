"""Released event tables: the station step and the pooling that Kaplan-Meier and
the log-rank tests share.

**What a station releases.** Per group (a combination of levels of the grouping
columns): the distinct times at which a row enters or leaves after the station's
own coarsening (:mod:`perron.privacy.survival`), and at each of them the number of
events, of censorings and of entries, plus the number of complete rows. Events sit
only at the ends of blocks of at least ``min_cell`` events; censorings and entries
move down to the end of the block before (before the first block: to 0). So every
released time carries 0 or at least ``min_cell`` events, and the table has at most
``events / min_cell + 1`` entries whatever the number of rows. A holder who sets
``min_cell = 1`` allows single events: then nothing moves and every distinct time
is released.

**Why pooling is exact.** A row is at risk at t when ``entry < t <= exit`` (R's
and lifelines' convention; without an entry column, entry is minus infinity). So

    n(t) = #{entry < t} - #{exit < t}
         = N0 + sum_{s < t} entries(s) - sum_{s < t} (events(s) + censored(s)),

with N0 the rows without an entry time. Each term is a sum of counts, so the
stations' tables, summed time by time, give the pooled risk sets and event counts
exactly: every Kaplan-Meier and log-rank quantity is a function of these alone.
With ``min_cell = 1`` and exact times the result is the pooled data's. Otherwise it
is exact for the data the stations released: an event is reported up to its block
end, and a censoring moved down to its station's previous block end also leaves
the risk sets of other stations' event times in between. ``docs/survival.md``
measures how far that moves the results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.algorithms.core.base import StationContext
from perron.algorithms.core.checks import require_columns, require_numeric, require_rows
from perron.data.source import DataSource
from perron.data.survival import ALL, SurvivalSpec, TimeMap
from perron.privacy.rules import check_levels
from perron.privacy.survival import block_ends, check_event_times, time_grid
from perron.protocol.errors import InputError
from perron.protocol.messages import Decision

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: What :func:`release_event_tables` puts in a payload, for the algorithms' contracts.
RELEASES: Mapping[str, str] = {
    "n": "scalar: complete rows",
    "tables": "per group: the station's times after coarsening (its block ends of "
    ">= min_cell events and 0; every distinct time where min_cell is 1) and the "
    "events, censorings and entries at each",
}


def release_event_tables(
    data: DataSource,
    spec: SurvivalSpec,
    groups: Sequence[str],
    context: StationContext,
    subject: str,
) -> tuple[dict[str, Any], list[Decision]]:
    """The station step shared by the survival curves and tests.

    Checks the columns, blocks where the holder releases no times, coarsens the
    times per group (blocks of at least ``min_cell`` events, after rounding to the
    holder's grid) and returns the payload ``{"n": rows, "tables": {key: table}}``
    with the decisions taken.

    Raises
    ------
    DisclosureBlocked
        If the holder releases no event times (rule ``event_times``), or a group
        has fewer than ``min_cell`` events or rows (rule ``min_cell``).
    """
    times = [spec.stop, spec.event, *([spec.start] if spec.start is not None else [])]
    columns = [*times, *groups]
    require_columns(data, columns, context)
    require_numeric(data, times, context)
    decisions = [check_event_times(context.station, context.policy, subject)]
    n = data.complete_count(columns)
    decisions.append(require_rows(n, context, subject))
    for column in groups:
        counts = data.value_counts([column], columns)
        decisions += check_levels(context.station, dict(counts), n, context.policy, column)
    grid = time_grid(context.policy)
    raw = data.event_table(spec, groups, TimeMap(grid))
    ends: dict[str, FloatArray] = {}
    for key, table in raw.items():
        has = table.events > 0
        what = subject if key == ALL else f"{subject}, group {key}"
        ends[key] = block_ends(
            table.time[has], table.events[has], context.policy.event_block, context.station, what
        )
    coarse = data.event_table(spec, groups, TimeMap(grid, ends))
    tables = {
        key: {
            "time": table.time.tolist(),
            "events": table.events.tolist(),
            "censored": table.censored.tolist(),
            "entries": table.entries.tolist(),
        }
        for key, table in coarse.items()
    }
    return {"n": n, "tables": tables}, decisions


@dataclass(frozen=True)
class PooledTable:
    """One group's counts by time, summed over stations, with the numbers at risk.

    ``at_risk[k]`` is n(time[k]) = #{entry < time[k] <= exit}.
    """

    time: FloatArray
    events: IntArray
    censored: IntArray
    entries: IntArray
    at_risk: IntArray

    @property
    def n(self) -> int:
        """Rows (each leaves once)."""
        return int(self.events.sum() + self.censored.sum())


def pool_tables(tables: Iterable[Mapping[str, Any]], *, origin: bool = False) -> PooledTable:
    """Sum released tables of one group time by time and count the risk sets.

    With ``origin``, time 0 is added when every time is positive and some rows
    have no entry time (the origin row of a survival curve, as lifelines has it).
    """
    parts = [
        (
            np.asarray(t["time"], dtype=np.float64),
            np.asarray(t["events"], dtype=np.int64),
            np.asarray(t["censored"], dtype=np.int64),
            np.asarray(t["entries"], dtype=np.int64),
        )
        for t in tables
    ]
    time = np.unique(np.concatenate([p[0] for p in parts]))
    events = np.zeros(time.size, dtype=np.int64)
    censored = np.zeros(time.size, dtype=np.int64)
    entries = np.zeros(time.size, dtype=np.int64)
    for t, d, c, e in parts:
        at = np.searchsorted(time, t)
        np.add.at(events, at, d)
        np.add.at(censored, at, c)
        np.add.at(entries, at, e)
    # Rows without an entry time are at risk from minus infinity.
    without_entry = int(events.sum() + censored.sum() - entries.sum())
    if origin and without_entry > 0 and time.size > 0 and time[0] > 0:
        time = np.concatenate([[0.0], time])
        events, censored, entries = (np.concatenate([[0], a]) for a in (events, censored, entries))
    # n(t_k) = N0 + sum_{i<k} entries_i - sum_{i<k} exits_i: exclusive cumulative sums.
    before = np.concatenate([[0], np.cumsum(entries - events - censored)[:-1]])
    at_risk = (without_entry + before).astype(np.int64)
    return PooledTable(time, events, censored, entries, at_risk)


def on_common_times(tables: Mapping[str, PooledTable]) -> tuple[FloatArray, IntArray, IntArray]:
    """Align several groups' tables on the union of their times.

    Returns the times and the (groups x times) matrices of numbers at risk and events.
    A group's number at risk at a time it has no row at is its n at its next own
    time (nothing happens to it in between), or 0 after its last one.
    """
    time = np.unique(np.concatenate([t.time for t in tables.values()]))
    at_risk = np.zeros((len(tables), time.size), dtype=np.int64)
    events = np.zeros((len(tables), time.size), dtype=np.int64)
    for j, table in enumerate(tables.values()):
        nxt = np.searchsorted(table.time, time, side="left")
        inside = nxt < table.time.size
        at_risk[j, inside] = table.at_risk[nxt[inside]]
        exact = inside & (table.time[np.minimum(nxt, table.time.size - 1)] == time)
        events[j, exact] = table.events[nxt[exact]]
    return time, at_risk, events


def split_key(key: str, parts: int) -> tuple[str, str]:
    """Split a joint key 'stratum levels|group level' into (stratum key, group key)."""
    pieces = key.split("|")
    if len(pieces) != parts:
        raise InputError(
            f"a level of the grouping or strata columns contains '|' ({key!r}); "
            "recode the levels without '|'."
        )
    return "|".join(pieces[:-1]) or ALL, pieces[-1]


def level_order(key: str) -> tuple[int, float, str]:
    """Sort keys numerically where they are numbers, then as text."""
    try:
        return (0, float(key), key)
    except ValueError:
        return (1, 0.0, key)
