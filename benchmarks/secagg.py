"""Secure aggregation vs plain aggregation, end to end through the station code path.

Each of k stations releases a vector of n values (a benchmark-only algorithm
installed at in-process stations); one round goes station -> wire (the partial as
JSON, as the transport carries it) -> coordinator, which sums the vectors (plain)
or adds the masked vectors and decodes (secure: X25519 pairwise seeds, ChaCha20
masks, 128-bit fixed point). Stations run one after another here; at real holders
they run at the same time, so the "parallel" figure counts the slowest station
plus the coordinator. Target (issue 8): secure <= 1.2x plain end to end at 10
stations x 1e6 values.

Run: ``.venv/bin/python benchmarks/secagg.py`` (``--quick`` for 1e3 and 1e5 only).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

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
from perron.algorithms.core.secure_rounds import SecureAggregation
from perron.client.grid import InMemoryGrid
from perron.data.frame import FrameSource
from perron.data.source import DataSource
from perron.protocol.messages import Partial, Task
from perron.station.node import Station

VECTORS: dict[str, np.ndarray] = {}


class VectorSum(FederatedAlgorithm[None, FederatedResult]):
    """Benchmark only: each station releases its vector; the coordinator adds them."""

    name = "vector_sum"
    contract = DisclosureContract(releases={"values": "n numbers"}, rules=())
    total: np.ndarray | None = None

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        return StationOutput({"values": VECTORS[context.station].tolist()}, [])

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str]:
        return frozenset({"values"})

    def start(self) -> Next[None]:
        return Next({}, None)

    def coordinator_step(self, partials: Mapping[str, Payload], state: None) -> Done[Any]:
        self.total = np.sum([np.asarray(p["values"]) for p in partials.values()], axis=0)
        return Done(FederatedResult())


class WireGrid:
    """Every partial goes through JSON, as over HTTP; times each station."""

    def __init__(self, stations: Mapping[str, Station]) -> None:
        self.inner = InMemoryGrid({n: s.handle for n, s in stations.items()})
        self.station_seconds: dict[str, float] = {}

    @property
    def stations(self) -> list[str]:
        return list(self.inner.stations)

    def run_round(self, task: Task) -> dict[str, Partial]:
        out = {}
        for name in self.stations:
            start = time.perf_counter()
            partial = self.inner.without([s for s in self.stations if s != name]).run_round(task)
            wire = json.dumps(partial[name].to_wire())
            self.station_seconds[name] = self.station_seconds.get(name, 0.0) + (
                time.perf_counter() - start
            )
            back = json.loads(wire)
            out[name] = Partial(name, back["payload"], (), back.get("error"))
        return out


def one_run(k: int, n: int, secure: bool) -> tuple[float, float, np.ndarray]:
    rng = np.random.default_rng(k * 7 + n)
    names = [f"s{i:02d}" for i in range(k)]
    for name in names:
        VECTORS[name] = rng.normal(size=n) * 100
    empty = FrameSource(__import__("pandas").DataFrame({"x": [0.0]}))
    stations = {name: Station(name, empty, installed={"vector_sum": VectorSum}) for name in names}
    grid = WireGrid(stations)
    algorithm = VectorSum()
    start = time.perf_counter()
    algorithm.run(grid, secure=SecureAggregation() if secure else None)
    total = time.perf_counter() - start
    assert algorithm.total is not None
    serial_stations = sum(grid.station_seconds.values())
    parallel = total - serial_stations + max(grid.station_seconds.values())
    return total, parallel, algorithm.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e3 and 1e5 values only")
    args = parser.parse_args()
    sizes = (1_000, 100_000) if args.quick else (1_000, 1_000_000)
    print(
        f"{'stations':>8} {'values':>9} {'plain s':>9} {'secure s':>9} {'ratio':>6} "
        f"{'plain par':>9} {'secure par':>10} {'ratio':>6} {'max rel err':>11}"
    )
    for n in sizes:
        for k in (3, 10, 30):
            if n >= 1_000_000 and k == 30:
                continue  # 30 x 1e6 JSON vectors do not fit a shared 2-core machine's time
            plain, plain_par, plain_sum = one_run(k, n, secure=False)
            secure, secure_par, secure_sum = one_run(k, n, secure=True)
            error = float(np.max(np.abs(secure_sum - plain_sum)) / np.max(np.abs(plain_sum)))
            print(
                f"{k:>8} {n:>9,} {plain:>9.3f} {secure:>9.3f} {secure / plain:>6.2f} "
                f"{plain_par:>9.3f} {secure_par:>10.3f} {secure_par / plain_par:>6.2f} "
                f"{error:>11.1e}"
            )


if __name__ == "__main__":
    main()
