"""A crosstab of holder A's variable against holder B's on linked records, not pooled.

The reference is pandas on the pooled, merged records; the protocol must equal it
exactly, apply the strictest holder's rules, and let no value, key or exact count
reach the coordinator or the helper in the clear.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import perron
from perron.algorithms.core.base import StationContext
from perron.algorithms.linkage.linked_crosstab import LinkedCrosstab
from perron.algorithms.linkage.relay import open_from, seal_for
from perron.crypto.keys import KeyPair
from perron.crypto.prg import new_seed, uint64s
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError, TamperedMessage
from perron.protocol.grid import Grid
from perron.protocol.messages import Partial, Task
from perron.secure.beaver import ColumnHolder, RowHolder, Shape, combine, deal


def _holders(seed: int = 5) -> dict[str, pd.DataFrame]:
    """Hospital (diagnosis), insurer (care level) and pharmacy over 400 people, partly shared."""
    rng = np.random.default_rng(seed)
    people = [f"ps-{i:04d}" for i in range(400)]
    frames = {}
    for name, share in (("hospital", 0.75), ("insurer", 0.6), ("pharmacy", 0.3)):
        chosen = [p for p in people if rng.random() < share]
        frames[name] = pd.DataFrame({"pid": chosen})
    n = len(frames["hospital"])
    frames["hospital"]["diagnosis"] = rng.choice(
        ["cvd", "cancer", "diabetes"], n, p=[0.5, 0.3, 0.2]
    )
    frames["hospital"].loc[rng.random(n) < 0.1, "diagnosis"] = None
    m = len(frames["insurer"])
    frames["insurer"]["care"] = rng.choice([1, 2, 3, 4], m, p=[0.4, 0.3, 0.2, 0.1])
    frames["insurer"]["cost"] = rng.lognormal(7, 1, m)
    frames["pharmacy"]["statin"] = rng.choice(["yes", "no"], len(frames["pharmacy"]))
    return frames


def _pooled(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    merged = frames["hospital"].merge(frames["insurer"], on="pid")
    return pd.crosstab(merged["diagnosis"], merged["care"]).astype(float)


def test_the_linked_table_equals_pandas_on_the_pooled_merged_records():
    frames = _holders()
    session = perron.simulate(frames, link_column="pid", disclosure=DisclosurePolicy(min_cell=1))

    result = session.linked_crosstab(
        ("hospital", "diagnosis"), ("insurer", "care"), helper="pharmacy"
    )

    expected = _pooled(frames)
    pd.testing.assert_frame_equal(result.table, expected, check_names=False, check_index_type=False)
    assert list(result.table.index) == ["cancer", "cvd", "diabetes"]
    assert [int(c) for c in result.table.columns] == [1, 2, 3, 4]
    assert "hospital.diagnosis x insurer.care" in str(result)


def test_the_strictest_holders_rules_guard_the_release():
    frames = _holders()
    policies = {
        "hospital": DisclosurePolicy(min_cell=3),
        "insurer": DisclosurePolicy(min_cell=12),
        "pharmacy": DisclosurePolicy(min_cell=1, round_counts=5),
    }
    session = perron.simulate(frames, link_column="pid", disclosure=policies)

    result = session.linked_crosstab(
        ("hospital", "diagnosis"), ("insurer", "care"), helper="pharmacy"
    )

    exact = _pooled(frames).to_numpy()
    released = result.table.to_numpy()
    small = (exact > 0) & (exact < 12)
    assert small.any()
    assert (~small).any()
    assert np.isnan(released[small]).all()
    np.testing.assert_array_equal(released[~small], np.round(exact[~small] / 5) * 5)
    rules = {(d.station, d.rule, d.outcome) for d in result.decisions}
    assert ("pharmacy", "min_cell", "suppressed") in rules
    assert ("pharmacy", "round_counts", "rounded") in rules


class _Recording:
    """A grid that keeps every task and partial the coordinator handles."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.seen: list[str] = []

    @property
    def stations(self):
        return self.grid.stations

    def run_round(self, task: Task):
        self.seen.append(json.dumps(task.params, default=str))
        partials = self.grid.run_round(task)
        for partial in partials.values():
            self.seen.append(json.dumps(partial.payload, default=str))
        return partials


def test_the_coordinator_sees_no_key_no_value_and_only_released_counts():
    frames = _holders()
    session = perron.simulate(frames, link_column="pid")
    recording = _Recording(session._grid)
    algorithm = LinkedCrosstab(("hospital", "diagnosis"), ("insurer", "care"), "pharmacy")

    algorithm.run(recording)

    traffic = "\n".join(recording.seen)
    assert len(recording.seen) > 10
    for pid in frames["hospital"]["pid"]:
        assert pid not in traffic
    # the last round's partials, in station order: only the helper releases counts
    last = [json.loads(text) for text in recording.seen[-len(session.stations) :]]
    released = last[list(session.stations).index("pharmacy")]
    assert [p for p in last if p] == [released]
    exact = _pooled(frames).to_numpy()
    assert ((exact > 0) & (exact < 5)).any()  # there are small cells to protect
    assert all(v is None or v == 0 or v >= 5 for line in released["counts"] for v in line)
    # sealed messages only: no readable field names of the protocol's bodies
    for word in ('"masked": ', '"share": ', '"seed": ', '"mask_seed": ', '"linked": '):
        assert word not in traffic


