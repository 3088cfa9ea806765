"""Federated gradient-boosted trees against a centralised histogram implementation.

The reference (:func:`reference_margins`) is written here from the rows, in plain
numpy: the XGBoost gain with lambda, level-wise trees, and the same rule for where a
split may fall (bins merged left to right into runs of 0 or >= min_cell rows, with 0
or >= min_cell rows right of the cut). On one station, with the federated run's bin
edges, it must give the federated model's predictions to 1e-12.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score

import perron
from perron import DisclosureBlocked, InputError, Session, UnknownColumn
from perron.algorithms.core.base import StationContext
from perron.algorithms.core.secure_rounds import SECURE_SUM
from perron.algorithms.prediction.boosting import GradientBoosting, merge_runs
from perron.data.design import Design, Term
from perron.data.frame import FrameSource
from perron.learning.boosting import BoostedModel, Tree, design_matrix
from perron.learning.local import validation_split
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.grid import Grid
from perron.protocol.messages import Partial, Task
from perron.sandbox.localnet import LocalNetwork
from tests.conftest import split_frame

SHARES = (0.55, 0.3, 0.15)
FEATURES = [
    "mean_radius",
    "mean_texture",
    "mean_smoothness",
    "mean_concave_points",
    "worst_area",
    "worst_symmetry",
]


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    """scikit-learn's breast cancer data (569 rows, 212 malignant), snake_case columns."""
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return frame


