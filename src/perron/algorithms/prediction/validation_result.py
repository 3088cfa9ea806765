"""The result of an external validation: discrimination, calibration, Brier score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from perron.algorithms.core.base import FederatedResult
from perron.algorithms.regression.glm_result import GLMResult


@dataclass(frozen=True, kw_only=True)
class ValidationResult(FederatedResult):
    """How well a published model performs on the stations' data.

    Exact pooled quantities: ``observed``, ``expected``, ``oe_ratio``, ``brier``,
    ``citl`` (calibration-in-the-large) and ``slope`` (calibration slope), and the
    per-station rows of ``per_station``. ``concordance`` (AUC of a logistic model,
    Harrell's C of a Cox model) counts pairs within a station exactly and pairs
    across stations from the released score histograms; ``concordance_within`` uses
    the within-station pairs only, and ``concordance_max_error`` bounds how far the
    histogram part can move the AUC (``None`` for Cox, where time intervals add an
    approximation: see ``docs/prediction.md`` for the measured deviation).
    """

    kind: str
    model: str
    nobs: int
    observed: float
    expected: float | None
    brier: float | None
    concordance: float
    concordance_within: float
    concordance_max_error: float | None
    #: Per station: n, observed, expected, O/E, Brier and concordance (exact).
    per_station: pd.DataFrame
    #: Pooled calibration table: bins of predicted risk (stations' merged bins).
    calibration: pd.DataFrame | None = None
    calibration_per_station: Mapping[str, pd.DataFrame] | None = None
    citl: float | None = None
    slope: float | None = None
    citl_fit: GLMResult | None = None
    slope_fit: FederatedResult | None = None

    @property
    def oe_ratio(self) -> float | None:
        return None if not self.expected else self.observed / self.expected

    @property
    def auc(self) -> float:
        """The c-statistic (AUC for a logistic model, Harrell's C for Cox)."""
        return self.concordance

    def summary(self) -> pd.Series:
        """The pooled metrics as one labelled column."""
        label = "AUC" if self.kind == "logistic" else "Harrell's C"
        values: dict[str, float | None] = {
            "n": float(self.nobs),
            "observed": self.observed,
            "expected": self.expected,
            "O/E": self.oe_ratio,
            "calibration-in-the-large": self.citl,
            "calibration slope": self.slope,
            label: self.concordance,
            f"{label} within stations": self.concordance_within,
            f"{label} max binning error": self.concordance_max_error,
            "Brier": self.brier,
        }
        return pd.Series({k: v for k, v in values.items() if v is not None}, name=self.model)

    def plot(self, path: str | Path) -> Path:
        """Save the calibration plot (observed vs expected per risk bin) as a PNG."""
        from perron.plots.calibration import calibration_plot  # noqa: PLC0415

        return calibration_plot(self, path)

    def __str__(self) -> str:
        lines = [f"Validation of {self.model} over {len(self.per_station)} stations, n={self.nobs}"]
        lines.append(self.summary().to_string())
        lines.append(self.per_station.to_string())
        return "\n".join(lines)
