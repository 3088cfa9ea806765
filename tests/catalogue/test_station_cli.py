"""``perron station datasets``: describe a dataset, see what would be published."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from perron.__main__ import app
from perron.catalogue.dcat import parse
from perron.catalogue.shacl import validate
from perron.station.datasets import dump_toml
from perron.station.objections import ObjectionRegister

ADD = [
    *("datasets", "add"),
    *("--title", "Lung cancer cohort"),
    *("--description", "Patients treated for lung cancer.\nSecond line."),
    *("--keyword", "lung cancer", "--keyword", "survival"),
    *("--coding-system", "ICD-10", "--condition", "HMB", "--condition", "PUB"),
    *("--min-age", "39", "--max-age", "82", "--start", "2010-01-01", "--end", "2020-12-31"),
    *("--legal-basis", "A9-2-j", "--country", "NLD"),
    *("--contact-name", "Research data desk", "--contact-email", "data@umc-north.example"),
    *("--quality-report", "https://umc-north.example/quality/lung.html"),
]


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A station folder: 130 people with 150 records, min_cell 5, counts rounded to 10."""
    people = [f"P{i:04d}" for i in range(130)]
    pd.DataFrame({"pid": people + people[:20], "age": range(150)}).to_csv(
        tmp_path / "lung.csv", index=False
    )
    (tmp_path / "station.toml").write_text(
        'name = "st-north"\norganisation = "umc-north"\nhub_url = "https://hub.example"\n'
        'dataset = "lung.csv"\n\n[disclosure]\nmin_cell = 5\nround_counts = 10\n\n'
        '[governance]\nid_column = "pid"\n'
    )
    return tmp_path / "station.toml"


def run(station: Path, *args: str):
    return CliRunner().invoke(app, ["station", *args, "--config", str(station)])


def test_add_list_and_describe_with_rounded_counts(station: Path):
    added = run(station, *ADD)
    listed = run(station, "datasets", "list")
    described = run(station, "datasets", "describe", "--format", "json")

    assert added.exit_code == 0, added.output
    assert "described 'lung'" in added.output  # the station's dataset, by its file's stem
    assert listed.output.split("\t") == ["lung", "public", "Lung cancer cohort\n"]
    assert described.exit_code == 0, described.output
    meta = json.loads(described.output)
    assert meta["holder"] == "umc-north"
    assert meta["records"] == {"value": 150, "min_cell": 5, "rounded_to": 10}
    assert meta["individuals"] == {"value": 130, "min_cell": 5, "rounded_to": 10}
    assert meta["conditions"] == ["DUO:0000006", "DUO:0000019"]
    assert meta["description"] == "Patients treated for lung cancer.\nSecond line."


def test_describe_leaves_out_the_people_who_objected(station: Path):
    run(station, *ADD)
    with ObjectionRegister(station.parent / "state" / "objections.sqlite") as register:
        for pid in ("P0000", "P0001", "P0002", "P0100"):  # the first three have two records
            register.add(pid)

    meta = json.loads(run(station, "datasets", "describe", "--format", "json").output)

    assert meta["records"]["value"] == 140  # 150 - 7 = 143, rounded to 10
    assert meta["individuals"]["value"] == 130  # 130 - 4 = 126, rounded to 10


def test_describe_as_text_shows_counts_and_their_rules(station: Path):
    run(station, *ADD)

    shown = run(station, "datasets", "describe")

    assert shown.exit_code == 0, shown.output
    assert "records: 150, rounded to 10 (min_cell 5)" in shown.output
    assert "title: Lung cancer cohort" in shown.output


def test_describe_as_turtle_conforms_to_the_shapes(station: Path):
    run(station, *ADD)

    turtle = run(station, "datasets", "describe", "--format", "turtle", "--check")

    assert turtle.exit_code == 0, turtle.output
    assert "conforms to the DCAT-AP 3 and health shapes" in turtle.output
    body = turtle.output.split("HealthDCAT-AP export conforms")[0]
    assert validate(parse(body, "turtle")).conforms


