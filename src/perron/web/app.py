"""The web application: :func:`create_ui` builds it over the hub's ASGI application.

The hub mounts it at ``/ui`` (:func:`perron.hub.app.create_app`). Errors become
pages: the hub's refusals are shown as the hub wrote them (with its status), an
ended session goes back to the sign-in page, a form without this browser's CSRF
token is refused with 403.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from perron.web.hubapi import HubError, in_process
from perron.web.pages import admin, holder, inbox, public, researcher, studies, surveillance
from perron.web.security import CsrfFailed, sign_out
from perron.web.views import SignInNeeded, get_page


def create_ui(api: ASGIApp, *, base: str = "/ui") -> FastAPI:
    """The pages, calling the hub's JSON API on ``api``; ``base`` is where they are mounted.

    Examples
    --------
    >>> ui = create_ui(FastAPI())
    >>> sorted(route.path for route in ui.routes)[:2]
    ['/', '/admin']
    """
    # In process, no socket: nothing to close when the hub stops.
    ui = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    ui.state.client = in_process(api)
    ui.state.base = base
    for module in (public, researcher, studies, surveillance, holder, inbox, admin):
        ui.include_router(module.router)
    ui.mount("/static", StaticFiles(packages=[("perron.web", "static")]), name="static")

    @ui.exception_handler(HubError)
    async def hub_error(request: Request, error: HubError) -> Response:
        page = await get_page(request)
        if error.status == 401:
            response = page.redirect(f"/login?ended=1&next={_next(request, base)}")
            sign_out(response, base)
            return response
        return page.render("error.html", status_code=error.status, error=error)

    @ui.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, _error: SignInNeeded) -> Response:
        page = await get_page(request)
        return page.redirect(f"/login?next={_next(request, base)}")

    @ui.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, error: CsrfFailed) -> Response:
        page = await get_page(request)
        refusal = HubError(403, "CsrfFailed", str(error))
        return page.render("error.html", status_code=403, error=refusal)

    return ui


def _next(request: Request, base: str) -> str:
    """The page to come back to after signing in (a path of the UI only)."""
    path = request.url.path
    return path[len(base) :] if path.startswith(base) and request.method == "GET" else "/"
