"""Sessions and CSRF for the pages.

- The session cookie holds the user's hub token (``pu_...``): ``HttpOnly`` (no script
  reads it), ``Secure`` (sent over HTTPS only; browsers treat ``localhost`` and
  ``127.0.0.1`` as secure), ``SameSite=Strict`` (never sent with a request that
  another site started) and scoped to the UI's path. Signing out revokes the token
  at the hub, so a copied cookie stops working too.
- Every form carries a CSRF token that must equal the ``perron_csrf`` cookie (a
  double-submit token, compared in constant time): another site can neither read
  the cookie nor set it, so it cannot fill in the field. Every ``POST`` is checked
  before its handler runs, the sign-in form included.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "perron_session"
CSRF_COOKIE = "perron_csrf"
CSRF_FIELD = "csrf"
#: Hub tokens last ``token_hours`` (default 8); the cookie does not outlive a working day.
SESSION_SECONDS = 8 * 3600


class CsrfFailed(Exception):
    """A form came without the CSRF token of this browser: it was not sent from our page."""


def session_token(request: Request) -> str | None:
    """The hub token of the signed-in user, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    return token or None


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (new if it has none; :func:`keep_csrf` sets the cookie)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = request.state.new_csrf = getattr(request.state, "new_csrf", None) or (
            secrets.token_urlsafe(32)
        )
    return token


def keep_csrf(request: Request, response: Response, path: str) -> None:
    """Set the CSRF cookie if this request made a new token."""
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(
            CSRF_COOKIE, new, path=path, httponly=True, secure=True, samesite="strict"
        )


@dataclass(frozen=True)
class Form:
    """A submitted form's fields; :meth:`all` gives every value of a repeated field."""

    fields: Mapping[str, str]
    lists: Mapping[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        """The field's (first) value, stripped; ``default`` if it was not sent."""
        return self.fields.get(name, default).strip()

    def all(self, name: str) -> list[str]:
        """Every value sent for ``name`` (checkboxes, multiple selects)."""
        return list(self.lists.get(name, []))


async def form(request: Request) -> Form:
    """The submitted form (urlencoded or multipart), its CSRF token checked.

    Raises
    ------
    CsrfFailed
        The form's CSRF field is missing or differs from this browser's cookie.
    """
    parsed = await request.form()
    lists: dict[str, list[str]] = {}
    for key, value in parsed.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
    sent = (lists.pop(CSRF_FIELD, None) or [""])[0]
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed(
            "this form was not sent from a Perron page in this browser (no valid CSRF "
            "token); reload the page and send it again."
        )
    return Form({key: values[0] for key, values in lists.items()}, lists)


def sign_in(response: Response, token: str, path: str) -> None:
    """Keep the hub token in the session cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path=path,
        httponly=True,
        secure=True,
        samesite="strict",
    )


def sign_out(response: Response, path: str) -> None:
    """Forget the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path=path, httponly=True, secure=True, samesite="strict")
