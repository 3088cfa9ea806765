"""The CDM subset: schema, conforming, and one test per kind of bad field."""

from __future__ import annotations

import pandas as pd
import pytest

from perron.omop.cdm import (
    Cdm,
    CdmError,
    Problem,
    conform,
    empty_table,
    key_ids,
    observation_periods_from_events,
)
from perron.omop.schema import SCHEMA, TEXT
from perron.protocol.errors import InputError


def people(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "person_id": [1, 2],
            "gender_concept_id": [8532, 8507],
            "year_of_birth": [1950, 1961],
            "race_concept_id": [0, 0],
            "ethnicity_concept_id": [0, 0],
        }
    )
    for name, values in overrides.items():
        frame[name] = values
    return frame


def conditions(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "condition_occurrence_id": [1, 2],
            "person_id": [1, 2],
            "condition_concept_id": [0, 0],
            "condition_start_date": ["2023-01-01", "2023-02-01"],
            "condition_type_concept_id": [32817, 32817],
        }
    )
    for name, values in overrides.items():
        frame[name] = values
    return frame


def only_problem(tables) -> Problem:
    with pytest.raises(CdmError) as caught:
        Cdm(tables)
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_schema_has_the_eight_tables_of_the_subset():
    assert list(SCHEMA) == [
        "person",
        "observation_period",
        "visit_occurrence",
        "condition_occurrence",
        "drug_exposure",
        "procedure_occurrence",
        "measurement",
        "death",
    ]
    person = SCHEMA["person"]
    assert person.primary_key == "person_id"
    assert [f.name for f in person.fields if f.required] == [
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "race_concept_id",
        "ethnicity_concept_id",
    ]
    assert SCHEMA["death"].primary_key is None
    time = SCHEMA["measurement"].field("measurement_time")
    assert time is not None
    assert time.length == 10
    extension = SCHEMA["condition_occurrence"].field("condition_source_vocabulary_id")
    assert extension is not None
    assert extension.extension
    assert extension.type is TEXT


def test_a_valid_cdm_is_conformed_to_the_schema_dtypes():
    cdm = Cdm({"person": people(), "condition_occurrence": conditions()})
    assert list(cdm.person.columns) == list(SCHEMA["person"].names)
    assert str(cdm.person["person_id"].dtype) == "Int64"
    assert str(cdm.condition_occurrence["condition_start_date"].dtype) == "datetime64[ns]"
    assert cdm.person["month_of_birth"].isna().all()
    assert cdm.counts()["measurement"] == 0
    assert cdm["person"] is cdm.person
    assert "person=2" in repr(cdm)


def test_source_codes_default_to_the_source_value_with_its_vocabulary():
    frame = conditions(
        condition_source_value=["I50.9", "C50.9"],
        condition_source_vocabulary_id=["ICD10", None],
    )
    cdm = Cdm({"person": people(), "condition_occurrence": frame})
    assert cdm.condition_occurrence["condition_source_codes"].tolist() == ["ICD10:I50.9", None]


def test_unknown_table():
    problem = only_problem({"person": people(), "observation": pd.DataFrame({"x": [1]})})
    assert problem.where == "observation"
    assert problem.field is None
    assert "not a table of Perron's CDM subset" in problem.reason


def test_unknown_field():
    problem = only_problem({"person": people(shoe_size=[42, 43])})
    assert (problem.where, problem.field) == ("person", "shoe_size")
    assert "not a field of OMOP CDM v5.4" in problem.reason


def test_missing_required_field():
    problem = only_problem({"person": people().drop(columns="year_of_birth")})
    assert (problem.where, problem.field) == ("person", "year_of_birth")
    assert "required and missing" in problem.reason


def test_required_field_with_an_empty_value():
    problem = only_problem({"person": people(race_concept_id=[0, None])})
    assert problem.field == "race_concept_id"
    assert "required but empty" in problem.reason
    assert problem.rows == (1,)


def test_integer_field_with_text():
    problem = only_problem({"person": people(year_of_birth=["1950", "19x1"])})
    assert problem.field == "year_of_birth"
    assert "not integers" in problem.reason
    assert "'19x1'" in problem.reason
    assert problem.rows == (1,)


def test_integer_field_with_a_fraction():
    problem = only_problem({"person": people(month_of_birth=[2.0, 2.5])})
    assert problem.field == "month_of_birth"
    assert problem.rows == (1,)


def test_float_field_with_text():
    measurement = pd.DataFrame(
        {
            "measurement_id": [1],
            "person_id": [1],
            "measurement_concept_id": [0],
            "measurement_date": ["2023-01-01"],
            "measurement_type_concept_id": [32817],
            "value_as_number": ["high"],
        }
    )
    problem = only_problem({"person": people(), "measurement": measurement})
    assert (problem.where, problem.field) == ("measurement", "value_as_number")
    assert "not numbers" in problem.reason


def test_date_field_that_is_not_a_date():
    problem = only_problem(
        {
            "person": people(),
            "condition_occurrence": conditions(condition_start_date=["2023-01-01", "01/02/2023"]),
        }
    )
    assert problem.field == "condition_start_date"
    assert "ISO dates" in problem.reason
    assert problem.rows == (1,)


