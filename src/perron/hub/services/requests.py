"""Data requests: one application (EHDS art. 67) to many holders, one track per holder.

A researcher applies for data for a study: the hub stores the request, creates the
study if it is new (the applicant's organisation as its member organisation and the
applicant as its member user; a holder joins when its track is approved) and opens
one track per holder. Who sees what is :mod:`perron.hub.services.parties`; the
tracks are :mod:`perron.hub.services.tracks`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.governance import drafts
from perron.governance.request import DataRequest, Period, publication_deadline
from perron.governance.roles import Role
from perron.governance.route import Track, TrackStatus
from perron.hub.db.models import (
    NAME_PATTERN,
    Organisation,
    RequestRecord,
    RequestResult,
    RequestTrack,
    Study,
    StudyOrganisation,
    StudyUser,
    User,
    utcnow,
)
from perron.hub.errors import Conflict, NotFound
from perron.hub.services.parties import (
    holder_named,
    load_record,
    request_of,
    require_party,
)
from perron.hub.services.roles import roles_of
from perron.hub.services.tracks import load_tracks
from perron.protocol.errors import InputError, NotAuthorized

#: The status of a request as a whole (see :func:`overall_status`).
RequestStatus = Literal["in review", "approved", "running", "completed", "stopped"]
#: The draft kinds (:data:`perron.governance.drafts.DRAFTS`).
DRAFT_KINDS = tuple(sorted(drafts.DRAFTS))


@dataclass(frozen=True)
class RequestSummary:
    """A request in a caller's list (a holder's user sees only its own holder)."""

    request_id: str
    study: str
    title: str
    holders: tuple[str, ...]
    status: str


@dataclass(frozen=True)
class RequestView:
    """A request as the caller may see it: the whole request or one holder's part."""

    request_id: str
    study: str
    request: DataRequest
    tracks: dict[str, Track]


def results_due(period: Period) -> date:
    """When the results must be public: the period's end plus 18 months (EHDS art. 61(4)).

    Raises
    ------
    InputError
        The date would be past the calendar's end (a period ending after 9997).
    """
    try:
        return publication_deadline(period.end)
    except (ValueError, OverflowError):
        raise InputError(
            f"the period ends on {period.end}; its results would be due after the year 9999. "
            "Give a real end date."
        ) from None


def overall_status(statuses: Sequence[TrackStatus], period: Period, today: date) -> RequestStatus:
    """The status of a request from its tracks' statuses.

        ``stopped`` if every track stopped; ``completed`` if every track that did not
        stop is completed; ``running`` (``approved`` before the period starts) once a
        track is approved; ``in review`` until then.

        Examples
        --------
        >>> from datetime import date
    from typing import Literal
        >>> period = Period(start=date(2026, 12, 1), end=date(2027, 12, 1))
        >>> overall_status([TrackStatus.APPROVED, TrackStatus.STOPPED], period, date(2027, 1, 1))
        'running'
    """
    going = [status for status in statuses if status is not TrackStatus.STOPPED]
    if not going:
        return "stopped"
    if all(status is TrackStatus.COMPLETED for status in going):
        return "completed"
    if any(status in (TrackStatus.APPROVED, TrackStatus.COMPLETED) for status in going):
        return "running" if today >= period.start else "approved"
    return "in review"


def create_request(session: Session, user: User, study: str, raw: object) -> str:
    """Store a data request for ``study`` with one track per holder; the request's id.

    Who may apply is checked before the request is validated, so an outsider learns
    nothing from the validation.

    Parameters
    ----------
    raw
        The request as JSON (:data:`perron.governance.request.EXAMPLE` is one).

    Raises
    ------
    NotAuthorized
        The caller does not hold the researcher role, is not the request's
        applicant, or is not of the request's organisation.
    NotFound
        A holder is not an organisation of this hub.
    Conflict
        ``study`` exists and is not one of the applicant's requests' studies.
    InputError
        The request is not valid, the study name is not valid, or the period ends
        too late.
    """
    if Role.RESEARCHER not in roles_of(session, user):
        raise NotAuthorized(
            f"data requests are made by researchers; {user.username!r} does not hold the "
            "researcher role."
        )
    if not isinstance(raw, dict):
        raise InputError("the data request must be a JSON object (see EXAMPLE).")
    _check_applicant(user, raw.get("applicant"), raw.get("organisation"))
    request = DataRequest.parse(raw)
    _check_applicant(user, request.applicant, request.organisation)
    if re.fullmatch(NAME_PATTERN, study) is None:
        raise InputError(
            f"study name {study!r} is not valid: use 1 to 100 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit."
        )
    results_due(request.period)
    # A name that is not a valid organisation name cannot be one (nor reach the query).
    names = [name for name in request.holder_names if re.fullmatch(NAME_PATTERN, name)]
    organisations = {
        org.name: org
        for org in session.scalars(select(Organisation).where(Organisation.name.in_(names)))
    }
    missing = [name for name in request.holder_names if name not in organisations]
    if missing:
        raise NotFound(
            f"no organisation {missing[0]!r} on this hub (holders {missing} are unknown); "
            "ask the hub admin to create it, or correct the holder's name."
        )
    try:
        study_id = _study_for(session, user, study)
        record = RequestRecord(
            id=uuid.uuid4().hex,
            study_id=study_id,
            applicant_id=user.id,
            organisation_id=user.organisation_id,
            content=json.dumps(request.model_dump(mode="json"), sort_keys=True),
            created_at=utcnow(),
        )
        session.add(record)
        session.flush()
        session.add_all(
            RequestTrack(
                request_id=record.id,
                organisation_id=organisations[name].id,
                position=position,
            )
            for position, name in enumerate(request.holder_names)
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"study {study!r} was created meanwhile; send the request again.") from exc
    return record.id


