"""Studies and who belongs to them.

A user belongs to a study when an admin added them (``perron hub admin add-user``);
a station belongs to every study that includes its organisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from perron.hub.db.models import (
    Organisation,
    Station,
    Study,
    StudyOrganisation,
    StudyUser,
    User,
)
from perron.hub.errors import NotFound
from perron.protocol.errors import NotAuthorized


@dataclass(frozen=True)
class StudyView:
    """A study as principals see it."""

    name: str
    organisations: tuple[str, ...]


@dataclass(frozen=True)
class StationView:
    """A station of a study and its public keys (``None`` until it registers them)."""

    name: str
    organisation: str
    verify_key: str | None
    box_key: str | None


def get_study(session: Session, name: str) -> Study:
    """The study called ``name``.

    Raises
    ------
    NotFound
        No such study.
    """
    study = session.scalar(select(Study).where(Study.name == name))
    if study is None:
        raise no_study(name)
    return study


def no_study(name: str) -> NotFound:
    """The error for a study that does not exist."""
    return NotFound(f"no study {name!r} on this hub; GET /api/studies lists yours.")


def not_a_member(name: str) -> NotAuthorized:
    """The error for a caller outside the study."""
    return NotAuthorized(
        f"you are not a member of study {name!r}; ask the hub admin to add you "
        "(perron hub admin add-user)."
    )


def view(study: Study) -> StudyView:
    """The public view of a study."""
    return StudyView(study.name, tuple(org.name for org in study.organisations))


def is_member(session: Session, study: Study, member: User | Station) -> bool:
    """Whether a user (added to it) or a station (of one of its organisations) belongs."""
    if isinstance(member, User):
        membership = exists().where(StudyUser.study_id == study.id, StudyUser.user_id == member.id)
    else:
        membership = exists().where(
            StudyOrganisation.study_id == study.id,
            StudyOrganisation.organisation_id == member.organisation_id,
        )
    return bool(session.scalar(select(membership)))


def require_member(session: Session, name: str, member: User | Station) -> Study:
    """The study, if ``member`` belongs to it.

    Raises
    ------
    NotFound
        No such study.
    NotAuthorized
        ``member`` is not a member.
    """
    study = get_study(session, name)
    if not is_member(session, study, member):
        raise not_a_member(name)
    return study


def studies_of(session: Session, member: User | Station) -> list[StudyView]:
    """The studies a user or station belongs to, by name."""
    query = select(Study).order_by(Study.name)
    if isinstance(member, User):
        query = query.join(StudyUser, StudyUser.study_id == Study.id).where(
            StudyUser.user_id == member.id
        )
    else:
        query = query.join(StudyOrganisation, StudyOrganisation.study_id == Study.id).where(
            StudyOrganisation.organisation_id == member.organisation_id
        )
    return [view(study) for study in session.scalars(query)]


def study_stations(session: Session, name: str, member: User | Station) -> list[StationView]:
    """The stations of the study's organisations, for a member of the study."""
    study = require_member(session, name, member)
    rows = session.execute(
        select(Station, Organisation.name)
        .join(Organisation, Organisation.id == Station.organisation_id)
        .join(StudyOrganisation, StudyOrganisation.organisation_id == Organisation.id)
        .where(StudyOrganisation.study_id == study.id)
        .order_by(Station.name)
    )
    return [
        StationView(station.name, organisation, station.verify_key, station.box_key)
        for station, organisation in rows
    ]
