"""How a station addresses the hub: its token and its Perron version on every request.

The hub records the version a station runs (``X-Perron-Version``) with the time it
was last seen, for its holder's pages; the WebSocket handshake of the station stream
sends the same headers.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import httpx

from perron.protocol.http import transport
from perron.station.config import StationConfig

VERSION_HEADER = "X-Perron-Version"


def perron_version() -> str:
    """The installed Perron's version (``"unknown"`` when run from a bare source tree).

    Examples
    --------
    >>> perron_version() != ""
    True
    """
    try:
        return version("perron")
    except PackageNotFoundError:
        return "unknown"


def hub_headers(token: str) -> dict[str, str]:
    """The headers of every request a station sends the hub.

    Examples
    --------
    >>> sorted(hub_headers("ps_token"))
    ['Authorization', 'X-Perron-Version']
    """
    return {"Authorization": f"Bearer {token}", VERSION_HEADER: perron_version()}


def hub_client(config: StationConfig, *, timeout: float = 30.0) -> httpx.Client:
    """An HTTP client for the hub with the station's token and version (Nagle off).

    ``timeout`` bounds a read; the runner's long-polls need it longer than their wait.
    """
    return httpx.Client(
        base_url=config.hub_url,
        headers=hub_headers(config.token),
        timeout=httpx.Timeout(timeout, connect=5.0),
        transport=transport(),
    )
