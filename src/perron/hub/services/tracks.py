"""The tracks of a data request: stored as events, their state replayed.

The hub stores each decision and send-back of a holder's track as a row of
``track_events`` and never stores a state: :func:`load_tracks` replays the events
(:func:`perron.governance.route.replay`), so every state can be explained. A new
event is built with the caller's username and their *current* roles, applied to
the replayed track (which refuses it if it is out of order or by the wrong role)
and stored with the next sequence number; two events decided at once on one track
cannot both be stored (a unique ``(track, seq)``), the second gets 409.

Holder-side steps are decided by users of the holder; the applicant's steps (the
research question, the analysis) by the applicant. When a track becomes approved
its policy is made and its holder joins the study; when it stops being approved (a
send-back or a no-go on the analysis) the policy is withdrawn
(:mod:`perron.hub.services.policies`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.governance.roles import Role
from perron.governance.route import (
    Attachment,
    Event,
    Outcome,
    Step,
    Track,
    decide,
    send_back,
)
from perron.hub.db.models import RequestRecord, TrackEvent, User, utcnow
from perron.hub.errors import Conflict
from perron.hub.services import documents, policies
from perron.hub.services.parties import (
    Holder,
    Party,
    holder_named,
    holders_of,
    load_record,
    request_of,
    require_party,
    require_side,
)
from perron.protocol.errors import InputError


@dataclass(frozen=True)
class TrackState:
    """A holder's track as its events replay, with the disclosure settings agreed on it."""

    holder: Holder
    track: Track
    #: The stored events in order, each with the disclosure settings stored with it.
    events: tuple[tuple[Event, Mapping[str, Any] | None], ...]

    @property
    def disclosure(self) -> dict[str, Any]:
        """The merge of the disclosure settings of the decisions that count (later wins)."""
        counting = [id(event) for event in self.track.decisions.values()]
        merged: dict[str, Any] = {}
        for event, settings in self.events:
            if settings and id(event) in counting:
                merged.update(settings)
        return merged


def _event(row: TrackEvent) -> Event:
    return Event(
        kind=row.kind,
        step=Step(row.step),
        actor=row.actor,
        roles=frozenset(Role(name) for name in row.roles.split(",") if name),
        at=row.at,
        outcome=None if row.outcome is None else Outcome(row.outcome),
        comment=row.comment,
        attachments=tuple(Attachment(**item) for item in json.loads(row.attachments)),
    )


def load_tracks(
    session: Session, record: RequestRecord, holders: Sequence[Holder] | None = None
) -> dict[str, TrackState]:
    """The replayed tracks of ``holders`` (default: every holder), by holder name."""
    chosen = holders_of(session, record) if holders is None else list(holders)
    rows = session.scalars(
        select(TrackEvent)
        .where(
            TrackEvent.request_id == record.id,
            TrackEvent.organisation_id.in_([h.organisation_id for h in chosen]),
        )
        .order_by(TrackEvent.organisation_id, TrackEvent.seq)
    )
    stored: dict[int, list[tuple[Event, Mapping[str, Any] | None]]] = {
        h.organisation_id: [] for h in chosen
    }
    for row in rows:
        settings = None if row.disclosure is None else json.loads(row.disclosure)
        stored[row.organisation_id].append((_event(row), settings))
    states = {}
    for holder in chosen:
        events = tuple(stored[holder.organisation_id])
        track = Track(holder.name)
        for event, _settings in events:
            track = track.apply(event)
        states[holder.name] = TrackState(holder, track, events)
    return states


def load_track(session: Session, record: RequestRecord, holder: Holder) -> TrackState:
    """The replayed track of one holder."""
    return load_tracks(session, record, [holder])[holder.name]


def decide_step(
    session: Session,
    user: User,
    request_id: str,
    holder: str,
    *,
    step: Step,
    outcome: Outcome,
    comment: str = "",
    attachments: Sequence[str] = (),
    disclosure: Mapping[str, Any] | None = None,
) -> Track:
    """Decide the current step of ``holder``'s track; the track after the decision.

    Raises
    ------
    NotFound
        No such request, or ``holder`` is not one of its holders.
    NotAuthorized
        The caller is not on the step's side, or does not hold the step's lead role.
    RouteViolation
        The step is not the current one, or the track is closed.
    InputError
        An attachment is not a document of the request, or disclosure settings
        come with a step of the applicant's side.
    Conflict
        Another event was stored on the track meanwhile.
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    found = holder_named(session, record, holder)
    require_side(party, holder, holder_side=step.on_holder_side, what=f"deciding {step.value!r}")
    if disclosure and not step.on_holder_side:
        raise InputError(
            f"disclosure settings are agreed on the holder's steps; {step.value!r} is the "
            "applicant's."
        )
    attached = documents.attachments(session, record, party, found, attachments)
    event = decide(step, outcome, user.username, party.roles, utcnow(), comment, attached)
    return _append(session, record, party, found, event, disclosure or None)


def send_track_back(
    session: Session, user: User, request_id: str, holder: str, *, to: Step, comment: str = ""
) -> Track:
    """Send ``holder``'s track back to the earlier step ``to``, as the current step's lead.

    Raises
    ------
    NotFound, NotAuthorized, RouteViolation, Conflict
        As :func:`decide_step`.
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    found = holder_named(session, record, holder)
    if not party.may_see(holder):  # do not tell an outsider where the track is
        require_side(party, holder, holder_side=True, what="sending back")
    current = load_track(session, record, found).track.current
    require_side(
        party,
        holder,
        holder_side=current.on_holder_side,
        what=f"sending back from {current.value!r}",
    )
    event = send_back(to, user.username, party.roles, utcnow(), comment)
    return _append(session, record, party, found, event, None)


def _append(
    session: Session,
    record: RequestRecord,
    party: Party,
    holder: Holder,
    event: Event,
    disclosure: Mapping[str, Any] | None,
) -> Track:
    before = load_track(session, record, holder)
    after = before.track.apply(event)  # raises RouteViolation / NotAuthorized
    actor = party.user.username  # read before a rollback expires the user
    session.add(
        TrackEvent(
            request_id=record.id,
            organisation_id=holder.organisation_id,
            seq=len(before.events),
            kind=event.kind,
            step=event.step.value,
            outcome=None if event.outcome is None else event.outcome.value,
            actor=event.actor,
            roles=",".join(sorted(role.value for role in event.roles)),
            at=event.at,
            comment=event.comment,
            attachments=json.dumps(
                [
                    {"name": a.name, "sha256": a.sha256, "media_type": a.media_type}
                    for a in event.attachments
                ]
            ),
            disclosure=None if disclosure is None else json.dumps(dict(disclosure)),
        )
    )
    try:
        if after.approved and not before.track.approved:
            state = TrackState(holder, after, (*before.events, (event, disclosure)))
            policies.issue(
                session,
                record,
                request_of(record),
                holder,
                disclosure=state.disclosure,
                now=event.at,
            )
        elif before.track.approved and not after.approved:
            policies.withdraw(session, record, holder, now=event.at)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            f"the track of {holder.name!r} changed while {actor!r} decided; "
            "read it again and decide on its current step."
        ) from exc
    return after
