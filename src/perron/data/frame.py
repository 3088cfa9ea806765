"""A data source over an in-memory pandas DataFrame, loaded from a file or given."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.data.design import Design, Level, Term
from perron.data.families import Family
from perron.data.grouped import harrell
from perron.data.source import ColumnKind, IrlsSums, Moments
from perron.data.survival import CoxSums, EventTable, SurvivalSpec, TimeMap, stratum_key
from perron.protocol.errors import DataSourceError, InputError, NonNumericColumn, UnknownColumn

FloatArray = npt.NDArray[np.float64]
_DESIGN_CACHE_SIZE = 4


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with a clear error when that is not possible."""
    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"dataset file {str(path)!r} does not exist; check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"could not read {str(path)!r}: {exc}") from exc
    raise DataSourceError(
        f"unsupported dataset file type {suffix!r} for {str(path)!r}; use .csv or .parquet."
    )


def _python_level(value: object) -> Level:
    """numpy scalars -> plain Python values, so levels travel on the wire."""
    item = value.item() if isinstance(value, np.generic) else value
    if isinstance(item, bool | int | float | str):
        return item
    return str(item)


class FrameSource:
    """Answers a station step's questions from a pandas DataFrame.

    Design matrices are built once per model and kept (a few at a time), so the
    rounds of an iterative fit do not rebuild them.

    Examples
    --------
    >>> import pandas as pd
    >>> source = FrameSource(pd.DataFrame({"x": [1.0, 2.0, None]}))
    >>> source.complete_count(["x"])
    2
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._designs: OrderedDict[Design, tuple[FloatArray, FloatArray, FloatArray]] = (
            OrderedDict()
        )
        self._survival: dict[tuple[SurvivalSpec, tuple[str, ...], bool], dict[str, _Rows]] = {}
        # Iterative algorithms re-check their predictors every round (a station keeps
        # no state between rounds); the frame never changes, so the answer is kept.
        self._distinct: dict[tuple[str, tuple[str, ...]], int] = {}

    @classmethod
    def from_path(cls, path: str | Path) -> FrameSource:
        return cls(load_table(path))

    # -- the DataSource protocol ------------------------------------------------------

    def schema(self) -> Mapping[str, ColumnKind]:
        return {str(name): self._kind(str(name)) for name in self._frame.columns}

    def complete_count(self, columns: Sequence[str]) -> int:
        return int(self._complete(columns).sum())

    def missing_counts(self, columns: Sequence[str]) -> dict[str, int]:
        return {c: int(self._column(c).isna().sum()) for c in columns}

    def moments(self, column: str) -> Moments:
        x = self._numeric(column, self._complete([column]))
        n = int(x.size)
        if n == 0:
            return Moments(0, float("nan"), float("nan"), float("nan"), float("nan"))
        mean = float(x.mean())
        # Two-pass centred sum of squares: exact enough to pool by Chan's formula.
        m2 = float(np.sum((x - mean) ** 2))
        return Moments(n, mean, m2, float(x.min()), float(x.max()))

    def distinct_count(self, column: str, complete_on: Sequence[str]) -> int:
        key = (column, tuple(complete_on))
        cached = self._distinct.get(key)
        if cached is None:
            rows = self._complete([column, *complete_on])
            cached = int(self._column(column)[rows].nunique())
            if len(self._distinct) >= _DESIGN_CACHE_SIZE * 64:
                self._distinct.clear()
            self._distinct[key] = cached
        return cached

    def value_counts(
        self, columns: Sequence[str], complete_on: Sequence[str]
    ) -> dict[tuple[Level, ...], int]:
        rows = self._complete([*columns, *complete_on])
        sub = self._frame.loc[rows, list(columns)]
        counts = sub.groupby(list(columns), sort=True, observed=True).size()
        out: dict[tuple[Level, ...], int] = {}
        for key, count in counts.items():
            values = key if isinstance(key, tuple) else (key,)
            out[tuple(_python_level(v) for v in values)] = int(count)
        return out

    def count_at_most(self, column: str, thresholds: FloatArray) -> npt.NDArray[np.int64]:
        x = np.sort(self._numeric(column, self._complete([column])))
        return np.searchsorted(x, thresholds, side="right").astype(np.int64)

    def smallest_above(self, column: str, thresholds: FloatArray) -> FloatArray:
        x = np.sort(self._numeric(column, self._complete([column])))
        positions = np.searchsorted(x, thresholds, side="right")
        out = np.full(thresholds.shape, np.nan)
        inside = positions < x.size
        out[inside] = x[positions[inside]]
        return out

    def bin_counts(self, column: str, edges: FloatArray) -> npt.NDArray[np.int64]:
        x = self._numeric(column, self._complete([column]))
        inner, _ = np.histogram(x, bins=edges)
        below = int(np.sum(x < edges[0]))
        above = int(np.sum(x > edges[-1]))
        return np.concatenate([[below], inner, [above]]).astype(np.int64)

    def irls_sums(self, design: Design, family: Family, beta: FloatArray | None) -> IrlsSums:
        X, y, offset = self._design(design)
        if beta is None:
            mu = family.start_mu(y)
            eta = family.link(mu)
        else:
            eta = X @ beta + offset
            mu = family.inverse(eta)
        dlink = family.link_derivative(mu)
        variance = family.variance(mu)
        weights = 1.0 / (variance * dlink**2)
        z = eta - offset + (y - mu) * dlink
        weighted = X * weights[:, None]
        saturated = family.name == "binomial" and bool(np.any((mu < 1e-10) | (mu > 1 - 1e-10)))
        return IrlsSums(
            n=int(y.size),
            xtwx=weighted.T @ X,
            xtwz=weighted.T @ z,
            deviance=family.deviance(y, mu),
            pearson_chi2=float(np.sum((y - mu) ** 2 / variance)),
            loglik=family.loglik(y, mu),
            saturated=saturated,
        )

    def design_arrays(self, design: Design) -> tuple[FloatArray, FloatArray, FloatArray]:
        X, y, offset = self._design(design)
        return X.copy(), y.copy(), offset.copy()

    def event_table(
        self, spec: SurvivalSpec, groups: Sequence[str], timemap: TimeMap
    ) -> dict[str, EventTable]:
        out: dict[str, EventTable] = {}
        for key, rows in self._survival_rows(spec, groups, covariates=False).items():
            start, stop, event, _ = rows.mapped(timemap, key)
            times = np.unique(np.concatenate([stop, start[np.isfinite(start)]]))
            at_stop = np.searchsorted(times, stop)
            events = np.bincount(at_stop[event], minlength=times.size)
            censored = np.bincount(at_stop[~event], minlength=times.size)
            finite = np.isfinite(start)
            entries = np.bincount(np.searchsorted(times, start[finite]), minlength=times.size)
            out[key] = EventTable(times, events, censored, entries)
        return out

    def cox_sums(
        self,
        spec: SurvivalSpec,
        beta: FloatArray,
        times: Mapping[str, FloatArray],
        timemap: TimeMap,
    ) -> dict[str, CoxSums]:
        out: dict[str, CoxSums] = {}
        for key, rows in self._survival_rows(spec, spec.strata, covariates=True).items():
            if key not in times:
                continue
            grid = np.asarray(times[key], dtype=np.float64)
            start, stop, event, x = rows.mapped(timemap, key)
            out[key] = _risk_set_sums(x, beta, start, stop, event, grid)
        return out

    def concordance_counts(
        self, spec: SurvivalSpec, beta: FloatArray, timemap: TimeMap
    ) -> tuple[float, int]:
        numerator = 0.0
        pairs = 0
        for key, rows in self._survival_rows(spec, spec.strata, covariates=True).items():
            if np.isfinite(rows.start).any():
                raise InputError(
                    "concordance is defined here for right-censored data without entry times."
                )
            _, stop, event, x = rows.mapped(timemap, key)
            ones = np.ones(stop.size, dtype=np.int64)
            concordant, comparable = harrell(stop, event, x @ beta, ones)
            numerator += concordant
            pairs += comparable
        return numerator, pairs

    # -- helpers ----------------------------------------------------------------------

    def _survival_rows(
        self, spec: SurvivalSpec, groups: Sequence[str], *, covariates: bool
    ) -> dict[str, _Rows]:
        cache_key = (spec, tuple(groups), covariates)
        cached = self._survival.get(cache_key)
        if cached is not None:
            return cached
        columns = [*spec.columns, *groups]
        rows = self._complete(columns)
        stop = self._numeric(spec.stop, rows)
        event_values = self._numeric(spec.event, rows)
        if not np.isin(event_values, (0.0, 1.0)).all():
            raise InputError(
                f"the event column {spec.event!r} must be coded 0/1 (1 = event); recode it "
                "(R's lung data uses 1/2: subtract 1)."
            )
        start = (
            self._numeric(spec.start, rows)
            if spec.start is not None
            else np.full(stop.size, -np.inf)
        )
        if np.any(start >= stop):
            raise InputError(
                f"some rows have {spec.start!r} >= {spec.stop!r}; every interval must "
                "have start < stop."
            )
        x = self._terms(spec.terms, rows) if covariates else np.empty((stop.size, 0))
        if groups:
            # object dtype keeps each column's own type (an int level stays "1", not "1.0")
            values = self._frame.loc[rows, list(groups)].astype(object).to_numpy()
            keys = np.asarray([stratum_key([_python_level(v) for v in row]) for row in values])
        else:
            keys = np.full(stop.size, "all")
        out: dict[str, _Rows] = {}
        for key in sorted(set(keys.tolist())):
            mask = keys == key
            out[key] = _Rows(start[mask], stop[mask], event_values[mask] == 1.0, x[mask])
        self._survival[cache_key] = out
        if len(self._survival) > _DESIGN_CACHE_SIZE:
            self._survival.pop(next(iter(self._survival)))
        return out

    def _terms(self, terms: Sequence[Term], rows: npt.NDArray[np.bool_]) -> FloatArray:
        X = np.empty((int(rows.sum()), len(terms)), dtype=np.float64)
        for j, term in enumerate(terms):
            if term.column is None:
                X[:, j] = 1.0
            elif term.level is not None:
                values = self._column(term.column).to_numpy()[rows]
                X[:, j] = np.asarray(values == term.level, dtype=np.float64)
            else:
                X[:, j] = self._numeric(term.column, rows)
        return X

    def _column(self, name: str) -> pd.Series:
        if name not in self._frame.columns:
            raise UnknownColumn(
                f"column {name!r} does not exist; available columns: "
                f"{sorted(map(str, self._frame.columns))}."
            )
        return self._frame[name]

    def _kind(self, name: str) -> ColumnKind:
        series = self._column(name)
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            return ColumnKind.NUMERIC
        return ColumnKind.CATEGORICAL

    def _complete(self, columns: Sequence[str]) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(self._frame), dtype=bool)
        for name in dict.fromkeys(columns):
            mask &= self._column(name).notna().to_numpy()
        return mask

    def _numeric(self, name: str, rows: npt.NDArray[np.bool_]) -> FloatArray:
        if self._kind(name) is not ColumnKind.NUMERIC:
            raise NonNumericColumn(
                f"column {name!r} is not numeric; use it as a category "
                f"(C({name}) in a formula, or categorical=[{name!r}])."
            )
        return np.asarray(self._column(name).to_numpy()[rows], dtype=np.float64)

    def _design(self, design: Design) -> tuple[FloatArray, FloatArray, FloatArray]:
        cached = self._designs.get(design)
        if cached is not None:
            self._designs.move_to_end(design)
            return cached
        rows = self._complete(design.columns)
        X = self._terms(design.terms, rows)
        y = self._numeric(design.response, rows)
        offset = (
            self._numeric(design.offset, rows)
            if design.offset is not None
            else np.zeros(y.size, dtype=np.float64)
        )
        self._designs[design] = (X, y, offset)
        if len(self._designs) > _DESIGN_CACHE_SIZE:
            self._designs.popitem(last=False)
        return X, y, offset


@dataclass(frozen=True)
class _Rows:
    """One stratum's complete rows: (start, stop], event flag and covariates."""

    start: FloatArray
    stop: FloatArray
    event: npt.NDArray[np.bool_]
    x: FloatArray

    def mapped(
        self, timemap: TimeMap, key: str
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_], FloatArray]:
        """Times after the station's coarsening, and the covariates of the rows kept;
        rows whose interval collapses are dropped (from the covariates too)."""
        stop = np.where(self.event, timemap.events(key, self.stop), timemap.others(key, self.stop))
        start = self.start
        if np.isfinite(start).any():
            start = np.where(np.isfinite(start), timemap.others(key, start), start)
        keep = start < stop
        if keep.all():
            return start, stop, self.event, self.x
        return start[keep], stop[keep], self.event[keep], self.x[keep]


