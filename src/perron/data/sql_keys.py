"""Identifier columns of an SQL dataset: link keys and the set of patient identifiers.

The counterparts of :class:`~perron.data.linkage.FrameLinkKeys` and of the frozenset
of identifiers that :class:`~perron.station.view.DatasetView` keeps for a DataFrame,
answered by queries so that the identifiers of a large table are not held in memory
(a linkage protocol's :meth:`SqlLinkKeys.keys` does fetch them: it needs them all).
Identifiers are compared as text, so ``17`` matches ``"17"``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence, Set
from typing import Any

import pandas as pd

from perron.data.cohort import Cohort
from perron.data.source import DataSource
from perron.data.sql import SqlSource
from perron.protocol.errors import InputError


class SqlLinkKeys:
    """Link keys from an identifier column of an :class:`~perron.data.sql.SqlSource`.

    Parameters
    ----------
    source
        The rows and columns linkage may use, the key column among them.
    column
        The column of link keys (pseudonyms).

    Examples
    --------
    >>> import duckdb
    >>> connection = duckdb.connect()
    >>> _ = connection.execute(
    ...     "CREATE TABLE t AS SELECT * FROM (VALUES ('a', 50), ('b', 60), (NULL, 70)) v(pid, age)"
    ... )
    >>> links = SqlLinkKeys(SqlSource.from_duckdb(connection, table="t"), "pid")
    >>> links.keys(), links.restricted({"b"}).complete_count(["age"])
    (('a', 'b'), 1)
    """

    def __init__(self, source: SqlSource, column: str) -> None:
        if column not in source.schema():
            raise InputError(
                f"the link key column {column!r} is not in the data; name the column that "
                "holds the study pseudonyms."
            )
        self._source = source
        self._column = column
        self._keys: tuple[str, ...] | None = None

    def keys(self, cohort: Cohort | None = None) -> tuple[str, ...]:
        if cohort is None:
            if self._keys is None:
                self._keys = tuple(self._source.text_values(self._column, distinct=True))
            return self._keys
        columns = cohort.columns
        schema = self._source.schema()
        missing = [c for c in columns if c not in schema or c == self._column]
        if missing:
            raise InputError(
                f"columns {missing} of the cohort are not variables here; use the dataset's "
                "(permitted) columns."
            )
        # The criteria are evaluated in Python, as Cohort.rows does, on the rows that
        # have every cohort column (a missing value never matches).
        inside = {
            key
            for key, *values in self._source.rows_by_key(self._column, columns)
            if all(
                criterion.matches(values[columns.index(criterion.column)])
                for criterion in cohort.criteria
            )
        }
        return tuple(sorted(inside))

    def restricted(self, keys: Collection[str]) -> DataSource:
        return self._source.restricted(
            hidden=[self._column], key=self._column, included=frozenset(keys)
        )

    def values(self, keys: Sequence[str], column: str) -> pd.Series:
        """The values of ``column`` for ``keys`` (one row per key), in their order."""
        if column == self._column or column not in self._source.schema():
            raise InputError(
                f"column {column!r} is not a variable of this station; name one of its "
                "analysable columns (the link key column is not one)."
            )
        keys = list(keys)
        rows = self._source.rows_by_key(self._column, [column], set(keys), complete=False)
        labels = pd.Series([k for k, _ in rows], dtype=object)
        repeated = int(labels.duplicated().sum())
        if repeated:
            raise InputError(
                f"{repeated} linked keys have more than one row; an analysis on linked data "
                "needs one row per person: summarise each person's rows first."
            )
        found = pd.Series([v for _, v in rows], index=labels.to_numpy(), name=column)
        unknown = [k for k in keys if k not in found.index]
        if unknown:
            raise InputError(
                f"{len(unknown)} of the requested keys are not link keys of this station; "
                "ask only for keys the linkage found here."
            )
        return found.reindex(keys)


class SqlIdSet(Set[str]):
    """The identifiers in a column, as a set whose questions are queries.

    ``x in ids`` and ``ids & other`` (or ``other & ids``) each run one query; only
    iterating fetches every identifier.
    """

    def __init__(self, source: SqlSource, column: str) -> None:
        self._source = source
        self._column = column

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and bool(self._source.text_present(self._column, [value]))

    def __iter__(self) -> Iterator[str]:
        return iter(self._source.text_values(self._column, distinct=True))

    def __len__(self) -> int:
        return self._source.text_count(self._column)

    def __and__(self, other: Iterable[Any]) -> frozenset[str]:
        wanted = {v for v in other if isinstance(v, str)}
        return self._source.text_present(self._column, wanted)

    __rand__ = __and__
