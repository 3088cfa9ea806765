"""Perron: a privacy-preserving health data space. The analysis travels to the data."""

from perron.algorithms.regression.glm_result import GLMResult
from perron.algorithms.statistics.crosstab import CrosstabResult
from perron.algorithms.statistics.histogram import HistogramResult
from perron.algorithms.statistics.quantile import QuantileResult
from perron.algorithms.statistics.summary import SummaryResult
from perron.algorithms.survival.cox_result import CoxResult
from perron.algorithms.survival.km_result import KaplanMeierResult
from perron.algorithms.survival.logrank import LogrankResult
from perron.client.connect import connect
from perron.client.session import Session
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import (
    AlgorithmNotAllowed,
    AuthenticationFailed,
    ConvergenceFailed,
    DataSourceError,
    DisclosureBlocked,
    FormulaError,
    InputError,
    LooseningRejected,
    MissingDependency,
    ModelError,
    NoCompleteRows,
    NonNumericColumn,
    NotAuthorized,
    PerfectSeparation,
    PerronError,
    PolicyViolation,
    ReplayedTask,
    RoundTimeout,
    SecurityError,
    SingularDesign,
    TamperedMessage,
    TaskCancelled,
    TransportError,
    UnknownColumn,
)
from perron.sandbox.simulation import simulate

__all__ = [
    "AlgorithmNotAllowed",
    "AuthenticationFailed",
    "ConvergenceFailed",
    "CoxResult",
    "CrosstabResult",
    "DataSourceError",
    "DisclosureBlocked",
    "DisclosurePolicy",
    "FormulaError",
    "GLMResult",
    "HistogramResult",
    "InputError",
    "KaplanMeierResult",
    "LogrankResult",
    "LooseningRejected",
    "MissingDependency",
    "ModelError",
    "NoCompleteRows",
    "NonNumericColumn",
    "NotAuthorized",
    "PerfectSeparation",
    "PerronError",
    "PolicyViolation",
    "QuantileResult",
    "ReplayedTask",
    "RoundTimeout",
    "SecurityError",
    "Session",
    "SingularDesign",
    "SummaryResult",
    "TamperedMessage",
    "TaskCancelled",
    "TransportError",
    "UnknownColumn",
    "connect",
    "simulate",
]
