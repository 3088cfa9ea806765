"""OHDSI Data Quality Dashboard thresholds for Perron's eight CDM tables.

Generated from OHDSI/DataQualityDashboard v2.8.4 (Apache License 2.0),
``inst/csv/OMOP_CDMv5.4_Field_Level.csv`` and ``OMOP_CDMv5.4_Table_Level.csv``:
the checks Perron runs (:mod:`perron.quality.checks`), with DQD's threshold (the
percentage of violating rows allowed) and argument. Arguments are normalised:
ISO dates for DQD's ``'19500101'``, ``today+1`` for ``DATEADD(dd,1,GETDATE())``,
``year+1`` for ``YEAR(GETDATE())+1``; the end field of ``plausibleStartBeforeEnd``,
the referenced table of ``isForeignKey`` (only ``person`` and ``visit_occurrence``:
concept, provider, care site, location and visit detail are outside the subset),
the standard concept field of ``sourceValueCompleteness``. Left out: DQD's
deprecated ``plausibleTemporalAfter`` and ``plausibleDuringLife`` (replaced by
``plausibleAfterBirth``, ``plausibleBeforeDeath`` and ``plausibleStartBeforeEnd``),
and ``sourceConceptRecordCompleteness`` (source concept ids need the vocabulary).
"""

from __future__ import annotations

from typing import NamedTuple


class FieldThreshold(NamedTuple):
    """One DQD field-level check of one field: its threshold (%) and argument."""

    table: str
    field: str
    check: str
    threshold: float
    argument: str


class TableThreshold(NamedTuple):
    """DQD's table-level settings: required, and the thresholds (%) of the table checks
    (``None``: DQD does not run the check on this table)."""

    table: str
    required: bool
    person_completeness: float | None
    observation_period_overlap: float | None


TABLES: tuple[TableThreshold, ...] = (
    TableThreshold("person", True, None, None),
    TableThreshold("observation_period", True, 0.0, 0.0),
    TableThreshold("visit_occurrence", False, 95.0, None),
    TableThreshold("condition_occurrence", False, 95.0, None),
    TableThreshold("drug_exposure", False, 95.0, None),
    TableThreshold("procedure_occurrence", False, 95.0, None),
    TableThreshold("measurement", False, 95.0, None),
    TableThreshold("death", False, 100.0, None),
)

