"""The per-person table on a tiny hand-made CDM."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from perron.omop.cdm import Cdm
from perron.omop.view import CodeSet, person_table
from perron.protocol.errors import InputError


def events(table: str, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows of (person, date, vocabulary, code[, value])."""
    stem, start, ident = {
        "condition_occurrence": ("condition", "condition_start_date", "condition_occurrence_id"),
        "drug_exposure": ("drug", "drug_exposure_start_date", "drug_exposure_id"),
        "measurement": ("measurement", "measurement_date", "measurement_id"),
    }[table]
    frame = pd.DataFrame(
        {
            ident: range(1, len(rows) + 1),
            "person_id": [r[0] for r in rows],
            f"{stem}_concept_id": 0,
            start: [r[1] for r in rows],
            f"{stem}_type_concept_id": 32817,
            f"{stem}_source_value": [r[3] for r in rows],
            f"{stem}_source_vocabulary_id": [r[2] for r in rows],
        }
    )
    if table == "drug_exposure":
        frame["drug_exposure_end_date"] = frame[start]
    if table == "measurement":
        frame["value_as_number"] = [r[4] for r in rows]
    return frame


@pytest.fixture(scope="module")
def cdm() -> Cdm:
    person = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4],
            "gender_concept_id": [8532, 8507, 0, 8532],
            "year_of_birth": [1950, 1960, 1970, 2000],
            "month_of_birth": [3, 3, None, 12],
            "day_of_birth": [1, 2, None, None],
            "race_concept_id": 0,
            "ethnicity_concept_id": 0,
            "person_source_value": ["H1", "H2", "H3", "H4"],
        }
    )
    conditions = events(
        "condition_occurrence",
        [
            (1, "2020-05-01", "ICD10", "I50.9"),  # heart failure, with a dot
            (2, "2021-01-01", "ICD10", "I509"),  # heart failure, without
            (3, "2024-06-01", "ICD10", "I50.1"),  # after the index date
            (4, "2019-01-01", "SNOMED", "57054005"),  # acute MI: a descendant of MI
        ],
    )
    conditions.loc[0, "condition_source_codes"] = "ICD10:I50.9|SNOMED:84114007"
    drugs = events(
        "drug_exposure",
        [(1, "2023-01-01", "ATC", "C07AB07"), (2, "2015-01-01", "ATC", "C03CA01")],
    )
    labs = events(
        "measurement",
        [
            (1, "2022-01-01", "LOINC", "33762-6", 900.0),
            (1, "2023-06-01", "LOINC", "33762-6", 1500.0),
            (1, "2024-06-01", "LOINC", "33762-6", 99.0),  # after the index date
            (2, "2023-02-01", "LOINC", "33762-6", None),
            (2, "2023-01-01", "LOINC", "8480-6", 140.0),
        ],
    )
    periods = pd.DataFrame(
        {
            "observation_period_id": [1, 2],
            "person_id": [1, 2],
            "observation_period_start_date": ["2020-01-01", "2010-01-01"],
            "observation_period_end_date": ["2024-12-31", "2023-06-30"],
            "period_type_concept_id": 32817,
        }
    )
    death = pd.DataFrame({"person_id": [2, 3], "death_date": ["2023-06-30", "2024-06-01"]})
    return Cdm(
        {
            "person": person,
            "observation_period": periods,
            "condition_occurrence": conditions,
            "drug_exposure": drugs,
            "measurement": labs,
            "death": death,
        }
    )


INDEX = "2024-03-01"


def test_base_columns(cdm):
    table = person_table(cdm, INDEX)
    assert list(table.columns) == [
        "person_id",
        "person_source_value",
        "sex",
        "age",
        "in_observation",
        "dead",
    ]
    assert table["person_source_value"].tolist() == ["H1", "H2", "H3", "H4"]
    assert table["sex"].tolist() == ["female", "male", None, "female"]
    # 1: birthday (1 March) on the index date; 2: one day later; 3: year only; 4: December
    assert table["age"].tolist() == [74, 63, 54, 23]
    assert table["in_observation"].tolist() == [True, False, False, False]
    assert table["dead"].tolist() == [False, True, False, False]
    assert table["dead"].dtype == bool


def test_condition_flags_by_prefix_exact_code_and_hierarchy(cdm):
    hierarchy = {"SNOMED": {"22298006": ["57054005"], "56265001": ["84114007", "22298006"]}}
    table = person_table(
        cdm,
        INDEX,
        conditions={
            "heart_failure": "ICD10:I50*",
            "hf_exact": ["ICD10:I50.9", "ICD10:I509"],
            "mi": "SNOMED:22298006",
            "heart_disease": CodeSet.parse("SNOMED:56265001"),
        },
        hierarchies=hierarchy,
    )
    assert table["heart_failure"].tolist() == [True, True, False, False]
    assert table["hf_exact"].tolist() == [True, True, False, False]
    assert table["mi"].tolist() == [False, False, False, True]
    assert table["heart_disease"].tolist() == [True, False, False, True]
    without = person_table(cdm, INDEX, conditions={"mi": "SNOMED:22298006"})
    assert not without["mi"].any()


def test_drug_flags_and_lookback(cdm):
    table = person_table(cdm, INDEX, drugs={"beta_blocker": "ATC:C07*", "any_cv": "ATC:C*"})
    assert table["beta_blocker"].tolist() == [True, False, False, False]
    assert table["any_cv"].tolist() == [True, True, False, False]
    recent = person_table(cdm, INDEX, drugs={"any_cv": "ATC:C*"}, lookback_days=365 * 3)
    assert recent["any_cv"].tolist() == [True, False, False, False]


def test_last_measurement_value_before_the_index_date(cdm):
    table = person_table(
        cdm, INDEX, measurements={"nt_probnp": "LOINC:33762-6", "sbp": "LOINC:8480-6"}
    )
    assert table["nt_probnp"][0] == 1500.0
    assert pd.isna(table["nt_probnp"][1])
    assert pd.isna(table["nt_probnp"][2])
    assert table["sbp"][1] == 140.0
    assert str(table["nt_probnp"].dtype) == "float64"


def test_index_date_moves_what_counts(cdm):
    table = person_table(cdm, "2022-06-01", measurements={"nt_probnp": "LOINC:33762-6"})
    assert table["nt_probnp"][0] == 900.0
    assert not table["dead"].any()


def test_column_names_must_be_unique():
    with pytest.raises(InputError, match="used twice"):
        person_table(Cdm(), INDEX, conditions={"x": "ICD10:I50*"}, drugs={"x": "ATC:C07*"})
    with pytest.raises(InputError, match="base columns"):
        person_table(Cdm(), INDEX, conditions={"age": "ICD10:I50*"})


def test_code_patterns_are_checked():
    with pytest.raises(InputError, match="is not VOCAB:code"):
        CodeSet.parse("I50")
    with pytest.raises(InputError, match="has no codes"):
        person_table(Cdm(), INDEX, conditions={"x": []})
    with pytest.raises(InputError, match="negative"):
        person_table(Cdm(), INDEX, lookback_days=-1)


def test_empty_cdm_gives_an_empty_table():
    table = person_table(
        Cdm(), INDEX, conditions={"hf": "ICD10:I50*"}, measurements={"bnp": "LOINC:33762-6"}
    )
    assert table.empty
    assert "hf" in table.columns
    assert "bnp" in table.columns
