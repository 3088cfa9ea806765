"""Fixtures for the station's governance tests: keys, a cohort and a station factory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from perron.crypto.keys import KeyPair
from perron.governance.policy import SignedPolicy
from perron.station.config import StationConfig
from perron.station.policies import StaticPolicies
from perron.station.runner import StationRunner
from tests.station.support import DATASET, HOLDER, ID_COLUMN, Signers, with_ids

StationFactory = Callable[..., StationRunner]


@pytest.fixture
def researcher() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def signers() -> Signers:
    return Signers(KeyPair.generate(), KeyPair.generate())


@pytest.fixture(scope="session")
def cohort(whas500: pd.DataFrame) -> pd.DataFrame:
    """The Worcester Heart Attack Study (500 rows) with a pseudonym per patient."""
    return with_ids(whas500)


@pytest.fixture
def station(tmp_path: Path, cohort: pd.DataFrame, signers: Signers) -> Iterator[StationFactory]:
    """Make a station runner over the cohort, with policies from an in-memory source.

    Keyword arguments: ``policies`` (signed policies or wire dicts), ``governance``
    (the ``[governance]`` table; default: dataset ``whas``, id column, the two
    signers), ``settings`` (more top-level keys) and ``clock``. Stations made by one
    test share their folder (keys, state, audit log), as a restarted station would.
    """
    folder = tmp_path / "station"
    made: list[StationRunner] = []

    def make(
        policies: Iterable[SignedPolicy | Mapping[str, Any]] = (),
        *,
        governance: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> StationRunner:
        if not folder.exists():
            folder.mkdir()
            cohort.to_csv(folder / "cohort.csv", index=False)
            KeyPair.generate().save(folder / "keys")
            (folder / "station.token").write_text("ps_unused")
        table = {"dataset_name": DATASET, "id_column": ID_COLUMN, "signers": signers.config()}
        raw = {
            "name": "north",
            "organisation": HOLDER,
            "hub_url": "http://127.0.0.1:9",
            "dataset": "cohort.csv",
            "governance": table if governance is None else dict(governance),
            **(settings or {}),
        }
        runner = StationRunner(
            StationConfig.from_mapping(raw, folder), policies=StaticPolicies(policies), clock=clock
        )
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()
