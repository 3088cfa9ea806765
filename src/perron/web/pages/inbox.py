"""The deciding roles' pages: the inbox, a track with its drafts, the decision, the policy.

A decision is sent as the CLI sends it (``perron request decide``,
:meth:`perron.client.governance.Governance.decide`): ``POST
/api/requests/{id}/tracks/{holder}/decisions`` with the step, the outcome, the reason
and no attachments; the hub checks the role and records it in the track's history.
Signing a policy stays with the signer's own key (``perron request sign``): the
page shows the policy and which signatures are there and valid.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from perron.governance.policy import SignedPolicy
from perron.governance.route import STEPS, Step
from perron.web.hubapi import HubError
from perron.web.security import form
from perron.web.views import PageDep

router = APIRouter()

DRAFTS = (("dpia", "DPIA"), ("privacy-matrix", "Privacy matrix"), ("term-sheet", "Agreement terms"))


def waiting_for(me: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tracks of ``request`` whose current step waits for a role ``me`` holds.

    A holder-side step waits for its lead role at that holder; the researcher's
    steps (research question, analysis) wait for the applicant organisation's
    researchers.
    """
    roles = set(me["roles"]) | {me["role"]}
    applicant = request["request"]["organisation"] == me["organisation"]
    items = []
    for holder, track in request["tracks"].items():
        if track["status"] not in ("in_progress", "approved"):
            continue
        if track["status"] == "approved" and track["current"] != "analysis":
            continue
        lead = track["lead"]
        mine = (lead == "researcher" and applicant and "researcher" in roles) or (
            lead != "researcher" and holder == me["organisation"] and lead in roles
        )
        if mine:
            items.append({"holder": holder, "step": track["current"], "lead": lead})
    return items


@router.get("/inbox")
async def inbox(page: PageDep) -> Response:
    me = page.require_user()
    items = []
    for summary in await page.api.get("/api/requests"):
        request = await page.api.get(f"/api/requests/{summary['request_id']}")
        for item in waiting_for(me, request):
            items.append(
                {
                    **item,
                    "request_id": summary["request_id"],
                    "title": summary["title"],
                    "study": summary["study"],
                }
            )
    return page.render("inbox.html", items=items)


async def _track_page(page: PageDep, request_id: str, holder: str, **extra: Any) -> Response:
    me = page.require_user()
    request = await page.api.get(f"/api/requests/{request_id}")
    track = request["tracks"].get(holder)
    if track is None:
        raise HubError(
            404, "NotFound", f"request {request_id} has no track for {holder} that you may see."
        )
    current = Step(track["current"])
    mine = any(item["holder"] == holder for item in waiting_for(me, request))
    earlier = [step.value for step in STEPS[: current.position]]
    return page.render(
        "track.html",
        r=request,
        holder=holder,
        track=track,
        mine=mine,
        earlier=earlier,
        drafts=DRAFTS,
        failed=extra.get("failed", ""),
        status_code=extra.get("status_code", 200),
    )


@router.get("/requests/{request_id}/tracks/{holder}")
async def track(page: PageDep, request_id: str, holder: str) -> Response:
    return await _track_page(page, request_id, holder)


async def _on_track(
    page: PageDep, request_id: str, holder: str, action: str, body: dict[str, Any]
) -> Response:
    """Send ``body`` to the track's ``action``; back to the track, or its page with the refusal."""
    try:
        await page.api.post(f"/api/requests/{request_id}/tracks/{holder}/{action}", body)
    except HubError as error:
        if error.status == 401:
            raise
        return await _track_page(
            page, request_id, holder, failed=error.detail, status_code=error.status
        )
    return page.redirect(f"/requests/{request_id}/tracks/{holder}")


@router.post("/requests/{request_id}/tracks/{holder}/decide")
async def decide(page: PageDep, request_id: str, holder: str) -> Response:
    page.require_user()
    fields = await form(page.request)
    body = {
        "step": fields.get("step"),
        "outcome": fields.get("outcome"),
        "comment": fields.get("comment"),
        "attachments": [],
    }
    return await _on_track(page, request_id, holder, "decisions", body)


@router.post("/requests/{request_id}/tracks/{holder}/send-back")
async def send_back(page: PageDep, request_id: str, holder: str) -> Response:
    page.require_user()
    fields = await form(page.request)
    body = {"to": fields.get("to"), "comment": fields.get("comment")}
    return await _on_track(page, request_id, holder, "send-back", body)


@router.get("/requests/{request_id}/drafts/{kind}")
async def draft(page: PageDep, request_id: str, kind: str, holder: str = "") -> Response:
    page.require_user()
    params = {"format": "html"} | ({"holder": holder} if holder else {})
    html = await page.api.text(f"/api/requests/{request_id}/drafts/{kind}", **params)
    # The hub renders drafts from Markdown with raw HTML off; the page may still run nothing.
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/requests/{request_id}/tracks/{holder}/policy")
async def policy(page: PageDep, request_id: str, holder: str) -> Response:
    page.require_user()
    wire = await page.api.get(f"/api/requests/{request_id}/tracks/{holder}/policy")
    signed = SignedPolicy.from_wire(wire)
    signatures = [{**s.to_wire(), "valid": signed.signature_valid(s)} for s in signed.signatures]
    return page.render(
        "policy.html", request_id=request_id, holder=holder, p=wire["policy"], signatures=signatures
    )
