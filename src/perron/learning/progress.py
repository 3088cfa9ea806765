"""A rich progress bar for federated training: one bar, the losses of the last round.

Examples
--------
>>> from perron.learning.metrics import RoundMetrics
>>> with TrainingProgress(2, enabled=False) as show:
...     show(RoundMetrics(1, 0.6, float("nan")))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from perron.learning.metrics import RoundMetrics


class TrainingProgress:
    """A context manager that gives a per-round callback drawing the bar (and calling
    ``then``, the researcher's own callback, if any)."""

    def __init__(
        self,
        rounds: int,
        *,
        enabled: bool = True,
        then: Callable[[RoundMetrics], None] | None = None,
    ) -> None:
        self.rounds = rounds
        self.enabled = enabled
        self.then = then
        self._bar: Progress | None = None
        self._line: TaskID | None = None

    def __enter__(self) -> Callable[[RoundMetrics], None]:
        if self.enabled:
            self._bar = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
            )
            self._bar.start()
            self._line = self._bar.add_task("", total=self.rounds)
        return self.show

    def show(self, metrics: RoundMetrics) -> None:
        if self._bar is not None and self._line is not None:
            text = (
                f"train loss {metrics.train_loss:.4f}" if not math.isnan(metrics.train_loss) else ""
            )
            if not math.isnan(metrics.validation_loss):
                text += f", validation {metrics.validation_loss:.4f}"
            self._bar.update(self._line, completed=metrics.round, description=text)
        if self.then is not None:
            self.then(metrics)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
