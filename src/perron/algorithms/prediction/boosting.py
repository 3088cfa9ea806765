"""Federated gradient-boosted trees by split finding on added gradient histograms.

Horizontal partitioning: every station holds all features for its own rows. The
trees are grown level by level (as XGBoost's ``hist`` method) on bins that all
stations share, so a station's contribution to a split search is a histogram of
gradient sums, and the pooled histogram is the sum of the stations' (SecureBoost's
observation; Cheng et al. 2021, here for horizontally split data).
This module holds the coordinator; the station steps are in
:mod:`perron.algorithms.prediction.boosting_station`.

Rounds
------
``prepare``
    Each station checks the columns, counts complete rows, applies the level rules
    to a 0/1 outcome and to binary and categorical features, and releases the levels
    of the categorical features, plus count, sum and sum of squares of every numeric
    feature (what a summary releases).
``sketch``
    On a fixed fine grid of 256 cells over ``mean +- 4 sd`` of each numeric feature
    (from the pooled moments), each station releases its counts per cell with the
    small-cells rule applied, and the sum of its outcome. From the pooled grid
    counts the coordinator picks up to ``bins - 1`` edges per feature near the
    pooled quantiles ``k / bins``; an edge is always a grid point, never a data
    value. Indicator features get the edge 0.5. Edges given by the caller skip the
    grid. The base margin is the pooled log-odds (logistic) or mean of the outcome.
``grow`` (one round per tree level)
    The parameters carry the finished trees and the tree being grown, so the
    station stays stateless. Each station computes the gradients ``g`` and hessians
    ``h`` of the loss at the current ensemble's margins (logistic: ``p - y`` and
    ``p (1 - p)``; squared error: ``m - y`` and ``1``), routes its rows to the open
    nodes of the tree and releases, per open node, per feature and per bin, the
    sums of ``g`` and ``h``, plus the training loss summed over its rows.
``evaluate``
    The training loss of the final ensemble.

The coordinator adds the histograms, and for every open node and candidate split
(left: ``x < edge``) computes the XGBoost gain

    gain = 1/2 [G_L^2 / (H_L + lambda) + G_R^2 / (H_R + lambda) - G^2 / (H + lambda)] - gamma

with ``H_L, H_R >= min_child_weight``; the best positive gain splits the node (ties
within 1e-9 relative go to the lowest feature, then the lowest bin). Leaves get
the weight ``-G / (H + lambda) * learning_rate``. With the same bins, the trees are
those a centralised histogram implementation grows on the pooled rows.

Disclosure control: runs of bins
--------------------------------
A bin holding one row would release that row's gradient, and for the logistic loss
the sign of ``p - y`` is the outcome. So a station never releases a bin sum over
fewer than ``min_cell`` of its rows. Per node and feature it merges adjacent bins
into runs, left to right: a run ends after bin ``b`` when the run holds 0 or at
least ``min_cell`` rows *and* the rows right of ``b`` are 0 or at least ``min_cell``.
It releases each run's sums in the run's last bin (zeros elsewhere) and ``cut = 1``
there. A split after bin ``b`` is a candidate only where every station has a cut
(the pooled ``cut`` equals the number of stations), because only there are all
prefix sums exact. Hence every child of every split holds 0 or at least
``min_cell`` rows of each station, and by induction every node and leaf does; a
station refuses (:class:`DisclosureBlocked`) a node with fewer, which an honest
coordinator never sends. Counts are not released (for the squared error ``H``
is the count of a run, which is 0 or at least ``min_cell``).

Every release is additive and the layout is fixed (open nodes x features x bins),
so the rounds run under secure aggregation (:mod:`perron.algorithms.core.secure_rounds`):
the coordinator then sees only sums over the stations, and the cut counts say
where all stations allow a split.

What remains revealed (see docs/boosting.md): gradient and hessian sums over
groups of at least ``min_cell`` rows of a station, which in the first tree (one
margin for all rows) amount to the number of outcomes per group, like a GLM's
``X'y`` on indicator columns; the fine-grid counts of the sketch; the training
loss per round. Node sets of different trees overlap, and with known margins a
semi-honest coordinator can combine sums across trees; the station, being
stateless, cannot stop a malicious coordinator that sends different trees in
different rounds. Secure aggregation blurs both across stations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    FederatedResult,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.core.secure_rounds import SECURE_SUM
from perron.algorithms.prediction.boosting_station import (
    MAX_BINS,
    MAX_DEPTH,
    MAX_TREES,
    SKETCH_CELLS,
    merge_runs,
    station_evaluate,
    station_grow,
    station_prepare,
    station_sketch,
)
from perron.data.design import Design, pool_levels
from perron.data.source import DataSource
from perron.learning.boosting import LOSSES, BoostedModel, Loss, Tree
from perron.privacy.rules import LEVELS_DENSITY, MIN_CELL, MIN_ROWS, ROUNDING
from perron.protocol.errors import InputError, ModelError

__all__ = [
    "MAX_BINS",
    "MAX_DEPTH",
    "MAX_TREES",
    "REVEALED",
    "SKETCH_CELLS",
    "SKETCH_SPREAD",
    "BoostingResult",
    "GradientBoosting",
    "Stage",
    "merge_runs",
]

FloatArray = npt.NDArray[np.float64]

#: The grid spans the pooled mean plus and minus this many standard deviations.
SKETCH_SPREAD = 4.0
#: Gains within this relative distance of the best are ties.
_TIE = 1e-9
#: A split must gain more than this relative to the node's score (rounding noise).
_MIN_GAIN = 1e-12
#: The count assumed for a suppressed grid cell when placing edges.
_SUPPRESSED_CELL = 2.0

Stage = Literal["prepare", "sketch", "grow", "evaluate"]

REVEALED = (
    "prepare: per station the complete rows, the rows dropped, the levels of categorical "
    "features (each >= min_cell rows) and count, sum and sum of squares per numeric "
    "feature. sketch: counts per cell of a fixed fine grid per numeric feature (cells "
    "under min_cell suppressed) and the sum of the outcome. Each tree level: per open "
    "node, feature and bin the sums of gradients and hessians over runs of bins that "
    "hold 0 or >= min_cell rows of the station, where the runs end, and the summed "
    "training loss. Under secure aggregation only sums over the stations are seen."
)


@dataclass(frozen=True, kw_only=True)
class BoostingResult(FederatedResult):
    """The trained model (see :class:`~perron.learning.boosting.BoostedModel`)."""

    model: BoostedModel


@dataclass(frozen=True)
class _State:
    stage: Stage
    started: str
    design: Design | None = None
    nobs: Mapping[str, int] = field(default_factory=dict)
    dropped: Mapping[str, int] = field(default_factory=dict)
    stations: int = 0
    moments: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    grids: Mapping[int, tuple[float, float]] = field(default_factory=dict)
    edges: tuple[tuple[float, ...], ...] = ()
    base: float = 0.0
    trees: tuple[Tree, ...] = ()
    tree: Tree = field(default_factory=Tree.root)
    open: tuple[int, ...] = (0,)
    level: int = 0
    history: tuple[float, ...] = ()
    valid_history: tuple[float, ...] = ()
    secure: bool = False


class GradientBoosting(FederatedAlgorithm[_State, BoostingResult]):
    """Gradient-boosted regression trees (logistic or squared-error loss)."""

    name = "boosted_trees"
    contract = DisclosureContract(
        releases={
            "n": "scalar: complete rows",
            "dropped": "scalar: rows dropped for missing values",
            "stations": "scalar: 1 (summed, the number of stations)",
            "levels": "levels of each categorical feature (each held by >= min_cell rows)",
            "moments": "per numeric feature: count, sum, sum of squares",
            "sketch": f"per numeric feature: {SKETCH_CELLS + 2} grid counts (small cells None)",
            "ysum": "scalar: sum of the outcome",
            "g": "open nodes x features x bins: gradient sums of runs of >= min_cell rows",
            "h": "open nodes x features x bins: hessian sums of the same runs",
            "cut": "open nodes x features x bins: 1 where a run ends",
            "loss": "scalar: training loss summed over the rows",
            "valid_n": "scalar: held-out rows (0 or >= min_cell)",
            "valid_loss": "scalar: loss summed over the held-out rows",
        },
        rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, ROUNDING),
    )
    max_rounds = 3 + MAX_TREES * MAX_DEPTH

    def __init__(
        self,
        spec: ModelSpec,
        *,
        loss: str = "logistic",
        trees: int = 50,
        depth: int = 3,
        learning_rate: float = 0.3,
        bins: int = 32,
        reg_lambda: float = 1.0,
        min_child_weight: float = 1.0,
        min_split_loss: float = 0.0,
        edges: Mapping[str, Sequence[float]] | None = None,
        validation: float = 0.0,
        patience: int | None = None,
        seed: int = 0,
        on_tree: Callable[[int, float], None] | None = None,
    ) -> None:
        if loss not in LOSSES:
            raise InputError(f"loss must be one of {LOSSES}, not {loss!r}.")
        if not 1 <= trees <= MAX_TREES:
            raise InputError(f"trees must lie between 1 and {MAX_TREES}.")
        if not 1 <= depth <= MAX_DEPTH:
            raise InputError(f"depth must lie between 1 and {MAX_DEPTH}.")
        if not 2 <= bins <= MAX_BINS:
            raise InputError(f"bins must lie between 2 and {MAX_BINS}.")
        if not learning_rate > 0 or reg_lambda < 0 or min_child_weight < 0 or min_split_loss < 0:
            raise InputError(
                "learning_rate must be positive; reg_lambda, min_child_weight and "
                "min_split_loss must not be negative."
            )
        if not 0 <= validation < 1:
            raise InputError("validation is the fraction of rows held out: 0 <= validation < 1.")
        if patience is not None and (patience < 1 or validation == 0):
            raise InputError(
                "patience (trees without a better validation loss) must be a positive "
                "number and needs validation > 0."
            )
        self.spec = replace(spec, intercept=False)
        self.loss: Loss = "logistic" if loss == "logistic" else "squared_error"
        self.trees = trees
        self.depth = depth
        self.learning_rate = float(learning_rate)
        self.bins = bins
        self.reg_lambda = float(reg_lambda)
        self.min_child_weight = float(min_child_weight)
        self.min_split_loss = float(min_split_loss)
        self.given_edges = {str(k): _check_edges(k, v) for k, v in (edges or {}).items()}
        self.validation = float(validation)
        self.patience = patience
        self.seed = int(seed)
        self.on_tree = on_tree

    # -- station ----------------------------------------------------------------------

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        step = params["step"]
        if step == "prepare":
            return station_prepare(data, params, context)
        if step == "sketch":
            return station_sketch(data, params, context)
        if step == "grow":
            return station_grow(data, params, context)
        if step == "evaluate":
            return station_evaluate(data, params, context)
        raise InputError(f"unknown boosting step {step!r}.")

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str]:
        """Everything but the categorical levels is a sum over the stations."""
        step = params.get("step")
        if step == "prepare":
            return frozenset({"n", "dropped", "stations", "moments"})
        if step == "sketch":
            return frozenset({"n", "ysum", "sketch"})
        if step == "grow":
            return frozenset({"n", "loss", "valid_n", "valid_loss", "g", "h", "cut"})
        return frozenset({"n", "loss", "valid_n", "valid_loss"})

    # -- coordinator ------------------------------------------------------------------

    def start(self) -> Next[_State]:
        params = {
            "step": "prepare",
            "loss": self.loss,
            "response": self.spec.response,
            "numeric": self.spec.numeric,
            "categorical": self.spec.categorical,
        }
        return Next(params, _State("prepare", datetime.now(UTC).isoformat(timespec="seconds")))

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[BoostingResult]:
        if state.stage == "prepare":
            return self._after_prepare(partials, state)
        if state.stage == "sketch":
            return self._after_sketch(partials, state)
        if state.stage == "grow":
            return self._after_grow(partials, state)
        return Done(self._result(partials, state))

    def _after_prepare(self, partials: Mapping[str, Payload], state: _State) -> Next[_State]:
        released = (p.get("levels", {}) for p in partials.values())
        design = self.spec.design(pool_levels(released, self.spec.categorical))
        unknown = set(self.given_edges) - set(design.names)
        if unknown:
            raise InputError(
                f"edges were given for {sorted(unknown)}, which are not numeric features of "
                f"the model; features: {design.names}."
            )
        moments: dict[str, tuple[float, float, float]] = {}
        for column in self.spec.numeric:
            totals = [p["moments"][column] for p in partials.values()]
            summed = np.sum(np.asarray(totals, dtype=np.float64), axis=0)
            moments[column] = (float(summed[0]), float(summed[1]), float(summed[2]))
        grids: dict[int, tuple[float, float]] = {}
        for j, term in enumerate(design.terms):
            if term.column is None or term.level is not None or term.name in self.given_edges:
                continue
            count, total, squares = moments[term.column]
            mean = total / count
            sd = math.sqrt(max(squares / count - mean * mean, 0.0)) or max(abs(mean), 1.0)
            grids[j] = (mean - SKETCH_SPREAD * sd, mean + SKETCH_SPREAD * sd)
        new = replace(
            state,
            stage="sketch",
            design=design,
            nobs={s: int(p["n"]) for s, p in partials.items()},
            dropped={s: int(p["dropped"]) for s, p in partials.items()},
            stations=round(sum(float(p["stations"]) for p in partials.values())),
            moments=moments,
            grids=grids,
            secure=SECURE_SUM in partials,
        )
        params = {
            "step": "sketch",
            "design": design.to_wire(),
            "cells": SKETCH_CELLS,
            "validation": self.validation,
            "seed": self.seed,
            "grids": {str(j): list(g) for j, g in grids.items()},
        }
        return Next(params, new)

    def _after_sketch(self, partials: Mapping[str, Payload], state: _State) -> Next[_State]:
        assert state.design is not None
        n = sum(float(p["n"]) for p in partials.values())
        ybar = sum(float(p["ysum"]) for p in partials.values()) / n
        if self.loss == "logistic":
            if not 0 < ybar < 1:
                raise ModelError(
                    "the outcome takes only one value over all stations; boosting a "
                    "logistic loss needs both 0 and 1."
                )
            base = math.log(ybar / (1.0 - ybar))
        else:
            base = ybar
        edges: list[tuple[float, ...]] = []
        for j, term in enumerate(state.design.terms):
            if term.level is not None:
                edges.append((0.5,))
            elif term.name in self.given_edges:
                edges.append(self.given_edges[term.name])
            else:
                lo, hi = state.grids[j]
                cells = [p["sketch"][str(j)] for p in partials.values()]
                edges.append(_quantile_edges(cells, lo, hi, self.bins))
        new = replace(state, stage="grow", edges=tuple(edges), base=base)
        return self._grow_round(new)

    def _grow_round(self, state: _State) -> Next[_State]:
        assert state.design is not None
        params = {
            "step": "grow",
            "loss": self.loss,
            "design": state.design.to_wire(),
            "edges": [list(e) for e in state.edges],
            "base": state.base,
            "trees": [t.to_wire() for t in state.trees],
            "tree": state.tree.to_wire(),
            "open": list(state.open),
            "first": not state.trees and state.level == 0,
            "validation": self.validation,
            "seed": self.seed,
        }
        return Next(params, state)

    def _after_grow(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[BoostingResult]:
        g = _added(partials, "g")
        h = _added(partials, "h")
        cut = _added(partials, "cut")
        history = state.history
        if state.level == 0:
            history = (*history, _mean_loss(partials))
            valid = (*state.valid_history, _mean_loss(partials, "valid_"))
            state = replace(state, history=history, valid_history=valid)
            if self.on_tree is not None:
                self.on_tree(len(state.trees), history[-1])
            if (
                self.patience is not None
                and len(valid) - 1 - int(np.argmin(valid)) >= self.patience
            ):
                return Done(self._finish(state))
        nodes = _Nodes.of(state.tree)
        last_level = state.level + 1 == self.depth
        open_next: list[int] = []
        for k, node in enumerate(state.open):
            total_g, total_h = float(np.sum(g[k, 0])), float(np.sum(h[k, 0]))
            split = self._best_split(g[k], h[k], cut[k], total_g, total_h, state)
            if split is None:
                nodes.value[node] = self._weight(total_g, total_h)
                continue
            feature, b, left_g, left_h = split
            sides = ((left_g, left_h), (total_g - left_g, total_h - left_h))
            children = nodes.split(node, feature, state.edges[feature][b])
            for child, (child_g, child_h) in zip(children, sides, strict=True):
                if last_level:
                    nodes.value[child] = self._weight(child_g, child_h)
                else:
                    open_next.append(child)
        tree = nodes.tree()
        if open_next:
            return self._grow_round(
                replace(
                    state, tree=tree, open=tuple(open_next), level=state.level + 1, history=history
                )
            )
        trees = (*state.trees, tree)
        if len(trees) < self.trees:
            new = replace(state, trees=trees, tree=Tree.root(), open=(0,), level=0, history=history)
            return self._grow_round(new)
        assert state.design is not None
        params = {
            "step": "evaluate",
            "validation": self.validation,
            "seed": self.seed,
            "loss": self.loss,
            "design": state.design.to_wire(),
            "base": state.base,
            "trees": [t.to_wire() for t in trees],
        }
        return Next(params, replace(state, stage="evaluate", trees=trees, history=history))

    def _weight(self, g: float, h: float) -> float:
        denominator = h + self.reg_lambda
        return 0.0 if denominator <= 0 else -g / denominator * self.learning_rate

    def _best_split(
        self,
        g: FloatArray,
        h: FloatArray,
        cut: FloatArray,
        total_g: float,
        total_h: float,
        state: _State,
    ) -> tuple[int, int, float, float] | None:
        """(feature, bin, G_left, H_left) of the best split of one node, or None."""
        lam = self.reg_lambda
        parent = total_g * total_g / (total_h + lam) if total_h + lam > 0 else 0.0
        best: list[tuple[float, int, int, float, float]] = []
        for f, edges in enumerate(state.edges):
            m = len(edges)
            if m == 0:
                continue
            left_g = np.cumsum(g[f])[:m]
            left_h = np.cumsum(h[f])[:m]
            right_g = total_g - left_g
            right_h = total_h - left_h
            allowed = (
                (cut[f, :m] > state.stations - 0.5)
                & (left_h >= self.min_child_weight)
                & (right_h >= self.min_child_weight)
                & (left_h > 0)
                & (right_h > 0)
            )
            if not allowed.any():
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                gain = (
                    0.5 * (left_g**2 / (left_h + lam) + right_g**2 / (right_h + lam) - parent)
                    - self.min_split_loss
                )
            for i in np.flatnonzero(allowed):
                best.append((float(gain[i]), f, int(i), float(left_g[i]), float(left_h[i])))
        if not best:
            return None
        top = max(c[0] for c in best)
        if not top > _MIN_GAIN * (abs(parent) + 1e-300):
            return None
        tied = [c for c in best if c[0] >= top - _TIE * abs(top)]
        _, feature, b, left_g_b, left_h_b = min(tied, key=lambda c: (c[1], c[2]))
        return feature, b, left_g_b, left_h_b

    def _result(self, partials: Mapping[str, Payload], state: _State) -> BoostingResult:
        history = (*state.history, _mean_loss(partials))
        valid = (*state.valid_history, _mean_loss(partials, "valid_"))
        if self.on_tree is not None:
            self.on_tree(len(state.trees), history[-1])
        return self._finish(replace(state, history=history, valid_history=valid))

    def _finish(self, state: _State) -> BoostingResult:
        """The model, cut back to the trees with the best validation loss under patience."""
        assert state.design is not None
        best = len(state.trees)
        if self.patience is not None:
            best = int(np.argmin(state.valid_history))
        kept = replace(
            state,
            trees=state.trees[:best],
            history=state.history[: best + 1],
            valid_history=state.valid_history[: best + 1],
        )
        card = self._card(kept, stopped_early=best < self.trees)
        model = BoostedModel(
            loss=self.loss,
            design=state.design,
            base_score=state.base,
            trees=kept.trees,
            edges=state.edges,
            card=card,
        )
        return BoostingResult(model=model, nobs_per_station=dict(state.nobs))

    def _card(self, state: _State, *, stopped_early: bool) -> dict[str, Any]:
        assert state.design is not None
        history, valid = state.history, state.valid_history
        metric = "mean log-loss" if self.loss == "logistic" else "mean squared error"
        given = sorted(self.given_edges)
        return {
            "card_version": 1,
            "model_details": {
                "kind": "gradient-boosted trees",
                "loss": self.loss,
                "outcome": state.design.response,
                "features": state.design.names,
                "trees": len(state.trees),
                "leaves": sum(sum(1 for f in t.feature if f < 0) for t in state.trees),
                "trained_with": f"perron {_version()} (federated histogram boosting, numpy)",
                "started": state.started,
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            "training_data": {
                "data_holders": [s for s in state.nobs if s != SECURE_SUM],
                "stations": state.stations,
                "cohort_sizes": dict(state.nobs),
                "dropped_incomplete_rows": dict(state.dropped),
                "rows_left_the_stations": False,
            },
            "training_procedure": {
                "loss": self.loss,
                "trees": self.trees,
                "depth": self.depth,
                "learning_rate": self.learning_rate,
                "bins": self.bins,
                "reg_lambda": self.reg_lambda,
                "min_child_weight": self.min_child_weight,
                "min_split_loss": self.min_split_loss,
                "bin_edges": (
                    f"pooled quantiles on a {SKETCH_CELLS}-cell grid"
                    + (f"; given for {given}" if given else "")
                ),
                "base_score": state.base,
                "validation": self.validation,
                "patience": self.patience,
                "seed": self.seed,
                "stopped_early": stopped_early,
                "secure_aggregation": state.secure,
            },
            "metrics": {
                "name": metric,
                "per_tree": [
                    {"trees": i, "train_loss": t, "validation_loss": _number(v)}
                    for i, (t, v) in enumerate(zip(history, valid, strict=True))
                ],
                "final": {
                    "trees": len(state.trees),
                    "train_loss": history[-1],
                    "validation_loss": _number(valid[-1]),
                },
            },
            "revealed": REVEALED,
            "intended_use": None,
        }


# -- coordinator helpers ----------------------------------------------------------------


@dataclass
class _Nodes:
    """A tree's node arrays while the coordinator adds splits and leaf weights."""

    feature: list[int]
    threshold: list[float]
    left: list[int]
    right: list[int]
    value: list[float]

    @classmethod
    def of(cls, tree: Tree) -> _Nodes:
        return cls(
            list(tree.feature),
            list(tree.threshold),
            list(tree.left),
            list(tree.right),
            list(tree.value),
        )

    def split(self, node: int, feature: int, threshold: float) -> tuple[int, int]:
        children = (len(self.feature), len(self.feature) + 1)
        self.feature[node], self.threshold[node] = feature, threshold
        self.left[node], self.right[node] = children
        for _ in children:
            self.feature.append(-1)
            self.threshold.append(0.0)
            self.left.append(-1)
            self.right.append(-1)
            self.value.append(0.0)
        return children

    def tree(self) -> Tree:
        return Tree(
            tuple(self.feature),
            tuple(self.threshold),
            tuple(self.left),
            tuple(self.right),
            tuple(self.value),
        )


