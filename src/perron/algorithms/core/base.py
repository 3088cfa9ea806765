"""The one interface every federated analysis implements, and the one round loop.

An algorithm is

- a pure **station step** ``(data, params, context) -> StationOutput``: it reads
  aggregates through the data seam, applies the holder's disclosure rules and
  returns only what its contract declares;
- a pure **coordinator step** ``(partials, state) -> Next | Done``: it combines the
  partials of all stations and decides the next round or the result;
- a declared :class:`DisclosureContract`: which outputs leave a station and which
  rules guard them. The station runner refuses any output the contract does not
  declare.

:meth:`FederatedAlgorithm.run` is the template method that drives the rounds over
a :class:`~perron.protocol.grid.Grid` (in-memory for ``simulate``, HTTP for a real
hub), as Flower's ``Strategy.start`` does. Adding an analysis means adding one
module with one subclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from perron.algorithms.core.memory import SessionMemory
from perron.data.linkage import LinkKeys
from perron.data.source import DataSource
from perron.privacy.ledger import MemoryLedger, QueryLedger
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import ConvergenceFailed, error_from_wire
from perron.protocol.grid import Grid
from perron.protocol.messages import Decision, Partial, Task

Payload = Mapping[str, Any]


@dataclass(frozen=True)
class DisclosureContract:
    """What an algorithm's station step releases and which rules guard it.

    ``releases`` maps each payload key to a description of its size, which never
    depends on the number of rows.
    """

    releases: Mapping[str, str]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class StationContext:
    """What a station step knows besides its data: who it is and its effective policy.

    ``memory`` keeps secrets of multi-round protocols at the station; ``linkage``
    gives linkage protocols the station's link keys (``None`` when it has none);
    ``ledger`` remembers a requester's feasibility queries (differencing guard).
    """

    station: str
    policy: DisclosurePolicy
    memory: SessionMemory = field(default_factory=SessionMemory)
    linkage: LinkKeys | None = None
    #: Who asked (the task's signer over a hub; ``"researcher"`` in a simulation).
    requester: str = "researcher"
    #: The feasibility queries this station answered, per requester.
    ledger: QueryLedger = field(default_factory=MemoryLedger)


@dataclass(frozen=True)
class StationOutput:
    payload: dict[str, Any]
    decisions: list[Decision]


@dataclass(frozen=True, kw_only=True)
class FederatedResult:
    """Fields every result carries: rows used per station and the decisions taken."""

    nobs_per_station: Mapping[str, int] = field(default_factory=dict)
    decisions: tuple[Decision, ...] = ()


S = TypeVar("S")
R = TypeVar("R", bound=FederatedResult)


@dataclass(frozen=True)
class Next(Generic[S]):
    """Parameters of the next round (one set for all stations) and the new state."""

    params: Payload
    state: S


@dataclass(frozen=True)
class Done(Generic[R]):
    result: R


class MaskedRounds(Protocol):
    """One run's secure-aggregation wrapper around the rounds (see :class:`SecureRounds`)."""

    def params(self, params: Payload, round_number: int) -> dict[str, Any]:
        """The round's parameters with what the stations need to mask their partials."""
        ...

    def combine(self, payloads: Mapping[str, Payload]) -> dict[str, Payload]:
        """The stations' masked partials as the one partial of sums the coordinator sees."""
        ...


class SecureRounds(Protocol):
    """The seam through which :meth:`FederatedAlgorithm.run` runs under secure aggregation.

    The round loop knows only this protocol; the implementation lives above it, in
    :class:`perron.algorithms.core.secure_rounds.SecureAggregation`, which the session
    passes when secure aggregation is on.
    """

    def start(self, grid: Grid, algorithm: str, disclosure: Mapping[str, Any]) -> MaskedRounds:
        """Exchange the run's keys with the stations and return the round wrapper."""
        ...

    def retry(self, attempt: Callable[[Grid], R], grid: Grid) -> R:
        """Run ``attempt(grid)``, once more without stations that dropped out."""
        ...


class FederatedAlgorithm(ABC, Generic[S, R]):
    """Base class of every federated analysis."""

    #: Name under which stations install and allow-list the algorithm.
    name: ClassVar[str]
    contract: ClassVar[DisclosureContract]
    #: Safety net for the round loop; algorithms that iterate raise earlier.
    max_rounds: ClassVar[int] = 200

    @staticmethod
    @abstractmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        """Compute this station's released aggregate for one round."""

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str] | None:
        """The payload fields of the round ``params`` that the coordinator only adds up.

        Under secure aggregation those are masked and only their sum over the
        stations is seen; ``None`` (the default) means the algorithm cannot run so.
        """
        return None

    @abstractmethod
    def start(self) -> Next[S]:
        """Parameters of the first round and the initial coordinator state."""

    def start_secure(self) -> Next[S]:
        """The first round under secure aggregation (by default the same as :meth:`start`)."""
        return self.start()

    @abstractmethod
    def coordinator_step(self, partials: Mapping[str, Payload], state: S) -> Next[S] | Done[R]:
        """Combine one round's partials into the next round or the final result."""

    def run(
        self,
        grid: Grid,
        disclosure: Mapping[str, Any] | None = None,
        *,
        secure: SecureRounds | None = None,
    ) -> R:
        """Drive the rounds over ``grid`` until the coordinator step is done.

        ``disclosure`` carries the requester's settings; each station applies them
        only where they are stricter than its own. With ``secure`` (a
        :class:`~perron.algorithms.core.secure_rounds.SecureAggregation`), every round
        runs under secure aggregation: the coordinator step sees one partial holding
        the sums over the stations.
        """
        if secure is None:
            return self._rounds(grid, disclosure, None)
        return secure.retry(lambda g: self._rounds(g, disclosure, secure), grid)

    def _rounds(
        self, grid: Grid, disclosure: Mapping[str, Any] | None, secure: SecureRounds | None
    ) -> R:
        step = self.start_secure() if secure else self.start()
        decisions: list[Decision] = []
        secure_run = secure.start(grid, self.name, disclosure or {}) if secure else None
        for round_number in range(self.max_rounds):
            params = step.params
            if secure_run is not None:
                params = secure_run.params(params, round_number)
            task = Task(self.name, params, round_number, dict(disclosure or {}))
            partials = grid.run_round(task)
            payloads = raise_station_errors(partials)
            if secure_run is not None:
                payloads = secure_run.combine(payloads)
            for partial in partials.values():
                decisions.extend(partial.decisions)
            outcome = self.coordinator_step(payloads, step.state)
            if isinstance(outcome, Done):
                return replace(outcome.result, decisions=tuple(decisions))
            step = outcome
        raise ConvergenceFailed(
            f"{self.name} did not finish within {self.max_rounds} rounds; "
            "report this as a bug with the call that caused it."
        )


def raise_station_errors(partials: Mapping[str, Partial]) -> dict[str, Payload]:
    """Raise the first station error (naming the station); otherwise the payloads."""
    for name, partial in partials.items():
        if partial.error is not None:
            error = error_from_wire(dict(partial.error))
            if repr(name) not in str(error):
                error = type(error)(f"station {name!r}: {error}")
            raise error
    return {name: partial.payload or {} for name, partial in partials.items()}
