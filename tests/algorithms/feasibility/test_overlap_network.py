"""The overlap report between real station processes through a hub.

Each station's link key column is its ``[governance] id_column``: hidden from every
analysis, seen only by the PSI protocol; the PSI messages travel sealed from
station to station through the hub and the researcher's coordinator.
"""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from perron.__main__ import app
from perron.sandbox.localnet import RESEARCHER, LocalNetwork
from perron.station.objections import ObjectionRegister


def test_overlap_through_a_hub_counts_what_the_sets_share_and_leaves_out_objectors(tmp_path):
    rng = np.random.default_rng(11)
    people = [f"ps-{i:04d}" for i in range(200)]
    frames = {
        name: pd.DataFrame(
            {"pid": chosen, "age": np.where(rng.random(len(chosen)) < 0.3, np.nan, 60.0)}
        )
        for name, share in (("north", 0.8), ("south", 0.6))
        for chosen in [[p for p in people if rng.random() < share]]
    }
    shared = sorted(set(frames["north"]["pid"]) & set(frames["south"]["pid"]))
    settings = '[governance]\nid_column = "pid"\n'
    with LocalNetwork(
        frames, workdir=tmp_path, station_settings=dict.fromkeys(frames, settings)
    ) as network:
        session = network.connect()
        report = session.overlap(["age"])
        objections = tmp_path / "stations" / "north" / "state" / "objections.sqlite"
        with ObjectionRegister(objections) as register:
            register.add(shared[0])
        after = session.overlap()
        session.close()
        token = httpx.post(
            f"{network.url}/api/auth/token",
            json={"username": RESEARCHER, "password": network.password},
        ).json()["token"]
        printed = CliRunner().invoke(
            app,
            ["overlap", "--study", network.study, "--plot", str(tmp_path / "overlap.png")],
            env={"PERRON_HUB_URL": network.url, "PERRON_TOKEN": token},
        )

    assert report.sizes == {"north": len(frames["north"]), "south": len(frames["south"])}
    assert report.overlap == len(shared)
    linked = frames["south"][frames["south"]["pid"].isin(shared)]
    assert report.missing.loc["age", "south"] == linked["age"].isna().sum()
    assert after.overlap == len(shared) - 1  # the objector is not linked any more
    assert after.sizes["north"] == len(frames["north"]) - 1
    assert printed.exit_code == 0, printed.output
    assert "north & south" in printed.output
    assert (tmp_path / "overlap.png").read_bytes()[:4] == b"\x89PNG"


def test_a_linked_crosstab_between_station_processes_equals_the_merged_table(tmp_path):
    rng = np.random.default_rng(12)
    people = [f"ps-{i:04d}" for i in range(240)]
    frames: dict[str, pd.DataFrame] = {}
    for name, share in (("hospital", 0.8), ("insurer", 0.7), ("pharmacy", 0.3)):
        frames[name] = pd.DataFrame({"pid": [p for p in people if rng.random() < share]})
    frames["hospital"]["diagnosis"] = rng.choice(["cvd", "cancer"], len(frames["hospital"]))
    frames["insurer"]["care"] = rng.choice(["low", "high"], len(frames["insurer"]))
    merged = frames["hospital"].merge(frames["insurer"], on="pid")
    expected = pd.crosstab(merged["diagnosis"], merged["care"]).astype(float)
    settings = '[governance]\nid_column = "pid"\n'
    with LocalNetwork(
        frames, workdir=tmp_path, station_settings=dict.fromkeys(frames, settings)
    ) as network:
        session = network.connect()
        result = session.linked_crosstab(
            ("hospital", "diagnosis"), ("insurer", "care"), helper="pharmacy"
        )
        session.close()

    pd.testing.assert_frame_equal(result.table, expected, check_names=False)
    assert (expected.to_numpy() >= 5).all()  # no cell the default rules would suppress
