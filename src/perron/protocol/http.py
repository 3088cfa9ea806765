"""Reading the hub's HTTP answers: a failed request becomes the domain error it names."""

from __future__ import annotations

from typing import Any

import httpx

from perron.protocol.errors import TransportError, error_from_wire


def check(response: httpx.Response) -> None:
    """Raise the :class:`PerronError` the hub reported, or a TransportError."""
    if response.is_success:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "kind" in body:
        raise error_from_wire({"kind": body["kind"], "message": str(body.get("detail", ""))})
    raise TransportError(
        f"the hub answered {response.status_code} to {response.request.method} "
        f"{response.request.url.path}: {response.text[:200]}"
    )
