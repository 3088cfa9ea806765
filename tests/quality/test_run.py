"""Each check on small hand-made CDMs: passed, failed, not applicable and error."""

from __future__ import annotations

import pandas as pd
import pytest

from perron.omop.cdm import Cdm, CdmError
from perron.quality import QualitySettings, Status, run_checks
from perron.quality.settings import IntervalRule
from tests.quality.builders import SETTINGS, TODAY, deaths, people, rows, tables, value


def check(tables_: dict[str, pd.DataFrame] | Cdm, key: str, settings=SETTINGS):
    return run_checks(tables_, settings).check(key)


def numbers(result) -> tuple[str, int | None, int | None]:
    violated = None if result.violated is None else value(result.violated)
    denominator = None if result.denominator is None else value(result.denominator)
    return result.status.value, violated, denominator


def test_a_plausible_cdm_passes_every_applicable_check():
    # Tables not given are not applicable (a Cdm's empty tables would fail DQD's
    # measurePersonCompleteness: every person lacks a record there).
    report = run_checks(tables(visit_occurrence=rows("visit_occurrence")), SETTINGS, dataset="c")

    counts = report.status_counts()
    assert counts["failed"] == 0, [c.key for c in report.failures()]
    assert counts["error"] == 0
    assert counts["passed"] > 100
    assert report.kind == "cdm"
    assert report.disclosure is None  # exact numbers: for the station only


# -- conformance ----------------------------------------------------------------------


def test_cdm_table_fails_for_an_absent_required_table_only():
    given = {"observation_period": rows("observation_period")}
    report = run_checks(given, SETTINGS)

    assert numbers(report.check("cdmTable.person")) == ("failed", 1, 1)
    drugs = report.check("cdmTable.drug_exposure")
    assert drugs.status is Status.PASSED
    assert "absent optional table" in drugs.notes
    assert report.check("isRequired.drug_exposure.drug_concept_id").status is (
        Status.NOT_APPLICABLE
    )
    assert "does not exist" in report.check("isRequired.person.person_id").notes


def test_cdm_field_fails_for_an_absent_required_field():
    report = run_checks(tables(person=people().drop(columns=["year_of_birth"])), SETTINGS)

    assert numbers(report.check("cdmField.person.year_of_birth")) == ("failed", 1, 1)
    assert report.check("cdmField.person.month_of_birth").status is Status.PASSED
    required = report.check("isRequired.person.year_of_birth")
    assert required.status is Status.NOT_APPLICABLE
    assert required.notes.endswith("Field person.year_of_birth does not exist.")


def test_is_required_counts_empty_values():
    years = [1950, None, 1952, None, 1954, 1955, 1956, 1957, 1958, 1959]
    report = run_checks(tables(person=people(year_of_birth=years)), SETTINGS)

    assert numbers(report.check("isRequired.person.year_of_birth")) == ("failed", 2, 10)
    completeness = report.check("measureValueCompleteness.person.year_of_birth")
    assert numbers(completeness) == ("failed", 2, 10)
    assert completeness.pct_violated == 20.0


def test_cdm_datatype_counts_values_of_the_wrong_type():
    years = ["1950", "19x0", 1952, 1953, 1954, 1955, 1956, 1957, 1958, 1959]
    report = run_checks(tables(person=people(year_of_birth=years)), SETTINGS)

    assert numbers(report.check("cdmDatatype.person.year_of_birth")) == ("failed", 1, 10)
    assert report.check("cdmDatatype.person.year_of_birth").threshold == 0.0
    assert report.check("cdmDatatype.person.gender_concept_id").status is Status.PASSED


def test_cdm_datatype_counts_text_longer_than_its_varchar():
    values = ["x" * 51] + ["ok"] * 9
    report = run_checks(tables(person=people(person_source_value=values)), SETTINGS)

    assert numbers(report.check("cdmDatatype.person.person_source_value")) == ("failed", 1, 10)
    assert "varchar(50)" in report.check("cdmDatatype.person.person_source_value").description


def test_is_primary_key_counts_every_duplicated_row():
    ids = [1, 1, 3, 4, 5, 6, 7, 8, 9, 9]
    report = run_checks(tables(person=people(person_id=ids)), SETTINGS)

    assert numbers(report.check("isPrimaryKey.person.person_id")) == ("failed", 4, 10)


