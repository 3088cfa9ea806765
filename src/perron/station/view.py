"""What a task may see of the station's dataset: the policy's columns, without objectors.

A task never sees the whole dataset. :meth:`DatasetView.source` gives it a data source
over

- the rows of everyone not excluded by an objection (:mod:`.objections`), and
- the columns the study's policy permits for this dataset (every column when the
  task runs without a policy), never the patient identifier column.

The rows and columns are cut out of the loaded table once per (columns, excluded
people) and the resulting :class:`~perron.data.frame.FrameSource` is kept (a few at a
time), so the rounds of an iterative fit reuse its cached design matrices, and a
changed objection register gives a fresh source instead of a stale cache.

A dataset in DuckDB or another database (:class:`~perron.data.sql.SqlSource`) is
never loaded: the view restricts the SQL source instead, so every query it runs
leaves out the hidden and unpermitted columns and has ``WHERE CAST(id AS VARCHAR) NOT
IN (...)`` (the identifiers bound as one array parameter) for the objectors;
:meth:`DatasetView.ids` and the link keys are answered by queries too.

:class:`RestrictedSource` wraps that source and refuses, with
:class:`~perron.protocol.errors.OutsidePolicy` rule ``column``, every question about a
column outside the policy, and about the identifier column always, before the data are
touched. Its :meth:`~RestrictedSource.schema` lists only the visible columns, and
looking up another column in it raises the same refusal; so an algorithm that first
checks that its columns exist (as Perron's do) reports "outside the policy" rather
than "unknown column", and a column the policy permits but the dataset lacks is still
an :class:`~perron.protocol.errors.UnknownColumn`.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"pid": ["a", "b", "c"], "age": [50, 60, 70], "bmi": [20, 25, 30]})
>>> view = DatasetView(frame, "cohort", id_column="pid")
>>> source = view.source(["age"], frozenset({"b"}), study="s1")
>>> sorted(source.schema()), source.complete_count(["age"])
(['age'], 2)
>>> source.complete_count(["bmi"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
perron.protocol.errors.OutsidePolicy: policy rule 'column': ...
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.data.design import Design, Level
from perron.data.families import Family
from perron.data.frame import FrameSource, load_table
from perron.data.linkage import FrameLinkKeys, LinkKeys
from perron.data.source import ColumnKind, DataSource, IrlsSums, Moments
from perron.data.sql import SqlSource
from perron.data.sql_engine import is_url
from perron.data.sql_keys import SqlIdSet, SqlLinkKeys
from perron.data.survival import CoxSums, EventTable, SurvivalSpec, TimeMap
from perron.omop.dataset import analysis_table
from perron.protocol.errors import DataSourceError, OutsidePolicy, PolicyViolation
from perron.station.config import StationConfig

FloatArray = npt.NDArray[np.float64]
_VIEW_CACHE_SIZE = 4


class DatasetView:
    """The station's table, and the restricted sources that tasks see of it.

    Parameters
    ----------
    data
        The whole table as loaded, or an SQL source over it (DuckDB or a database).
    name
        The dataset's name in requests and policies.
    id_column
        The column with the patient identifier or pseudonym; it must be complete.
        Its values are compared as text (``17`` matches ``"17"``).

    Raises
    ------
    DataSourceError
        The id column is missing or has missing values.
    """

    def __init__(
        self, data: pd.DataFrame | SqlSource, name: str, id_column: str | None = None
    ) -> None:
        self.name = name
        self.id_column = id_column
        self._sql = data if isinstance(data, SqlSource) else None
        self._frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame()
        self._ids: pd.Series | None = None
        self._id_set: AbstractSet[str] = frozenset()
        if id_column is not None:
            self._check_ids(id_column)
        self._sources: OrderedDict[tuple[tuple[str, ...] | None, frozenset[str]], DataSource] = (
            OrderedDict()
        )

    def _check_ids(self, id_column: str) -> None:
        name = self.name
        if self._sql is not None:
            if not self._sql.has_column(id_column):
                raise DataSourceError(
                    f"the id column {id_column!r} (governance.id_column) is not in dataset "
                    f"{name!r}; its columns are {sorted(self._sql.schema())}."
                )
            missing = self._sql.count_missing_any(id_column)
            self._id_set = SqlIdSet(self._sql, id_column)
        else:
            frame = self._frame
            if id_column not in frame.columns:
                raise DataSourceError(
                    f"the id column {id_column!r} (governance.id_column) is not in dataset "
                    f"{name!r}; its columns are {sorted(map(str, frame.columns))}."
                )
            missing = int(frame[id_column].isna().sum())
            self._ids = frame[id_column].astype(str)
            self._id_set = frozenset(self._ids.tolist())
        if missing:
            raise DataSourceError(
                f"the id column {id_column!r} of dataset {name!r} misses {missing} "
                "values; every row needs its identifier, or objections cannot be "
                "honoured. Fill them in or drop those rows."
            )

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        name: str,
        id_column: str | None = None,
        *,
        table: str | None = None,
        reader: str = "pandas",
    ) -> DatasetView:
        """Open a dataset: a CSV or Parquet file, a DuckDB file or a database URL.

        Parameters
        ----------
        path
            A ``.csv``/``.parquet`` file, a ``.duckdb`` database, or a SQLAlchemy URL.
        name, id_column
            As for the constructor.
        table
            The table or view in a DuckDB file or a database.
        reader
            For CSV/Parquet: ``"pandas"`` loads the file into memory; ``"duckdb"``
            leaves it on disk and pushes every aggregate into DuckDB.
        """
        if reader not in ("pandas", "duckdb"):
            raise DataSourceError(
                f"reader must be 'pandas' or 'duckdb', not {reader!r} (an OMOP CDM is "
                "opened with DatasetView.from_config and its [omop] settings)."
            )
        suffix = "" if is_url(path) else Path(path).suffix.lower()
        if reader == "pandas" and suffix in (".csv", ".parquet", ".pq"):
            return cls(load_table(path), name, id_column)
        return cls(SqlSource.open(path, table=table), name, id_column)

    @classmethod
    def from_config(cls, config: StationConfig, *, id_column: str | None = None) -> DatasetView:
        """The dataset that a station's configuration names (``dataset``, ``table``,
        ``reader`` and ``[governance] id_column``, unless ``id_column`` is given).

        With ``reader = "omop"`` the dataset is the per-person table of the station's
        OMOP CDM, as ``[omop]`` derives it (:func:`perron.omop.dataset.analysis_table`).
        """
        identifier = id_column or config.governance.id_column
        if config.omop is not None and not isinstance(config.dataset, str):
            table = analysis_table(config.dataset, config.omop)
            return cls(table, config.dataset_name, identifier)
        return cls.from_path(
            config.dataset,
            config.dataset_name,
            identifier,
            table=config.table,
            reader=config.reader,
        )

    def close(self) -> None:
        """Close the database connection of an SQL dataset (nothing to do for a frame)."""
        if self._sql is not None:
            self._sql.close()

    @property
    def ids(self) -> AbstractSet[str]:
        """Every patient identifier in the dataset (empty without an id column)."""
        return self._id_set

    def source(
        self,
        columns: Collection[str] | None,
        excluded: frozenset[str],
        *,
        study: str | None = None,
    ) -> RestrictedSource:
        """The data a task may use.

        Parameters
        ----------
        columns
            The columns the study's policy permits for this dataset; ``None`` (no
            policy): every column. The id column is left out either way.
        excluded
            Identifiers of the people to leave out (objections).
        study
            The study, to name it in refusals.

        Raises
        ------
        PolicyViolation
            People must be excluded but the dataset has no id column to find them.
        """
        if excluded and self.id_column is None:
            raise PolicyViolation(
                f"{len(excluded)} objection(s) are registered but dataset {self.name!r} has "
                "no id column to match them, so the station runs no analysis; set "
                "[governance] id_column in station.toml."
            )
        permitted = None if columns is None else tuple(sorted(set(columns)))
        hidden = frozenset() if self.id_column is None else frozenset({self.id_column})
        key = (permitted, excluded)
        inner = self._sources.get(key)
        if inner is None:
            if self._sql is not None:
                inner = self._sql.restricted(
                    permitted, hidden=hidden, key=self.id_column, excluded=excluded
                )
            else:
                inner = FrameSource(self._cut(permitted, hidden, excluded))
            self._sources[key] = inner
            if len(self._sources) > _VIEW_CACHE_SIZE:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(key)
        return RestrictedSource(inner, permitted, hidden, dataset=self.name, study=study)

    def linkage(self, columns: Collection[str] | None, excluded: frozenset[str]) -> LinkKeys | None:
        """The link keys (the id column) for linkage protocols, without the excluded
        people, over the permitted columns; ``None`` when the dataset has no id column."""
        if self.id_column is None:
            return None
        permitted = None if columns is None else tuple(sorted({*columns, self.id_column}))
        if self._sql is not None:
            rows = self._sql.restricted(permitted, key=self.id_column, excluded=excluded)
            return SqlLinkKeys(rows, self.id_column)
        frame = self._cut(permitted, frozenset(), excluded)
        return FrameLinkKeys(frame, self.id_column)

    def _cut(
        self, permitted: tuple[str, ...] | None, hidden: frozenset[str], excluded: frozenset[str]
    ) -> pd.DataFrame:
        names = [str(c) for c in self._frame.columns if str(c) not in hidden]
        if permitted is not None:
            names = [c for c in names if c in permitted]
        rows = np.ones(len(self._frame), dtype=bool)
        if excluded and self._ids is not None:
            rows = ~self._ids.isin(excluded).to_numpy()
        return self._frame.loc[rows, names].reset_index(drop=True)


class _VisibleSchema(Mapping[str, ColumnKind]):
    """The visible columns' kinds; looking up a column outside the policy is refused."""

    def __init__(self, kinds: Mapping[str, ColumnKind], source: RestrictedSource) -> None:
        self._kinds = kinds
        self._source = source

    def __getitem__(self, name: str) -> ColumnKind:
        self._source.check(name)
        return self._kinds[name]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._source.check(name)
        return name in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)


