"""``/api/auth``: log in with a password, revoke the token in use."""

from __future__ import annotations

from fastapi import APIRouter

from perron.hub.api.deps import CurrentPrincipal, HubDep, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import TokenPublic, TokenRequest
from perron.hub.services import auth

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/token")
def issue_token(request: TokenRequest, session: SessionDep, hub: HubDep) -> TokenPublic:
    """Log in: a user token valid for ``token_hours`` (12 h by default)."""
    issued = auth.login(
        session,
        request.username,
        request.password,
        hasher=hub.hasher,
        token_hours=hub.settings.token_hours,
        dummy_hash=hub.dummy_hash,
    )
    return TokenPublic(token=issued.token, expires_at=issued.expires_at.timestamp())


@router.post("/revoke", status_code=204)
def revoke_token(principal: CurrentPrincipal, session: SessionDep) -> None:
    """Revoke the token this request was sent with (log out)."""
    principal.require_user()
    auth.revoke(session, principal)
