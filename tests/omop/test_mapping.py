"""Mapping files: checked per field at load, against the data, and applied."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from perron.omop.cdm import Problem
from perron.omop.mapping import MappingError, apply, check, load, loads
from perron.omop.synthetic import demo, load_mapping

PERSON = """
[sources.people]
columns = ["id", "sex", "born", "died"]

[[cdm.person]]
source = "people"
person_id = { key = "id" }
person_source_value = { column = "id" }
gender_concept_id = { column = "sex", values = { m = 8507, v = 8532 }, default = 0 }
year_of_birth = { column = "born", format = "%d-%m-%Y", part = "year" }
month_of_birth = { column = "born", format = "%d-%m-%Y", part = "month" }
race_concept_id = 0
ethnicity_concept_id = 0
"""

PEOPLE = pd.DataFrame(
    {
        "id": ["p2", "p1", "p3"],
        "sex": ["v", "m", ""],
        "born": ["03-02-1950", "01-12-1961", "15-06-1975"],
        "died": [None, "2024-02-01", ""],
    }
)


def problems_of(text: str) -> list[tuple[str, str | None, str]]:
    with pytest.raises(MappingError) as caught:
        loads(textwrap.dedent(text))
    return [(p.where, p.field, p.reason) for p in caught.value.problems]


def only(text: str) -> tuple[str, str | None, str]:
    found = problems_of(text)
    assert len(found) == 1, found
    return found[0]


def data_problems(text: str, sources, base=None) -> list[Problem]:
    mapping = loads(textwrap.dedent(text), base=base)
    with pytest.raises(MappingError) as caught:
        apply(mapping, sources)
    assert check(mapping, sources) == list(caught.value.problems)
    return list(caught.value.problems)


@pytest.fixture(scope="module")
def data():
    return demo(seed=2, size=60)


# -- applying ----------------------------------------------------------------------


def test_person_mapping_numbers_keys_and_maps_values():
    cdm = apply(loads(PERSON), {"people": PEOPLE})
    person = cdm.person.set_index("person_source_value")
    assert person.loc[["p1", "p2", "p3"], "person_id"].tolist() == [1, 2, 3]
    assert person.loc[["p1", "p2", "p3"], "gender_concept_id"].tolist() == [8507, 8532, 0]
    assert person.loc["p2", "year_of_birth"] == 1950
    assert person.loc["p2", "month_of_birth"] == 2


def test_where_present_keeps_rows_with_a_value_and_keys_resolve():
    text = (
        PERSON
        + """
[[cdm.death]]
source = "people"
where_present = ["died"]
person_id = { key = "id" }
death_date = { column = "died" }
death_type_concept_id = 32817
"""
    )
    cdm = apply(loads(text), {"people": PEOPLE})
    assert cdm.death["person_id"].tolist() == [1]
    assert cdm.death["death_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01"]


def test_plus_days_codes_and_automatic_event_ids():
    text = (
        PERSON
        + """
[sources.drugs]
[[cdm.drug_exposure]]
source = "drugs"
person_id = { key = "who" }
drug_concept_id = 0
drug_exposure_start_date = { column = "on" }
drug_exposure_end_date = { column = "on", plus_days = "days" }
drug_type_concept_id = 32817
drug_source_value = { column = "atc" }
drug_source_vocabulary_id = "ATC"
drug_source_codes = { codes = { ATC = "atc", RxNorm = "rxnorm" } }
verbatim_end_date = { column = "on", plus_days = 7 }
"""
    )
    drugs = pd.DataFrame(
        {
            "who": ["p3", "p1"],
            "on": ["2023-01-01", "2023-03-01"],
            "days": ["30", "10"],
            "atc": ["C07AB07", "A10BA02"],
            "rxnorm": ["", "6809"],
        }
    )
    cdm = apply(loads(text), {"people": PEOPLE, "drugs": drugs})
    exposure = cdm.drug_exposure
    assert exposure["drug_exposure_id"].tolist() == [1, 2]
    assert exposure["person_id"].tolist() == [3, 1]
    assert exposure["drug_exposure_end_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2023-01-31",
        "2023-03-11",
    ]
    assert exposure["verbatim_end_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2023-01-08",
        "2023-03-08",
    ]
    assert exposure["drug_source_codes"].tolist() == ["ATC:C07AB07", "ATC:A10BA02|RxNorm:6809"]


def test_observation_periods_are_derived_from_events_when_asked():
    text = (
        PERSON
        + """
[sources.visits]
[[cdm.visit_occurrence]]
source = "visits"
person_id = { key = "who" }
visit_concept_id = 9202
visit_start_date = { column = "from" }
visit_end_date = { column = "to" }
visit_type_concept_id = 32810

