"""The check catalogue carries DQD's names, metadata and thresholds; settings are checked."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from perron.protocol.errors import InputError
from perron.quality import QualitySettings, StationQuality, catalogue
from perron.quality.checks import CHECK_TYPES, Category, Context, Level, check_type
from perron.quality.settings import IntervalRule


def test_the_dqd_check_types_with_their_kahn_metadata():
    names = {t.name for t in CHECK_TYPES if t.origin == "DQD"}

    assert names >= {
        "cdmTable", "cdmField", "isRequired", "cdmDatatype", "isPrimaryKey", "isForeignKey",
        "measurePersonCompleteness", "measureValueCompleteness", "sourceValueCompleteness",
        "plausibleValueLow", "plausibleValueHigh", "plausibleStartBeforeEnd",
        "plausibleAfterBirth", "plausibleBeforeDeath", "plausibleGender",
    }  # fmt: skip
    required = check_type("isRequired")
    assert (required.level, required.category, required.subcategory, required.context) == (
        Level.FIELD,
        Category.CONFORMANCE,
        "Relational",
        Context.VALIDATION,
    )
    assert check_type("measurePersonCompleteness", Level.TABLE).category is Category.COMPLETENESS
    assert check_type("plausibleValueLow", Level.CONCEPT).level is Level.CONCEPT
    with pytest.raises(KeyError, match="unknown check"):
        check_type("isPlausible")


def test_the_catalogue_takes_dqd_thresholds():
    checks = {c.key: c for c in catalogue(QualitySettings(today=date(2025, 1, 1)))}

    assert checks["measurePersonCompleteness.condition_occurrence"].threshold == 95.0
    assert checks["measurePersonCompleteness.observation_period"].threshold == 0.0
    period = "plausibleStartBeforeEnd.observation_period.observation_period_start_date"
    assert checks[period].threshold == 0.0
    assert checks["plausibleValueLow.drug_exposure.days_supply"].argument == "1"
    assert checks["plausibleValueHigh.drug_exposure.days_supply"].argument == "365"
    assert checks["isForeignKey.visit_occurrence.person_id"].argument == "person"
    assert checks["plausibleBeforeDeath.visit_occurrence.visit_start_date"].argument == "60"
    assert len(checks) == len(catalogue())  # keys are unique


def test_settings_from_a_quality_table():
    settings = QualitySettings.from_mapping(
        {
            "today": "2025-01-01",
            "death_grace_days": 0,
            "skip": ["withinVisitDates"],
            "thresholds": {"isRequired": 1},
            "intervals": [{"name": "chemo", "codes": ["ATC:L01*"], "min_days": 21}],
            "ranges": [{"name": "sbp", "code": "LOINC:8480-6", "low": 50, "high": 250}],
        }
    )

    assert settings.today == date(2025, 1, 1)
    assert settings.intervals == (IntervalRule("chemo", ("ATC:L01*",), 21),)
    assert settings.ranges[0].high == 250
    assert settings.units  # the defaults stay where not given
    checks = {c.key: c for c in catalogue(settings)}
    assert checks["isRequired.person.year_of_birth"].threshold == 1.0
    assert not any(c.name == "withinVisitDates" for c in checks.values())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"death_grace": 1}, "unknown keys"),
        ({"death_grace_days": -1}, "whole number of days"),
        ({"thresholds": {"isRequired": 120}}, "percentage"),
        ({"intervals": [{"name": "x", "codes": ["L01"], "min_days": 7}]}, "VOCAB:code"),
        ({"intervals": [{"name": "x", "codes": ["ATC:L01*"]}]}, "needs the keys"),
        ({"intervals": [{"name": "x", "codes": ["ATC:L01*"], "min_days": 0}]}, "at least 1"),
        ({"genders": [{"name": "x", "codes": ["ICD10:C61"], "gender": "m"}]}, "'male'"),
        ({"today": "01-01-2025"}, "ISO date"),
    ],
)
def test_bad_settings_say_what_is_wrong(raw, message):
    with pytest.raises(InputError, match=message):
        QualitySettings.from_mapping(raw)


def test_the_station_quality_table_names_one_cdm(tmp_path):
    (tmp_path / "fhir").mkdir()
    for name in ("b.json", "a.json"):
        (tmp_path / "fhir" / name).write_text("{}")

    quality = StationQuality.from_mapping({"fhir": "fhir/*.json"}, tmp_path)

    assert quality.fhir == (tmp_path / "fhir/a.json", tmp_path / "fhir/b.json")
    with pytest.raises(InputError, match="give one of"):
        StationQuality.from_mapping({"mapping": "m.toml", "tables": "cdm"}, Path("/s"))
