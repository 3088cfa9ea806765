"""Synthetic OMOP and FHIR demo data for the hospital, the insurer and the pharmacy.

Built from :func:`perron.linkage.synthetic.scenario`, so the same records (and so
the same people, by the scenario's ``truth``) appear here as in the linkage demo:
each holder's ``record_id`` is its ``person_source_value``. The hospital's
patients are cardiovascular (hypertension I10, myocardial infarction I21, atrial
fibrillation I48, heart failure I50) and oncology (breast cancer C50) patients,
with the scenario's other conditions as comorbidities.

For each holder there are flat source tables, as a data manager would export them,
and a TOML mapping shipped with Perron (``perron/omop/mappings/<holder>.toml``):

- hospital: ``patients`` (sex, date of birth, date of death), ``admissions`` (one
  main diagnosis each, ICD-10 with its SNOMED CT code), ``procedures`` (SNOMED CT)
  and ``labs`` (LOINC: blood pressure, NT-proBNP, LDL cholesterol, creatinine,
  HbA1c);
- insurer: ``insured`` and ``claims`` (a year of one kind of care);
- pharmacy: ``clients`` and ``dispensings`` (ATC, quantity, days of supply).

The hospital and the pharmacy also export FHIR R4 bundles (one per patient) with
the same content, so the mapping path and the FHIR path can be compared.

Birth dates and sex in the clinical tables are the person's true ones; the
identities the holders use for linkage (:class:`~perron.linkage.synthetic.Holder`
``people``) keep their typing errors. Codes are real ICD-10, SNOMED CT, LOINC and
ATC codes; treatments without a clear SNOMED CT procedure (consultations, dose
adjustments) are not procedures here. Nothing else is real.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perron.linkage.synthetic import Scenario, scenario
from perron.omop.cdm import Cdm
from perron.omop.mapping import CdmMapping, apply, loads
from perron.omop.schema import VOCABULARIES
from perron.omop.view import Hierarchy
from perron.protocol.errors import InputError

__all__ = [
    "HOLDERS",
    "LABS",
    "SNOMED_CONDITIONS",
    "SNOMED_FRAGMENT",
    "SNOMED_PROCEDURES",
    "OmopDemo",
    "demo",
    "load_mapping",
    "mapping_text",
]

HOLDERS = ("hospital", "insurer", "pharmacy")

SNOMED_CONDITIONS: Mapping[str, str] = {
    "I50.9": "84114007",  # heart failure
    "I21.9": "57054005",  # acute myocardial infarction
    "I48.9": "49436004",  # atrial fibrillation
    "E11.9": "44054006",  # diabetes mellitus type 2
    "J44.9": "13645005",  # chronic obstructive pulmonary disease
    "J18.9": "233604007",  # pneumonia
    "N18.9": "709044004",  # chronic kidney disease
    "C50.9": "254837009",  # malignant neoplasm of breast
    "S72.0": "5913000",  # fracture of neck of femur
    "I10": "59621000",  # essential hypertension
}
"""The SNOMED CT code of each ICD-10 diagnosis in the scenario."""

SNOMED_PROCEDURES: Mapping[str, str] = {
    "echocardiografie": "40701008",  # echocardiography
    "PCI met stent": "415070008",  # percutaneous coronary intervention
    "CABG": "232717009",  # coronary artery bypass graft
    "cardioversie": "180325003",  # electrical cardioversion
    "longfunctieonderzoek": "23426006",  # measurement of respiratory function
    "dialyse": "108241001",  # dialysis procedure
    "mammachirurgie": "69031006",  # excision of breast tissue
    "chemotherapie": "367336001",  # chemotherapy
    "radiotherapie": "108290001",  # radiation oncology and/or radiotherapy
    "heupprothese": "52734007",  # total replacement of hip
}
"""The SNOMED CT procedure of each treatment that is a procedure."""

SNOMED_FRAGMENT: Hierarchy = {
    "56265001": ("84114007", "22298006", "49436004"),  # heart disease
    "22298006": ("57054005",),  # myocardial infarction > acute myocardial infarction
    "38341003": ("59621000",),  # hypertensive disorder > essential hypertension
    "363346000": ("254837009",),  # malignant neoplastic disease > breast
}
"""A hand-picked is-a fragment of SNOMED CT for the demo (deeper levels flattened)."""


@dataclass(frozen=True)
class _Lab:
    loinc: str
    test: str
    unit: str
    mean: float
    sd: float


LABS: Mapping[str, _Lab] = {
    "systolic": _Lab("8480-6", "systolische bloeddruk", "mm[Hg]", 135, 15),
    "diastolic": _Lab("8462-4", "diastolische bloeddruk", "mm[Hg]", 80, 9),
    "nt_probnp": _Lab("33762-6", "NT-proBNP", "pg/mL", 2500, 900),
    "ldl": _Lab("13457-7", "LDL-cholesterol", "mg/dL", 135, 30),
    "creatinine": _Lab("2160-0", "kreatinine", "mg/dL", 2.6, 0.8),
    "hba1c": _Lab("4548-4", "HbA1c", "%", 7.9, 1.1),
}
"""The demo's lab tests (LOINC code, Dutch name, UCUM unit, mean and spread)."""

