"""FHIR R4 bundles into the CDM: hand-written bundles, bad resources, the demo."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from perron.omop.cdm import Problem
from perron.omop.fhir import FhirError, import_bundles, read_bundle
from perron.omop.synthetic import demo

ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"


def bundle(*resources, full_urls=None) -> dict[str, Any]:
    entries = []
    for number, resource in enumerate(resources):
        entry = {"resource": resource}
        if full_urls is not None:
            entry["fullUrl"] = full_urls[number]
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def patient(ident="p1", **extra) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": ident,
        "gender": "female",
        "birthDate": "1950-02-03",
        **extra,
    }


def condition(ident="c1", subject="Patient/p1", **extra) -> dict[str, Any]:
    resource = {
        "resourceType": "Condition",
        "id": ident,
        "subject": {"reference": subject},
        "onsetDateTime": "2022-03-04",
        "code": {
            "coding": [
                {"system": SNOMED, "code": "84114007", "display": "Heart failure"},
                {"system": ICD10, "code": "I50.9"},
            ]
        },
    }
    resource.update(extra)
    return resource


def problems(*bundles) -> list[Problem]:
    with pytest.raises(FhirError) as caught:
        import_bundles(list(bundles))
    return list(caught.value.problems)


@pytest.fixture(scope="module")
def data():
    return demo(seed=3, size=50)


def test_patient_with_a_death_date_gives_person_and_death():
    cdm = import_bundles(bundle(patient(deceasedDateTime="2023-01-02T10:30:00+01:00"))).cdm
    person = cdm.person.iloc[0]
    assert person["person_id"] == 1
    assert person["person_source_value"] == "p1"
    assert (person["gender_concept_id"], person["gender_source_value"]) == (8532, "female")
    assert (person["year_of_birth"], person["month_of_birth"], person["day_of_birth"]) == (
        1950,
        2,
        3,
    )
    death = cdm.death.iloc[0]
    assert death["person_id"] == 1
    assert death["death_type_concept_id"] == 32817
    assert death["death_date"] == pd.Timestamp("2023-01-02")
    assert death["death_datetime"] == pd.Timestamp("2023-01-02 10:30")  # local wall clock


def test_deceased_without_a_date_is_noted_not_dropped_silently():
    result = import_bundles(bundle(patient(deceasedBoolean=True)))
    assert result.cdm.death.empty
    assert any("deceased without a date" in note for note in result.notes)


def test_partial_birth_date_keeps_what_is_known():
    cdm = import_bundles(bundle(patient(birthDate="1950-07"), patient("p2", birthDate="1961"))).cdm
    person = cdm.person.set_index("person_source_value")
    assert person.loc["p1", "month_of_birth"] == 7
    assert pd.isna(person.loc["p1", "day_of_birth"])
    assert pd.isna(person.loc["p2", "month_of_birth"])
    assert pd.isna(person.loc["p2", "birth_datetime"])


def test_condition_keeps_icd10_and_snomed_codes_with_their_systems():
    result = import_bundles(bundle(patient(), condition()))
    row = result.cdm.condition_occurrence.iloc[0]
    assert (row["condition_source_value"], row["condition_source_vocabulary_id"]) == (
        "I50.9",
        "ICD10",
    )
    assert row["condition_source_codes"] == "SNOMED:84114007|ICD10:I50.9"
    assert row["condition_concept_id"] == 0
    assert row["person_id"] == 1
    assert row["condition_start_date"] == pd.Timestamp("2022-03-04")
    snomed_first = import_bundles(bundle(patient(), condition()), preferred=("SNOMED",)).cdm
    assert snomed_first.condition_occurrence.iloc[0]["condition_source_value"] == "84114007"


def test_encounter_becomes_a_visit_and_events_link_to_it():
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"code": "IMP"},
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2022-03-01T08:00:00+01:00", "end": "2022-03-05"},
    }
    cdm = import_bundles(
        bundle(patient(), encounter, condition(encounter={"reference": "Encounter/e1"}))
    ).cdm
    visit = cdm.visit_occurrence.iloc[0]
    assert (visit["visit_concept_id"], visit["visit_source_value"]) == (9201, "IMP")
    assert visit["visit_start_datetime"] == pd.Timestamp("2022-03-01 08:00")
    assert visit["visit_end_date"] == pd.Timestamp("2022-03-05")
    assert cdm.condition_occurrence.iloc[0]["visit_occurrence_id"] == 1
    period = cdm.observation_period.iloc[0]
    assert period["observation_period_start_date"] == pd.Timestamp("2022-03-01")
    assert period["observation_period_end_date"] == pd.Timestamp("2022-03-05")


def test_observation_becomes_a_measurement_with_value_and_unit():
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "33762-6"}]},
        "effectiveDateTime": "2023-04-05",
        "valueQuantity": {
            "value": 1830.5,
            "unit": "pg/mL",
            "system": "http://unitsofmeasure.org",
            "code": "pg/mL",
        },
        "referenceRange": [{"high": {"value": 125}}],
    }
    row = import_bundles(bundle(patient(), observation)).cdm.measurement.iloc[0]
    assert (row["measurement_source_value"], row["measurement_source_vocabulary_id"]) == (
        "33762-6",
        "LOINC",
    )
    assert row["value_as_number"] == 1830.5
    assert row["unit_source_value"] == "pg/mL"
    assert row["range_high"] == 125
    assert pd.isna(row["range_low"])


def test_medication_statement_administration_and_dispense_become_drug_exposures():
    statement = {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "C07AB07"}]},
        "effectivePeriod": {"start": "2023-01-01", "end": "2023-06-30"},
    }
    administration = {
        "resourceType": "MedicationAdministration",
        "id": "m2",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": "Medication/med1"},
        "effectiveDateTime": "2023-02-03T09:00:00Z",
    }
    medication = {
        "resourceType": "Medication",
        "id": "med1",
        "code": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6809"}]
        },
    }
    dispense = {
        "resourceType": "MedicationDispense",
        "id": "m3",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "contained": [
            {
                "resourceType": "Medication",
                "id": "c",
                "code": {"coding": [{"system": ATC, "code": "A10BA02"}]},
            }
        ],
        "medicationReference": {"reference": "#c"},
        "whenHandedOver": "2023-03-01",
        "quantity": {"value": 90},
        "daysSupply": {"value": 30},
    }
    result = import_bundles(bundle(patient(), statement, administration, medication, dispense))
    drugs = result.cdm.drug_exposure.set_index("drug_source_value")
    assert drugs.loc["C07AB07", "drug_exposure_end_date"] == pd.Timestamp("2023-06-30")
    assert drugs.loc["6809", "drug_source_vocabulary_id"] == "RxNorm"
    assert drugs.loc["6809", "drug_exposure_start_datetime"] == pd.Timestamp("2023-02-03 09:00")
    assert drugs.loc["6809", "drug_exposure_end_date"] == pd.Timestamp("2023-02-03")
    assert drugs.loc["A10BA02", "drug_exposure_end_date"] == pd.Timestamp("2023-03-31")
    assert (drugs.loc["A10BA02", "quantity"], drugs.loc["A10BA02", "days_supply"]) == (90, 30)
    assert result.imported["Medication"] == 1
    assert result.imported["MedicationDispense"] == 1


def test_procedure_with_a_performed_period():
    procedure = {
        "resourceType": "Procedure",
        "id": "x1",
        "status": "completed",
        "subject": {"reference": "urn:uuid:patient-1"},
        "code": {"coding": [{"system": SNOMED, "code": "415070008"}], "text": "PCI"},
        "performedPeriod": {
            "start": "2023-05-01T10:00:00+02:00",
            "end": "2023-05-01T12:00:00+02:00",
        },
    }
    result = import_bundles(
        bundle(patient(), procedure, full_urls=["urn:uuid:patient-1", "urn:uuid:x"])
    )
    row = result.cdm.procedure_occurrence.iloc[0]
    assert row["person_id"] == 1
    assert row["procedure_source_codes"] == "SNOMED:415070008"
    assert row["procedure_end_datetime"] == pd.Timestamp("2023-05-01 12:00")


def test_unsupported_types_are_counted_and_reported():
    immunization = {"resourceType": "Immunization", "id": "i1"}
    allergy = {"resourceType": "AllergyIntolerance", "id": "a1"}
    result = import_bundles(bundle(patient(), immunization, dict(immunization, id="i2"), allergy))
    assert dict(result.unsupported) == {"Immunization": 2, "AllergyIntolerance": 1}
    assert "not read (unsupported type): AllergyIntolerance 1, Immunization 2" in result.report()


def test_resources_that_did_not_happen_are_skipped_and_counted():
    refuted = condition("c2", verificationStatus={"coding": [{"code": "refuted"}]})
    procedure = {
        "resourceType": "Procedure",
        "id": "x1",
        "status": "not-done",
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": "2023-01-01",
    }
    result = import_bundles(bundle(patient(), condition(), refuted, procedure))
    assert len(result.cdm.condition_occurrence) == 1
    assert dict(result.skipped) == {"Condition": 1, "Procedure": 1}


def test_unknown_code_system_is_noted():
    coded = condition(
        code={
            "coding": [
                {"system": "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.2.20.5.2", "code": "1234"}
            ]
        }
    )
    result = import_bundles(bundle(patient(), coded))
    row = result.cdm.condition_occurrence.iloc[0]
    assert row["condition_source_value"] == "1234"
    assert pd.isna(row["condition_source_vocabulary_id"])
    assert any("are not known" in note for note in result.notes)


def test_references_may_cross_bundles_and_bundles_may_be_text_or_files(tmp_path):
    path = tmp_path / "conditions.json"
    path.write_text(json.dumps(bundle(condition())))
    result = import_bundles([json.dumps(bundle(patient())), path])
    assert len(result.cdm.condition_occurrence) == 1
    assert read_bundle(path)["resourceType"] == "Bundle"


# -- malformed input ------------------------------------------------------------------


def test_malformed_resource_names_the_entry_and_the_field():
    bad = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "BNP"},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": "high"},
    }
    (problem,) = problems(bundle(patient(), bad))
    assert problem.where == "bundle[0].entry[1] (Observation/o1)"
    assert problem.field == "valueQuantity.value"
    assert "'high'" in problem.reason


def test_missing_required_fhir_element():
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished"}
    (problem,) = problems(bundle(patient(), encounter))
    assert (problem.where, problem.field) == ("bundle[0].entry[1] (Encounter/e1)", "class")
    assert problem.reason == "is required by FHIR R4 and missing."


def test_subject_missing_or_not_a_patient_in_the_bundles():
    found = problems(
        bundle(patient(), condition("c1", subject="Patient/p9"), condition("c2", subject=None))
    )
    assert [(p.where, p.field) for p in found] == [
        ("bundle[0].entry[1] (Condition/c1)", "subject"),
        ("bundle[0].entry[2] (Condition/c2)", "subject"),
    ]
    assert "Patient/p9" in found[0].reason


def test_event_without_a_date():
    undated = condition()
    del undated["onsetDateTime"]
    (problem,) = problems(bundle(patient(), undated))
    assert problem.field == "onsetDateTime"
    assert "start date" in problem.reason


def test_patient_without_birth_date():
    (problem,) = problems(bundle({"resourceType": "Patient", "id": "p1"}))
    assert problem.field == "birthDate"


def test_same_id_with_different_content():
    found = problems(bundle(patient(), patient(gender="male")))
    assert [p.field for p in found] == ["id"]
    assert "appears twice" in found[0].reason


def test_every_bad_resource_is_reported_at_once():
    found = problems(
        bundle(patient(), condition("c1", subject="Patient/x")),
        {"resourceType": "Patient"},
        bundle({"resourceType": "Observation", "id": "o1"}, condition("c2", subject="Patient/p2")),
        bundle({"resourceType": "Patient", "id": "p2", "birthDate": "02-03-1950"}),
    )
    assert [(p.where, p.field) for p in found] == [
        ("bundle[1]", "resourceType"),
        ("bundle[2].entry[0] (Observation/o1)", "code"),
        ("bundle[3].entry[0] (Patient/p2)", "birthDate"),
        ("bundle[0].entry[1] (Condition/c1)", "subject"),
    ]  # Condition/c2 refers to the invalid Patient/p2: reported once, there


def test_text_that_is_not_json():
    with pytest.raises(FhirError, match="is not JSON"):
        import_bundles(["{not json"])


# -- the demo: the FHIR path and the mapping path give the same CDM -----------------


def test_synthetic_bundles_give_the_same_cdm_as_the_mapping(data):
    for holder in ("hospital", "pharmacy"):
        result = import_bundles(data.bundles[holder])
        assert not result.unsupported
        assert not result.skipped
        assert not result.notes
        mapped = data.cdm(holder)
        for name, frame in mapped.tables().items():
            left = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
            right = result.cdm[name].sort_values(list(frame.columns[:2])).reset_index(drop=True)
            if name == "person":  # verbatim source values differ: 'v' in the table, FHIR 'female'
                assert (
                    left["gender_source_value"].map({"m": "male", "v": "female"})
                    == right["gender_source_value"]
                ).all()
                left, right = (
                    left.drop(columns="gender_source_value"),
                    right.drop(columns="gender_source_value"),
                )
            pd.testing.assert_frame_equal(left, right, obj=f"{holder}.{name}")
    assert import_bundles(data.bundles["hospital"]).imported["Observation"] == len(
        data.sources["hospital"]["labs"]
    )
