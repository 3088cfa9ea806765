"""Forest plots: estimates with their confidence limits, one row per term."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from perron.plots.figure import plt, save
from perron.plots.shapes import Coefficients


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
    return save(figure, path)


def glm_forest_plot(result: Coefficients, path: str | Path, *, exponentiate: bool = False) -> Path:
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