_LAB_FOR = {"I50.9": "nt_probnp", "I21.9": "ldl", "N18.9": "creatinine", "E11.9": "hba1c"}
_SERIOUS = frozenset({"I50.9", "I21.9", "C50.9", "N18.9"})
_END = date(2024, 12, 31)


@dataclass(frozen=True)
class OmopDemo:
    """The demo: the scenario, each holder's flat tables, and FHIR bundles.

    Attributes
    ----------
    scenario : Scenario
        The linkage demo it is built on (``truth`` says who is who).
    sources : mapping of holder to (mapping of source name to DataFrame)
    bundles : mapping of holder to list of Bundle JSON
        For the hospital and the pharmacy; one bundle per patient.
    """

    scenario: Scenario
    sources: Mapping[str, Mapping[str, pd.DataFrame]]
    bundles: Mapping[str, list[dict[str, Any]]]

    def cdm(self, holder: str) -> Cdm:
        """The holder's CDM through its shipped mapping."""
        return apply(load_mapping(holder), self.sources[_holder(holder)])

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write each holder's CSV files, mapping and bundles under ``folder/<holder>``.

        Returns the mapping file of each holder: ``mapping.load(path)`` followed by
        ``mapping.apply`` reads the CSV files beside it.
        """
        folder = Path(folder)
        written: dict[str, Path] = {}
        for holder, tables in self.sources.items():
            place = folder / holder
            place.mkdir(parents=True, exist_ok=True)
            for name, frame in tables.items():
                frame.to_csv(place / f"{name}.csv", index=False)
            written[holder] = place / "mapping.toml"
            written[holder].write_text(mapping_text(holder), encoding="utf-8")
            bundles = self.bundles.get(holder, [])
            if bundles:
                (place / "fhir").mkdir(exist_ok=True)
                for number, bundle in enumerate(bundles):
                    path = place / "fhir" / f"bundle-{number:05d}.json"
                    path.write_text(json.dumps(bundle, indent=1), encoding="utf-8")
        return written


def _holder(holder: str) -> str:
    if holder not in HOLDERS:
        raise InputError(f"unknown holder {holder!r}; use one of {', '.join(HOLDERS)}.")
    return holder


def mapping_text(holder: str) -> str:
    """The TOML mapping shipped for ``holder``."""
    files = resources.files("perron.omop") / "mappings" / f"{_holder(holder)}.toml"
    return files.read_text(encoding="utf-8")


def load_mapping(holder: str) -> CdmMapping:
    """The checked mapping shipped for ``holder`` (its sources are given in memory)."""
    return loads(mapping_text(holder), origin=f"{holder}.toml")


# --------------------------------------------------------------------------------------
# Flat tables
# --------------------------------------------------------------------------------------


def _clinical_people(demo: Scenario, holder: str) -> pd.DataFrame:
    """record_id with the person's true sex and birth date (the clinical record)."""
    truth = demo.truth[demo.truth["holder"] == holder][["record_id", "person_id"]]
    people = truth.merge(demo.population[["person_id", "sex", "dob"]], on="person_id")
    return people.sort_values("record_id", kind="stable").reset_index(drop=True)


def _day(text: str, days: int = 0) -> str:
    return (date.fromisoformat(text) + timedelta(days=days)).isoformat()


