"""The schema of Perron's CDM subset: eight tables of OMOP CDM v5.4.

Field names, types, required flags, primary and foreign keys as in OHDSI's
``inst/csv/OMOP_CDMv5.4_Field_Level.csv`` for ``person``, ``observation_period``,
``visit_occurrence``, ``condition_occurrence``, ``drug_exposure``,
``procedure_occurrence``, ``measurement`` and ``death``, plus Perron's extension
fields for source code systems (``extension=True``; see :mod:`perron.omop.cdm`).
Foreign keys to tables outside the subset (provider, care_site, location,
visit_detail, concept) are kept as plain integers and not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "CODE_SEPARATOR",
    "CONCEPTS",
    "DATE",
    "DATETIME",
    "FLOAT",
    "INTEGER",
    "SCHEMA",
    "TEXT",
    "VOCABULARIES",
    "Field",
    "FieldType",
    "Table",
]

# --------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------


class FieldType(Enum):
    """The CDM data types; :attr:`dtype` is the pandas dtype Perron holds each in."""

    INTEGER = "integer"
    FLOAT = "float"
    DATE = "date"
    DATETIME = "datetime"
    TEXT = "varchar"

    @property
    def dtype(self) -> str:
        """``Int64`` (nullable), ``float64``, ``datetime64[ns]`` or ``object``."""
        return _DTYPES[self.value]


_DTYPES = {
    "integer": "Int64",
    "float": "float64",
    "date": "datetime64[ns]",
    "datetime": "datetime64[ns]",
    "varchar": "object",
}


INTEGER, FLOAT, DATE, DATETIME, TEXT = (
    FieldType.INTEGER,
    FieldType.FLOAT,
    FieldType.DATE,
    FieldType.DATETIME,
    FieldType.TEXT,
)


@dataclass(frozen=True)
class Field:
    """One CDM field.

    Attributes
    ----------
    name : str
    type : FieldType
    required : bool
        ``isRequired`` in the OMOP specification: a value in every row.
    length : int or None
        The ``varchar(n)`` limit of a text field.
    primary_key : bool
    references : str or None
        The table (within the subset) whose primary key this field refers to.
    extension : bool
        A Perron addition, not an OMOP field (the source code system and codings).
    """

    name: str
    type: FieldType
    required: bool = False
    length: int | None = None
    primary_key: bool = False
    references: str | None = None
    extension: bool = False


@dataclass(frozen=True)
class Table:
    """A CDM table: its fields in specification order and its periods.

    Attributes
    ----------
    name : str
    fields : tuple of Field
    periods : tuple of (str, str)
        Pairs of fields that must satisfy start <= end where both are present.
    unique : tuple of str
        Fields (other than the primary key) that hold one row per value.
    """

    name: str
    fields: tuple[Field, ...]
    periods: tuple[tuple[str, str], ...] = ()
    unique: tuple[str, ...] = ()

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in specification order."""
        return tuple(f.name for f in self.fields)

    @property
    def primary_key(self) -> str | None:
        """The primary key field, if the table has one (``death`` has none)."""
        return next((f.name for f in self.fields if f.primary_key), None)

    @property
    def codes_field(self) -> tuple[str, str, str] | None:
        """(source value, vocabulary id, codes) fields of an event table, if any."""
        codes = next((f.name for f in self.fields if f.name.endswith("_source_codes")), None)
        if codes is None:
            return None
        stem = codes.removesuffix("_source_codes")
        return f"{stem}_source_value", f"{stem}_source_vocabulary_id", codes


def _f(
    name: str,
    kind: FieldType,
    *,
    required: bool = False,
    length: int | None = None,
    primary_key: bool = False,
    references: str | None = None,
) -> Field:
    return Field(name, kind, required, length, primary_key, references)


def _codes(stem: str) -> tuple[Field, Field]:
    return (
        Field(f"{stem}_source_vocabulary_id", TEXT, length=20, extension=True),
        Field(f"{stem}_source_codes", TEXT, extension=True),
    )


_PERSON_ID = _f("person_id", INTEGER, required=True, references="person")
_VISIT_ID = _f("visit_occurrence_id", INTEGER, references="visit_occurrence")

