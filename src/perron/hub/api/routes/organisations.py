"""``/api/organisations``: the roles members hold in their organisation, its stations.

An organisation's stations (whether each is online, its version, its last report)
are shown to the organisation's users and to hub admins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from perron.hub.api.deps import CurrentUser, HubDep, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import (
    MemberRolesPublic,
    Objections,
    RolesIn,
    StationReportPublic,
    StationStatePublic,
    iso,
)
from perron.hub.db.models import NAME_PATTERN
from perron.hub.services import roles, stations

router = APIRouter(prefix="/api/organisations", tags=["users"], responses=ERROR_RESPONSES)

OrgName = Annotated[str, Path(pattern=NAME_PATTERN, description="The organisation's name.")]
Username = Annotated[str, Path(pattern=NAME_PATTERN, description="The member's username.")]
StationName = Annotated[str, Path(pattern=NAME_PATTERN, description="The station's name.")]


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


@router.get("/{org}/stations", tags=["stations"])
def list_stations(
    org: OrgName, user: CurrentUser, session: SessionDep, hub: HubDep
) -> list[StationStatePublic]:
    """The organisation's stations: online or not, version, transport, last seen, keys.

    A station is online when it was seen within ``station_online_seconds`` (a hub
    setting, default 90). For the organisation's users and hub admins.
    """
    online_seconds = hub.settings.station_online_seconds
    return [
        StationStatePublic(
            name=station.name,
            organisation=station.organisation,
            online=station.online,
            version=station.version,
            transport=station.transport,
            last_seen_at=iso(station.last_seen_at),
            verify_key=station.verify_key,
            box_key=station.box_key,
            created_at=iso(station.created_at),
        )
        for station in stations.stations_of(session, user, org, online_seconds)
    ]


@router.get("/{org}/stations/{name}/report", tags=["stations"])
def read_station_report(
    org: OrgName, name: StationName, user: CurrentUser, session: SessionDep
) -> StationReportPublic:
    """The station's last report: its audit lines, objections and datasets (404 if none yet).

    For the organisation's users and hub admins.
    """
    report = stations.report_of(session, user, org, name)
    content = report.content
    return StationReportPublic(
        station=report.station,
        organisation=report.organisation,
        reported_at=iso(report.reported_at),
        audit_lines=content["audit_lines"],
        audit_total=content["audit_total"],
        objections=Objections.model_validate(content["objections"]),
        datasets=content["datasets"],
    )
