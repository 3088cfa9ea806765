"""``perron station objections add|remove|list|summary`` and ``perron station used-by``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perron.station.cli import app
from perron.station.report import digest_key
from perron.station.transparency import used_by
from tests.station.support import ID_COLUMN, answer, make_run


def _toml(folder: Path, id_column: str | None = ID_COLUMN) -> Path:
    """A station.toml for the folder the ``station`` fixture made."""
    lines = [
        'name = "north"',
        'organisation = "org-north"',
        'hub_url = "http://127.0.0.1:9"',
        'dataset = "cohort.csv"',
        "",
        "[governance]",
        'dataset_name = "whas"',
    ]
    if id_column is not None:
        lines.append(f'id_column = "{id_column}"')
    path = folder / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def config(station) -> Path:
    runner = station(governance={"id_column": ID_COLUMN})
    return _toml(runner.config.state_dir.parent)


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_objections_are_added_listed_and_withdrawn(config):
    assert _invoke("objections", "add", "-c", str(config), "P0001", "P0002") == (
        0,
        "P0001: objection registered\nP0002: objection registered\n",
    )
    assert _invoke("objections", "add", "-c", str(config), "P0001")[1] == "P0001: objects already\n"
    assert _invoke("objections", "remove", "-c", str(config), "P0001", "P0003") == (
        0,
        "P0001: objection withdrawn\nP0003: no objection\n",
    )

    code, output = _invoke("objections", "list", "-c", str(config), "--json")

    assert code == 0
    listed = {o["patient_id"]: o for o in json.loads(output)}
    assert set(listed) == {"P0001", "P0002"}
    assert listed["P0001"]["withdrawn_at"] is not None
    assert listed["P0002"]["withdrawn_at"] is None


def test_a_time_can_be_given(config):
    _invoke("objections", "add", "-c", str(config), "--at", "2026-03-01T09:00+01:00", "P0001")

    code, output = _invoke("objections", "list", "-c", str(config))

    assert code == 0
    assert output.startswith("P0001\tobjected 2026-03-01T08:00:00+00:00\tobjects")


def test_a_bad_identifier_changes_nothing(config):
    code, output = _invoke("objections", "add", "-c", str(config), "P0001", "  ")

    assert code == 1
    assert "InputError" in output
    assert _invoke("objections", "list", "-c", str(config)) == (0, "")


def test_the_summary_is_what_the_station_reports(config, station):
    _invoke("objections", "add", "-c", str(config), "--at", "2026-03-01T09:00+00:00", "P0001")
    runner = station(governance={"id_column": ID_COLUMN})

    code, output = _invoke("objections", "summary", "-c", str(config))

    assert code == 0
    summary = json.loads(output)
    assert summary == runner.objections.summary(digest_key(runner.keys)).to_wire()
    assert (summary["count"], summary["updated_at"]) == (1, "2026-03-01T09:00:00.000000+00:00")
    assert "P0001" not in output


def test_objections_need_an_id_column(station):
    runner = station(governance={"id_column": ID_COLUMN})
    config = _toml(runner.config.state_dir.parent, id_column=None)

    code, output = _invoke("objections", "add", "-c", str(config), "P0001")

    assert code == 1
    assert "id_column" in output


def test_used_by_lists_the_studies(station, researcher):
    runner = station(governance={"dataset_name": "whas", "id_column": ID_COLUMN})
    answer(runner, researcher, make_run(researcher))
    config = _toml(runner.config.state_dir.parent)

    code, output = _invoke("used-by", "-c", str(config), "P0004", "--json")
    unknown = _invoke("used-by", "-c", str(config), "nobody")

    assert code == 0
    (use,) = json.loads(output)
    assert (use["study"], use["policy_id"], use["algorithms"], use["tasks"]) == (
        "whas",
        None,
        ["summary"],
        1,
    )
    assert unknown == (0, "no study used the data of nobody at this station.\n")


def test_used_by_reads_the_configuration_file_too(station, researcher):
    runner = station(governance={"dataset_name": "whas", "id_column": ID_COLUMN})
    answer(runner, researcher, make_run(researcher))

    uses = used_by(_toml(runner.config.state_dir.parent), "P0004")

    assert [(u.study, u.tasks) for u in uses] == [("whas", 1)]