class Recording:
    """A grid that keeps every round's task and partials."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.rounds: list[tuple[Task, Mapping[str, Partial]]] = []

    @property
    def stations(self) -> Sequence[str]:
        return self.grid.stations

    def run_round(self, task: Task) -> Mapping[str, Partial]:
        partials = self.grid.run_round(task)
        self.rounds.append((task, partials))
        return partials

    def grow_rounds(self) -> list[tuple[Task, Mapping[str, Partial]]]:
        return [(t, p) for t, p in self.rounds if t.params.get("step") == "grow"]


# -- the centralised reference ------------------------------------------------------------


def reference_margins(
    X: np.ndarray,
    y: np.ndarray,
    X_new: np.ndarray,
    edges: Sequence[Sequence[float]],
    *,
    loss: str,
    trees: int,
    depth: int,
    eta: float,
    lam: float,
    mcw: float,
    min_cell: int,
) -> np.ndarray:
    """Histogram gradient boosting on pooled rows; the margins of ``X_new``."""
    bins = [np.searchsorted(np.asarray(e), X[:, f], side="right") for f, e in enumerate(edges)]
    ybar = y.mean()
    base = math.log(ybar / (1 - ybar)) if loss == "logistic" else ybar
    margin = np.full(len(y), base)
    new = np.full(len(X_new), base)
    for _ in range(trees):
        if loss == "logistic":
            p = 1 / (1 + np.exp(-margin))
            g, h = p - y, p * (1 - p)
        else:
            g, h = margin - y, np.ones_like(y)
        leaf = np.zeros(len(y))
        leaf_new = np.zeros(len(X_new))
        stack = [(np.arange(len(y)), np.arange(len(X_new)), 0)]
        while stack:
            rows, rows_new, d = stack.pop()
            G, H = g[rows].sum(), h[rows].sum()
            split = None
            if d < depth:
                split = _reference_split(rows, g, h, G, H, bins, edges, lam, mcw, min_cell)
            if split is None:
                leaf[rows] = leaf_new[rows_new] = -G / (H + lam) * eta
                continue
            f, t = split
            stack.append((rows[X[rows, f] < t], rows_new[X_new[rows_new, f] < t], d + 1))
            stack.append((rows[X[rows, f] >= t], rows_new[X_new[rows_new, f] >= t], d + 1))
        margin = margin + leaf
        new = new + leaf_new
    return new


def _reference_split(
    rows: np.ndarray,
    g: np.ndarray,
    h: np.ndarray,
    G: float,
    H: float,
    bins: list[np.ndarray],
    edges: Sequence[Sequence[float]],
    lam: float,
    mcw: float,
    k: int,
) -> tuple[int, float] | None:
    parent = G * G / (H + lam)
    candidates = []
    for f, e in enumerate(edges):
        b_rows = bins[f][rows]
        counts = np.bincount(b_rows, minlength=len(e) + 1)
        run = seen = 0
        for b in range(len(e)):
            run += counts[b]
            seen += counts[b]
            rest = len(rows) - seen
            if (run == 0 or run >= k) and (rest == 0 or rest >= k):
                run = 0
                left = b_rows <= b
                GL, HL = g[rows][left].sum(), h[rows][left].sum()
                GR, HR = G - GL, H - HL
                if min(HL, HR) >= mcw and min(HL, HR) > 0:
                    gain = 0.5 * (GL**2 / (HL + lam) + GR**2 / (HR + lam) - parent)
                    candidates.append((gain, f, b))
    if not candidates:
        return None
    top = max(c[0] for c in candidates)
    if top <= 1e-12 * abs(parent):
        return None
    _, f, b = min((c for c in candidates if c[0] >= top - 1e-9 * abs(top)), key=lambda c: c[1:])
    return f, edges[f][b]


def _matrix(model: BoostedModel, frame: pd.DataFrame) -> np.ndarray:
    """The feature matrix written out here (numeric columns, level indicators)."""
    columns = []
    for term in model.design.terms:
        assert term.column is not None
        values = frame[term.column]
        columns.append(values == term.level if term.level is not None else values)
    return np.column_stack(columns).astype(float)


def _assert_equals_reference(model: BoostedModel, frame: pd.DataFrame, **settings: Any) -> None:
    X = _matrix(model, frame)
    y = frame[model.design.response].to_numpy(float)
    expected = reference_margins(X, y, X, model.edges, **settings)
    np.testing.assert_allclose(model.decision_function(frame), expected, rtol=0, atol=1e-12)


# -- equality with the centralised and the pooled fit ---------------------------------------


def test_one_station_equals_a_centralised_histogram_implementation(cancer):
    session = perron.simulate({"all": cancer})

    model = session.train_boosted("target", FEATURES, trees=8, depth=3, bins=32)

    assert len(model.trees) == 8
    assert all(t.depth == 3 for t in model.trees)
    assert sum(len(e) for e in model.edges) > 25 * len(FEATURES) // 2
    _assert_equals_reference(
        model, cancer, loss="logistic", trees=8, depth=3, eta=0.3, lam=1.0, mcw=1.0, min_cell=5
    )


def test_squared_error_on_one_station_equals_the_reference_with_categories(lbw):
    session = perron.simulate({"all": lbw})
    formula = "bwt ~ age + lwt + C(race) + smoke + ptl + ftv"

    model = session.train_boosted(
        formula, loss="squared_error", trees=6, depth=2, learning_rate=0.5, bins=16
    )

    assert model.features[2:5] == ["C(race)[black]", "C(race)[other]", "C(race)[white]"]
    assert model.base_score == pytest.approx(lbw["bwt"].mean(), rel=1e-14)
    settings = {"trees": 6, "depth": 2, "eta": 0.5, "lam": 1.0, "mcw": 1.0, "min_cell": 5}
    _assert_equals_reference(model, lbw, loss="squared_error", **settings)
    mse = model.card["metrics"]["final"]["train_loss"]
    residual = lbw["bwt"] - model.predict(lbw)
    assert mse == pytest.approx(float(np.mean(residual**2)), rel=1e-10)


def test_several_stations_grow_the_pooled_trees_with_the_same_edges(cancer):
    """Without merging (min_cell = 1) the added histograms are the pooled ones."""
    open_cells = DisclosurePolicy(min_cell=1)
    pooled = perron.simulate({"all": cancer}, disclosure=open_cells)
    reference = pooled.train_boosted("target", FEATURES, trees=10, depth=3)
    edges = dict(zip(reference.features, reference.edges, strict=True))
    frames = split_frame(cancer, (0.5, 0.25, 0.15, 0.1))

    model = perron.simulate(frames, disclosure=open_cells).train_boosted(
        "target", FEATURES, trees=10, depth=3, edges=edges
    )

    assert model.edges == reference.edges
    for ours, theirs in zip(model.trees, reference.trees, strict=True):
        assert ours.feature == theirs.feature
        assert ours.threshold == theirs.threshold
        np.testing.assert_allclose(ours.value, theirs.value, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        model.decision_function(cancer), reference.decision_function(cancer), rtol=0, atol=1e-12
    )
    assert model.nobs_per_station == {s: len(f) for s, f in frames.items()}


def test_gradient_histograms_add_up_to_the_pooled_histograms(cancer):
    """At every bin where all stations (and the pooled data) may cut, the added prefix
    sums of gradients and hessians are the pooled ones."""
    frames = split_frame(cancer, SHARES)
    recording = Recording(perron.simulate(frames).grid)
    Session(recording).train_boosted("target", FEATURES, trees=3, depth=3)
    pooled = perron.simulate({"all": cancer}).grid
    compared = 0

    for task, partials in recording.grow_rounds():
        answer = pooled.run_round(task)["all"].payload
        assert answer is not None
        cuts = sum(np.asarray(p.payload["cut"]) for p in partials.values() if p.payload)
        common = (cuts == len(frames)) & (np.asarray(answer["cut"]) == 1)
        for key in ("g", "h"):
            added = sum(np.asarray(p.payload[key]) for p in partials.values() if p.payload)
            prefix = np.cumsum(added, axis=-1)
            expected = np.cumsum(np.asarray(answer[key]), axis=-1)
            np.testing.assert_allclose(prefix[common], expected[common], rtol=1e-10, atol=1e-10)
        compared += int(common.sum())

    assert compared > 1000


def test_held_out_auc_on_breast_cancer(cancer):
    order = np.random.default_rng(20261123).permutation(len(cancer))
    held_out = cancer.iloc[order[:170]]
    training = cancer.iloc[order[170:]].reset_index(drop=True)
    columns = [c for c in cancer.columns if c != "target"]
    session = perron.simulate(split_frame(training, SHARES))

    model = session.train_boosted("target", columns, trees=30, depth=3)

    auc = roc_auc_score(held_out["target"], model.predict_proba(held_out)[:, 1])
    assert auc > 0.95
    accuracy = np.mean(model.predict(held_out) == held_out["target"])
    assert accuracy > 0.9
    losses = [m["train_loss"] for m in model.card["metrics"]["per_tree"]]
    assert len(losses) == 31
    assert losses[0] == pytest.approx(
        -(np.mean(training.target) * model.base_score) + np.log1p(np.exp(model.base_score)),
        rel=1e-12,
    )
    assert losses[-1] < losses[0] / 5


def test_early_stopping_on_the_held_out_loss_keeps_the_best_trees(cancer):
    frames = split_frame(cancer, SHARES)
    session = perron.simulate(frames)

    model = session.train_boosted(
        "target",
        FEATURES,
        trees=200,
        depth=4,
        learning_rate=0.9,
        validation=0.3,
        patience=4,
        seed=7,
    )

    per_tree = model.card["metrics"]["per_tree"]
    valid = [m["validation_loss"] for m in per_tree]
    assert model.card["training_procedure"]["stopped_early"] is True
    assert len(model.trees) < 60
    assert len(per_tree) == len(model.trees) + 1
    assert valid[-1] == min(valid)
    # The held-out rows are those each station draws from the seed; their log-loss at
    # the kept model is the reported validation loss.
    held = [
        frame[validation_split(len(frame), 0.3, 7, station)] for station, frame in frames.items()
    ]
    rows = pd.concat(held)
    p = model.predict_proba(rows)[:, 1]
    y = rows["target"].to_numpy(float)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert valid[-1] == pytest.approx(expected, rel=1e-9)


# -- disclosure control ----------------------------------------------------------------------


def test_no_released_sum_covers_fewer_than_min_cell_rows_of_a_station(cancer):
    frames = split_frame(cancer, SHARES)
    recording = Recording(perron.simulate(frames).grid)
    k = 8  # tightened by the request

    model = Session(recording).train_boosted(
        "target", FEATURES, trees=4, depth=3, disclosure={"min_cell": k}
    )

    merged = 0
    for task, partials in recording.grow_rounds():
        tree = Tree.from_wire(task.params["tree"])
        design = Design.from_wire(task.params["design"])
        for station, partial in partials.items():
            X = design_matrix(design, frames[station])
            node = tree.apply(X)
            assert partial.payload is not None
            cut = np.asarray(partial.payload["cut"])
            for slot, open_node in enumerate(task.params["open"]):
                rows = X[node == open_node]
                assert rows.shape[0] == 0 or rows.shape[0] >= k
                for f, edges in enumerate(task.params["edges"]):
                    counts = np.bincount(
                        np.searchsorted(edges, rows[:, f], side="right"),
                        minlength=cut.shape[-1],
                    )
                    ends = np.flatnonzero(cut[slot, f])
                    runs = np.add.reduceat(counts, np.r_[0, ends[:-1] + 1])
                    assert np.all((runs == 0) | (runs >= k))
                    merged += int(np.sum(counts[cut[slot, f] == 0] > 0))
    assert merged > 100  # small bins were merged, not released
    for frame in frames.values():
        X = design_matrix(model.design, frame)
        for tree in model.trees:
            per_leaf = np.bincount(tree.apply(X))
            assert np.all((per_leaf == 0) | (per_leaf >= k))
    assert any(d.rule == "min_cell" and d.threshold == k for d in model.decisions)


def test_merge_runs_keeps_small_tails_inside_a_run():
    counts = np.array([[[2.0, 3.0, 0.0, 0.0, 7.0, 1.0, 2.0]]])

    g, h, cut = merge_runs(counts, counts * 0.5, counts, 5)

    assert cut.tolist() == [[[0, 1, 1, 1, 0, 0, 1]]]
    assert g.tolist() == [[[0, 2.5, 0, 0, 0, 0, 5.0]]]
    assert h.sum() == counts.sum()


def test_a_station_refuses_a_node_the_coordinator_split_off_too_small():
    frame = pd.DataFrame({"y": [0, 1] * 10, "x": np.arange(20.0)})
    design = Design("y", (Term("x", "x"),))
    # A split at x < 2 leaves two rows on the left: an honest coordinator never sends it.
    tree = Tree((0, -1, -1), (2.0, 0.0, 0.0), (1, -1, -1), (2, -1, -1), (0.0, 0.0, 0.0))
    params = {
        "step": "grow",
        "loss": "logistic",
        "design": design.to_wire(),
        "edges": [[2.0, 10.0]],
        "base": 0.0,
        "trees": [],
        "tree": tree.to_wire(),
        "open": [1, 2],
    }
    context = StationContext("hospital", DisclosurePolicy())

    with pytest.raises(DisclosureBlocked) as error:
        GradientBoosting.station_step(FrameSource(frame), params, context)

    assert error.value.rule == "min_cell"
    assert "2" not in str(error.value).replace("min_cell", "")


def test_a_station_below_min_cell_rows_is_blocked(cancer):
    frames = {"big": cancer.iloc[:300], "tiny": cancer.iloc[300:304]}

    with pytest.raises(DisclosureBlocked) as error:
        perron.simulate(frames, disclosure=DisclosurePolicy(min_rows=2)).train_boosted(
            "target", FEATURES, trees=1
        )

    assert error.value.station == "tiny"


def test_secure_aggregation_gives_the_same_model(cancer):
    frames = split_frame(cancer, SHARES)
    plain = perron.simulate(frames).train_boosted("target", FEATURES, trees=5, depth=3)
    edges = dict(zip(plain.features, plain.edges, strict=True))

    secure = perron.simulate(frames, secure_aggregation=True).train_boosted(
        "target", FEATURES, trees=5, depth=3, edges=edges
    )

    assert secure.nobs_per_station == {SECURE_SUM: len(cancer)}
    assert secure.card["training_procedure"]["secure_aggregation"] is True
    for ours, theirs in zip(secure.trees, plain.trees, strict=True):
        assert ours.feature == theirs.feature
        assert ours.threshold == theirs.threshold
    np.testing.assert_allclose(
        secure.decision_function(cancer), plain.decision_function(cancer), atol=1e-9
    )


# -- the model: file, card, errors -------------------------------------------------------------


def test_save_load_round_trip_and_model_card(cancer, tmp_path):
    frames = split_frame(cancer, SHARES)
    model = perron.simulate(frames).train_boosted(
        "target", FEATURES, trees=3, depth=2, progress=True
    )

    path = model.save(tmp_path / "model.json")
    loaded = BoostedModel.load(path)

    document = json.loads(path.read_text())
    assert document["format"] == "perron.boosted_trees"
    assert document["version"] == 1
    assert [f["name"] for f in document["features"]] == FEATURES
    np.testing.assert_array_equal(loaded.predict_proba(cancer), model.predict_proba(cancer))
    card = loaded.card
    assert card["training_data"]["data_holders"] == ["s0", "s1", "s2"]
    assert card["training_data"]["cohort_sizes"] == {s: len(f) for s, f in frames.items()}
    assert card["training_procedure"]["depth"] == 2
    assert card["training_procedure"]["reg_lambda"] == 1.0
    assert card["model_details"]["started"] <= card["model_details"]["finished"]
    assert len(card["metrics"]["per_tree"]) == 4
    assert "min_cell" in card["revealed"]


def test_wrong_requests_raise_input_errors(cancer, lbw, tmp_path):
    session = perron.simulate({"all": lbw})
    with pytest.raises(InputError, match="loss"):
        session.train_boosted("low", ["age"], loss="poisson")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="0/1"):
        session.train_boosted("bwt", ["age", "lwt"], trees=1)
    with pytest.raises(InputError, match="patience"):
        session.train_boosted("low", ["age"], patience=3)
    with pytest.raises(InputError, match="edges"):
        session.train_boosted("low", ["age"], edges={"weight": [1.0]})
    model = session.train_boosted("bwt", ["age", "lwt"], loss="squared_error", trees=2)
    with pytest.raises(InputError, match="predict"):
        model.predict_proba(lbw)
    with pytest.raises(UnknownColumn):
        model.predict(lbw.drop(columns="lwt"))
    (tmp_path / "other.json").write_text(json.dumps({"format": "onnx"}))
    with pytest.raises(InputError, match="format"):
        BoostedModel.load(tmp_path / "other.json")


# -- real processes ------------------------------------------------------------------------------


def test_boosting_through_a_hub_and_station_processes(cancer, tmp_path):
    frames = split_frame(cancer[[*FEATURES[:4], "target"]], SHARES)
    expected = perron.simulate(frames).train_boosted("target", FEATURES[:4], trees=3, depth=2)

    with LocalNetwork(frames, workdir=tmp_path) as network:
        session = network.connect()
        model = session.train_boosted("target", FEATURES[:4], trees=3, depth=2)
        session.close()

    assert model.edges == expected.edges
    np.testing.assert_allclose(
        model.decision_function(cancer), expected.decision_function(cancer), rtol=0, atol=1e-12
    )
    assert model.nobs_per_station == expected.nobs_per_station