[observation_period]
from_events = true
period_type_concept_id = 32810
"""
    )
    visits = pd.DataFrame(
        {
            "who": ["p1", "p1"],
            "from": ["2022-01-01", "2023-01-01"],
            "to": ["2022-12-31", "2023-12-31"],
        }
    )
    periods = apply(loads(text), {"people": PEOPLE, "visits": visits}).observation_period
    assert periods["person_id"].tolist() == [1]
    assert periods["observation_period_end_date"].dt.strftime("%Y-%m-%d").tolist() == ["2023-12-31"]


def test_round_trip_of_the_synthetic_holders(data):
    for holder, tables in data.sources.items():
        cdm = apply(load_mapping(holder), tables)
        people = next(iter(tables.values()))
        assert sorted(cdm.person["person_source_value"]) == sorted(people["record_id"])
        assert cdm.person["gender_concept_id"].isin([8507, 8532]).all()
        dob = pd.to_datetime(people.set_index("record_id")["dob"])
        assert (
            cdm.person.set_index("person_source_value")["year_of_birth"]
            == dob.dt.year.reindex(cdm.person["person_source_value"])
        ).all()
    hospital = apply(load_mapping("hospital"), data.sources["hospital"])
    admissions = data.sources["hospital"]["admissions"]
    assert len(hospital.condition_occurrence) == len(admissions)
    first = hospital.condition_occurrence.iloc[0]
    assert first["condition_source_vocabulary_id"] == "ICD10"
    assert first["condition_source_codes"].startswith(
        f"ICD10:{first['condition_source_value']}|SNOMED:"
    )
    assert len(hospital.measurement) == len(data.sources["hospital"]["labs"])
    assert len(hospital.death) == data.sources["hospital"]["patients"]["death_date"].notna().sum()
    pharmacy = apply(load_mapping("pharmacy"), data.sources["pharmacy"])
    span = (
        pharmacy.drug_exposure["drug_exposure_end_date"]
        - pharmacy.drug_exposure["drug_exposure_start_date"]
    )
    assert (span.dt.days == pharmacy.drug_exposure["days_supply"]).all()
    insurer = apply(load_mapping("insurer"), data.sources["insurer"])
    assert set(insurer.visit_occurrence["visit_type_concept_id"]) == {32810}


def test_mapping_files_on_disk_read_their_csv_files(data, tmp_path):
    written = data.write(tmp_path)
    for holder, path in written.items():
        from_files = apply(load(path))
        in_memory = data.cdm(holder)
        for name, frame in in_memory.tables().items():
            pd.testing.assert_frame_equal(from_files[name], frame, check_dtype=True)
    assert (
        sorted(p.name for p in (tmp_path / "hospital" / "fhir").iterdir())[0] == "bundle-00000.json"
    )


# -- the file itself: one problem per kind ------------------------------------------


def test_invalid_toml():
    _where, field, reason = only("[cdm.person\n")
    assert field is None
    assert "not valid TOML" in reason


def test_unknown_top_level_key():
    assert only("version = 2\n" + PERSON)[1:] == (
        "version",
        "is not a mapping key; use name, description, sources, cdm, observation_period.",
    )


def test_unknown_cdm_table():
    where, _field, reason = only(PERSON + '\n[[cdm.observation]]\nsource = "people"\n')
    assert where == "cdm.observation"
    assert "not a table of the CDM subset" in reason


def test_unknown_cdm_field():
    where, field, reason = only(
        PERSON.replace("race_concept_id = 0", "race_concept_id = 0\nshoe = 1")
    )
    assert (where, field) == ("cdm.person[0]", "shoe")
    assert "not a field of CDM table person" in reason


def test_missing_required_field():
    where, field, reason = only(PERSON.replace("race_concept_id = 0\n", ""))
    assert (where, field) == ("cdm.person[0]", "race_concept_id")
    assert "required and not mapped" in reason


def test_unknown_source_column():
    where, field, reason = only(PERSON.replace('{ column = "sex",', '{ column = "gender",'))
    assert (where, field) == ("cdm.person[0]", "gender_concept_id")
    assert "'gender'" in reason
    assert "does not have" in reason


def test_undeclared_source():
    _where, field, reason = only(PERSON.replace('source = "people"', 'source = "persons"'))
    assert field == "source"
    assert "not declared" in reason


def test_bad_date_format():
    _where, field, reason = only(
        PERSON.replace('format = "%d-%m-%Y", part = "year"', 'format = "%d-%q-%Y", part = "year"')
    )
    assert field == "year_of_birth"
    assert "not a strptime date format" in reason


def test_date_format_without_a_year():
    _where, field, reason = only(
        PERSON.replace('format = "%d-%m-%Y", part = "year"', 'format = "%d-%m", part = "year"')
    )
    assert field == "year_of_birth"
    assert "has no year" in reason


def test_part_on_a_field_that_is_not_an_integer():
    text = PERSON + '\n[[cdm.death]]\nsource = "people"\nperson_id = { key = "id" }\n'
    text += 'death_date = { column = "died", part = "year" }\n'
    where, field, reason = only(text)
    assert (where, field) == ("cdm.death[0]", "death_date")
    assert "part gives an integer" in reason


def test_key_on_a_field_that_takes_no_key():
    _where, field, reason = only(
        PERSON.replace("race_concept_id = 0", 'race_concept_id = { key = "id" }')
    )
    assert field == "race_concept_id"
    assert "takes no key" in reason


def test_codes_on_a_field_that_takes_none():
    text = PERSON.replace(
        "race_concept_id = 0",
        'race_concept_id = 0\nperson_source_value = { codes = { ICD10 = "id" } }',
    )
    found = problems_of(text.replace('person_source_value = { column = "id" }\n', ""))
    assert [(f, "takes no codes" in r) for _, f, r in found] == [("person_source_value", True)]


def test_unknown_code_system():
    text = (
        PERSON
        + """
