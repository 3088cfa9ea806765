"""What the researcher sees after each round of federated training.

The losses of round ``k`` are those of the global model after round ``k``: the
stations evaluate the weights they receive before training on them, so these
numbers arrive with the next round's answers (or, after the last round, with one
evaluation round that trains nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RoundMetrics:
    """One round of training.

    ``train_loss`` and ``validation_loss`` are mean log-losses (minus the mean
    log-likelihood per row, penalty not included) over the stations' training and
    held-out rows; ``NaN`` where not released (no validation rows; differentially
    private training releases no losses). ``n`` holds the training rows per station
    (one pooled entry under secure aggregation), ``seconds`` the wall time of the
    round (sending the task to combining the answers).
    """

    round: int
    train_loss: float
    validation_loss: float
    n: Mapping[str, int] = field(default_factory=dict)
    n_validation: Mapping[str, int] = field(default_factory=dict)
    seconds: float = math.nan
    improved: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "train_loss": _json_float(self.train_loss),
            "validation_loss": _json_float(self.validation_loss),
            "n": dict(self.n),
            "n_validation": dict(self.n_validation),
            "seconds": _json_float(self.seconds),
            "improved": self.improved,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundMetrics:
        return cls(
            round=int(data["round"]),
            train_loss=_float(data.get("train_loss")),
            validation_loss=_float(data.get("validation_loss")),
            n={str(k): int(v) for k, v in dict(data.get("n", {})).items()},
            n_validation={str(k): int(v) for k, v in dict(data.get("n_validation", {})).items()},
            seconds=_float(data.get("seconds")),
            improved=bool(data.get("improved", False)),
        )


def _json_float(value: float) -> float | None:
    """JSON has no NaN: a missing number is ``null``."""
    return None if math.isnan(value) else value


def _float(value: object) -> float:
    return math.nan if value is None else float(str(value))
