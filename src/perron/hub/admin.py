"""Administration: organisations, users, stations and studies.

The ``perron hub admin ...`` commands call these functions; tests call them too::

    with admin_session("sqlite:///perron-hub.db") as session:
        create_org(session, "umc")
        create_user(session, "ada", organisation="umc", role="researcher", password="...")
        token = create_station(session, "umc-1", organisation="umc")  # shown once
        create_study(session, "lung", organisations=["umc"])
        add_user_to_study(session, "lung", "ada")
        grant_roles(session, "ada", ["data_manager", "privacy_officer"])

Each function commits; each raises ``NotFound`` for a missing name, ``Conflict``
for a duplicate and ``InputError`` for an invalid name, role or password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.governance.roles import Role, parse_roles
from perron.hub.db.models import (
    NAME_PATTERN,
    ROLES,
    Organisation,
    Station,
    Study,
    StudyOrganisation,
    StudyUser,
    Token,
    User,
)
from perron.hub.db.session import create_hub_engine, session_factory
from perron.hub.errors import Conflict, NotFound
from perron.hub.services.auth import issue_station_token, make_hasher
from perron.hub.services.roles import set_roles
from perron.hub.services.studies import get_study
from perron.hub.settings import Settings
from perron.protocol.errors import InputError

MIN_PASSWORD_LENGTH = 8


@contextmanager
def admin_session(database_url: str) -> Iterator[Session]:
    """A session on the hub's database (which must be migrated), for admin functions.

    Examples
    --------
    >>> from perron.hub.migrate import upgrade
    >>> upgrade("sqlite:///hub.db")  # doctest: +SKIP
    >>> with admin_session("sqlite:///hub.db") as session:  # doctest: +SKIP
    ...     create_org(session, "umc")
    """
    engine = create_hub_engine(database_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _check_name(kind: str, name: str) -> None:
    if re.fullmatch(NAME_PATTERN, name) is None:
        raise InputError(
            f"{kind} name {name!r} is not valid: use 1 to 100 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit."
        )


def _flush(session: Session, what: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"{what} exists already.") from exc


def _organisation(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise NotFound(f"no organisation {name!r}; create it with `perron hub admin create-org`.")
    return org


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}; create it with `perron hub admin create-user`.")
    return user


def create_org(session: Session, name: str) -> None:
    """Create an organisation.

    Parameters
    ----------
    session
        From :func:`admin_session`.
    name
        The organisation's name (letters, digits, ``.``, ``_``, ``-``).
    """
    _check_name("organisation", name)
    session.add(Organisation(name=name))
    _flush(session, f"organisation {name!r}")
    session.commit()


def create_user(
    session: Session,
    username: str,
    *,
    organisation: str,
    password: str,
    role: str = "researcher",
    hasher: PasswordHasher | None = None,
) -> None:
    """Create a user of ``organisation`` with an Argon2id password hash.

    Parameters
    ----------
    role
        ``"researcher"`` (may send tasks in their studies) or ``"admin"``.
    hasher
        The hasher to use (default: the parameters of :class:`Settings`); tests pass a
        cheap one.
    """
    _check_name("user", username)
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {list(ROLES)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters.")
    org = _organisation(session, organisation)
    password_hash = (hasher or make_hasher(Settings())).hash(password)
    session.add(
        User(username=username, organisation_id=org.id, role=role, password_hash=password_hash)
    )
    _flush(session, f"user {username!r}")
    session.commit()


def create_station(session: Session, name: str, *, organisation: str) -> str:
    """Create a station of ``organisation`` and return its token (shown only once).

    The station registers its public keys itself (``PUT /api/station/keys``).
    """
    _check_name("station", name)
    org = _organisation(session, organisation)
    station = Station(name=name, organisation_id=org.id)
    session.add(station)
    _flush(session, f"station {name!r}")
    token = issue_station_token(session, station)
    session.commit()
    return token


def rotate_station_token(session: Session, name: str) -> str:
    """Revoke every token of station ``name`` and return a new one (shown only once)."""
    station = session.scalar(select(Station).where(Station.name == name))
    if station is None:
        raise NotFound(f"no station {name!r}.")
    for token in session.scalars(select(Token).where(Token.station_id == station.id)):
        token.revoked = True
    token_text = issue_station_token(session, station)
    session.commit()
    return token_text


def create_study(session: Session, name: str, *, organisations: Sequence[str]) -> None:
    """Create a study of ``organisations`` (their stations may be addressed in it)."""
    _check_name("study", name)
    if not organisations:
        raise InputError("a study needs at least one organisation (--org).")
    orgs = [_organisation(session, org) for org in dict.fromkeys(organisations)]
    study = Study(name=name)
    session.add(study)
    _flush(session, f"study {name!r}")
    session.add_all(StudyOrganisation(study_id=study.id, organisation_id=org.id) for org in orgs)
    session.commit()


def add_user_to_study(session: Session, study: str, username: str) -> None:
    """Make user ``username`` a member of ``study``; idempotent."""
    found = get_study(session, study)
    user = _user(session, username)
    if session.get(StudyUser, (found.id, user.id)) is None:
        session.add(StudyUser(study_id=found.id, user_id=user.id))
        session.commit()


def grant_roles(session: Session, username: str, roles: Iterable[str | Role]) -> frozenset[Role]:
    """Replace the roles ``username`` holds in their organisation; the roles held now.

    Parameters
    ----------
    roles
        Names of :class:`perron.governance.roles.Role` (``data_manager``,
        ``privacy_officer``, ...); none clears the granted roles. A user whose hub
        role is ``researcher`` holds the researcher role regardless.
    """
    parsed = parse_roles(list(roles))
    return set_roles(session, _user(session, username), parsed)
