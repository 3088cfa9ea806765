"""The SQL building blocks of the answers of :class:`~perron.data.sql.SqlSource`.

:class:`SqlQueries` holds a source's connection, relation, columns and row filters,
and builds from them the expressions and statements the answers are made of: a
column as SQL (a number, a dummy for a level, NaN as ``NULL``), the condition that
a row is complete, one-row aggregate queries, scans with one aggregate per
threshold (up to 256 per statement), the Poisson helpers of ``irls_sums``, and the
rows of a survival model grouped by (group, start, stop, event).
:class:`~perron.data.sql.SqlSource` derives from it and adds the ways to open a
source and the :class:`~perron.data.source.DataSource` protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any, SupportsFloat

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from scipy.special import gammaln

from perron.data.design import Design, Level, Term
from perron.data.grouped import TimeGroups
from perron.data.source import ColumnKind, Moments
from perron.data.sql_engine import ColumnInfo, SqlEngine
from perron.data.sql_glm import NAN, ONE, ZERO, fn
from perron.data.survival import SurvivalSpec, stratum_key
from perron.protocol.errors import DataSourceError, InputError, NonNumericColumn, UnknownColumn

FloatArray = npt.NDArray[np.float64]
Expr = sa.ColumnElement[Any]

#: Thresholds (one aggregate each) per statement.
_CHUNK = 256


def _level(value: object) -> Level:
    """A database value as a level on the wire (as ``FrameSource`` gives it)."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _float(value: object) -> float:
    """A database number as a float (``NULL``: NaN)."""
    if value is None:
        return float("nan")
    if isinstance(value, SupportsFloat):
        return float(value)
    raise DataSourceError(f"the database returned {type(value).__name__}, not a number.")


