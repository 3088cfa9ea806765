"""``/api/station``: a station's keys, its next run (long-poll), its answers, its policies,
its report.

The routes that take runs note when the station was seen, with the version its
``X-Perron-Version`` header names (:mod:`perron.hub.services.stations`), in the unit
of work they run anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from sqlalchemy import Connection

from perron.hub.api import render
from perron.hub.api.deps import CurrentPrincipal, CurrentStation, Hub, HubDep, SessionDep, TokenDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import (
    DeliveryPublic,
    KeysIn,
    RunResult,
    SignedPolicyPublic,
    StationReportIn,
)
from perron.hub.notify import Notifier, poll_until, station_key, task_key
from perron.hub.services import auth, policies, runs, stations
from perron.hub.services.auth import Caller
from perron.hub.services.runs import Delivery
from perron.hub.services.stations import LONG_POLL, Sighting

router = APIRouter(prefix="/api/station", tags=["station"], responses=ERROR_RESPONSES)

Wait = Annotated[
    float,
    Query(ge=0, allow_inf_nan=False, description="Seconds to wait for a run (max 60)."),
]
#: Run ids are PostgreSQL ``integer``s.
RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The run's id.")]
Version = Annotated[
    str | None,
    Header(
        alias="X-Perron-Version",
        description="The station's Perron version, shown on its organisation's pages.",
    ),
]


def long_poll(version: str | None) -> Sighting:
    """What a long-poll or an answer over HTTP says of its station."""
    return Sighting(stations.version_of(version), LONG_POLL)


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
async def next_run(
    hub: HubDep, token: TokenDep, wait: Wait = 0.0, version: Version = None
) -> DeliveryPublic | Response:
    """Claim the next run for this station, waiting up to ``wait`` seconds for one.

    A station can instead hold one WebSocket, ``/api/station/stream``, for all its
    runs and answers (docs/network.md); both take runs from the same queue.
    """
    return _rendered(await next_delivery(hub, token, wait, long_poll(version)))


@dataclass(frozen=True)
class _Inbox:
    """A station's long-poll for its next run: what it waits on and how it claims."""

    hub: Hub
    token: str
    wait: float
    sighting: Sighting
    key: str
    #: Held for the whole poll (see :class:`perron.hub.notify.Channels`).
    channel: Notifier
    #: The station's epoch when the poll began (see :meth:`perron.hub.notify.Channels.bump`).
    epoch: int

    @classmethod
    async def open(cls, hub: Hub, token: str, wait: float, sighting: Sighting) -> _Inbox:
        key = await hub.station_channel(token)
        channel = hub.notifier.channel(key)
        epoch = hub.notifier.epoch(key)
        return cls(hub, token, hub.wait_seconds(wait), sighting, key, channel, epoch)

    def claim(self, connection: Connection, station: Caller) -> Delivery | None:
        if self.hub.notifier.epoch(self.key) != self.epoch:
            return None  # the station restarted since this poll began: claim nothing
        return runs.claim_next(connection, station, self.hub.settings.lease_seconds)

    def _attempt(self, connection: Connection, caller: Caller) -> Delivery | None:
        station = caller.require_station()
        self.hub.sightings.record(connection, station, self.sighting)
        return self.claim(connection, station)

    def _ready(self, found: Delivery | None) -> bool:
        return found is not None or self.hub.notifier.epoch(self.key) != self.epoch

    async def deliver(self, tried: tuple[int, Delivery | None] | None = None) -> Delivery | None:
        """The next run, or None if none came within the wait.

        ``tried``: the generation and result of a claim the caller already made.
        """
        return await poll_until(
            self.hub.execute,
            self.hub.unit(self.token, self._attempt),
            self._ready,
            notifier=self.channel,
            wait=self.wait,
            poll_seconds=self.hub.settings.poll_seconds,
            tried=tried,
        )


async def answer_run(
    hub: Hub,
    token: str,
    run_id: int,
    result: RunResult,
    next_wait: float | None,
    sighting: Sighting,
) -> Delivery | None:
    """Store a station's answer to one of its runs (idempotent); with ``next_wait``,
    then wait that long for the station's next run and return it (else None)."""
    inbox = None if next_wait is None else await _Inbox.open(hub, token, next_wait, sighting)
    # Read before the first claim below, so that a task sent meanwhile wakes the wait.
    generation = 0 if inbox is None else inbox.channel.generation

    def store(connection: Connection, caller: Caller) -> tuple[str | None, Delivery | None]:
        station = caller.require_station()
        hub.sightings.record(connection, station, sighting)
        finished = runs.finish_run(connection, station, run_id, result.status, result.payload)
        if finished is not None:
            # The researcher's waiting long-poll reads the finished task here, at once.
            hub.notifier.channel(task_key(finished)).serve(connection)
        # The next long-poll's first claim, in the same unit of work as the answer.
        return finished, None if inbox is None else inbox.claim(connection, station)

    finished, found = await hub.run(token, store)
    if finished is not None:
        # The researcher's long-poll waits for the whole task: wake it once, at the end.
        hub.notifier.notify(task_key(finished))
    if inbox is None:
        return None
    return await inbox.deliver(tried=(generation, found))


async def next_delivery(hub: Hub, token: str, wait: float, sighting: Sighting) -> Delivery | None:
    """Claim the station's next run, waiting up to ``wait`` seconds; None if none came."""
    inbox = await _Inbox.open(hub, token, wait, sighting)
    return await inbox.deliver()


def _rendered(found: Delivery | None) -> Response:
    return Response(status_code=204) if found is None else render.delivery(found)


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
    version: Version = None,
) -> DeliveryPublic | Response:
    """Store the station's sealed answer to one of its runs (idempotent).

    With ``next_wait`` the same request then waits for the station's next run, so a
    busy station needs one request per run instead of two.
    """
    found = await answer_run(hub, token, run_id, result, next_wait, long_poll(version))
    return _rendered(found)


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


@router.put("/report", status_code=204)
def put_report(report: StationReportIn, station: CurrentStation, session: SessionDep) -> None:
    """Replace the station's report: its audit lines, objections and dataset names.

    Shown to the station's organisation (``GET
    /api/organisations/{org}/stations/{name}/report``). Objections are a count, a
    time and a digest, never an identifier.
    """
    stations.save_report(session, station, report.model_dump())
