"""Counts go into the catalogue through the holder's disclosure rules, as table counts do."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perron.catalogue.counts import published
from perron.catalogue.metadata import PublishedCount
from perron.privacy.policy import DisclosurePolicy
from perron.privacy.rules import release_counts
from perron.protocol.errors import InputError

policies = st.builds(
    DisclosurePolicy,
    min_cell=st.integers(1, 20),
    round_counts=st.one_of(st.none(), st.integers(1, 100)),
)


@given(count=st.integers(0, 10**9), policy=policies)
def test_a_published_count_is_what_a_station_releases_for_a_table_cell(count, policy):
    released, _ = release_counts("s", np.array([count], dtype=np.int64), policy, "cell")

    shown = published(count, policy)

    expected = float(released[0])
    assert shown.value == (None if math.isnan(expected) else round(expected))
    assert shown.min_cell == policy.min_cell
    assert shown.rounded_to == policy.round_counts
    # It passes the hub's consistency check, which it must to be stored.
    assert PublishedCount.model_validate(shown.model_dump()) == shown


@pytest.mark.parametrize(
    ("count", "min_cell", "round_counts", "shown"),
    [
        (0, 5, None, "0"),
        (4, 5, None, "< 5"),
        (5, 5, None, "5"),
        (1234, 5, None, "1234"),
        (1234, 10, 10, "1230"),
        (1235, 10, 10, "1240"),
        (9, 10, 10, "< 10"),
    ],
)
def test_small_counts_are_suppressed_and_others_rounded(count, min_cell, round_counts, shown):
    policy = DisclosurePolicy(min_cell=min_cell, round_counts=round_counts)

    assert str(published(count, policy)) == shown


def test_a_negative_count_is_a_mistake():
    with pytest.raises(InputError, match="cannot be negative"):
        published(-1, DisclosurePolicy())
