"""The demo hospital's CDM: clean as shipped, and with planted errors that the report finds."""

from __future__ import annotations

import pandas as pd
import pytest

from perron.omop.cdm import Cdm
from perron.omop.synthetic import demo
from perron.privacy.policy import DisclosurePolicy
from perron.quality import QualityReport, Status, run_checks
from tests.quality.builders import SETTINGS, text, value

CHEMO = "plausibleAdministrationInterval.drug_exposure.drug_exposure_start_date.ATC:L01*"
PLANTED = {
    "plausibleBeforeDeath.measurement.measurement_date",
    "journeyAfterDeath.person",
    "plausibleAfterBirth.condition_occurrence.condition_start_date",
    "journeyBeforeBirth.person",
    CHEMO,
    "plausibleGender.procedure_occurrence.procedure_source_codes.ICD10:O*",
}


@pytest.fixture(scope="module")
def hospital() -> Cdm:
    return demo(seed=1, size=200).cdm("hospital")


def chemotherapy(cdm: Cdm, *, late: bool = False) -> pd.DataFrame:
    """Three-weekly cisplatin for the breast cancer patients; with ``late``, the first
    three get a dose 3 days after the one before (3 of 36 intervals, over DQD's 5%)."""
    conditions = cdm.condition_occurrence
    patients = sorted(
        conditions.loc[conditions["condition_source_value"].str.startswith("C50"), "person_id"]
        .unique()
        .tolist()
    )
    rows = []
    for number, person in enumerate(patients):
        days = [0, 21, 24, 45] if late and number < 3 else [0, 21, 42, 63]
        for day in days:
            start = pd.Timestamp("2023-01-02") + pd.Timedelta(days=day)
            rows.append((person, start))
    frame = pd.DataFrame(rows, columns=["person_id", "drug_exposure_start_date"])
    frame.insert(0, "drug_exposure_id", range(1, len(frame) + 1))
    frame["drug_exposure_end_date"] = frame["drug_exposure_start_date"]
    frame["drug_concept_id"] = 0
    frame["drug_type_concept_id"] = 32817
    frame["drug_source_value"] = "L01XA01"
    frame["drug_source_vocabulary_id"] = "ATC"
    return frame


def planted(cdm: Cdm) -> Cdm:
    """The demo with errors a real extraction might have."""
    dead = cdm.death.sort_values("person_id").head(3)
    measurements = cdm.measurement
    late = (
        measurements[measurements["person_id"].isin(dead["person_id"])].groupby("person_id").head(1)
    )
    late = late.copy()
    late["measurement_date"] = late["person_id"].map(
        dead.set_index("person_id")["death_date"] + pd.Timedelta(days=200)
    )
    late["measurement_id"] = range(100_000, 100_000 + len(late))
    conditions = cdm.condition_occurrence.copy()
    early = conditions.drop_duplicates("person_id").index[:6]  # 6 of 400 rows, 6 of 200 persons
    conditions.loc[early, "condition_start_date"] = pd.Timestamp("1900-01-01")
    procedures = cdm.procedure_occurrence.copy()
    # A delivery (ICD-10 O80) coded for a man.
    man = int(cdm.person.loc[cdm.person["gender_concept_id"] == 8507, "person_id"].iloc[0])
    first = procedures.index[0]
    procedures.loc[first, "person_id"] = man
    procedures.loc[first, "procedure_source_codes"] = "ICD10:O80"
    return cdm.replace(
        measurement=pd.concat([measurements, late], ignore_index=True),
        condition_occurrence=conditions,
        procedure_occurrence=procedures,
        drug_exposure=chemotherapy(cdm, late=True),
    )


def test_the_shipped_demo_passes_the_planted_checks(hospital):
    report = run_checks(hospital.replace(drug_exposure=chemotherapy(hospital)), SETTINGS)

    statuses = {key: report.check(key).status for key in PLANTED}
    assert Status.FAILED not in statuses.values(), statuses
    assert report.status_counts()["error"] == 0


def test_the_report_finds_every_planted_error(hospital):
    report = run_checks(planted(hospital), SETTINGS, dataset="hospital")

    failed = {c.key for c in report.failures()}
    assert failed >= PLANTED
    late = report.check("plausibleBeforeDeath.measurement.measurement_date")
    assert value(late.violated) == 3
    assert value(report.check("journeyAfterDeath.person").violated) == 3
    assert value(report.check("journeyAfterDeath.person").denominator) == len(hospital.death)
    assert (
        value(
            report.check("plausibleAfterBirth.condition_occurrence.condition_start_date").violated
        )
        == 6
    )
    assert (value(report.check(CHEMO).violated), value(report.check(CHEMO).denominator)) == (3, 36)
    # Nothing else fails but the planted dates' other side: 1900 is before DQD's 1950.
    assert failed - PLANTED == {"plausibleValueLow.condition_occurrence.condition_start_date"}
    assert report.status_counts()["error"] == 0


def test_the_released_demo_report_hides_the_small_counts(hospital):
    report = run_checks(planted(hospital), SETTINGS, dataset="hospital")

    released = report.released(DisclosurePolicy(min_cell=5))

    late = released.check("plausibleBeforeDeath.measurement.measurement_date")
    assert (text(late.violated), late.status) == ("< 5", Status.FAILED)
    assert text(released.check(CHEMO).violated) == "< 5"
    back = QualityReport.from_json(released.to_json())
    assert text(back.check("journeyAfterDeath.person").violated) == "< 5"
    assert "&lt; 5" in released.to_html()