class SqlQueries:
    """A source's connection, relation and row filters, and the SQL built on them.

    The parameters are those of :class:`~perron.data.sql.SqlSource`.
    """

    def __init__(
        self,
        engine: SqlEngine,
        relation: sa.FromClause,
        columns: Sequence[ColumnInfo],
        *,
        visible: Collection[str] | None = None,
        where: Sequence[sa.ColumnElement[bool]] = (),
        owner: bool = True,
    ) -> None:
        self._engine = engine
        self._from = relation
        self._all = {c.name: c for c in columns}
        shown = self._all if visible is None else set(visible)
        self._info = {c.name: c for c in columns if c.name in shown}
        self._where = tuple(where)
        self._owner = owner
        self._memo: dict[str, Moments] = {}
        self._lock = threading.Lock()

    # -- helpers ----------------------------------------------------------------------

    def _forget(self) -> None:
        """Drop the moments prefetched by ``missing_counts`` (see the module docstring)."""
        with self._lock:
            self._memo = {}

    def _info_of(self, name: str) -> ColumnInfo:
        info = self._info.get(name)
        if info is None:
            raise UnknownColumn(
                f"column {name!r} does not exist; available columns: {sorted(self._info)}."
            )
        return info

    def _all_info(self, name: str) -> ColumnInfo:
        info = self._all.get(name)
        if info is None:
            raise UnknownColumn(f"column {name!r} does not exist in the dataset.")
        return info

    def _any(self, name: str) -> Expr:
        """A column, visible or hidden (for the identifier)."""
        self._all_info(name)
        return self._from.c[name]

    def _col(self, name: str) -> Expr:
        self._info_of(name)
        return self._from.c[name]

    def _present_of(self, info: ColumnInfo) -> sa.ColumnElement[bool]:
        column = self._from.c[info.name]
        if info.floating:
            return sa.and_(column.is_not(None), column != NAN)
        return column.is_not(None)

    def _complete(self, columns: Sequence[str]) -> list[sa.ColumnElement[bool]]:
        names = dict.fromkeys(columns)
        return [*self._where, *(self._present_of(self._info_of(n)) for n in names)]

    def _value(self, name: str) -> Expr:
        """The column with NaN as NULL (what ``COUNT`` counts as present)."""
        info = self._info_of(name)
        column = self._from.c[name]
        return sa.func.nullif(column, NAN) if info.floating else column

    def _number(self, name: str) -> Expr:
        """The column as DOUBLE with NaN as NULL (for moments over present values)."""
        x = self._numeric(name)
        return fn("nullif", x, NAN) if self._info[name].floating else x

    def _numeric(self, name: str) -> Expr:
        info = self._info_of(name)
        if info.kind is not ColumnKind.NUMERIC:
            raise NonNumericColumn(
                f"column {name!r} is not numeric; use it as a category "
                f"(C({name}) in a formula, or categorical=[{name!r}])."
            )
        column: Expr = self._from.c[name]
        if info.boolean:  # PostgreSQL casts a boolean to integer, not to double
            column = sa.cast(column, sa.Integer())
        return sa.cast(column, sa.Double())

    def _term(self, term: Term) -> Expr | None:
        """A design column as SQL; ``None`` for the intercept."""
        if term.column is None:
            return None
        if term.level is None:
            return self._numeric(term.column)
        info = self._info_of(term.column)
        level = term.level
        if info.kind is ColumnKind.NUMERIC:
            if isinstance(level, str):  # numpy: a number never equals a string
                return ZERO
            test: sa.ColumnElement[bool] = self._numeric(term.column) == sa.bindparam(
                None, float(level), type_=sa.Double()
            )
        else:
            if not isinstance(level, str):
                return ZERO
            column: Expr = self._from.c[term.column]
            if not isinstance(info.type, sa.String):
                column = sa.cast(column, sa.String())
            test = column == sa.bindparam(None, level, type_=sa.String())
        return sa.case((test, ONE), else_=ZERO)

    def _moment_aggregates(self, x: Expr) -> list[Expr]:
        aggregates = [sa.func.avg(x), sa.func.var_samp(x), sa.func.min(x), sa.func.max(x)]
        return [sa.func.count(x), *aggregates]

    @staticmethod
    def _moments_of(values: Sequence[Any]) -> Moments:
        n = int(values[0])
        if n == 0:
            return Moments(0, float("nan"), float("nan"), float("nan"), float("nan"))
        m2 = _float(values[2]) * (n - 1) if n > 1 else 0.0
        return Moments(n, _float(values[1]), m2, _float(values[3]), _float(values[4]))

    def _row(
        self, aggregates: Sequence[Expr], condition: Sequence[sa.ColumnElement[bool]]
    ) -> tuple[Any, ...]:
        statement = sa.select(*aggregates).select_from(self._from)
        where = condition or self._where
        return self._engine.fetch(statement.where(*where))[0]

    def _scalar(self, aggregate: Expr, condition: Sequence[sa.ColumnElement[bool]]) -> Any:
        return self._row([aggregate], condition)[0]

    def _per_threshold(self, column: str, thresholds: FloatArray, aggregate: Any) -> list[Any]:
        """One aggregate per threshold over the complete rows, ``_CHUNK`` per scan."""
        self._forget()
        condition = self._complete([column])
        out: list[Any] = []
        values = [float(t) for t in np.asarray(thresholds, dtype=np.float64).ravel()]
        for i in range(0, len(values), _CHUNK):
            chunk = values[i : i + _CHUNK]
            bound = [aggregate(sa.bindparam(None, t, type_=sa.Double())) for t in chunk]
            out.extend(self._row(bound, condition))
        return out

    def _poisson_start(self, design: Design) -> float:
        """The mean outcome (the Poisson start, as :meth:`Family.start_mu`)."""
        y = self._numeric(design.response)
        mean = self._scalar(sa.func.avg(y), self._complete(design.columns))
        return (_float(mean) if mean is not None else 0.0) or 1.0

    def _log_factorials(self, design: Design) -> float:
        """Sum of log(y!) over the complete rows, from the distinct outcome values."""
        y = self._numeric(design.response)
        statement = sa.select(y, sa.func.count()).where(*self._complete(design.columns)).group_by(y)
        rows = self._engine.fetch(statement)
        if not rows:
            return 0.0
        values = np.asarray([_float(r[0]) for r in rows])
        counts = np.asarray([int(r[1]) for r in rows], dtype=np.float64)
        return float(np.sum(counts * gammaln(values + 1.0)))

    def _survival_columns(
        self, spec: SurvivalSpec, groups: Sequence[str]
    ) -> tuple[list[Expr], Expr | None, Expr, Expr, list[sa.ColumnElement[bool]]]:
        condition = self._complete([*spec.columns, *groups])
        keys = [self._col(g) for g in groups]
        start = None if spec.start is None else self._numeric(spec.start)
        return keys, start, self._numeric(spec.stop), self._numeric(spec.event), condition

    def _time_groups(
        self, spec: SurvivalSpec, groups: Sequence[str], beta: FloatArray | None
    ) -> dict[str, TimeGroups]:
        """Rows grouped by (group, start, stop, event), with the Cox sums if ``beta``."""
        self._forget()
        keys, start, stop, event, condition = self._survival_columns(spec, groups)
        terms: list[Expr] = []
        if beta is not None:
            for term in spec.terms:
                x = self._term(term)
                terms.append(ONE if x is None else x)
        grouped = [*keys, *([] if start is None else [start]), stop, event]
        inner = sa.select(
            *(g.label(f"c{i}") for i, g in enumerate(grouped)),
            *(x.label(f"x{j}") for j, x in enumerate(terms)),
        ).where(*condition)
        rows_q = inner.subquery("rows")
        xs = [rows_q.c[f"x{j}"] for j in range(len(terms))]
        if beta is not None:
            linear: Expr = ZERO
            for x, b in zip(xs, beta.tolist(), strict=True):
                linear = linear + sa.bindparam(None, float(b), type_=sa.Double()) * x
            weighted = sa.select(rows_q, fn("exp", linear).label("w")).subquery("weighted")
        else:
            weighted = rows_q
        outer = [weighted.c[f"c{i}"] for i in range(len(grouped))]
        p = len(terms)
        sums: list[Expr] = [sa.func.count()]
        if beta is not None:
            w = weighted.c.w
            wx = [w * weighted.c[f"x{a}"] for a in range(p)]
            sums.append(sa.func.sum(w))
            sums.extend(sa.func.sum(wx[a]) for a in range(p))
            sums.extend(
                sa.func.sum(wx[a] * weighted.c[f"x{b}"]) for a in range(p) for b in range(a + 1)
            )
            sums.extend(sa.func.sum(weighted.c[f"x{a}"]) for a in range(p))
        statement = sa.select(*outer, *sums).select_from(weighted).group_by(*outer)
        rows = self._engine.fetch(statement)
        width = len(keys)
        out: dict[str, TimeGroups] = {}
        for key, part in _split(rows, width, spec).items():
            at = 0
            start_values = np.full(part.shape[0], -np.inf)
            if start is not None:
                start_values = part[:, at].astype(np.float64)
                at += 1
            stop_values = part[:, at].astype(np.float64)
            flags = part[:, at + 1].astype(np.float64) == 1.0
            if start is not None and np.any(start_values >= stop_values):
                raise InputError(
                    f"some rows have {spec.start!r} >= {spec.stop!r}; every interval must "
                    "have start < stop."
                )
            count = part[:, at + 2].astype(np.int64)
            numbers = part[:, at + 3 :].astype(np.float64)
            g = part.shape[0]
            if beta is None:
                w0, w1, w2, xs_sum = (
                    np.zeros(g),
                    np.zeros((g, 0)),
                    np.zeros((g, 0, 0)),
                    np.zeros((g, 0)),
                )
            else:
                w0 = numbers[:, 0]
                w1 = numbers[:, 1 : 1 + p]
                w2 = np.zeros((g, p, p))
                k = 1 + p
                for a in range(p):
                    for b in range(a + 1):
                        w2[:, a, b] = w2[:, b, a] = numbers[:, k]
                        k += 1
                xs_sum = numbers[:, k : k + p]
            out[key] = TimeGroups(start_values, stop_values, flags, count, w0, w1, w2, xs_sum)
        return out


def _split(
    rows: list[tuple[Any, ...]], width: int, spec: SurvivalSpec
) -> dict[str, npt.NDArray[Any]]:
    """Grouped survival rows per stratum key (sorted), after checking the event coding.

    The first ``width`` values of a row are the group's levels; the event flag is the
    last grouped value before the sums, found by its position from the spec.
    """
    at_event = width + (0 if spec.start is None else 1) + 1
    for row in rows:
        if _float(row[at_event]) not in (0.0, 1.0):
            raise InputError(
                f"the event column {spec.event!r} must be coded 0/1 (1 = event); recode it "
                "(R's lung data uses 1/2: subtract 1)."
            )
    parts: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        key = stratum_key([_level(v) for v in row[:width]])
        parts.setdefault(key, []).append(row[width:])
    return {
        key: np.asarray([[_float(v) for v in r] for r in parts[key]], dtype=np.float64).reshape(
            len(parts[key]), -1
        )
        for key in sorted(parts)
    }
