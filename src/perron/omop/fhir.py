"""FHIR R4 bundles to the CDM, read with ``fhir.resources``.

Which FHIR models: ``fhir.resources`` 7 and later are generated from FHIR R5 by
default and carry R4B (4.3.0) as the sub-package ``fhir.resources.R4B``; no release
for pydantic 2 carries R4 (4.0.1) itself (the 6.x line that did needs pydantic 1,
which Perron cannot use). R4B changed nothing in the resources read here (Patient,
Encounter, Condition, Observation, Procedure, Medication, MedicationStatement,
MedicationAdministration, MedicationDispense) apart from additions, so an R4 bundle
validates against the R4B models; Perron reads every bundle with them.

What becomes what:

============================  =========================================================
FHIR                          CDM
============================  =========================================================
Patient                       person (gender, birthDate; ``id`` is person_source_value)
Patient.deceasedDateTime      death (a deceasedBoolean without a date is noted: the CDM
                              needs a death_date)
Encounter                     visit_occurrence (class IMP/AMB/EMER -> 9201/9202/9203)
Condition                     condition_occurrence (onset[x] or recordedDate; abatement)
Observation                   measurement (LOINC; valueQuantity, referenceRange)
Procedure                     procedure_occurrence (performed[x])
MedicationStatement,          drug_exposure (effective[x])
MedicationAdministration
MedicationDispense            drug_exposure (whenHandedOver + daysSupply, quantity)
Medication                    the codes of a medicationReference
============================  =========================================================

Every coding is kept: the preferred one (:data:`PREFERRED`, e.g. ICD-10 before
SNOMED CT) becomes ``*_source_value`` with its ``*_source_vocabulary_id``, and all
codings of known systems go to ``*_source_codes``. Persons, visits and events are
numbered by their sorted resource ids (as the mapping path numbers source keys).
Resources with a status saying they did not happen (``entered-in-error``,
``not-done``, ``not-taken``, ``cancelled``, ``refuted``) are skipped and counted.
Date-times keep their local wall-clock time (the offset is dropped); a partial date
("2023-05") stands for its first day.

A malformed resource stops the import with a :class:`FhirError` naming every bad
resource and field; resource types Perron does not read are counted in
:attr:`FhirImport.unsupported`, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from perron.omop.cdm import (
    Cdm,
    CdmError,
    Problem,
    conform,
    observation_periods_from_events,
)
from perron.omop.fhir_rows import PREFERRED, SUPPORTED, Importer, Json
from perron.omop.schema import CONCEPTS, SCHEMA

__all__ = ["PREFERRED", "SUPPORTED", "FhirError", "FhirImport", "import_bundles", "read_bundle"]


class FhirError(CdmError):
    """FHIR resources that cannot be read into the CDM; all are listed."""


@dataclass(frozen=True)
class FhirImport:
    """The CDM built from FHIR bundles, and what the import did with each resource.

    Attributes
    ----------
    cdm : Cdm
    imported : mapping of str to int
        Resources read, by type.
    skipped : mapping of str to int
        Resources read but left out because their status says they did not happen.
    unsupported : mapping of str to int
        Resources of types the import does not read, by type (nothing is dropped
        silently).
    notes : tuple of str
        Things worth a data manager's look (deceased without a date, unknown code
        systems, resources without a code).
    """

    cdm: Cdm
    imported: Mapping[str, int]
    skipped: Mapping[str, int]
    unsupported: Mapping[str, int]
    notes: tuple[str, ...] = ()

    def report(self) -> str:
        """A short plain-text account of the import."""

        def listing(counts: Mapping[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

        lines = [
            f"imported: {listing(self.imported)}",
            f"skipped (did not happen): {listing(self.skipped)}",
            f"not read (unsupported type): {listing(self.unsupported)}",
            "CDM rows: " + ", ".join(f"{k} {v}" for k, v in self.cdm.counts().items()),
        ]
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def read_bundle(source: str | Path | bytes) -> Json:
    """A bundle as JSON: from a file path, or JSON text or bytes."""
    if isinstance(source, Path):
        try:
            text: str | bytes = source.read_bytes()
        except OSError as exc:
            raise FhirError(
                f"FHIR bundle {str(source)!r}",
                [Problem(str(source), None, f"cannot be read ({exc.strerror}).")],
                "Check the path.",
            ) from exc
    else:
        text = source
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FhirError(
            "FHIR bundle",
            [Problem("bundle", None, f"is not JSON: {exc}.")],
            "Export the bundle as FHIR JSON.",
        ) from exc
    if not isinstance(document, dict):
        raise FhirError(
            "FHIR bundle", [Problem("bundle", None, "is not a JSON object.")], "Give a Bundle."
        )
    return document


def import_bundles(
    bundles: Iterable[Json | str | Path | bytes] | Json,
    *,
    type_concept_id: int = CONCEPTS["EHR"],
    preferred: Sequence[str] = PREFERRED,
    observation_periods: bool = True,
) -> FhirImport:
    """Read FHIR R4 bundles into a validated :class:`~perron.omop.cdm.Cdm`.

    Parameters
    ----------
    bundles : Bundle JSON, or an iterable of Bundle JSON, JSON text or file paths
        One holder's export; references may cross bundles.
    type_concept_id : int
        The ``*_type_concept_id`` of every row (default 32817, EHR).
    preferred : sequence of str
        Code systems in order of preference for ``*_source_value``.
    observation_periods : bool
        Derive one observation period per person from the events.

    Raises
    ------
    FhirError
        Naming every malformed resource and field (FHIR validation errors from
        ``fhir.resources``, references to resources that are not there, events
        without a date) and every CDM problem, at the resource it came from.

    Examples
    --------
    >>> bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
    ...     {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female",
    ...                   "birthDate": "1950-02-03", "deceasedDateTime": "2023-01-02"}},
    ...     {"resource": {"resourceType": "Condition", "id": "c1",
    ...                   "subject": {"reference": "Patient/p1"},
    ...                   "onsetDateTime": "2022-03-04",
    ...                   "code": {"coding": [
    ...                       {"system": "http://snomed.info/sct", "code": "84114007"},
    ...                       {"system": "http://hl7.org/fhir/sid/icd-10", "code": "I50.9"}]}}},
    ...     {"resource": {"resourceType": "Immunization", "id": "i1"}}]}
    >>> result = import_bundles(bundle)
    >>> row = result.cdm.condition_occurrence.iloc[0]
    >>> row["condition_source_value"], row["condition_source_codes"]
    ('I50.9', 'SNOMED:84114007|ICD10:I50.9')
    >>> dict(result.unsupported)
    {'Immunization': 1}
    """
    if isinstance(bundles, dict):
        bundles = [bundles]
    importer = Importer(type_concept_id, preferred)
    for number, bundle in enumerate(bundles):
        document = bundle if isinstance(bundle, dict) else read_bundle(bundle)
        importer.read(number, document)
    importer.build()  # also with problems: report the bad references and dates too
    hint = "Fix the resources named above in the export (or the exporter) and import again."
    if importer.problems:
        raise FhirError("the FHIR bundles cannot be read into the CDM", importer.problems, hint)
    tables = {
        name: pd.DataFrame(rows, columns=list(SCHEMA[name].names)) if rows else None
        for name, rows in importer.rows.items()
    }
    frames, problems = conform({k: v for k, v in tables.items() if v is not None})
    located = [_locate(p, importer.origin) for p in problems]
    if located:
        raise FhirError("the FHIR bundles do not fit OMOP CDM v5.4", located, hint)
    if observation_periods:
        frames["observation_period"] = observation_periods_from_events(frames, type_concept_id)
    return FhirImport(
        cdm=Cdm(frames),
        imported=dict(importer.imported),
        skipped=dict(importer.skipped),
        unsupported=dict(importer.unsupported),
        notes=tuple(importer.notes),
    )


def _locate(problem: Problem, origin: Mapping[str, list[str]]) -> Problem:
    """A CDM problem named by the resources whose rows have it."""
    places = origin.get(problem.where)
    if not places or not problem.rows:
        return problem
    resources = ", ".join(dict.fromkeys(places[r] for r in problem.rows[:3]))
    return Problem(f"{problem.where} from {resources}", problem.field, problem.reason, problem.rows)
