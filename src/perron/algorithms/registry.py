"""The algorithms Perron ships; a station installs and allow-lists from these."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from perron.algorithms.base import FederatedAlgorithm
from perron.algorithms.boosting import GradientBoosting
from perron.algorithms.coxph import CoxPH
from perron.algorithms.crosstab import Crosstab
from perron.algorithms.dp_release import DPRelease
from perron.algorithms.feasibility import Feasibility
from perron.algorithms.glm import GLM
from perron.algorithms.histogram import Histogram
from perron.algorithms.kaplan_meier import KaplanMeier
from perron.algorithms.linked_crosstab import LinkedCrosstab
from perron.algorithms.logrank import Logrank
from perron.algorithms.overlap import Overlap
from perron.algorithms.quality import Quality
from perron.algorithms.quantile import Quantile
from perron.algorithms.recalibration import Recalibrate
from perron.algorithms.summary import Summary
from perron.algorithms.training import FederatedTraining
from perron.algorithms.validation import Validate

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
        )
    }
)
