"""Small hand-made CDM tables: every required field filled, everything plausible.

A test changes the one thing it checks; the rest stays as a valid CDM would be.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from perron.quality import Count, QualitySettings

TODAY = date(2025, 1, 1)
SETTINGS = QualitySettings(today=TODAY)
PERSONS = 10

_DEFAULTS: dict[str, dict[str, Any]] = {
    "observation_period": {
        "observation_period_start_date": "2015-01-01",
        "observation_period_end_date": "2024-06-30",
        "period_type_concept_id": 32817,
    },
    "visit_occurrence": {
        "visit_concept_id": 9201,
        "visit_start_date": "2020-03-01",
        "visit_end_date": "2020-03-04",
        "visit_type_concept_id": 32817,
    },
    "condition_occurrence": {
        "condition_concept_id": 0,
        "condition_start_date": "2020-03-02",
        "condition_type_concept_id": 32817,
        "condition_source_value": "I50.9",
        "condition_source_vocabulary_id": "ICD10",
    },
    "drug_exposure": {
        "drug_concept_id": 0,
        "drug_exposure_start_date": "2020-03-02",
        "drug_exposure_end_date": "2020-03-02",
        "drug_type_concept_id": 32817,
        "drug_source_value": "C03AA03",
        "drug_source_vocabulary_id": "ATC",
    },
    "procedure_occurrence": {
        "procedure_concept_id": 0,
        "procedure_date": "2020-03-02",
        "procedure_type_concept_id": 32817,
        "procedure_source_value": "40701008",
        "procedure_source_vocabulary_id": "SNOMED",
    },
    "measurement": {
        "measurement_concept_id": 0,
        "measurement_date": "2020-03-02",
        "measurement_type_concept_id": 32817,
        "measurement_source_value": "8480-6",
        "measurement_source_vocabulary_id": "LOINC",
        "value_as_number": 130.0,
        "unit_source_value": "mm[Hg]",
    },
}
_KEYS = {
    "observation_period": "observation_period_id",
    "visit_occurrence": "visit_occurrence_id",
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "measurement": "measurement_id",
}


def people(n: int = PERSONS, **columns: Any) -> pd.DataFrame:
    """Persons 1..n, alternately male and female, born 1950, 1951, ..."""
    frame = pd.DataFrame(
        {
            "person_id": list(range(1, n + 1)),
            "gender_concept_id": [8507 if i % 2 else 8532 for i in range(1, n + 1)],
            "year_of_birth": [1950 + i for i in range(n)],
            "race_concept_id": [0] * n,
            "ethnicity_concept_id": [0] * n,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def rows(table: str, n: int = PERSONS, **columns: Any) -> pd.DataFrame:
    """``n`` plausible rows of ``table`` (one per person 1..n unless ``person_id``)."""
    frame = pd.DataFrame({_KEYS[table]: list(range(1, n + 1))})
    frame["person_id"] = [(i % PERSONS) + 1 for i in range(n)]
    for name, value in _DEFAULTS[table].items():
        frame[name] = [value] * n
    for name, values in columns.items():
        frame[name] = values
    return frame


def deaths(person_ids: list[int], day: str = "2022-01-01") -> pd.DataFrame:
    return pd.DataFrame({"person_id": person_ids, "death_date": [day] * len(person_ids)})


def tables(**extra: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A person table and an observation period per person, plus ``extra`` tables."""
    base = {"person": people(), "observation_period": rows("observation_period")}
    return {**base, **extra}


def text(count: Count | None) -> str:
    """A shown count's text (``"< 5"``, ``"12"``); fails for a check that did not run."""
    assert count is not None
    return count.text


def value(count: Count | None) -> int | None:
    """A shown count's number (``None`` when suppressed)."""
    assert count is not None
    return count.value
