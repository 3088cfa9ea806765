"""``/api/admin``: organisations, users, stations and studies, for hub admins only.

The same functions as ``perron hub admin ...`` (:mod:`perron.hub.admin`), over HTTP,
for the web interface's admin page. Every route needs the token of a user whose hub
role is ``admin``: no token answers 401, any other user or a station 403. Roles in an
organisation are granted through ``POST /api/organisations/{org}/members/{username}/roles``.

A station's token is in the answer that created or rotated it, and nowhere else:
the hub keeps only its hash.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from perron.hub import admin
from perron.hub.api.admin_schemas import (
    OrganisationAdminPublic,
    OrganisationCreate,
    OrganisationCreated,
    StationAdminPublic,
    StationCreate,
    StationTokenPublic,
    StudyAdminPublic,
    StudyCreate,
    StudyUserIn,
    UserAdminPublic,
    UserCreate,
)
from perron.hub.api.deps import CurrentUser, HubDep, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.db.models import NAME_PATTERN, User
from perron.protocol.errors import NotAuthorized


def require_hub_admin(user: CurrentUser) -> User:
    """The calling user, if a hub admin (``NotAuthorized`` otherwise)."""
    if user.role != "admin":
        raise NotAuthorized(
            f"the admin API is for hub admins; {user.username!r} is a {user.role}. "
            "Ask a hub admin to do this."
        )
    return user


router = APIRouter(
    prefix="/api/admin",
    tags=["admin"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_hub_admin)],
)

StationName = Annotated[str, Path(pattern=NAME_PATTERN, description="The station's name.")]
StudyName = Annotated[str, Path(pattern=NAME_PATTERN, description="The study's name.")]


@router.get("/organisations")
def list_organisations(session: SessionDep) -> list[OrganisationAdminPublic]:
    """Every organisation, with its numbers of users and stations."""
    return [
        OrganisationAdminPublic(
            name=org.name,
            created_at=org.created_at.isoformat(),
            users=org.users,
            stations=org.stations,
        )
        for org in admin.list_organisations(session)
    ]


@router.post("/organisations", status_code=201)
def create_organisation(body: OrganisationCreate, session: SessionDep) -> OrganisationCreated:
    """Create an organisation (409 if the name is taken)."""
    admin.create_org(session, body.name)
    return OrganisationCreated(name=body.name)


@router.get("/users")
def list_users(session: SessionDep) -> list[UserAdminPublic]:
    """Every user, with the roles they hold in their organisation."""
    return [_user(user) for user in admin.list_users(session)]


@router.post("/users", status_code=201)
def create_user(body: UserCreate, hub: HubDep, session: SessionDep) -> UserAdminPublic:
    """Create a user of an existing organisation (404 if none, 409 if the name is taken).

    The user logs in with ``POST /api/auth/token`` and registers their keys.
    """
    admin.create_user(
        session,
        body.username,
        organisation=body.organisation,
        password=body.password,
        role=body.role,
        hasher=hub.hasher,
    )
    (created,) = admin.list_users(session, body.username)
    return _user(created)


def _user(user: admin.UserSummary) -> UserAdminPublic:
    return UserAdminPublic.model_validate(
        {
            "username": user.username,
            "organisation": user.organisation,
            "role": user.role,
            "roles": list(user.roles),
            "has_keys": user.has_keys,
        }
    )


@router.get("/stations")
def list_stations(session: SessionDep) -> list[StationAdminPublic]:
    """Every station, and whether it has registered its public keys."""
    return [
        StationAdminPublic(
            name=station.name,
            organisation=station.organisation,
            created_at=station.created_at.isoformat(),
            has_keys=station.has_keys,
        )
        for station in admin.list_stations(session)
    ]


@router.post("/stations", status_code=201)
def create_station(body: StationCreate, session: SessionDep) -> StationTokenPublic:
    """Register a station of an existing organisation; its token is shown only here.

    Put the token in the station's ``station.token`` file; the station registers its
    public keys when it starts.
    """
    token = admin.create_station(session, body.name, organisation=body.organisation)
    return StationTokenPublic(name=body.name, token=token)


@router.post("/stations/{name}/rotate")
def rotate_station_token(name: StationName, session: SessionDep) -> StationTokenPublic:
    """Revoke every token of the station, clear its public keys, and issue a new token.

    The station stops being able to call the hub at once; started again with the
    new token, it registers new keys.
    """
    return StationTokenPublic(name=name, token=admin.rotate_station_token(session, name))


@router.get("/studies")
def list_studies(session: SessionDep) -> list[StudyAdminPublic]:
    """Every study, with its organisations and user members."""
    return [_study(study) for study in admin.list_studies(session)]


@router.post("/studies", status_code=201)
def create_study(body: StudyCreate, session: SessionDep) -> StudyAdminPublic:
    """Create a study of existing organisations (404 if one is missing, 409 if taken)."""
    admin.create_study(session, body.name, organisations=body.organisations)
    (created,) = admin.list_studies(session, body.name)
    return _study(created)


def _study(study: admin.StudySummary) -> StudyAdminPublic:
    return StudyAdminPublic(
        name=study.name, organisations=list(study.organisations), users=list(study.users)
    )


@router.post("/studies/{name}/users", status_code=204)
def add_study_user(name: StudyName, body: StudyUserIn, session: SessionDep) -> None:
    """Make a user a member of the study (idempotent; 404 for an unknown study or user)."""
    admin.add_user_to_study(session, name, body.username)
