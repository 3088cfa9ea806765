"""Shared fixtures: real public datasets that ship inside PyPI wheels, and splits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

Splitter = Callable[[pd.DataFrame, Sequence[float]], dict[str, pd.DataFrame]]


def split_frame(frame: pd.DataFrame, shares: Sequence[float]) -> dict[str, pd.DataFrame]:
    """Shuffle rows (fixed seed) and split them into stations s0, s1, ... by ``shares``.

    The shuffle matters: some files are sorted by outcome (LBW is), and a station
    holding only one outcome level is rightly blocked by the level rule.
    """
    cuts = np.round(np.cumsum(shares)[:-1] * len(frame)).astype(int)
    order = np.random.default_rng(20261123).permutation(len(frame))
    parts = np.split(order, cuts)
    return {f"s{i}": frame.iloc[idx].reset_index(drop=True) for i, idx in enumerate(parts)}


@pytest.fixture
def split() -> Splitter:
    return split_frame


@pytest.fixture(scope="session")
def lbw() -> pd.DataFrame:
    """Hosmer & Lemeshow low birth weight data (189 rows), from the statsmodels wheel."""
    import statsmodels

    path = Path(statsmodels.__file__).parent / "genmod/tests/results/stata_lbw_glm.csv"
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def randhie() -> pd.DataFrame:
    """RAND health insurance experiment (20,190 rows), Poisson outcome ``mdvis``."""
    from statsmodels.datasets import randhie

    return pd.DataFrame(randhie.load_pandas().data.astype(float))


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    """scikit-learn's diabetes data (442 rows), continuous outcome ``target``."""
    from sklearn.datasets import load_diabetes

    frame: pd.DataFrame = load_diabetes(as_frame=True).frame
    return frame


@pytest.fixture(scope="session")
def whas500() -> pd.DataFrame:
    """Worcester Heart Attack Study (500 rows) with death (``fstat``) as binary outcome."""
    from sksurv.datasets import load_whas500

    x, y = load_whas500()
    frame = x.apply(lambda c: c.astype(float) if c.dtype.name == "category" else c)
    frame["fstat"] = y["fstat"].astype(int)
    frame["lenfol"] = y["lenfol"]
    return pd.DataFrame(frame.reset_index(drop=True))
