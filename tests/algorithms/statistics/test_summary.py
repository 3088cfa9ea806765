"""Federated summary statistics equal the pooled ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perron
from perron import DisclosurePolicy, NonNumericColumn
from tests.support import assert_close

SHARES = (0.60, 0.25, 0.15)


def test_combined_moments_equal_pooled(whas500, split):
    columns = ["age", "bmi", "hr", "sysbp"]
    session = perron.simulate(split(whas500, SHARES))

    result = session.summary(columns)

    for column in columns:
        row = result.table.loc[(column, "combined"), :]
        assert row["count"] == whas500[column].count()
        assert_close(row["mean"], whas500[column].mean())
        assert_close(row["var"], whas500[column].var())
        assert_close(row["std"], whas500[column].std())
        expected = np.quantile(whas500[column], [0.25, 0.5, 0.75], method="inverted_cdf")
        assert_close(row[["25%", "50%", "75%"]].to_numpy(dtype=float), expected)


def test_per_station_rows_and_missing_counts(lbw, split):
    data = lbw.astype({"lwt": float})
    data.loc[[3, 4, 5], "lwt"] = np.nan
    stations = split(data, SHARES)
    session = perron.simulate(stations)

    table = session.summary(["lwt"], quantiles=None).table

    for name, frame in stations.items():
        assert table.loc[("lwt", name), "missing"] == frame["lwt"].isna().sum()
        assert_close(table.loc[("lwt", name), "mean"], frame["lwt"].mean())
    assert table.loc[("lwt", "combined"), "missing"] == 3


def test_min_and_max_are_withheld_by_default(lbw, split):
    result = perron.simulate(split(lbw, SHARES)).summary(["age"], quantiles=None)

    assert "min" not in result.table.columns
    assert any(d.rule == "release_extremes" and d.outcome == "withheld" for d in result.decisions)


def test_min_and_max_are_released_where_the_holder_allows(lbw, split):
    session = perron.simulate(
        split(lbw, SHARES), disclosure=DisclosurePolicy(release_extremes=True)
    )

    table = session.summary(["age"], quantiles=None).table

    assert table.loc[("age", "combined"), "min"] == lbw["age"].min()
    assert table.loc[("age", "combined"), "max"] == lbw["age"].max()


def test_text_column_is_rejected(lbw, split):
    with pytest.raises(NonNumericColumn):
        perron.simulate(split(lbw, SHARES)).summary(["race"])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    values=st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=40, max_size=200
    ),
    k=st.integers(min_value=2, max_value=4),
)
def test_random_splits_give_the_pooled_mean_and_variance(values, k):
    frame = pd.DataFrame({"x": values})
    parts = np.array_split(np.arange(len(values)), k)
    policy = DisclosurePolicy(min_rows=1)
    session = perron.simulate(
        {f"s{i}": frame.iloc[p] for i, p in enumerate(parts)}, disclosure=policy
    )

    row = session.summary(["x"], quantiles=None).table.loc[("x", "combined"), :]

    scale = max(1.0, float(np.abs(values).max()))
    np.testing.assert_allclose(row["mean"], np.mean(values), rtol=1e-8, atol=1e-10 * scale)
    np.testing.assert_allclose(row["var"], np.var(values, ddof=1), rtol=1e-8, atol=1e-10 * scale**2)
