"""The algorithms Perron ships; a station installs and allow-lists from these."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from perron.algorithms.core.base import FederatedAlgorithm
from perron.algorithms.feasibility.counts import Feasibility
from perron.algorithms.feasibility.overlap import Overlap
from perron.algorithms.linkage.linked_crosstab import LinkedCrosstab
from perron.algorithms.prediction.boosting import GradientBoosting
from perron.algorithms.prediction.recalibration import Recalibrate
from perron.algorithms.prediction.training import FederatedTraining
from perron.algorithms.prediction.validation import Validate
from perron.algorithms.quality.reports import Quality
from perron.algorithms.regression.glm import GLM
from perron.algorithms.statistics.crosstab import Crosstab
from perron.algorithms.statistics.dp_release import DPRelease
from perron.algorithms.statistics.histogram import Histogram
from perron.algorithms.statistics.quantile import Quantile
from perron.algorithms.statistics.summary import Summary
from perron.algorithms.surveillance.weekly_counts import WeeklyCounts
from perron.algorithms.survival.coxph import CoxPH
from perron.algorithms.survival.kaplan_meier import KaplanMeier
from perron.algorithms.survival.logrank import Logrank

AlgorithmClass = type[FederatedAlgorithm[Any, Any]]

INSTALLED: Mapping[str, AlgorithmClass] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            Summary,
            Quantile,
            Crosstab,
            Histogram,
            GLM,
            CoxPH,
            KaplanMeier,
            Logrank,
            Overlap,
            LinkedCrosstab,
            DPRelease,
            Feasibility,
            Quality,
            FederatedTraining,
            Validate,
            Recalibrate,
            GradientBoosting,
            WeeklyCounts,
        )
    }
)
