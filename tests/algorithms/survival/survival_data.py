"""Real survival datasets from PyPI wheels, shaped for the survival tests, and random splits.

Loaders return fresh copies, so a test may change its frame. Categorical columns
are plain strings (scikit-survival gives pandas categories).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from tests import support


@cache
def _lung() -> pd.DataFrame:
    from lifelines.datasets import load_lung

    return pd.DataFrame(load_lung())


def lung() -> pd.DataFrame:
    """R's ``survival::lung`` as lifelines ships it: 228 rows, ``status`` recoded to 0/1
    (R has 1/2), 165 events; ``inst`` holds 18 institutions (one row unknown)."""
    return _lung().copy()


#: Institutions grouped into four stations (the unknown institution joins the last).
LUNG_SITES = {
    "inst_1": [1.0],
    "inst_2_7": [2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    "inst_11_13": [11.0, 12.0, 13.0],
    "inst_other": [10.0, 15.0, 16.0, 21.0, 22.0, 26.0, 32.0, 33.0, np.nan],
}


def lung_by_institution() -> dict[str, pd.DataFrame]:
    """Lung split by real sites: each station holds whole institutions."""
    data = lung()
    out = {}
    for name, institutions in LUNG_SITES.items():
        known = [i for i in institutions if not np.isnan(i)]
        rows = data["inst"].isin(known)
        if any(np.isnan(i) for i in institutions):
            rows |= data["inst"].isna()
        out[name] = data[rows].reset_index(drop=True)
    return out


@cache
def _veterans() -> pd.DataFrame:
    from sksurv.datasets import load_veterans_lung_cancer

    x, y = load_veterans_lung_cancer()
    frame = x.apply(lambda c: c.astype(str) if c.dtype.name == "category" else c)
    frame["time"] = y["Survival_in_days"]
    frame["status"] = y["Status"].astype(int)
    return pd.DataFrame(frame)


def veterans() -> pd.DataFrame:
    """R's ``survival::veteran`` (137 rows); ``Celltype``, ``Treatment`` are strings."""
    return _veterans().copy()


@cache
def _gbsg2() -> pd.DataFrame:
    from sksurv.datasets import load_gbsg2

    x, y = load_gbsg2()
    frame = x.apply(lambda c: c.astype(str) if c.dtype.name == "category" else c)
    frame["time"] = y["time"]
    frame["cens"] = y["cens"].astype(int)
    return pd.DataFrame(frame)


def gbsg2() -> pd.DataFrame:
    """German Breast Cancer Study Group 2 (686 rows); ``cens`` 1 = recurrence/death."""
    return _gbsg2().copy()


@cache
def _aids() -> pd.DataFrame:
    from lifelines.datasets import load_multicenter_aids_cohort_study

    return pd.DataFrame(load_multicenter_aids_cohort_study()).reset_index(drop=True)


def aids() -> pd.DataFrame:
    """Multicenter AIDS Cohort Study (78 rows): time ``T`` from infection, event ``D``,
    and ``W`` the time at which the subject entered the study (left truncation)."""
    return _aids().copy()


#: Smallest station of a random split (rows).
MIN_STATION_ROWS = 40


def random_split(n: int) -> st.SearchStrategy[tuple[int, list[int]]]:
    """2 to 6 stations of random (uneven) sizes, at least MIN_STATION_ROWS each."""
    return support.random_split(n, MIN_STATION_ROWS)


stations = support.stations
