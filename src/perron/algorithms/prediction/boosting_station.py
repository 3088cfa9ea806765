"""The station side of the federated gradient-boosted trees.

The station steps of :class:`~perron.algorithms.prediction.boosting.GradientBoosting`
(``prepare``, ``sketch``, ``grow`` and ``evaluate``), the limits a station checks in
every request, and :func:`merge_runs`, which merges adjacent histogram bins into runs
of 0 or at least ``min_cell`` rows. The rounds and the disclosure control are
described in :mod:`perron.algorithms.prediction.boosting`, which holds the
coordinator. A step reads everything it needs from its parameters (the station stays
stateless).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from perron.algorithms.core.base import Payload, StationContext, StationOutput
from perron.algorithms.core.checks import (
    predictor_levels,
    require_columns,
    require_numeric,
    require_rows,
)
from perron.data.design import Design
from perron.data.source import DataSource
from perron.learning.boosting import Tree, margins, sigmoid
from perron.learning.local import validation_split
from perron.privacy.rules import MIN_CELL, check_levels, release_counts
from perron.protocol.errors import DisclosureBlocked, InputError
from perron.protocol.messages import Decision

FloatArray = npt.NDArray[np.float64]

MAX_TREES = 1000
MAX_DEPTH = 10
MAX_BINS = 256
#: Cells of the fine grid the edges are chosen from.
SKETCH_CELLS = 256


def station_prepare(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    response = str(params["response"])
    numeric: list[str] = [str(c) for c in params["numeric"]]
    categorical: list[str] = [str(c) for c in params["categorical"]]
    model_columns = [response, *numeric, *categorical]
    require_columns(data, model_columns, context)
    require_numeric(data, [response, *numeric], context)
    n = data.complete_count(model_columns)
    decisions: list[Decision] = [require_rows(n, context, "the boosted trees")]
    _require_cell(n, context, "the rows of the boosted trees")
    if params["loss"] == "logistic":
        counts = data.value_counts([response], model_columns)
        if not {k[0] for k in counts} <= {0, 1}:
            raise InputError(
                f"the logistic outcome {response!r} must be coded 0/1 at station "
                f"{context.station!r}; recode it before training."
            )
        both = {level: counts.get((level,), 0) for level in (0, 1)}
        decisions += check_levels(context.station, both, n, context.policy, response, zero_ok=False)
    more, levels = predictor_levels(data, numeric, categorical, model_columns, n, context)
    decisions += more
    moments: dict[str, list[float]] = {}
    for column in numeric:
        m = data.moments(column)
        moments[column] = [float(m.n), m.n * m.mean, m.m2 + m.n * m.mean * m.mean]
    payload = {
        "n": n,
        "dropped": data.complete_count([]) - n,
        "stations": 1,
        "levels": levels,
        "moments": moments,
    }
    return StationOutput(payload, decisions)


def _rows(
    data: DataSource, design: Design, params: Payload, context: StationContext
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Training rows (X, y) and held-out rows (X, y); each 0 or >= min_cell rows."""
    X, y, _ = data.design_arrays(design)
    fraction = float(params.get("validation", 0.0))
    if not 0 <= fraction < 1:
        raise InputError("the held-out fraction must lie in [0, 1).")
    held = validation_split(y.size, fraction, int(params.get("seed", 0)), context.station)
    _require_cell(int(np.sum(~held)), context, "the training rows of the boosted trees")
    _require_cell(int(np.sum(held)), context, "the held-out rows of the boosted trees")
    return X[~held], y[~held], X[held], y[held]


