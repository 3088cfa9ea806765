"""The in-memory grid: stations called directly in this process (``simulate``)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from perron.protocol.messages import Partial, Task

Handler = Callable[[Task], Partial]


class InMemoryGrid:
    """A :class:`~perron.protocol.grid.Grid` whose stations are local callables.

    Each handler is a station's ``handle`` method; the grid does not know stations,
    only the task-in, partial-out seam that the HTTP grid will serve too.
    """

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        if not handlers:
            raise ValueError("a grid needs at least one station")
        self._handlers = dict(handlers)

    @property
    def stations(self) -> Sequence[str]:
        return list(self._handlers)

    def run_round(self, task: Task) -> Mapping[str, Partial]:
        return {name: handle(task) for name, handle in self._handlers.items()}

    def without(self, stations: Collection[str]) -> InMemoryGrid:
        """The same grid without ``stations`` (to run again after a dropout)."""
        return InMemoryGrid({n: h for n, h in self._handlers.items() if n not in stations})
