"""The rows of a quality report: a count as shown, one check's outcome, one field's coverage.

These are what :class:`~perron.quality.report.QualityReport` holds and what
:mod:`perron.quality.html` draws; both import them from here, and neither imports
the other's module back (the report renders itself through the HTML module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perron.protocol.errors import InputError
from perron.quality.checks import Status

__all__ = ["CheckResult", "Count", "CoverageRow", "pct", "status_of"]


@dataclass(frozen=True)
class Count:
    """A count as a report shows it: ``value`` (``None`` when suppressed) and its text.

    Examples
    --------
    >>> Count.exact(12).text, Count.suppressed(5).text, Count.suppressed(5).value is None
    ('12', '< 5', True)
    """

    value: int | None
    text: str

    @classmethod
    def exact(cls, n: int) -> Count:
        return cls(int(n), str(int(n)))

    @classmethod
    def suppressed(cls, floor: int) -> Count:
        return cls(None, f"< {floor}")

    def to_json(self) -> int | str:
        return self.value if self.value is not None else self.text

    @classmethod
    def from_json(cls, raw: Any) -> Count:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise InputError(f"a count must be a number or a text like '< 5', not {raw!r}.")
        if isinstance(raw, int):
            return cls.exact(raw)
        return cls(None, raw)


def _count_or_none(raw: Any) -> Count | None:
    return None if raw is None else Count.from_json(raw)


def _json_or_none(count: Count | None) -> int | str | None:
    return None if count is None else count.to_json()


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome, with the check's DQD metadata.

    ``violated`` and ``denominator`` are ``None`` where the check did not run
    (not applicable, error); ``pct_violated`` is a percentage (0-100).
    """

    key: str
    check: str
    level: str
    category: str
    subcategory: str
    context: str
    severity: str
    table: str
    field: str | None
    concept: str | None
    description: str
    threshold: float
    status: Status
    violated: Count | None = None
    denominator: Count | None = None
    pct_violated: float | None = None
    notes: str = ""
    structural: bool = False
    origin: str = "DQD"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "check_name": self.check,
            "check_level": self.level,
            "category": self.category,
            "subcategory": self.subcategory,
            "context": self.context,
            "severity": self.severity,
            "table": self.table,
            "field": self.field,
            "concept": self.concept,
            "description": self.description,
            "threshold": self.threshold,
            "status": self.status.value,
            "num_violated_rows": _json_or_none(self.violated),
            "num_denominator_rows": _json_or_none(self.denominator),
            "pct_violated_rows": self.pct_violated,
            "notes": self.notes,
            "structural": self.structural,
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CheckResult:
        pct = raw.get("pct_violated_rows")
        return cls(
            key=str(raw["key"]),
            check=str(raw["check_name"]),
            level=str(raw["check_level"]),
            category=str(raw["category"]),
            subcategory=str(raw.get("subcategory", "")),
            context=str(raw["context"]),
            severity=str(raw.get("severity", "")),
            table=str(raw["table"]),
            field=None if raw.get("field") is None else str(raw["field"]),
            concept=None if raw.get("concept") is None else str(raw["concept"]),
            description=str(raw.get("description", "")),
            threshold=float(raw["threshold"]),
            status=Status(raw["status"]),
            violated=_count_or_none(raw.get("num_violated_rows")),
            denominator=_count_or_none(raw.get("num_denominator_rows")),
            pct_violated=None if pct is None else float(pct),
            notes=str(raw.get("notes", "")),
            structural=bool(raw.get("structural", False)),
            origin=str(raw.get("origin", "DQD")),
        )


@dataclass(frozen=True)
class CoverageRow:
    """How much of one field is filled: records with a value, and persons with one.

    ``persons`` is ``None`` for a table without ``person_id``; percentages are 0-100.
    """

    table: str
    field: str
    records: Count
    records_total: Count
    pct_records: float | None
    persons: Count | None = None
    persons_total: Count | None = None
    pct_persons: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "field": self.field,
            "records_with_value": self.records.to_json(),
            "records": self.records_total.to_json(),
            "pct_records": self.pct_records,
            "persons_with_value": _json_or_none(self.persons),
            "persons": _json_or_none(self.persons_total),
            "pct_persons": self.pct_persons,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CoverageRow:
        return cls(
            table=str(raw["table"]),
            field=str(raw["field"]),
            records=Count.from_json(raw["records_with_value"]),
            records_total=Count.from_json(raw["records"]),
            pct_records=_float_or_none(raw.get("pct_records")),
            persons=_count_or_none(raw.get("persons_with_value")),
            persons_total=_count_or_none(raw.get("persons")),
            pct_persons=_float_or_none(raw.get("pct_persons")),
        )


def _float_or_none(raw: Any) -> float | None:
    return None if raw is None else float(raw)


def pct(numerator: Count | None, denominator: Count | None) -> float | None:
    """``100 * numerator / denominator`` from shown numbers; ``None`` when either is
    suppressed; 0 for an empty denominator (as DQD)."""
    if numerator is None or denominator is None:
        return None
    if numerator.value is None or denominator.value is None:
        return None
    if denominator.value == 0:
        return 0.0
    return round(100.0 * numerator.value / denominator.value, 4)


def status_of(violated: int, denominator: int, threshold: float) -> Status:
    """DQD's rule: failed when the percentage of violating rows exceeds the threshold."""
    share = 0.0 if denominator == 0 else 100.0 * violated / denominator
    return Status.FAILED if share > threshold else Status.PASSED
