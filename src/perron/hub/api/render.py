"""The JSON answers of a round, written directly from the services' values.

A route that returns a model makes FastAPI validate it against the response model
and serialise it again; for the answers of a round (a delivery to a station, a task's
state for its researcher) that cost about as much as their database work. These
answers are written here with :func:`json.dumps` instead. The routes still declare
their response models, so the OpenAPI document is unchanged (and schemathesis checks
these answers against it). A delivery's envelope is relayed as the canonical JSON
text it was stored as, not parsed and encoded again.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response

from perron.hub.services.runs import Delivery
from perron.hub.services.tasks import TaskView

_MEDIA_TYPE = "application/json"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def delivery(found: Delivery) -> Response:
    """A run for a station, as :class:`~perron.hub.api.schemas.DeliveryPublic`."""
    return Response(content=delivery_text(found).encode(), media_type=_MEDIA_TYPE)


def delivery_text(found: Delivery) -> str:
    """A run for a station as the JSON text of :class:`~perron.hub.api.schemas.DeliveryPublic`."""
    head = _dumps(
        {
            "run_id": found.run_id,
            "task_id": found.task_id,
            "study": {"name": found.study.name, "organisations": list(found.study.organisations)},
            "requester": {
                "username": found.requester.username,
                "verify_key": found.requester.verify_key,
                "box_key": found.requester.box_key,
            },
        }
    )
    # The stored envelope is the canonical JSON of a checked, signed task.
    return f'{head[:-1]},"envelope":{found.envelope}}}'


def task(view: TaskView, status_code: int = 200) -> Response:
    """A task's state, as :class:`~perron.hub.api.schemas.TaskPublic`."""
    body = _dumps(
        {
            "task_id": view.task_id,
            "status": view.status,
            "runs": [
                {"station": run.station, "status": run.status, "payload": run.payload}
                for run in view.runs
            ],
        }
    )
    return Response(content=body.encode(), status_code=status_code, media_type=_MEDIA_TYPE)
