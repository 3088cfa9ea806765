"""The data seam: what a station step may ask of its local data.

A station step never receives a DataFrame. It asks a :class:`DataSource` for
aggregates (counts, moments, binned counts, GLM cross-products) over the complete
cases of the columns it names. :class:`~perron.data.frame.FrameSource` answers with
pandas/numpy; :class:`~perron.data.sql.SqlSource` (DuckDB files, CSV/Parquet scanned
by DuckDB, any SQLAlchemy database) answers the same questions with ``GROUP BY``
and ``SUM`` pushed into the database, so large tables never load into memory (its
module docstring lists what runs where). Every answer has a size that does not
depend on the number of rows (Harrell's concordance over SQL is the exception: see
:mod:`perron.data.sql`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from perron.data.design import Design, Level
from perron.data.families import Family
from perron.data.survival import CoxSums, EventTable, SurvivalSpec, TimeMap


class ColumnKind(Enum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Moments:
    """Count, mean and centred sum of squares of a column (plus its range)."""

    n: int
    mean: float
    m2: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class IrlsSums:
    """One station's contribution to an IRLS iteration at a given coefficient vector."""

    n: int
    xtwx: npt.NDArray[np.float64]
    xtwz: npt.NDArray[np.float64]
    deviance: float
    pearson_chi2: float
    loglik: float
    #: Whether any fitted probability/mean is numerically 0 or 1 (separation sign).
    saturated: bool


class DataSource(Protocol):
    """Aggregates over one station's dataset, complete-case on the columns named."""

    def schema(self) -> Mapping[str, ColumnKind]:
        """Column names and kinds."""
        ...

    def complete_count(self, columns: Sequence[str]) -> int:
        """Rows with a value in every one of ``columns``."""
        ...

    def missing_counts(self, columns: Sequence[str]) -> dict[str, int]:
        """Missing values per column."""
        ...

    def moments(self, column: str) -> Moments:
        """Moments of a numeric column over its non-missing rows."""
        ...

    def distinct_count(self, column: str, complete_on: Sequence[str]) -> int:
        """Number of distinct values of ``column`` (kept at the station, never released)."""
        ...

    def value_counts(
        self, columns: Sequence[str], complete_on: Sequence[str]
    ) -> dict[tuple[Level, ...], int]:
        """Counts of each combination of values of ``columns``."""
        ...

    def count_at_most(
        self, column: str, thresholds: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """For each threshold t, the number of non-missing values <= t."""
        ...

    def smallest_above(
        self, column: str, thresholds: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """For each threshold t, the smallest non-missing value > t (NaN if none)."""
        ...

    def bin_counts(self, column: str, edges: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Counts below the first edge, in each bin, and above the last edge.

        Bins are ``[e_i, e_{i+1})`` except the last, which is closed (numpy's rule).
        """
        ...

    def irls_sums(
        self, design: Design, family: Family, beta: npt.NDArray[np.float64] | None
    ) -> IrlsSums:
        """X'WX, X'Wz, deviance and log-likelihood at ``beta`` (starting values if None)."""
        ...

    def design_arrays(
        self, design: Design
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The design matrix X, the response y and the offset over the complete rows.

        For station-side work that needs the rows themselves (training steps of
        models without sufficient statistics, scores of a given model). The arrays
        stay inside the station: a station step releases only aggregates of them. An
        SQL source reads the selected columns into memory.
        """
        ...

    def event_table(
        self, spec: SurvivalSpec, groups: Sequence[str], timemap: TimeMap
    ) -> dict[str, EventTable]:
        """Events, censorings and entries by (mapped) time, per group of ``groups``.

        Complete-case on the spec's and the groups' columns; keys are
        :func:`~perron.data.survival.stratum_key` of the group values.
        """
        ...

    def cox_sums(
        self,
        spec: SurvivalSpec,
        beta: npt.NDArray[np.float64],
        times: Mapping[str, npt.NDArray[np.float64]],
        timemap: TimeMap,
    ) -> dict[str, CoxSums]:
        """Risk-set and event sums at ``times`` per stratum of ``spec.strata``."""
        ...

    def concordance_counts(
        self, spec: SurvivalSpec, beta: npt.NDArray[np.float64], timemap: TimeMap
    ) -> tuple[float, int]:
        """Harrell's concordance over pairs within each stratum of this station.

        Returns (concordant pairs + half the pairs tied in risk score, comparable
        pairs). A pair is comparable when one subject has an event before the
        other's time (a censoring at the same time counts as later).
        """
        ...
