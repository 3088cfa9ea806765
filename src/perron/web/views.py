"""What every page shares: the caller (:class:`Page`), the templates and the layout.

A handler takes a :data:`PageDep`: the hub API as the signed-in user, who that user
is (``GET /api/me``, once per request) and this browser's CSRF token, and renders a
template with :meth:`Page.render`. Templates autoescape every value: a title like
``<script>`` shows as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse

from perron.web.hubapi import HubAPI, HubError
from perron.web.security import csrf_token, keep_csrf, session_token

#: Roles held in a holder organisation that get the holder's pages.
HOLDER_ROLES = frozenset({"data_manager", "it_admin", "org_admin"})

templates = jinja2.Environment(
    loader=jinja2.PackageLoader("perron.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def cell(value: Any) -> str:
    """A table cell as shown: floats to 6 significant digits (the downloads keep all)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


templates.filters["cell"] = cell


class SignInNeeded(Exception):
    """The page needs a signed-in user and there is none (or the session ended)."""


@dataclass
class Page:
    """One request's view of the hub."""

    request: Request
    api: HubAPI
    base: str
    csrf: str
    me: dict[str, Any] | None = None

    @property
    def signed_in(self) -> bool:
        return self.me is not None

    @property
    def roles(self) -> frozenset[str]:
        """The roles the user holds in their organisation (with the hub role)."""
        if self.me is None:
            return frozenset()
        return frozenset([*self.me["roles"], self.me["role"]])

    @property
    def is_admin(self) -> bool:
        return self.me is not None and self.me["role"] == "admin"

    def require_user(self) -> dict[str, Any]:
        """The signed-in user.

        Raises
        ------
        SignInNeeded
            Nobody is signed in in this browser.
        """
        if self.me is None:
            raise SignInNeeded
        return self.me

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """``template`` with ``context`` and the layout's own values."""
        html = templates.get_template(template).render(
            base=self.base,
            csrf=self.csrf,
            me=self.me,
            roles=self.roles,
            is_admin=self.is_admin,
            holder_pages=bool(self.roles & HOLDER_ROLES) or self.is_admin,
            path=self.request.url.path,
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        keep_csrf(self.request, response, self.base)
        # Pages load nothing from elsewhere and run no script; frames are refused.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    def redirect(self, to: str) -> RedirectResponse:
        """Back to a page of the UI after a form (303: the browser then GETs it)."""
        response = RedirectResponse(f"{self.base}{to}", status_code=303)
        keep_csrf(self.request, response, self.base)
        return response


async def get_page(request: Request) -> Page:
    """The :class:`Page` of this request; ``me`` is ``None`` if nobody is signed in."""
    state = request.app.state
    token = session_token(request)
    page = Page(request, HubAPI(state.client, token), state.base, csrf_token(request))
    if token is not None:
        try:
            page.me = await page.api.get("/api/me")
        except HubError as error:
            if error.status != 401:
                raise
            page.api = HubAPI(state.client, None)  # the session ended: carry on signed out
    return page


PageDep = Annotated[Page, Depends(get_page)]
