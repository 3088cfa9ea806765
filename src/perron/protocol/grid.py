"""The transport seam between the coordinator and the stations.

A :class:`Grid` runs one round: it delivers the same task to every station of the
study and returns each station's partial. ``InMemoryGrid`` (in the client package)
calls stations in this process; the network issue adds an HTTP grid that goes
through the hub. The round loop never knows which one it talks to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from perron.protocol.messages import Partial, Task


class Grid(Protocol):
    """Delivers tasks to stations and collects their partials."""

    @property
    def stations(self) -> Sequence[str]:
        """Names of the stations in this grid, in a fixed order."""
        ...

    def run_round(self, task: Task) -> Mapping[str, Partial]:
        """Send ``task`` to every station and wait for all partials."""
        ...
