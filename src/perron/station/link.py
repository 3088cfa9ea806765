"""How a station takes its runs from the hub and hands its answers back.

Two links, the same exchange (``transport`` in station.toml):

- :class:`StreamLink` (``"websocket"``, the default): one WebSocket to
  ``/api/station/stream`` for every run and answer. A round costs the hub a message
  on an open connection per station instead of an HTTP request.
- :class:`HttpLink` (``"http"``): long-polls, ``GET /api/station/next`` and ``POST
  /api/station/runs/{id}?next_wait=``; for networks whose proxies do not pass
  WebSockets.

Both make outbound connections only. An answer carries the wait for the next run,
so a busy station needs one exchange per run. A lost connection raises
:class:`~perron.protocol.errors.TransportError`; the runner then says hello to the
hub again and reconnects, and runs it had claimed are delivered again (at least
once; an identical redelivery is answered from the stored answer).
"""

from __future__ import annotations

import json
import socket
from typing import Any, Protocol

import httpx
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from perron.protocol.errors import TransportError, error_from_wire
from perron.protocol.http import check
from perron.station.hub_client import hub_headers

#: What the hub may add to a wait before an answer counts as lost.
_GRACE_SECONDS = 10.0
STREAM_PATH = "/api/station/stream"


class HubLink(Protocol):
    """A station's runs in, its answers out."""

    def next_run(self, wait: float) -> dict[str, Any] | None:
        """The next run (a delivery), waiting up to ``wait`` seconds; None if none came."""
        ...

    def answer(
        self, run_id: int, status: str, payload: str, next_wait: float
    ) -> dict[str, Any] | None:
        """Hand in the sealed answer to a run, then as :meth:`next_run`."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class HttpLink:
    """Long-polls over an HTTP client whose base URL is the hub and that sends the token."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def next_run(self, wait: float) -> dict[str, Any] | None:
        return self._delivery(self.client.get("/api/station/next", params={"wait": wait}))

    def answer(
        self, run_id: int, status: str, payload: str, next_wait: float
    ) -> dict[str, Any] | None:
        reply = self.client.post(
            f"/api/station/runs/{run_id}",
            json={"status": status, "payload": payload},
            params={"next_wait": next_wait},
        )
        return self._delivery(reply)

    def close(self) -> None:
        """The client belongs to the runner, which closes it."""

    @staticmethod
    def _delivery(response: httpx.Response) -> dict[str, Any] | None:
        check(response)
        if response.status_code == 204:
            return None
        run: dict[str, Any] = response.json()
        return run


def stream_url(hub_url: str) -> str:
    """The WebSocket address of a hub's station stream.

    Examples
    --------
    >>> stream_url("http://127.0.0.1:8700")
    'ws://127.0.0.1:8700/api/station/stream'
    >>> stream_url("https://hub.example.org/perron/")
    'wss://hub.example.org/perron/api/station/stream'
    """
    url = httpx.URL(hub_url.rstrip("/") + STREAM_PATH)
    return str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))


class StreamLink:
    """One WebSocket to the hub, opened at first use and again after it was lost.

    Parameters
    ----------
    hub_url
        The hub's address (``http://`` or ``https://``).
    token
        The station's token, sent in the handshake (with the station's version).
    """

    def __init__(self, hub_url: str, token: str, *, open_timeout: float = 5.0) -> None:
        self.url = stream_url(hub_url)
        self._token = token
        self._open_timeout = open_timeout
        self._connection: ClientConnection | None = None

    def next_run(self, wait: float) -> dict[str, Any] | None:
        return self._exchange({"wait": wait}, wait)

    def answer(
        self, run_id: int, status: str, payload: str, next_wait: float
    ) -> dict[str, Any] | None:
        message = {
            "wait": next_wait,
            "answer": {"run_id": run_id, "status": status, "payload": payload},
        }
        return self._exchange(message, next_wait)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _open(self) -> ClientConnection:
        if self._connection is None:
            try:
                connection = connect(
                    self.url,
                    additional_headers=hub_headers(self._token),
                    open_timeout=self._open_timeout,
                    # Sealed partials are ciphertext: nothing to gain from compressing.
                    compression=None,
                    # A delivery is a task the hub checked; its size is not limited.
                    max_size=None,
                    close_timeout=2.0,
                )
            except InvalidStatus as error:
                raise TransportError(
                    f"the hub refused the station stream {self.url} with HTTP "
                    f"{error.response.status_code}; is it a Perron hub of this version, or "
                    'does a proxy block WebSockets (then set transport = "http")?'
                ) from error
            except (OSError, WebSocketException, TimeoutError) as error:
                raise TransportError(f"cannot open {self.url}: {error}") from error
            # Each message goes out in one write, but do not let Nagle hold it back.
            connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connection = connection
        return self._connection

    def _exchange(self, message: dict[str, Any], wait: float) -> dict[str, Any] | None:
        connection = self._open()
        try:
            connection.send(json.dumps(message, separators=(",", ":")))
            text = connection.recv(timeout=wait + _GRACE_SECONDS)
        except (OSError, WebSocketException, TimeoutError) as error:
            self.close()
            raise TransportError(f"lost the station stream {self.url}: {error!r}") from error
        reply: dict[str, Any] = json.loads(text)
        if "error" in reply:
            problem = reply["error"]
            if problem.get("status") == 401:
                self.close()  # the hub closes it too
            raise error_from_wire({"kind": problem["kind"], "message": str(problem["detail"])})
        run: dict[str, Any] | None = reply["run"]
        return run
