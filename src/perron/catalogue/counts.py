"""A count through the holder's disclosure rules, before it goes into the catalogue.

The numbers of records and of individuals are released like any table count a
station releases (:func:`perron.privacy.rules.release_counts`): a count between 0
and ``min_cell`` is suppressed, every other count is rounded to ``round_counts``
when the holder rounds. One rule, one implementation: the catalogue cannot publish
what an analysis could not.

Stations use this module; the hub does not (it never imports :mod:`perron.privacy`):
it checks only that a published count is consistent with the rule it names
(:class:`~perron.catalogue.metadata.PublishedCount`).

Examples
--------
>>> from perron.privacy.policy import DisclosurePolicy
>>> str(published(1234, DisclosurePolicy(min_cell=10, round_counts=10)))
'1230'
>>> str(published(7, DisclosurePolicy(min_cell=10)))
'< 10'
"""

from __future__ import annotations

import math

import numpy as np

from perron.catalogue.metadata import PublishedCount
from perron.privacy.policy import DisclosurePolicy
from perron.privacy.rules import release_counts
from perron.protocol.errors import InputError


def published(
    count: int, policy: DisclosurePolicy, *, station: str = "catalogue"
) -> PublishedCount:
    """``count`` as the catalogue may show it under ``policy``.

    Parameters
    ----------
    count
        The exact count at the station (never leaves it).
    policy
        The holder's disclosure settings (tightened for the catalogue if it wants).
    station
        Named in the disclosure decision (for logs).

    Raises
    ------
    InputError
        ``count`` is negative.
    """
    if count < 0:
        raise InputError(f"a count cannot be negative ({count}); count the rows again.")
    released, _ = release_counts(station, np.array([count], dtype=np.int64), policy, "catalogue")
    value = float(released[0])
    return PublishedCount(
        value=None if math.isnan(value) else round(value),
        min_cell=policy.min_cell,
        rounded_to=policy.round_counts,
    )
