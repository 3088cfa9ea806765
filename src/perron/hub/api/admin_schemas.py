"""What the admin API (``/api/admin``) accepts and answers.

Names follow :data:`perron.hub.api.schemas.Name`; times are ISO 8601 strings (UTC).
A user created through the API needs a password of at least
:data:`API_MIN_PASSWORD_LENGTH` characters.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from perron.governance.roles import Role
from perron.hub.api.schemas import Name

#: The shortest password the admin API accepts for a new user.
API_MIN_PASSWORD_LENGTH = 12


class OrganisationCreate(BaseModel):
    """A new organisation."""

    name: Name


class OrganisationCreated(BaseModel):
    """The organisation created."""

    name: str


class OrganisationAdminPublic(BaseModel):
    """An organisation and how many users and stations it has."""

    name: str
    created_at: str
    users: int
    stations: int


class UserCreate(BaseModel):
    """A new user of an existing organisation."""

    username: Name
    organisation: Name
    password: Annotated[
        str, StringConstraints(min_length=API_MIN_PASSWORD_LENGTH, max_length=1024)
    ] = Field(description=f"At least {API_MIN_PASSWORD_LENGTH} characters.")
    role: Literal["researcher", "admin"] = "researcher"


class UserAdminPublic(BaseModel):
    """A user: hub role, the roles held in their organisation, whether keys are set."""

    username: str
    organisation: str
    role: Literal["admin", "researcher"]
    roles: list[Role]
    has_keys: bool


class StationCreate(BaseModel):
    """A new station of an existing organisation."""

    name: Name
    organisation: Name


class StationTokenPublic(BaseModel):
    """A station and its new token; shown only this once."""

    name: str
    token: str


class StationAdminPublic(BaseModel):
    """A station and whether it has registered its public keys."""

    name: str
    organisation: str
    created_at: str
    has_keys: bool


class StudyCreate(BaseModel):
    """A new study of existing organisations."""

    name: Name
    organisations: Annotated[list[Name], Field(min_length=1, max_length=1000)]


class StudyAdminPublic(BaseModel):
    """A study, its organisations and its user members."""

    name: str
    organisations: list[str]
    users: list[str]


class StudyUserIn(BaseModel):
    """A user to add to a study."""

    username: Name
