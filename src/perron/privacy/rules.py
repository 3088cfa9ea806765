"""The disclosure rules a station applies to its own output.

Each rule either passes (and says so in a :class:`~perron.protocol.messages.Decision`)
or raises :class:`~perron.protocol.errors.DisclosureBlocked` naming the station, the
rule and the threshold. No message contains the number the rule protects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import DisclosureBlocked
from perron.protocol.messages import Decision, Outcome

MIN_ROWS = "min_rows"
MIN_CELL = "min_cell"
GLM_SATURATION = "glm_saturation"
LEVELS_DENSITY = "levels_density"
ROUNDING = "round_counts"
EXTREMES = "release_extremes"


def check_min_rows(station: str, n: int, policy: DisclosurePolicy, subject: str) -> Decision:
    """Block an analysis of fewer than ``policy.min_rows`` rows."""
    if n < policy.min_rows:
        raise DisclosureBlocked(
            station,
            MIN_ROWS,
            policy.min_rows,
            f"Too few complete rows for {subject}; use fewer columns with missing values "
            "or leave this station out.",
        )
    return Decision(station, MIN_ROWS, policy.min_rows, "passed", subject)


def check_level_density(
    station: str, n_levels: int, n: int, policy: DisclosurePolicy, column: str
) -> Decision:
    """DataSHIELD's level-density rule: more than ``levels_density`` x rows distinct
    levels make a column (nearly) an identifier, which is not released."""
    if n_levels > policy.levels_density * n:
        raise DisclosureBlocked(
            station,
            LEVELS_DENSITY,
            policy.levels_density,
            f"Column {column!r} has too many distinct levels for its number of rows; "
            "group its levels before using it as a category.",
        )
    return Decision(station, LEVELS_DENSITY, policy.levels_density, "passed", column)


def check_levels(
    station: str,
    counts: Mapping[Any, int],
    n: int,
    policy: DisclosurePolicy,
    column: str,
    *,
    zero_ok: bool = True,
) -> list[Decision]:
    """Every level of a categorical/binary column must hold ``min_cell`` rows, and the
    column must pass the level-density rule.

    With ``zero_ok=False`` (levels known in advance, such as a 0/1 outcome) an
    absent level is blocked too.
    """
    density = check_level_density(station, len(counts), n, policy, column)
    smallest = 0 if zero_ok else -1
    for count in counts.values():
        if smallest < count < policy.min_cell:
            raise DisclosureBlocked(
                station,
                MIN_CELL,
                policy.min_cell,
                f"A level of column {column!r} has too few rows; merge rare levels "
                "or leave this station out.",
            )
    return [density, Decision(station, MIN_CELL, policy.min_cell, "passed", f"levels of {column}")]


def check_saturation(
    station: str, n_params: int, n: int, policy: DisclosurePolicy, subject: str
) -> Decision:
    """Block a model with more than ``max_params_ratio`` parameters per row."""
    if n_params > policy.max_params_ratio * n:
        raise DisclosureBlocked(
            station,
            GLM_SATURATION,
            policy.max_params_ratio,
            f"The model {subject} has too many parameters for the rows at this station; "
            "use fewer predictors or fewer categorical levels.",
        )
    return Decision(station, GLM_SATURATION, policy.max_params_ratio, "passed", subject)


def check_extremes(station: str, policy: DisclosurePolicy, subject: str) -> Decision:
    """Minimum and maximum are released only where the holder allows it."""
    outcome: Outcome = "passed" if policy.release_extremes else "withheld"
    return Decision(station, EXTREMES, None, outcome, subject)


def release_counts(
    station: str, counts: npt.NDArray[np.int64], policy: DisclosurePolicy, subject: str
) -> tuple[npt.NDArray[np.float64], list[Decision]]:
    """Apply the small-cells rule and optional rounding to a table of counts.

    Cells with ``0 < count < min_cell`` are suppressed (``NaN``); zeros and cells at
    or above the threshold are released, rounded to ``round_counts`` when set.
    """
    released = counts.astype(np.float64)
    small = (counts > 0) & (counts < policy.min_cell)
    released[small] = np.nan
    outcome: Outcome = "suppressed" if bool(small.any()) else "passed"
    decisions = [Decision(station, MIN_CELL, policy.min_cell, outcome, subject)]
    if policy.round_counts is not None:
        base = float(policy.round_counts)
        released = np.round(released / base) * base
        decisions.append(Decision(station, ROUNDING, policy.round_counts, "rounded", subject))
    return released, decisions
