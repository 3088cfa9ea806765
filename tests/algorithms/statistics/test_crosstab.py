"""Federated contingency tables: exact where safe, small cells suppressed."""

from __future__ import annotations

import numpy as np
import pandas as pd

import perron
from perron import DisclosurePolicy


def test_combined_table_equals_pooled_crosstab(lbw, split):
    session = perron.simulate(
        split(lbw, (0.6, 0.25, 0.15)), disclosure=DisclosurePolicy(min_cell=1)
    )

    result = session.crosstab("race", "smoke")

    expected = pd.crosstab(lbw["race"], lbw["smoke"]).astype(float)
    pd.testing.assert_frame_equal(result.table, expected, check_names=True)
    assert sum(result.nobs_per_station.values()) == len(lbw)


def test_small_cells_are_suppressed_at_the_station(lbw, split):
    stations = split(lbw, (0.6, 0.25, 0.15))
    session = perron.simulate(stations)

    result = session.crosstab("race", "ht")

    for name, frame in stations.items():
        local = pd.crosstab(frame["race"], frame["ht"])
        released = result.per_station[name].reindex(index=local.index, columns=local.columns)
        small = (local > 0) & (local < 5)
        assert released.to_numpy()[small.to_numpy()].size == small.to_numpy().sum()
        assert np.isnan(released.to_numpy()[small.to_numpy()]).all()
        assert (released.to_numpy()[~small.to_numpy()] == local.to_numpy()[~small.to_numpy()]).all()
    assert any(d.outcome == "suppressed" for d in result.decisions)
    assert result.table.isna().to_numpy().any()


def test_counts_are_rounded_when_the_holder_asks(lbw, split):
    policy = DisclosurePolicy(min_cell=1, round_counts=5)
    session = perron.simulate(split(lbw, (0.6, 0.25, 0.15)), disclosure=policy)

    result = session.crosstab("race", "smoke")

    for table in result.per_station.values():
        assert (table.to_numpy() % 5 == 0).all()
    assert any(d.rule == "round_counts" for d in result.decisions)
