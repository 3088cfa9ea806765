"""Figures of published results, drawn as SVG: Kaplan-Meier curves, forest plots and
aberration detection over weeks (surveillance signals).

They draw the figure shapes a published result carries (``Session.publish``;
docs/ui.md lists them) with matplotlib's Agg backend, as :mod:`perron.plots` does
for result objects in Python.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


class FigureShapeError(ValueError):
    """A published figure is not one of the shapes the pages draw."""


def _numbers(values: Sequence[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _km(shape: Mapping[str, Any]) -> Any:
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for curve in shape["curves"]:
        time = _numbers(curve["time"])
        line = axes.step(time, _numbers(curve["survival"]), where="post", label=curve["label"])
        if curve.get("lower") and curve.get("upper"):
            axes.fill_between(
                time,
                _numbers(curve["lower"]),
                _numbers(curve["upper"]),
                step="post",
                alpha=0.2,
                color=line[0].get_color(),
            )
    axes.set_xlabel(str(shape.get("duration", "time")))
    axes.set_ylabel("Survival probability")
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    if len(shape["curves"]) > 1:
        axes.legend(frameon=False)
    return figure


def _forest(shape: Mapping[str, Any]) -> Any:
    terms = shape["terms"]
    rows = list(range(len(terms)))[::-1]
    estimates = _numbers([t["estimate"] for t in terms])
    lower = _numbers([t["lower"] for t in terms])
    upper = _numbers([t["upper"] for t in terms])
    figure, axes = plt.subplots(figsize=(7, 0.5 + 0.45 * max(len(terms), 1)))
    axes.errorbar(
        estimates,
        rows,
        xerr=[
            [e - lo for e, lo in zip(estimates, lower, strict=True)],
            [hi - e for e, hi in zip(estimates, upper, strict=True)],
        ],
        fmt="s",
        capsize=3,
    )
    axes.axvline(float(shape.get("reference", 1.0)), color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(rows, [str(t["name"]) for t in terms])
    if shape.get("scale") == "log":
        axes.set_xscale("log")
    axes.set_xlabel(str(shape.get("label", "Estimate")))
    axes.grid(axis="x", alpha=0.3)
    return figure


#: At most this many week labels under a detection plot (every n-th week otherwise).
_WEEK_LABELS = 13


def _detection(shape: Mapping[str, Any]) -> Any:
    """Observed counts as bars, the expected count as a line, the upper bound dashed,
    and the weeks that alarmed marked above their bars."""
    weeks = [str(week) for week in shape["weeks"]]
    observed = _numbers(shape["observed"])
    expected = _numbers(shape["expected"])
    upper = _numbers(shape["upperbound"])
    alarms = [bool(a) for a in shape["alarm"]]
    if not len(weeks) == len(observed) == len(expected) == len(upper) == len(alarms):
        raise ValueError("weeks, observed, expected, upperbound and alarm differ in length")
    x = list(range(len(weeks)))
    figure, axes = plt.subplots(figsize=(8, 4.2))
    # An unknown count has no bar (matplotlib draws a NaN bar as nothing, so leave it out).
    known = [i for i in x if math.isfinite(observed[i])]
    axes.bar(
        known,
        [observed[i] for i in known],
        color=["#c0392b" if alarms[i] else "#9fb3c8" for i in known],
        width=0.8,
        label="observed",
    )
    axes.plot(x, expected, color="#1f4e79", linewidth=1.6, label="expected")
    axes.plot(x, upper, color="#1f4e79", linestyle="--", linewidth=1.2, label="upper bound")
    alarmed = [i for i in x if alarms[i]]
    if alarmed:
        tops = [
            max((v for v in (observed[i], upper[i]) if math.isfinite(v)), default=0.0)
            for i in alarmed
        ]
        axes.scatter(
            alarmed, [t * 1.05 + 0.2 for t in tops], marker="v", color="#c0392b", label="alarm"
        )
    step = max(1, math.ceil(len(weeks) / _WEEK_LABELS))
    axes.set_xticks(x[::step], weeks[::step], rotation=45, ha="right")
    axes.set_xlim(-0.6, max(len(weeks) - 0.4, 0.6))
    axes.set_ylim(bottom=0)
    axes.set_xlabel("ISO week")
    axes.set_ylabel("Cases per week")
    axes.set_title(str(shape.get("method", "")), fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(frameon=False, fontsize=8)
    return figure


_DRAW = {"km": _km, "forest": _forest, "detection": _detection}


def draw(shape: Mapping[str, Any]) -> bytes:
    """The figure as an SVG document.

    Raises
    ------
    FigureShapeError
        ``shape`` is not a ``km``, ``forest`` or ``detection`` figure, or misses what it
        needs.
    """
    kind = shape.get("type")
    if kind not in _DRAW:
        raise FigureShapeError(
            f"a figure of type {kind!r} cannot be drawn; known: km, forest, detection."
        )
    # Text stays text in the SVG (searchable, read by screen readers), not glyph paths.
    with plt.rc_context({"svg.fonttype": "none"}):
        try:
            figure = _DRAW[kind](shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise FigureShapeError(f"the {kind} figure is incomplete: {exc}") from exc
        try:
            figure.tight_layout()
            out = io.BytesIO()
            figure.savefig(out, format="svg")
            return out.getvalue()
        finally:
            plt.close(figure)