def _check_applicant(user: User, applicant: object, organisation: object) -> None:
    if not isinstance(applicant, str) or applicant.strip() != user.username:
        raise NotAuthorized(
            f"the request names applicant {applicant!r} but was sent by {user.username!r}; "
            "a request is sent by its applicant."
        )
    if not isinstance(organisation, str) or organisation.strip() != user.organisation.name:
        raise NotAuthorized(
            f"the request names organisation {organisation!r}, but {user.username!r} "
            f"belongs to {user.organisation.name!r}."
        )


def _study_for(session: Session, user: User, name: str) -> int:
    """The id of study ``name``: created for the applicant, or an earlier one of theirs."""
    found = session.scalar(select(Study).where(Study.name == name))
    if found is None:
        study = Study(name=name, created_at=utcnow())
        session.add(study)
        session.flush()
        session.add(StudyOrganisation(study_id=study.id, organisation_id=user.organisation_id))
        session.add(StudyUser(study_id=study.id, user_id=user.id))
        return study.id
    earlier = exists().where(
        RequestRecord.study_id == found.id, RequestRecord.applicant_id == user.id
    )
    if not session.scalar(select(earlier)):
        raise Conflict(
            f"study {name!r} exists and is not one of {user.username!r}'s data requests; "
            "choose another study name."
        )
    return found.id


def visible_requests(session: Session, user: User) -> list[RequestSummary]:
    """The requests the caller may see, oldest first.

    The applicant's side sees every holder and the overall status; a holder's user
    sees only its own holder and its own track's status.
    """
    member = exists().where(
        StudyUser.study_id == RequestRecord.study_id, StudyUser.user_id == user.id
    )
    holder = exists().where(
        RequestTrack.request_id == RequestRecord.id,
        RequestTrack.organisation_id == user.organisation_id,
    )
    applicant_side = or_(
        RequestRecord.applicant_id == user.id,
        and_(RequestRecord.organisation_id == user.organisation_id, member),
    )
    records = session.scalars(
        select(RequestRecord)
        .where(or_(applicant_side, holder))
        .order_by(RequestRecord.created_at, RequestRecord.id)
    )
    today = utcnow().date()
    summaries = []
    for record in records:
        party = require_party(session, record, user)
        request = request_of(record)
        status: str
        if party.sees_everything:
            tracks = load_tracks(session, record)
            status = overall_status(
                [state.track.status for state in tracks.values()], request.period, today
            )
        else:
            assert party.holder is not None
            tracks = load_tracks(session, record, [party.holder])
            status = tracks[party.holder.name].track.status.value
        summaries.append(
            RequestSummary(record.id, record.study.name, request.title, tuple(tracks), status)
        )
    return summaries


def request_view(session: Session, user: User, request_id: str) -> RequestView:
    """The request as the caller may see it.

    Raises
    ------
    NotFound
        No such request.
    NotAuthorized
        The caller is not a party of the request.
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    request = request_of(record)
    if party.sees_everything:
        states = load_tracks(session, record)
    else:
        assert party.holder is not None
        states = load_tracks(session, record, [party.holder])
        request = request.part_for(party.holder.name)
    tracks = {name: state.track for name, state in states.items()}
    return RequestView(record.id, record.study.name, request, tracks)


def draft(
    session: Session,
    user: User,
    request_id: str,
    kind: str,
    *,
    holder: str | None = None,
    html: bool = False,
) -> str:
    """A draft (:mod:`perron.governance.drafts`) of the request, Markdown or HTML.

    A holder's user always gets its own part (``holder`` is its organisation);
    with a ``holder``, the disclosure settings agreed on that holder's track are in
    the privacy matrix and the term sheet.

    Raises
    ------
    NotFound
        No such request, draft kind or holder.
    NotAuthorized
        The caller is not a party of the request.
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    if kind not in drafts.DRAFTS:
        raise NotFound(f"no draft {kind!r}; the drafts are {', '.join(DRAFT_KINDS)}.")
    if not party.sees_everything:
        assert party.holder is not None
        holder = party.holder.name
    request = request_of(record)
    if holder is None:
        text = _draft(kind, request, None, None)
        title = f"{kind}: {request.title}"
    else:
        found = holder_named(session, record, holder)
        settings = load_tracks(session, record, [found])[holder].disclosure
        text = _draft(kind, request.part_for(holder), holder, settings)
        title = f"{kind}: {request.title} ({holder})"
    return drafts.to_html(text, title) if html else text


def _draft(
    kind: str, request: DataRequest, holder: str | None, disclosure: dict[str, object] | None
) -> str:
    make = drafts.DRAFTS[kind]
    if kind == "dpia":  # the DPIA draft takes no disclosure settings
        return make(request, holder)
    return make(request, holder, disclosure)


def report_results(
    session: Session, user: User, request_id: str, summary: str, publications: Sequence[str]
) -> None:
    """Append results (a summary and publications) of the request, by its applicant.

    Raises
    ------
    NotFound
        No such request.
    NotAuthorized
        The caller is not the request's applicant.
    """
    record = load_record(session, request_id)
    if record.applicant_id != user.id:
        raise NotAuthorized(
            f"results of data request {request_id!r} are reported by its applicant; "
            f"{user.username!r} is not the applicant."
        )
    session.add(
        RequestResult(
            request_id=record.id,
            summary=summary,
            publications=json.dumps(list(publications)),
            reported_at=utcnow(),
        )
    )
    session.commit()