[sources.dx]
[[cdm.condition_occurrence]]
source = "dx"
person_id = { key = "who" }
condition_concept_id = 0
condition_start_date = { column = "on" }
condition_type_concept_id = 32817
condition_source_vocabulary_id = "ICD9"
condition_source_codes = { codes = { ICD10 = "code", READ = "read" } }
"""
    )
    found = problems_of(text)
    assert [(f, "'ICD9'" in r or "'READ'" in r) for _, f, r in found] == [
        ("condition_source_vocabulary_id", True),
        ("condition_source_codes", True),
    ]


def test_constant_of_the_wrong_type():
    _where, field, reason = only(PERSON.replace("race_concept_id = 0", 'race_concept_id = "white"'))
    assert field == "race_concept_id"
    assert "not an integer" in reason


def test_value_map_target_of_the_wrong_type():
    _where, field, reason = only(PERSON.replace("m = 8507", 'm = "male"'))
    assert field == "gender_concept_id"
    assert reason.startswith("values.m:")


def test_unknown_spec_key_and_two_sources():
    found = problems_of(
        PERSON.replace('{ column = "id" }', '{ column = "id", key = "id", colour = 1 }')
    )
    assert {f for _, f, _ in found} == {"person_source_value"}
    reasons = " ".join(r for _, _, r in found)
    assert "unknown keys ['colour']" in reasons
    assert "exactly one of column, key or codes" in reasons


def test_keys_in_some_rules_only():
    text = (
        PERSON
        + """
[sources.dx]
[[cdm.condition_occurrence]]
source = "dx"
condition_occurrence_id = { key = "dx_id" }
person_id = { key = "who" }
condition_concept_id = 0
condition_start_date = { column = "on" }
condition_type_concept_id = 32817

[[cdm.condition_occurrence]]
source = "dx"
person_id = { key = "who" }
condition_concept_id = 0
condition_start_date = { column = "on" }
condition_type_concept_id = 32817
"""
    )
    where, field, reason = only(text)
    assert (where, field) == ("cdm.condition_occurrence", "condition_occurrence_id")
    assert "collide" in reason


def test_key_lookup_without_a_table_that_defines_keys():
    text = PERSON.replace('person_id = { key = "id" }', 'person_id = { column = "id" }')
    text += """
[sources.dx]
[[cdm.condition_occurrence]]
source = "dx"
person_id = { key = "who" }
condition_concept_id = 0
condition_start_date = { column = "on" }
condition_type_concept_id = 32817
"""
    where, field, reason = only(text)
    assert (where, field) == ("cdm.condition_occurrence[0]", "person_id")
    assert "no [[cdm.person]] rule defines keys" in reason


def test_observation_periods_derived_and_mapped():
    text = (
        PERSON
        + """
[observation_period]
from_events = true

