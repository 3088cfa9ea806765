"""Kaplan-Meier curves with interval bands and a number-at-risk table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.transforms import blended_transform_factory

from perron.plots.figure import Figure, plt, save
from perron.plots.shapes import SurvivalCurves


def km_plot(result: SurvivalCurves, path: str | Path | None = None, ax: Axes | None = None) -> Axes:
    """Draw Kaplan-Meier curves with their interval bands and a number-at-risk table.

    The curves are right-continuous steps over the released times; the numbers at
    risk are n(t) at the x-axis ticks. Draws into ``ax`` or a new figure, saves a
    PNG at ``path`` when given, and returns the axes.
    """
    own = ax is None
    if ax is None:
        figure, ax = plt.subplots(figsize=(7, 4.4 + 0.22 * len(result.tables)))
    else:
        parent = ax.get_figure(root=True)
        if not isinstance(parent, Figure):
            raise TypeError("ax must belong to a matplotlib Figure.")
        figure = parent
    for i, (key, table) in enumerate(result.tables.items()):
        time = table.index.to_numpy(dtype=np.float64)
        color = f"C{i}"
        ax.step(time, table["survival"], where="post", color=color, label=key)
        ax.fill_between(
            time, table["lower"], table["upper"], step="post", color=color, alpha=0.2, linewidth=0
        )
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(left=min(0.0, float(min(t.index.min() for t in result.tables.values()))))
    ax.set_xlabel(result.duration)
    ax.set_ylabel("survival probability")
    if len(result.tables) > 1:
        ax.legend(title=", ".join(result.by), frameon=False)
    low, high = ax.get_xlim()
    ticks = [float(t) for t in ax.get_xticks() if low <= t <= high]
    ax.set_xticks(ticks)
    at_risk = result.survival_at(ticks)["at_risk"]
    below = blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(-0.06, -0.2, "Number at risk", transform=ax.transAxes, ha="right", fontsize=8)
    for i, key in enumerate(result.tables):
        y = -0.27 - 0.07 * i
        ax.text(-0.06, y, key, transform=ax.transAxes, ha="right", fontsize=8, color=f"C{i}")
        for tick, count in zip(ticks, at_risk.loc[key].to_numpy(), strict=True):
            ax.text(
                tick, y, str(int(count)), transform=below, ha="center", fontsize=8, color=f"C{i}"
            )
    ax.set_title(
        f"Kaplan-Meier over {len(result.nobs_per_station)} stations, n={result.nobs} "
        f"({1 - result.alpha:.0%} {result.conf_type} intervals)",
        fontsize=10,
    )
    if own:
        figure.tight_layout()
    if path is not None:
        save(figure, path, close=own, tight=True)
    return ax
