"""Who is calling: passwords (Argon2id), bearer tokens and public keys.

Tokens are 256-bit random strings from :mod:`secrets`, prefixed ``pu_`` (user) or
``ps_`` (station). The hub stores only their SHA-256, looks a token up by that hash
and compares it again in constant time, so neither a database dump nor a timing side
channel gives a usable token. Unknown usernames cost one Argon2 verification as well,
so a login's timing does not tell which usernames exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Connection, Select, bindparam, delete, literal, select
from sqlalchemy.orm import Session

from perron.crypto.keys import PublicKeys, unb64
from perron.hub.db.models import Organisation, Station, Token, User, utcnow
from perron.hub.db.tables import STATIONS, TOKENS, USERS
from perron.hub.errors import NotFound
from perron.hub.settings import Settings
from perron.protocol.errors import AuthenticationFailed, InputError, NotAuthorized

USER_PREFIX = "pu_"
STATION_PREFIX = "ps_"
_MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user or a station, and the token it used."""

    token_id: int
    user: User | None = None
    station: Station | None = None

    @property
    def subject(self) -> User | Station:
        """The user or the station."""
        subject = self.user or self.station
        assert subject is not None
        return subject

    def require_user(self) -> User:
        """The user, or ``NotAuthorized`` for a station token."""
        if self.user is None:
            raise NotAuthorized("this endpoint is for users; a station token was sent.")
        return self.user

    def require_station(self) -> Station:
        """The station, or ``NotAuthorized`` for a user token."""
        if self.station is None:
            raise NotAuthorized("this endpoint is for stations; a user token was sent.")
        return self.station


@dataclass(frozen=True)
class Caller:
    """The authenticated caller as plain values (no ORM object), for the hot paths.

    ``name`` is the username or the station's name; ``role`` is ``None`` for a
    station.
    """

    token_id: int
    is_station: bool
    id: int
    name: str
    organisation_id: int
    role: str | None
    verify_key: str | None
    box_key: str | None

    def require_user(self) -> Caller:
        """This caller, or ``NotAuthorized`` for a station token."""
        if self.is_station:
            raise NotAuthorized("this endpoint is for users; a station token was sent.")
        return self

    def require_station(self) -> Caller:
        """This caller, or ``NotAuthorized`` for a user token."""
        if not self.is_station:
            raise NotAuthorized("this endpoint is for stations; a user token was sent.")
        return self


@dataclass(frozen=True)
class IssuedToken:
    """A new user token (shown once) and when it expires."""

    token: str
    expires_at: datetime


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored.

    Examples
    --------
    >>> len(hash_token("pu_example"))
    64
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(prefix: str) -> str:
    """A fresh random token with ``prefix`` (``pu_`` or ``ps_``).

    Examples
    --------
    >>> new_token("ps_").startswith("ps_")
    True
    """
    return prefix + secrets.token_urlsafe(32)


