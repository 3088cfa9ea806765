"""The demo study: lifelines' lung cancer data (R ``survival::lung``) at three stations.

The 18 real institutions of the data are grouped into three simulated hospitals,
so the stations differ in size and case mix, as real sites do.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from perron.protocol.errors import DataSourceError

#: Institution codes per simulated station.
STATIONS: Mapping[str, tuple[int, ...]] = {
    "hospital_north": (1, 2, 3, 4, 5, 6),
    "hospital_centre": (7, 10, 11, 12, 13, 15),
    "hospital_south": (16, 21, 22, 26, 32, 33),
}


def lung_stations() -> dict[str, pd.DataFrame]:
    """The lung data split over three stations by institution.

    ``status`` is recoded from lifelines' 1/0 ... it is already 0/1 there (R's is 1/2),
    and column names with dots get underscores so they work in formulas.
    """
    try:
        from lifelines.datasets import load_lung  # noqa: PLC0415 - optional extra
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataSourceError(
            "the demo data comes with lifelines; install it with `pip install perron[demo]`."
        ) from exc
    lung = load_lung().rename(columns=lambda c: c.replace(".", "_"))
    return {
        name: lung[lung["inst"].isin(codes)].drop(columns="inst").reset_index(drop=True)
        for name, codes in STATIONS.items()
    }