def test_a_catalogue_may_tighten_the_rules_but_not_loosen_them(station: Path, tmp_path: Path):
    run(station, *ADD)
    stored = tomllib.loads((tmp_path / "datasets.toml").read_text())
    stored["lung"]["counting"] = {"round_counts": 100}
    (tmp_path / "datasets.toml").write_text(dump_toml(stored))

    tighter = json.loads(run(station, "datasets", "describe", "--format", "json").output)
    stored["lung"]["counting"] = {"min_cell": 2}
    (tmp_path / "datasets.toml").write_text(dump_toml(stored))
    looser = run(station, "datasets", "describe")

    assert tighter["records"] == {"value": 200, "min_cell": 5, "rounded_to": 100}
    assert looser.exit_code == 1
    assert "LooseningRejected" in looser.output


def test_add_from_a_file_with_a_separate_source_and_flags_on_top(station: Path, tmp_path: Path):
    pd.DataFrame({"x": range(3)}).to_csv(tmp_path / "tiny.csv", index=False)
    (tmp_path / "tiny.toml").write_text(
        'title = "Tiny"\ndescription = "Three rows."\nkeywords = ["tiny"]\n'
        'listing = "hub"\n[contact]\nname = "Desk"\nurl = "https://umc-north.example/desk"\n'
        '[counting]\nsource = "tiny.csv"\n'
    )

    added = run(station, *("datasets", "add", "tiny", "--file", str(tmp_path / "tiny.toml")))
    flagged = run(station, *("datasets", "add", "tiny", "--file", str(tmp_path / "tiny.toml")))
    replaced = run(
        station,
        *("datasets", "add", "tiny", "--file", str(tmp_path / "tiny.toml")),
        *("--title", "Tiny table", "--replace"),
    )
    meta = json.loads(run(station, "datasets", "describe", "tiny", "--format", "json").output)

    assert added.exit_code == 0, added.output
    assert flagged.exit_code == 1
    assert "give --replace" in flagged.output
    assert replaced.exit_code == 0, replaced.output
    assert meta["title"] == "Tiny table"
    assert meta["listing"] == "hub"
    assert meta["records"] == {"value": None, "min_cell": 5, "rounded_to": 10}  # 3 < 5
    assert meta["individuals"] is None  # no id column for this source


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--condition", "XYZ"), "is not a DUO term"),
        (("--access-rights", "OPEN"), "access_rights"),
        (("--listing", "secret"), "listing"),
        (("--contact-email", "nobody"), "contact.email"),
    ],
)
def test_add_refuses_a_wrong_description_and_writes_nothing(station, tmp_path, extra, message):
    result = run(station, *ADD, *extra)

    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "datasets.toml").exists()


def test_counts_cannot_be_typed_in(station: Path, tmp_path: Path):
    (tmp_path / "mine.json").write_text(
        json.dumps(
            {
                "title": "T",
                "description": "D",
                "keywords": ["k"],
                "contact": {"name": "D", "email": "d@x.example"},
                "records": {"value": 10, "min_cell": 5},
            }
        )
    )

    result = run(station, "datasets", "add", "--file", str(tmp_path / "mine.json"))

    assert result.exit_code == 1
    assert "the station fills these in itself" in result.output


def test_describing_an_unknown_dataset_says_which_there_are(station: Path):
    run(station, *ADD)

    result = run(station, "datasets", "describe", "heart")

    assert result.exit_code == 1
    assert "has no dataset 'heart' (it has: lung)" in result.output


def test_the_toml_writer_reads_back_whatever_it_writes():
    tricky = {
        "a.b": {
            "title": 'quotes " and \\ backslash',
            "description": "tab\tnew\nline, DEL \x7f, é and 🫁",
            "keywords": ["x", "y"],
            "min_age": 3,
            "flag": True,
            "contact": {"name": "D", "email": "d@x.example"},
        }
    }

    assert tomllib.loads(dump_toml(tricky)) == {"a.b": {**tricky["a.b"], "keywords": ["x", "y"]}}
