"""Prediction models: publish, validate and update them on data that stays put.

See ``docs/prediction.md``; the federated algorithms are
:mod:`perron.algorithms.validation` and :mod:`perron.algorithms.recalibration`.
"""

from perron.algorithms.published_model import ModelTerm, PublishedModel
from perron.algorithms.recalibration import RecalibrationResult
from perron.algorithms.validation_result import ValidationResult

__all__ = ["ModelTerm", "PublishedModel", "RecalibrationResult", "ValidationResult"]
