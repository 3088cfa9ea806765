"""The public register of data requests (EHDS art. 57(1)(i) and 61(4)), readable without login.

One entry per request: what the study is for, who applied (the organisation, not
the person), which holders were asked and how far each track is, the period,
results and publications as reported, and when the results are due (the period's
end plus 18 months). It shows what a permit register shows and nothing of a
track's deliberations: no variables, comments, documents or decisions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from perron.hub.db.models import RequestRecord, RequestResult, utcnow
from perron.hub.services.parties import request_of
from perron.hub.services.requests import RequestStatus, overall_status, results_due
from perron.hub.services.tracks import load_tracks


@dataclass(frozen=True)
class HolderEntry:
    """A holder asked for data, and the status of its track."""

    holder: str
    status: str


@dataclass(frozen=True)
class ResultEntry:
    """Results as the applicant reported them."""

    summary: str
    publications: tuple[str, ...]
    reported_at: datetime


@dataclass(frozen=True)
class RegisterEntry:
    """One request in the public register."""

    request_id: str
    study: str
    title: str
    lay_summary: str
    purpose: str
    applicant_organisation: str
    holders: tuple[HolderEntry, ...]
    status: RequestStatus
    period_start: date
    period_end: date
    results: tuple[ResultEntry, ...]
    registered_at: datetime
    results_due: date


def entries(session: Session) -> list[RegisterEntry]:
    """Every request on the hub, newest first."""
    today = utcnow().date()
    found = []
    records = session.scalars(
        select(RequestRecord).order_by(RequestRecord.created_at.desc(), RequestRecord.id)
    )
    for record in records:
        request = request_of(record)
        tracks = load_tracks(session, record)
        statuses = [state.track.status for state in tracks.values()]
        results = tuple(
            ResultEntry(row.summary, tuple(json.loads(row.publications)), row.reported_at)
            for row in session.scalars(
                select(RequestResult)
                .where(RequestResult.request_id == record.id)
                .order_by(RequestResult.reported_at, RequestResult.id)
            )
        )
        found.append(
            RegisterEntry(
                request_id=record.id,
                study=record.study.name,
                title=request.title,
                lay_summary=request.lay_summary,
                purpose=request.purpose.value,
                applicant_organisation=record.organisation.name,
                holders=tuple(
                    HolderEntry(name, state.track.status.value) for name, state in tracks.items()
                ),
                status=overall_status(statuses, request.period, today),
                period_start=request.period.start,
                period_end=request.period.end,
                results=results,
                registered_at=record.created_at,
                results_due=results_due(request.period),
            )
        )
    return found