def test_is_foreign_key_counts_references_to_nobody():
    given = tables(condition_occurrence=rows("condition_occurrence", person_id=[99] + [1] * 9))
    report = run_checks(given, SETTINGS)

    result = report.check("isForeignKey.condition_occurrence.person_id")
    assert numbers(result) == ("failed", 1, 10)
    assert "person table" in result.description


def test_a_table_that_cannot_be_read_makes_its_checks_errors():
    broken = pd.DataFrame([[1, 2, 1950, 0, 0]], columns=["person_id", "person_id", "x", "y", "z"])
    report = run_checks(tables(person=broken, condition_occurrence=rows("condition_occurrence")))

    result = report.check("isPrimaryKey.person.person_id")
    assert result.status is Status.ERROR
    assert result.violated is None
    assert "more than once" in result.notes
    # A check on another table that compares with person cannot run either ...
    assert report.check("plausibleAfterBirth.condition_occurrence.condition_start_date").status is (
        Status.ERROR
    )
    # ... while checks that do not need it still run.
    assert report.check("isRequired.condition_occurrence.condition_start_date").status is (
        Status.PASSED
    )


def test_a_table_that_is_not_a_dataframe_is_an_error():
    given: dict[str, object] = dict(tables())
    given["death"] = [("not", "a", "table")]
    report = run_checks(given, SETTINGS)  # type: ignore[arg-type]

    assert report.check("isRequired.death.death_date").status is Status.ERROR
    assert report.check("journeyAfterDeath.person").status is Status.ERROR


# -- completeness ---------------------------------------------------------------------


def test_measure_person_completeness_and_its_not_applicable_rule():
    one = tables(condition_occurrence=rows("condition_occurrence", n=1))
    report = run_checks(one, SETTINGS)
    assert numbers(report.check("measurePersonCompleteness.condition_occurrence")) == (
        "passed",
        9,
        10,
    )  # 90% without a condition; DQD allows 95%
    assert numbers(report.check("measurePersonCompleteness.observation_period")) == (
        "passed",
        0,
        10,
    )
    # Not given: not applicable (DQD: the table is missing).
    absent = report.check("measurePersonCompleteness.drug_exposure")
    assert absent.status is Status.NOT_APPLICABLE
    # Given but empty: every person lacks a record.
    empty = run_checks(Cdm(tables()), SETTINGS).check("measurePersonCompleteness.drug_exposure")
    assert numbers(empty) == ("failed", 10, 10)


def test_standard_concept_completeness_only_where_perron_fills_concepts():
    genders = [0] + [8507, 8532] * 4 + [8507]
    report = run_checks(
        tables(
            person=people(gender_concept_id=genders),
            condition_occurrence=rows("condition_occurrence"),
        ),
        SETTINGS,
    )

    assert numbers(report.check("standardConceptRecordCompleteness.person.gender_concept_id")) == (
        "failed",
        1,
        10,
    )
    condition = report.check(
        "standardConceptRecordCompleteness.condition_occurrence.condition_concept_id"
    )
    assert condition.status is Status.NOT_APPLICABLE
    assert "no OHDSI vocabulary" in condition.notes


def test_source_value_completeness_counts_distinct_codes_without_a_code_system():
    conditions = rows(
        "condition_occurrence",
        condition_source_value=["I50.9"] * 6 + ["XYZ"] * 2 + ["ABC", "I10"],
        condition_source_vocabulary_id=["ICD10"] * 6 + [None, None, "LOCAL", "ICD10"],
    )
    report = run_checks(tables(condition_occurrence=conditions), SETTINGS)

    result = report.check("sourceValueCompleteness.condition_occurrence.condition_source_value")
    assert numbers(result) == ("failed", 2, 4)  # XYZ and ABC of I50.9, XYZ, ABC, I10
    assert "known code system" in result.notes


def test_source_value_completeness_of_gender_reads_the_concept():
    report = run_checks(
        tables(
            person=people(
                gender_source_value=["m", "v"] * 4 + ["x", "x"],
                gender_concept_id=[8507, 8532] * 4 + [0, 0],
            )
        ),
        SETTINGS,
    )

    assert numbers(report.check("sourceValueCompleteness.person.gender_source_value")) == (
        "passed",  # DQD's threshold for gender is 100%
        1,
        3,
    )


# -- plausibility ---------------------------------------------------------------------