class RestrictedSource:
    """A data source that answers only about the columns a task may use.

    Parameters
    ----------
    inner
        The source over the rows and columns the task may see.
    permitted
        The columns the policy permits; ``None``: every column but the hidden ones.
    hidden
        Columns no analysis may use (the patient identifier).
    dataset, study
        Names for the refusal messages.
    """

    def __init__(
        self,
        inner: DataSource,
        permitted: Collection[str] | None,
        hidden: frozenset[str],
        *,
        dataset: str,
        study: str | None = None,
    ) -> None:
        self._inner = inner
        self._permitted = None if permitted is None else frozenset(permitted)
        self._hidden = hidden
        self._dataset = dataset
        self._study = study

    def check(self, *columns: str | None) -> None:
        """Refuse a column outside the policy, or the identifier column.

        Raises
        ------
        OutsidePolicy
            With rule ``column``.
        """
        for name in columns:
            if name is None:
                continue
            if name in self._hidden:
                raise OutsidePolicy(
                    f"policy rule 'column': column {name!r} of dataset {self._dataset!r} "
                    "holds the patient identifier; no analysis may use it."
                )
            if self._permitted is not None and name not in self._permitted:
                of_study = "" if self._study is None else f" of study {self._study!r}"
                raise OutsidePolicy(
                    f"policy rule 'column': column {name!r} is not among the columns of "
                    f"dataset {self._dataset!r} that the policy{of_study} permits "
                    f"({sorted(self._permitted)}); ask for an amended policy."
                )

    # -- the DataSource protocol ------------------------------------------------------

    def schema(self) -> Mapping[str, ColumnKind]:
        return _VisibleSchema(self._inner.schema(), self)

    def complete_count(self, columns: Sequence[str]) -> int:
        self.check(*columns)
        return self._inner.complete_count(columns)

    def missing_counts(self, columns: Sequence[str]) -> dict[str, int]:
        self.check(*columns)
        return self._inner.missing_counts(columns)

    def moments(self, column: str) -> Moments:
        self.check(column)
        return self._inner.moments(column)

    def distinct_count(self, column: str, complete_on: Sequence[str]) -> int:
        self.check(column, *complete_on)
        return self._inner.distinct_count(column, complete_on)

    def value_counts(
        self, columns: Sequence[str], complete_on: Sequence[str]
    ) -> dict[tuple[Level, ...], int]:
        self.check(*columns, *complete_on)
        return self._inner.value_counts(columns, complete_on)

    def count_at_most(self, column: str, thresholds: FloatArray) -> npt.NDArray[np.int64]:
        self.check(column)
        return self._inner.count_at_most(column, thresholds)

    def smallest_above(self, column: str, thresholds: FloatArray) -> FloatArray:
        self.check(column)
        return self._inner.smallest_above(column, thresholds)

    def bin_counts(self, column: str, edges: FloatArray) -> npt.NDArray[np.int64]:
        self.check(column)
        return self._inner.bin_counts(column, edges)

    def irls_sums(self, design: Design, family: Family, beta: FloatArray | None) -> IrlsSums:
        self.check(*design.columns)
        return self._inner.irls_sums(design, family, beta)

    def design_arrays(self, design: Design) -> tuple[FloatArray, FloatArray, FloatArray]:
        self.check(*design.columns)
        return self._inner.design_arrays(design)

    def event_table(
        self, spec: SurvivalSpec, groups: Sequence[str], timemap: TimeMap
    ) -> dict[str, EventTable]:
        self.check(*spec.columns, *groups)
        return self._inner.event_table(spec, groups, timemap)

    def cox_sums(
        self,
        spec: SurvivalSpec,
        beta: FloatArray,
        times: Mapping[str, FloatArray],
        timemap: TimeMap,
    ) -> dict[str, CoxSums]:
        self.check(*spec.columns)
        return self._inner.cox_sums(spec, beta, times, timemap)

    def concordance_counts(
        self, spec: SurvivalSpec, beta: FloatArray, timemap: TimeMap
    ) -> tuple[float, int]:
        self.check(*spec.columns)
        return self._inner.concordance_counts(spec, beta, timemap)
