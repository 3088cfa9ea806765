"""The UpSet-style chart of a record overlap: records per holder, per pair and linked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from perron.plots.figure import Figure, plt


def overlap_plot(table: pd.DataFrame, holders: Sequence[str], path: str | Path | None) -> Figure:
    """Bars of ``table["records"]`` (rows: each holder, each pair ``"a & b"``, ``"all"``)
    over a dot matrix of which ``holders`` each bar joins; saved at ``path`` if given."""
    figure, (bars, dots) = plt.subplots(
        2,
        1,
        figsize=(1.2 * len(table) + 2, 4.5),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1.4]},
    )
    x = np.arange(len(table))
    bars.bar(x, table["records"].fillna(0), color="#4c72b0")
    bars.set_ylabel("records")
    names = list(holders)
    for i, label in enumerate(table.index):
        members = names if label == "all" else str(label).split(" & ")
        for j, name in enumerate(names):
            dots.scatter(i, j, color="black" if name in members else "#dddddd", s=60)
    dots.set_yticks(range(len(names)), names)
    dots.set_xticks([])
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
