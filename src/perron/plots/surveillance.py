"""Observed weekly counts against the expected count and the alarm threshold."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes

from perron.plots.figure import Figure, plt, save
from perron.plots.shapes import Alarms, Weekly


def detection_plot(
    series: Weekly,
    detection: Alarms | None = None,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Bars of the weekly counts; with ``detection``, its expected count, its
    threshold (``upperbound``) and a red marker on each week that alarmed.

    Unknown weeks (a suppressed cell) are drawn as a grey hatch. Draws into ``ax``
    or a new figure, saves a PNG at ``path`` when given, and returns the axes.
    """
    if ax is None:
        figure, ax = plt.subplots(figsize=(9, 4))
    else:
        parent = ax.get_figure(root=True)
        if not isinstance(parent, Figure):
            raise TypeError("ax must belong to a matplotlib Figure.")
        figure = parent
    mondays = np.asarray([date2num(d) for d in series.mondays], dtype=np.float64)
    counts = np.asarray(series.counts, dtype=np.float64)
    known = ~np.isnan(counts)
    width = 6.0  # days: a bar from Monday to Saturday
    ax.bar(
        mondays[known],
        counts[known],
        width=width,
        align="edge",
        color="#9db4cc",
        label="observed",
    )
    top = float(np.nanmax(counts)) if known.any() else 1.0
    unknown = [d for d, k in zip(mondays, known, strict=True) if not k]
    if unknown:
        ax.bar(
            unknown,
            [top] * len(unknown),
            width=width,
            align="edge",
            color="none",
            edgecolor="#bbbbbb",
            hatch="//",
            label="unknown (suppressed)",
        )
    if detection is not None:
        at = {str(w): i for i, w in enumerate(detection.weeks)}
        days = np.asarray(
            [date2num(_monday(w) + timedelta(days=3)) for w in detection.weeks], dtype=np.float64
        )
        ax.plot(days, detection.expected, color="#2b5d8a", label="expected")
        ax.plot(
            days, detection.upperbound, color="#c0392b", linestyle="--", label="alarm threshold"
        )
        alarms = [at[str(w)] for w in detection.alarm_weeks]
        if alarms:
            ax.scatter(
                [days[i] for i in alarms],
                detection.observed[alarms],
                color="#c0392b",
                marker="v",
                zorder=3,
                label="alarm",
            )
        title = title or f"{detection.method}: {len(alarms)} alarm(s)"
    ax.xaxis_date()
    ax.set_ylabel("cases per week")
    ax.set_title(title or "cases per ISO week", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    figure.autofmt_xdate()
    if path is not None:
        save(figure, path, close=False, tight=True)
    return ax


_EPOCH = date(1970, 1, 1)


def date2num(day: date) -> float:
    """Matplotlib's date number of a day (days since its epoch, 1970-01-01)."""
    return float((day - _EPOCH).days)


def _monday(week: object) -> date:
    monday = getattr(week, "monday", None)
    if monday is None:
        raise TypeError(f"{week!r} is not an ISO week")
    value = monday()
    if not isinstance(value, date):
        raise TypeError(f"{week!r}.monday() is not a date")
    return value
