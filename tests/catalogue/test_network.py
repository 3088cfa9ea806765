"""End to end over HTTP: a real hub process, a station's CLI publishing, a researcher's CLI.

The hub runs as its own OS process (``perron hub start``, as :class:`LocalNetwork`
starts it); the station's ``datasets publish`` and the researcher's ``catalogue``
commands talk to it over the network. No station process is needed: publishing is a
command the data manager runs, not part of the station's task loop (starting station
processes is covered by the other network tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from perron.__main__ import app
from perron.catalogue.dcat import parse
from perron.catalogue.shacl import validate
from perron.privacy.policy import DisclosurePolicy
from perron.sandbox.localnet import LocalNetwork


def test_a_station_publishes_and_a_researcher_finds_and_exports(tmp_path: Path):
    people = [f"P{i:04d}" for i in range(212)]
    frame = pd.DataFrame({"pid": people + people[:30], "age": [60] * 242})
    network = LocalNetwork(
        {"north": frame},
        workdir=tmp_path,
        organisations={"north": "umc-north"},
        disclosure=DisclosurePolicy(min_cell=5, round_counts=10),
        station_settings={"north": '[governance]\ndataset_name = "lung"\nid_column = "pid"\n'},
    )
    cli = CliRunner()
    config = str(tmp_path / "stations" / "north" / "station.toml")
    try:
        network.setup()
        network.start_hub()
        added = cli.invoke(
            app,
            [
                *("station", "datasets", "add", "--config", config),
                *("--title", "Lung cancer cohort", "--description", "Advanced lung cancer."),
                *("--keyword", "lung cancer", "--coding-system", "ICD-10"),
                *("--contact-name", "Desk", "--contact-email", "desk@umc-north.example"),
            ],
        )
        published = cli.invoke(app, ["station", "datasets", "publish", "--config", config])
        env = {"PERRON_HUB_URL": network.url}
        found = cli.invoke(app, ["catalogue", "search", "lung", "--code", "ICD-10"], env=env)
        none = cli.invoke(app, ["catalogue", "search", "--code", "ATC"], env=env)
        shown = cli.invoke(app, ["catalogue", "show", "umc-north", "lung"], env=env)
        out = tmp_path / "catalogue.jsonld"
        exported = cli.invoke(
            app,
            ["catalogue", "export", "--format", "jsonld", "--check", "--out", str(out)],
            env=env,
        )
    finally:
        network.close()

    assert added.exit_code == 0, added.output
    assert published.exit_code == 0, published.output
    assert "published umc-north/lung" in published.output
    assert found.exit_code == 0, found.output
    assert found.output.split("\t")[:3] == ["umc-north/lung", "records ~240", "individuals ~210"]
    assert none.output.strip() == "no dataset matches."
    entry = json.loads(shown.output)
    assert (entry["station"], entry["metadata"]["records"]["value"]) == ("north", 240)
    assert exported.exit_code == 0, exported.output
    assert "conforms to the DCAT-AP 3 and HealthDCAT-AP shapes" in exported.output
    export = out.read_text()
    graph = parse(export, "jsonld")
    assert validate(graph).conforms
    assert "urn:perron:dataset:umc-north:lung" in export
    # The hub got counts, never a row: no identifier of the data file is in its database.
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("hub.db*"))
    assert b"P0001" not in stored
    assert b"Advanced lung cancer." in stored
