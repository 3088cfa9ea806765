"""A station's link keys: the pseudonyms that let records of one person be linked.

The link key column (a study pseudonym from :mod:`perron.linkage.pseudonym`) is
not a variable: no analysis can read it through the data seam. Only linkage
protocols get it, through :class:`LinkKeys`, and they release it only blinded
(private set intersection) or as counts. :meth:`LinkKeys.restricted` gives the data
seam over the linked rows alone, so an analysis can describe the linked cohort.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import pandas as pd

from perron.data.cohort import Cohort
from perron.data.frame import FrameSource
from perron.data.source import DataSource
from perron.protocol.errors import InputError


class LinkKeys(Protocol):
    """What a linkage protocol may see of a station's data."""

    def keys(self, cohort: Cohort | None = None) -> tuple[str, ...]:
        """The distinct link keys of the rows that have one (and are in ``cohort``)."""
        ...

    def restricted(self, keys: Collection[str]) -> DataSource:
        """The data seam over the rows whose link key is in ``keys`` (keys hidden)."""
        ...

    def values(self, keys: Sequence[str], column: str) -> pd.Series:
        """The values of ``column`` for ``keys``, one per key and in their order.

        For protocols on linked data that need the rows aligned between stations
        (a secure product); the values never leave the station in the clear.
        """
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

    def keys(self, cohort: Cohort | None = None) -> tuple[str, ...]:
        if cohort is None:
            return self._keys
        inside = cohort.rows(self._frame.drop(columns=self._column))
        values = self._frame.loc[inside, self._column].dropna().astype(str)
        return tuple(sorted(set(values)))

    def restricted(self, keys: Collection[str]) -> DataSource:
        wanted = set(keys)
        rows = (
            self._frame[self._column].astype(str).isin(wanted) & self._frame[self._column].notna()
        )
        return FrameSource(self._frame.loc[rows].drop(columns=self._column).reset_index(drop=True))

    def values(self, keys: Sequence[str], column: str) -> pd.Series:
        """The values of ``column`` for ``keys`` (one row per key), in their order.

        Examples
        --------
        >>> frame = pd.DataFrame({"pid": ["a", "b", "c"], "sex": ["f", None, "m"]})
        >>> FrameLinkKeys(frame, "pid").values(["c", "a"], "sex").tolist()
        ['m', 'f']
        """
        if column == self._column or column not in self._frame.columns:
            raise InputError(
                f"column {column!r} is not a variable of this station; name one of its "
                "analysable columns (the link key column is not one)."
            )
        keys = list(keys)
        ids = self._frame[self._column]
        linked = self._frame.loc[ids.notna() & ids.astype(str).isin(set(keys))]
        labels = linked[self._column].astype(str)
        repeated = int(labels.duplicated().sum())
        if repeated:
            raise InputError(
                f"{repeated} linked keys have more than one row; an analysis on linked data "
                "needs one row per person: summarise each person's rows first."
            )
        found = pd.Series(linked[column].to_numpy(), index=labels.to_numpy(), name=column)
        unknown = [k for k in keys if k not in found.index]
        if unknown:
            raise InputError(
                f"{len(unknown)} of the requested keys are not link keys of this station; "
                "ask only for keys the linkage found here."
            )
        return found.reindex(keys)


def split_link_column(
    frame: pd.DataFrame, column: str | None
) -> tuple[pd.DataFrame, FrameLinkKeys | None]:
    """The analysable data (without the link column) and the link keys, if any."""
    if column is None:
        return frame, None
    links = FrameLinkKeys(frame, column)
    return frame.drop(columns=column), links