def test_plausible_value_low_and_high_with_dqd_bounds():
    years = [1820] + [1950 + i for i in range(8)] + [TODAY.year + 3]
    report = run_checks(tables(person=people(year_of_birth=years)), SETTINGS)

    low = report.check("plausibleValueLow.person.year_of_birth")
    assert numbers(low) == ("failed", 1, 10)
    assert low.threshold == 1.0
    assert low.category == "Plausibility"
    assert low.subcategory == "Atemporal"
    assert numbers(report.check("plausibleValueHigh.person.year_of_birth")) == ("failed", 1, 10)


def test_plausible_value_high_of_a_date_is_tomorrow():
    visits = rows(
        "visit_occurrence",
        visit_start_date=["2030-01-01"] + ["2020-01-01"] * 9,
        visit_end_date=["2030-01-02"] + ["2020-01-02"] * 9,
    )
    report = run_checks(tables(visit_occurrence=visits), SETTINGS)

    assert numbers(report.check("plausibleValueHigh.visit_occurrence.visit_start_date")) == (
        "failed",
        1,
        10,
    )
    assert report.check("plausibleValueLow.visit_occurrence.visit_start_date").status is (
        Status.PASSED
    )


def test_start_after_end_is_counted_on_data_the_cdm_would_reject():
    visits = rows("visit_occurrence", visit_end_date=["2020-02-01"] + ["2020-03-04"] * 9)
    given = tables(visit_occurrence=visits)
    with pytest.raises(CdmError, match="must not end before it starts"):
        Cdm(given)

    report = run_checks(given, SETTINGS)

    result = report.check("plausibleStartBeforeEnd.visit_occurrence.visit_start_date")
    assert numbers(result) == ("failed", 1, 10)
    assert result.subcategory == "Temporal"
    assert numbers(report.check("journeyStartAfterEnd.person")) == ("failed", 1, 10)


def test_events_before_birth():
    conditions = rows(
        "condition_occurrence", condition_start_date=["1940-05-05"] + ["2020-03-02"] * 9
    )
    report = run_checks(tables(condition_occurrence=conditions), SETTINGS)

    result = report.check("plausibleAfterBirth.condition_occurrence.condition_start_date")
    assert numbers(result) == ("failed", 1, 10)
    assert numbers(report.check("journeyBeforeBirth.person")) == ("failed", 1, 10)


def test_birth_uses_month_and_day_when_given():
    person = people(month_of_birth=[6] + [None] * 9, day_of_birth=[15] + [None] * 9)
    conditions = rows(
        "condition_occurrence",
        n=2,
        person_id=[1, 2],
        condition_start_date=["1950-06-01", "1951-01-01"],
    )
    report = run_checks(tables(person=person, condition_occurrence=conditions), SETTINGS)

    # Person 1, born 1950-06-15, ill on 1950-06-01; person 2 born 1951(-01-01), ill that day.
    assert numbers(
        report.check("plausibleAfterBirth.condition_occurrence.condition_start_date")
    ) == (
        "failed",
        1,
        2,
    )


def test_events_after_death_beyond_the_grace_period():
    # Persons 1 and 2 die on 2022-01-01; person 1 is measured 30 days, person 2 a year later.
    measurements = rows(
        "measurement",
        n=4,
        person_id=[1, 2, 1, 3],
        measurement_date=["2022-01-31", "2023-01-01", "2021-06-01", "2023-01-01"],
    )
    periods = rows("observation_period", observation_period_end_date=["2021-12-31"] * 10)
    given = tables(measurement=measurements, death=deaths([1, 2]), observation_period=periods)
    report = run_checks(given, SETTINGS)

    late = report.check("plausibleBeforeDeath.measurement.measurement_date")
    assert numbers(late) == ("failed", 1, 3)  # rows of persons who died: 3; one past 60 days
    assert late.description.endswith("more than 60 days after death.")
    journey = report.check("journeyAfterDeath.person")
    assert numbers(journey) == ("failed", 1, 2)  # of the two persons who died

    strict = run_checks(given, QualitySettings(today=TODAY, death_grace_days=0))
    assert numbers(strict.check("plausibleBeforeDeath.measurement.measurement_date")) == (
        "failed",
        2,
        3,
    )
    assert numbers(strict.check("journeyAfterDeath.person")) == ("failed", 2, 2)


