"""The overlap report: PSI between stations through the coordinator, counts only out."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

import perron
from perron.algorithms.core.base import StationContext
from perron.algorithms.feasibility.overlap import Overlap
from perron.client.grid import InMemoryGrid
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError
from perron.protocol.messages import Partial, Task


def _holders(seed: int = 3) -> dict[str, pd.DataFrame]:
    """Three holders drawing from 300 people, with partial coverage and missing values."""
    rng = np.random.default_rng(seed)
    people = [f"ps-{i:04d}" for i in range(300)]
    frames = {}
    for name, share in (("hospital", 0.7), ("insurer", 0.5), ("pharmacy", 0.4)):
        chosen = [p for p in people if rng.random() < share]
        frames[name] = pd.DataFrame(
            {
                "pid": chosen,
                "age": np.where(rng.random(len(chosen)) < 0.2, np.nan, 50.0),
                "bmi": np.where(rng.random(len(chosen)) < 0.1, np.nan, 25.0),
            }
        )
    return frames


def test_the_overlap_equals_the_set_overlaps_of_the_pooled_keys():
    frames = _holders()
    keys = {name: set(frame["pid"]) for name, frame in frames.items()}

    report = perron.simulate(frames, link_column="pid").overlap()

    assert report.sizes == {name: float(len(k)) for name, k in keys.items()}
    for a, b in combinations(keys, 2):
        assert report.pairwise[(a, b)] == len(keys[a] & keys[b])
    assert report.overlap == len(keys["hospital"] & keys["insurer"] & keys["pharmacy"])
    assert report.coverage["pharmacy"] == pytest.approx(
        100 * report.overlap / len(keys["pharmacy"])
    )


def test_missingness_on_the_linked_set_equals_pandas_on_the_linked_rows():
    frames = _holders()
    linked = set.intersection(*(set(frame["pid"]) for frame in frames.values()))

    report = perron.simulate(frames, link_column="pid").overlap(["age", "bmi"])

    keys = {name: set(frame["pid"]) for name, frame in frames.items()}
    for a, b in combinations(keys, 2):  # the pairwise counts are there with variables too
        assert report.pairwise[(a, b)] == len(keys[a] & keys[b])

    for name, frame in frames.items():
        rows = frame[frame["pid"].isin(linked)]
        for column in ("age", "bmi"):
            expected = int(rows[column].isna().sum())
            shown = float(
                report.missing[name].to_numpy(dtype=float)[list(report.missing.index).index(column)]
            )
            assert (np.isnan(shown) and 0 < expected < 5) or shown == expected


def test_small_overlaps_are_suppressed_by_the_holders_rule():
    a = pd.DataFrame({"pid": [f"p{i}" for i in range(40)], "x": 1.0})
    b = pd.DataFrame({"pid": [f"p{i}" for i in range(37, 80)], "x": 1.0})  # 3 shared

    report = perron.simulate(
        {"a": a, "b": b}, link_column="pid", disclosure=DisclosurePolicy(min_cell=5)
    ).overlap()

    assert np.isnan(report.overlap)
    assert report.sizes == {"a": 40.0, "b": 43.0}
    assert any(d.rule == "min_cell" and d.outcome == "suppressed" for d in report.decisions)


def test_the_coordinator_sees_no_pseudonym_and_no_point_in_the_clear():
    frames = _holders()
    seen: list[str] = []
    session = perron.simulate(frames, link_column="pid")
    grid = session.grid
    assert isinstance(grid, InMemoryGrid)

    class Spy:
        stations = grid.stations

        def run_round(self, task: Task) -> dict[str, Partial]:
            partials = dict(grid.run_round(task))
            seen.append(json.dumps([p.payload for p in partials.values()]))
            return partials

    Overlap(grid.stations).run(Spy())

    traffic = "".join(seen)
    assert not any(pid in traffic for frame in frames.values() for pid in frame["pid"])


def test_a_station_without_link_keys_refuses_with_a_clear_error():
    frames = {"a": pd.DataFrame({"x": [1.0] * 20}), "b": pd.DataFrame({"x": [1.0] * 20})}
    with pytest.raises(InputError, match="link key column"):
        perron.simulate(frames).overlap()


def test_the_released_counts_do_not_grow_with_the_rows():
    def report_payload(n: int) -> list[str]:
        frames = {
            "a": pd.DataFrame({"pid": [f"p{i}" for i in range(n)], "x": 1.0}),
            "b": pd.DataFrame({"pid": [f"p{i}" for i in range(n // 2, 2 * n)], "x": 1.0}),
        }
        report = perron.simulate(frames, link_column="pid").overlap(["x"])
        return sorted(report.table.index) + sorted(report.missing.index)

    assert report_payload(30) == report_payload(3000)


def test_overlap_needs_two_stations():
    with pytest.raises(InputError):
        Overlap(["only"])


def test_station_context_without_linkage_is_refused():
    context = StationContext("s", DisclosurePolicy())
    with pytest.raises(InputError):
        Overlap.station_step(None, {"session": "x", "stage": "keys"}, context)  # type: ignore[arg-type]
