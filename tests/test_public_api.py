"""The public API is what ``perron.__all__`` says, sorted and pinned."""

from __future__ import annotations

import perron

PUBLIC = [
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


def test_all_is_pinned_and_sorted():
    assert perron.__all__ == PUBLIC
    assert sorted(PUBLIC) == PUBLIC
    for name in PUBLIC:
        assert hasattr(perron, name)