def test_text_longer_than_the_field_allows():
    problem = only_problem({"person": people(person_source_value=["a" * 51, "b"])})
    assert problem.field == "person_source_value"
    assert "longer than 50" in problem.reason
    assert problem.rows == (0,)


def test_duplicate_primary_key():
    problem = only_problem({"person": people(person_id=[7, 7])})
    assert problem.field == "person_id"
    assert "primary key" in problem.reason
    assert problem.rows == (0, 1)


def test_a_person_dies_once():
    death = pd.DataFrame({"person_id": [1, 1], "death_date": ["2023-01-01", "2023-02-01"]})
    problem = only_problem({"person": people(), "death": death})
    assert (problem.where, problem.field) == ("death", "person_id")
    assert "one row per value" in problem.reason


def test_reference_to_a_person_that_does_not_exist():
    problem = only_problem(
        {"person": people(), "condition_occurrence": conditions(person_id=[1, 9])}
    )
    assert (problem.where, problem.field) == ("condition_occurrence", "person_id")
    assert "person.person_id" in problem.reason
    assert "9" in problem.reason
    assert problem.rows == (1,)


def test_reference_to_a_visit_that_does_not_exist():
    problem = only_problem(
        {"person": people(), "condition_occurrence": conditions(visit_occurrence_id=[None, 4])}
    )
    assert problem.field == "visit_occurrence_id"
    assert "visit_occurrence.visit_occurrence_id" in problem.reason


def test_period_that_ends_before_it_starts():
    periods = pd.DataFrame(
        {
            "observation_period_id": [1],
            "person_id": [1],
            "observation_period_start_date": ["2023-05-01"],
            "observation_period_end_date": ["2023-04-30"],
            "period_type_concept_id": [32817],
        }
    )
    problem = only_problem({"person": people(), "observation_period": periods})
    assert problem.field == "observation_period_end_date"
    assert "before observation_period_start_date" in problem.reason


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(CdmError) as caught:
        Cdm(
            {
                "person": people(year_of_birth=["x", 1961], shoe_size=[1, 2]),
                "condition_occurrence": conditions(person_id=[1, 5]),
            }
        )
    found = {(p.where, p.field) for p in caught.value.problems}
    assert found == {
        ("person", "shoe_size"),
        ("person", "year_of_birth"),
        ("condition_occurrence", "person_id"),
    }
    message = str(caught.value)
    assert "3 problems" in message
    assert "person.year_of_birth" in message
    assert isinstance(caught.value, InputError)


def test_conform_returns_problems_instead_of_raising():
    frames, problems = conform({"person": people(year_of_birth=[None, 1961])})
    assert [p.field for p in problems] == ["year_of_birth"]
    assert set(frames) == set(SCHEMA)


def test_problem_text_names_place_field_and_a_few_rows():
    problem = Problem("person", "year_of_birth", "is bad.", tuple(range(8)))
    assert str(problem) == "person.year_of_birth: is bad. (rows 0, 1, 2, 3, 4 and 3 more)"
    assert str(Problem("x", None, "is bad.")) == "x: is bad."


def test_unknown_table_name_on_access():
    with pytest.raises(InputError, match="not a CDM table"):
        Cdm()["cohort"]


def test_replace_validates_the_new_tables():
    cdm = Cdm({"person": people()})
    with pytest.raises(CdmError):
        cdm.replace(condition_occurrence=conditions(person_id=[1, 3]))
    assert len(cdm.replace(condition_occurrence=conditions()).condition_occurrence) == 2


def test_empty_table_has_the_schema_columns():
    frame = empty_table("drug_exposure")
    assert list(frame.columns) == list(SCHEMA["drug_exposure"].names)
    assert frame.empty


def test_key_ids_number_sorted_keys_from_one():
    assert key_ids(["b", "a", None, "b", float("nan"), "c"]) == {"a": 1, "b": 2, "c": 3}


def test_observation_periods_span_the_events_of_each_person():
    visits = pd.DataFrame(
        {
            "visit_occurrence_id": [1],
            "person_id": [2],
            "visit_concept_id": [9201],
            "visit_start_date": ["2022-03-01"],
            "visit_end_date": ["2022-03-05"],
            "visit_type_concept_id": [32817],
        }
    )
    cdm = Cdm(
        {
            "person": people(),
            "visit_occurrence": visits,
            "condition_occurrence": conditions(),
            "death": pd.DataFrame({"person_id": [2], "death_date": ["2024-01-01"]}),
        }
    )
    periods = observation_periods_from_events(cdm, 32810)
    assert periods["person_id"].tolist() == [1, 2]
    assert periods["observation_period_start_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2023-01-01",
        "2022-03-01",
    ]
    assert periods["observation_period_end_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2023-01-01",
        "2024-01-01",
    ]
    assert set(periods["period_type_concept_id"]) == {32810}
    assert len(cdm.replace(observation_period=periods).observation_period) == 2
    assert observation_periods_from_events(Cdm({"person": people()})).empty
