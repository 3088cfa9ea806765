"""``perron quality`` between real processes: a hub, a station over a CSV file and a
station over an OMOP CDM (with the report of ``perron station quality``); the command
prints each station's statuses and failures and writes the reports as HTML and JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from perron.__main__ import app
from perron.client.connect import hub_client, log_in
from perron.sandbox.localnet import RESEARCHER, LocalNetwork
from tests.omop.test_station_reader import HEART_DISEASE, write_cdm

OMOP_STATION = f"""
[omop]
index_date = 2025-01-01
[omop.conditions]
heart_disease = "SNOMED:{HEART_DISEASE}"
[omop.hierarchies]
SNOMED = "snomed_isa.csv"
"""


def test_perron_quality_reports_every_station_through_a_hub(tmp_path):
    rng = np.random.default_rng(11)
    ages = rng.integers(20, 90, 120).astype(float)
    ages[:7] = 250.0  # implausible: the range check fails at north
    frames = {"north": pd.DataFrame({"age": ages, "bmi": rng.normal(26, 4, 120)})}
    frames["south"] = pd.DataFrame()  # its dataset is the OMOP CDM below
    south = tmp_path / "stations" / "south"
    write_cdm(south)
    html, json_out = tmp_path / "quality.html", tmp_path / "quality.json"
    with LocalNetwork(
        frames,
        workdir=tmp_path,
        station_datasets={"south": 'dataset = "cdm"\nreader = "omop"'},
        station_settings={"south": OMOP_STATION},
    ) as network:
        # The holder checks its CDM while the station runs; the next task finds the report.
        checked = CliRunner().invoke(
            app, ["station", "quality", "--config", str(south / "station.toml")]
        )
        with hub_client(network.url) as client:
            token = log_in(client, RESEARCHER, network.password)
        shown = CliRunner().invoke(
            app,
            [
                *("quality", "--study", network.study, "--hub", network.url),
                *("--token", token, "--required", "age", "--range", "age=0:120"),
                *("--html", str(html), "--json", str(json_out)),
            ],
        )

    assert checked.exit_code == 0, checked.output
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    header, index, *rows = lines[:5]
    assert header.split() == ["passed", "failed", "not_applicable", "error", "pct_passed"]
    assert index.split() == ["station", "report"]
    assert rows[0].split()[:4] == ["north", "analysis", "dataset", "4"]
    assert rows[1].split()[:4] == ["south", "analysis", "dataset", "8"]
    assert rows[2].split()[:3] == ["OMOP", "CDM", "94"]  # south's CDM report
    assert "north: FAILED plausibleValueHigh.north.age: 7 rows" in lines
    # The CDM tables have no observation_period: the CDM report's failure is shown too.
    assert "south (OMOP CDM): FAILED cdmTable.observation_period: 1 rows" in lines
    assert not any(line.startswith("south: FAILED") for line in lines)
    assert f"wrote {html}" in lines
    assert f"wrote {json_out}" in lines
    page = html.read_text(encoding="utf-8")
    assert "Data quality: study demo" in page
    assert "north: analysis dataset" in page
    assert "south: OMOP CDM" in page
    stations = json.loads(json_out.read_text(encoding="utf-8"))["stations"]
    assert set(stations) == {"north", "south"}
    assert stations["north"]["cdm"] is None
    assert stations["south"]["cdm"]["kind"] == "cdm"
    north = {c["key"]: c for c in stations["north"]["dataset"]["checks"]}
    assert north["plausibleValueHigh.north.age"]["status"] == "failed"
    assert north["isRequired.north.age"]["status"] == "passed"
    south = {c["key"]: c for c in stations["south"]["dataset"]["checks"]}
    assert south["plausibleValueHigh.south.age"]["status"] == "passed"
