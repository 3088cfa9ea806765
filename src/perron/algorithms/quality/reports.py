"""Data quality reports from every station, released under each holder's rules.

One round. Each station

1. checks its analysis dataset through the data seam, as far as aggregates allow
   (:mod:`perron.quality.checks` names and metadata): ``cdmField`` and
   ``cdmDatatype`` (the columns the researcher expects, with their kind),
   ``isRequired`` and ``measureValueCompleteness`` (``missing_counts``),
   ``plausibleValueLow`` / ``plausibleValueHigh`` (``count_at_most`` with the
   ranges in the parameters), ``allowedValues`` (``value_counts``, levels outside
   the allowed set), and the coverage of every column;
2. adds its OMOP CDM report when it has one: a report ``perron station quality``
   computed on the holder's whole CDM and stored with exact numbers
   (``state/quality/<dataset>.exact.json``); its source then carries it
   (:class:`QualityReportSource`, e.g. :class:`WithQualityReport`);
3. releases both under the task's disclosure settings
   (:meth:`perron.quality.report.QualityReport.released`: counts below
   ``min_cell`` as ``"< min_cell"``, rounding, percentages and statuses from the
   released numbers) and refuses a dataset with fewer than ``min_rows`` rows.

The coordinator returns the reports per station (:class:`QualityResult`). Nothing
but released counts, percentages and statuses leaves a station; the number of
checks depends on the parameters and the CDM's schema, never on the rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    FederatedResult,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.data.design import Design, Level
from perron.data.families import Family
from perron.data.source import ColumnKind, DataSource, IrlsSums, Moments
from perron.data.survival import CoxSums, EventTable, SurvivalSpec, TimeMap
from perron.privacy.rules import MIN_CELL, MIN_ROWS, ROUNDING, check_min_rows
from perron.protocol.errors import InputError
from perron.protocol.messages import Decision
from perron.quality.checks import Check, check_type
from perron.quality.html import render
from perron.quality.report import QualityReport, release
from perron.quality.rows import CheckResult, Count, CoverageRow, pct
from perron.quality.run import result_of
from perron.quality.store import load, report_files

__all__ = [
    "Quality",
    "exact_report_path",
    "QualityReportSource",
    "QualityResult",
    "WithQualityReport",
]

FloatArray = npt.NDArray[np.float64]
_KINDS = {"numeric": ColumnKind.NUMERIC, "categorical": ColumnKind.CATEGORICAL}


# --------------------------------------------------------------------------------------
# A station's CDM report, behind the data seam
# --------------------------------------------------------------------------------------


@runtime_checkable
class QualityReportSource(Protocol):
    """A data source that also holds its station's exact CDM quality report."""

    def quality_report(self) -> QualityReport | None:
        """The exact report (``None``: the station has none yet)."""
        ...


