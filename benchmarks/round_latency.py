"""Round latency through a real hub vs the in-process simulation.

One round = submit a signed task -> every station verifies, runs, signs and seals
-> all partials back at the researcher and decrypted. Measured with 3 and 10
station processes on 127.0.0.1 (SQLite hub), the task a one-column summary. Also
a federated logistic regression end to end (prepare + IRLS rounds) on the network
and in simulation. Target (issue 5): median round <= 20 ms with 3 stations.

Run: ``.venv/bin/python benchmarks/round_latency.py`` (or ``make bench``); add
``--transport websocket http`` to compare the stations' two transports in one run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from perron.protocol.grid import Grid
from perron.protocol.messages import Task
from perron.sandbox.localnet import LocalNetwork
from perron.sandbox.simulation import simulate


def frames(k: int, rows: int = 2000) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    out = {}
    for i in range(k):
        x = rng.normal(size=(rows, 3))
        y = rng.binomial(1, 1 / (1 + np.exp(-(x @ np.array([0.5, -0.4, 0.3])))))
        out[f"s{i}"] = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "y": y})
    return out


def round_times(grid: Grid, rounds: int) -> list[float]:
    task = Task("summary", {"columns": ["x1"]})
    for _ in range(5):  # warm-up
        grid.run_round(task)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        grid.run_round(task)
        times.append(time.perf_counter() - start)
    return times


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument(
        "--transport",
        nargs="+",
        default=["websocket"],
        choices=["websocket", "http"],
        help="how the stations take their runs (station.toml's transport); several: "
        "one row each, measured in the same run",
    )
    args = parser.parse_args()
    print(
        f"{'stations':>8} {'transport':>9} {'net median ms':>14} {'net p95 ms':>11} "
        f"{'sim median ms':>14} {'GLM net s':>10} {'GLM sim s':>10} {'GLM rounds':>10}"
    )
    for k in args.stations:
        data = frames(k)
        simulated = simulate(data)
        sim = round_times(simulated.grid, args.rounds)
        start = time.perf_counter()
        reference = simulated.glm("y ~ x1 + x2 + x3", family="binomial")
        glm_sim = time.perf_counter() - start
        for transport in args.transport:
            with LocalNetwork(data, transport=transport) as network:
                session = network.connect()
                net = round_times(session.grid, args.rounds)
                start = time.perf_counter()
                fit = session.glm("y ~ x1 + x2 + x3", family="binomial")
                glm_net = time.perf_counter() - start
            assert np.allclose(fit.params, reference.params, rtol=1e-12)
            print(
                f"{k:>8} {transport:>9} {1000 * statistics.median(net):>14.2f} "
                f"{1000 * p95(net):>11.2f} {1000 * statistics.median(sim):>14.3f} "
                f"{glm_net:>10.3f} {glm_sim:>10.3f} {fit.iterations + 2:>10}"
            )


if __name__ == "__main__":
    main()
