"""Who is who in a data request: its record, its holders, and the caller's part in it.

A request has two sides. The *applicant's side* is the applicant, and the members
of the applicant's organisation who are members of the request's study; it sees the
whole request and every track. A *holder* is an organisation asked for data; its
users see only their own part of the request (:meth:`DataRequest.part_for`) and only
their own track, never what the other holders are asked for or how they decided.
Everyone else is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from perron.governance.request import DataRequest
from perron.governance.roles import Role
from perron.hub.db.models import Organisation, RequestRecord, RequestTrack, StudyUser, User
from perron.hub.errors import NotFound
from perron.hub.services.roles import roles_of
from perron.protocol.errors import NotAuthorized


@dataclass(frozen=True)
class Holder:
    """A holder organisation of a request, in the order the request names them."""

    organisation_id: int
    name: str
    position: int


@dataclass(frozen=True)
class Party:
    """The caller's part in one request."""

    user: User
    roles: frozenset[Role]
    #: The caller is the applicant.
    applicant: bool
    #: The applicant, or a study member of the applicant's organisation.
    applicant_side: bool
    #: The caller's organisation, if it is a holder of the request.
    holder: Holder | None

    @property
    def sees_everything(self) -> bool:
        """Whether the caller sees every holder's part and track."""
        return self.applicant_side

    def may_see(self, holder: str) -> bool:
        """Whether the caller may see ``holder``'s part and track."""
        return self.applicant_side or (self.holder is not None and self.holder.name == holder)


def load_record(session: Session, request_id: str) -> RequestRecord:
    """The stored request ``request_id``.

    Raises
    ------
    NotFound
        No such request.
    """
    record = session.get(RequestRecord, request_id)
    if record is None:
        raise NotFound(
            f"no data request {request_id!r} on this hub; GET /api/requests lists yours."
        )
    return record


def request_of(record: RequestRecord) -> DataRequest:
    """The data request as the applicant sent it."""
    return DataRequest.model_validate(json.loads(record.content))


def holders_of(session: Session, record: RequestRecord) -> list[Holder]:
    """The request's holders, in the request's order."""
    rows = session.execute(
        select(Organisation.id, Organisation.name, RequestTrack.position)
        .join(RequestTrack, RequestTrack.organisation_id == Organisation.id)
        .where(RequestTrack.request_id == record.id)
        .order_by(RequestTrack.position)
    )
    return [Holder(org_id, name, position) for org_id, name, position in rows]


def holder_named(session: Session, record: RequestRecord, name: str) -> Holder:
    """The holder ``name`` of the request.

    Raises
    ------
    NotFound
        ``name`` is not a holder of this request.
    """
    for holder in holders_of(session, record):
        if holder.name == name:
            return holder
    raise NotFound(f"{name!r} is not a holder of data request {record.id!r}.")


def party_of(session: Session, record: RequestRecord, user: User) -> Party:
    """The caller's part in ``record`` (possibly none: see :func:`require_party`)."""
    applicant = user.id == record.applicant_id
    applicant_side = applicant or (
        user.organisation_id == record.organisation_id
        and bool(
            session.scalar(
                select(
                    exists().where(
                        StudyUser.study_id == record.study_id, StudyUser.user_id == user.id
                    )
                )
            )
        )
    )
    own = [h for h in holders_of(session, record) if h.organisation_id == user.organisation_id]
    return Party(
        user=user,
        roles=roles_of(session, user),
        applicant=applicant,
        applicant_side=applicant_side,
        holder=own[0] if own else None,
    )


def require_party(session: Session, record: RequestRecord, user: User) -> Party:
    """The caller's part in ``record``.

    Raises
    ------
    NotAuthorized
        The caller is neither on the applicant's side nor of a holder organisation.
    """
    party = party_of(session, record, user)
    if not party.applicant_side and party.holder is None:
        raise NotAuthorized(
            f"data request {record.id!r} is open to its applicant's side and the users of "
            f"its holder organisations; {user.username!r} is neither."
        )
    return party


def require_side(party: Party, holder: str, *, holder_side: bool, what: str) -> None:
    """Refuse unless the caller may act for ``holder`` (holder side) or is the applicant.

    Raises
    ------
    NotAuthorized
        A holder-side act by someone outside ``holder``, or an applicant act by
        someone other than the applicant.
    """
    if holder_side:
        if party.holder is None or party.holder.name != holder:
            raise NotAuthorized(
                f"{what} on the track of {holder!r} is for the users of {holder!r}; "
                f"{party.user.username!r} is not one of them."
            )
    elif not party.applicant:
        raise NotAuthorized(
            f"{what} on the track of {holder!r} is for the applicant of the request; "
            f"{party.user.username!r} is not the applicant."
        )
