"""Dependencies of the routes, as ``Annotated`` aliases.

``HubDep`` (the running hub's state), ``SessionDep`` (a database session per
request), ``CurrentPrincipal`` (any valid token), ``CurrentUser`` and
``CurrentStation`` (a token of that kind, else 403).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from perron.hub.db.models import Station, User
from perron.hub.notify import Channels
from perron.hub.services.auth import Principal, authenticate
from perron.hub.settings import Settings


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

    def wait_seconds(self, requested: float) -> float:
        """A long-poll's wait, capped at ``max_wait_seconds``."""
        return min(requested, self.settings.max_wait_seconds)


def get_hub(request: Request) -> Hub:
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