def test_a_share_replayed_into_another_session_or_step_is_rejected():
    a, b = KeyPair.generate(), KeyPair.generate()
    peers = {"a": a.public(), "b": b.public()}
    item = seal_for(
        {"x": 1}, kind="mask", session="s1", sender="a", recipient="b", peer=b.public(), own=a
    )
    relayed = {"from": "a", "sealed": item["sealed"]}

    assert open_from(relayed, kind="mask", session="s1", recipient="b", own=b, peers=peers) == {
        "x": 1
    }
    with pytest.raises(TamperedMessage, match="session"):
        open_from(relayed, kind="mask", session="s2", recipient="b", own=b, peers=peers)
    with pytest.raises(TamperedMessage, match="kind"):
        open_from(relayed, kind="share", session="s1", recipient="b", own=b, peers=peers)
    with pytest.raises(TamperedMessage):
        open_from(
            {"from": "b", "sealed": item["sealed"]},
            kind="mask",
            session="s1",
            recipient="b",
            own=b,
            peers=peers,
        )
    flipped = (
        item["sealed"][:-6] + ("A" if item["sealed"][-6] != "A" else "B") + item["sealed"][-5:]
    )
    with pytest.raises(TamperedMessage):
        open_from(
            {"from": "a", "sealed": flipped},
            kind="mask",
            session="s1",
            recipient="b",
            own=b,
            peers=peers,
        )


def test_the_beaver_product_is_exact_and_each_message_is_masked():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(3, 50)).astype(np.uint64)
    y = rng.integers(0, 2, size=(50, 4)).astype(np.uint64)
    part_a, part_b = deal(Shape(3, 50, 4))
    a, b = RowHolder(part_a, x), ColumnHolder(part_b, y)
    r = new_seed()

    e, f = a.masked(), b.masked()
    table = combine(a.share(f, r), b.share(e, r))

    np.testing.assert_array_equal(table, (x @ y).astype(np.int64))
    # E = X - U with U the helper's stream: without the seed, E carries no trace of X
    u = uint64s(part_a.seed, "U", (3, 50))
    np.testing.assert_array_equal(e + u, x)
    assert len(np.unique(e)) == e.size  # uniform 64-bit values, not 0/1
    assert len(np.unique(f)) == f.size


def test_beaver_refuses_matrices_of_another_shape():
    part_a, _ = deal(Shape(2, 5, 3))
    with pytest.raises(InputError, match="shape"):
        RowHolder(part_a, np.zeros((2, 6), dtype=np.uint64))
    with pytest.raises(InputError, match="integers"):
        RowHolder(part_a, np.zeros((2, 5), dtype=np.float64))


@pytest.mark.parametrize(
    ("row", "col", "helper", "message"),
    [
        (("hospital", "diagnosis"), ("hospital", "care"), "pharmacy", "two different holders"),
        (("hospital", "diagnosis"), ("insurer", "care"), "insurer", "third party"),
        (("hospital", "diagnosis"), ("insurer", "care"), "lab", "not stations"),
    ],
)
def test_bad_parties_are_refused_before_any_round(row, col, helper, message):
    session = perron.simulate(_holders(), link_column="pid")
    with pytest.raises(InputError, match=message):
        session.linked_crosstab(row, col, helper=helper)


def test_an_unknown_column_and_a_station_without_link_keys_are_named():
    frames = _holders()
    session = perron.simulate(frames, link_column="pid")
    with pytest.raises(InputError, match="'smoking' is not a variable of this station"):
        session.linked_crosstab(("hospital", "smoking"), ("insurer", "care"), helper="pharmacy")
    unlinked = perron.simulate({k: v.drop(columns="pid") for k, v in frames.items()})
    with pytest.raises(InputError, match="no link key column"):
        unlinked.linked_crosstab(("hospital", "diagnosis"), ("insurer", "care"), helper="pharmacy")


def test_a_person_on_several_rows_is_refused():
    frames = _holders()
    frames["insurer"] = pd.concat([frames["insurer"], frames["insurer"].iloc[:3]])
    session = perron.simulate(frames, link_column="pid")
    with pytest.raises(InputError, match="more than one row"):
        session.linked_crosstab(("hospital", "diagnosis"), ("insurer", "care"), helper="pharmacy")


def test_a_message_swapped_in_transit_stops_the_session():
    frames = _holders()
    session = perron.simulate(frames, link_column="pid")
    grid = session._grid

    class _Lying:
        stations = grid.stations

        def run_round(self, task: Task):
            partials = dict(grid.run_round(task))
            if (
                task.params["stage"] == "dims"
            ):  # the relay passes the hospital's off as the insurer's
                insurer = partials["insurer"]
                payload = dict(insurer.payload or {})
                payload["messages"] = [dict(partials["hospital"].payload or {})["messages"][0]]
                partials["insurer"] = Partial(
                    insurer.station, payload, insurer.decisions, insurer.error
                )
            return partials

    algorithm = LinkedCrosstab(("hospital", "diagnosis"), ("insurer", "care"), "pharmacy")
    with pytest.raises(TamperedMessage):
        algorithm.run(_Lying())


def test_station_step_ignores_a_station_outside_the_three_parties():
    output = LinkedCrosstab.station_step(
        None,  # type: ignore[arg-type]
        {"row": ["a", "x"], "col": ["b", "y"], "helper": "c", "stage": "keys", "session": "s"},
        StationContext("d", DisclosurePolicy()),
    )
    assert output.payload == {}
