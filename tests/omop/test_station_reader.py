"""A station whose dataset is an OMOP CDM (``reader = "omop"``): the ``[omop]`` table,
its errors, and summary / feasibility / quality answered by the station runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from perron.algorithms.core.base import Done, FederatedAlgorithm
from perron.algorithms.feasibility.counts import Feasibility, FeasibilityResult
from perron.algorithms.quality.reports import Quality, QualityResult
from perron.algorithms.statistics.summary import Summary
from perron.crypto.keys import KeyPair
from perron.omop.dataset import OmopSettings, analysis_table, read_hierarchy
from perron.omop.synthetic import demo
from perron.protocol.errors import InputError, OutsidePolicy
from perron.station.cli import app as station_app
from perron.station.config import StationConfig
from perron.station.datasets import DatasetsFile, describe
from perron.station.objections import ObjectionRegister
from perron.station.runner import StationRunner
from tests.station.support import HOLDER, answer, make_run

HEART_DISEASE = "56265001"
MYOCARDIAL_INFARCTION = "22298006"  # is-a heart disease
ACUTE_MI = "57054005"  # is-a myocardial infarction
HYPERTENSION = "38341003"  # not heart disease
#: Persons 1-20 have heart disease itself, 21-45 MI, 46-60 acute MI, 61-100 hypertension.
CODES = {
    **dict.fromkeys(range(1, 21), HEART_DISEASE),
    **dict.fromkeys(range(21, 46), MYOCARDIAL_INFARCTION),
    **dict.fromkeys(range(46, 61), ACUTE_MI),
    **dict.fromkeys(range(61, 101), HYPERTENSION),
}


def write_cdm(folder: Path) -> Path:
    """A folder of CDM tables: 100 persons, one SNOMED CT condition each."""
    cdm = folder / "cdm"
    cdm.mkdir(parents=True)
    persons = list(CODES)
    pd.DataFrame(
        {
            "person_id": persons,
            "gender_concept_id": [8507 if p % 2 else 8532 for p in persons],
            "year_of_birth": [1940 + p % 50 for p in persons],
            "race_concept_id": 0,
            "ethnicity_concept_id": 0,
            "person_source_value": [f"P{p:03d}" for p in persons],
        }
    ).to_csv(cdm / "person.csv", index=False)
    pd.DataFrame(
        {
            "condition_occurrence_id": persons,
            "person_id": persons,
            "condition_concept_id": 0,
            "condition_start_date": "2020-05-01",
            "condition_type_concept_id": 32817,
            "condition_source_value": list(CODES.values()),
            "condition_source_vocabulary_id": "SNOMED",
        }
    ).to_csv(cdm / "condition_occurrence.csv", index=False)
    pd.DataFrame(
        {
            "parent": [HEART_DISEASE, MYOCARDIAL_INFARCTION],
            "child": [MYOCARDIAL_INFARCTION, ACUTE_MI],
        }
    ).to_csv(folder / "snomed_isa.csv", index=False)
    return cdm


def station_config(folder: Path, **changes: Any) -> StationConfig:
    """An OMOP station over ``folder/cdm`` with exact counts; ``changes`` replace keys."""
    omop: dict[str, Any] = {
        "index_date": "2025-01-01",
        "conditions": {"heart_disease": f"SNOMED:{HEART_DISEASE}"},
        "hierarchies": {"SNOMED": "snomed_isa.csv"},
    }
    raw: dict[str, Any] = {
        "name": "north",
        "organisation": HOLDER,
        "hub_url": "http://127.0.0.1:9",
        "dataset": "cdm",
        "reader": "omop",
        "omop": omop,
        "disclosure": {"count_precision": "exact", "min_cell": 5},
    }
    raw.update(changes)
    return StationConfig.from_mapping(raw, folder)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_cdm(tmp_path)
    KeyPair.generate().save(tmp_path / "keys")
    (tmp_path / "station.token").write_text("ps_unused")
    return tmp_path


@pytest.fixture
def researcher() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def runner(folder: Path) -> Iterator[StationRunner]:
    station = StationRunner(station_config(folder))
    yield station
    station.close()


def ask(runner: StationRunner, researcher: KeyPair, algorithm: FederatedAlgorithm[Any, Any]) -> Any:
    """One round of ``algorithm`` at the station, through a signed run: the result."""
    first = algorithm.start()
    run = make_run(researcher, algorithm.name, dict(first.params))
    partial = answer(runner, researcher, run)
    assert partial.error is None, partial.error
    assert partial.payload is not None
    done = algorithm.coordinator_step({runner.config.name: partial.payload}, first.state)
    assert isinstance(done, Done)
    return done.result


# -- the [omop] table -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("omop", "message"),
    [
        ({"index_dat": "2025-01-01"}, r"unknown keys \['index_dat'\]"),
        ({"index_date": "1 Jan 2025"}, "index_date must be a date"),
        ({"lookback_days": -1}, "lookback_days must be a whole number"),
        ({"format": "csv"}, "format must be one of"),
        ({"conditions": {"hf": "I50"}}, r"\[omop.conditions\] hf: code pattern 'I50'"),
        ({"drugs": {"statin": []}}, r"\[omop.drugs\] statin must be a code pattern"),
        ({"conditions": "ICD10:I50*"}, r"\[omop.conditions\] must be a table"),
        ({"conditions": {"age": "ICD10:I50*"}}, r"names the columns \['age'\]"),
        (
            {"conditions": {"x": "ICD10:I50*"}, "drugs": {"x": "ATC:C10*"}},
            r"names the columns \['x'\] twice",
        ),
        ({"hierarchies": {"SNOMED": "missing.csv"}}, "SNOMED: the file .* does not exist"),
        ({"hierarchies": {"SNOMED": {"1": "2"}}}, "children of '1' must be a list"),
        ({"hierarchies": {"SNOMED": 3}}, "must be a file name or a table"),
    ],
)
def test_each_bad_field_of_omop_is_named(tmp_path, omop, message):
    with pytest.raises(InputError, match=message):
        OmopSettings.from_mapping(omop, tmp_path)


def test_the_station_configuration_refuses_an_omop_dataset_it_cannot_read(folder):
    with pytest.raises(InputError, match="does not exist"):
        station_config(folder, dataset="nowhere")
    (folder / "empty").mkdir()
    with pytest.raises(InputError, match='set \\[omop\\] format = "mapping"'):
        station_config(folder, dataset="empty")
    with pytest.raises(InputError, match="give its path as dataset, and no table"):
        station_config(folder, dataset="postgresql://db/x", table="cdm")
    with pytest.raises(InputError, match='set reader = "omop"'):
        station_config(folder, reader="pandas", dataset="data.csv")
    with pytest.raises(InputError, match="reader must be one of"):
        station_config(folder, reader="fhir")


def test_an_omop_station_defaults_its_identifier_and_quality_cdm_to_the_dataset(folder):
    config = station_config(folder)

    assert config.governance.id_column == "person_source_value"
    assert config.quality.tables == folder / "cdm"
    assert config.dataset_name == "cdm"
    named = station_config(folder, governance={"id_column": "person_source_value"})
    assert named.governance.id_column == "person_source_value"


def test_a_hierarchy_file_is_parent_child_rows_or_snomed_rf2(tmp_path):
    rf2 = tmp_path / "sct2_Relationship_Snapshot.txt"
    rows = [
        "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\ttypeId",
        f"1\t20240101\t1\t9\t{MYOCARDIAL_INFARCTION}\t{HEART_DISEASE}\t116680003",
        f"2\t20240101\t0\t9\t{HYPERTENSION}\t{HEART_DISEASE}\t116680003",  # retired
        f"3\t20240101\t1\t9\t{ACUTE_MI}\t{HEART_DISEASE}\t363698007",  # not is-a
    ]
    rf2.write_text("\n".join(rows) + "\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")

    assert read_hierarchy(rf2) == {HEART_DISEASE: (MYOCARDIAL_INFARCTION,)}
    with pytest.raises(InputError, match="give parent and child columns"):
        read_hierarchy(bad)


# -- the analysis table ---------------------------------------------------------------


def test_a_mapping_and_fhir_bundles_give_the_same_analysis_table(tmp_path):
    data = demo(seed=3, size=60)
    data.write(tmp_path)
    settings = OmopSettings.from_mapping(
        {
            "index_date": "2025-01-01",
            "conditions": {"heart_failure": "ICD10:I50*"},
            "measurements": {"nt_probnp": "LOINC:33762-6"},
        },
        tmp_path,
    )

    flat = analysis_table(tmp_path / "hospital" / "mapping.toml", settings)
    fhir = analysis_table(tmp_path / "hospital" / "fhir", settings)

    assert "person_id" not in flat.columns
    assert list(flat.columns) == [
        "person_source_value",
        "sex",
        "age",
        "in_observation",
        "dead",
        "heart_failure",
        "nt_probnp",
    ]
    assert len(flat) == 60
    assert flat["heart_failure"].any()
    pd.testing.assert_frame_equal(flat, fhir)


# -- a station over the CDM -----------------------------------------------------------


def test_an_omop_station_answers_summary_and_hides_the_identifier(runner, researcher):
    result = ask(runner, researcher, Summary(["age", "heart_disease"]))
    with pytest.raises(OutsidePolicy, match="patient identifier"):
        runner.station.source.complete_count(["person_source_value"])

    table = result.table
    ages = [2025 - (1940 + p % 50) for p in CODES]
    assert table.loc[("age", "north"), "count"] == 100
    assert table.loc[("age", "north"), "mean"] == pytest.approx(sum(ages) / len(ages))
    assert table.loc[("heart_disease", "north"), "mean"] == pytest.approx(0.6)


def test_a_feasibility_count_on_a_code_counts_its_descendants_from_the_hierarchy(
    runner, folder, researcher
):
    cohort = [{"column": "heart_disease", "in": [True]}]
    flat = StationRunner(
        station_config(
            folder,
            state_dir="flat-state",
            omop={
                "index_date": "2025-01-01",
                "conditions": {"heart_disease": f"SNOMED:{HEART_DISEASE}"},
            },
        )
    )
    try:
        without = ask(flat, researcher, Feasibility(cohort))
    finally:
        flat.close()

    with_tree = ask(runner, researcher, Feasibility(cohort))
    older = ask(
        runner,
        researcher,
        Feasibility(
            [*cohort, {"column": "age", "between": [60, 120]}, {"column": "sex", "in": ["male"]}]
        ),
    )

    assert isinstance(with_tree, FeasibilityResult)
    assert with_tree.counts["north"].value == 60  # 20 + 25 MI + 15 acute MI
    assert without.counts["north"].value == 20  # the code itself only
    expected = sum(
        1
        for p, code in CODES.items()
        if code != HYPERTENSION and 2025 - (1940 + p % 50) >= 60 and p % 2
    )
    assert older.counts["north"].value == expected


def test_an_omop_station_releases_its_quality_report_with_the_cdm_report(
    runner, folder, researcher
):
    before = ask(runner, researcher, Quality(required=["age", "sex"], ranges={"age": [0, 120]}))
    checked = CliRunner().invoke(station_app, ["quality", "--config", str(write_toml(folder))])
    after = ask(runner, researcher, Quality(required=["age"]))

    assert isinstance(before, QualityResult)
    assert before.cdm == {}
    assert {c.status for c in before.reports["north"].checks} == {"passed"}
    assert checked.exit_code == 0, checked.output
    assert "exact report (stays at the station)" in checked.output
    assert set(after.cdm) == {"north"}
    assert set(after.table.index.get_level_values("report")) == {"analysis dataset", "OMOP CDM"}


def write_toml(folder: Path) -> Path:
    """The fixture's station.toml, as `perron station quality` reads it."""
    path = folder / "station.toml"
    path.write_text(
        "\n".join(
            [
                'name = "north"',
                f'organisation = "{HOLDER}"',
                'hub_url = "http://127.0.0.1:9"',
                'dataset = "cdm"',
                'reader = "omop"',
                "",
                "[omop]",
                "index_date = 2025-01-01",
                "[omop.conditions]",
                f'heart_disease = "SNOMED:{HEART_DISEASE}"',
                "[omop.hierarchies]",
                'SNOMED = "snomed_isa.csv"',
                "",
            ]
        )
    )
    loaded = StationConfig.load(path)
    assert loaded.omop == station_config(folder).omop
    return path


def test_the_catalogue_counts_the_persons_of_an_omop_dataset_without_objectors(folder):
    path = write_toml(folder)
    with ObjectionRegister(folder / "state" / "objections.sqlite") as register:
        for pid in ("P001", "P002", "P003"):
            register.add(pid)
    added = CliRunner().invoke(
        station_app,
        [
            *("datasets", "add", "--config", str(path)),
            *("--title", "Heart disease", "--description", "Synthetic CDM."),
            *("--keyword", "heart disease", "--coding-system", "SNOMED CT"),
            *("--contact-name", "Desk", "--contact-email", "desk@example.org"),
        ],
    )

    meta = describe(StationConfig.load(path), DatasetsFile.beside(path), "cdm")

    assert added.exit_code == 0, added.output
    assert meta.individuals is not None
    assert meta.records is not None
    assert (meta.records.value, meta.individuals.value) == (97, 97)  # 100 - 3 objectors
