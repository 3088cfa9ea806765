"""The OMOP/FHIR demo: the linkage demo's people, at three holders."""

from __future__ import annotations

import pandas as pd
import pytest

from perron.linkage.synthetic import scenario
from perron.omop import synthetic
from perron.omop.view import person_table
from perron.protocol.errors import InputError


@pytest.fixture(scope="module")
def data() -> synthetic.OmopDemo:
    return synthetic.demo(seed=4, size=80)


def test_same_records_as_the_linkage_scenario(data):
    linkage = scenario(seed=4, size=80)
    for holder in synthetic.HOLDERS:
        cdm = data.cdm(holder)
        records = getattr(linkage, holder).people["record_id"]
        assert sorted(cdm.person["person_source_value"]) == sorted(records)


def test_hospital_diagnoses_are_the_people_s_conditions(data):
    cdm = data.cdm("hospital")
    truth = data.scenario.truth.set_index(["holder", "record_id"])["person_id"]
    population = data.scenario.population.set_index("person_id")
    diagnoses = cdm.condition_occurrence.merge(cdm.person[["person_id", "person_source_value"]])
    for record, codes in diagnoses.groupby("person_source_value")["condition_source_value"]:
        person = truth[("hospital", record)]
        assert len(codes) == len(population.loc[person, "conditions"])
    assert set(cdm.condition_occurrence["condition_source_value"]) <= set(
        synthetic.SNOMED_CONDITIONS
    )


def test_linked_people_carry_their_treatment_across_holders(data):
    """Heart-failure patients at the hospital get loop diuretics at the pharmacy."""
    index = "2025-01-01"
    hospital = person_table(data.cdm("hospital"), index, conditions={"hf": "ICD10:I50*"})
    pharmacy = person_table(data.cdm("pharmacy"), index, drugs={"furosemide": "ATC:C03CA01"})
    truth = data.scenario.truth
    ids = truth.set_index(["holder", "record_id"])["person_id"]
    hospital["person"] = [ids[("hospital", r)] for r in hospital["person_source_value"]]
    pharmacy["person"] = [ids[("pharmacy", r)] for r in pharmacy["person_source_value"]]
    linked = hospital.merge(pharmacy, on="person", suffixes=("_h", "_p"))
    assert len(linked) > 10
    with_hf = linked[linked["hf"]]
    assert len(with_hf) > 0
    assert with_hf["furosemide"].all()
    assert (linked["age_h"] == linked["age_p"]).all()
    assert (linked["sex_h"] == linked["sex_p"]).all()


def test_demo_codes_and_labs_are_coded(data):
    hospital = data.cdm("hospital")
    assert set(hospital.measurement["measurement_source_value"]) <= {
        lab.loinc for lab in synthetic.LABS.values()
    }
    assert set(hospital.procedure_occurrence["procedure_source_value"]) <= set(
        synthetic.SNOMED_PROCEDURES.values()
    )
    assert hospital.death["person_id"].isin(hospital.person["person_id"]).all()
    assert set(data.cdm("pharmacy").drug_exposure["drug_source_vocabulary_id"]) == {"ATC"}


def test_heart_failure_patients_have_high_nt_probnp(data):
    table = person_table(
        data.cdm("hospital"),
        "2025-01-01",
        conditions={"hf": "ICD10:I50*"},
        measurements={"nt_probnp": "LOINC:33762-6"},
    )
    assert table.loc[table["hf"], "nt_probnp"].notna().all()
    assert table.loc[~table["hf"], "nt_probnp"].isna().all()


def test_snomed_fragment_widens_a_code_set(data):
    table = person_table(
        data.cdm("hospital"),
        "2025-01-01",
        conditions={"heart_disease": "SNOMED:56265001", "hf": "SNOMED:84114007"},
        hierarchies={"SNOMED": synthetic.SNOMED_FRAGMENT},
    )
    assert table["heart_disease"].sum() > table["hf"].sum() > 0


def test_demo_is_deterministic_per_seed():
    first, second = synthetic.demo(seed=5, size=30), synthetic.demo(seed=5, size=30)
    for holder, tables in first.sources.items():
        for name, frame in tables.items():
            pd.testing.assert_frame_equal(frame, second.sources[holder][name])
    assert first.bundles == second.bundles


def test_unknown_holder():
    with pytest.raises(InputError, match="unknown holder"):
        synthetic.load_mapping("registry")


def test_shipped_mappings_load():
    for holder in synthetic.HOLDERS:
        mapping = synthetic.load_mapping(holder)
        assert mapping.name == holder
        assert mapping.observation_period_type is not None
