"""Datasets for the federated-learning tests: real data from wheels, split unevenly."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import split_frame
from tests.station.conftest import cohort, researcher, signers, station

__all__ = ["cohort", "researcher", "signers", "station"]  # governed-station fixtures

#: The LBW model: numeric, binary and categorical predictors (race: 3 levels).
LBW_FORMULA = "low ~ age + lwt + smoke + ui + ptl + C(race)"


@pytest.fixture(scope="session")
def lbw_stations(lbw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """LBW (189 rows) over three stations: 94, 57 and 38 rows."""
    return split_frame(lbw, [0.5, 0.3, 0.2])


@pytest.fixture(scope="session")
def cancer() -> pd.DataFrame:
    """scikit-learn's breast cancer data (569 rows, 30 features), outcome ``target``."""
    from sklearn.datasets import load_breast_cancer

    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return frame
