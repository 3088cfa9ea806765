"""The check catalogue: OHDSI Data Quality Dashboard check types, and the checks run.

Every check type carries DQD's metadata (``inst/csv/OMOP_CDMv5.4_Check_Descriptions.csv``
of OHDSI/DataQualityDashboard v2.8.4): its level (``TABLE``, ``FIELD``,
``CONCEPT``), the Kahn framework's context (Verification: the data agree with
themselves and the specification; Validation: with what is known outside them),
category (Conformance, Completeness, Plausibility) and subcategory, and severity.
A check is one type applied to one table, field or concept with a threshold: the
percentage of violating rows allowed. It fails when more rows violate it.

DQD check types Perron runs:

========================================  =======  ============  =============
check                                     level    category      subcategory
========================================  =======  ============  =============
``cdmTable``                              TABLE    Conformance   Relational
``measurePersonCompleteness``             TABLE    Completeness
``measureObservationPeriodOverlap``       TABLE    Plausibility  Temporal
``cdmField``                              FIELD    Conformance   Relational
``isRequired``                            FIELD    Conformance   Relational
``cdmDatatype``                           FIELD    Conformance   Value
``isPrimaryKey``                          FIELD    Conformance   Relational
``isForeignKey``                          FIELD    Conformance   Relational
``measureValueCompleteness``              FIELD    Completeness
``standardConceptRecordCompleteness``     FIELD    Completeness
``sourceValueCompleteness``               FIELD    Completeness
``plausibleValueLow`` / ``High``          FIELD    Plausibility  Atemporal
``plausibleStartBeforeEnd``               FIELD    Plausibility  Temporal
``plausibleAfterBirth``                   FIELD    Plausibility  Temporal
``plausibleBeforeDeath``                  FIELD    Plausibility  Temporal
``withinVisitDates``                      FIELD    Plausibility
``plausibleGender``                       CONCEPT  Plausibility  Atemporal
``plausibleValueLow`` / ``High``          CONCEPT  Plausibility  Atemporal
``plausibleUnitConceptIds``               CONCEPT  Plausibility  Atemporal
========================================  =======  ============  =============

Perron adds patient-journey checks (Plausibility, Temporal):
``plausibleAdministrationInterval`` (CONCEPT: successive administrations of a drug
class closer than a minimum interval), and ``journeyBeforeBirth``,
``journeyAfterDeath``, ``journeyStartAfterEnd`` (TABLE, on ``person``: the persons
with at least one such record anywhere in their journey), plus ``allowedValues``
(Conformance, Value) for the flat analysis dataset.

Where Perron's CDM differs from a full OMOP instance the check says so in its
notes: without a vocabulary, ``sourceValueCompleteness`` of an event table counts
source values without a known code system, and ``standardConceptRecordCompleteness``
is not applicable to the concept ids that are 0 by design.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from perron.omop.schema import SCHEMA
from perron.quality import dqd
from perron.quality.settings import QualitySettings

__all__ = [
    "CHECK_TYPES",
    "Category",
    "Check",
    "CheckType",
    "Context",
    "Level",
    "Status",
    "catalogue",
    "check_type",
]


class Status(StrEnum):
    """A check's outcome; DQD's priority when several apply: error, not applicable,
    failed, passed."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"


class Level(StrEnum):
    TABLE = "TABLE"
    FIELD = "FIELD"
    CONCEPT = "CONCEPT"


class Category(StrEnum):
    CONFORMANCE = "Conformance"
    COMPLETENESS = "Completeness"
    PLAUSIBILITY = "Plausibility"


class Context(StrEnum):
    VERIFICATION = "Verification"
    VALIDATION = "Validation"


@dataclass(frozen=True)
class CheckType:
    """One kind of check with its DQD (Kahn) metadata.

    ``description`` is a template over ``{table}``, ``{field}``, ``{concept}`` and
    ``{argument}``. ``structural`` checks answer a yes/no about the data's shape
    (is the table there, is the field there): their counts are not counts of people
    and are released as they are.
    """

    name: str
    level: Level
    category: Category
    subcategory: str
    context: Context
    severity: str
    description: str
    structural: bool = False
    origin: str = "DQD"


V, VAL = Context.VERIFICATION, Context.VALIDATION
CONF, COMP, PLAUS = Category.CONFORMANCE, Category.COMPLETENESS, Category.PLAUSIBILITY
T, F, C = Level.TABLE, Level.FIELD, Level.CONCEPT

