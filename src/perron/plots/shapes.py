"""What each plot reads from a result: the plots take results through these protocols.

The plots sit below the analyses: a result's ``.plot()`` calls down into
:mod:`perron.plots`, and nothing here imports an algorithm or its result class. Any
object with these attributes can be drawn (the result classes of
:mod:`perron.algorithms` are the ones Perron makes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd


class Coefficients(Protocol):
    """A fitted GLM (:class:`~perron.algorithms.regression.glm_result.GLMResult`)."""

    @property
    def family(self) -> str: ...
    @property
    def nobs(self) -> int: ...
    @property
    def nobs_per_station(self) -> Mapping[str, int]: ...
    def summary(self, alpha: float = 0.05) -> pd.DataFrame: ...


class SurvivalCurves(Protocol):
    """Kaplan-Meier curves (:class:`~perron.algorithms.survival.km_result.KaplanMeierResult`)."""

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]: ...
    @property
    def by(self) -> tuple[str, ...]: ...
    @property
    def duration(self) -> str: ...
    @property
    def alpha(self) -> float: ...
    @property
    def conf_type(self) -> str: ...
    @property
    def nobs(self) -> int: ...
    @property
    def nobs_per_station(self) -> Mapping[str, int]: ...
    def survival_at(self, times: Sequence[float] | float | None = None) -> pd.DataFrame: ...


class Calibration(Protocol):
    """A validation (:class:`~perron.algorithms.prediction.validation_result.ValidationResult`)."""

    @property
    def model(self) -> str: ...
    @property
    def nobs(self) -> int: ...
    @property
    def concordance(self) -> float: ...
    @property
    def citl(self) -> float | None: ...
    @property
    def slope(self) -> float | None: ...
    @property
    def calibration(self) -> pd.DataFrame | None: ...
    @property
    def calibration_per_station(self) -> Mapping[str, pd.DataFrame] | None: ...


class Weekly(Protocol):
    """A weekly count series (:class:`~perron.surveillance.series.WeeklySeries`)."""

    @property
    def counts(self) -> npt.NDArray[np.float64]: ...
    @property
    def mondays(self) -> Sequence[date]: ...


class Alarms(Protocol):
    """An aberration-detection outcome (:class:`~perron.surveillance.series.Detection`)."""

    @property
    def method(self) -> str: ...
    @property
    def weeks(self) -> Sequence[object]: ...
    @property
    def observed(self) -> npt.NDArray[np.float64]: ...
    @property
    def expected(self) -> npt.NDArray[np.float64]: ...
    @property
    def upperbound(self) -> npt.NDArray[np.float64]: ...
    @property
    def alarm(self) -> npt.NDArray[np.bool_]: ...
    @property
    def alarm_weeks(self) -> Sequence[object]: ...
