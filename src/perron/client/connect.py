"""``perron.connect``: a Session whose stations run at data holders behind a hub."""

from __future__ import annotations

from typing import Any

import httpx

from perron.client.http_grid import HttpGrid, StationInfo
from perron.client.session import Session
from perron.crypto.keys import KeyPair, PublicKeys
from perron.protocol.errors import InputError
from perron.protocol.http import check, transport


def connect(
    url: str,
    *,
    study: str,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    keys: KeyPair | None = None,
    timeout: float = 120.0,
    progress: bool = True,
) -> Session:
    """Open a study at a hub; the Session has the same methods as ``simulate``'s.

    Parameters
    ----------
    url
        The hub, e.g. ``"http://127.0.0.1:8700"``.
    study
        The study's name; you must be a researcher in it.
    token, username, password
        An API token, or a username and password to get one.
    keys
        Your key pair; by default a fresh one for this session (its public half is
        registered at the hub, the private half never leaves this process).
    timeout
        Seconds a round may take before it is cancelled with ``RoundTimeout``.
    progress
        Show a progress line per round (stations answered, stations waited for).

    Examples
    --------
    >>> session = perron.connect("http://127.0.0.1:8700", study="lung",
    ...                          username="ana", password="...")  # doctest: +SKIP
    >>> session.glm("status ~ age + sex", family="binomial")       # doctest: +SKIP
    """
    client = hub_client(url)
    try:
        return _open(client, study, token, username, password, keys, timeout, progress)
    except BaseException:
        client.close()
        raise


def hub_client(url: str) -> httpx.Client:
    """An HTTP client for the hub at ``url`` (Nagle off; long-polls fit the timeout)."""
    return httpx.Client(
        base_url=url.rstrip("/"), timeout=httpx.Timeout(40.0, connect=5.0), transport=transport()
    )


def log_in(client: httpx.Client, username: str, password: str) -> str:
    """A new user token for ``username`` (``AuthenticationFailed`` if the password is wrong)."""
    response = client.post("/api/auth/token", json={"username": username, "password": password})
    check(response)
    return str(response.json()["token"])


def _open(
    client: httpx.Client,
    study: str,
    token: str | None,
    username: str | None,
    password: str | None,
    keys: KeyPair | None,
    timeout: float,
    progress: bool,
) -> Session:
    if token is None:
        if username is None or password is None:
            raise InputError("connect needs token=... or username=... and password=....")
        token = log_in(client, username, password)
    client.headers["Authorization"] = f"Bearer {token}"
    me = client.get("/api/me")
    check(me)
    keys = keys or KeyPair.generate()
    check(client.put("/api/me/keys", json=keys.public().to_dict()))
    listing = client.get(f"/api/studies/{study}/stations")
    check(listing)
    stations = [_station(entry) for entry in listing.json()]
    if not stations:
        raise InputError(f"study {study!r} has no registered stations yet.")
    grid = HttpGrid(
        client,
        study,
        str(me.json()["username"]),
        keys,
        stations,
        timeout=timeout,
        progress=progress,
    )
    return Session(grid)


def _station(entry: dict[str, Any]) -> StationInfo:
    if not entry.get("verify_key") or not entry.get("box_key"):
        raise InputError(
            f"station {entry.get('name')!r} has not published its keys yet; start it first."
        )
    keys = PublicKeys(str(entry["verify_key"]), str(entry["box_key"]))
    return StationInfo(str(entry["name"]), str(entry.get("organisation", "")), keys)
