"""Plots of federated results (matplotlib, written to files; no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter
from matplotlib.transforms import blended_transform_factory

from perron.algorithms.prediction.validation_result import ValidationResult
from perron.algorithms.regression.glm_result import GLMResult
from perron.algorithms.survival.km_result import KaplanMeierResult
from perron.protocol.errors import InputError


def forest_plot(
    estimates: pd.Series,
    lower: pd.Series,
    upper: pd.Series,
    path: str | Path,
    *,
    exponentiate: bool = False,
    xlabel: str = "estimate (95% CI)",
    title: str = "",
) -> Path:
    """Draw estimates with their confidence limits, one row per term, and save a PNG.

    With ``exponentiate`` all three are exponentiated and drawn on a log axis
    (odds, rate or hazard ratios).
    """
    names = list(estimates.index)
    est, low, high = (np.asarray(v, dtype=np.float64) for v in (estimates, lower, upper))
    reference = 0.0
    if exponentiate:
        est, low, high = np.exp(est), np.exp(low), np.exp(high)
        reference = 1.0
    positions = np.arange(len(names))[::-1]
    figure, axis = plt.subplots(figsize=(7, 1.2 + 0.45 * len(names)))
    axis.errorbar(est, positions, xerr=[est - low, high - est], fmt="o", color="#1f4e79", capsize=3)
    axis.axvline(reference, color="grey", linestyle="--", linewidth=1)
    axis.set_yticks(positions, names)
    axis.set_xlabel(xlabel)
    if exponentiate:
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(ScalarFormatter())
        axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_title(title)
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def glm_forest_plot(result: GLMResult, path: str | Path, *, exponentiate: bool = False) -> Path:
    """Forest plot of a GLM's coefficients (without the intercept)."""
    table = result.summary().drop(index="Intercept", errors="ignore")
    ratio = {"binomial": "odds ratio", "poisson": "rate ratio"}.get(result.family, "ratio")
    label = f"{ratio} (95% CI)" if exponentiate else "estimate (95% CI)"
    return forest_plot(
        table["coef"],
        table.iloc[:, 4],
        table.iloc[:, 5],
        path,
        exponentiate=exponentiate,
        xlabel=f"{result.family} GLM: {label}",
        title=f"Federated GLM over {len(result.nobs_per_station)} stations, n={result.nobs}",
    )


def km_plot(
    result: KaplanMeierResult, path: str | Path | None = None, ax: Axes | None = None
) -> Axes:
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
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=120, bbox_inches="tight")
        if own:
            plt.close(figure)
    return ax


def calibration_plot(result: ValidationResult, path: str | Path) -> Path:
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
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return out
