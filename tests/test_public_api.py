"""The public API is what ``perron.__all__`` says, sorted and pinned."""

from __future__ import annotations

import perron

PUBLIC = [
    "AlgorithmNotAllowed",
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
    "ModelError",
    "NoCompleteRows",
    "NonNumericColumn",
    "PerfectSeparation",
    "PerronError",
    "PolicyViolation",
    "QuantileResult",
    "Session",
    "SingularDesign",
    "SummaryResult",
    "TransportError",
    "UnknownColumn",
    "simulate",
]


def test_all_is_pinned_and_sorted():
    assert perron.__all__ == PUBLIC
    assert sorted(PUBLIC) == PUBLIC
    for name in PUBLIC:
        assert hasattr(perron, name)
