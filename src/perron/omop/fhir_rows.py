"""FHIR resources to CDM rows: the engine behind :mod:`perron.omop.fhir`.

:class:`Importer` validates each entry with its ``fhir.resources`` R4B model, keeps
every problem (resource, field, reason), resolves references (``Type/id``, absolute
URLs, ``fullUrl``/``urn:uuid``, contained resources) and builds one row per CDM
table per resource. See :mod:`perron.omop.fhir` for what becomes what.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from perron.omop.cdm import Problem, key_ids
from perron.omop.schema import CODE_SEPARATOR, CONCEPTS, SCHEMA, VOCABULARIES

__all__ = ["PREFERRED", "SUPPORTED", "Importer", "Json"]

Json = dict[str, Any]

_MODELS: dict[str, type[Resource]] = {
    "Patient": Patient,
    "Encounter": Encounter,
    "Condition": Condition,
    "Observation": Observation,
    "Procedure": Procedure,
    "Medication": Medication,
    "MedicationStatement": MedicationStatement,
    "MedicationAdministration": MedicationAdministration,
    "MedicationDispense": MedicationDispense,
}
SUPPORTED = tuple(_MODELS)
"""The resource types the import reads."""

PREFERRED = ("ICD10", "ICD10CM", "SNOMED", "ATC", "RxNorm", "LOINC")
"""The code system whose coding becomes ``*_source_value``, in order of preference."""

_SYSTEMS = {uri: vocabulary for vocabulary, uri in VOCABULARIES.items()}
_SYSTEMS["urn:oid:2.16.840.1.113883.6.3"] = "ICD10"  # the ICD-10 OID some exports use
_VISITS = {
    "IMP": CONCEPTS["inpatient visit"],
    "ACUTE": CONCEPTS["inpatient visit"],
    "NONAC": CONCEPTS["inpatient visit"],
    "AMB": CONCEPTS["outpatient visit"],
    "EMER": CONCEPTS["emergency room visit"],
}
_GENDERS = {"male": CONCEPTS["male"], "female": CONCEPTS["female"]}
_NOT_HAPPENED = frozenset({"entered-in-error", "not-done", "not-taken", "cancelled", "declined"})


# --------------------------------------------------------------------------------------
# Small readers of FHIR values
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _When:
    day: date
    moment: datetime | None  # only when the source gave a time


def _when(value: object) -> _When | None:
    """A FHIR date or dateTime (or a partial date, which the models leave as text)."""
    if isinstance(value, datetime):
        return _When(value.date(), value.replace(tzinfo=None))
    if isinstance(value, date):
        return _When(value, None)
    if isinstance(value, str) and value:
        parts = value.split("-")
        try:
            year = int(parts[0])
            month = int(parts[1]) if len(parts) > 1 else 1
            return _When(date(year, month, 1), None)
        except ValueError:
            return None
    return None


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class _Codes:
    value: str | None
    vocabulary: str | None
    codes: str | None
    unknown_systems: tuple[str, ...]


def _codes(concepts: Iterable[CodeableConcept | None], preferred: Sequence[str]) -> _Codes:
    known: list[tuple[str, str]] = []
    unknown: list[tuple[str, str]] = []
    for concept in concepts:
        if concept is None:
            continue
        for coding in concept.coding or []:
            if coding.code is None:
                continue
            vocabulary = _SYSTEMS.get(coding.system or "")
            if vocabulary is None:
                unknown.append((coding.system or "(no system)", coding.code))
            else:
                known.append((vocabulary, coding.code))
    tokens = CODE_SEPARATOR.join(f"{v}:{c}" for v, c in dict.fromkeys(known)) or None
    systems = tuple(dict.fromkeys(s for s, _ in unknown))
    for vocabulary in preferred:
        for found, code in known:
            if found == vocabulary:
                return _Codes(code, vocabulary, tokens, systems)
    if known:
        return _Codes(known[0][1], known[0][0], tokens, systems)
    if unknown:
        return _Codes(unknown[0][1], None, None, systems)
    return _Codes(None, None, None, ())


def _happened(resource: Resource) -> bool:
    """False when the status says the event did not happen (or was recorded in error)."""
    status = getattr(resource, "status", None)
    if isinstance(status, str) and status in _NOT_HAPPENED:
        return False
    verification = getattr(resource, "verificationStatus", None)
    if isinstance(verification, CodeableConcept):
        return not any(c.code in ("refuted", "entered-in-error") for c in verification.coding or [])
    return True


# --------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------


@dataclass
class _Entry:
    where: str
    kind: str
    resource: Resource


class Importer:
    """Collects rows, problems and counts while reading one holder's bundles."""

    def __init__(self, type_concept_id: int, preferred: Sequence[str]) -> None:
        self.type_concept_id = type_concept_id
        self.preferred = preferred
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.entries: list[_Entry] = []
        self.by_id: dict[tuple[str, str], _Entry] = {}
        self.urls: dict[str, tuple[str, str]] = {}
        self.invalid: set[tuple[str, str]] = set()  # failed validation: reported already
        self.unsupported: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.imported: Counter[str] = Counter()
        self.rows: dict[str, list[dict[str, object]]] = {name: [] for name in SCHEMA}
        self.origin: dict[str, list[str]] = {name: [] for name in SCHEMA}
        self.ids: dict[str, dict[str, int]] = {}

    # -- reading -------------------------------------------------------------------

    def read(self, number: int, bundle: object) -> None:
        where = f"bundle[{number}]"
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            self.problems.append(
                Problem(where, "resourceType", "is not a FHIR Bundle; export the data as Bundles.")
            )
            return
        try:
            Bundle.model_validate({k: v for k, v in bundle.items() if k != "entry"})
        except ValidationError as exc:
            self._invalid(where, exc)
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            self.problems.append(Problem(where, "entry", "must be a list of entries."))
            return
        for index, entry in enumerate(entries):
            self._read_entry(f"{where}.entry[{index}]", entry)

    def _read_entry(self, where: str, entry: object) -> None:
        raw = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
            self.problems.append(Problem(where, "resource", "is missing or has no resourceType."))
            return
        kind = str(raw["resourceType"])
        ident = raw.get("id")
        label = f"{where} ({kind}/{ident})" if ident else f"{where} ({kind})"
        model = _MODELS.get(kind)
        if model is None:
            self.unsupported[kind] += 1
            return
        try:
            resource = model.model_validate(raw)
        except ValidationError as exc:
            self._invalid(label, exc)
            if isinstance(ident, str):
                self.invalid.add((kind, ident))
            return
        item = _Entry(label, kind, resource)
        if resource.id is not None:
            key = (kind, resource.id)
            if key in self.by_id:
                if self.by_id[key].resource.model_dump() != resource.model_dump():
                    self.problems.append(
                        Problem(
                            label,
                            "id",
                            f"{kind}/{resource.id} appears twice with different content "
                            f"(first at {self.by_id[key].where}); give each resource its own id.",
                        )
                    )
                return
            self.by_id[key] = item
        full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if isinstance(full_url, str) and resource.id is not None:
            self.urls[full_url] = (kind, resource.id)
        self.entries.append(item)

    def _invalid(self, where: str, error: ValidationError) -> None:
        for detail in error.errors():
            path = "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in detail["loc"]
            ).lstrip(".")
            if detail["type"] == "missing":
                reason = "is required by FHIR R4 and missing."
            else:
                reason = f"{detail['msg']} (got {detail.get('input')!r})."
            self.problems.append(Problem(where, path or None, reason))

    # -- references ----------------------------------------------------------------

    def _target(self, reference: Reference | None) -> tuple[str, str] | None:
        if reference is None or not reference.reference:
            return None
        text = reference.reference
        if text in self.urls:
            return self.urls[text]
        parts = text.split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2:
            return parts[-2], parts[-1]
        return None

    def _person(self, item: _Entry, reference: Reference | None) -> int | None:
        target = self._target(reference)
        if target is None:
            self.problems.append(
                Problem(item.where, "subject", "is missing; refer to the Patient (Patient/<id>).")
            )
            return None
        kind, ident = target
        person = self.ids["person"].get(ident) if kind == "Patient" else None
        if person is None and target not in self.invalid:
            self.problems.append(
                Problem(
                    item.where,
                    "subject",
                    f"refers to {kind}/{ident}, which is not a Patient in the bundles; "
                    "include that Patient.",
                )
            )
        return person

    def _visit(self, item: _Entry, reference: Reference | None, name: str) -> int | None:
        target = self._target(reference)
        if target is None:
            return None
        kind, ident = target
        visit = self.ids["visit_occurrence"].get(ident) if kind == "Encounter" else None
        if visit is None and target not in self.invalid:
            self.problems.append(
                Problem(
                    item.where,
                    name,
                    f"refers to {kind}/{ident}, which is not an Encounter in the bundles; "
                    "include it or drop the reference.",
                )
            )
        return visit

    def _code(self, item: _Entry, concepts: Iterable[CodeableConcept | None]) -> _Codes:
        codes = _codes(concepts, self.preferred)
        if codes.unknown_systems:
            self.notes.append(
                f"{item.where}: code systems {', '.join(codes.unknown_systems)} are not "
                f"known ({', '.join(VOCABULARIES)}); their codes are kept only as the "
                "source value when nothing better is there."
            )
        if codes.value is None:
            self.notes.append(f"{item.where}: has no code.")
        return codes

    def _start(self, item: _Entry, field: str, *values: object) -> _When | None:
        for value in values:
            when = _when(value)
            if when is not None:
                return when
        self.problems.append(
            Problem(item.where, field, "is missing; the CDM needs a start date for every event.")
        )
        return None

    def _add(self, table: str, item: _Entry, row: dict[str, object]) -> None:
        self.rows[table].append(row)
        self.origin[table].append(item.where)

    # -- building ------------------------------------------------------------------

    def build(self) -> None:
        happened = []
        for entry in self.entries:
            if _happened(entry.resource):
                happened.append(entry)
            else:
                self.skipped[entry.kind] += 1
        of = {kind: [e for e in happened if e.kind == kind] for kind in _MODELS}
        for entry in of["Patient"]:
            if entry.resource.id is None:
                self.problems.append(
                    Problem(
                        entry.where, "id", "is missing; other resources refer to a Patient by id."
                    )
                )
        self.ids["person"] = key_ids(e.resource.id for e in of["Patient"])
        self.ids["visit_occurrence"] = key_ids(e.resource.id for e in of["Encounter"])
        handlers: dict[str, Callable[[_Entry], None]] = {
            "Patient": self._patient,
            "Encounter": self._encounter,
            "Condition": self._condition,
            "Observation": self._observation,
            "Procedure": self._procedure,
            "MedicationStatement": self._medication_use,
            "MedicationAdministration": self._medication_use,
            "MedicationDispense": self._dispense,
        }
        for kind, handler in handlers.items():
            for entry in of[kind]:
                handler(entry)
                self.imported[kind] += 1
        if of["Medication"]:
            self.imported["Medication"] += len(of["Medication"])
        self._number_events()

    def _number_events(self) -> None:
        for table, ident in (
            ("condition_occurrence", "condition_occurrence_id"),
            ("drug_exposure", "drug_exposure_id"),
            ("procedure_occurrence", "procedure_occurrence_id"),
            ("measurement", "measurement_id"),
        ):
            rows = self.rows[table]
            keys = [row.pop("_key") for row in rows]
            if all(isinstance(k, str) for k in keys) and len(set(keys)) == len(keys):
                numbers = key_ids(keys)
                for row, key in zip(rows, keys, strict=True):
                    row[ident] = numbers[str(key)]
            else:  # some resources have no id: number them in bundle order
                for number, row in enumerate(rows, start=1):
                    row[ident] = number

    def _patient(self, item: _Entry) -> None:
        patient = item.resource
        assert isinstance(patient, Patient)
        if patient.id is None:
            return
        born = _when(patient.birthDate)
        if born is None:
            self.problems.append(
                Problem(item.where, "birthDate", "is missing; the CDM needs a year of birth.")
            )
            return
        partial = patient.birthDate if isinstance(patient.birthDate, str) else None
        parts = partial.count("-") if partial is not None else 2
        self._add(
            "person",
            item,
            {
                "person_id": self.ids["person"][patient.id],
                "gender_concept_id": _GENDERS.get(patient.gender or "", 0),
                "year_of_birth": born.day.year,
                "month_of_birth": born.day.month if parts >= 1 else None,
                "day_of_birth": born.day.day if parts >= 2 else None,
                "birth_datetime": pd.Timestamp(born.day) if parts >= 2 else None,
                "race_concept_id": 0,
                "ethnicity_concept_id": 0,
                "person_source_value": patient.id,
                "gender_source_value": patient.gender,
            },
        )
        died = _when(patient.deceasedDateTime)
        if died is not None:
            self._add(
                "death",
                item,
                {
                    "person_id": self.ids["person"][patient.id],
                    "death_date": died.day,
                    "death_datetime": died.moment,
                    "death_type_concept_id": self.type_concept_id,
                },
            )
        elif patient.deceasedBoolean:
            self.notes.append(
                f"{item.where}: deceased without a date; no death row (the CDM needs "
                "death_date). Export deceasedDateTime where it is known."
            )

    def _encounter(self, item: _Entry) -> None:
        encounter = item.resource
        assert isinstance(encounter, Encounter)
        person = self._person(item, encounter.subject)
        period = encounter.period
        start = self._start(item, "period.start", period.start if period else None)
        if person is None or start is None or encounter.id is None:
            return
        end = _when(period.end if period else None) or start
        code = encounter.class_fhir.code
        self._add(
            "visit_occurrence",
            item,
            {
                "visit_occurrence_id": self.ids["visit_occurrence"][encounter.id],
                "person_id": person,
                "visit_concept_id": _VISITS.get(code or "", 0),
                "visit_start_date": start.day,
                "visit_start_datetime": start.moment,
                "visit_end_date": end.day,
                "visit_end_datetime": end.moment,
                "visit_type_concept_id": self.type_concept_id,
                "visit_source_value": code,
            },
        )

    def _event(
        self, table: str, stem: str, item: _Entry, codes: _Codes, row: dict[str, object]
    ) -> None:
        row.update(
            {
                "_key": item.resource.id,
                f"{stem}_source_value": codes.value,
                f"{stem}_source_vocabulary_id": codes.vocabulary,
                f"{stem}_source_codes": codes.codes,
            }
        )
        self._add(table, item, row)

    def _condition(self, item: _Entry) -> None:
        condition = item.resource
        assert isinstance(condition, Condition)
        person = self._person(item, condition.subject)
        onset = condition.onsetPeriod
        start = self._start(
            item,
            "onsetDateTime",
            condition.onsetDateTime,
            onset.start if onset else None,
            condition.recordedDate,
        )
        visit = self._visit(item, condition.encounter, "encounter")
        codes = self._code(item, [condition.code])
        if person is None or start is None:
            return
        abatement = condition.abatementPeriod
        end = _when(condition.abatementDateTime) or _when(abatement.end if abatement else None)
        self._event(
            "condition_occurrence",
            "condition",
            item,
            codes,
            {
                "person_id": person,
                "condition_concept_id": 0,
                "condition_start_date": start.day,
                "condition_start_datetime": start.moment,
                "condition_end_date": end.day if end else None,
                "condition_end_datetime": end.moment if end else None,
                "condition_type_concept_id": self.type_concept_id,
                "visit_occurrence_id": visit,
                "condition_source_concept_id": 0,
            },
        )

    def _observation(self, item: _Entry) -> None:
        observation = item.resource
        assert isinstance(observation, Observation)
        person = self._person(item, observation.subject)
        period = observation.effectivePeriod
        start = self._start(
            item,
            "effectiveDateTime",
            observation.effectiveDateTime,
            period.start if period else None,
            observation.effectiveInstant,
            observation.issued,
        )
        visit = self._visit(item, observation.encounter, "encounter")
        codes = self._code(item, [observation.code])
        if person is None or start is None:
            return
        quantity = observation.valueQuantity
        unit = None
        if quantity is not None:
            unit = quantity.code if quantity.system == VOCABULARIES["UCUM"] else quantity.unit
        value_text: str | None = observation.valueString
        if observation.valueCodeableConcept is not None:
            concept = observation.valueCodeableConcept
            value_text = next((c.code for c in concept.coding or [] if c.code), concept.text)
        ranges = observation.referenceRange or []
        low = ranges[0].low if ranges else None
        high = ranges[0].high if ranges else None
        self._event(
            "measurement",
            "measurement",
            item,
            codes,
            {
                "person_id": person,
                "measurement_concept_id": 0,
                "measurement_date": start.day,
                "measurement_datetime": start.moment,
                "measurement_type_concept_id": self.type_concept_id,
                "value_as_number": _number(quantity.value if quantity else None),
                "unit_concept_id": 0 if unit else None,
                "range_low": _number(low.value if low else None),
                "range_high": _number(high.value if high else None),
                "visit_occurrence_id": visit,
                "measurement_source_concept_id": 0,
                "unit_source_value": unit,
                "value_source_value": value_text,
            },
        )

    def _procedure(self, item: _Entry) -> None:
        procedure = item.resource
        assert isinstance(procedure, Procedure)
        person = self._person(item, procedure.subject)
        period = procedure.performedPeriod
        start = self._start(
            item, "performedDateTime", procedure.performedDateTime, period.start if period else None
        )
        visit = self._visit(item, procedure.encounter, "encounter")
        codes = self._code(item, [procedure.code])
        if person is None or start is None:
            return
        end = _when(period.end if period else None)
        self._event(
            "procedure_occurrence",
            "procedure",
            item,
            codes,
            {
                "person_id": person,
                "procedure_concept_id": 0,
                "procedure_date": start.day,
                "procedure_datetime": start.moment,
                "procedure_end_date": end.day if end else None,
                "procedure_end_datetime": end.moment if end else None,
                "procedure_type_concept_id": self.type_concept_id,
                "visit_occurrence_id": visit,
                "procedure_source_concept_id": 0,
            },
        )

    def _medication(
        self,
        item: _Entry,
        concept: CodeableConcept | None,
        reference: Reference | None,
        contained: Sequence[Resource] | None,
    ) -> _Codes:
        if concept is None and reference is not None and reference.reference:
            ident = reference.reference.removeprefix("#")
            found: Resource | None = None
            if reference.reference.startswith("#"):
                found = next((r for r in contained or [] if r.id == ident), None)
            else:
                target = self._target(reference)
                if target in self.invalid:
                    return _Codes(None, None, None, ())
                entry = self.by_id.get(target) if target is not None else None
                found = entry.resource if entry is not None else None
            if not isinstance(found, Medication):
                self.problems.append(
                    Problem(
                        item.where,
                        "medicationReference",
                        f"refers to {reference.reference}, which is not a Medication in the "
                        "bundles; include it or give medicationCodeableConcept.",
                    )
                )
                return _Codes(None, None, None, ())
            concept = found.code
        return self._code(item, [concept])

    def _medication_use(self, item: _Entry) -> None:
        use = item.resource
        assert isinstance(use, MedicationStatement | MedicationAdministration)
        person = self._person(item, use.subject)
        period = use.effectivePeriod
        start = self._start(
            item, "effectiveDateTime", use.effectiveDateTime, period.start if period else None
        )
        visit = self._visit(item, use.context, "context")
        codes = self._medication(
            item, use.medicationCodeableConcept, use.medicationReference, use.contained
        )
        if person is None or start is None:
            return
        end = _when(period.end if period else None) or start
        self._drug(item, codes, person, start, end, visit, None, None)

    def _dispense(self, item: _Entry) -> None:
        dispense = item.resource
        assert isinstance(dispense, MedicationDispense)
        person = self._person(item, dispense.subject)
        start = self._start(item, "whenHandedOver", dispense.whenHandedOver, dispense.whenPrepared)
        visit = self._visit(item, dispense.context, "context")
        codes = self._medication(
            item,
            dispense.medicationCodeableConcept,
            dispense.medicationReference,
            dispense.contained,
        )
        if person is None or start is None:
            return
        supply = _number(dispense.daysSupply.value if dispense.daysSupply else None)
        end = _When(start.day + timedelta(days=supply or 0), None)
        quantity = _number(dispense.quantity.value if dispense.quantity else None)
        self._drug(item, codes, person, start, end, visit, quantity, supply)

    def _drug(
        self,
        item: _Entry,
        codes: _Codes,
        person: int,
        start: _When,
        end: _When,
        visit: int | None,
        quantity: float | None,
        supply: float | None,
    ) -> None:
        self._event(
            "drug_exposure",
            "drug",
            item,
            codes,
            {
                "person_id": person,
                "drug_concept_id": 0,
                "drug_exposure_start_date": start.day,
                "drug_exposure_start_datetime": start.moment,
                "drug_exposure_end_date": end.day,
                "drug_exposure_end_datetime": end.moment,
                "drug_type_concept_id": self.type_concept_id,
                "quantity": quantity,
                "days_supply": supply,
                "visit_occurrence_id": visit,
                "drug_source_concept_id": 0,
            },
        )
