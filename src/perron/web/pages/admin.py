"""The hub admin's pages: organisations, users and their roles, stations, studies.

Each form calls the admin API (``/api/admin/...``), which only a hub admin may use;
a station's token is shown once, on the page that created or rotated it.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from perron.governance.roles import Role
from perron.web.hubapi import HubError
from perron.web.security import form
from perron.web.views import PageDep

router = APIRouter()

#: The roles a member can hold in an organisation, in the route's order.
ROLES = tuple(role.value for role in Role)


async def _admin(
    page: PageDep,
    *,
    done: str = "",
    failed: str = "",
    token: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    page.require_user()
    return page.render(
        "admin.html",
        status_code=status_code,
        organisations=await page.api.get("/api/admin/organisations"),
        users=await page.api.get("/api/admin/users"),
        stations=await page.api.get("/api/admin/stations"),
        studies=await page.api.get("/api/admin/studies"),
        all_roles=ROLES,
        done=done,
        failed=failed,
        token=token,
    )


@router.get("/admin")
async def admin(page: PageDep) -> Response:
    return await _admin(page)


async def _act(page: PageDep, what: str, path: str, body: object) -> Response:
    try:
        answer = await page.api.post(path, body)
    except HubError as error:
        if error.status in (401, 403):
            raise
        return await _admin(page, failed=f"{what}: {error.detail}", status_code=error.status)
    token = answer if isinstance(answer, dict) and "token" in answer else None
    return await _admin(page, done=what, token=token)


@router.post("/admin/organisations")
async def create_organisation(page: PageDep) -> Response:
    fields = await form(page.request)
    name = fields.get("name")
    return await _act(
        page, f"organisation {name} created", "/api/admin/organisations", {"name": name}
    )


@router.post("/admin/users")
async def create_user(page: PageDep) -> Response:
    fields = await form(page.request)
    body = {
        "username": fields.get("username"),
        "organisation": fields.get("organisation"),
        "password": fields.get("password"),
        "role": fields.get("role", "researcher"),
    }
    return await _act(page, f"user {body['username']} created", "/api/admin/users", body)


@router.post("/admin/roles")
async def grant_roles(page: PageDep) -> Response:
    fields = await form(page.request)
    org, username = fields.get("organisation"), fields.get("username")
    path = f"/api/organisations/{org}/members/{username}/roles"
    return await _act(page, f"roles of {username} set", path, {"roles": fields.all("roles")})


@router.post("/admin/stations")
async def create_station(page: PageDep) -> Response:
    fields = await form(page.request)
    body = {"name": fields.get("name"), "organisation": fields.get("organisation")}
    return await _act(page, f"station {body['name']} registered", "/api/admin/stations", body)


@router.post("/admin/stations/{name}/rotate")
async def rotate_station(page: PageDep, name: str) -> Response:
    await form(page.request)
    return await _act(
        page, f"station {name}'s token rotated", f"/api/admin/stations/{name}/rotate", None
    )


@router.post("/admin/studies")
async def create_study(page: PageDep) -> Response:
    fields = await form(page.request)
    body = {"name": fields.get("name"), "organisations": fields.all("organisations")}
    return await _act(page, f"study {body['name']} created", "/api/admin/studies", body)


@router.post("/admin/studies/{name}/users")
async def add_study_user(page: PageDep, name: str) -> Response:
    fields = await form(page.request)
    username = fields.get("username")
    return await _act(
        page,
        f"{username} added to {name}",
        f"/api/admin/studies/{name}/users",
        {"username": username},
    )
