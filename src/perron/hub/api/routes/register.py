"""The public register: ``GET /api/register`` (JSON) and ``GET /register`` (HTML), no login."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from perron.hub.api import register_page
from perron.hub.api.deps import SessionDep
from perron.hub.api.schemas import (
    HolderStatusPublic,
    PeriodPublic,
    RegisterEntryPublic,
    ResultPublic,
)
from perron.hub.services import register
from perron.hub.services.register import RegisterEntry

router = APIRouter(tags=["register"])


def _public(entry: RegisterEntry) -> RegisterEntryPublic:
    return RegisterEntryPublic(
        request_id=entry.request_id,
        study=entry.study,
        title=entry.title,
        lay_summary=entry.lay_summary,
        purpose=entry.purpose,
        applicant_organisation=entry.applicant_organisation,
        holders=[HolderStatusPublic(holder=h.holder, status=h.status) for h in entry.holders],
        status=entry.status,
        period=PeriodPublic(start=entry.period_start.isoformat(), end=entry.period_end.isoformat()),
        results=[
            ResultPublic(
                summary=r.summary,
                publications=list(r.publications),
                reported_at=r.reported_at.isoformat(),
            )
            for r in entry.results
        ],
        registered_at=entry.registered_at.isoformat(),
        results_due=entry.results_due.isoformat(),
    )


@router.get("/api/register")
def read_register(session: SessionDep) -> list[RegisterEntryPublic]:
    """Every data request on the hub, newest first (public: no login)."""
    return [_public(entry) for entry in register.entries(session)]


@router.get("/register", response_class=HTMLResponse)
def register_html(session: SessionDep) -> HTMLResponse:
    """The register as a web page (public: no login)."""
    return HTMLResponse(register_page.render(register.entries(session)))
