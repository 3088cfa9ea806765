"""What a data holder can tune in a quality report, and the defaults Perron ships.

DQD's field-level thresholds come with the catalogue (:mod:`perron.quality.dqd`).
This module holds the rest:

- the patient-journey rules: the minimum interval between successive
  administrations of a drug class (chemotherapy, ATC ``L01``, at least 7 days
  apart by default), the days after death that events may still be recorded
  (DQD's ``plausibleBeforeDeath`` allows 60) and the window around a visit
  (DQD's ``withinVisitDates``: one week);
- the concept-level rules, on source codes because Perron ships no OHDSI
  vocabulary: diagnoses and procedures of one sex (``plausibleGender``), plausible
  ranges and units of lab values (``plausibleValueLow/High``,
  ``plausibleUnitConceptIds``);
- per-check threshold overrides and checks to leave out, by check name
  (``plausibleValueLow``) or key (``plausibleValueLow.person.year_of_birth``).

In ``station.toml``, the ``[quality]`` table names the CDM to check and may set any
of these (:class:`StationQuality`)::

    [quality]
    mapping = "omop/mapping.toml"           # or fhir = ["fhir/*.json"], or tables = "cdm/"
    death_grace_days = 60
    skip = ["withinVisitDates"]

    [quality.thresholds]
    "measureValueCompleteness.measurement.value_as_number" = 10

    [[quality.intervals]]
    name = "chemotherapy"
    codes = ["ATC:L01*"]
    min_days = 14
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from perron.omop.view import CodeSet
from perron.protocol.errors import InputError

__all__ = [
    "DEFAULT_GENDERS",
    "DEFAULT_INTERVALS",
    "DEFAULT_RANGES",
    "DEFAULT_UNITS",
    "GenderRule",
    "IntervalRule",
    "QualitySettings",
    "StationQuality",
    "UnitRule",
    "ValueRange",
]


def _codes(where: str, codes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(codes, str) or not codes:
        raise InputError(
            f"{where}: codes must be a list of 'VOCAB:code' patterns, e.g. ['ATC:L01*']."
        )
    CodeSet.parse(*codes)  # raises on a malformed pattern
    return tuple(codes)


def _threshold(where: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InputError(f"{where}: threshold must be a percentage from 0 to 100, not {value!r}.")
    return float(value)


@dataclass(frozen=True)
class IntervalRule:
    """Successive administrations of a drug class at least ``min_days`` apart.

    Administrations are the distinct start dates of the person's drug exposures that
    match ``codes`` (several drugs of one regimen on one day count once); a pair of
    successive dates fewer than ``min_days`` apart is a violation.

    Examples
    --------
    >>> IntervalRule("chemotherapy", ("ATC:L01*",), min_days=14).min_days
    14
    """

    name: str
    codes: tuple[str, ...]
    min_days: int
    threshold: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", _codes(f"interval rule {self.name!r}", self.codes))
        if isinstance(self.min_days, bool) or not isinstance(self.min_days, int):
            raise InputError(f"interval rule {self.name!r}: min_days must be a whole number.")
        if self.min_days < 1:
            raise InputError(f"interval rule {self.name!r}: min_days must be at least 1.")
        _threshold(f"interval rule {self.name!r}", self.threshold)


@dataclass(frozen=True)
class GenderRule:
    """Conditions and procedures that belong to one sex (DQD's ``plausibleGender``)."""

    name: str
    codes: tuple[str, ...]
    gender: Literal["male", "female"]
    threshold: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", _codes(f"gender rule {self.name!r}", self.codes))
        if self.gender not in ("male", "female"):
            raise InputError(f"gender rule {self.name!r}: gender must be 'male' or 'female'.")
        _threshold(f"gender rule {self.name!r}", self.threshold)


@dataclass(frozen=True)
class ValueRange:
    """A plausible range of ``value_as_number`` for one lab code (and unit, if given)."""

    name: str
    code: str
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    threshold: float = 5.0

    def __post_init__(self) -> None:
        _codes(f"value range {self.name!r}", [self.code])
        if self.low is None and self.high is None:
            raise InputError(f"value range {self.name!r}: give low, high or both.")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InputError(f"value range {self.name!r}: low is above high.")
        _threshold(f"value range {self.name!r}", self.threshold)


@dataclass(frozen=True)
class UnitRule:
    """The units (``unit_source_value``, UCUM) a lab code may be recorded in."""

    name: str
    code: str
    units: tuple[str, ...]
    threshold: float = 5.0

    def __post_init__(self) -> None:
        _codes(f"unit rule {self.name!r}", [self.code])
        if isinstance(self.units, str) or not self.units:
            raise InputError(f"unit rule {self.name!r}: units must be a non-empty list.")
        object.__setattr__(self, "units", tuple(str(u) for u in self.units))
        _threshold(f"unit rule {self.name!r}", self.threshold)


DEFAULT_INTERVALS: tuple[IntervalRule, ...] = (
    # Cycles of 1-4 weeks; weekly schedules (day 1, 8, 15) are 7 days apart. Regimens
    # given on consecutive days (BEP days 1-5) break this rule: tune it per holder.
    IntervalRule("chemotherapy (ATC L01)", ("ATC:L01*",), min_days=7),
)
"""Minimum intervals between administrations: antineoplastic agents, 7 days."""


def _blocks(letter: str, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"ICD10:{letter}{n:02d}*" for n in range(first, last + 1))


DEFAULT_GENDERS: tuple[GenderRule, ...] = (
    GenderRule("male genital organ cancer", _blocks("C", 60, 63), "male"),
    GenderRule("male genital organ disease", _blocks("N", 40, 51), "male"),
    GenderRule("female genital organ cancer", _blocks("C", 51, 58), "female"),
    GenderRule("pregnancy, childbirth and the puerperium", ("ICD10:O*",), "female"),
)
"""ICD-10 blocks of one sex (chapters C60-C63, N40-N51 male; C51-C58, O female)."""

DEFAULT_RANGES: tuple[ValueRange, ...] = (
    ValueRange("systolic blood pressure", "LOINC:8480-6", 40, 300, "mm[Hg]"),
    ValueRange("diastolic blood pressure", "LOINC:8462-4", 20, 200, "mm[Hg]"),
    ValueRange("LDL cholesterol", "LOINC:13457-7", 5, 600, "mg/dL"),
    ValueRange("creatinine", "LOINC:2160-0", 0.1, 30, "mg/dL"),
    ValueRange("HbA1c", "LOINC:4548-4", 2, 25, "%"),
    ValueRange("NT-proBNP", "LOINC:33762-6", 0, 100000, "pg/mL"),
)
"""Physiologically possible ranges of the demo's lab tests (Perron's, not DQD's)."""

DEFAULT_UNITS: tuple[UnitRule, ...] = (
    UnitRule("systolic blood pressure", "LOINC:8480-6", ("mm[Hg]",)),
    UnitRule("diastolic blood pressure", "LOINC:8462-4", ("mm[Hg]",)),
    UnitRule("LDL cholesterol", "LOINC:13457-7", ("mg/dL", "mmol/L")),
    UnitRule("creatinine", "LOINC:2160-0", ("mg/dL", "umol/L")),
    UnitRule("HbA1c", "LOINC:4548-4", ("%", "mmol/mol")),
    UnitRule("NT-proBNP", "LOINC:33762-6", ("pg/mL", "ng/L")),
)
"""The UCUM units each lab test may come in (Perron's, after DQD's unit lists)."""

_RULES: Mapping[str, type[Any]] = {
    "intervals": IntervalRule,
    "genders": GenderRule,
    "ranges": ValueRange,
    "units": UnitRule,
}


@dataclass(frozen=True)
class QualitySettings:
    """How :func:`~perron.quality.run.run_checks` checks a CDM.

    Parameters
    ----------
    today
        The date ``plausibleValueHigh`` compares dates with (today + 1 day, as DQD
        does); ``None``: the day the checks run.
    death_grace_days
        Events up to this many days after death are plausible (DQD: 60).
    visit_window_days
        ``withinVisitDates``: events up to this many days outside their visit are
        plausible (DQD: 7).
    intervals, genders, ranges, units
        The patient-journey and concept-level rules.
    thresholds
        Threshold overrides (%), by check name or check key.
    skip
        Check names or keys to leave out.

    Examples
    --------
    >>> settings = QualitySettings.from_mapping({"death_grace_days": 0,
    ...     "intervals": [{"name": "chemo", "codes": ["ATC:L01*"], "min_days": 21}]})
    >>> settings.death_grace_days, settings.intervals[0].min_days
    (0, 21)
    """

    today: date | None = None
    death_grace_days: int = 60
    visit_window_days: int = 7
    intervals: tuple[IntervalRule, ...] = DEFAULT_INTERVALS
    genders: tuple[GenderRule, ...] = DEFAULT_GENDERS
    ranges: tuple[ValueRange, ...] = DEFAULT_RANGES
    units: tuple[UnitRule, ...] = DEFAULT_UNITS
    thresholds: Mapping[str, float] = field(default_factory=dict)
    skip: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("death_grace_days", "visit_window_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"[quality] {name} must be a whole number of days >= 0.")
        for key, value in self.thresholds.items():
            _threshold(f"[quality.thresholds] {key}", value)

    @property
    def reference_date(self) -> date:
        """``today``, or the current date."""
        return self.today or date.today()

    def with_today(self, today: date) -> QualitySettings:
        """These settings with ``today`` fixed."""
        return replace(self, today=today)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> QualitySettings:
        """Read settings from a ``[quality]`` table (keys of :class:`QualitySettings`).

        Raises
        ------
        InputError
            Naming the unknown key or the bad value.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InputError(
                f"[quality] has unknown keys {unknown}; the keys are {sorted(known)} and, in "
                "station.toml, mapping, fhir and tables (check the spelling)."
            )
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _RULES:
                values[key] = tuple(_rule(key, _RULES[key], item) for item in _list(key, value))
            elif key == "today":
                values[key] = _date(value)
            elif key == "skip":
                values[key] = tuple(str(v) for v in _list(key, value))
            elif key == "thresholds":
                if not isinstance(value, Mapping):
                    raise InputError("[quality.thresholds] must be a table of check = percentage.")
                values[key] = {str(k): v for k, v in value.items()}
            else:
                values[key] = value
        return cls(**values)


def _list(key: str, value: Any) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(f"[quality] {key} must be a list.")
    return list(value)


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            f"[quality] today must be an ISO date (YYYY-MM-DD), not {value!r}."
        ) from None


def _rule(key: str, kind: type[Any], item: Any) -> Any:
    if not isinstance(item, Mapping):
        raise InputError(f"[[quality.{key}]] entries must be tables.")
    names = {f.name for f in fields(kind)}
    unknown = sorted(set(item) - names)
    if unknown:
        raise InputError(
            f"[[quality.{key}]] has unknown keys {unknown}; the keys are {sorted(names)}."
        )
    values = dict(item)
    for name in ("codes", "units"):
        if name in values and not isinstance(values[name], str):
            values[name] = tuple(values[name])
    try:
        return kind(**values)
    except TypeError:
        required = sorted(
            f.name for f in fields(kind) if f.default is MISSING and f.default_factory is MISSING
        )
        raise InputError(
            f"[[quality.{key}]] needs the keys {required}; got {sorted(item)}."
        ) from None


_INPUT_KEYS = frozenset({"mapping", "fhir", "tables"})


@dataclass(frozen=True)
class StationQuality:
    """The ``[quality]`` table of ``station.toml``: which CDM to check, and how.

    Exactly one of ``mapping`` (a TOML mapping file, applied to its sources),
    ``fhir`` (FHIR R4 bundle files; glob patterns allowed) or ``tables`` (a folder
    with one CSV or Parquet file per CDM table, read as is, so that data the CDM
    validation would reject are still reported on) may be given; all three may be
    left out and passed to ``perron station quality`` instead.

    Examples
    --------
    >>> quality = StationQuality.from_mapping({"tables": "cdm", "death_grace_days": 0}, Path("/s"))
    >>> quality.tables, quality.settings.death_grace_days
    (PosixPath('/s/cdm'), 0)
    """

    mapping: Path | None = None
    fhir: tuple[Path, ...] = ()
    tables: Path | None = None
    settings: QualitySettings = field(default_factory=QualitySettings)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], base: Path) -> StationQuality:
        """Read the ``[quality]`` table; paths are relative to ``base``."""
        if not isinstance(raw, Mapping):
            raise InputError("[quality] must be a table.")

        def local(value: Any) -> Path:
            path = Path(str(value))
            return path if path.is_absolute() else base / path

        mapping = raw.get("mapping")
        tables = raw.get("tables")
        fhir = raw.get("fhir", ())
        if isinstance(fhir, str):
            fhir = [fhir]
        given = [k for k in ("mapping", "tables") if raw.get(k)] + (["fhir"] if fhir else [])
        if len(given) > 1:
            raise InputError(
                f"[quality] names {given}; give one of mapping, fhir or tables (the CDM to check)."
            )
        files: list[Path] = []
        for pattern in _list("fhir", fhir):
            path = local(pattern)
            matched = sorted(glob.glob(str(path)))
            files.extend([Path(m) for m in matched] if matched else [path])
        settings = QualitySettings.from_mapping(
            {k: v for k, v in raw.items() if k not in _INPUT_KEYS}
        )
        return cls(
            mapping=None if not mapping else local(mapping),
            fhir=tuple(files),
            tables=None if not tables else local(tables),
            settings=settings,
        )