class WithQualityReport:
    """A station's data source together with its CDM quality report.

    Parameters
    ----------
    source
        The station's data source; every aggregate is asked of it.
    report
        The exact report, or the path of ``state/quality/<dataset>.exact.json``
        (read at every task, so a new ``perron station quality`` run counts at once;
        a missing file means no report).

    Examples
    --------
    >>> import pandas as pd
    >>> from perron.data.frame import FrameSource
    >>> source = WithQualityReport(FrameSource(pd.DataFrame({"x": [1.0]})), Path("none.json"))
    >>> source.complete_count(["x"]), source.quality_report() is None
    (1, True)
    """

    def __init__(self, source: DataSource, report: QualityReport | Path) -> None:
        self.source = source
        self._report = report

    def quality_report(self) -> QualityReport | None:
        if isinstance(self._report, QualityReport):
            return self._report
        if not self._report.exists():
            return None
        return load(self._report)

    # -- the DataSource protocol, delegated --------------------------------------------

    def schema(self) -> Mapping[str, ColumnKind]:
        return self.source.schema()

    def complete_count(self, columns: Sequence[str]) -> int:
        return self.source.complete_count(columns)

    def missing_counts(self, columns: Sequence[str]) -> dict[str, int]:
        return self.source.missing_counts(columns)

    def moments(self, column: str) -> Moments:
        return self.source.moments(column)

    def distinct_count(self, column: str, complete_on: Sequence[str]) -> int:
        return self.source.distinct_count(column, complete_on)

    def value_counts(
        self, columns: Sequence[str], complete_on: Sequence[str]
    ) -> dict[tuple[Level, ...], int]:
        return self.source.value_counts(columns, complete_on)

    def count_at_most(self, column: str, thresholds: FloatArray) -> npt.NDArray[np.int64]:
        return self.source.count_at_most(column, thresholds)

    def smallest_above(self, column: str, thresholds: FloatArray) -> FloatArray:
        return self.source.smallest_above(column, thresholds)

    def bin_counts(self, column: str, edges: FloatArray) -> npt.NDArray[np.int64]:
        return self.source.bin_counts(column, edges)

    def irls_sums(self, design: Design, family: Family, beta: FloatArray | None) -> IrlsSums:
        return self.source.irls_sums(design, family, beta)

    def design_arrays(self, design: Design) -> tuple[FloatArray, FloatArray, FloatArray]:
        return self.source.design_arrays(design)

    def event_table(
        self, spec: SurvivalSpec, groups: Sequence[str], timemap: TimeMap
    ) -> dict[str, EventTable]:
        return self.source.event_table(spec, groups, timemap)

    def cox_sums(
        self,
        spec: SurvivalSpec,
        beta: FloatArray,
        times: Mapping[str, FloatArray],
        timemap: TimeMap,
    ) -> dict[str, CoxSums]:
        return self.source.cox_sums(spec, beta, times, timemap)

    def concordance_counts(
        self, spec: SurvivalSpec, beta: FloatArray, timemap: TimeMap
    ) -> tuple[float, int]:
        return self.source.concordance_counts(spec, beta, timemap)


# --------------------------------------------------------------------------------------
# Checks on the analysis dataset through the seam
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """The station step's parameters, checked."""

    columns: tuple[str, ...] | None = None
    required: tuple[str, ...] = ()
    expected: Mapping[str, str] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    levels: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    cdm: bool = True

    @classmethod
    def from_params(cls, params: Payload) -> _Request:
        unknown = sorted(set(params) - set(cls.__dataclass_fields__))
        if unknown:
            raise InputError(f"unknown quality parameters {unknown}.")
        expected = {str(k): str(v) for k, v in dict(params.get("expected") or {}).items()}
        wrong = sorted(k for k, v in expected.items() if v not in _KINDS)
        if wrong:
            raise InputError(f"expected kinds of {wrong} must be 'numeric' or 'categorical'.")
        ranges: dict[str, tuple[float | None, float | None]] = {}
        for column, bounds in dict(params.get("ranges") or {}).items():
            if not isinstance(bounds, Sequence) or len(bounds) != 2:
                raise InputError(f"range of {column!r} must be [low, high] (null for open).")
            low, high = (None if b is None else float(b) for b in bounds)
            if low is not None and high is not None and low > high:
                raise InputError(f"range of {column!r}: low is above high.")
            ranges[str(column)] = (low, high)
        columns = params.get("columns")
        return cls(
            columns=None if columns is None else tuple(str(c) for c in columns),
            required=tuple(str(c) for c in params.get("required") or ()),
            expected=expected,
            ranges=ranges,
            levels={str(k): tuple(v) for k, v in dict(params.get("levels") or {}).items()},
            thresholds={str(k): float(v) for k, v in dict(params.get("thresholds") or {}).items()},
            cdm=bool(params.get("cdm", True)),
        )

    def to_params(self) -> dict[str, Any]:
        return {
            "columns": None if self.columns is None else list(self.columns),
            "required": list(self.required),
            "expected": dict(self.expected),
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "levels": {k: list(v) for k, v in self.levels.items()},
            "thresholds": dict(self.thresholds),
            "cdm": self.cdm,
        }


def _check(name: str, dataset: str, column: str, threshold: float, argument: str = "") -> Check:
    return Check(check_type(name), dataset, column, threshold=threshold, argument=argument)


def _tuned(check: Check, thresholds: Mapping[str, float]) -> Check:
    override = thresholds.get(check.key, thresholds.get(check.name))
    return check if override is None else replace(check, threshold=override)


