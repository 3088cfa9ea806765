"""``perron station quality`` on a holder's CDM, and ``perron quality`` for the researcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from perron.__main__ import app
from perron.client.cli import _ranges
from perron.omop.synthetic import demo
from perron.quality import QualityReport
from perron.quality.store import report_files
from tests.quality.builders import people, rows, text


def write_config(folder: Path, extra: str = "") -> Path:
    config = folder / "station.toml"
    config.write_text(
        'name = "north"\norganisation = "umc-north"\nhub_url = "http://127.0.0.1:1"\n'
        'dataset = "cohort.csv"\n\n[disclosure]\nmin_cell = 5\n' + extra
    )
    return config


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_a_folder_of_cdm_tables_that_validation_would_reject(tmp_path):
    folder = tmp_path / "cdm"
    folder.mkdir()
    years = [None, None, None] + [str(1950 + i) for i in range(7)]
    people(year_of_birth=years).to_csv(folder / "person.csv", index=False)
    visits = rows("visit_occurrence", visit_end_date=["2020-02-01"] + ["2020-03-04"] * 9)
    visits.to_csv(folder / "visit_occurrence.csv", index=False)
    config = write_config(tmp_path)
    out = tmp_path / "report.html"

    code, output = invoke(
        "station", "quality", "-c", str(config), "--cdm-tables", str(folder), "--out", str(out)
    )

    assert code == 0, output
    files = report_files(tmp_path / "state", "cohort")
    assert f"exact report (stays at the station): {files.exact}" in output
    exact = QualityReport.from_json(files.exact.read_text())
    released = QualityReport.from_json(files.json.read_text())
    key = "isRequired.person.year_of_birth"
    assert (text(exact.check(key).violated), text(released.check(key).violated)) == ("3", "< 5")
    start = "plausibleStartBeforeEnd.visit_occurrence.visit_start_date"
    assert released.check(start).status.value == "failed"
    assert "&lt; 5" in files.html.read_text()
    assert "&lt; 5" in out.read_text()
    assert json.loads(out.with_suffix(".json").read_text())["disclosure"]["min_cell"] == 5
    entry = json.loads(output.rsplit("catalogue entry: ", 1)[1])
    assert set(entry) == {"summary"}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """The demo holders' CSV files, mappings and FHIR bundles."""
    return demo(seed=1, size=60).write(tmp_path_factory.mktemp("omop"))


def test_the_mapping_from_station_toml_and_an_exact_copy(tmp_path, written):
    config = write_config(
        tmp_path, f'\n[quality]\nmapping = "{written["hospital"]}"\ndeath_grace_days = 0\n'
    )
    out = tmp_path / "exact.html"

    code, output = invoke(
        "station",
        "quality",
        "-c",
        str(config),
        "--dataset",
        "hospital",
        "--out",
        str(out),
        "--exact",
    )

    assert code == 0, output
    assert "quality report on hospital (cdm, released)" in output
    assert "Exact numbers." in out.read_text()
    stored = QualityReport.from_json(report_files(tmp_path / "state", "hospital").json.read_text())
    assert stored.settings["death_grace_days"] == 0
    assert stored.check("cdmTable.person").status.value == "passed"


def test_fhir_bundles_from_station_toml(tmp_path, written):
    bundles = written["pharmacy"].parent / "fhir" / "*.json"
    config = write_config(tmp_path, f'\n[quality]\nfhir = ["{bundles}"]\n')

    code, output = invoke("station", "quality", "-c", str(config), "--dataset", "pharmacy")

    assert code == 0, output
    stored = QualityReport.from_json(report_files(tmp_path / "state", "pharmacy").json.read_text())
    assert stored.check("isRequired.drug_exposure.drug_exposure_start_date").status.value == (
        "passed"
    )


def test_no_cdm_given_is_an_error_that_says_what_to_give(tmp_path):
    code, output = invoke("station", "quality", "-c", str(write_config(tmp_path)))

    assert code == 1
    assert "--cdm-mapping" in output
    assert "--cdm-tables" in output


def test_the_researcher_command_is_registered():
    code, output = invoke("quality", "--help")

    assert code == 0
    assert "--study" in output
    assert "--html" in output


def test_ranges_are_read_as_column_low_high():
    assert _ranges(["age=0:120", "bmi=:80"]) == {"age": [0.0, 120.0], "bmi": [None, 80.0]}
    with pytest.raises(typer.BadParameter, match="column=low:high"):
        _ranges(["age"])