SCHEMA: Mapping[str, Table] = {
    t.name: t
    for t in (
        Table(
            "person",
            (
                _f("person_id", INTEGER, required=True, primary_key=True),
                _f("gender_concept_id", INTEGER, required=True),
                _f("year_of_birth", INTEGER, required=True),
                _f("month_of_birth", INTEGER),
                _f("day_of_birth", INTEGER),
                _f("birth_datetime", DATETIME),
                _f("race_concept_id", INTEGER, required=True),
                _f("ethnicity_concept_id", INTEGER, required=True),
                _f("location_id", INTEGER),
                _f("provider_id", INTEGER),
                _f("care_site_id", INTEGER),
                _f("person_source_value", TEXT, length=50),
                _f("gender_source_value", TEXT, length=50),
                _f("gender_source_concept_id", INTEGER),
                _f("race_source_value", TEXT, length=50),
                _f("race_source_concept_id", INTEGER),
                _f("ethnicity_source_value", TEXT, length=50),
                _f("ethnicity_source_concept_id", INTEGER),
            ),
        ),
        Table(
            "observation_period",
            (
                _f("observation_period_id", INTEGER, required=True, primary_key=True),
                _PERSON_ID,
                _f("observation_period_start_date", DATE, required=True),
                _f("observation_period_end_date", DATE, required=True),
                _f("period_type_concept_id", INTEGER, required=True),
            ),
            periods=(("observation_period_start_date", "observation_period_end_date"),),
        ),
        Table(
            "visit_occurrence",
            (
                _f("visit_occurrence_id", INTEGER, required=True, primary_key=True),
                _PERSON_ID,
                _f("visit_concept_id", INTEGER, required=True),
                _f("visit_start_date", DATE, required=True),
                _f("visit_start_datetime", DATETIME),
                _f("visit_end_date", DATE, required=True),
                _f("visit_end_datetime", DATETIME),
                _f("visit_type_concept_id", INTEGER, required=True),
                _f("provider_id", INTEGER),
                _f("care_site_id", INTEGER),
                _f("visit_source_value", TEXT, length=50),
                _f("visit_source_concept_id", INTEGER),
                _f("admitted_from_concept_id", INTEGER),
                _f("admitted_from_source_value", TEXT, length=50),
                _f("discharged_to_concept_id", INTEGER),
                _f("discharged_to_source_value", TEXT, length=50),
                _f("preceding_visit_occurrence_id", INTEGER, references="visit_occurrence"),
            ),
            periods=(
                ("visit_start_date", "visit_end_date"),
                ("visit_start_datetime", "visit_end_datetime"),
            ),
        ),
        Table(
            "condition_occurrence",
            (
                _f("condition_occurrence_id", INTEGER, required=True, primary_key=True),
                _PERSON_ID,
                _f("condition_concept_id", INTEGER, required=True),
                _f("condition_start_date", DATE, required=True),
                _f("condition_start_datetime", DATETIME),
                _f("condition_end_date", DATE),
                _f("condition_end_datetime", DATETIME),
                _f("condition_type_concept_id", INTEGER, required=True),
                _f("condition_status_concept_id", INTEGER),
                _f("stop_reason", TEXT, length=20),
                _f("provider_id", INTEGER),
                _VISIT_ID,
                _f("visit_detail_id", INTEGER),
                _f("condition_source_value", TEXT, length=50),
                _f("condition_source_concept_id", INTEGER),
                _f("condition_status_source_value", TEXT, length=50),
                *_codes("condition"),
            ),
            periods=(
                ("condition_start_date", "condition_end_date"),
                ("condition_start_datetime", "condition_end_datetime"),
            ),
        ),
        Table(
            "drug_exposure",
            (
                _f("drug_exposure_id", INTEGER, required=True, primary_key=True),
                _PERSON_ID,
                _f("drug_concept_id", INTEGER, required=True),
                _f("drug_exposure_start_date", DATE, required=True),
                _f("drug_exposure_start_datetime", DATETIME),
                _f("drug_exposure_end_date", DATE, required=True),
                _f("drug_exposure_end_datetime", DATETIME),
                _f("verbatim_end_date", DATE),
                _f("drug_type_concept_id", INTEGER, required=True),
                _f("stop_reason", TEXT, length=20),
                _f("refills", INTEGER),
                _f("quantity", FLOAT),
                _f("days_supply", INTEGER),
                _f("sig", TEXT),
                _f("route_concept_id", INTEGER),
                _f("lot_number", TEXT, length=50),
                _f("provider_id", INTEGER),
                _VISIT_ID,
                _f("visit_detail_id", INTEGER),
                _f("drug_source_value", TEXT, length=50),
                _f("drug_source_concept_id", INTEGER),
                _f("route_source_value", TEXT, length=50),
                _f("dose_unit_source_value", TEXT, length=50),
                *_codes("drug"),
            ),
            periods=(
                ("drug_exposure_start_date", "drug_exposure_end_date"),
                ("drug_exposure_start_datetime", "drug_exposure_end_datetime"),
            ),
        ),
        Table(
            "procedure_occurrence",
            (
                _f("procedure_occurrence_id", INTEGER, required=True, primary_key=True),
                _PERSON_ID,
                _f("procedure_concept_id", INTEGER, required=True),
                _f("procedure_date", DATE, required=True),
                _f("procedure_datetime", DATETIME),
                _f("procedure_end_date", DATE),
                _f("procedure_end_datetime", DATETIME),
                _f("procedure_type_concept_id", INTEGER, required=True),
                _f("modifier_concept_id", INTEGER),
                _f("quantity", INTEGER),
                _f("provider_id", INTEGER),
                _VISIT_ID,
                _f("visit_detail_id", INTEGER),
                _f("procedure_source_value", TEXT, length=50),
                _f("procedure_source_concept_id", INTEGER),
                _f("modifier_source_value", TEXT, length=50),
                *_codes("procedure"),
            ),
            periods=(
                ("procedure_date", "procedure_end_date"),
                ("procedure_datetime", "procedure_end_datetime"),
            ),
        ),
        Table(
            "measurement",
            (
                _f("measurement_id", INTEGER, required=True, primary_key=True),
                _PERSON_ID,
                _f("measurement_concept_id", INTEGER, required=True),
                _f("measurement_date", DATE, required=True),
                _f("measurement_datetime", DATETIME),
                _f("measurement_time", TEXT, length=10),
                _f("measurement_type_concept_id", INTEGER, required=True),
                _f("operator_concept_id", INTEGER),
                _f("value_as_number", FLOAT),
                _f("value_as_concept_id", INTEGER),
                _f("unit_concept_id", INTEGER),
                _f("range_low", FLOAT),
                _f("range_high", FLOAT),
                _f("provider_id", INTEGER),
                _VISIT_ID,
                _f("visit_detail_id", INTEGER),
                _f("measurement_source_value", TEXT, length=50),
                _f("measurement_source_concept_id", INTEGER),
                _f("unit_source_value", TEXT, length=50),
                _f("unit_source_concept_id", INTEGER),
                _f("value_source_value", TEXT, length=50),
                _f("measurement_event_id", INTEGER),
                _f("meas_event_field_concept_id", INTEGER),
                *_codes("measurement"),
            ),
        ),
        Table(
            "death",
            (
                _PERSON_ID,
                _f("death_date", DATE, required=True),
                _f("death_datetime", DATETIME),
                _f("death_type_concept_id", INTEGER),
                _f("cause_concept_id", INTEGER),
                _f("cause_source_value", TEXT, length=50),
                _f("cause_source_concept_id", INTEGER),
                Field("cause_source_vocabulary_id", TEXT, length=20, extension=True),
            ),
            # OMOP 5.4 gives death no primary key; a person dies once.
            unique=("person_id",),
        ),
    )
}
"""The CDM subset, in load order (a table's foreign keys point to earlier tables)."""

VOCABULARIES: Mapping[str, str] = {
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "SNOMED": "http://snomed.info/sct",
    "LOINC": "http://loinc.org",
    "ATC": "http://www.whocc.no/atc",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "UCUM": "http://unitsofmeasure.org",
}
"""Code systems by OHDSI ``vocabulary_id``, with their FHIR system URI."""

CONCEPTS: Mapping[str, int] = {
    "no matching concept": 0,
    "male": 8507,
    "female": 8532,
    "inpatient visit": 9201,
    "outpatient visit": 9202,
    "emergency room visit": 9203,
    "EHR": 32817,
    "claim": 32810,
}
"""The few standard concept ids Perron uses without a vocabulary (Gender, Visit, Type)."""

CODE_SEPARATOR = "|"
"""Between the ``VOCAB:code`` tokens of a ``*_source_codes`` field."""