def _added(partials: Mapping[str, Payload], key: str) -> FloatArray:
    arrays = [np.asarray(p[key], dtype=np.float64) for p in partials.values()]
    total: FloatArray = np.sum(arrays, axis=0)
    return total


def _mean_loss(partials: Mapping[str, Payload], prefix: str = "") -> float:
    """The mean training loss, or with ``prefix="valid_"`` the held-out one (NaN: none)."""
    n = sum(float(p[f"{prefix}n"]) for p in partials.values())
    total = sum(float(p[f"{prefix}loss"]) for p in partials.values())
    return total / n if n > 0 else math.nan


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _quantile_edges(
    released: Sequence[Sequence[float | None]], lo: float, hi: float, bins: int
) -> tuple[float, ...]:
    """Grid points near the pooled quantiles k / bins, from the pooled grid counts.

    ``released[s][i]`` is station s's count in cell i (cell 0: below ``lo``; the last:
    at or above ``hi``); a suppressed cell (``None``) counts as a small number.
    """
    counts = np.asarray(
        [[_cell(c) for c in row] for row in released],
        dtype=np.float64,
    ).sum(axis=0)
    grid = np.linspace(lo, hi, counts.size - 1)
    below = np.cumsum(counts)[: grid.size]  # below[j]: values < grid[j]
    total = float(counts.sum())
    chosen: list[float] = []
    taken: set[float] = set()
    for k in range(1, bins):
        j = int(np.argmin(np.abs(below - total * k / bins)))
        if 0 < below[j] < total and float(below[j]) not in taken:
            taken.add(float(below[j]))
            chosen.append(float(grid[j]))
    return tuple(sorted(set(chosen)))


def _check_edges(name: str, values: Sequence[float]) -> tuple[float, ...]:
    edges = np.asarray(values, dtype=np.float64)
    if edges.ndim != 1 or edges.size > MAX_BINS - 1 or not np.all(np.isfinite(edges)):
        raise InputError(f"edges of {name!r} must be at most {MAX_BINS - 1} finite numbers.")
    if edges.size > 1 and not np.all(np.diff(edges) > 0):
        raise InputError(f"edges of {name!r} must be strictly increasing.")
    return tuple(float(v) for v in edges)


def _version() -> str:
    try:
        return metadata.version("perron")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree
        return "unknown"


def _cell(count: float | None) -> float:
    """A released grid count; a suppressed one (None, or NaN under secure aggregation)
    counts as a small number."""
    return _SUPPRESSED_CELL if count is None or math.isnan(count) else float(count)
