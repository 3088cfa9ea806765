"""Dependencies of the routes, as ``Annotated`` aliases.

``HubDep`` (the running hub's state), ``SessionDep`` (a database session per
request), ``CurrentPrincipal`` (any valid token), ``CurrentUser`` and
``CurrentStation`` (a token of that kind, else 403).

The hot routes of a round (sending a task, following it, a station's long-poll and
answer) are ``async`` and take only ``HubDep`` and ``TokenDep``: they authenticate
and do their database work in one worker-thread call (:meth:`Hub.run`), on a Core
connection with statements built once. Each synchronous dependency costs a
thread-pool round trip of its own, and with five of them per request the hub spent
most of a round dispatching. A unit of work (:meth:`Hub.unit`) may also be run for a
waiting long-poll by the request that made the change it waits for
(:meth:`perron.hub.notify.Notifier.serve`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import anyio.to_thread
from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from perron.hub.db.models import Station, User
from perron.hub.errors import database_unavailable
from perron.hub.notify import Channels, station_key
from perron.hub.services.auth import Caller, Principal, authenticate, identify, well_formed
from perron.hub.services.stations import Sightings
from perron.hub.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Hub:
    """Everything a request needs besides its own session; one per app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    notifier: Channels
    hasher: PasswordHasher
    #: Verified for unknown usernames, so failed logins take the same time.
    dummy_hash: str
    #: When this process last wrote each station's last-seen time (a throttle).
    sightings: Sightings = field(default_factory=Sightings)
    _station_channels: dict[str, str] = field(default_factory=dict)

    def wait_seconds(self, requested: float) -> float:
        """A long-poll's wait, capped at ``max_wait_seconds``."""
        return min(requested, self.settings.max_wait_seconds)

    def unit(
        self, token: str | None, work: Callable[[Connection, Caller], T]
    ) -> Callable[[Connection], T]:
        """``work`` as a unit of work that first authenticates ``token`` on its connection.

        ``work`` gets a Core connection (no ORM session: the hot paths need none) and
        commits what it wants kept as it goes. When it returns, :meth:`execute` commits
        what is left open (its reads); when it raises, that is rolled back.
        A unit may also be run by another request's unit of work, on that one's
        connection (:meth:`perron.hub.notify.Notifier.serve`).

        Raises
        ------
        AuthenticationFailed
            The token is missing or not valid (``work`` does not run).
        """
        return lambda connection: work(connection, identify(connection, token))

    async def execute(self, unit: Callable[[Connection], T]) -> T:
        """Run ``unit`` on a connection of its own, in one worker thread."""

        def call() -> T:
            try:
                with self.engine.connect() as connection:
                    result = unit(connection)
                    # End what the unit read with a commit, not the pool's rollback:
                    # psycopg forgets a connection's prepared statements on every
                    # rollback, and re-planning each statement cost ~7 ms a round.
                    if connection.in_transaction():
                        connection.commit()
                    return result
            except DBAPIError as error:
                unavailable = database_unavailable(error)
                if unavailable is None:
                    raise
                raise unavailable from error

        return await anyio.to_thread.run_sync(call)

    async def run(self, token: str | None, work: Callable[[Connection, Caller], T]) -> T:
        """Authenticate ``token`` and run ``work``, in one worker thread (see :meth:`unit`)."""
        return await self.execute(self.unit(token, work))

    async def station_channel(self, token: str) -> str:
        """The notification channel of the station ``token`` belongs to.

        Remembered per token: a station's name never changes, so only a station's
        first long-poll pays a database query to learn it. This only chooses what to
        wait on; every claim authenticates the token again.
        """
        channel = self._station_channels.get(token)
        if channel is None:
            station = await self.run(token, lambda _session, caller: caller.require_station())
            channel = self._station_channels[token] = station_key(station.name)
        return channel


async def get_hub(request: Request) -> Hub:
    """The hub state stored on the app by :func:`perron.hub.app.create_app`."""
    hub = request.app.state.hub
    assert isinstance(hub, Hub)
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def get_session(hub: HubDep) -> Iterator[Session]:
    """A session for one request; closed (and rolled back if unfinished) afterwards."""
    with hub.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="A user (`pu_...`) or station (`ps_...`) token.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_token(credentials: BearerDep) -> str:
    """The bearer token, if well formed (401 if not); :meth:`Hub.run` checks it is valid."""
    return well_formed(None if credentials is None else credentials.credentials)


TokenDep = Annotated[str, Depends(get_token)]


def get_principal(session: SessionDep, credentials: BearerDep) -> Principal:
    """The caller, from the bearer token (401 if none or not valid)."""
    return authenticate(session, None if credentials is None else credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_current_user(principal: CurrentPrincipal) -> User:
    """The calling user (403 for a station token)."""
    return principal.require_user()


def get_current_station(principal: CurrentPrincipal) -> Station:
    """The calling station (403 for a user token)."""
    return principal.require_station()


CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentStation = Annotated[Station, Depends(get_current_station)]
