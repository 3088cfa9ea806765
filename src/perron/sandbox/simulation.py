"""``perron.simulate``: stations and coordinator in one process, on local data.

The very station and coordinator code of a real deployment runs here; only the
transport is an in-memory grid. Each station keeps its own disclosure settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from perron.client.grid import InMemoryGrid
from perron.client.session import Session
from perron.data.frame import FrameSource, load_table
from perron.data.linkage import LinkKeys, split_link_column
from perron.data.source import DataSource
from perron.data.sql import SqlSource
from perron.data.sql_engine import is_url
from perron.data.sql_keys import SqlLinkKeys
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError
from perron.station.node import Station

Dataset = pd.DataFrame | str | Path | SqlSource


def simulate(
    datasets: Mapping[str, Dataset],
    *,
    disclosure: DisclosurePolicy | Mapping[str, DisclosurePolicy] | None = None,
    link_column: str | None = None,
    secure_aggregation: bool = False,
) -> Session:
    """Start a simulated study: one station per dataset, all in this process.

    Parameters
    ----------
    datasets
        Station name -> a pandas DataFrame, the path of a CSV / Parquet file (loaded
        with pandas) or of a DuckDB file with one table, or a
        :class:`~perron.data.sql.SqlSource` (DuckDB, a database, or files scanned by
        DuckDB; its aggregates run as SQL, see :mod:`perron.data.sql`).
    disclosure
        The holders' disclosure settings: one policy for every station, or one per
        station name (stations not named get the defaults).
    link_column
        The column of study pseudonyms that links a person's records across
        stations; it is hidden from every analysis and seen only by the linkage
        protocols (:meth:`Session.overlap`).
    secure_aggregation
        Run the analyses under secure aggregation (the coordinator sees only sums
        over the stations; at least three).

    Examples
    --------
    >>> import perron, pandas as pd
    >>> df = pd.DataFrame({"y": [0, 1] * 30, "x": range(60)})
    >>> session = perron.simulate({"a": df[:35], "b": df[35:]})
    >>> session.stations
    ['a', 'b']
    """
    if not datasets:
        raise InputError("simulate needs at least one dataset (station name -> data).")
    policies = _policies(datasets, disclosure)
    stations = {}
    for name, data in datasets.items():
        source, links = _station_data(name, data, link_column)
        stations[name] = Station(name, source, policies[name], linkage=links)
    grid = InMemoryGrid({name: station.handle for name, station in stations.items()})
    return Session(grid, secure_aggregation=secure_aggregation)


def _station_data(
    name: str, data: Dataset, link_column: str | None
) -> tuple[DataSource, LinkKeys | None]:
    """A station's data seam and link keys (the link column hidden from the seam)."""
    if isinstance(data, str | Path) and (
        is_url(data) or Path(data).suffix.lower() in (".duckdb", ".ddb")
    ):
        data = SqlSource.open(data)
    if isinstance(data, SqlSource):
        if link_column is None:
            return data, None
        links = SqlLinkKeys(data, link_column)
        return data.restricted(hidden=[link_column]), links
    frame, frame_links = split_link_column(_frame(name, data), link_column)
    return FrameSource(frame), frame_links


def _frame(name: str, data: Dataset) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, str | Path):
        return load_table(data)
    raise InputError(
        f"dataset of station {name!r} is a {type(data).__name__}; pass a pandas DataFrame, "
        "the path of a .csv, .parquet or .duckdb file, or a perron.data.sql.SqlSource."
    )


def _policies(
    datasets: Mapping[str, Dataset],
    disclosure: DisclosurePolicy | Mapping[str, DisclosurePolicy] | None,
) -> dict[str, DisclosurePolicy]:
    if disclosure is None or isinstance(disclosure, DisclosurePolicy):
        policy = disclosure or DisclosurePolicy()
        return dict.fromkeys(datasets, policy)
    unknown = set(disclosure) - set(datasets)
    if unknown:
        raise InputError(f"disclosure settings for unknown stations: {sorted(unknown)}.")
    return {name: disclosure.get(name, DisclosurePolicy()) for name in datasets}