CHECK_TYPES: tuple[CheckType, ...] = (
    CheckType("cdmTable", T, CONF, "Relational", V, "fatal",
              "A yes or no value indicating if the {table} table is present as expected "
              "({argument}).", structural=True),
    CheckType("measurePersonCompleteness", T, COMP, "", VAL, "convention",
              "The number and percent of persons in the CDM that do not have at least one "
              "record in the {table} table."),
    CheckType("measureObservationPeriodOverlap", T, PLAUS, "Temporal", V, "fatal",
              "The number and percent of persons that have overlapping or back-to-back "
              "observation periods."),
    CheckType("cdmField", F, CONF, "Relational", V, "fatal",
              "A yes or no value indicating if {field} is present in the {table} table as "
              "expected ({argument}).", structural=True),
    CheckType("isRequired", F, CONF, "Relational", VAL, "fatal",
              "The number and percent of records with a NULL value in the {field} of the "
              "{table} that is considered not nullable."),
    CheckType("cdmDatatype", F, CONF, "Value", V, "fatal",
              "The number and percent of records whose {field} in the {table} table is not "
              "of the expected data type ({argument})."),
    CheckType("isPrimaryKey", F, CONF, "Relational", V, "fatal",
              "The number and percent of records that have a duplicate value in the {field} "
              "field of the {table}."),
    CheckType("isForeignKey", F, CONF, "Relational", V, "fatal",
              "The number and percent of records that have a value in the {field} field in "
              "the {table} table that does not exist in the {argument} table."),
    CheckType("measureValueCompleteness", F, COMP, "", V, "characterization",
              "The number and percent of records with a NULL value in the {field} of the "
              "{table}."),
    CheckType("standardConceptRecordCompleteness", F, COMP, "", V, "convention",
              "The number and percent of records with a value of 0 in the standard concept "
              "field {field} in the {table} table."),
    CheckType("sourceValueCompleteness", F, COMP, "", V, "convention",
              "The number and percent of distinct source values in the {field} field of the "
              "{table} table mapped to 0 ({argument})."),
    CheckType("plausibleValueLow", F, PLAUS, "Atemporal", V, "characterization",
              "The number and percent of records with a value in the {field} field of the "
              "{table} table less than {argument}."),
    CheckType("plausibleValueHigh", F, PLAUS, "Atemporal", V, "characterization",
              "The number and percent of records with a value in the {field} field of the "
              "{table} table greater than {argument}."),
    CheckType("plausibleStartBeforeEnd", F, PLAUS, "Temporal", V, "characterization",
              "The number and percent of records with a value in the {field} field of the "
              "{table} that occurs after the date in the {argument}."),
    CheckType("plausibleAfterBirth", F, PLAUS, "Temporal", V, "characterization",
              "The number and percent of records with a date value in the {field} field of "
              "the {table} table that occurs prior to birth."),
    CheckType("plausibleBeforeDeath", F, PLAUS, "Temporal", V, "characterization",
              "The number and percent of records with a date value in the {field} field of "
              "the {table} table that occurs more than {argument} days after death."),
    CheckType("withinVisitDates", F, PLAUS, "", V, "characterization",
              "The number and percent of records in {table} whose {field} is not within "
              "{argument} days on either side of the corresponding visit's start and end "
              "date."),
    CheckType("plausibleGender", C, PLAUS, "Atemporal", VAL, "characterization",
              "For the codes {concept} ({argument}), the number and percent of records in "
              "{table} associated with patients with an implausible gender."),
    CheckType("plausibleValueLow", C, PLAUS, "Atemporal", V, "characterization",
              "For the code {concept}, the number and percent of records in {table} with a "
              "value in {field} less than {argument}."),
    CheckType("plausibleValueHigh", C, PLAUS, "Atemporal", V, "characterization",
              "For the code {concept}, the number and percent of records in {table} with a "
              "value in {field} greater than {argument}."),
    CheckType("plausibleUnitConceptIds", C, PLAUS, "Atemporal", V, "characterization",
              "The number and percent of records for the code {concept} with implausible "
              "units (unit_source_value not in {argument})."),
    CheckType("plausibleAdministrationInterval", C, PLAUS, "Temporal", VAL, "characterization",
              "For drugs {concept} ({argument}), the number and percent of successive "
              "administrations to a person closer together than the minimum interval.",
              origin="Perron"),
    CheckType("journeyBeforeBirth", T, PLAUS, "Temporal", V, "characterization",
              "The number and percent of persons with at least one record dated before "
              "their birth (any table, any date field).", origin="Perron"),
    CheckType("journeyAfterDeath", T, PLAUS, "Temporal", V, "characterization",
              "The number and percent of deceased persons with at least one record dated "
              "more than {argument} days after their death (any table, any date field).",
              origin="Perron"),
    CheckType("journeyStartAfterEnd", T, PLAUS, "Temporal", V, "characterization",
              "The number and percent of persons with at least one record that ends before "
              "it starts (any table).", origin="Perron"),
    CheckType("allowedValues", F, CONF, "Value", V, "convention",
              "The number and percent of records whose {field} in {table} holds a value "
              "outside {argument}.", origin="Perron"),
)  # fmt: skip

