"""A holder's pages (data manager, IT officer): its stations, their state and reports.

A station reports to the hub what its holder's people need to see here: its audit
log (a hash chain, verified again on this page), its objection register as a count
and digest (never an identifier: the register stays at the station) and its
datasets; the datasets' public descriptions, with the quality report, are in the
catalogue.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from perron.crypto import audit
from perron.web.security import form
from perron.web.views import PageDep

router = APIRouter()

#: Audit entries shown on the page, newest first (the download has all reported).
SHOWN_ENTRIES = 50


def _org(page: PageDep, org: str) -> str:
    me = page.require_user()
    return org or str(me["organisation"])


@router.get("/stations")
async def stations(page: PageDep, org: str = "") -> Response:
    organisation = _org(page, org)
    listed = await page.api.get(f"/api/organisations/{organisation}/stations")
    return page.render("stations.html", org=organisation, stations=listed)


def _verified(report: dict[str, Any]) -> dict[str, Any]:
    """The audit chain of ``report`` checked again, here, line by line."""
    try:
        count = audit.verify_audit_lines(report["audit_lines"])
    except audit.AuditLogTampered as error:
        return {"ok": False, "problem": str(error)}
    return {"ok": True, "count": count, "total": report["audit_total"]}


async def _station_page(page: PageDep, org: str, name: str, *, verify: bool) -> Response:
    organisation = _org(page, org)
    listed = await page.api.get(f"/api/organisations/{organisation}/stations")
    state = next((s for s in listed if s["name"] == name), None)
    report = await page.api.get(f"/api/organisations/{organisation}/stations/{name}/report")
    verified = _verified(report) if verify else None
    described = await page.api.get("/api/catalogue", holder=organisation)
    datasets = [e for e in described if e["station"] == name]
    entries = [_entry(line) for line in report["audit_lines"][-SHOWN_ENTRIES:]][::-1]
    return page.render(
        "station.html",
        org=organisation,
        name=name,
        state=state,
        report=report,
        entries=entries,
        datasets=datasets,
        verified=verified,
    )


def _entry(line: str) -> dict[str, Any]:
    """What the page shows of one audit line: the analysis, who asked and what came of it."""
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("entry"), dict):
        return {
            "seq": "?",
            "time": "",
            "analysis": "(unreadable line)",
            "requester": "",
            "outcome": "",
            "task": "",
        }
    entry = record["entry"]
    error = entry.get("error")
    outcome = error.get("kind", "error") if isinstance(error, dict) else entry.get("outcome", "")
    return {
        "seq": record.get("seq", "?"),
        "time": str(record.get("time", "")),
        "analysis": entry.get("algorithm", entry.get("event", "")),
        "requester": entry.get("requester", ""),
        "outcome": outcome,
        "task": str(entry.get("task_id", ""))[:12],
    }


@router.get("/stations/{name}")
async def station(page: PageDep, name: str, org: str = "") -> Response:
    return await _station_page(page, org, name, verify=False)


@router.post("/stations/{name}/verify")
async def verify(page: PageDep, name: str, org: str = "") -> Response:
    await form(page.request)
    return await _station_page(page, org, name, verify=True)
