"""The pooled weekly counts, and what is read from them: series, alarms, nowcasts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.algorithms.core.base import FederatedResult
from perron.algorithms.surveillance.case_counts import TOTAL, CountSpec
from perron.data.design import Level
from perron.protocol.errors import InputError
from perron.surveillance.series import Detection, WeeklySeries
from perron.surveillance.weeks import IsoWeek

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from perron.surveillance.nowcast import Nowcast, ReportingTriangle

FloatArray = npt.NDArray[np.float64]

#: The aberration-detection methods, by name (options go to the function).
METHODS: tuple[str, ...] = ("farrington_flexible", "ears_c1", "ears_c2", "ears_c3", "nb_cusum")


def detector(method: str) -> Callable[..., Detection]:
    """The function of a detection method (statsmodels is imported on first use)."""
    # Imported here: statsmodels takes a second to load, and counting needs none of it.
    from perron.surveillance.cusum import nb_cusum  # noqa: PLC0415
    from perron.surveillance.ears import ears_c  # noqa: PLC0415
    from perron.surveillance.farrington import farrington_flexible  # noqa: PLC0415

    if method == "farrington_flexible":
        return farrington_flexible
    if method == "nb_cusum":
        return nb_cusum
    if method in ("ears_c1", "ears_c2", "ears_c3"):
        variant = method[-2:].upper()
        return lambda series, **options: ears_c(series, method=variant, **options)
    raise InputError(f"unknown detection method {method!r}; use one of {list(METHODS)}.")


@dataclass(frozen=True, kw_only=True)
class WeeklyCountsResult(FederatedResult):
    """Pooled counts: ``counts[week, stratum, delay]`` (``NaN``: unknown).

    ``per_station`` holds each station's released table on the same layout (zeros
    where a station has no case in a stratum). With noisy counts, ``scales`` gives
    each station's Laplace scale and ``budget`` its privacy budget left.
    """

    spec: CountSpec
    strata: tuple[tuple[Level, ...], ...]
    counts: FloatArray
    per_station: Mapping[str, FloatArray]
    scales: Mapping[str, float] = field(default_factory=dict)
    budget: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def noisy(self) -> bool:
        return bool(self.scales)

    @property
    def weeks(self) -> list[IsoWeek]:
        return [self.spec.first + k for k in range(self.spec.weeks)]

    def _labels(self) -> list[str]:
        return [" / ".join(str(v) for v in s) or TOTAL for s in self.strata]

    def table(self) -> pd.DataFrame:
        """Cases per week (rows) and stratum (columns), summed over reporting delays."""
        totals = self.counts.sum(axis=2)  # NaN if any delay cell is unknown
        return pd.DataFrame(
            totals,
            index=pd.Index([str(w) for w in self.weeks], name="week"),
            columns=pd.Index(self._labels(), name=" / ".join(self.spec.by) or TOTAL),
        )

    @property
    def suppressed(self) -> pd.DataFrame:
        """The station cells that were suppressed: station, week, stratum (and delay)."""
        rows: list[dict[str, Any]] = []
        for station, table in self.per_station.items():
            for w, s, d in zip(*np.nonzero(np.isnan(table)), strict=True):
                row: dict[str, Any] = {"station": station, "week": str(self.weeks[w])}
                row.update(zip(self.spec.by, self.strata[s], strict=True))
                if self.spec.report_date is not None:
                    row["delay"] = int(d)
                rows.append(row)
        columns = ["station", "week", *self.spec.by]
        columns += ["delay"] if self.spec.report_date is not None else []
        return pd.DataFrame(rows, columns=columns)

    def _select(self, stratum: Mapping[str, Level] | None) -> FloatArray:
        """The counts of the strata that match ``stratum`` (all when ``None``)."""
        chosen = dict(stratum or {})
        unknown = [c for c in chosen if c not in self.spec.by]
        if unknown:
            raise InputError(f"{unknown} are not strata of these counts; by={list(self.spec.by)}.")
        keep = [
            k
            for k, s in enumerate(self.strata)
            if all(str(s[self.spec.by.index(c)]) == str(v) for c, v in chosen.items())
        ]
        if not keep:
            raise InputError(f"no stratum matches {chosen}; the strata are {self._labels()}.")
        return self.counts[:, keep, :]

    def series(self, stratum: Mapping[str, Level] | None = None) -> WeeklySeries:
        """The weekly series of one stratum, or of all cases (``NaN`` where unknown).

        Noisy counts are clipped at zero (post-processing: it spends no privacy).
        """
        totals = self._select(stratum).sum(axis=(1, 2))
        if self.noisy:
            totals = np.clip(np.round(totals), 0.0, None)
        return WeeklySeries(self.spec.first, totals)

    def detect(
        self,
        method: str = "farrington_flexible",
        *,
        stratum: Mapping[str, Level] | None = None,
        **options: Any,
    ) -> Detection:
        """Aberration detection on the pooled series (see :mod:`perron.surveillance`).

        ``method`` is one of ``farrington_flexible``, ``ears_c1``, ``ears_c2``,
        ``ears_c3``, ``nb_cusum``; ``options`` go to that method.
        """
        return detector(method)(self.series(stratum), **options)

    def triangle(self, stratum: Mapping[str, Level] | None = None) -> ReportingTriangle:
        """The reporting triangle (onset week x delay) as of the last week.

        A suppressed cell is unknown; noisy cells are rounded and clipped at zero.
        """
        if self.spec.report_date is None:
            raise InputError(
                "these counts have no reporting delays; count with report_date= and "
                "max_delay= to nowcast."
            )
        from perron.surveillance.nowcast import ReportingTriangle  # noqa: PLC0415

        counts = self._select(stratum).sum(axis=1)
        if self.noisy:  # post-processing: it spends no privacy
            counts = np.clip(np.round(counts), 0.0, None)
        last = self.spec.last
        cells = {
            (week, d): float(counts[w, d])
            for w, week in enumerate(self.weeks)
            for d in range(self.spec.delays)
            if week + d <= last
        }
        return ReportingTriangle.from_cells(
            cells, now=last, max_delay=self.spec.max_delay, start=self.spec.first
        )

    def nowcast(self, *, stratum: Mapping[str, Level] | None = None, **options: Any) -> Nowcast:
        """The recent weeks' cases once all reports are in (:mod:`perron.surveillance.nowcast`)."""
        from perron.surveillance.nowcast import nowcast  # noqa: PLC0415

        return nowcast(self.triangle(stratum), **options)

    def plot(
        self,
        detection: Detection | None = None,
        *,
        stratum: Mapping[str, Level] | None = None,
        path: str | Path | None = None,
        ax: Axes | None = None,
    ) -> Axes:
        """Observed counts per week; with ``detection``, expected, threshold and alarms.

        Saves a PNG at ``path`` when given.
        """
        from perron.plots.surveillance import detection_plot  # noqa: PLC0415 - matplotlib

        return detection_plot(self.series(stratum), detection, path=path, ax=ax)

    def __str__(self) -> str:
        table = self.table()
        return f"weekly counts {self.spec.first} to {self.spec.last}\n{table.to_string()}"
