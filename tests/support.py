"""Assertions shared by the reference tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from perron import GLMResult

#: The maths is exact; only floating-point summation order differs.
RTOL = 1e-8
ATOL = 1e-10


def assert_close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def assert_matches_statsmodels(result: GLMResult, expected: Any) -> None:
    """Params, bse, llf, deviance and AIC equal the pooled statsmodels fit."""
    names = list(expected.params.index)
    assert sorted(result.params.index) == sorted(names)
    assert_close(result.params[names], expected.params)
    assert_close(result.bse[names], expected.bse)
    assert_close(result.cov_params().loc[names, names], expected.cov_params())
    assert_close(result.llf, expected.llf)
    assert_close(result.deviance, expected.deviance)
    assert_close(result.aic, expected.aic)
    assert result.nobs == int(expected.nobs)
    assert result.df_resid == int(expected.df_resid)
