"""Administration: organisations, users, stations and studies.

The ``perron hub admin ...`` commands call these functions; tests call them too::

    with admin_session("sqlite:///perron-hub.db") as session:
        create_org(session, "umc")
        create_user(session, "ada", organisation="umc", role="researcher", password="...")
        token = create_station(session, "umc-1", organisation="umc")  # shown once
        create_study(session, "lung", organisations=["umc"])
        add_user_to_study(session, "lung", "ada")
        grant_roles(session, "ada", ["data_manager", "privacy_officer"])

Each function that changes something commits; each raises ``NotFound`` for a missing
name, ``Conflict`` for a duplicate and ``InputError`` for an invalid name, role or
password. The ``list_...`` functions read what there is, for ``GET /api/admin/...``
(:mod:`perron.hub.api.routes.admin`, which calls these same functions).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

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
    UserRole,
)
from perron.hub.db.session import create_hub_engine, session_factory
from perron.hub.errors import Conflict, NotFound
from perron.hub.services.auth import issue_station_token, make_hasher
from perron.hub.services.roles import set_roles
from perron.hub.settings import Settings
from perron.protocol.errors import InputError

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class OrganisationSummary:
    """An organisation and how many users and stations it has."""

    name: str
    created_at: datetime
    users: int
    stations: int


@dataclass(frozen=True)
class UserSummary:
    """A user: hub role, the roles held in their organisation, and whether keys are set."""

    username: str
    organisation: str
    role: str
    roles: tuple[str, ...]
    has_keys: bool


@dataclass(frozen=True)
class StationSummary:
    """A station and whether it has registered its public keys."""

    name: str
    organisation: str
    created_at: datetime
    has_keys: bool


@dataclass(frozen=True)
class StudySummary:
    """A study, its organisations and its user members (each by name)."""

    name: str
    organisations: tuple[str, ...]
    users: tuple[str, ...]


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
        raise Conflict(f"{what} exists already; choose another name.") from exc


def _organisation(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise NotFound(
            f"no organisation {name!r} on this hub; create it first "
            "(`perron hub admin create-org` or POST /api/admin/organisations)."
        )
    return org


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(
            f"no user {username!r} on this hub; create it first "
            "(`perron hub admin create-user` or POST /api/admin/users)."
        )
    return user


def _station(session: Session, name: str) -> Station:
    station = session.scalar(select(Station).where(Station.name == name))
    if station is None:
        raise NotFound(
            f"no station {name!r} on this hub; GET /api/admin/stations lists them "
            "(`perron hub admin create-station` creates one)."
        )
    return station


def _study(session: Session, name: str) -> Study:
    study = session.scalar(select(Study).where(Study.name == name))
    if study is None:
        raise NotFound(
            f"no study {name!r} on this hub; create it first "
            "(`perron hub admin create-study` or POST /api/admin/studies)."
        )
    return study


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
    """Revoke every token of station ``name`` and return a new one (shown only once).

    The station's registered public keys are cleared as well: whoever held the old
    token may also hold the old keys. Researchers cannot seal for, or verify, the
    station until it registers new keys, which it does when it starts with the new
    token (``PUT /api/station/keys``).
    """
    station = _station(session, name)
    session.execute(
        update(Token)
        .where(Token.station_id == station.id, Token.revoked.is_(False))
        .values(revoked=True)
    )
    station.verify_key = None
    station.box_key = None
    token_text = issue_station_token(session, station)
    session.commit()
    return token_text


def create_study(session: Session, name: str, *, organisations: Sequence[str]) -> None:
    """Create a study of ``organisations`` (their stations may be addressed in it)."""
    _check_name("study", name)
    if not organisations:
        raise InputError("a study needs at least one organisation.")
    orgs = [_organisation(session, org) for org in dict.fromkeys(organisations)]
    study = Study(name=name)
    session.add(study)
    _flush(session, f"study {name!r}")
    session.add_all(StudyOrganisation(study_id=study.id, organisation_id=org.id) for org in orgs)
    session.commit()


def add_user_to_study(session: Session, study: str, username: str) -> None:
    """Make user ``username`` a member of ``study``; idempotent."""
    found = _study(session, study)
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


def list_organisations(session: Session) -> list[OrganisationSummary]:
    """Every organisation, by name, with its numbers of users and stations.

    Every ``list_...`` function sorts by code point in Python, so that SQLite and
    PostgreSQL (whose collations differ) answer in the same order.
    """
    users = _count_by_organisation(session, User.organisation_id)
    stations = _count_by_organisation(session, Station.organisation_id)
    orgs = sorted(session.scalars(select(Organisation)), key=lambda org: org.name)
    return [
        OrganisationSummary(org.name, org.created_at, users.get(org.id, 0), stations.get(org.id, 0))
        for org in orgs
    ]


def _count_by_organisation(session: Session, column: InstrumentedAttribute[int]) -> dict[int, int]:
    rows = session.execute(select(column, func.count()).group_by(column))
    return dict(rows.all())


def list_users(session: Session, username: str | None = None) -> list[UserSummary]:
    """Every user (or only ``username``), by username, with the roles they hold."""
    users = select(User, Organisation.name).join(
        Organisation, Organisation.id == User.organisation_id
    )
    granted_roles = select(UserRole.user_id, UserRole.role)
    if username is not None:
        users = users.where(User.username == username)
        granted_roles = granted_roles.join(User, User.id == UserRole.user_id).where(
            User.username == username
        )
    granted: defaultdict[int, set[str]] = defaultdict(set)
    for user_id, role in session.execute(granted_roles):
        granted[user_id].add(role)
    summaries = []
    for user, organisation in session.execute(users):
        held = granted[user.id]
        # As perron.hub.services.roles.roles_of: a hub researcher holds the role ungranted.
        if user.role == "researcher":
            held = held | {Role.RESEARCHER.value}
        summaries.append(
            UserSummary(
                user.username,
                organisation,
                user.role,
                tuple(sorted(held)),
                has_keys=user.verify_key is not None and user.box_key is not None,
            )
        )
    return sorted(summaries, key=lambda summary: summary.username)


def list_stations(session: Session) -> list[StationSummary]:
    """Every station, by name, and whether it has registered its public keys."""
    rows = session.execute(
        select(Station, Organisation.name).join(
            Organisation, Organisation.id == Station.organisation_id
        )
    )
    summaries = [
        StationSummary(
            station.name,
            organisation,
            station.created_at,
            has_keys=station.verify_key is not None and station.box_key is not None,
        )
        for station, organisation in rows
    ]
    return sorted(summaries, key=lambda summary: summary.name)


def list_studies(session: Session, name: str | None = None) -> list[StudySummary]:
    """Every study (or only ``name``), by name, with its organisations and user members."""
    studies = select(Study)
    if name is not None:
        studies = studies.where(Study.name == name)
    found = {study.id: study.name for study in session.scalars(studies)}
    organisations: defaultdict[int, list[str]] = defaultdict(list)
    for study_id, organisation in session.execute(
        select(StudyOrganisation.study_id, Organisation.name)
        .join(Organisation, Organisation.id == StudyOrganisation.organisation_id)
        .where(StudyOrganisation.study_id.in_(list(found)))
    ):
        organisations[study_id].append(organisation)
    users: defaultdict[int, list[str]] = defaultdict(list)
    for study_id, username in session.execute(
        select(StudyUser.study_id, User.username)
        .join(User, User.id == StudyUser.user_id)
        .where(StudyUser.study_id.in_(list(found)))
    ):
        users[study_id].append(username)
    summaries = [
        StudySummary(
            study_name, tuple(sorted(organisations[study_id])), tuple(sorted(users[study_id]))
        )
        for study_id, study_name in found.items()
    ]
    return sorted(summaries, key=lambda summary: summary.name)
