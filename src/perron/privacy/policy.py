"""A data holder's disclosure settings, and how a request may tighten them.

The thresholds follow DataSHIELD (``nfilter.tab``, ``nfilter.glm``,
``nfilter.levels.density``) and vantage6's algorithm environment, with the
defaults of the field's statistical disclosure control practice: at least 10 rows
per station, at least 5 units per released cell, at most 0.33 model parameters per
row. The data holder sets them; a request may only make them stricter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from perron.protocol.errors import InputError, LooseningRejected

#: Settings where a larger value is stricter.
_LARGER_IS_STRICTER = frozenset(
    {"min_rows", "min_cell", "round_counts", "count_floor", "count_round", "min_difference"}
)
#: Settings where a smaller value is stricter.
_SMALLER_IS_STRICTER = frozenset({"max_params_ratio", "levels_density", "max_repeats"})
#: Feasibility count precisions from loosest to strictest (Beacon v2 terms).
_PRECISIONS = ("exact", "rounded", "imprecise")
#: Time resolutions from loosest to strictest.
_TIME_LEVELS = ("exact", "rounded", "none")


@dataclass(frozen=True)
class DisclosurePolicy:
    """Disclosure settings of one station.

    Parameters
    ----------
    min_rows
        Smallest number of (complete) rows a station analyses at all.
    min_cell
        Smallest non-zero count a released cell, level or tail may hold.
    max_params_ratio
        Largest number of model parameters per analysed row (GLM saturation).
    levels_density
        Largest number of distinct levels of a categorical column per row.
    round_counts
        Released table counts are rounded to a multiple of this base (``None``: exact).
    release_extremes
        Whether minimum and maximum values may be released.
    event_times
        How survival analyses may use time values: ``"exact"`` (full resolution),
        ``"rounded"`` (every time rounded up to a multiple of ``time_grid`` first) or
        ``"none"`` (survival analyses are blocked).
    time_grid
        The rounding grid for ``event_times="rounded"`` (in the data's time unit).
    min_events
        Smallest number of events a survival release may show at one time; a
        station merges its event times into blocks of at least this many events
        (``None``: the same as ``min_cell``). A holder who rounds times to a grid may
        accept single events at that resolution (``min_events=1``).
    count_precision
        How feasibility counts are released (Beacon v2): ``"exact"``, ``"rounded"``
        (below ``count_floor`` as "< floor", others rounded up to ``count_round``) or
        ``"imprecise"`` (only "< floor" or ">= floor").
    count_floor, count_round
        The floor and rounding base of feasibility counts.
    min_difference
        A feasibility query whose cohort differs from an earlier cohort of the same
        requester by fewer than this many records (zero included) is refused: the
        difference of the two counts would single people out (differencing); 0
        switches the guard off.
    max_repeats
        How often one requester may count the same cohort.

    Examples
    --------
    >>> holder = DisclosurePolicy(min_cell=10)
    >>> holder.tightened({"min_rows": 50}).min_rows
    50
    """

    min_rows: int = 10
    min_cell: int = 5
    max_params_ratio: float = 0.33
    levels_density: float = 0.33
    round_counts: int | None = None
    release_extremes: bool = False
    event_times: Literal["exact", "rounded", "none"] = "exact"
    time_grid: float | None = None
    min_events: int | None = None
    count_precision: Literal["exact", "rounded", "imprecise"] = "rounded"
    count_floor: int = 10
    count_round: int = 10
    min_difference: int = 10
    max_repeats: int = 3

    @property
    def event_block(self) -> int:
        """The effective minimum number of events per released time."""
        return self.min_cell if self.min_events is None else self.min_events

    def __post_init__(self) -> None:
        if self.event_times not in _TIME_LEVELS:
            raise InputError("event_times must be 'exact', 'rounded' or 'none'.")
        if self.event_times == "rounded" and (self.time_grid is None or self.time_grid <= 0):
            raise InputError("event_times='rounded' needs a positive time_grid (e.g. 7 days).")
        if self.min_rows < 1 or self.min_cell < 1:
            raise InputError("min_rows and min_cell must be at least 1.")
        if not 0 < self.max_params_ratio <= 1 or not 0 < self.levels_density <= 1:
            raise InputError("max_params_ratio and levels_density must lie in (0, 1].")
        if self.min_events is not None and self.min_events < 1:
            raise InputError("min_events must be a positive integer or None.")
        if self.count_precision not in _PRECISIONS:
            raise InputError("count_precision must be 'exact', 'rounded' or 'imprecise'.")
        if min(self.count_floor, self.count_round, self.max_repeats) < 1 or self.min_difference < 0:
            raise InputError(
                "count_floor, count_round and max_repeats must be at least 1, min_difference "
                "at least 0 (0 switches the differencing guard off)."
            )
        if self.round_counts is not None and self.round_counts < 1:
            raise InputError("round_counts must be a positive integer or None.")

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping (for tasks and audit logs)."""
        return asdict(self)

    def tightened(self, request: Mapping[str, Any]) -> DisclosurePolicy:
        """Apply a request's settings, which may only be stricter than the holder's.

        Raises
        ------
        LooseningRejected
            If a requested setting is looser than the holder's.
        InputError
            If a requested setting does not exist.
        """
        known = {f.name for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, wanted in request.items():
            if name not in known:
                raise InputError(
                    f"unknown disclosure setting {name!r}; known settings: {sorted(known)}."
                )
            if wanted is None:
                continue
            current = getattr(self, name)
            if not _is_at_least_as_strict(name, current, wanted):
                raise LooseningRejected(
                    f"the request asks {name}={wanted!r}, looser than the data holder's "
                    f"{name}={current!r}; a request may only tighten disclosure settings."
                )
            changes[name] = wanted
        return replace(self, **changes)

    def combined(self, other: DisclosurePolicy) -> DisclosurePolicy:
        """The stricter of the two on every setting.

        For a release that two holders' rules guard (a table over linked records).

        Examples
        --------
        >>> a = DisclosurePolicy(min_cell=10)
        >>> b = DisclosurePolicy(min_cell=5, round_counts=5)
        >>> both = a.combined(b)
        >>> both.min_cell, both.round_counts
        (10, 5)
        """
        changes: dict[str, Any] = {}
        for setting in fields(self):
            mine, theirs = getattr(self, setting.name), getattr(other, setting.name)
            if theirs is None or mine == theirs:
                continue
            if _is_at_least_as_strict(setting.name, mine, theirs):
                changes[setting.name] = theirs
        return replace(self, **changes)


def _is_at_least_as_strict(name: str, current: Any, wanted: Any) -> bool:
    if name in _LARGER_IS_STRICTER:
        if current is None:
            return True
        return bool(wanted >= current)
    if name in _SMALLER_IS_STRICTER:
        return bool(wanted <= current)
    if name == "count_precision":
        return wanted in _PRECISIONS and _PRECISIONS.index(wanted) >= _PRECISIONS.index(current)
    if name == "event_times":
        return wanted in _TIME_LEVELS and _TIME_LEVELS.index(wanted) >= _TIME_LEVELS.index(current)
    if name == "min_events":
        return current is None or bool(wanted >= current)
    if name == "time_grid":
        return current is None or bool(wanted >= current)
    # release_extremes: only False is stricter than True.
    return bool(current or not wanted)