FIELDS: tuple[FieldThreshold, ...] = (
    FieldThreshold("person", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("person", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "person_id", "isPrimaryKey", 0.0, ""),
    FieldThreshold("person", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("person", "gender_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("person", "gender_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "gender_concept_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("person", "gender_concept_id", "standardConceptRecordCompleteness", 5.0, ""),
    FieldThreshold("person", "year_of_birth", "isRequired", 0.0, ""),
    FieldThreshold("person", "year_of_birth", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "year_of_birth", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("person", "year_of_birth", "plausibleValueLow", 1.0, "1850"),
    FieldThreshold("person", "year_of_birth", "plausibleValueHigh", 1.0, "year+1"),
    FieldThreshold("person", "month_of_birth", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "month_of_birth", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "month_of_birth", "plausibleValueLow", 1.0, "1"),
    FieldThreshold("person", "month_of_birth", "plausibleValueHigh", 1.0, "12"),
    FieldThreshold("person", "day_of_birth", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "day_of_birth", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "day_of_birth", "plausibleValueLow", 1.0, "1"),
    FieldThreshold("person", "day_of_birth", "plausibleValueHigh", 1.0, "31"),
    FieldThreshold("person", "birth_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "birth_datetime", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "birth_datetime", "plausibleValueLow", 1.0, "1850-01-01"),
    FieldThreshold("person", "birth_datetime", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("person", "race_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("person", "race_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "race_concept_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("person", "race_concept_id", "standardConceptRecordCompleteness", 100.0, ""),
    FieldThreshold("person", "ethnicity_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("person", "ethnicity_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "ethnicity_concept_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold(
        "person", "ethnicity_concept_id", "standardConceptRecordCompleteness", 100.0, ""
    ),
    FieldThreshold("person", "location_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "location_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "provider_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "provider_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "care_site_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "care_site_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "person_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "person_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "gender_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "gender_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "person", "gender_source_value", "sourceValueCompleteness", 100.0, "gender_concept_id"
    ),
    FieldThreshold("person", "gender_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "gender_source_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "race_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "race_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "person", "race_source_value", "sourceValueCompleteness", 100.0, "race_concept_id"
    ),
    FieldThreshold("person", "race_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "race_source_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("person", "ethnicity_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "ethnicity_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "person", "ethnicity_source_value", "sourceValueCompleteness", 100.0, "ethnicity_concept_id"
    ),
    FieldThreshold("person", "ethnicity_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("person", "ethnicity_source_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("observation_period", "observation_period_id", "isRequired", 0.0, ""),
    FieldThreshold("observation_period", "observation_period_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("observation_period", "observation_period_id", "isPrimaryKey", 0.0, ""),
    FieldThreshold(
        "observation_period", "observation_period_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold("observation_period", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("observation_period", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("observation_period", "person_id", "isForeignKey", 0.0, "person"),
    FieldThreshold("observation_period", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("observation_period", "observation_period_start_date", "isRequired", 0.0, ""),
    FieldThreshold("observation_period", "observation_period_start_date", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "observation_period", "observation_period_start_date", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "observation_period",
        "observation_period_start_date",
        "plausibleValueLow",
        1.0,
        "1950-01-01",
    ),
    FieldThreshold(
        "observation_period", "observation_period_start_date", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "observation_period",
        "observation_period_start_date",
        "plausibleStartBeforeEnd",
        0.0,
        "observation_period_end_date",
    ),
    FieldThreshold(
        "observation_period", "observation_period_start_date", "plausibleAfterBirth", 1.0, ""
    ),
    FieldThreshold(
        "observation_period", "observation_period_start_date", "plausibleBeforeDeath", 1.0, ""
    ),
    FieldThreshold("observation_period", "observation_period_end_date", "isRequired", 0.0, ""),
    FieldThreshold("observation_period", "observation_period_end_date", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "observation_period", "observation_period_end_date", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "observation_period", "observation_period_end_date", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "observation_period", "observation_period_end_date", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "observation_period", "observation_period_end_date", "plausibleAfterBirth", 1.0, ""
    ),
    FieldThreshold(
        "observation_period", "observation_period_end_date", "plausibleBeforeDeath", 1.0, ""
    ),
    FieldThreshold("observation_period", "period_type_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("observation_period", "period_type_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "observation_period", "period_type_concept_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "observation_period", "period_type_concept_id", "standardConceptRecordCompleteness", 0.0, ""
    ),
    FieldThreshold("visit_occurrence", "visit_occurrence_id", "isRequired", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_occurrence_id", "isPrimaryKey", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_occurrence_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("visit_occurrence", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("visit_occurrence", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "person_id", "isForeignKey", 0.0, "person"),
    FieldThreshold("visit_occurrence", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_concept_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "visit_concept_id", "standardConceptRecordCompleteness", 0.0, ""
    ),
    FieldThreshold("visit_occurrence", "visit_start_date", "isRequired", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_start_date", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_start_date", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_start_date", "plausibleValueLow", 1.0, "1950-01-01"),
    FieldThreshold("visit_occurrence", "visit_start_date", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold(
        "visit_occurrence", "visit_start_date", "plausibleStartBeforeEnd", 1.0, "visit_end_date"
    ),
    FieldThreshold("visit_occurrence", "visit_start_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_start_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_start_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "visit_start_datetime", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "visit_occurrence", "visit_start_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "visit_occurrence", "visit_start_datetime", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "visit_occurrence",
        "visit_start_datetime",
        "plausibleStartBeforeEnd",
        1.0,
        "visit_end_datetime",
    ),
    FieldThreshold("visit_occurrence", "visit_start_datetime", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_start_datetime", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_date", "isRequired", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_date", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_date", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_date", "plausibleValueLow", 1.0, "1950-01-01"),
    FieldThreshold("visit_occurrence", "visit_end_date", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("visit_occurrence", "visit_end_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_datetime", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "visit_occurrence", "visit_end_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold("visit_occurrence", "visit_end_datetime", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("visit_occurrence", "visit_end_datetime", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_end_datetime", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("visit_occurrence", "visit_type_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_type_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "visit_type_concept_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "visit_occurrence", "visit_type_concept_id", "standardConceptRecordCompleteness", 0.0, ""
    ),
    FieldThreshold("visit_occurrence", "provider_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "provider_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("visit_occurrence", "care_site_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "care_site_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("visit_occurrence", "visit_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("visit_occurrence", "visit_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "visit_occurrence",
        "visit_source_value",
        "sourceValueCompleteness",
        10.0,
        "visit_concept_id",
    ),
    FieldThreshold("visit_occurrence", "visit_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "visit_source_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("visit_occurrence", "admitted_from_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "admitted_from_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "visit_occurrence", "admitted_from_concept_id", "standardConceptRecordCompleteness", 5.0, ""
    ),
    FieldThreshold("visit_occurrence", "admitted_from_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "admitted_from_source_value", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "visit_occurrence",
        "admitted_from_source_value",
        "sourceValueCompleteness",
        100.0,
        "admitted_from_concept_id",
    ),
    FieldThreshold("visit_occurrence", "discharged_to_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "discharged_to_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "visit_occurrence", "discharged_to_concept_id", "standardConceptRecordCompleteness", 5.0, ""
    ),
    FieldThreshold("visit_occurrence", "discharged_to_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "discharged_to_source_value", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "visit_occurrence",
        "discharged_to_source_value",
        "sourceValueCompleteness",
        100.0,
        "discharged_to_concept_id",
    ),
    FieldThreshold("visit_occurrence", "preceding_visit_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "visit_occurrence", "preceding_visit_occurrence_id", "isForeignKey", 0.0, "visit_occurrence"
    ),
    FieldThreshold(
        "visit_occurrence", "preceding_visit_occurrence_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("condition_occurrence", "condition_occurrence_id", "isRequired", 0.0, ""),
    FieldThreshold("condition_occurrence", "condition_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("condition_occurrence", "condition_occurrence_id", "isPrimaryKey", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_occurrence_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold("condition_occurrence", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("condition_occurrence", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("condition_occurrence", "person_id", "isForeignKey", 0.0, "person"),
    FieldThreshold("condition_occurrence", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("condition_occurrence", "condition_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("condition_occurrence", "condition_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_concept_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "condition_occurrence", "condition_concept_id", "standardConceptRecordCompleteness", 5.0, ""
    ),
    FieldThreshold("condition_occurrence", "condition_start_date", "isRequired", 0.0, ""),
    FieldThreshold("condition_occurrence", "condition_start_date", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_start_date", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "condition_occurrence", "condition_start_date", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "condition_occurrence", "condition_start_date", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "condition_occurrence",
        "condition_start_date",
        "plausibleStartBeforeEnd",
        1.0,
        "condition_end_date",
    ),
    FieldThreshold("condition_occurrence", "condition_start_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("condition_occurrence", "condition_start_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("condition_occurrence", "condition_start_date", "withinVisitDates", 5.0, ""),
    FieldThreshold("condition_occurrence", "condition_start_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_start_datetime", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "condition_occurrence", "condition_start_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "condition_occurrence", "condition_start_datetime", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "condition_occurrence",
        "condition_start_datetime",
        "plausibleStartBeforeEnd",
        1.0,
        "condition_end_datetime",
    ),
    FieldThreshold(
        "condition_occurrence", "condition_start_datetime", "plausibleAfterBirth", 1.0, ""
    ),
    FieldThreshold(
        "condition_occurrence", "condition_start_datetime", "plausibleBeforeDeath", 1.0, ""
    ),
    FieldThreshold("condition_occurrence", "condition_end_date", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_end_date", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "condition_occurrence", "condition_end_date", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "condition_occurrence", "condition_end_date", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold("condition_occurrence", "condition_end_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("condition_occurrence", "condition_end_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("condition_occurrence", "condition_end_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_end_datetime", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "condition_occurrence", "condition_end_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "condition_occurrence", "condition_end_datetime", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "condition_occurrence", "condition_end_datetime", "plausibleAfterBirth", 1.0, ""
    ),
    FieldThreshold(
        "condition_occurrence", "condition_end_datetime", "plausibleBeforeDeath", 1.0, ""
    ),
    FieldThreshold("condition_occurrence", "condition_type_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("condition_occurrence", "condition_type_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_type_concept_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "condition_occurrence",
        "condition_type_concept_id",
        "standardConceptRecordCompleteness",
        0.0,
        "",
    ),
    FieldThreshold("condition_occurrence", "condition_status_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_status_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "condition_occurrence",
        "condition_status_concept_id",
        "standardConceptRecordCompleteness",
        5.0,
        "",
    ),
    FieldThreshold("condition_occurrence", "stop_reason", "cdmDatatype", 0.0, ""),
    FieldThreshold("condition_occurrence", "stop_reason", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("condition_occurrence", "provider_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("condition_occurrence", "provider_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("condition_occurrence", "visit_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "visit_occurrence_id", "isForeignKey", 0.0, "visit_occurrence"
    ),
    FieldThreshold(
        "condition_occurrence", "visit_occurrence_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("condition_occurrence", "visit_detail_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "visit_detail_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("condition_occurrence", "condition_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_source_value", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "condition_occurrence",
        "condition_source_value",
        "sourceValueCompleteness",
        10.0,
        "condition_concept_id",
    ),
    FieldThreshold("condition_occurrence", "condition_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence", "condition_source_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("condition_occurrence", "condition_status_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "condition_occurrence",
        "condition_status_source_value",
        "measureValueCompleteness",
        100.0,
        "",
    ),
    FieldThreshold(
        "condition_occurrence",
        "condition_status_source_value",
        "sourceValueCompleteness",
        100.0,
        "condition_status_concept_id",
    ),
    FieldThreshold("drug_exposure", "drug_exposure_id", "isRequired", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_id", "isPrimaryKey", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("drug_exposure", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("drug_exposure", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "person_id", "isForeignKey", 0.0, "person"),
    FieldThreshold("drug_exposure", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_concept_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_concept_id", "standardConceptRecordCompleteness", 5.0, ""
    ),
    FieldThreshold("drug_exposure", "drug_exposure_start_date", "isRequired", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_start_date", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_exposure_start_date", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "drug_exposure", "drug_exposure_start_date", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "drug_exposure", "drug_exposure_start_date", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "drug_exposure",
        "drug_exposure_start_date",
        "plausibleStartBeforeEnd",
        1.0,
        "drug_exposure_end_date",
    ),
    FieldThreshold("drug_exposure", "drug_exposure_start_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_start_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_start_date", "withinVisitDates", 5.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_start_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_exposure_start_datetime", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "drug_exposure", "drug_exposure_start_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "drug_exposure", "drug_exposure_start_datetime", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "drug_exposure",
        "drug_exposure_start_datetime",
        "plausibleStartBeforeEnd",
        1.0,
        "drug_exposure_end_datetime",
    ),
    FieldThreshold("drug_exposure", "drug_exposure_start_datetime", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_exposure_start_datetime", "plausibleBeforeDeath", 1.0, ""
    ),
    FieldThreshold("drug_exposure", "drug_exposure_end_date", "isRequired", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_end_date", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_end_date", "measureValueCompleteness", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_exposure_end_date", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold("drug_exposure", "drug_exposure_end_date", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("drug_exposure", "drug_exposure_end_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_end_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_end_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_exposure_end_datetime", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "drug_exposure", "drug_exposure_end_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "drug_exposure", "drug_exposure_end_datetime", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold("drug_exposure", "drug_exposure_end_datetime", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("drug_exposure", "drug_exposure_end_datetime", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("drug_exposure", "verbatim_end_date", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "verbatim_end_date", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "verbatim_end_date", "plausibleValueLow", 1.0, "1950-01-01"),
    FieldThreshold("drug_exposure", "verbatim_end_date", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("drug_exposure", "verbatim_end_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("drug_exposure", "verbatim_end_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("drug_exposure", "drug_type_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_type_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_type_concept_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_type_concept_id", "standardConceptRecordCompleteness", 0.0, ""
    ),
    FieldThreshold("drug_exposure", "stop_reason", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "stop_reason", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "refills", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "refills", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "refills", "plausibleValueLow", 1.0, "0"),
    FieldThreshold("drug_exposure", "refills", "plausibleValueHigh", 1.0, "24"),
    FieldThreshold("drug_exposure", "quantity", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "quantity", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "quantity", "plausibleValueLow", 1.0, "0.0000001"),
    FieldThreshold("drug_exposure", "days_supply", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "days_supply", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "days_supply", "plausibleValueLow", 1.0, "1"),
    FieldThreshold("drug_exposure", "days_supply", "plausibleValueHigh", 1.0, "365"),
    FieldThreshold("drug_exposure", "sig", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "sig", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "route_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "route_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "drug_exposure", "route_concept_id", "standardConceptRecordCompleteness", 100.0, ""
    ),
    FieldThreshold("drug_exposure", "lot_number", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "lot_number", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "provider_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "provider_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "visit_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "visit_occurrence_id", "isForeignKey", 0.0, "visit_occurrence"),
    FieldThreshold("drug_exposure", "visit_occurrence_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "visit_detail_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "visit_detail_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("drug_exposure", "drug_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "drug_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_source_value", "sourceValueCompleteness", 10.0, "drug_concept_id"
    ),
    FieldThreshold("drug_exposure", "drug_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "drug_source_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("drug_exposure", "route_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("drug_exposure", "route_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "drug_exposure", "route_source_value", "sourceValueCompleteness", 100.0, "route_concept_id"
    ),
    FieldThreshold("drug_exposure", "dose_unit_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "drug_exposure", "dose_unit_source_value", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("procedure_occurrence", "procedure_occurrence_id", "isRequired", 0.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_occurrence_id", "isPrimaryKey", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_occurrence_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold("procedure_occurrence", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("procedure_occurrence", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("procedure_occurrence", "person_id", "isForeignKey", 0.0, "person"),
    FieldThreshold("procedure_occurrence", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_concept_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_concept_id", "standardConceptRecordCompleteness", 5.0, ""
    ),
    FieldThreshold("procedure_occurrence", "procedure_date", "isRequired", 0.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_date", "cdmDatatype", 0.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_date", "measureValueCompleteness", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_date", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold("procedure_occurrence", "procedure_date", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold(
        "procedure_occurrence",
        "procedure_date",
        "plausibleStartBeforeEnd",
        1.0,
        "procedure_end_date",
    ),
    FieldThreshold("procedure_occurrence", "procedure_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_date", "withinVisitDates", 5.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_datetime", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_datetime", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "procedure_occurrence",
        "procedure_datetime",
        "plausibleStartBeforeEnd",
        1.0,
        "procedure_end_datetime",
    ),
    FieldThreshold("procedure_occurrence", "procedure_datetime", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_datetime", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_end_date", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_date", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_date", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_date", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold("procedure_occurrence", "procedure_end_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_end_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_end_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_datetime", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_datetime", "plausibleValueLow", 1.0, "1950-01-01"
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_datetime", "plausibleValueHigh", 1.0, "today+1"
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_datetime", "plausibleAfterBirth", 1.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence", "procedure_end_datetime", "plausibleBeforeDeath", 1.0, ""
    ),
    FieldThreshold("procedure_occurrence", "procedure_type_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("procedure_occurrence", "procedure_type_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_type_concept_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence",
        "procedure_type_concept_id",
        "standardConceptRecordCompleteness",
        0.0,
        "",
    ),
    FieldThreshold("procedure_occurrence", "modifier_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "modifier_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence",
        "modifier_concept_id",
        "standardConceptRecordCompleteness",
        100.0,
        "",
    ),
    FieldThreshold("procedure_occurrence", "quantity", "cdmDatatype", 0.0, ""),
    FieldThreshold("procedure_occurrence", "quantity", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("procedure_occurrence", "quantity", "plausibleValueLow", 1.0, "1"),
    FieldThreshold("procedure_occurrence", "provider_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("procedure_occurrence", "provider_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("procedure_occurrence", "visit_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "visit_occurrence_id", "isForeignKey", 0.0, "visit_occurrence"
    ),
    FieldThreshold(
        "procedure_occurrence", "visit_occurrence_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("procedure_occurrence", "visit_detail_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "visit_detail_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("procedure_occurrence", "procedure_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_source_value", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence",
        "procedure_source_value",
        "sourceValueCompleteness",
        10.0,
        "procedure_concept_id",
    ),
    FieldThreshold("procedure_occurrence", "procedure_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "procedure_source_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("procedure_occurrence", "modifier_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "procedure_occurrence", "modifier_source_value", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "procedure_occurrence",
        "modifier_source_value",
        "sourceValueCompleteness",
        100.0,
        "modifier_concept_id",
    ),
    FieldThreshold("measurement", "measurement_id", "isRequired", 0.0, ""),
    FieldThreshold("measurement", "measurement_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "measurement_id", "isPrimaryKey", 0.0, ""),
    FieldThreshold("measurement", "measurement_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("measurement", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("measurement", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "person_id", "isForeignKey", 0.0, "person"),
    FieldThreshold("measurement", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("measurement", "measurement_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("measurement", "measurement_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "measurement_concept_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold(
        "measurement", "measurement_concept_id", "standardConceptRecordCompleteness", 5.0, ""
    ),
    FieldThreshold("measurement", "measurement_date", "isRequired", 0.0, ""),
    FieldThreshold("measurement", "measurement_date", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "measurement_date", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("measurement", "measurement_date", "plausibleValueLow", 1.0, "1950-01-01"),
    FieldThreshold("measurement", "measurement_date", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("measurement", "measurement_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("measurement", "measurement_date", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("measurement", "measurement_date", "withinVisitDates", 5.0, ""),
    FieldThreshold("measurement", "measurement_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "measurement_datetime", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "measurement_datetime", "plausibleValueLow", 1.0, "1950-01-01"),
    FieldThreshold("measurement", "measurement_datetime", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("measurement", "measurement_datetime", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("measurement", "measurement_datetime", "plausibleBeforeDeath", 1.0, ""),
    FieldThreshold("measurement", "measurement_time", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "measurement_time", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "measurement_type_concept_id", "isRequired", 0.0, ""),
    FieldThreshold("measurement", "measurement_type_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "measurement", "measurement_type_concept_id", "measureValueCompleteness", 0.0, ""
    ),
    FieldThreshold(
        "measurement", "measurement_type_concept_id", "standardConceptRecordCompleteness", 0.0, ""
    ),
    FieldThreshold("measurement", "operator_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "operator_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "value_as_number", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "value_as_number", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "value_as_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "value_as_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "unit_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "unit_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "unit_concept_id", "standardConceptRecordCompleteness", 5.0, ""),
    FieldThreshold("measurement", "range_low", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "range_low", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "range_high", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "range_high", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "provider_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "provider_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "visit_occurrence_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "visit_occurrence_id", "isForeignKey", 0.0, "visit_occurrence"),
    FieldThreshold("measurement", "visit_occurrence_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "visit_detail_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "visit_detail_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "measurement_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "measurement", "measurement_source_value", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold(
        "measurement",
        "measurement_source_value",
        "sourceValueCompleteness",
        10.0,
        "measurement_concept_id",
    ),
    FieldThreshold("measurement", "measurement_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "measurement", "measurement_source_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("measurement", "unit_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "unit_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "measurement", "unit_source_value", "sourceValueCompleteness", 100.0, "unit_concept_id"
    ),
    FieldThreshold("measurement", "unit_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "unit_source_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "value_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "value_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "measurement_event_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("measurement", "measurement_event_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("measurement", "meas_event_field_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold(
        "measurement", "meas_event_field_concept_id", "measureValueCompleteness", 100.0, ""
    ),
    FieldThreshold("death", "person_id", "isRequired", 0.0, ""),
    FieldThreshold("death", "person_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("death", "person_id", "isForeignKey", 0.0, "person"),
    FieldThreshold("death", "person_id", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("death", "death_date", "isRequired", 0.0, ""),
    FieldThreshold("death", "death_date", "cdmDatatype", 0.0, ""),
    FieldThreshold("death", "death_date", "measureValueCompleteness", 0.0, ""),
    FieldThreshold("death", "death_date", "plausibleValueLow", 1.0, "1950-01-01"),
    FieldThreshold("death", "death_date", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("death", "death_date", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("death", "death_datetime", "cdmDatatype", 0.0, ""),
    FieldThreshold("death", "death_datetime", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("death", "death_datetime", "plausibleValueLow", 1.0, "1950-01-01"),
    FieldThreshold("death", "death_datetime", "plausibleValueHigh", 1.0, "today+1"),
    FieldThreshold("death", "death_datetime", "plausibleAfterBirth", 1.0, ""),
    FieldThreshold("death", "death_type_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("death", "death_type_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("death", "death_type_concept_id", "standardConceptRecordCompleteness", 0.0, ""),
    FieldThreshold("death", "cause_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("death", "cause_concept_id", "measureValueCompleteness", 100.0, ""),
    FieldThreshold("death", "cause_concept_id", "standardConceptRecordCompleteness", 5.0, ""),
    FieldThreshold("death", "cause_source_value", "cdmDatatype", 0.0, ""),
    FieldThreshold("death", "cause_source_value", "measureValueCompleteness", 100.0, ""),
    FieldThreshold(
        "death", "cause_source_value", "sourceValueCompleteness", 10.0, "cause_source_concept_id"
    ),
    FieldThreshold("death", "cause_source_concept_id", "cdmDatatype", 0.0, ""),
    FieldThreshold("death", "cause_source_concept_id", "measureValueCompleteness", 100.0, ""),
)
