"""The hub's JSON API, as the pages call it: one :class:`HubAPI` per request.

The pages hold no rights of their own: each call carries the signed-in user's
bearer token (or none, for the public pages), and the hub's own routes decide
what it may see. An error answer becomes a :class:`HubError` with the hub's
status, kind and message, which the page shows as the hub wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp

#: The hub answers long computations itself; a page never waits longer than this.
TIMEOUT_SECONDS = 30.0


class HubError(Exception):
    """The hub refused or failed a call; ``status``, ``kind`` and ``detail`` as it sent them."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(f"{kind} ({status}): {detail}")
        self.status = status
        self.kind = kind
        self.detail = detail


def _error(response: httpx.Response) -> HubError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        detail = body.get("detail")
        if not isinstance(detail, str):  # a validation error lists its problems
            detail = "; ".join(
                str(item.get("msg", item)) if isinstance(item, Mapping) else str(item)
                for item in (detail if isinstance(detail, list) else [detail])
            )
        return HubError(response.status_code, str(body.get("kind", "HubError")), detail)
    return HubError(response.status_code, "HubError", response.text[:500] or response.reason_phrase)


@dataclass(frozen=True)
class HubAPI:
    """Calls to the hub's JSON API as one user (``token``) or as nobody."""

    client: httpx.AsyncClient
    token: str | None = None

    def _headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """The raw answer of a call that succeeded (2xx).

        Raises
        ------
        HubError
            The hub answered with an error (its status, kind and message).
        """
        response = await self.client.request(
            method, path, json=json, params=params, headers=self._headers()
        )
        if response.status_code >= 400:
            raise _error(response)
        return response

    async def get(self, path: str, **params: str | int) -> Any:
        """The JSON of ``GET path``."""
        return (await self.request("GET", path, params=params)).json()

    async def text(self, path: str, **params: str | int) -> str:
        """The text of ``GET path`` (drafts, RDF)."""
        return (await self.request("GET", path, params=params)).text

    async def post(self, path: str, body: Any = None) -> Any:
        """The JSON of ``POST path`` (``None`` for 204)."""
        response = await self.request("POST", path, json=body)
        return None if response.status_code == 204 or not response.content else response.json()


def in_process(api: ASGIApp) -> httpx.AsyncClient:
    """A client that calls the hub's ASGI application directly, with no socket."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api),
        base_url="http://hub.internal",
        timeout=TIMEOUT_SECONDS,
    )
