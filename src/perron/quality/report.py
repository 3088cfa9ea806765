"""A data quality report: one row per check, the coverage of each field, and a summary.

A report is made at the station with exact numbers (:func:`~perron.quality.run.run_checks`)
and never leaves it so. :meth:`QualityReport.released` applies the holder's
disclosure rules (:func:`perron.privacy.rules.release_counts`) to every number that
counts records, persons or values:

- a count below ``min_cell`` (zero excepted) is suppressed and shown as
  ``"< min_cell"``, never as the number; with ``round_counts`` the others are
  rounded;
- a percentage is computed from the released numbers, and withheld when one of them
  is suppressed;
- a status is decided from the released numbers too: ``passed`` only when every
  count the release is consistent with passes, ``failed`` when every such count
  fails, and ``failed`` with a note when the release leaves it open (so a status
  never tells more than the numbers shown);
- structural checks (is a table or field there) are yes/no answers about the
  data's shape and are released as they are.

The JSON form (:meth:`QualityReport.to_json`) holds a count as a number, or as the
text ``"< 5"`` when it is suppressed; ``disclosure`` says which rules were applied
(``null``: exact numbers, for the station's own eyes only).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from perron.privacy.policy import DisclosurePolicy
from perron.privacy.rules import MIN_CELL, ROUNDING, release_counts
from perron.protocol.errors import InputError
from perron.protocol.messages import Decision, Outcome
from perron.quality.checks import Category, Context, Status
from perron.quality.html import render
from perron.quality.rows import CheckResult, Count, CoverageRow, pct

__all__ = ["CheckResult", "Count", "CoverageRow", "QualityReport", "release"]

Kind = Literal["cdm", "dataset"]
_FORMAT = "perron.quality/1"


@dataclass(frozen=True)
class QualityReport:
    """A data quality report on one dataset (a CDM or a flat analysis table).

    Attributes
    ----------
    dataset : str
        The dataset's name.
    kind : {"cdm", "dataset"}
        An OMOP CDM, or the flat table analyses read.
    generated : str
        When the checks ran (ISO 8601, UTC).
    checks : tuple of CheckResult
    coverage : tuple of CoverageRow
    notes : tuple of str
        What the report could not check (unknown tables, fields), and why.
    disclosure : mapping or None
        The rules applied to the numbers (``min_cell``, ``round_counts``); ``None``
        for exact numbers, which never leave the station.
    """

    dataset: str
    kind: Kind
    generated: str
    checks: tuple[CheckResult, ...]
    coverage: tuple[CoverageRow, ...] = ()
    notes: tuple[str, ...] = ()
    disclosure: Mapping[str, Any] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def now() -> str:
        return datetime.now(UTC).replace(microsecond=0).isoformat()

    # -- reading ----------------------------------------------------------------------

    @property
    def is_released(self) -> bool:
        return self.disclosure is not None

    def status_counts(self) -> dict[str, int]:
        """Checks per status (every status present, zero included)."""
        counts = Counter(c.status.value for c in self.checks)
        return {s.value: counts.get(s.value, 0) for s in Status}

    def overview(self) -> dict[str, dict[str, dict[str, int]]]:
        """DQD's dashboard overview: passed / failed / total per context and category.

        ``overview()["Verification"]["Plausibility"]["failed"]``; the ``"Total"`` context
        and category add up the others. Not-applicable checks and errors are not in it.
        """
        contexts = [c.value for c in Context] + ["Total"]
        categories = [c.value for c in Category] + ["Total"]
        table = {
            x: {y: {"passed": 0, "failed": 0, "total": 0} for y in categories} for x in contexts
        }
        for check in self.checks:
            if check.status not in (Status.PASSED, Status.FAILED):
                continue
            for x in (check.context, "Total"):
                for y in (check.category, "Total"):
                    cell = table[x][y]
                    cell[check.status.value] += 1
                    cell["total"] += 1
        return table

    def summary(self) -> dict[str, Any]:
        """Counts per status and per category, and the share of passed checks."""
        counts = self.status_counts()
        decided = counts["passed"] + counts["failed"]
        per_category: dict[str, dict[str, int]] = {}
        for check in self.checks:
            cell = per_category.setdefault(check.category, {s.value: 0 for s in Status})
            cell[check.status.value] += 1
        return {
            "dataset": self.dataset,
            "kind": self.kind,
            "generated": self.generated,
            "checks": len(self.checks),
            "status": counts,
            "categories": per_category,
            "pct_passed": None if decided == 0 else round(100.0 * counts["passed"] / decided, 1),
        }

    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is Status.FAILED)

    def check(self, key: str) -> CheckResult:
        """The result of the check with this key (``name.table[.field][.concept]``)."""
        for result in self.checks:
            if result.key == key:
                return result
        raise KeyError(f"no check {key!r} in the report on {self.dataset!r}")

    @property
    def table(self) -> pd.DataFrame:
        """One row per check (as DQD's results table)."""
        rows = [
            {
                "status": c.status.value,
                "check": c.check,
                "level": c.level,
                "category": c.category,
                "table": c.table,
                "field": c.field,
                "concept": c.concept,
                "violated": None if c.violated is None else c.violated.text,
                "denominator": None if c.denominator is None else c.denominator.text,
                "pct_violated": c.pct_violated,
                "threshold": c.threshold,
            }
            for c in self.checks
        ]
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        counts = self.status_counts()
        state = "exact numbers (station only)" if self.disclosure is None else "released"
        lines = [
            f"quality report on {self.dataset} ({self.kind}, {state}): {len(self.checks)} "
            f"checks, {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['not_applicable']} not applicable, {counts['error']} errors"
        ]
        for check in self.failures():
            shown = "" if check.violated is None else f" {check.violated.text} of "
            shown += "" if check.denominator is None else check.denominator.text
            lines.append(f"  FAILED {check.key}:{shown} (threshold {check.threshold:g}%)")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    # -- disclosure -------------------------------------------------------------------

    def released(self, policy: DisclosurePolicy, *, station: str = "station") -> QualityReport:
        """This report with the holder's disclosure rules applied (see the module)."""
        return release(self, policy, station)[0]

    # -- JSON and HTML ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "dataset": self.dataset,
            "kind": self.kind,
            "generated": self.generated,
            "disclosure": None if self.disclosure is None else dict(self.disclosure),
            "summary": self.summary(),
            "checks": [c.to_dict() for c in self.checks],
            "coverage": [r.to_dict() for r in self.coverage],
            "notes": list(self.notes),
            "settings": dict(self.settings),
        }

    def to_json(self, *, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> QualityReport:
        """A report from :meth:`to_dict`; ``InputError`` if it is not one."""
        if not isinstance(raw, Mapping) or raw.get("format") != _FORMAT:
            raise InputError(
                f"this is not a Perron quality report (format {_FORMAT!r}); make it with "
                "`perron station quality`."
            )
        try:
            kind = raw["kind"]
            if kind not in ("cdm", "dataset"):
                raise InputError(f"a report's kind is 'cdm' or 'dataset', not {kind!r}.")
            disclosure = raw.get("disclosure")
            return cls(
                dataset=str(raw["dataset"]),
                kind=kind,
                generated=str(raw["generated"]),
                checks=tuple(CheckResult.from_dict(c) for c in raw["checks"]),
                coverage=tuple(CoverageRow.from_dict(r) for r in raw.get("coverage", [])),
                notes=tuple(str(n) for n in raw.get("notes", [])),
                disclosure=None if disclosure is None else dict(disclosure),
                settings=dict(raw.get("settings", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"the quality report is damaged ({type(exc).__name__}: {exc}); run "
                "`perron station quality` again."
            ) from None

    @classmethod
    def from_json(cls, text: str) -> QualityReport:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"the quality report is not JSON: {exc}.") from None
        return cls.from_dict(raw)

    def to_html(self, *, title: str | None = None) -> str:
        """A self-contained HTML page (every string escaped)."""
        return render([(self.dataset, self)], title=title or f"Data quality: {self.dataset}")


# --------------------------------------------------------------------------------------
# Releasing a report
# --------------------------------------------------------------------------------------


@dataclass
class _Releaser:
    policy: DisclosurePolicy
    station: str
    suppressed: bool = False

    def counts(self, values: Sequence[int]) -> list[Count]:
        shown, _ = release_counts(
            self.station, np.asarray(values, dtype=np.int64), self.policy, "quality report"
        )
        out: list[Count] = []
        for value in shown.tolist():
            if math.isnan(value):
                self.suppressed = True
                out.append(Count.suppressed(self.policy.min_cell))
            else:
                out.append(Count.exact(int(value)))
        return out

    def bounds(self, count: Count) -> tuple[float, float]:
        """The exact counts a shown count is consistent with."""
        if count.value is None:
            return 1.0, float(self.policy.min_cell - 1)
        if self.policy.round_counts is None:
            return float(count.value), float(count.value)
        half = self.policy.round_counts / 2
        return max(0.0, math.ceil(count.value - half)), math.floor(count.value + half)


def _exact(count: Count | None, what: str) -> int:
    if count is None or count.value is None:
        raise InputError(f"the report has no exact {what}; release the station's exact report.")
    return count.value


def _shown_status(
    check: CheckResult, violated: Count, denominator: Count, how: _Releaser
) -> tuple[Status, str]:
    low_v, high_v = how.bounds(violated)
    low_d, high_d = how.bounds(denominator)
    least = 0.0 if high_d == 0 else 100.0 * low_v / high_d
    most = 100.0 * min(1.0, high_v / low_d) if low_d > 0 else (100.0 if high_v > 0 else 0.0)
    if most <= check.threshold:
        return Status.PASSED, ""
    if least > check.threshold:
        return Status.FAILED, ""
    return Status.FAILED, (
        "Reported as failed: the released counts leave open whether the threshold is "
        "exceeded (the exact counts stay at the station)."
    )


def _release_check(check: CheckResult, how: _Releaser) -> CheckResult:
    if check.violated is None or check.denominator is None or check.structural:
        return check
    violated, denominator = how.counts(
        [_exact(check.violated, "counts"), _exact(check.denominator, "counts")]
    )
    status, note = check.status, ""
    exact = how.policy.round_counts is None and None not in (violated.value, denominator.value)
    if check.status in (Status.PASSED, Status.FAILED) and not exact:
        # The reader sees only the released counts: decide the status from them.
        status, note = _shown_status(check, violated, denominator, how)
    notes = " ".join(n for n in (check.notes, note) if n)
    return replace(
        check,
        violated=violated,
        denominator=denominator,
        pct_violated=pct(violated, denominator),
        status=status,
        notes=notes,
    )


def _release_coverage(row: CoverageRow, how: _Releaser) -> CoverageRow:
    values = [_exact(row.records, "coverage"), _exact(row.records_total, "coverage")]
    if row.persons is not None and row.persons_total is not None:
        values += [_exact(row.persons, "coverage"), _exact(row.persons_total, "coverage")]
    shown = how.counts(values)
    persons = shown[2] if len(shown) > 2 else None
    persons_total = shown[3] if len(shown) > 2 else None
    return replace(
        row,
        records=shown[0],
        records_total=shown[1],
        pct_records=pct(shown[0], shown[1]),
        persons=persons,
        persons_total=persons_total,
        pct_persons=pct(persons, persons_total),
    )


def release(
    report: QualityReport, policy: DisclosurePolicy, station: str
) -> tuple[QualityReport, list[Decision]]:
    """The report as ``policy`` lets it leave ``station``, and the decisions taken.

    Raises
    ------
    InputError
        If the report was released before: rules apply to exact numbers only.
    """
    if report.is_released:
        raise InputError(
            "this quality report was released already; apply disclosure rules to the "
            "station's exact report (state/quality/<dataset>.exact.json)."
        )
    how = _Releaser(policy, station)
    checks = tuple(_release_check(c, how) for c in report.checks)
    coverage = tuple(_release_coverage(r, how) for r in report.coverage)
    subject = f"quality report on {report.dataset}"
    outcome: Outcome = "suppressed" if how.suppressed else "passed"
    decisions = [Decision(station, MIN_CELL, policy.min_cell, outcome, subject)]
    if policy.round_counts is not None:
        decisions.append(Decision(station, ROUNDING, policy.round_counts, "rounded", subject))
    disclosure = {"min_cell": policy.min_cell, "round_counts": policy.round_counts}
    released = replace(report, checks=checks, coverage=coverage, disclosure=disclosure)
    return released, decisions
