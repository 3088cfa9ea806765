"""The differencing guard that counts and overlaps share: one ledger per requester.

A station refuses a cohort that differs from an earlier one of the same requester by
fewer than ``min_difference`` records, the same cohort counted more than
``max_repeats`` times, and every query of a requester refused ``max_repeats`` times
(``lockout``). Both :mod:`~perron.algorithms.feasibility.counts` and
:mod:`~perron.algorithms.feasibility.overlap` call :func:`guard` before they count.
"""

from __future__ import annotations

from perron.algorithms.core.base import StationContext
from perron.data.cohort import Cohort
from perron.data.source import DataSource
from perron.protocol.errors import DisclosureBlocked
from perron.protocol.messages import Decision

MIN_DIFFERENCE = "min_difference"
MAX_REPEATS = "max_repeats"
LOCKOUT = "lockout"
#: How many earlier cohorts of a requester the guard compares with (newest first).
HISTORY = 200


def guard(cohort: Cohort, data: DataSource, context: StationContext) -> list[Decision]:
    """Refuse a repeat or a near copy of an earlier cohort of the same requester."""
    policy, station, requester = context.policy, context.station, context.requester
    ledger = context.ledger
    if ledger.refusals(requester) >= policy.max_repeats:
        raise DisclosureBlocked(
            station,
            LOCKOUT,
            policy.max_repeats,
            f"Requester {requester!r} is locked out of feasibility counts here after "
            "repeated refused queries; ask the data holder to review and lift the lockout.",
        )
    for wire, times in ledger.earlier(requester)[-HISTORY:]:
        earlier = Cohort.from_wire(wire)
        if earlier.fingerprint == cohort.fingerprint:
            if times >= policy.max_repeats:
                ledger.refuse(requester)
                raise DisclosureBlocked(
                    station,
                    MAX_REPEATS,
                    policy.max_repeats,
                    "This cohort was counted as often as the data holder allows.",
                )
            continue
        if cohort.difference(earlier, data) < policy.min_difference:
            ledger.refuse(requester)
            raise DisclosureBlocked(
                station,
                MIN_DIFFERENCE,
                policy.min_difference,
                "The cohort is too close to one counted before for the same requester "
                "(a differencing risk); define a clearly different cohort.",
            )
    ledger.record(requester, cohort.fingerprint, cohort.to_wire())
    return [
        Decision(station, MIN_DIFFERENCE, policy.min_difference, "passed", "feasibility"),
        Decision(station, MAX_REPEATS, policy.max_repeats, "passed", "feasibility"),
    ]
