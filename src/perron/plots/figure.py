"""The one matplotlib set-up of the plots (no screen needed) and how a figure is saved."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["Figure", "plt", "save"]


def save(figure: Figure, path: str | Path, *, close: bool = True, tight: bool = False) -> Path:
    """Write ``figure`` as a PNG at ``path`` (creating its folder) and close it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120, bbox_inches="tight" if tight else None)
    if close:
        plt.close(figure)
    return out
