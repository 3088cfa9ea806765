"""Assertions shared by the reference tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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


@st.composite
def random_split(draw: st.DrawFn, n: int, min_rows: int = 20) -> tuple[int, list[int]]:
    """2 to 6 stations of random (uneven) sizes, at least ``min_rows`` rows each."""
    k = draw(st.integers(min_value=2, max_value=6))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    sizes = min_rows + np.floor(rng.dirichlet(np.ones(k)) * (n - min_rows * k))
    return seed, np.cumsum(sizes[:-1]).astype(int).tolist()


def stations(frame: pd.DataFrame, seed: int, cuts: list[int]) -> dict[str, pd.DataFrame]:
    """Shuffle ``frame`` with ``seed`` and cut it into stations s0, s1, ..."""
    order = np.random.default_rng(seed).permutation(len(frame))
    return {f"s{i}": frame.iloc[idx] for i, idx in enumerate(np.split(order, cuts))}


def reference_settings(max_examples: int) -> Any:
    """Hypothesis settings of the reference property tests: fixed examples (no
    flaky runs), no deadline (fits take their time), module fixtures allowed."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
