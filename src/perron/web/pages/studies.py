"""Studies: their stations, tasks with the status per station, and published results.

A result is what the researcher's own client computed and chose to publish to the
study (``Session.publish``): the hub relays sealed partials it cannot read, so the
pages show results only once the researcher's client, which holds the key, has
opened and combined them. Tables download as CSV, the whole signed document as
JSON; errors are shown as the stations sent them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from perron.web.figures import draw
from perron.web.hubapi import HubError
from perron.web.views import PageDep

router = APIRouter()


@router.get("/studies")
async def studies(page: PageDep) -> Response:
    page.require_user()
    listed = await page.api.get("/api/studies")
    return page.render("studies.html", studies=listed)


@router.get("/studies/{study}")
async def study(page: PageDep, study: str) -> Response:
    page.require_user()
    stations = await page.api.get(f"/api/studies/{study}/stations")
    tasks = await page.api.get(f"/api/studies/{study}/tasks", limit=100)
    results = await page.api.get(f"/api/studies/{study}/results")
    jobs = await page.api.get(f"/api/studies/{study}/surveillance")
    return page.render(
        "study.html", study=study, stations=stations, tasks=tasks, results=results, jobs=jobs
    )


async def _result(page: PageDep, study: str, result_id: str) -> dict[str, Any]:
    page.require_user()
    result: dict[str, Any] = await page.api.get(f"/api/studies/{study}/results/{result_id}")
    return result


@router.get("/studies/{study}/results/{result_id}")
async def result(page: PageDep, study: str, result_id: str) -> Response:
    published = await _result(page, study, result_id)
    body = published["envelope"]["body"]
    return page.render("result.html", study=study, r=published, body=body)


@router.get("/studies/{study}/results/{result_id}/figure.svg")
async def figure(page: PageDep, study: str, result_id: str) -> Response:
    published = await _result(page, study, result_id)
    shape = published["envelope"]["body"].get("figure")
    if not shape:
        raise HubError(404, "NotFound", "this result has no figure.")
    return Response(draw(shape), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def _filename(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:80] or "result"


@router.get("/studies/{study}/results/{result_id}/download.json")
async def download_json(page: PageDep, study: str, result_id: str) -> Response:
    published = await _result(page, study, result_id)
    name = _filename(f"{study}-{published['title']}")
    return Response(
        json.dumps(published, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
    )


@router.get("/studies/{study}/results/{result_id}/download.csv")
async def download_csv(page: PageDep, study: str, result_id: str, table: int = 0) -> Response:
    published = await _result(page, study, result_id)
    tables = published["envelope"]["body"]["tables"]
    if not 0 <= table < len(tables):
        raise HubError(404, "NotFound", f"this result has no table {table}.")
    chosen = tables[table]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(chosen["columns"])
    writer.writerows(chosen["rows"])
    name = _filename(f"{study}-{published['title']}-{chosen['name']}")
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
