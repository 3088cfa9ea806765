"""``perron pseudonymise keygen|run`` end to end on a small CSV file."""

from __future__ import annotations

import stat

import pandas as pd
import pytest
from typer.testing import CliRunner

from perron.__main__ import app
from perron.linkage.pseudonym import PseudonymKey, key_versions, pseudonymise_frame

CSV = """\
site,bsn,age
north,111222333,61
north,111222334,70
south,123.456.782,55
south,,80
east,12345672,47
"""
BSNS = ("111222333", "111222334", "123456782", "12345672", "012345672")


def invoke(*args: str):
    return CliRunner().invoke(app, ["pseudonymise", *args])


@pytest.fixture
def keys(tmp_path):
    holder, ttp = tmp_path / "source.key", tmp_path / "ttp.key"
    made = [
        invoke("keygen", "--out", str(holder), "--version", "v1", "--owner", "lung holders"),
        invoke("keygen", "--out", str(ttp), "--version", "v3", "--owner", "ZorgTTP"),
    ]
    assert all(result.exit_code == 0 for result in made), [r.output for r in made]
    return holder, ttp


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV)
    return path


def test_help_lists_the_subcommands():
    result = invoke("--help")

    assert result.exit_code == 0
    assert "keygen" in result.output
    assert "run" in result.output


def test_keygen_writes_a_private_file_and_never_overwrites(tmp_path, keys):
    holder, _ = keys
    before = holder.read_bytes()

    again = invoke("keygen", "--out", str(holder), "--version", "v2", "--owner", "x")

    assert stat.S_IMODE(holder.stat().st_mode) == 0o600
    assert PseudonymKey.load(holder).version == "v1"
    assert again.exit_code == 1
    assert "never overwritten" in again.output
    assert holder.read_bytes() == before


def test_run_pseudonymises_and_lists_invalid_rows(tmp_path, keys, data):
    holder, ttp = keys
    out = tmp_path / "out.csv"

    result = invoke(
        "run", "--input", str(data), "--output", str(out), "--bsn-column", "bsn",
        "--holder-key", str(holder), "--ttp-key", str(ttp), "--study", "lung",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "pseudonymised 3 of 5 rows for study 'lung' (keys v1.v3)" in result.output
    assert "row 2: *****2334 fails the eleven-test" in result.output
    assert "row 4: (empty) is missing" in result.output
    assert not any(bsn in result.output for bsn in BSNS)
    written = pd.read_csv(out, dtype=str)
    assert list(written.columns) == ["site", "pseudonym", "age"]
    assert written["site"].tolist() == ["north", "south", "east"]
    assert {key_versions(p) for p in written["pseudonym"]} == {("v1", "v3")}
    text = out.read_text()
    assert not any(bsn in text for bsn in BSNS)
    # The same as the library, with the same keys.
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    expected = pseudonymise_frame(
        frame, "bsn", PseudonymKey.load(holder), PseudonymKey.load(ttp), "lung", invalid="drop"
    )
    assert written["pseudonym"].tolist() == expected.frame["pseudonym"].tolist()


def test_strict_exits_1_and_writes_nothing(tmp_path, keys, data):
    holder, ttp = keys
    out = tmp_path / "out.csv"

    result = invoke(
        "run", "--input", str(data), "--output", str(out), "--holder-key", str(holder),
        "--ttp-key", str(ttp), "--study", "lung", "--strict",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "row 2: *****2334 fails the eleven-test" in result.output
    assert "nothing written" in result.output
    assert not out.exists()


def test_strict_passes_when_every_bsn_is_valid(tmp_path, keys):
    holder, ttp = keys
    clean = tmp_path / "clean.csv"
    clean.write_text("bsn,age\n111222333,61\n123456782,55\n")
    out = tmp_path / "out.csv"

    result = invoke(
        "run", "--input", str(clean), "--output", str(out), "--holder-key", str(holder),
        "--ttp-key", str(ttp), "--study", "lung", "--strict",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "pseudonymised 2 of 2 rows" in result.output
    assert "no valid BSN" not in result.output


def test_the_stages_apart_give_the_same_pseudonyms(tmp_path, keys, data):
    holder, ttp = keys
    stage1, study, both = tmp_path / "stage1.csv", tmp_path / "study.csv", tmp_path / "both.csv"

    at_holder = invoke(
        "run", "--stage", "holder", "--input", str(data), "--output", str(stage1),
        "--holder-key", str(holder),
    )  # fmt: skip
    sent = tmp_path / "sent.csv"
    pd.read_csv(stage1, dtype=str)[["pseudonym"]].to_csv(sent, index=False)
    at_ttp = invoke(
        "run", "--stage", "ttp", "--input", str(sent), "--output", str(study),
        "--ttp-key", str(ttp), "--study", "lung",
    )  # fmt: skip
    here = invoke(
        "run", "--input", str(data), "--output", str(both), "--holder-key", str(holder),
        "--ttp-key", str(ttp), "--study", "lung",
    )  # fmt: skip

    assert at_holder.exit_code == 0, at_holder.output
    assert "stage 1: 3 of 5 rows (source key v1)" in at_holder.output
    assert "row 2: *****2334" in at_holder.output
    assert {key_versions(p) for p in pd.read_csv(stage1)["pseudonym"]} == {("v1", None)}
    assert at_ttp.exit_code == 0, at_ttp.output
    assert here.exit_code == 0, here.output
    assert "stage 2: 3 rows for study 'lung' (TTP key v3)" in at_ttp.output
    assert pd.read_csv(study)["pseudonym"].tolist() == pd.read_csv(both)["pseudonym"].tolist()


def test_the_ttp_stage_refuses_a_file_with_bsns(tmp_path, keys, data):
    _, ttp = keys
    out = tmp_path / "out.csv"

    result = invoke(
        "run", "--stage", "ttp", "--input", str(data), "--output", str(out),
        "--ttp-key", str(ttp), "--study", "lung",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "must never receive BSNs" in result.output
    assert not out.exists()


def test_options_each_stage_needs(tmp_path, keys, data):
    holder, _ = keys
    out = tmp_path / "out.csv"

    both = invoke("run", "--input", str(data), "--output", str(out), "--holder-key", str(holder))
    ttp = invoke("run", "--stage", "ttp", "--input", str(data), "--output", str(out))

    assert both.exit_code == 2
    assert "--ttp-key, --study" in both.output
    assert ttp.exit_code == 2
    assert not out.exists()


def test_an_existing_output_is_not_replaced(tmp_path, keys, data):
    holder, ttp = keys
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")

    result = invoke(
        "run", "--input", str(data), "--output", str(out), "--holder-key", str(holder),
        "--ttp-key", str(ttp), "--study", "lung",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "exists" in result.output
    assert out.read_text() == "keep me\n"


def test_a_missing_bsn_column_is_named(tmp_path, keys, data):
    holder, ttp = keys

    result = invoke(
        "run", "--input", str(data), "--output", str(tmp_path / "out.csv"),
        "--bsn-column", "BSN", "--holder-key", str(holder), "--ttp-key", str(ttp),
        "--study", "lung",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "UnknownColumn: column 'BSN' is not in the data" in result.output


def test_an_unreadable_csv_is_named(tmp_path, keys):
    holder, ttp = keys
    empty = tmp_path / "empty.csv"
    empty.write_text("")

    result = invoke(
        "run", "--input", str(empty), "--output", str(tmp_path / "out.csv"),
        "--holder-key", str(holder), "--ttp-key", str(ttp), "--study", "lung",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "DataSourceError" in result.output