def _risk_set_sums(
    x: FloatArray,
    beta: FloatArray,
    start: FloatArray,
    stop: FloatArray,
    event: npt.NDArray[np.bool_],
    times: FloatArray,
) -> CoxSums:
    """Sums over the risk sets {start < t <= stop} and the events at each time t.

    A row is in the risk sets of times[k] for k in [#times <= start, #times <= stop);
    adding its weight at the first index and subtracting it after the last, then a
    cumulative sum, gives every risk-set sum in O(n + T) per component.
    """
    keep = start < stop
    if not keep.all():  # rows collapsed by the station's time map
        x, start, stop, event = x[keep], start[keep], stop[keep], event[keep]
    T = times.size
    p = x.shape[1]
    w = np.exp(x @ beta)
    first = np.searchsorted(times, start, side="right")
    last = np.searchsorted(times, stop, side="right")

    def risk(weights: FloatArray) -> FloatArray:
        diff = np.bincount(first, weights, minlength=T + 1) - np.bincount(
            last, weights, minlength=T + 1
        )
        return np.cumsum(diff)[:T]

    at = np.searchsorted(times, stop[event], side="left")
    we, xe = w[event], x[event]

    def at_events(weights: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(at, weights, minlength=T)[:T], dtype=np.float64)

    s0 = risk(w)
    e0 = at_events(we)
    s1 = np.empty((T, p))
    e1 = np.empty((T, p))
    s2 = np.empty((T, p, p))
    e2 = np.empty((T, p, p))
    for a in range(p):
        s1[:, a] = risk(w * x[:, a])
        e1[:, a] = at_events(we * xe[:, a])
        for b in range(a + 1):
            s2[:, a, b] = s2[:, b, a] = risk(w * x[:, a] * x[:, b])
            e2[:, a, b] = e2[:, b, a] = at_events(we * xe[:, a] * xe[:, b])
    d = np.bincount(at, minlength=T)[:T].astype(np.int64)
    return CoxSums(d, s0, s1, s2, e0, e1, e2, xe.sum(axis=0), int(stop.size))
