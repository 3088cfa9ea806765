"""Feasibility counts between real station processes: rounded counts, the differencing
guard's ledger on the station's disk (it survives a restart), and the holder's unlock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from perron.__main__ import app
from perron.protocol.errors import DisclosureBlocked
from perron.sandbox.localnet import LocalNetwork


def _cohort(low: int) -> list[dict[str, object]]:
    return [{"column": "age", "between": [low, 80]}, {"column": "icd10", "prefix": ["I21"]}]


def test_feasibility_through_a_hub_rounds_guards_and_can_be_unlocked(tmp_path):
    rng = np.random.default_rng(5)
    frames = {
        name: pd.DataFrame(
            {"age": rng.integers(20, 91, n), "icd10": rng.choice(["I21.9", "E11.9"], n)}
        )
        for name, n in (("north", 900), ("south", 400))
    }
    frames["north"].loc[0, "age"] = 45  # the only 45-year-old, and she has I21
    frames["north"].loc[0, "icd10"] = "I21.0"
    frames["north"] = frames["north"][
        ~((frames["north"]["age"] == 45) & (frames["north"].index > 0))
    ].reset_index(drop=True)

    with LocalNetwork(frames, workdir=tmp_path) as network:
        session = network.connect()
        first = session.feasibility(_cohort(45))
        network.stop_station("north")  # the ledger is on the station's disk
        network.start_station("north")
        refusals = []
        for _ in range(3):
            with pytest.raises(DisclosureBlocked) as refused:
                session.feasibility(_cohort(46))
            refusals.append(str(refused.value))
        with pytest.raises(DisclosureBlocked, match="lockout"):
            session.feasibility([{"column": "age", "between": [20, 90]}])
        unlocked = [
            CliRunner().invoke(
                app,
                ["station", "feasibility", "unlock", "researcher", "--config", str(config)],
            )
            for config in (tmp_path / "stations" / name / "station.toml" for name in frames)
        ]
        wide = session.feasibility([{"column": "age", "between": [20, 90]}])
        session.close()

    expected = {
        name: int((frame["age"].between(45, 80) & frame["icd10"].str.startswith("I21")).sum())
        for name, frame in frames.items()
    }
    for name, count in expected.items():
        assert first.counts[name].value == -(-count // 10) * 10
    assert all("min_difference" in text and "'north'" in text for text in refusals)
    for result in unlocked:
        assert result.exit_code == 0, result.output
        assert "lockout lifted (3 refused" in result.output
    assert wide.counts["north"].value == -(-len(frames["north"]) // 10) * 10
