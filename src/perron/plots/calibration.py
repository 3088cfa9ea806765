"""Calibration plots: observed against expected risk per bin of predicted risk."""

from __future__ import annotations

from pathlib import Path

from perron.plots.figure import plt, save
from perron.plots.shapes import Calibration
from perron.protocol.errors import InputError


def calibration_plot(result: Calibration, path: str | Path) -> Path:
    """Observed against expected risk per bin of predicted risk, pooled and per station.

    Each point is a bin the stations released (adjacent bins merged until each
    holds ``min_cell`` rows), drawn at its mean predicted and observed risk with a
    size proportional to its rows; the diagonal is perfect calibration.
    """
    if result.calibration is None:
        raise InputError(
            "this validation has no calibration table (a Cox model without a baseline "
            "survival); give baseline_survival and horizon to the model."
        )
    figure, ax = plt.subplots(figsize=(5.2, 5.0))
    for i, (station, table) in enumerate((result.calibration_per_station or {}).items()):
        ax.scatter(
            table["expected_risk"],
            table["observed_risk"],
            s=8 + 60 * table["n"] / table["n"].max(),
            color=f"C{i + 1}",
            alpha=0.45,
            label=station,
        )
    pooled = result.calibration
    ax.plot(
        pooled["expected_risk"], pooled["observed_risk"], "o-", color="C0", label="pooled", zorder=3
    )
    top = float(max(pooled["expected_risk"].max(), pooled["observed_risk"].max(), 0.05)) * 1.1
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted risk")
    ax.set_ylabel("observed risk")
    text = f"C = {result.concordance:.3f}"
    if result.citl is not None and result.slope is not None:
        text += f"\nCITL = {result.citl:.3f}\nslope = {result.slope:.3f}"
    ax.text(0.04, 0.96, text, transform=ax.transAxes, va="top", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_title(f"Calibration of {result.model}, n={result.nobs}", fontsize=10)
    figure.tight_layout()
    return save(figure, path, tight=True)
