"""``/api/station``: a station's keys, its next run (long-poll), its answers, its policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from perron.hub.api.deps import CurrentPrincipal, CurrentStation, Hub, HubDep, SessionDep, TokenDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import DeliveryPublic, KeysIn, RunResult, SignedPolicyPublic
from perron.hub.notify import poll_until, station_key, task_key
from perron.hub.services import auth, policies, runs
from perron.hub.services.auth import Caller
from perron.hub.services.runs import Delivery

router = APIRouter(prefix="/api/station", tags=["station"], responses=ERROR_RESPONSES)

Wait = Annotated[
    float,
    Query(ge=0, allow_inf_nan=False, description="Seconds to wait for a run (max 60)."),
]
#: Run ids are PostgreSQL ``integer``s.
RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The run's id.")]


@router.put("/keys", status_code=204)
def put_station_keys(
    keys: KeysIn, principal: CurrentPrincipal, session: SessionDep, hub: HubDep
) -> None:
    """Register the station's public keys (partials are signed with them).

    A station does this each time it starts. The runs it had claimed but not
    answered were lost with the old process: they are released for redelivery at
    once instead of after their lease. Long-polls the old process left behind (its
    socket is gone, the hub does not know yet) are retired, so they cannot claim a
    run and answer it into a dead connection.
    """
    station = principal.require_station()
    auth.set_keys(session, principal, auth.check_public_keys(keys.verify_key, keys.box_key))
    key = station_key(station.name)
    hub.notifier.bump(key)
    runs.release_claims(session, station)
    hub.notifier.notify(key)


@router.get(
    "/next",
    response_model=DeliveryPublic,
    responses={204: {"description": "No run for this station within the wait."}},
)
async def next_run(hub: HubDep, token: TokenDep, wait: Wait = 0.0) -> DeliveryPublic | Response:
    """Claim the next run for this station, waiting up to ``wait`` seconds for one."""
    return await _next_delivery(hub, token, wait)


async def _next_delivery(hub: Hub, token: str, wait: float) -> DeliveryPublic | Response:
    key = await hub.station_channel(token)
    epoch = hub.notifier.epoch(key)

    def claim(session: Session, caller: Caller) -> Delivery | None:
        if hub.notifier.epoch(key) != epoch:
            return None  # the station restarted since this poll began: claim nothing
        return runs.claim_next(session, caller.require_station(), hub.settings.lease_seconds)

    delivery = await poll_until(
        lambda: hub.run(token, claim),
        lambda found: found is not None or hub.notifier.epoch(key) != epoch,
        notifier=hub.notifier.channel(key),
        wait=hub.wait_seconds(wait),
        poll_seconds=hub.settings.poll_seconds,
    )
    if delivery is None:
        return Response(status_code=204)
    return DeliveryPublic.model_validate(delivery, from_attributes=True)


NextWait = Annotated[
    float | None,
    Query(
        ge=0,
        allow_inf_nan=False,
        description="If given, wait up to this many seconds for the station's next run "
        "and return it (200), or 204: one request both answers and long-polls.",
    ),
]


@router.post(
    "/runs/{run_id}",
    response_model=DeliveryPublic,
    responses={204: {"description": "Stored; no next run asked for, or none within the wait."}},
)
async def post_result(
    run_id: RunId,
    result: RunResult,
    hub: HubDep,
    token: TokenDep,
    next_wait: NextWait = None,
) -> DeliveryPublic | Response:
    """Store the station's sealed answer to one of its runs (idempotent).

    With ``next_wait`` the same request then waits for the station's next run, so a
    busy station needs one request per run instead of two.
    """

    def store(session: Session, caller: Caller) -> str | None:
        return runs.finish_run(
            session, caller.require_station(), run_id, result.status, result.payload
        )

    # The researcher's long-poll waits for the whole task: wake it once, at the end.
    finished = await hub.run(token, store)
    if finished is not None:
        hub.notifier.notify(task_key(finished))
    if next_wait is None:
        return Response(status_code=204)
    return await _next_delivery(hub, token, next_wait)


@router.get("/policies")
def list_policies(station: CurrentStation, session: SessionDep) -> list[SignedPolicyPublic]:
    """The current policies whose holder is the station's organisation, with signatures.

    The station verifies the signatures itself, against the approvers' keys its
    holder configured; the hub does not decide a policy's validity for it.
    """
    return [
        SignedPolicyPublic.model_validate(signed.to_wire())
        for signed in policies.of_station(session, station)
    ]