def test_journey_after_death_is_not_applicable_without_deaths():
    report = run_checks(tables(measurement=rows("measurement")), SETTINGS)

    assert report.check("journeyAfterDeath.person").status is Status.NOT_APPLICABLE


def test_within_visit_dates():
    visits = rows("visit_occurrence", n=2)
    conditions = rows(
        "condition_occurrence",
        n=3,
        person_id=[1, 2, 1],
        visit_occurrence_id=[1, 2, 1],
        condition_start_date=["2020-03-02", "2020-03-10", "2020-04-20"],
    )
    report = run_checks(tables(visit_occurrence=visits, condition_occurrence=conditions), SETTINGS)

    # Visit 3-4 March 2020 (+/- 7 days): 10 March is inside, 20 April outside.
    result = report.check("withinVisitDates.condition_occurrence.condition_start_date")
    assert numbers(result) == ("failed", 1, 3)
    assert result.threshold == 5.0


def test_observation_period_overlap():
    periods = rows(
        "observation_period",
        n=3,
        person_id=[1, 1, 2],
        observation_period_start_date=["2015-01-01", "2016-01-01", "2015-01-01"],
        observation_period_end_date=["2016-06-30", "2018-01-01", "2016-01-01"],
    )
    report = run_checks(tables(observation_period=periods), SETTINGS)

    assert numbers(report.check("measureObservationPeriodOverlap.observation_period")) == (
        "failed",
        1,
        2,
    )


def test_plausible_gender_on_source_codes():
    conditions = rows(
        "condition_occurrence",
        n=3,
        person_id=[1, 2, 4],
        condition_source_value=["C61", "C61", "C50.9"],
    )
    report = run_checks(tables(condition_occurrence=conditions), SETTINGS)
    codes = " ".join(f"ICD10:C{n}*" for n in range(60, 64))

    prostate = report.check(f"plausibleGender.condition_occurrence.condition_source_codes.{codes}")
    assert numbers(prostate) == ("failed", 1, 2)  # person 2 is a woman
    assert prostate.level == "CONCEPT"
    assert prostate.context == "Validation"
    pregnancy = report.check("plausibleGender.condition_occurrence.condition_source_codes.ICD10:O*")
    assert pregnancy.status is Status.NOT_APPLICABLE


def test_lab_value_ranges_and_units_per_code():
    labs = rows(
        "measurement",
        n=10,
        value_as_number=[400.0] + [130.0] * 9,
        unit_source_value=["mm[Hg]"] * 9 + ["kPa"],
    )
    report = run_checks(tables(measurement=labs), SETTINGS)

    high = report.check("plausibleValueHigh.measurement.value_as_number.LOINC:8480-6 [mm[Hg]]")
    assert numbers(high) == ("failed", 1, 9)  # the range is per unit: 9 rows in mm[Hg]
    assert "not DQD" in high.notes
    units = report.check("plausibleUnitConceptIds.measurement.unit_source_value.LOINC:8480-6")
    assert numbers(units) == ("failed", 1, 10)
    ldl = report.check("plausibleValueLow.measurement.value_as_number.LOINC:13457-7 [mg/dL]")
    assert ldl.status is Status.NOT_APPLICABLE


# -- the patient journey: chemotherapy intervals --------------------------------------


def chemo(days: dict[int, list[str]], drug: str = "L01XA01") -> pd.DataFrame:
    people_, starts = zip(*[(p, d) for p, ds in days.items() for d in ds], strict=True)
    return rows(
        "drug_exposure",
        n=len(starts),
        person_id=list(people_),
        drug_exposure_start_date=list(starts),
        drug_exposure_end_date=list(starts),
        drug_source_value=[drug] * len(starts),
    )


def test_chemotherapy_administrations_closer_than_the_minimum_interval():
    drugs = chemo(
        {
            1: ["2020-01-01", "2020-01-22", "2020-01-25", "2020-02-15"],  # 21, 3, 21 days
            2: ["2020-01-01", "2020-01-08", "2020-01-15"],  # weekly: 7, 7 days
        }
    )
    report = run_checks(tables(drug_exposure=drugs), SETTINGS)

    key = "plausibleAdministrationInterval.drug_exposure.drug_exposure_start_date.ATC:L01*"
    result = report.check(key)
    assert numbers(result) == ("failed", 1, 5)  # 1 of 5 intervals is under 7 days
    assert result.origin == "Perron"
    assert result.level == "CONCEPT"
    assert "at least 7 days apart" in result.description


