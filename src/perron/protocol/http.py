"""Reading the hub's HTTP answers: a failed request becomes the domain error it names."""

from __future__ import annotations

import socket
from typing import Any

import httpx

from perron.protocol.errors import TransportError, error_from_wire


def transport() -> httpx.HTTPTransport:
    """An HTTP transport with Nagle's algorithm off.

    httpx writes a request's headers and body separately; with Nagle on, the body
    waits for the server's delayed ACK of the headers (up to 40 ms per POST on
    Linux), which would dominate a round on a local network.
    """
    return httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])


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