[sources.op]
[[cdm.observation_period]]
source = "op"
person_id = { key = "who" }
observation_period_start_date = { column = "a" }
observation_period_end_date = { column = "b" }
period_type_concept_id = 32817
"""
    )
    where, _field, reason = only(text)
    assert where == "observation_period"
    assert "keep one" in reason


def test_every_problem_in_the_file_is_reported_at_once():
    text = PERSON.replace("race_concept_id = 0\n", "").replace(
        'format = "%d-%m-%Y", part = "month"', 'format = "%d-%Q-%Y", part = "month"'
    )
    text = text.replace("ethnicity_concept_id = 0", "ethnicity_concept_id = 0\nshoe = 1")
    with pytest.raises(MappingError) as caught:
        loads(text, origin="people.toml")
    assert {(p.where, p.field) for p in caught.value.problems} == {
        ("cdm.person[0]", "race_concept_id"),
        ("cdm.person[0]", "month_of_birth"),
        ("cdm.person[0]", "shoe"),
    }
    message = str(caught.value)
    assert message.startswith("mapping 'people.toml': 3 problems")
    assert "cdm.person[0].shoe: is not a field of CDM table person" in message


def test_load_names_a_file_it_cannot_read(tmp_path):
    with pytest.raises(MappingError, match="cannot be read"):
        load(tmp_path / "missing.toml")


# -- the data: problems located at rule, field and source rows -----------------------


def test_dates_that_do_not_match_the_format():
    people = PEOPLE.assign(born=["03-02-1950", "1961-12-01", "15-06-1975"])
    found = data_problems(PERSON, {"people": people})
    assert [(p.where, p.field, p.rows) for p in found] == [
        ("cdm.person[0]", "year_of_birth", (1,)),
        ("cdm.person[0]", "month_of_birth", (1,)),
    ]
    assert "do not match date format '%d-%m-%Y'" in found[0].reason
    assert "'1961-12-01'" in found[0].reason


def test_values_the_value_map_does_not_list():
    text = PERSON.replace(", default = 0 }", " }")
    found = data_problems(text, {"people": PEOPLE.assign(sex=["v", "x", "m"])})
    assert [(p.field, p.rows) for p in found] == [("gender_concept_id", (1,))]
    assert "('x')" in found[0].reason


def test_source_column_the_data_do_not_have():
    text = PERSON.replace('columns = ["id", "sex", "born", "died"]\n', "")
    found = data_problems(text, {"people": PEOPLE.drop(columns="sex")})
    assert [(p.field, "'sex'" in p.reason) for p in found] == [("gender_concept_id", True)]


def test_source_not_given_and_without_file():
    found = data_problems(PERSON, {})
    assert [(p.where, "pass it to apply()" in p.reason) for p in found] == [
        ("sources.people", True)
    ]


def test_source_given_but_not_declared():
    found = data_problems(PERSON, {"people": PEOPLE, "extra": PEOPLE})
    assert [p.where for p in found] == ["sources.extra"]


def test_keys_that_are_not_keys_of_the_referenced_table():
    text = (
        PERSON
        + """
[sources.dx]
[[cdm.condition_occurrence]]
source = "dx"
person_id = { key = "who" }
condition_concept_id = 0
condition_start_date = { column = "on" }
condition_type_concept_id = 32817
"""
    )
    dx = pd.DataFrame({"who": ["p1", "p9", "p2"], "on": ["2023-01-01"] * 3})
    found = data_problems(text, {"people": PEOPLE, "dx": dx})
    assert [(p.where, p.field, p.rows) for p in found] == [
        ("cdm.condition_occurrence[0]", "person_id", (1,))
    ]
    assert "'p9'" in found[0].reason


def test_cdm_problems_are_located_at_rule_and_source_row():
    text = (
        PERSON
        + """
[sources.labs]
[[cdm.measurement]]
source = "labs"
where_present = ["loinc"]
person_id = { key = "who" }
measurement_concept_id = 0
measurement_date = { column = "on" }
measurement_type_concept_id = 32817
value_as_number = { column = "value" }
"""
    )
    labs = pd.DataFrame(
        {
            "who": ["p1", "p2", "p3", "p1"],
            "on": ["2023-01-01"] * 4,
            "loinc": ["8480-6", "", "8480-6", "8480-6"],
            "value": ["120", "high", "130", "n/a"],
        }
    )
    found = data_problems(text, {"people": PEOPLE, "labs": labs})
    # Row 1 is left out by where_present; row 3 is the bad one, in source numbering.
    assert [(p.where, p.field, p.rows) for p in found] == [
        ("cdm.measurement[0]", "value_as_number", (3,))
    ]
    assert "[source 'labs']" in found[0].reason


def test_check_returns_nothing_for_good_data(data):
    assert check(load_mapping("hospital"), data.sources["hospital"]) == []


def test_sources_from_parquet_and_unreadable_files(tmp_path):
    PEOPLE.to_parquet(tmp_path / "people.parquet")
    text = PERSON.replace("[sources.people]", '[sources.people]\nfile = "people.parquet"')
    cdm = apply(loads(text, base=tmp_path))
    assert sorted(cdm.person["person_source_value"]) == ["p1", "p2", "p3"]
    (tmp_path / "people.xlsx").write_text("not a table")
    found = data_problems(text.replace("people.parquet", "people.xlsx"), None, tmp_path)
    assert [(p.where, p.field) for p in found] == [("sources.people", "file")]
    assert "use .csv or .parquet" in found[0].reason
