"""The researcher's pages: catalogue and dataset pages, feasibility, data requests.

Studies, their tasks and results are in :mod:`perron.web.pages.studies`.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from perron.web.hubapi import HubError
from perron.web.security import form
from perron.web.views import PageDep

router = APIRouter()

PURPOSES = (
    "scientific_research",
    "public_health",
    "policy",
    "statistics",
    "education",
    "improving_care",
)
#: The analyses a request may name (the stations' registry); shown as choices.
ANALYSES = (
    "summary",
    "crosstab",
    "histogram",
    "quantile",
    "feasibility",
    "kaplan_meier",
    "logrank",
    "coxph",
    "glm",
)


@router.get("/catalogue")
async def catalogue(
    page: PageDep, text: str = "", theme: str = "", code: str = "", holder: str = ""
) -> Response:
    query = {
        k: v for k, v in {"text": text, "theme": theme, "code": code, "holder": holder}.items() if v
    }
    entries = await page.api.get("/api/catalogue", **query)
    return page.render(
        "catalogue.html", entries=entries, text=text, theme=theme, code=code, holder=holder
    )


@router.get("/catalogue/{holder}/{name}")
async def dataset(page: PageDep, holder: str, name: str) -> Response:
    entry = await page.api.get(f"/api/catalogue/datasets/{holder}/{name}")
    return page.render("dataset.html", entry=entry, m=entry["metadata"])


@router.get("/feasibility")
async def feasibility(page: PageDep, study: str = "") -> Response:
    page.require_user()
    studies: list[dict[str, Any]] = await page.api.get("/api/studies")
    counts: list[dict[str, Any]] = []
    for item in studies:
        if study and item["name"] != study:
            continue
        with_results = await page.api.get(f"/api/studies/{item['name']}/results")
        counts += [
            {**result, "study": item["name"]}
            for result in with_results
            if result["kind"] == "count"
        ]
    url = page.request.url
    return page.render(
        "feasibility.html",
        studies=studies,
        counts=counts,
        study=study,
        hub_url=f"{url.scheme}://{url.netloc}",
    )


@router.get("/requests")
async def requests(page: PageDep) -> Response:
    page.require_user()
    listed = await page.api.get("/api/requests")
    return page.render("requests.html", requests=listed)


@router.get("/requests/new")
async def new_request(page: PageDep) -> Response:
    page.require_user()
    entries = await page.api.get("/api/catalogue")
    today = date.today()
    return page.render(
        "request_new.html",
        entries=entries,
        purposes=PURPOSES,
        analyses=ANALYSES,
        failed="",
        values={"start": today.isoformat(), "end": (today + timedelta(days=365)).isoformat()},
    )


def request_document(fields: Any, me: dict[str, Any]) -> dict[str, Any]:
    """The data request (:class:`perron.governance.request.DataRequest` as JSON) a form asks for.

    Every chosen dataset (``holder/name``, ticked from the catalogue or typed one per
    line for a holder that describes none) is asked with the same variables; the hub
    validates the whole document and says what is missing.
    """
    variables = [v.strip() for v in fields.get("variables").split(",") if v.strip()]
    holders: dict[str, list[dict[str, Any]]] = {}
    typed = [line.strip() for line in fields.get("other_datasets").splitlines() if line.strip()]
    for chosen in [*fields.all("datasets"), *typed]:
        holder, _, name = chosen.partition("/")
        holders.setdefault(holder, []).append(
            {"name": name, "variables": [{"name": v} for v in variables]}
        )
    return {
        "title": fields.get("title"),
        "lay_summary": fields.get("lay_summary"),
        "applicant": me["username"],
        "organisation": me["organisation"],
        "purpose": fields.get("purpose"),
        "purpose_description": fields.get("purpose_description"),
        "question": {
            "population": fields.get("population"),
            "intervention": fields.get("intervention"),
            "comparison": fields.get("comparison"),
            "outcome": fields.get("outcome"),
        },
        "holders": [{"holder": h, "datasets": ds} for h, ds in holders.items()],
        "analyses": [{"algorithm": a} for a in fields.all("analyses")],
        "safeguards": fields.get("safeguards"),
        "period": {"start": fields.get("start"), "end": fields.get("end")},
        "expected_outputs": fields.get("expected_outputs"),
        "ethics_declaration": fields.get("ethics_declaration"),
    }


@router.post("/requests/new")
async def create_request(page: PageDep) -> Response:
    me = page.require_user()
    fields = await form(page.request)
    body = {"study": fields.get("study"), "request": request_document(fields, me)}
    try:
        created = await page.api.post("/api/requests", body)
    except HubError as error:
        if error.status not in (400, 409, 422):
            raise
        entries = await page.api.get("/api/catalogue")
        return page.render(
            "request_new.html",
            status_code=error.status,
            entries=entries,
            purposes=PURPOSES,
            analyses=ANALYSES,
            failed=error.detail,
            values=dict(fields.fields) | {"chosen": fields.all("datasets")},
        )
    return page.redirect(f"/requests/{created['request_id']}")


@router.get("/requests/{request_id}")
async def request_page(page: PageDep, request_id: str) -> Response:
    me = page.require_user()
    request = await page.api.get(f"/api/requests/{request_id}")
    applicant = request["request"]["organisation"] == me["organisation"]
    return page.render(
        "request.html",
        r=request,
        applicant=applicant,
        document=json.dumps(request["request"], indent=2, ensure_ascii=False),
    )
