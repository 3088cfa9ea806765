"""The station's links to the hub: addresses, and what a lost or refused stream raises."""

from __future__ import annotations

import socket
import threading

import pytest

from perron.protocol.errors import TransportError
from perron.sandbox.localnet import free_port
from perron.station.link import StreamLink, stream_url


@pytest.mark.parametrize(
    ("hub", "expected"),
    [
        ("http://127.0.0.1:8700", "ws://127.0.0.1:8700/api/station/stream"),
        ("http://127.0.0.1:8700/", "ws://127.0.0.1:8700/api/station/stream"),
        ("https://hub.example.org/perron", "wss://hub.example.org/perron/api/station/stream"),
    ],
)
def test_the_stream_address_follows_the_hubs(hub, expected):
    assert stream_url(hub) == expected


def test_a_hub_that_is_not_listening_raises_a_transport_error():
    link = StreamLink(f"http://127.0.0.1:{free_port()}", "ps_token")

    with pytest.raises(TransportError, match=r"cannot open ws://127\.0\.0\.1"):
        link.next_run(0.0)


def test_a_server_that_refuses_the_upgrade_names_the_status_and_the_http_fallback():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def refuse() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=refuse)
        thread.start()
        link = StreamLink(f"http://127.0.0.1:{port}", "ps_token")
        with pytest.raises(TransportError, match=r'HTTP 404.*transport = "http"'):
            link.next_run(0.0)
        thread.join()