def make_hasher(settings: Settings) -> PasswordHasher:
    """The Argon2id hasher with the settings' parameters."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def issue_user_token(session: Session, user: User, hours: float) -> IssuedToken:
    """Store and return a new token for ``user``, valid for ``hours``."""
    token = new_token(USER_PREFIX)
    now = utcnow()
    expires_at = now + timedelta(hours=hours)
    # Forget user tokens that expired a day ago or more (the table would only grow).
    session.execute(delete(Token).where(Token.expires_at < now - timedelta(days=1)))
    session.add(Token(token_hash=hash_token(token), user_id=user.id, expires_at=expires_at))
    session.commit()
    return IssuedToken(token=token, expires_at=expires_at)


def issue_station_token(session: Session, station: Station) -> str:
    """Store a new non-expiring token for ``station`` (not committed) and return it."""
    token = new_token(STATION_PREFIX)
    session.add(Token(token_hash=hash_token(token), station_id=station.id))
    return token


def login(
    session: Session,
    username: str,
    password: str,
    *,
    hasher: PasswordHasher,
    token_hours: float,
    dummy_hash: str,
) -> IssuedToken:
    """Check a username and password and issue a user token.

    Parameters
    ----------
    dummy_hash
        An Argon2 hash of a random string, verified when the user does not exist so
        that a failed login takes the same time either way.

    Raises
    ------
    AuthenticationFailed
        The username or the password is wrong.
    """
    user = session.scalar(select(User).where(User.username == username))
    if not _password_matches(hasher, user.password_hash if user else dummy_hash, password):
        raise AuthenticationFailed(
            "wrong username or password; check both, or ask the hub admin to reset it."
        )
    assert user is not None  # the dummy hash never matches: its password is random
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return issue_user_token(session, user, token_hours)


def _password_matches(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def well_formed(token: str | None) -> str:
    """The token, if it looks like a Perron token (checked before any database query).

    Raises
    ------
    AuthenticationFailed
        No token, or not one of ours.

    Examples
    --------
    >>> well_formed("pu_abc")
    'pu_abc'
    """
    if not token:
        raise AuthenticationFailed(
            "no bearer token: send `Authorization: Bearer <token>`; users get one from "
            "POST /api/auth/token, stations from the hub admin."
        )
    if len(token) > _MAX_TOKEN_LENGTH or not token.startswith((USER_PREFIX, STATION_PREFIX)):
        raise AuthenticationFailed("the bearer token is not a Perron token; log in again.")
    return token


def authenticate(session: Session, token: str | None) -> Principal:
    """The principal a bearer token belongs to, with its user or station loaded.

    Raises
    ------
    AuthenticationFailed
        No token, or an unknown, expired or revoked one.
    """
    caller = identify(session.connection(), token)
    if caller.is_station:
        return Principal(token_id=caller.token_id, station=session.get_one(Station, caller.id))
    return Principal(token_id=caller.token_id, user=session.get_one(User, caller.id))


def _by_token(*who: ColumnElement[Any]) -> Select[Any]:
    return select(
        *who,
        TOKENS.c.id.label("token_id"),
        TOKENS.c.token_hash,
        TOKENS.c.revoked,
        TOKENS.c.expires_at,
    ).where(TOKENS.c.token_hash == bindparam("digest"))


# Built once: constructing a statement costs more than running it on SQLite.
_STATION_BY_TOKEN = _by_token(
    STATIONS.c.id,
    STATIONS.c.name,
    STATIONS.c.organisation_id,
    literal(None).label("role"),
    STATIONS.c.verify_key,
    STATIONS.c.box_key,
).join_from(TOKENS, STATIONS, TOKENS.c.station_id == STATIONS.c.id)
_USER_BY_TOKEN = _by_token(
    USERS.c.id,
    USERS.c.username,
    USERS.c.organisation_id,
    USERS.c.role,
    USERS.c.verify_key,
    USERS.c.box_key,
).join_from(TOKENS, USERS, TOKENS.c.user_id == USERS.c.id)


def identify(connection: Connection, token: str | None) -> Caller:
    """The caller a bearer token belongs to: one Core query, no ORM objects.

    The token's prefix says whether a user or a station is calling; the token row
    must name a principal of that kind. Nothing is cached: a token revoked a moment
    ago (by the API or by ``perron hub admin`` in another process) fails at once.

    Raises
    ------
    AuthenticationFailed
        No token, or an unknown, expired or revoked one.
    """
    token = well_formed(token)
    digest = hash_token(token)
    is_station = token.startswith(STATION_PREFIX)
    who = _STATION_BY_TOKEN if is_station else _USER_BY_TOKEN
    row = connection.execute(who, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise AuthenticationFailed(
            "the bearer token is not valid on this hub; log in again (users) or ask the "
            "hub admin for a new station token (stations)."
        )
    if row.revoked:
        raise AuthenticationFailed("the bearer token was revoked; log in again.")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise AuthenticationFailed(
            f"the bearer token expired at {row.expires_at.isoformat()}; log in again."
        )
    return Caller(
        token_id=row.token_id,
        is_station=is_station,
        id=row[0],
        name=row[1],
        organisation_id=row.organisation_id,
        role=row.role,
        verify_key=row.verify_key,
        box_key=row.box_key,
    )


def revoke(session: Session, principal: Principal) -> None:
    """Revoke the token the principal authenticated with."""
    token = session.get(Token, principal.token_id)
    if token is not None:
        token.revoked = True
        session.commit()


def check_public_keys(verify_key: str, box_key: str) -> PublicKeys:
    """Check that both keys are base64 of 32 bytes (Ed25519 and X25519 public keys).

    Raises
    ------
    InputError
        A key is not base64 or has the wrong length.

    Examples
    --------
    >>> from perron.crypto.keys import KeyPair
    >>> keys = KeyPair.generate().public()
    >>> check_public_keys(keys.verify_key, keys.box_key) == keys
    True
    """
    for name, key in (("verify_key", verify_key), ("box_key", box_key)):
        try:
            raw = unb64(key)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise InputError(
                f"{name} must be the base64 of a 32-byte public key "
                "(perron.crypto.keys.KeyPair.public() makes one)."
            )
    return PublicKeys(verify_key=verify_key, box_key=box_key)


def set_keys(session: Session, principal: Principal, keys: PublicKeys) -> None:
    """Register (or replace) the caller's public keys."""
    owner = principal.subject
    owner.verify_key = keys.verify_key
    owner.box_key = keys.box_key
    session.commit()


def require_organisation(session: Session, user: User, name: str) -> Organisation:
    """Organisation ``name``, if ``user`` is one of its users or a hub admin.

    Whether an organisation exists is told to hub admins only: anyone else gets
    ``NotAuthorized`` for every organisation but their own.

    Raises
    ------
    NotAuthorized
        ``user`` is neither of the organisation nor a hub admin.
    NotFound
        No such organisation (for a hub admin).
    """
    own = user.organisation
    if own.name == name:
        return own
    if user.role != "admin":
        raise NotAuthorized(
            f"what organisation {name!r} runs is shown to its own users and to hub admins; "
            f"{user.username!r} is of {own.name!r}."
        )
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise NotFound(f"no organisation {name!r} on this hub; GET /api/admin/organisations.")
    return org