def test_drugs_of_one_regimen_on_one_day_count_once():
    combination = pd.concat(
        [
            chemo({1: ["2020-01-01", "2020-01-22"]}, "L01XA03"),
            chemo({1: ["2020-01-01", "2020-01-22"]}, "L01BC02"),
        ],
        ignore_index=True,
    )
    combination["drug_exposure_id"] = range(1, 5)
    report = run_checks(tables(drug_exposure=combination), SETTINGS)

    key = "plausibleAdministrationInterval.drug_exposure.drug_exposure_start_date.ATC:L01*"
    assert numbers(report.check(key)) == ("passed", 0, 1)


def test_the_minimum_interval_is_configurable():
    drugs = chemo({1: ["2020-01-01", "2020-01-15", "2020-02-05"]})  # 14 and 21 days
    rule = IntervalRule("three-weekly", ("ATC:L01*",), min_days=21, threshold=0)
    report = run_checks(
        tables(drug_exposure=drugs), QualitySettings(today=TODAY, intervals=(rule,))
    )

    key = "plausibleAdministrationInterval.drug_exposure.drug_exposure_start_date.ATC:L01*"
    assert numbers(report.check(key)) == ("failed", 1, 2)


def test_no_second_administration_is_not_applicable():
    report = run_checks(tables(drug_exposure=chemo({1: ["2020-01-01"]})), SETTINGS)

    key = "plausibleAdministrationInterval.drug_exposure.drug_exposure_start_date.ATC:L01*"
    assert report.check(key).status is Status.NOT_APPLICABLE


# -- settings -------------------------------------------------------------------------


def test_thresholds_can_be_overridden_and_checks_skipped():
    years = [1820] + [1950 + i for i in range(9)]
    settings = QualitySettings(
        today=TODAY,
        thresholds={"plausibleValueLow.person.year_of_birth": 20},
        skip=("withinVisitDates", "cdmField.person.provider_id"),
    )
    report = run_checks(tables(person=people(year_of_birth=years)), settings)

    assert numbers(report.check("plausibleValueLow.person.year_of_birth")) == ("passed", 1, 10)
    assert not [c for c in report.checks if c.check == "withinVisitDates"]
    with pytest.raises(KeyError):
        report.check("cdmField.person.provider_id")


# -- coverage -------------------------------------------------------------------------


def test_coverage_of_each_field_in_records_and_persons():
    person = people(month_of_birth=[1, 2, 3, 4] + [None] * 6)
    conditions = rows(
        "condition_occurrence",
        n=6,
        person_id=[1, 1, 2, 2, 3, 3],
        stop_reason=["x", None, None, None, "y", None],
    )
    report = run_checks(tables(person=person, condition_occurrence=conditions), SETTINGS)
    coverage = {(r.table, r.field): r for r in report.coverage}

    month = coverage[("person", "month_of_birth")]
    assert (value(month.records), value(month.records_total), month.pct_records) == (4, 10, 40.0)
    assert (value(month.persons), month.pct_persons) == (4, 40.0)
    stop = coverage[("condition_occurrence", "stop_reason")]
    assert (value(stop.records), value(stop.records_total)) == (2, 6)
    assert (value(stop.persons), value(stop.persons_total), stop.pct_persons) == (2, 10, 20.0)
    start = coverage[("condition_occurrence", "condition_start_date")]
    assert (start.pct_records, value(start.persons)) == (100.0, 3)
    assert ("drug_exposure", "drug_concept_id") not in coverage  # not given


def test_unknown_tables_and_fields_are_noted():
    person = people()
    person["shoe_size"] = 42
    report = run_checks({**tables(person=person), "observation": pd.DataFrame({"x": [1]})})

    assert any("['observation']" in note for note in report.notes)
    assert any("['shoe_size']" in note for note in report.notes)


def test_blank_text_counts_as_missing():
    years = ["", " "] + [str(1950 + i) for i in range(8)]
    report = run_checks(tables(person=people(year_of_birth=years)), SETTINGS)

    assert numbers(report.check("isRequired.person.year_of_birth")) == ("failed", 2, 10)
    assert numbers(report.check("cdmDatatype.person.year_of_birth")) == ("passed", 0, 10)
