"""Federated quantiles equal numpy's ``inverted_cdf`` quantiles of the pooled data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perron
from perron import DisclosurePolicy, InputError

PROBS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def test_quantiles_of_randhie_equal_pooled(randhie, split):
    session = perron.simulate(split(randhie, (0.6, 0.25, 0.15)))

    result = session.quantiles("lpi", PROBS)

    expected = np.quantile(randhie["lpi"], PROBS, method="inverted_cdf")
    np.testing.assert_array_equal(result.values.to_numpy(), expected)
    assert result.exact.all()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    values=st.lists(st.integers(min_value=-50, max_value=50), min_size=60, max_size=300),
    k=st.integers(min_value=2, max_value=5),
    q=st.floats(min_value=0.2, max_value=0.8),
)
def test_random_splits_equal_pooled(values, k, q):
    frame = pd.DataFrame({"x": np.asarray(values, dtype=float)})
    parts = np.array_split(np.arange(len(values)), k)
    stations = {f"s{i}": frame.iloc[p] for i, p in enumerate(parts)}
    session = perron.simulate(stations, disclosure=DisclosurePolicy(min_rows=1, min_cell=1))

    result = session.quantiles("x", [q])

    assert result.values.iloc[0] == np.quantile(values, q, method="inverted_cdf")


def test_small_tail_counts_are_suppressed_and_coarsen_the_result():
    # Station b holds two values far below everyone else: locating the 1% quantile
    # would need its lower-tail count, which is below the cell minimum.
    rng = np.random.default_rng(7)
    a = pd.DataFrame({"x": rng.normal(100, 10, 400)})
    b = pd.DataFrame({"x": np.concatenate([[0.0, 1.0], rng.normal(100, 10, 40)])})
    session = perron.simulate({"a": a, "b": b})

    result = session.quantiles("x", [0.003, 0.5])

    assert not result.exact.loc[0.003]
    assert result.resolution.loc[0.003] > 0
    assert result.exact.loc[0.5]
    assert any(d.rule == "min_cell" and d.outcome == "suppressed" for d in result.decisions)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1])
def test_minimum_and_maximum_are_not_quantiles(lbw, split, q):
    with pytest.raises(InputError, match="disclosive"):
        perron.simulate(split(lbw, (0.5, 0.5))).quantiles("age", [q])