_BY_KEY: Mapping[tuple[str, Level], CheckType] = {(t.name, t.level): t for t in CHECK_TYPES}


def check_type(name: str, level: Level = Level.FIELD) -> CheckType:
    """The check type ``name`` at ``level`` (table-level names are found at any level)."""
    found = _BY_KEY.get((name, level))
    if found is None:
        found = next((t for t in CHECK_TYPES if t.name == name), None)
    if found is None:
        known = sorted({t.name for t in CHECK_TYPES})
        raise KeyError(f"unknown check {name!r}; the checks are {known}")
    return found


@dataclass(frozen=True)
class Check:
    """One check to run: a check type on a table, field or concept, with a threshold.

    Attributes
    ----------
    type : CheckType
    table : str
        The CDM table (or the dataset's name for the flat analysis dataset).
    field : str or None
    concept : str or None
        The code set of a concept-level check (``"LOINC:8480-6"``, ``"ATC:L01*"``).
    threshold : float
        The percentage of violating rows allowed.
    argument : str
        What the check compares with: a bound, another field, a table, a rule.
    notes : str
        Why a threshold or argument differs from DQD, or how Perron reads the check.
    rule : object
        The :mod:`~perron.quality.settings` rule of a concept-level check.
    """

    type: CheckType
    table: str
    field: str | None = None
    concept: str | None = None
    threshold: float = 0.0
    argument: str = ""
    notes: str = ""
    #: The settings rule a concept-level or journey check applies.
    rule: Any = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.type.name

    @property
    def key(self) -> str:
        """``name.table[.field][.concept]``: unique within a report (as DQD's checkId)."""
        parts = [self.name, self.table]
        if self.field is not None:
            parts.append(self.field)
        if self.concept is not None:
            parts.append(self.concept)
        return ".".join(parts)

    @property
    def description(self) -> str:
        return self.type.description.format(
            table=self.table,
            field=self.field or "",
            concept=self.concept or "",
            argument=self.argument,
        )


# --------------------------------------------------------------------------------------
# The checks Perron runs on its CDM subset
# --------------------------------------------------------------------------------------

#: Concept ids Perron fills without a vocabulary (schema.CONCEPTS); the other standard
#: concept ids are 0 by design, so counting zeros in them says nothing.
_FILLED_CONCEPTS = frozenset(
    {"gender_concept_id", "race_concept_id", "ethnicity_concept_id", "visit_concept_id"}
)
NO_VOCABULARY = (
    "Perron ships no OHDSI vocabulary: this concept id is 0 by design (the source code "
    "and its code system are kept instead); see sourceValueCompleteness."
)


def fills_concept(name: str) -> bool:
    """Whether Perron fills this standard concept field without a vocabulary."""
    return name in _FILLED_CONCEPTS or name.endswith("_type_concept_id")


def _table_checks() -> Iterator[Check]:
    for table in dqd.TABLES:
        argument = "required" if table.required else "optional: an absent table counts as empty"
        yield Check(check_type("cdmTable", T), table.table, argument=argument)
        if table.person_completeness is not None:
            yield Check(
                check_type("measurePersonCompleteness", T),
                table.table,
                threshold=table.person_completeness,
            )
        if table.observation_period_overlap is not None:
            yield Check(
                check_type("measureObservationPeriodOverlap", T),
                table.table,
                threshold=table.observation_period_overlap,
            )


