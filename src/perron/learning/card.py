"""The model card saved next to a trained model's weights (a JSON document).

It follows the headings of Mitchell et al. (2019), "Model Cards for Model
Reporting", as far as a federated run can fill them: model details (kind,
architecture, outcome and predictors, date, Perron version), the training data (the
data holders and their cohort sizes; the rows never left them), the training
procedure (strategy, rounds, hyper-parameters, early stopping), metrics per round
and at the end, differential privacy spent per station, and what each round
revealed. Fields a run cannot know (intended use, ethical considerations) are left
for the researcher to fill in under ``"intended_use"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from perron.learning.metrics import RoundMetrics

#: The version of the card's layout (bumped when fields change meaning).
CARD_VERSION = 1

REVEALED_PER_ROUND = (
    "Each round every station releases: its number of training rows (and held-out "
    "rows), the sum of its training rows' log-loss and of its held-out rows' log-loss "
    "at the global weights it received, and its training rows times its locally "
    "updated weights (n_k * w_k, one vector of the model's size). Under secure "
    "aggregation only the sums over the stations are seen. Under differential "
    "privacy the local weights come from noisy gradient steps and no losses are "
    "released."
)


def perron_version() -> str:
    try:
        return metadata.version("perron")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


def build_card(
    *,
    model: Mapping[str, Any],
    stations: Sequence[str],
    nobs: Mapping[str, int],
    nobs_validation: Mapping[str, int],
    started: datetime,
    history: Sequence[RoundMetrics],
    best_round: int,
    stopped_early: bool,
    hyperparameters: Mapping[str, Any],
    privacy: Mapping[str, Any] | None,
    secure_aggregation: bool,
) -> dict[str, Any]:
    """The card of a finished run (plain JSON types)."""
    best = next((m for m in history if m.round == best_round), None)
    final: dict[str, Any] = {}
    if best is not None:
        final = {
            "round": best.round,
            "train_loss": _number(best.train_loss),
            "validation_loss": _number(best.validation_loss),
        }
    return {
        "card_version": CARD_VERSION,
        "model_details": {
            **model,
            "trained_with": f"perron {perron_version()} (federated, numpy)",
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "training_data": {
            "data_holders": list(stations),
            "cohort_sizes": {
                "training": dict(nobs),
                "validation": dict(nobs_validation),
            },
            "rows_left_the_stations": False,
        },
        "training_procedure": {
            **hyperparameters,
            "rounds_run": len(history),
            "best_round": best_round,
            "stopped_early": stopped_early,
            "secure_aggregation": secure_aggregation,
        },
        "metrics": {"final": final, "per_round": [m.to_dict() for m in history]},
        "differential_privacy": None if privacy is None else dict(privacy),
        "revealed_per_round": REVEALED_PER_ROUND,
        "intended_use": None,
    }


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value
