# flwr is installed in .venv-flower only (make bench-fedavg), not where mypy runs.
# mypy: disable-error-code="import-not-found,untyped-decorator"
"""The ServerApp: FedAvg over every SuperNode, timing each round.

The strategy's ``evaluate_fn`` runs once before the first round and once after each
round, on the server, so the gaps between its calls are the wall time of the rounds
(send the weights, every ClientApp runs, replies pulled and averaged). The times and
the final weights go, as JSON, to the run config's ``result-file``, written only at the
end so a reader sees either nothing or everything.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from flwr.app import ArrayRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    stations = int(cfg["num-stations"])
    features = int(cfg["features"])
    stamps: list[float] = []

    def stamp(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        stamps.append(time.perf_counter())
        return None

    strategy = FedAvg(
        fraction_train=1.0,
        fraction_evaluate=0.0,
        min_train_nodes=stations,
        min_available_nodes=stations,
    )
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord([np.zeros(features + 1)]),
        num_rounds=int(cfg["num-server-rounds"]),
        evaluate_fn=stamp,
    )
    (weights,) = result.arrays.to_numpy_ndarrays()
    out = str(cfg["result-file"])
    with open(out + ".tmp", "w") as handle:
        json.dump(
            {
                "round_seconds": [float(v) for v in np.diff(stamps)],
                "total_seconds": stamps[-1] - stamps[0],
                "weights": [float(v) for v in weights],
            },
            handle,
        )
    os.replace(out + ".tmp", out)