def _field_checks() -> Iterator[Check]:
    rows: dict[tuple[str, str], list[dqd.FieldThreshold]] = {}
    for row in dqd.FIELDS:
        rows.setdefault((row.table, row.field), []).append(row)
    for name, table in SCHEMA.items():
        for spec in table.fields:
            if spec.extension:
                continue
            expected = "required" if spec.required else "optional: an absent field counts as empty"
            yield Check(check_type("cdmField"), name, spec.name, argument=expected)
            for row in rows.get((name, spec.name), []):
                kind = check_type(row.check)
                argument, notes = row.argument, ""
                if row.check == "cdmDatatype":
                    argument = spec.type.value
                    if spec.length is not None:
                        argument = f"{argument}({spec.length})"
                elif row.check == "sourceValueCompleteness" and table.codes_field is not None:
                    if table.codes_field[0] == spec.name:
                        argument = f"no known code system in {table.codes_field[1]}"
                        notes = (
                            "Perron reads 'mapped to 0' as 'without a known code system': "
                            "concept ids stay 0 without a vocabulary, a source code with its "
                            "code system can still be mapped."
                        )
                elif row.check == "standardConceptRecordCompleteness" and not fills_concept(
                    spec.name
                ):
                    notes = NO_VOCABULARY
                yield Check(
                    kind, name, spec.name, threshold=row.threshold, argument=argument, notes=notes
                )


def _concept_checks(settings: QualitySettings) -> Iterator[Check]:
    for gender in settings.genders:
        for table in ("condition_occurrence", "procedure_occurrence"):
            yield Check(
                check_type("plausibleGender", C),
                table,
                f"{table.split('_')[0]}_source_codes",
                concept=" ".join(gender.codes),
                threshold=gender.threshold,
                argument=f"{gender.name}: {gender.gender} only",
                rule=gender,
            )
    for value in settings.ranges:
        unit = f" {value.unit}" if value.unit else ""
        bounds = (("plausibleValueLow", value.low), ("plausibleValueHigh", value.high))
        for name, bound in bounds:
            if bound is not None:
                yield Check(
                    check_type(name, C),
                    "measurement",
                    "value_as_number",
                    concept=value.code + (f" [{value.unit}]" if value.unit else ""),
                    threshold=value.threshold,
                    argument=f"{bound:g}{unit}",
                    notes=f"{value.name}; Perron's physiological range, not DQD's.",
                    rule=value,
                )
    for units in settings.units:
        yield Check(
            check_type("plausibleUnitConceptIds", C),
            "measurement",
            "unit_source_value",
            concept=units.code,
            threshold=units.threshold,
            argument=", ".join(units.units),
            notes=f"{units.name}; on unit_source_value (UCUM): Perron has no unit concepts.",
            rule=units,
        )
    for rule in settings.intervals:
        yield Check(
            check_type("plausibleAdministrationInterval", C),
            "drug_exposure",
            "drug_exposure_start_date",
            concept=" ".join(rule.codes),
            threshold=rule.threshold,
            argument=f"{rule.name}: at least {rule.min_days} days apart",
            notes="Administrations are distinct start dates per person: drugs of one "
            "regimen given on one day count once.",
            rule=rule,
        )


def _journey_checks(settings: QualitySettings) -> Iterator[Check]:
    yield Check(check_type("journeyBeforeBirth", T), "person", threshold=1.0)
    yield Check(
        check_type("journeyAfterDeath", T),
        "person",
        threshold=1.0,
        argument=str(settings.death_grace_days),
    )
    yield Check(check_type("journeyStartAfterEnd", T), "person", threshold=0.0)


def catalogue(settings: QualitySettings | None = None) -> tuple[Check, ...]:
    """Every check :func:`~perron.quality.run.run_checks` runs, with its threshold.

    DQD's table- and field-level checks of the eight tables (:mod:`perron.quality.dqd`),
    the concept-level and patient-journey rules of ``settings``, its threshold
    overrides applied and its skipped checks left out.

    Examples
    --------
    >>> checks = catalogue()
    >>> year = next(c for c in checks if c.key == "plausibleValueLow.person.year_of_birth")
    >>> year.threshold, year.argument, year.type.category.value
    (1.0, '1850', 'Plausibility')
    """
    settings = settings or QualitySettings()
    checks = [
        *_table_checks(),
        *_field_checks(),
        *_concept_checks(settings),
        *_journey_checks(settings),
    ]
    grace = str(settings.death_grace_days)
    window = str(settings.visit_window_days)
    out: list[Check] = []
    for check in checks:
        if check.name in settings.skip or check.key in settings.skip:
            continue
        tuned = check
        if check.name == "plausibleBeforeDeath":
            tuned = replace(tuned, argument=grace)
        elif check.name == "withinVisitDates":
            tuned = replace(tuned, argument=window)
        override = settings.thresholds.get(check.key, settings.thresholds.get(check.name))
        if override is not None:
            tuned = replace(tuned, threshold=float(override))
        out.append(tuned)
    return tuple(out)
