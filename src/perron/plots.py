"""Plots of federated results (matplotlib, written to files; no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter

from perron.algorithms.glm_result import GLMResult


def forest_plot(result: GLMResult, path: str | Path, *, exponentiate: bool = False) -> Path:
    """Draw estimates with 95% confidence intervals (no intercept) and save a PNG.

    With ``exponentiate`` the axis shows odds/rate ratios.
    """
    table = result.summary().drop(index="Intercept", errors="ignore")
    estimates = table["coef"].to_numpy()
    lower, upper = table.iloc[:, 4].to_numpy(), table.iloc[:, 5].to_numpy()
    reference = 0.0
    if exponentiate:
        estimates, lower, upper = np.exp(estimates), np.exp(lower), np.exp(upper)
        reference = 1.0
    positions = np.arange(len(table))[::-1]
    figure, axis = plt.subplots(figsize=(7, 1.2 + 0.45 * len(table)))
    axis.errorbar(
        estimates,
        positions,
        xerr=[estimates - lower, upper - estimates],
        fmt="o",
        color="#1f4e79",
        capsize=3,
    )
    axis.axvline(reference, color="grey", linestyle="--", linewidth=1)
    axis.set_yticks(positions, list(table.index))
    ratio = {"binomial": "odds ratio", "poisson": "rate ratio"}.get(result.family, "ratio")
    label = f"{ratio} (95% CI)" if exponentiate else "estimate (95% CI)"
    axis.set_xlabel(f"{result.family} GLM: {label}")
    if exponentiate:
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(ScalarFormatter())
        axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_title(f"Federated GLM over {len(result.nobs_per_station)} stations, n={result.nobs}")
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
