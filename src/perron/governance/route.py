"""The study route as a state machine: one track per participating data holder.

The steps are those of the Secur-e-Health route, each with its lead role::

    research_question    researcher         (the applicant's side)
    dataset_preparation  data manager       (the holder)
    dpia                 privacy officer    (the holder)
    agreements           legal counsel      (the holder)
    installation         IT administrator   (the holder)
    risk_assessment      security officer   (the holder)
    analysis             researcher         (the applicant's side)

A track is a list of :class:`Event` s; its state is what replaying them gives
(:func:`replay`), so the hub stores only events and every state can be explained.
Each step records a go / no-go decision with who, when, the roles they held, a
comment and attached documents. A no-go stops the holder's track (the other
holders go on); the lead of the current step may send the track back to any
earlier step (the route is not a waterfall): the decisions from that step on no
longer count. When every step up to the risk assessment is "go" the track is
*approved*: its terms can become the holder's signed policy, and the analysis
step is open. A "go" on the analysis (results interpreted and reported) completes
the track.

Examples
--------
>>> from datetime import datetime, UTC
>>> at = datetime(2026, 11, 23, tzinfo=UTC)
>>> track = Track("umc-north")
>>> track = track.apply(decide(Step.RESEARCH_QUESTION, "go", "ana", {Role.RESEARCHER}, at))
>>> track.current, track.status
(<Step.DATASET_PREPARATION: 'dataset_preparation'>, <TrackStatus.IN_PROGRESS: 'in_progress'>)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from perron.governance.roles import Role
from perron.protocol.errors import InputError, NotAuthorized, RouteViolation

__all__ = [
    "APPROVING",
    "LEAD",
    "SIGNING_ROLES",
    "STEPS",
    "Attachment",
    "Event",
    "Outcome",
    "RouteViolation",
    "Step",
    "Track",
    "TrackStatus",
    "decide",
    "replay",
    "send_back",
]


class Step(StrEnum):
    """A station of the study route, in order."""

    RESEARCH_QUESTION = "research_question"
    DATASET_PREPARATION = "dataset_preparation"
    DPIA = "dpia"
    AGREEMENTS = "agreements"
    INSTALLATION = "installation"
    RISK_ASSESSMENT = "risk_assessment"
    ANALYSIS = "analysis"

    @property
    def lead(self) -> Role:
        """The role that decides this step."""
        return LEAD[self]

    @property
    def on_holder_side(self) -> bool:
        """Whether the holder's people decide it (else the applicant's researchers)."""
        return self.lead is not Role.RESEARCHER

    @property
    def position(self) -> int:
        """0 for the first step, 6 for the analysis."""
        return STEPS.index(self)


STEPS: tuple[Step, ...] = tuple(Step)
LEAD: dict[Step, Role] = {
    Step.RESEARCH_QUESTION: Role.RESEARCHER,
    Step.DATASET_PREPARATION: Role.DATA_MANAGER,
    Step.DPIA: Role.PRIVACY_OFFICER,
    Step.AGREEMENTS: Role.LEGAL_COUNSEL,
    Step.INSTALLATION: Role.IT_ADMIN,
    Step.RISK_ASSESSMENT: Role.SECURITY_OFFICER,
    Step.ANALYSIS: Role.RESEARCHER,
}
#: The steps whose "go" approves a track (everything before the analysis).
APPROVING: tuple[Step, ...] = STEPS[:-1]
#: The roles whose holders sign the policy: the leads of the holder's own steps.
SIGNING_ROLES: tuple[Role, ...] = tuple(
    LEAD[s] for s in APPROVING if LEAD[s] is not Role.RESEARCHER
)


class Outcome(StrEnum):
    GO = "go"
    NO_GO = "no_go"


class TrackStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    STOPPED = "stopped"  # a no-go
    APPROVED = "approved"  # every step before the analysis is go
    COMPLETED = "completed"  # the analysis step is go too


@dataclass(frozen=True)
class Attachment:
    """A document attached to a decision, by name and SHA-256 of its content."""

    name: str
    sha256: str
    media_type: str = "text/markdown"


@dataclass(frozen=True)
class Event:
    """One transition: a decision on a step, or sending the track back to a step."""

    kind: str  # "decision" or "send_back"
    step: Step  # the step decided, or the step sent back to
    actor: str
    roles: frozenset[Role]
    at: datetime
    outcome: Outcome | None = None
    comment: str = ""
    attachments: tuple[Attachment, ...] = ()

    def to_wire(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "step": self.step.value,
            "actor": self.actor,
            "roles": sorted(role.value for role in self.roles),
            "at": self.at.isoformat(),
            "outcome": None if self.outcome is None else self.outcome.value,
            "comment": self.comment,
            "attachments": [
                {"name": a.name, "sha256": a.sha256, "media_type": a.media_type}
                for a in self.attachments
            ],
        }


def decide(
    step: Step | str,
    outcome: Outcome | str,
    actor: str,
    roles: Collection[Role],
    at: datetime,
    comment: str = "",
    attachments: Iterable[Attachment] = (),
) -> Event:
    """A go / no-go decision on ``step`` by ``actor`` holding ``roles``."""
    return Event(
        "decision",
        _step(step),
        actor,
        frozenset(roles),
        at,
        _outcome(outcome),
        comment,
        tuple(attachments),
    )


def send_back(
    to: Step | str, actor: str, roles: Collection[Role], at: datetime, comment: str = ""
) -> Event:
    """Send the track back to the earlier step ``to``; its decisions from there are undone."""
    return Event("send_back", _step(to), actor, frozenset(roles), at, None, comment)


def _step(value: Step | str) -> Step:
    try:
        return Step(value)
    except ValueError:
        raise InputError(
            f"unknown step {value!r}; the steps are {', '.join(s.value for s in STEPS)}."
        ) from None


def _outcome(value: Outcome | str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise InputError(f"a decision is 'go' or 'no_go', not {value!r}.") from None


@dataclass(frozen=True)
class Track:
    """One holder's way along the route; change it only through :meth:`apply`."""

    holder: str
    current: Step = Step.RESEARCH_QUESTION
    status: TrackStatus = TrackStatus.IN_PROGRESS
    #: The decision that counts for each step (undone by a send-back).
    decisions: dict[Step, Event] = field(default_factory=dict)
    history: tuple[Event, ...] = ()

    def apply(self, event: Event) -> Track:
        """The track after ``event``; refused events raise and change nothing.

        Raises
        ------
        NotAuthorized
            The actor does not hold the lead role of the step.
        RouteViolation
            The step is not the current one, the track is closed, or a send-back
            does not go to an earlier step.
        """
        if self.status in (TrackStatus.STOPPED, TrackStatus.COMPLETED):
            raise RouteViolation(
                f"the track of {self.holder!r} is {self.status.value}; nothing more can be "
                "decided on it."
            )
        if event.kind == "decision":
            return self._decide(event)
        if event.kind == "send_back":
            return self._send_back(event)
        raise InputError(f"unknown event kind {event.kind!r}.")

    def _decide(self, event: Event) -> Track:
        if event.step is not self.current:
            raise RouteViolation(
                f"step {event.step.value!r} cannot be decided now: the track of "
                f"{self.holder!r} is at {self.current.value!r}."
            )
        _require_lead(event, event.step)
        decisions = {**self.decisions, event.step: event}
        history = (*self.history, event)
        if event.outcome is Outcome.NO_GO:
            return replace(self, status=TrackStatus.STOPPED, decisions=decisions, history=history)
        if event.step is Step.ANALYSIS:
            return replace(self, status=TrackStatus.COMPLETED, decisions=decisions, history=history)
        following = STEPS[event.step.position + 1]
        status = TrackStatus.APPROVED if following is Step.ANALYSIS else TrackStatus.IN_PROGRESS
        return replace(self, current=following, status=status, decisions=decisions, history=history)

    def _send_back(self, event: Event) -> Track:
        if event.step.position >= self.current.position:
            raise RouteViolation(
                f"a track can only be sent back to an earlier step; {self.holder!r} is at "
                f"{self.current.value!r}."
            )
        _require_lead(event, self.current)
        decisions = {s: e for s, e in self.decisions.items() if s.position < event.step.position}
        return replace(
            self,
            current=event.step,
            status=TrackStatus.IN_PROGRESS,
            decisions=decisions,
            history=(*self.history, event),
        )

    @property
    def approved(self) -> bool:
        """Whether every step before the analysis is "go" (a policy may be issued)."""
        return self.status in (TrackStatus.APPROVED, TrackStatus.COMPLETED)

    def to_wire(self) -> dict[str, object]:
        return {
            "holder": self.holder,
            "current": self.current.value,
            "lead": self.current.lead.value,
            "status": self.status.value,
            "decisions": {s.value: e.to_wire() for s, e in self.decisions.items()},
            "history": [e.to_wire() for e in self.history],
        }


def _require_lead(event: Event, step: Step) -> None:
    if step.lead not in event.roles:
        raise NotAuthorized(
            f"step {step.value!r} is decided by the {step.lead.label}; {event.actor!r} "
            f"holds {sorted(r.value for r in event.roles) or 'no role'}."
        )


def replay(holder: str, events: Iterable[Event]) -> Track:
    """The track that ``events`` (stored in order) lead to."""
    track = Track(holder)
    for event in events:
        track = track.apply(event)
    return track
