"""The result of a federated Kaplan-Meier estimate: one curve per group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from perron.algorithms.core.base import FederatedResult
from perron.data.design import Level
from perron.data.survival import ALL, stratum_key

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclass(frozen=True, kw_only=True)
class KaplanMeierResult(FederatedResult):
    """Kaplan-Meier curves with Greenwood standard errors and pointwise intervals.

    ``tables`` maps each group key (the levels of the ``by`` columns joined by
    ``'|'``, or ``'all'``) to a DataFrame indexed by time with columns ``at_risk``
    (n(t): rows with entry < t <= exit), ``events``, ``censored``, ``entries``,
    ``survival``, ``std_err`` (of the survival), ``lower`` and ``upper``. Times are
    those the stations released: with coarsening, censorings sit at the block end
    before them. ``median`` holds per group the median survival time and its
    interval (``inf`` where the curve or a limit stays above 1/2).
    """

    duration: str
    event: str
    entry: str | None
    by: tuple[str, ...]
    conf_type: str
    alpha: float
    tables: Mapping[str, pd.DataFrame]
    median: pd.DataFrame
    times: tuple[float, ...] = ()

    @property
    def groups(self) -> list[str]:
        return list(self.tables)

    @property
    def nobs(self) -> int:
        return sum(self.nobs_per_station.values())

    def table(self, group: Level | Sequence[Level] | None = None) -> pd.DataFrame:
        """One group's curve; ``group`` is its key or level value(s) (None: the only one)."""
        return self.tables[self.group_key(group)]

    def survival_at(self, times: Sequence[float] | float | None = None) -> pd.DataFrame:
        """Survival, standard error, limits and number at risk at ``times``, per group.

        The curve is a right-continuous step function: at t it is the value at the
        last released time <= t (1 before the first). The number at risk at t is
        n(t), the rows with entry < t <= exit. Without ``times``, the times asked
        for in the call. Rows are indexed by (group, time).
        """
        wanted = self.times if times is None else np.atleast_1d(np.asarray(times, dtype=float))
        grid = np.asarray(wanted, dtype=np.float64)
        frames = []
        for key, table in self.tables.items():
            steps = table.index.to_numpy(dtype=np.float64)
            last = np.searchsorted(steps, grid, side="right") - 1
            seen = last >= 0
            at = np.maximum(last, 0)
            values: dict[str, Any] = {}
            for column, before in (("survival", 1.0), ("std_err", 0.0)):
                column_values = table[column].to_numpy()[at]
                values[column] = np.where(seen, column_values, before)
            for column in ("lower", "upper"):
                values[column] = np.where(seen, table[column].to_numpy()[at], 1.0)
            # n(t) is the number at risk at the first released time >= t: nobody
            # enters or leaves in between.
            nxt = np.searchsorted(steps, grid, side="left")
            inside = nxt < steps.size
            risk = table["at_risk"].to_numpy()
            values["at_risk"] = np.where(inside, risk[np.minimum(nxt, steps.size - 1)], 0)
            index = pd.MultiIndex.from_arrays([[key] * grid.size, grid], names=["group", "time"])
            frames.append(pd.DataFrame(values, index=index))
        return pd.concat(frames)

    def plot(self, path: str | Path | None = None, ax: Axes | None = None) -> Axes:
        """Draw the curves with their intervals and a number-at-risk table below.

        Draws into ``ax`` (a matplotlib Axes) or a new figure; saves a PNG at
        ``path`` when given. Returns the Axes.
        """
        from perron.plots.survival import km_plot  # noqa: PLC0415 - matplotlib only when plotting

        return km_plot(self, path=path, ax=ax)

    def __str__(self) -> str:
        lines = [
            f"Kaplan-Meier of {self.duration} ({self.event}) over "
            f"{len(self.nobs_per_station)} stations, n={self.nobs}"
            + (f", by {', '.join(self.by)}" if self.by else ""),
            f"{1 - self.alpha:.0%} intervals: {self.conf_type}",
        ]
        summary = self.median.copy()
        summary.insert(0, "events", [int(t["events"].sum()) for t in self.tables.values()])
        summary.insert(
            0, "n", [int(t["events"].sum() + t["censored"].sum()) for t in self.tables.values()]
        )
        lines.append(summary.to_string())
        return "\n".join(lines)

    def group_key(self, group: Level | Sequence[Level] | None) -> str:
        """The key of a group given by its key or level value(s) (None: the only group)."""
        if group is None:
            if len(self.tables) != 1:
                raise KeyError(f"name a group: one of {self.groups}.")
            return next(iter(self.tables))
        if isinstance(group, str) and group in self.tables:
            return group
        values = [group] if isinstance(group, str | int | float | bool) else list(group)
        key = stratum_key(values) if values else ALL
        if key not in self.tables:
            raise KeyError(f"no group {group!r}; groups: {self.groups}.")
        return key
