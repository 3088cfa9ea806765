"""A station's link keys: the pseudonyms that let records of one person be linked.

The link key column (a study pseudonym from :mod:`perron.linkage.pseudonym`) is
not a variable: no analysis can read it through the data seam. Only linkage
protocols get it, through :class:`LinkKeys`, and they release it only blinded
(private set intersection) or as counts. :meth:`LinkKeys.restricted` gives the data
seam over the linked rows alone, so an analysis can describe the linked cohort.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import pandas as pd

from perron.data.frame import FrameSource
from perron.data.source import DataSource
from perron.protocol.errors import InputError


class LinkKeys(Protocol):
    """What a linkage protocol may see of a station's data."""

    def keys(self) -> tuple[str, ...]:
        """The distinct link keys of the rows that have one."""
        ...

    def restricted(self, keys: Collection[str]) -> DataSource:
        """The data seam over the rows whose link key is in ``keys`` (keys hidden)."""
        ...


class FrameLinkKeys:
    """Link keys from a column of a DataFrame.

    Examples
    --------
    >>> frame = pd.DataFrame({"pid": ["a", "b", None, "b"], "age": [50, 60, 70, 61]})
    >>> links = FrameLinkKeys(frame, "pid")
    >>> links.keys()
    ('a', 'b')
    >>> links.restricted({"b"}).complete_count(["age"])
    2
    """

    def __init__(self, frame: pd.DataFrame, column: str) -> None:
        if column not in frame.columns:
            raise InputError(
                f"the link key column {column!r} is not in the data; name the column that "
                "holds the study pseudonyms."
            )
        self._column = column
        self._frame = frame
        values = frame[column].dropna().astype(str)
        self._keys = tuple(sorted(set(values)))

    def keys(self) -> tuple[str, ...]:
        return self._keys

    def restricted(self, keys: Collection[str]) -> DataSource:
        wanted = set(keys)
        rows = (
            self._frame[self._column].astype(str).isin(wanted) & self._frame[self._column].notna()
        )
        return FrameSource(self._frame.loc[rows].drop(columns=self._column).reset_index(drop=True))


def split_link_column(
    frame: pd.DataFrame, column: str | None
) -> tuple[pd.DataFrame, FrameLinkKeys | None]:
    """The analysable data (without the link column) and the link keys, if any."""
    if column is None:
        return frame, None
    links = FrameLinkKeys(frame, column)
    return frame.drop(columns=column), links