def _hospital(demo: Scenario, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    events = demo.hospital.events.reset_index(drop=True)
    admissions = pd.DataFrame(
        {
            "admission_id": [f"A{i:06d}" for i in range(len(events))],
            "record_id": events["record_id"],
            "admission_date": events["admission_date"],
            "discharge_date": [
                _day(d, int(n))
                for d, n in zip(events["admission_date"], events["length_of_stay"], strict=True)
            ],
            "admission_type": np.where(events["length_of_stay"] > 0, "IMP", "AMB"),
            "icd10": events["icd10"],
            "snomed": events["icd10"].map(SNOMED_CONDITIONS),
            "diagnosis": events["diagnosis"],
        }
    )
    procedures = []
    labs = []
    for row, treatment, stay in zip(
        admissions.to_dict("records"),
        events["treatment"].astype(str).tolist(),
        events["length_of_stay"].astype(int).tolist(),
        strict=True,
    ):
        admitted, icd10 = str(row["admission_date"]), str(row["icd10"])
        snomed = SNOMED_PROCEDURES.get(treatment)
        if snomed is not None:
            procedures.append(
                {
                    "admission_id": row["admission_id"],
                    "record_id": row["record_id"],
                    "procedure_date": _day(admitted, int(rng.integers(0, stay + 1))),
                    "treatment": treatment,
                    "snomed": snomed,
                }
            )
        tests = ["systolic", "diastolic"]
        if icd10 in _LAB_FOR:
            tests.append(_LAB_FOR[icd10])
        for test in tests:
            lab = LABS[test]
            shift = 12.0 if icd10 == "I10" and lab.unit == "mm[Hg]" else 0.0
            value = max(float(rng.normal(lab.mean + shift, lab.sd)), lab.mean / 4)
            labs.append(
                {
                    "admission_id": row["admission_id"],
                    "record_id": row["record_id"],
                    "lab_date": admitted,
                    "loinc": lab.loinc,
                    "test": lab.test,
                    "value": round(value, 1),
                    "unit": lab.unit,
                }
            )
    procedure_frame = pd.DataFrame(procedures)
    procedure_frame.insert(0, "procedure_id", [f"R{i:06d}" for i in range(len(procedure_frame))])
    lab_frame = pd.DataFrame(labs)
    lab_frame.insert(0, "lab_id", [f"L{i:06d}" for i in range(len(lab_frame))])
    patients = _clinical_people(demo, "hospital")
    last = admissions.groupby("record_id")["discharge_date"].max()
    serious: dict[str, int] = {}
    for record, icd10 in zip(admissions["record_id"], admissions["icd10"], strict=True):
        serious[record] = serious.get(record, 0) + (icd10 in _SERIOUS)
    deaths: list[str | None] = []
    for record in patients["record_id"]:
        died = rng.random() < 0.03 + 0.08 * serious.get(record, 0)
        day = _day(str(last[record]), int(rng.integers(1, 366)))
        deaths.append(day if died and date.fromisoformat(day) <= _END else None)
    patients["death_date"] = pd.Series(deaths, dtype=object)
    return {
        "patients": patients[["record_id", "sex", "dob", "death_date"]],
        "admissions": admissions,
        "procedures": procedure_frame,
        "labs": lab_frame,
    }


def _insurer(demo: Scenario) -> dict[str, pd.DataFrame]:
    claims = demo.insurer.events.reset_index(drop=True).copy()
    claims.insert(0, "claim_id", [f"C{i:06d}" for i in range(len(claims))])
    claims["start_date"] = claims["year"].map(lambda y: f"{y}-01-01")
    claims["end_date"] = claims["year"].map(lambda y: f"{y}-12-31")
    people = _clinical_people(demo, "insurer")[["record_id", "sex", "dob"]]
    return {"insured": people, "claims": claims}


def _pharmacy(demo: Scenario) -> dict[str, pd.DataFrame]:
    dispensings = demo.pharmacy.events.reset_index(drop=True).copy()
    dispensings.insert(0, "dispensing_id", [f"D{i:06d}" for i in range(len(dispensings))])
    dispensings["days_supply"] = dispensings["quantity"]  # one unit a day
    people = _clinical_people(demo, "pharmacy")[["record_id", "sex", "dob"]]
    return {"clients": people, "dispensings": dispensings}


# --------------------------------------------------------------------------------------
# FHIR bundles with the same content
# --------------------------------------------------------------------------------------

_GENDER = {"m": "male", "v": "female"}
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _coding(vocabulary: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": VOCABULARIES[vocabulary], "code": code}
    if display:
        coding["display"] = display
    return coding


def _patient(row: Mapping[Hashable, Any]) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": row["record_id"],
        "identifier": [{"system": "urn:perron:demo:record", "value": row["record_id"]}],
        "gender": _GENDER.get(str(row["sex"]), "unknown"),
        "birthDate": row["dob"],
    }
    if isinstance(row.get("death_date"), str):
        patient["deceasedDateTime"] = row["death_date"]
    return patient


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource}


def _bundle(record: str, resources_: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": f"export-{record}",
        "type": "collection",
        "entry": [_entry(r) for r in resources_],
    }