def _below(data: DataSource, column: str, bound: float) -> int:
    """Values strictly below ``bound``."""
    edge = np.asarray([np.nextafter(bound, -np.inf)], dtype=np.float64)
    return int(data.count_at_most(column, edge)[0])


def dataset_report(data: DataSource, request: _Request, dataset: str, n: int) -> QualityReport:
    """The exact report on a station's analysis dataset, through the seam only."""
    schema = data.schema()
    columns = list(request.columns) if request.columns is not None else list(schema)
    present = [c for c in dict.fromkeys([*columns, *request.required]) if c in schema]
    missing = data.missing_counts(present) if present else {}
    results: list[CheckResult] = []

    def add(
        check: Check,
        violated: int | None = None,
        denominator: int | None = None,
        *,
        not_applicable: str | None = None,
        error: str | None = None,
    ) -> None:
        tuned = _tuned(check, request.thresholds)
        results.append(
            result_of(tuned, violated, denominator, not_applicable=not_applicable, error=error)
        )

    def absent(column: str) -> str:
        return f"Column {column} is not in the dataset."

    for column, kind in request.expected.items():
        add(_check("cdmField", dataset, column, 0.0, "expected"), int(column not in schema), 1)
        check = _check("cdmDatatype", dataset, column, 0.0, kind)
        if column not in schema:
            add(check, not_applicable=absent(column))
        else:
            add(check, int(schema[column] is not _KINDS[kind]), 1)
    for column in request.required:
        check = _check("isRequired", dataset, column, 0.0)
        if column not in schema:
            add(check, not_applicable=absent(column))
        else:
            add(check, missing[column], n)
    for column in [c for c in columns if c in schema]:
        add(_check("measureValueCompleteness", dataset, column, 100.0), missing[column], n)
    for column, (low, high) in request.ranges.items():
        filled = n - missing.get(column, 0)
        for name, bound in (("plausibleValueLow", low), ("plausibleValueHigh", high)):
            if bound is None:
                continue
            check = _check(name, dataset, column, 1.0, f"{bound:g}")
            if column not in schema:
                add(check, not_applicable=absent(column))
            elif schema[column] is not ColumnKind.NUMERIC:
                add(check, error=f"Column {column} is not numeric.")
            elif filled == 0:
                add(check, not_applicable=f"Column {column} is not populated.")
            elif name == "plausibleValueLow":
                add(check, _below(data, column, bound), filled)
            else:
                at_most = data.count_at_most(column, np.asarray([bound], dtype=np.float64))
                add(check, filled - int(at_most[0]), filled)
    for column, allowed in request.levels.items():
        shown = ", ".join(str(v) for v in allowed)
        check = _check("allowedValues", dataset, column, 0.0, f"{{{shown}}}")
        if column not in schema:
            add(check, not_applicable=absent(column))
            continue
        counts = data.value_counts([column], [])
        wanted = {str(v) for v in allowed}
        outside = sum(c for key, c in counts.items() if str(key[0]) not in wanted)
        add(check, outside, sum(counts.values()))
    coverage = tuple(
        CoverageRow(
            dataset,
            c,
            Count.exact(n - missing[c]),
            Count.exact(n),
            pct(Count.exact(n - missing[c]), Count.exact(n)),
        )
        for c in columns
        if c in schema
    )
    return QualityReport(
        dataset=dataset,
        kind="dataset",
        generated=QualityReport.now(),
        checks=tuple(results),
        coverage=coverage,
    )


