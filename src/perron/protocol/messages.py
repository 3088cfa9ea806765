"""What crosses the transport seam: a task to a station and the partial it returns.

Payloads hold aggregates only (numbers and small numpy arrays whose size does not
depend on the number of rows); a later codec turns them into bytes for HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["passed", "suppressed", "rounded", "withheld"]

#: The task parameter that runs a round under secure aggregation (its run id, round
#: and the stations' per-run public keys); see :mod:`perron.algorithms.core.secure_rounds`.
SECURE_AGGREGATION = "secure_aggregation"


@dataclass(frozen=True)
class Decision:
    """One disclosure decision a station took on an output.

    ``subject`` names what was checked (a column, a cell, a model), never its value.
    """

    station: str
    rule: str
    threshold: float | int | None
    outcome: Outcome
    subject: str


@dataclass(frozen=True)
class Task:
    """One station step of one round of a federated algorithm."""

    algorithm: str
    params: Mapping[str, Any]
    round: int = 0
    #: Disclosure settings the requester asks for; they may only tighten the holder's.
    disclosure: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Partial:
    """A station's answer to a task: a released aggregate or an error."""

    station: str
    payload: Mapping[str, Any] | None
    decisions: tuple[Decision, ...] = ()
    error: Mapping[str, object] | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "station": self.station,
            "status": "failed" if self.error is not None else "done",
            "payload": None if self.payload is None else dict(self.payload),
            "decisions": [
                [d.station, d.rule, d.threshold, d.outcome, d.subject] for d in self.decisions
            ],
            "error": None if self.error is None else dict(self.error),
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Partial:
        decisions = tuple(
            Decision(str(s), str(r), t, o, str(subject))
            for s, r, t, o, subject in wire.get("decisions", ())
        )
        error = wire.get("error")
        payload = wire.get("payload")
        return cls(
            station=str(wire["station"]),
            payload=None if payload is None else dict(payload),
            decisions=decisions,
            error=None if error is None else dict(error),
        )