def station_sketch(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    design = Design.from_wire(params["design"])
    X, y, _, _ = _rows(data, design, params, context)
    cells = int(params["cells"])
    if not 1 <= cells <= 4 * SKETCH_CELLS:
        raise InputError(f"the sketch grid must have 1 to {4 * SKETCH_CELLS} cells.")
    sketch: dict[str, list[float | None]] = {}
    decisions: list[Decision] = []
    for key, (lo, hi) in params["grids"].items():
        j = int(key)
        if not 0 <= j < X.shape[1]:
            raise InputError("the sketch names a feature the design does not have.")
        grid = np.linspace(float(lo), float(hi), cells + 1)
        counts = np.bincount(np.searchsorted(grid, X[:, j], side="right"), minlength=cells + 2)
        released, more = release_counts(
            context.station,
            counts.astype(np.int64),
            context.policy,
            f"grid of {design.terms[j].name}",
        )
        decisions += more
        sketch[key] = [None if math.isnan(v) else v for v in released.tolist()]
    return StationOutput({"n": int(y.size), "ysum": float(np.sum(y)), "sketch": sketch}, decisions)


def _gradients(
    loss: str, y: FloatArray, margin: FloatArray
) -> tuple[FloatArray, FloatArray, float]:
    """Gradient, hessian and summed loss of every row at ``margin``."""
    if loss == "logistic":
        p = sigmoid(margin)
        total = float(np.sum(np.logaddexp(0.0, margin) - y * margin))
        return p - y, p * (1.0 - p), total
    residual = margin - y
    return residual, np.ones_like(y), float(np.sum(residual * residual))


def _ensemble(params: Payload) -> tuple[Design, list[Tree]]:
    design = Design.from_wire(params["design"])
    trees = [Tree.from_wire(t) for t in params["trees"]]
    if len(trees) > MAX_TREES:
        raise InputError(f"at most {MAX_TREES} trees.")
    for tree in trees:
        if max(tree.feature) >= len(design.terms):
            raise InputError("a tree uses a feature the design does not have.")
    return design, trees


def station_evaluate(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    design, trees = _ensemble(params)
    X, y, X_valid, y_valid = _rows(data, design, params, context)
    base = float(params["base"])
    _, _, loss = _gradients(str(params["loss"]), y, margins(base, trees, X))
    _, _, valid = _gradients(str(params["loss"]), y_valid, margins(base, trees, X_valid))
    payload = {"n": int(y.size), "loss": loss, "valid_n": int(y_valid.size), "valid_loss": valid}
    return StationOutput(payload, [])


def station_grow(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    design, trees = _ensemble(params)
    tree = Tree.from_wire(params["tree"])
    if tree.depth >= MAX_DEPTH or max(tree.feature) >= len(design.terms):
        raise InputError("the tree being grown is too deep or uses an unknown feature.")
    edges = [np.asarray(e, dtype=np.float64) for e in params["edges"]]
    if len(edges) != len(design.terms) or any(e.size > MAX_BINS - 1 for e in edges):
        raise InputError(f"one list of at most {MAX_BINS - 1} edges per feature is needed.")
    opened = [int(node) for node in params["open"]]
    if any(not 0 <= node < tree.size or tree.feature[node] >= 0 for node in opened):
        raise InputError("an open node of the tree is not one of its leaves.")
    X, y, X_valid, y_valid = _rows(data, design, params, context)
    base = float(params["base"])
    g, h, loss = _gradients(str(params["loss"]), y, margins(base, trees, X))
    _, _, valid = _gradients(str(params["loss"]), y_valid, margins(base, trees, X_valid))
    # The slot of each row's open node (-1: the row sits in a finished leaf).
    slot_of = np.full(tree.size, -1, dtype=np.intp)
    slot_of[opened] = np.arange(len(opened))
    slot = slot_of[tree.apply(X)]
    inside = slot >= 0
    n_open, n_features = len(opened), len(edges)
    n_bins = max(e.size for e in edges) + 1
    counts = np.zeros((n_open, n_features, n_bins), dtype=np.float64)
    sum_g = np.zeros_like(counts)
    sum_h = np.zeros_like(counts)
    for f, e in enumerate(edges):
        index = slot[inside] * n_bins + np.searchsorted(e, X[inside, f], side="right")
        size = n_open * n_bins
        counts[:, f] = np.bincount(index, minlength=size).reshape(n_open, n_bins)
        sum_g[:, f] = np.bincount(index, weights=g[inside], minlength=size).reshape(n_open, n_bins)
        sum_h[:, f] = np.bincount(index, weights=h[inside], minlength=size).reshape(n_open, n_bins)
    k = context.policy.min_cell
    node_rows = np.bincount(slot[inside], minlength=n_open)
    if np.any((node_rows > 0) & (node_rows < k)):
        # An honest coordinator splits only where every station keeps >= min_cell rows
        # on both sides, so this is a tree built to single rows out.
        raise DisclosureBlocked(
            context.station,
            MIN_CELL,
            k,
            "A node of the tree being grown holds too few of this station's rows; the "
            "coordinator split where the station did not allow it. Report this request.",
        )
    run_g, run_h, cut = merge_runs(counts, sum_g, sum_h, k)
    decisions = []
    if params.get("first"):
        merged = bool(np.any(cut == 0))
        decisions.append(
            Decision(
                context.station,
                MIN_CELL,
                k,
                "suppressed" if merged else "passed",
                "gradient histograms (bins merged into runs of >= min_cell rows)",
            )
        )
    payload = {
        "n": int(y.size),
        "loss": loss,
        "valid_n": int(y_valid.size),
        "valid_loss": valid,
        "g": run_g.tolist(),
        "h": run_h.tolist(),
        "cut": cut.tolist(),
    }
    return StationOutput(payload, decisions)


def merge_runs(
    counts: FloatArray, g: FloatArray, h: FloatArray, min_cell: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Merge adjacent bins (last axis) into runs of 0 or at least ``min_cell`` rows.

    A run ends after bin ``b`` when it holds 0 or ``>= min_cell`` rows and the rows
    after ``b`` are 0 or ``>= min_cell``. Returns the run sums of ``g`` and ``h`` in
    each run's last bin (zero elsewhere) and ``cut`` (1 where a run ends). With
    0 or ``>= min_cell`` rows in total, the last bin always ends a run.

    Examples
    --------
    >>> c = np.array([[3.0, 0.0, 4.0, 6.0, 1.0]])
    >>> _, _, cut = merge_runs(c, c, c, 5)
    >>> cut.tolist()
    [[0.0, 0.0, 1.0, 0.0, 1.0]]
    """
    total = counts.sum(axis=-1)
    run = np.zeros(total.shape)
    run_g = np.zeros(total.shape)
    run_h = np.zeros(total.shape)
    seen = np.zeros(total.shape)
    out_g = np.zeros_like(g)
    out_h = np.zeros_like(h)
    cut = np.zeros_like(counts)
    for b in range(counts.shape[-1]):
        run += counts[..., b]
        run_g += g[..., b]
        run_h += h[..., b]
        seen += counts[..., b]
        rest = total - seen
        ends = ((run == 0) | (run >= min_cell)) & ((rest == 0) | (rest >= min_cell))
        out_g[..., b] = np.where(ends, run_g, 0.0)
        out_h[..., b] = np.where(ends, run_h, 0.0)
        cut[..., b] = ends
        run = np.where(ends, 0.0, run)
        run_g = np.where(ends, 0.0, run_g)
        run_h = np.where(ends, 0.0, run_h)
    return out_g, out_h, cut


def _require_cell(n: int, context: StationContext, subject: str) -> None:
    if 0 < n < context.policy.min_cell:
        raise DisclosureBlocked(
            context.station,
            MIN_CELL,
            context.policy.min_cell,
            f"Too few complete rows for {subject}; leave this station out.",
        )
