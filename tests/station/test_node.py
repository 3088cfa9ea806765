"""The station refuses what its holder did not allow and leaks no internals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pandas as pd
import pytest

from perron import AlgorithmNotAllowed, PolicyViolation
from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    FederatedResult,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.registry import INSTALLED
from perron.client.grid import InMemoryGrid
from perron.data.frame import FrameSource
from perron.data.source import DataSource
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import error_from_wire
from perron.protocol.messages import Task
from perron.station.node import Station


class _Leaky(FederatedAlgorithm[None, FederatedResult]):
    """Declares a mean but also tries to release the rows."""

    name: ClassVar[str] = "leaky"
    contract = DisclosureContract(releases={"mean": "scalar"}, rules=())

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        return StationOutput({"mean": 1.0, "rows": [1, 2, 3]}, [])

    def start(self) -> Next[None]:
        return Next({}, None)

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: None
    ) -> Done[FederatedResult]:
        return Done(FederatedResult())


class _Broken(_Leaky):
    name: ClassVar[str] = "broken"

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        raise KeyError("patient 12345")


@pytest.fixture
def source() -> FrameSource:
    return FrameSource(pd.DataFrame({"x": range(50)}))


def test_algorithm_not_on_the_allow_list_is_refused(source):
    station = Station("a", source, allowed={"summary"})

    partial = station.handle(Task("glm", {}))

    assert partial.payload is None
    assert partial.error is not None
    assert isinstance(error_from_wire(dict(partial.error)), AlgorithmNotAllowed)


def test_algorithm_not_installed_is_refused(source):
    partial = Station("a", source).handle(Task("rm -rf", {}))
    assert partial.error is not None
    assert partial.error["kind"] == "AlgorithmNotAllowed"


def test_undeclared_output_is_refused(source):
    station = Station("a", source, installed={**INSTALLED, "leaky": _Leaky})

    partial = station.handle(Task("leaky", {}))

    assert partial.payload is None
    error = error_from_wire(dict(partial.error or {}))
    assert isinstance(error, PolicyViolation)
    assert "undeclared" in str(error)


def test_unexpected_failure_leaks_no_message(source, caplog):
    station = Station("a", source, installed={**INSTALLED, "broken": _Broken})

    partial = station.handle(Task("broken", {}))

    assert partial.error is not None
    assert "12345" not in str(partial.error["message"])
    assert "KeyError" in str(partial.error["message"])


def test_in_memory_grid_runs_every_station(source):
    stations = {n: Station(n, source) for n in ("a", "b")}
    grid = InMemoryGrid({n: s.handle for n, s in stations.items()})

    partials = grid.run_round(Task("summary", {"columns": ["x"]}))

    assert set(partials) == {"a", "b"}
    assert all(p.payload is not None for p in partials.values())


def test_empty_grid_is_refused():
    with pytest.raises(ValueError, match="at least one station"):
        InMemoryGrid({})


def test_a_task_can_run_on_another_source_under_other_settings(source):
    station = Station("a", source, DisclosurePolicy(min_rows=10))
    smaller = FrameSource(pd.DataFrame({"x": range(20)}))

    partial = station.handle(Task("summary", {"columns": ["x"]}), source=smaller)
    blocked = station.handle(
        Task("summary", {"columns": ["x"]}), disclosure=DisclosurePolicy(min_rows=100)
    )
    looser = station.handle(
        Task("summary", {"columns": ["x"]}, disclosure={"min_rows": 50}),
        disclosure=DisclosurePolicy(min_rows=100),
    )

    assert partial.payload is not None
    assert partial.payload["columns"]["x"]["n"] == 20
    assert (blocked.error or {})["kind"] == "DisclosureBlocked"
    assert (looser.error or {})["kind"] == "LooseningRejected"
