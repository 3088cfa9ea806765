"""Federated histograms: exact bin counts where safe, small cells suppressed."""

from __future__ import annotations

import numpy as np
import pytest

import perron
from perron import DisclosurePolicy, InputError


def test_bin_counts_equal_numpy(randhie, split):
    session = perron.simulate(split(randhie, (0.6, 0.25, 0.15)))
    edges = np.linspace(0, 8, 9)

    result = session.histogram("lpi", edges)

    expected, _ = np.histogram(randhie["lpi"], bins=edges)
    np.testing.assert_array_equal(result.counts, expected)
    assert result.below == (randhie["lpi"] < 0).sum()
    assert result.above == (randhie["lpi"] > 8).sum()


def test_integer_bins_span_the_1st_to_99th_percentile(whas500, split):
    session = perron.simulate(split(whas500, (0.6, 0.25, 0.15)))

    result = session.histogram("age", bins=5)

    # The smallest station's 1% tail is below the cell minimum, so the federated
    # percentile may be coarse; the edges are whatever the disclosure-safe run gave.
    low, high = session.quantiles("age", (0.01, 0.99)).values
    assert result.edges[0] == low
    assert result.edges[-1] == high
    assert len(result.counts) == 5
    inside = (whas500["age"] >= low) & (whas500["age"] <= high)
    assert np.nansum(result.counts) <= inside.sum()


def test_small_bins_are_suppressed(lbw, split):
    session = perron.simulate(split(lbw, (0.6, 0.25, 0.15)))

    result = session.histogram("age", [14, 16, 20, 30, 40, 46])

    assert np.isnan(result.counts).any()
    for counts in result.per_station.values():
        shown = counts[~np.isnan(counts)]
        assert ((shown == 0) | (shown >= 5)).all()


def test_rounding_applies_to_bins(lbw, split):
    session = perron.simulate(
        split(lbw, (0.6, 0.4)), disclosure=DisclosurePolicy(min_cell=1, round_counts=10)
    )

    result = session.histogram("age", [10, 20, 30, 50])

    assert (result.counts % 10 == 0).all()


def test_bad_edges_are_rejected(lbw, split):
    session = perron.simulate(split(lbw, (0.6, 0.4)))
    with pytest.raises(InputError, match="increasing"):
        session.histogram("age", [3, 2, 1])
