"""``/api/organisations``: the roles members hold in their organisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from perron.hub.api.deps import CurrentUser, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import MemberRolesPublic, RolesIn
from perron.hub.db.models import NAME_PATTERN
from perron.hub.services import roles

router = APIRouter(prefix="/api/organisations", tags=["users"], responses=ERROR_RESPONSES)

OrgName = Annotated[str, Path(pattern=NAME_PATTERN, description="The organisation's name.")]
Username = Annotated[str, Path(pattern=NAME_PATTERN, description="The member's username.")]


@router.post("/{org}/members/{username}/roles")
def grant_roles(
    org: OrgName, username: Username, body: RolesIn, user: CurrentUser, session: SessionDep
) -> MemberRolesPublic:
    """Replace the roles a member holds in the organisation (a hub admin or an org admin).

    The answer lists the roles held now: a hub researcher holds ``researcher``
    without a grant.
    """
    member, held = roles.grant(session, user, org, username, body.roles)
    return MemberRolesPublic(
        username=member.username, organisation=org, roles=sorted(held, key=lambda r: r.value)
    )
