# flwr is installed in .venv-flower only (make bench-fedavg), not where mypy runs.
# mypy: disable-error-code="import-not-found,untyped-decorator"
"""The ClientApp: one station's local gradient step(s) on its own rows."""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedavg_flower.task import local_step, station_data

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Load this SuperNode's partition, step from the global weights, reply."""
    cfg = context.run_config
    x, y = station_data(
        int(context.node_config["partition-id"]),
        int(cfg["rows"]),
        int(cfg["features"]),
        int(cfg["seed"]),
    )
    (weights,) = msg.content.array_records["arrays"].to_numpy_ndarrays()
    updated = local_step(
        np.asarray(weights, dtype=np.float64),
        x,
        y,
        int(cfg["local-epochs"]),
        float(cfg["learning-rate"]),
    )
    content = RecordDict(
        {
            "arrays": ArrayRecord([updated]),
            "metrics": MetricRecord({"num-examples": len(y)}),
        }
    )
    return Message(content=content, reply_to=msg)
