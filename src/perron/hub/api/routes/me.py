"""``/api/me``: the calling user and their public keys."""

from __future__ import annotations

from fastapi import APIRouter

from perron.hub.api.deps import CurrentPrincipal, CurrentUser, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import KeysIn, MePublic
from perron.hub.services import auth, roles

router = APIRouter(prefix="/api/me", tags=["users"], responses=ERROR_RESPONSES)


@router.get("")
def read_me(user: CurrentUser, session: SessionDep) -> MePublic:
    """Who the token belongs to, and the roles they hold in their organisation."""
    return MePublic.model_validate(
        {
            "username": user.username,
            "organisation": user.organisation.name,
            "role": user.role,
            "roles": roles.sorted_values(roles.roles_of(session, user)),
        }
    )


@router.put("/keys", status_code=204)
def put_my_keys(keys: KeysIn, principal: CurrentPrincipal, session: SessionDep) -> None:
    """Register the user's public keys (tasks are verified, partials sealed, with them)."""
    principal.require_user()
    auth.set_keys(session, principal, auth.check_public_keys(keys.verify_key, keys.box_key))