# --------------------------------------------------------------------------------------
# The algorithm
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class QualityResult(FederatedResult):
    """Per station, the released report on its analysis dataset and on its CDM.

    Attributes
    ----------
    reports : mapping of station to QualityReport
        The analysis dataset's checks and coverage.
    cdm : mapping of station to QualityReport
        The OMOP CDM report of each station that has one.
    """

    reports: Mapping[str, QualityReport]
    cdm: Mapping[str, QualityReport] = field(default_factory=dict)

    def sections(self) -> list[tuple[str, QualityReport]]:
        """(heading, report) for every report, station by station."""
        out: list[tuple[str, QualityReport]] = []
        for station, report in self.reports.items():
            out.append((f"{station}: analysis dataset", report))
            if station in self.cdm:
                out.append((f"{station}: OMOP CDM", self.cdm[station]))
        return out

    @property
    def table(self) -> pd.DataFrame:
        """Checks per status, per station and report."""
        rows = []
        for heading, report in self.sections():
            station, _, kind = heading.partition(": ")
            summary = report.summary()
            rows.append(
                {
                    "station": station,
                    "report": kind,
                    **summary["status"],
                    "pct_passed": summary["pct_passed"],
                }
            )
        return pd.DataFrame(rows).set_index(["station", "report"])

    def to_html(self, title: str = "Data quality per station") -> str:
        """One self-contained page with every report (strings escaped)."""
        return render(self.sections(), title=title)

    def to_json(self) -> str:
        stations = {
            s: {"dataset": r.to_dict(), "cdm": None if s not in self.cdm else self.cdm[s].to_dict()}
            for s, r in self.reports.items()
        }
        return json.dumps({"stations": stations}, indent=1, ensure_ascii=False)

    def __str__(self) -> str:
        return self.table.to_string()


class Quality(FederatedAlgorithm[None, QualityResult]):
    """Data quality checks at every station: the analysis dataset and the CDM.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> frames = {s: pd.DataFrame({"age": [30.0 + i for i in range(20)] + [250.0]})
    ...           for s in ("a", "b")}
    >>> result = perron.simulate(frames).quality(ranges={"age": [0, 120]})
    >>> result.reports["a"].check("plausibleValueHigh.a.age").status.value
    'failed'
    """

    name = "quality"
    contract = DisclosureContract(
        releases={
            "dataset": "the analysis dataset's quality report: one row per check asked for and "
            "one coverage row per column; released counts, percentages and statuses",
            "cdm": "the CDM quality report stored at the station (one row per check of the "
            "catalogue and per CDM field), released the same way; or null",
        },
        rules=(MIN_ROWS, MIN_CELL, ROUNDING),
    )

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        *,
        required: Sequence[str] = (),
        expected: Mapping[str, str] | None = None,
        ranges: Mapping[str, Sequence[float | None]] | None = None,
        levels: Mapping[str, Sequence[Any]] | None = None,
        thresholds: Mapping[str, float] | None = None,
        cdm: bool = True,
    ) -> None:
        params = {
            "columns": None if columns is None else list(columns),
            "required": list(required),
            "expected": dict(expected or {}),
            "ranges": {k: list(v) for k, v in (ranges or {}).items()},
            "levels": {k: list(v) for k, v in (levels or {}).items()},
            "thresholds": dict(thresholds or {}),
            "cdm": cdm,
        }
        self.request = _Request.from_params(params)  # fail early, at the researcher

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        request = _Request.from_params(params)
        station, policy = context.station, context.policy
        n = data.complete_count([])
        decisions: list[Decision] = [check_min_rows(station, n, policy, "quality report")]
        exact = dataset_report(data, request, station, n)
        released, found = release(exact, policy, station)
        decisions.extend(found)
        cdm = None
        if request.cdm and isinstance(data, QualityReportSource):
            stored = data.quality_report()
            if stored is not None:
                shown, found = release(stored, policy, station)
                decisions.extend(found)
                cdm = shown.to_dict()
        return StationOutput({"dataset": released.to_dict(), "cdm": cdm}, decisions)

    def start(self) -> Next[None]:
        return Next(self.request.to_params(), None)

    def coordinator_step(self, partials: Mapping[str, Payload], state: None) -> Done[QualityResult]:
        reports: dict[str, QualityReport] = {}
        cdm: dict[str, QualityReport] = {}
        nobs: dict[str, int] = {}
        for station, payload in partials.items():
            report = QualityReport.from_dict(payload["dataset"])
            reports[station] = report
            total = report.coverage[0].records_total.value if report.coverage else None
            if total is not None:
                nobs[station] = total
            if payload.get("cdm") is not None:
                cdm[station] = QualityReport.from_dict(payload["cdm"])
        return Done(QualityResult(reports=reports, cdm=cdm, nobs_per_station=nobs))


def exact_report_path(state_dir: Path, dataset: str) -> Path:
    """Where ``perron station quality`` keeps a dataset's exact CDM report: what a
    station wraps its source with (``WithQualityReport(source, path)``)."""
    return report_files(state_dir, dataset).exact
