"""Pages without sign-in: home, sign-in and out, the public register with how to object."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from perron.web.hubapi import HubError
from perron.web.security import form, sign_in, sign_out
from perron.web.views import PageDep

router = APIRouter()


def safe_next(value: str) -> str:
    """A page of the UI to go to after signing in; anything else (another site) is ``/``."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/")
async def home(page: PageDep) -> Response:
    return page.render("home.html")


@router.get("/login")
async def login_form(page: PageDep, next: str = "/", ended: int = 0) -> Response:
    return page.render(
        "login.html", next=safe_next(next), ended=bool(ended), failed="", username=""
    )


@router.post("/login")
async def login(page: PageDep) -> Response:
    fields = await form(page.request)
    username = fields.get("username")
    try:
        issued = await page.api.post(
            "/api/auth/token", {"username": username, "password": fields.get("password")}
        )
    except HubError as error:
        if error.status not in (401, 422):
            raise
        return page.render(
            "login.html",
            status_code=401,
            next=safe_next(fields.get("next", "/")),
            ended=False,
            failed="Wrong username or password.",
            username=username,
        )
    response = page.redirect(safe_next(fields.get("next", "/")))
    sign_in(response, str(issued["token"]), page.base)
    return response


@router.post("/logout")
async def logout(page: PageDep) -> Response:
    await form(page.request)
    if page.signed_in:
        await page.api.post("/api/auth/revoke")
    response = page.redirect("/")
    sign_out(response, page.base)
    return response


def _matches(entry: dict[str, Any], words: list[str]) -> bool:
    text = " ".join(
        [
            entry["title"],
            entry["lay_summary"],
            entry["study"],
            entry["purpose"],
            entry["applicant_organisation"],
            *(holder["holder"] for holder in entry["holders"]),
        ]
    ).casefold()
    return all(word in text for word in words)


@router.get("/register")
async def register(page: PageDep, q: str = "") -> Response:
    entries: list[dict[str, Any]] = await page.api.get("/api/register")
    words = q.casefold().split()
    shown = [entry for entry in entries if _matches(entry, words)]
    holders = sorted({h["holder"] for entry in entries for h in entry["holders"]})
    contacts = await _contacts(page, holders)
    return page.render("register.html", entries=shown, total=len(entries), q=q, contacts=contacts)


async def _contacts(page: PageDep, holders: list[str]) -> list[dict[str, str]]:
    """Each holder's contact point, from its public catalogue descriptions."""
    described: list[dict[str, Any]] = await page.api.get("/api/catalogue")
    contacts: dict[str, dict[str, str]] = {}
    for entry in described:
        metadata = entry.get("metadata", {})
        holder = str(metadata.get("holder", ""))
        contact = metadata.get("contact") or {}
        if holder in holders and holder not in contacts:
            contacts[holder] = {
                "holder": holder,
                "name": str(contact.get("name", "")),
                "email": str(contact.get("email", "")),
            }
    return [contacts[h] for h in holders if h in contacts]