def _hospital_bundles(tables: Mapping[str, pd.DataFrame]) -> list[dict[str, Any]]:
    by_record: dict[str, list[dict[str, Any]]] = {}
    for row in tables["patients"].to_dict("records"):
        by_record[str(row["record_id"])] = [_patient(row)]
    for row in tables["admissions"].to_dict("records"):
        subject = {"reference": f"Patient/{row['record_id']}"}
        encounter = {"reference": f"Encounter/{row['admission_id']}"}
        by_record[str(row["record_id"])] += [
            {
                "resourceType": "Encounter",
                "id": row["admission_id"],
                "status": "finished",
                "class": {"system": _ACT_CODE, "code": row["admission_type"]},
                "subject": subject,
                "period": {"start": row["admission_date"], "end": row["discharge_date"]},
            },
            {
                "resourceType": "Condition",
                "id": row["admission_id"],
                "subject": subject,
                "encounter": encounter,
                "code": {
                    "coding": [
                        _coding("ICD10", row["icd10"], row["diagnosis"]),
                        _coding("SNOMED", row["snomed"]),
                    ],
                    "text": row["diagnosis"],
                },
                "onsetDateTime": row["admission_date"],
            },
        ]
    for row in tables["procedures"].to_dict("records"):
        by_record[str(row["record_id"])].append(
            {
                "resourceType": "Procedure",
                "id": row["procedure_id"],
                "status": "completed",
                "subject": {"reference": f"Patient/{row['record_id']}"},
                "encounter": {"reference": f"Encounter/{row['admission_id']}"},
                "code": {"coding": [_coding("SNOMED", row["snomed"])], "text": row["treatment"]},
                "performedDateTime": row["procedure_date"],
            }
        )
    for row in tables["labs"].to_dict("records"):
        by_record[str(row["record_id"])].append(
            {
                "resourceType": "Observation",
                "id": row["lab_id"],
                "status": "final",
                "subject": {"reference": f"Patient/{row['record_id']}"},
                "encounter": {"reference": f"Encounter/{row['admission_id']}"},
                "code": {"coding": [_coding("LOINC", row["loinc"], row["test"])]},
                "effectiveDateTime": row["lab_date"],
                "valueQuantity": {
                    "value": row["value"],
                    "unit": row["unit"],
                    "system": VOCABULARIES["UCUM"],
                    "code": row["unit"],
                },
            }
        )
    return [_bundle(record, items) for record, items in by_record.items()]


def _pharmacy_bundles(tables: Mapping[str, pd.DataFrame]) -> list[dict[str, Any]]:
    by_record: dict[str, list[dict[str, Any]]] = {}
    for row in tables["clients"].to_dict("records"):
        by_record[str(row["record_id"])] = [_patient(row)]
    for row in tables["dispensings"].to_dict("records"):
        by_record[str(row["record_id"])].append(
            {
                "resourceType": "MedicationDispense",
                "id": row["dispensing_id"],
                "status": "completed",
                "subject": {"reference": f"Patient/{row['record_id']}"},
                "medicationCodeableConcept": {
                    "coding": [_coding("ATC", row["atc"], row["substance"])],
                    "text": row["substance"],
                },
                "quantity": {"value": int(row["quantity"])},
                "daysSupply": {
                    "value": int(row["days_supply"]),
                    "unit": "d",
                    "system": VOCABULARIES["UCUM"],
                    "code": "d",
                },
                "whenHandedOver": row["dispensing_date"],
            }
        )
    return [_bundle(record, items) for record, items in by_record.items()]


def demo(seed: int = 0, size: int = 200) -> OmopDemo:
    """The OMOP/FHIR demo on top of ``scenario(seed, size)``.

    Examples
    --------
    >>> data = demo(seed=1, size=60)
    >>> sorted(data.sources), sorted(data.bundles)
    (['hospital', 'insurer', 'pharmacy'], ['hospital', 'pharmacy'])
    >>> cdm = data.cdm("hospital")
    >>> set(cdm.person["person_source_value"]) == set(data.scenario.hospital.people["record_id"])
    True
    """
    base = scenario(seed=seed, size=size)
    rng = np.random.default_rng([seed, 9])
    sources = {
        "hospital": _hospital(base, rng),
        "insurer": _insurer(base),
        "pharmacy": _pharmacy(base),
    }
    bundles = {
        "hospital": _hospital_bundles(sources["hospital"]),
        "pharmacy": _pharmacy_bundles(sources["pharmacy"]),
    }
    return OmopDemo(base, sources, bundles)
