"""A data source that answers in SQL: DuckDB files, CSV/Parquet via DuckDB, or a database.

:class:`SqlSource` implements the whole :class:`~perron.data.source.DataSource`
protocol over a table, a view or (in DuckDB) a query, and returns what
:class:`~perron.data.frame.FrameSource` returns on the same rows, to rounding. No
answer loads the table: the database computes the aggregates and sends a result
whose size does not depend on the number of rows, except where noted.

What runs in the database (one statement each unless noted)

- ``complete_count``, ``missing_counts``: ``COUNT``; ``missing_counts`` computes in
  the same scan the moments of the numeric columns it names and keeps them for the
  ``moments`` calls that follow it directly (a summary step asks exactly that, so
  the step scans the table once); any other question drops them, so no answer is
  older than the question before it.
- ``moments``: ``COUNT``, ``AVG``,
  ``VAR_SAMP`` (Welford / Youngs-Cramer in DuckDB / PostgreSQL: no cancellation),
  ``MIN``, ``MAX``; the centred sum of squares is ``var_samp * (n - 1)``.
- ``distinct_count``: ``COUNT(DISTINCT ...)``; ``value_counts``: ``GROUP BY`` (the
  levels sorted in Python, as pandas sorts them).
- ``count_at_most``, ``smallest_above``, ``bin_counts``: one ``COUNT(CASE WHEN x <=
  t ...)`` or ``MIN(CASE WHEN x > t THEN x END)`` per threshold, up to 256 in one
  scan; histogram bins are differences of exact ``x < edge`` counts (numpy's rule,
  the last bin closed).
- ``irls_sums``: X'WX, X'Wz, deviance, Pearson chi-square, log-likelihood and the
  separation flag as ``SUM`` s over the rows, with the linear predictor, fitted
  values, IRLS weights and working response written as SQL over the design's terms
  (a numeric column, or ``CASE WHEN column = level`` for a dummy) and the current
  coefficients as bound parameters. The logistic function is split at 0 and its
  argument clamped at +-700, so no ``exp`` overflows (PostgreSQL raises on it); the
  Poisson ``log y!`` uses ``lgamma`` (DuckDB) or, where the database lacks it
  (PostgreSQL before 18), one ``GROUP BY y`` query summed with scipy's ``gammaln``;
  the Poisson start needs one ``AVG(y)``.
- ``event_table``: ``COUNT`` grouped by (group, start, stop, event); ``cox_sums``:
  ``COUNT`` and the sums of ``w``, ``w x``, ``w x x'`` and ``x`` (``w = exp(x'b)``)
  grouped the same way. The station's time map (:class:`~perron.data.survival.
  TimeMap`) and the cumulative risk-set sums run in numpy on these groups
  (:mod:`perron.data.grouped`): their number is bounded by the distinct times
  (distinct (start, stop) pairs for counting-process data), not by the rows.
- ``concordance_counts``: ``COUNT`` grouped by (stratum, time, event, risk score
  ``x'b``); Harrell's pair counting runs in numpy on the groups. With continuous
  covariates nearly every row is its own group, so this is the one answer whose
  transfer grows with the rows (three numbers per group, no DataFrame).

Missing values are ``NULL`` and, in floating-point columns, ``NaN`` (as pandas).
A row filter (the people who objected) and a column restriction (the policy's
columns, never the identifier) are applied in every statement, see
:meth:`SqlSource.restricted`. SQL is built with SQLAlchemy Core: identifiers are
quoted by the dialect and every value is a bound parameter.
The expressions and statements the answers are made of are built in
:mod:`perron.data.sql_queries`.

Examples
--------
>>> import duckdb
>>> connection = duckdb.connect()
>>> _ = connection.execute("CREATE TABLE cohort AS SELECT range AS x FROM range(10)")
>>> source = SqlSource.from_duckdb(connection, table="cohort")
>>> source.complete_count(["x"]), source.moments("x").mean
(10, 4.5)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from perron.data.design import Design, Level
from perron.data.families import Family
from perron.data.grouped import event_table, harrell, risk_set_sums
from perron.data.source import ColumnKind, IrlsSums, Moments
from perron.data.sql_engine import FILE_VIEW, AlchemyEngine, DuckEngine, is_url
from perron.data.sql_glm import (
    ONE,
    ZERO,
    clipped_mean,
    fn,
    inverse,
    irls_columns,
    link,
    start_mu,
    variance,
)
from perron.data.sql_queries import Expr, FloatArray, SqlQueries, _float, _level, _split
from perron.data.survival import CoxSums, EventTable, SurvivalSpec, TimeMap
from perron.protocol.errors import DataSourceError, InputError, UnknownColumn

if TYPE_CHECKING:
    import duckdb

_DUCKDB_SUFFIXES = (".duckdb", ".ddb")
_FILE_SUFFIXES = (".csv", ".parquet", ".pq")


class SqlSource(SqlQueries):
    """Answers a station step's questions with aggregate queries in a database.

    Make one with :meth:`open`, :meth:`from_duckdb`, :meth:`from_files` or
    :meth:`from_url`; :meth:`restricted` gives a source over fewer columns and rows
    of the same connection.

    Parameters
    ----------
    engine
        Where the queries run.
    relation
        The table, view or query (a SQLAlchemy FROM clause).
    columns
        Every column of ``relation``.
    visible
        The columns this source answers about (default: all).
    where
        Row filters applied to every query.
    owner
        Whether :meth:`close` closes the engine.
    """

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(
        cls, location: str | Path, *, table: str | None = None, schema: str | None = None
    ) -> SqlSource:
        """A source over a database URL, a DuckDB file, or a CSV/Parquet file.

        Parameters
        ----------
        location
            A SQLAlchemy URL (``postgresql+psycopg://user@host/db``; SQLite as
            ``sqlite:///file.db``), a DuckDB database (``.duckdb``, ``.ddb``), or a
            ``.csv``/``.parquet`` file (or glob) that DuckDB scans.
        table, schema
            The table or view (required for a URL; for a DuckDB file with one table
            that one is the default).

        Raises
        ------
        DataSourceError
            The location cannot be opened, or the table does not exist.
        """
        if is_url(location):
            if table is None:
                raise DataSourceError(
                    'a database URL needs the table: set table = "..." (in station.toml) '
                    "or pass table=..."
                )
            return cls.from_url(str(location), table=table, schema=schema)
        suffix = Path(location).suffix.lower()
        if suffix in _DUCKDB_SUFFIXES:
            return cls.from_duckdb(location, table=table, schema=schema)
        if suffix in _FILE_SUFFIXES:
            return cls.from_files(location)
        raise DataSourceError(
            f"unsupported dataset {str(location)!r}: use a .csv, .parquet or .duckdb file, "
            "or a SQLAlchemy URL such as postgresql+psycopg://user@host/database."
        )

    @classmethod
    def from_duckdb(
        cls,
        database: str | Path | duckdb.DuckDBPyConnection,
        *,
        table: str | None = None,
        query: str | None = None,
        schema: str | None = None,
    ) -> SqlSource:
        """A table, view or query of a DuckDB database (a file path or a connection).

        A file is opened read-only; a connection given stays open on :meth:`close`.
        """
        if isinstance(database, str | Path):
            engine = DuckEngine.open(database)
        else:
            engine = DuckEngine(database, owned=False)
        try:
            if table is None and query is None:
                tables = engine.tables()
                if len(tables) != 1:
                    raise DataSourceError(
                        f"the DuckDB database has the tables {tables}; name the dataset's "
                        'table with table = "...".'
                    )
                table = tables[0]
            relation, columns = engine.relation(table, query, schema)
        except DataSourceError:
            engine.close()
            raise
        return cls(engine, relation, columns)

    @classmethod
    def from_files(cls, path: str | Path) -> SqlSource:
        """A CSV or Parquet file (or glob) scanned by an in-memory DuckDB.

        The file is not loaded: each query scans it. A CSV file is read with pandas'
        missing-value markers ("", "NA", "NaN", "null", ...).
        """
        engine = DuckEngine.over_files(path)
        relation, columns = engine.relation(FILE_VIEW, None, None)
        return cls(engine, relation, columns)

    @classmethod
    def from_url(cls, url: str, *, table: str, schema: str | None = None) -> SqlSource:
        """A table or view of a database reachable through SQLAlchemy."""
        engine = AlchemyEngine.open(url)
        try:
            relation, columns = engine.relation(table, None, schema)
        except DataSourceError:
            engine.close()
            raise
        return cls(engine, relation, columns)

    @classmethod
    def from_engine(cls, engine: sa.Engine, *, table: str, schema: str | None = None) -> SqlSource:
        """A table or view of an existing SQLAlchemy engine (left open on :meth:`close`)."""
        wrapped = AlchemyEngine(engine, owned=False)
        relation, columns = wrapped.relation(table, None, schema)
        return cls(wrapped, relation, columns)

    def restricted(
        self,
        columns: Collection[str] | None = None,
        *,
        hidden: Collection[str] = (),
        key: str | None = None,
        excluded: Collection[str] = (),
        included: Collection[str] | None = None,
    ) -> SqlSource:
        """The same connection over fewer columns and rows.

        Parameters
        ----------
        columns
            The columns to answer about (``None``: this source's).
        hidden
            Columns to leave out even if listed.
        key
            The identifier column that ``excluded`` and ``included`` match, as text
            (``17`` matches ``"17"``); it may be hidden.
        excluded
            Identifiers whose rows are left out.
        included
            If given, only rows whose identifier is among these are kept.
        """
        left_out = set(hidden)
        visible = [c for c in self._info if (columns is None or c in columns) and c not in left_out]
        where = list(self._where)
        if excluded or included is not None:
            if key is None or key not in self._all:
                raise UnknownColumn(f"the identifier column {key!r} is not in the dataset.")
            ids = sa.cast(self._from.c[key], sa.String())
            if excluded:
                where.append(sa.not_(self._engine.among(ids, excluded)))
            if included is not None:
                where.append(sa.and_(ids.is_not(None), self._engine.among(ids, included)))
        return SqlSource(
            self._engine,
            self._from,
            list(self._all.values()),
            visible=visible,
            where=where,
            owner=False,
        )

    def close(self) -> None:
        """Close the connection this source opened (restricted sources share it)."""
        if self._owner:
            self._engine.close()

    def __enter__(self) -> SqlSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for the station's view and linkage -------------------------------------------

    def text_values(self, column: str, *, distinct: bool = False) -> list[str]:
        """The non-missing values of ``column`` (possibly hidden) as text; distinct ones
        sorted in Python (a database's collation may order text otherwise)."""
        self._forget()
        ids = sa.cast(self._any(column), sa.String())
        statement = sa.select(ids).where(*self._where, self._any(column).is_not(None))
        if distinct:
            return sorted(str(r[0]) for r in self._engine.fetch(statement.distinct()))
        return [str(r[0]) for r in self._engine.fetch(statement)]

    def text_count(self, column: str) -> int:
        """The number of distinct non-missing values of ``column`` (as text)."""
        self._forget()
        ids = sa.cast(self._any(column), sa.String())
        counted = sa.func.count(sa.distinct(ids))
        return int(self._scalar(counted, [*self._where, self._any(column).is_not(None)]))

    def has_column(self, name: str) -> bool:
        """Whether the dataset has column ``name`` (visible here or hidden)."""
        return name in self._all

    def text_present(self, column: str, values: Collection[str]) -> frozenset[str]:
        """Which of ``values`` occur in ``column`` (compared as text)."""
        self._forget()
        if not values:
            return frozenset()
        ids = sa.cast(self._any(column), sa.String())
        statement = sa.select(ids).distinct().where(*self._where, self._engine.among(ids, values))
        return frozenset(str(r[0]) for r in self._engine.fetch(statement))

    def count_missing_any(self, column: str) -> int:
        """Rows where ``column`` (possibly hidden) is missing."""
        self._forget()
        present = self._present_of(self._all_info(column))
        statement = sa.select(sa.func.count()).select_from(self._from)
        return int(self._engine.fetch(statement.where(*self._where, sa.not_(present)))[0][0])

    def rows_by_key(
        self,
        key: str,
        columns: Sequence[str],
        ids: Collection[str] | None = None,
        *,
        complete: bool = True,
    ) -> list[tuple[Any, ...]]:
        """(identifier as text, values of ``columns``) of the rows with an identifier
        (among ``ids`` if given) and, if ``complete``, every one of ``columns`` present
        (the key column may be hidden; a missing value is ``None``)."""
        self._forget()
        text = sa.cast(self._any(key), sa.String())
        present = self._complete(columns) if complete else [*self._where]
        condition = [*present, self._any(key).is_not(None)]
        if ids is not None:
            condition.append(self._engine.among(text, ids))
        statement = sa.select(text, *(self._col(c) for c in columns)).where(*condition)
        return [
            (str(r[0]), *(None if v is None else _level(v) for v in r[1:]))
            for r in self._engine.fetch(statement)
        ]

    # -- the DataSource protocol ------------------------------------------------------

    def schema(self) -> Mapping[str, ColumnKind]:
        return {name: info.kind for name, info in self._info.items()}

    def complete_count(self, columns: Sequence[str]) -> int:
        self._forget()
        return int(self._scalar(sa.func.count(), self._complete(columns)))

    def missing_counts(self, columns: Sequence[str]) -> dict[str, int]:
        self._forget()
        names = list(dict.fromkeys(columns))
        if not names:
            return {}
        aggregates: list[Expr] = [sa.func.count()]
        numeric = [n for n in names if self._info_of(n).kind is ColumnKind.NUMERIC]
        for name in names:
            aggregates.append(sa.func.count(self._value(name)))
        for name in numeric:
            aggregates.extend(self._moment_aggregates(self._number(name)))
        row = self._row(aggregates, [])
        total = int(row[0])
        out = {name: total - int(row[1 + i]) for i, name in enumerate(names)}
        offset = 1 + len(names)
        memo = {
            name: self._moments_of(row[offset + 5 * i : offset + 5 * (i + 1)])
            for i, name in enumerate(numeric)
        }
        with self._lock:
            self._memo = memo
        return {c: out[c] for c in columns}

    def moments(self, column: str) -> Moments:
        with self._lock:
            cached = self._memo.pop(column, None)
        if cached is not None:
            return cached
        x = self._numeric(column)
        return self._moments_of(self._row(self._moment_aggregates(x), self._complete([column])))

    def distinct_count(self, column: str, complete_on: Sequence[str]) -> int:
        self._forget()
        counted = sa.func.count(sa.distinct(self._col(column)))
        return int(self._scalar(counted, self._complete([column, *complete_on])))

    def value_counts(
        self, columns: Sequence[str], complete_on: Sequence[str]
    ) -> dict[tuple[Level, ...], int]:
        self._forget()
        keys = [self._col(c) for c in columns]
        statement = (
            sa.select(*keys, sa.func.count())
            .where(*self._complete([*columns, *complete_on]))
            .group_by(*keys)
        )
        counts = {
            tuple(_level(v) for v in row[:-1]): int(row[-1])
            for row in self._engine.fetch(statement)
        }
        # Sorted in Python, as pandas sorts its groups (a database's collation may
        # order text otherwise).
        return dict(sorted(counts.items()))

    def count_at_most(self, column: str, thresholds: FloatArray) -> npt.NDArray[np.int64]:
        x = self._numeric(column)
        counts = self._per_threshold(
            column, thresholds, lambda t: sa.func.count(sa.case((x <= t, 1)))
        )
        return np.asarray([int(c) for c in counts], dtype=np.int64)

    def smallest_above(self, column: str, thresholds: FloatArray) -> FloatArray:
        x = self._numeric(column)
        values = self._per_threshold(column, thresholds, lambda t: sa.func.min(sa.case((x > t, x))))
        return np.asarray([_float(v) for v in values], dtype=np.float64)

    def bin_counts(self, column: str, edges: FloatArray) -> npt.NDArray[np.int64]:
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) < 0):
            raise InputError("histogram edges must be at least two increasing numbers.")
        x = self._numeric(column)
        below = self._per_threshold(column, edges, lambda t: sa.func.count(sa.case((x < t, 1))))
        n, at_most_last = self._row(
            [sa.func.count(), sa.func.count(sa.case((x <= float(edges[-1]), 1)))],
            self._complete([column]),
        )
        lt = np.asarray([int(c) for c in below], dtype=np.int64)
        inner = np.diff(lt)
        inner[-1] = int(at_most_last) - lt[-2]  # the last bin is closed
        return np.concatenate([[lt[0]], inner, [int(n) - int(at_most_last)]]).astype(np.int64)

    def irls_sums(self, design: Design, family: Family, beta: FloatArray | None) -> IrlsSums:
        self._forget()
        condition = self._complete(design.columns)
        y = self._numeric(design.response)
        offset = ZERO if design.offset is None else self._numeric(design.offset)
        terms = [self._term(t) for t in design.terms]
        rows = (
            sa.select(
                *(x.label(f"x{j}") for j, x in enumerate(terms) if x is not None),
                y.label("y"),
                offset.label("o"),
            )
            .where(*condition)
            .subquery("rows")
        )
        xs: list[Expr | None] = [
            None if x is None else rows.c[f"x{j}"] for j, x in enumerate(terms)
        ]
        if beta is None:
            start = self._poisson_start(design) if family.name == "poisson" else 0.0
            mu0 = start_mu(family, rows.c.y, start)
            eta, mu = link(family, mu0), mu0
        else:
            linear: Expr = rows.c.o
            for x, b in zip(xs, beta.tolist(), strict=True):
                coefficient: Expr = sa.bindparam(None, float(b), type_=sa.Double())
                linear = linear + (coefficient if x is None else coefficient * x)
            eta, mu = linear, None
        fitted = sa.select(rows, eta.label("eta")).subquery("fitted")
        # At the start mu comes from the outcome, rebound to this subquery's columns.
        mu = inverse(family, fitted.c.eta) if mu is None else start_mu(family, fitted.c.y, start)
        means = sa.select(fitted, mu.label("mu")).subquery("means")
        clip = sa.select(means, clipped_mean(family, means.c.mu).label("p")).subquery("clip")
        var = sa.select(clip, variance(family, clip.c.p).label("v")).subquery("var")
        weights = irls_columns(family, var.c.y, var.c.mu, var.c.p, var.c.v, var.c.eta, var.c.o)
        var_xs = [None if x is None else var.c[f"x{j}"] for j, x in enumerate(terms)]
        irls = sa.select(
            *(x.label(f"x{j}") for j, x in enumerate(var_xs) if x is not None),
            *(expression.label(name) for name, expression in weights.items()),
        ).subquery("irls")
        p = len(terms)
        cols = [None if x is None else irls.c[f"x{j}"] for j, x in enumerate(terms)]
        wx = [irls.c.w if x is None else irls.c.w * x for x in cols]
        aggregates: list[Expr] = [sa.func.count()]
        pairs = [(a, b) for a in range(p) for b in range(a + 1)]
        for a, b in pairs:
            aggregates.append(sa.func.sum(wx[a] if cols[b] is None else wx[a] * cols[b]))
        aggregates.extend(sa.func.sum(wx[a] * irls.c.z) for a in range(p))
        aggregates += [
            sa.func.sum(irls.c.dev),
            sa.func.sum(irls.c.pearson),
            sa.func.sum(irls.c.loglik),
            sa.func.max(irls.c.saturated),
        ]
        lgamma = family.name == "poisson" and self._engine.has_lgamma
        if lgamma:
            aggregates.append(sa.func.sum(fn("lgamma", irls.c.y + ONE)))
        row = self._engine.fetch(sa.select(*aggregates).select_from(irls))[0]
        n = int(row[0])
        xtwx = np.zeros((p, p))
        for k, (a, b) in enumerate(pairs):
            xtwx[a, b] = xtwx[b, a] = _float(row[1 + k]) if n else 0.0
        at = 1 + len(pairs)
        xtwz = np.asarray([_float(v) if n else 0.0 for v in row[at : at + p]])
        dev, pearson, loglik, saturated = (
            _float(v) if n else 0.0 for v in row[at + p : at + p + 4]
        )
        if family.name == "poisson":
            loglik -= _float(row[-1]) if lgamma and n else self._log_factorials(design)
        if family.name == "binomial":  # the deviance is -2 log-likelihood
            dev = -2.0 * loglik
        return IrlsSums(
            n=n,
            xtwx=xtwx,
            xtwz=xtwz,
            deviance=dev,
            pearson_chi2=pearson,
            loglik=0.0 if family.name == "gaussian" else loglik,
            saturated=family.name == "binomial" and saturated > 0,
        )

    def design_arrays(self, design: Design) -> tuple[FloatArray, FloatArray, FloatArray]:
        self._forget()
        condition = self._complete(design.columns)
        y = self._numeric(design.response)
        offset = ZERO if design.offset is None else self._numeric(design.offset)
        terms = [ONE if x is None else x for x in (self._term(t) for t in design.terms)]
        labelled = [x.label(f"x{j}") for j, x in enumerate(terms)]
        statement = sa.select(*labelled, y.label("y"), offset.label("o")).select_from(self._from)
        rows = self._engine.fetch(statement.where(*condition))
        p = len(terms)
        data = np.asarray(rows, dtype=np.float64).reshape(len(rows), p + 2)
        # A database returns rows in no fixed order; sorted, they come back the same
        # every round (a training run holds out the same rows for validation).
        data = data[np.lexsort(data.T[::-1])]
        return data[:, :p].copy(), data[:, p].copy(), data[:, p + 1].copy()

    def event_table(
        self, spec: SurvivalSpec, groups: Sequence[str], timemap: TimeMap
    ) -> dict[str, EventTable]:
        return {
            key: event_table(rows.mapped(timemap, key))
            for key, rows in self._time_groups(spec, groups, None).items()
        }

    def cox_sums(
        self,
        spec: SurvivalSpec,
        beta: FloatArray,
        times: Mapping[str, FloatArray],
        timemap: TimeMap,
    ) -> dict[str, CoxSums]:
        out: dict[str, CoxSums] = {}
        for key, rows in self._time_groups(spec, spec.strata, beta).items():
            if key in times:
                grid = np.asarray(times[key], dtype=np.float64)
                out[key] = risk_set_sums(rows.mapped(timemap, key), grid)
        return out

    def concordance_counts(
        self, spec: SurvivalSpec, beta: FloatArray, timemap: TimeMap
    ) -> tuple[float, int]:
        self._forget()
        keys, start, stop, event, condition = self._survival_columns(spec, spec.strata)
        risk: Expr = ZERO
        for term, b in zip(spec.terms, beta.tolist(), strict=True):
            x = self._term(term)
            coefficient: Expr = sa.bindparam(None, float(b), type_=sa.Double())
            risk = risk + (coefficient if x is None else coefficient * x)
        grouped = [*keys, *([] if start is None else [start]), stop, event, risk]
        labelled = [g.label(f"c{i}") for i, g in enumerate(grouped)]
        inner = sa.select(*labelled).where(*condition).subquery("risk")
        outer = [inner.c[f"c{i}"] for i in range(len(grouped))]
        rows = self._engine.fetch(sa.select(*outer, sa.func.count()).group_by(*outer))
        numerator, pairs = 0.0, 0
        width = len(keys)
        for key, part in _split(rows, width, spec).items():
            if start is not None and np.isfinite(part[:, 0]).any():
                raise InputError(
                    "concordance is defined here for right-censored data without entry times."
                )
            at = 0 if start is None else 1
            times, flags = part[:, at].astype(np.float64), part[:, at + 1] == 1.0
            mapped = np.where(flags, timemap.events(key, times), timemap.others(key, times))
            concordant, comparable = harrell(
                mapped, flags, part[:, at + 2].astype(np.float64), part[:, -1].astype(np.int64)
            )
            numerator += concordant
            pairs += comparable
        return numerator, pairs
