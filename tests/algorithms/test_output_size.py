"""No row-level data can leave a station: the size of every station output is the
same whatever the number of rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from perron.algorithms.core.base import StationContext
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.registry import INSTALLED
from perron.data.design import Design, Term
from perron.data.frame import FrameSource
from perron.data.survival import SurvivalSpec
from perron.learning.boosting import Tree
from perron.privacy.policy import DisclosurePolicy

DESIGN = ModelSpec.from_formula("y ~ x + C(g)").design({"g": ["a", "b", "c"]}).to_wire()
COX = SurvivalSpec("t", "y", terms=(Term("x", "x"),), strata=("g",)).to_wire()
COX_TIMES = {key: [1.0, 2.0, 3.0, 4.0] for key in ("a", "b", "c")}

LOGISTIC = {"kind": "logistic", "intercept": 0.1, "coefficients": {"x": 0.5, "C(g)[T.b]": 0.2}}
VALIDATE = {"model": LOGISTIC, "outcome": "y", "event": None}
VALIDATE_ROUNDS: list[dict[str, Any]] = [
    {"step": "scores"},
    {"step": "bins", "edges": [-1.0, 0.0, 1.0], "time_edges": []},
    {"step": "calibration", "calibration_edges": [-0.5, 0.5]},
    {"step": "scores", "model": {"kind": "cox", "coefficients": {"x": 0.5}}, "outcome": "t"},
    {
        "step": "bins",
        "model": {"kind": "cox", "coefficients": {"x": 0.5}},
        "outcome": "t",
        "event": "y",
        "edges": [-1.0, 0.0, 1.0],
        "time_edges": [2.0],
    },
]
VALIDATE_ROUNDS[3]["event"] = "y"
RECALIBRATE: dict[str, Any] = {
    "inner": "glm",
    "model": LOGISTIC,
    "outcome": "y",
    "event": None,
    "revise": [],
}
RECALIBRATE_PREPARE = {
    "step": "prepare",
    "family": "binomial",
    "response": "y",
    "offset": "linear_predictor",
    "numeric": [],
    "categorical": [],
}
RECALIBRATE_IRLS = {
    "step": "irls",
    "family": "binomial",
    "design": Design("y", (Term("Intercept"),), "linear_predictor").to_wire(),
    "beta": [0.1],
}
#: A federated-training round (perron.algorithms.prediction.training): an MLP 3-4-1 on DESIGN.
TRAIN = {
    "design": DESIGN,
    "network": {"n_inputs": 4, "hidden": [4], "intercept": 0, "activation": "tanh"},
    "scaling": {"center": [0.0] * 4, "scale": [1.0] * 4},
    "weights": [0.1] * 21,
    "validation": 0.0,
    "seed": 0,
    "round": 0,
    "local": {"epochs": 2, "batch_size": 16, "penalty": "l1", "alpha": 0.1},
}
#: Gradient-boosted trees (perron.algorithms.prediction.boosting): a stump on DESIGN.
STUMP = Tree((1, -1, -1), (0.0, 0.0, 0.0), (1, -1, -1), (2, -1, -1), (0.0, -0.1, 0.1)).to_wire()
BOOSTED = {"loss": "logistic", "design": DESIGN, "validation": 0.2, "seed": 1}

#: Weekly counts (perron.algorithms.surveillance.weekly_counts) of g in a or b, by g.
WEEKLY = {
    "case": [{"column": "g", "in": ["a", "b"]}],
    "date": "d",
    "first": "2024-W01",
    "last": "2024-W04",
    "by": ["g"],
}

#: Every round type of every installed algorithm, with fixed parameters.
STEPS: list[tuple[str, dict[str, Any]]] = [
    ("summary", {"columns": ["x"]}),
    ("quantile", {"step": "moments", "column": "x"}),
    ("quantile", {"step": "probe", "column": "x", "thresholds": [-1.0, 0.0, 1.0]}),
    ("quantile", {"step": "snap", "column": "x", "brackets": [[-0.1, 0.1]]}),
    ("crosstab", {"row": "g", "col": "y"}),
    ("feasibility", {"cohort": [{"column": "x", "between": [-1.0, 1.0]}]}),
    ("histogram", {"column": "x", "edges": [-2.0, -1.0, 0.0, 1.0, 2.0]}),
    (
        "quality",
        {
            "columns": ["x", "g"],
            "required": ["x"],
            "expected": {"x": "numeric", "g": "categorical"},
            "ranges": {"x": [-2.0, 2.0]},
            "levels": {"g": ["a", "b"]},
        },
    ),
    ("dp_release", {"statistic": "count", "column": "x", "epsilon": 1.0}),
    ("dp_release", {"statistic": "sum", "column": "x", "epsilon": 1.0, "bounds": [-2.0, 2.0]}),
    ("dp_release", {"statistic": "mean", "column": "x", "epsilon": 1.0, "bounds": [-2.0, 2.0]}),
    ("dp_release", {"statistic": "histogram", "column": "x", "epsilon": 1.0, "edges": [0.0, 1.0]}),
    (
        "glm",
        {
            "step": "prepare",
            "family": "binomial",
            "response": "y",
            "offset": None,
            "numeric": ["x"],
            "categorical": ["g"],
        },
    ),
    ("glm", {"step": "irls", "family": "binomial", "design": DESIGN, "beta": None}),
    ("glm", {"step": "irls", "family": "binomial", "design": DESIGN, "beta": [0.1, 0.2, 0.0, 0.1]}),
    ("kaplan_meier", {"spec": SurvivalSpec("t", "y").to_wire(), "by": ["g"]}),
    ("logrank", {"spec": SurvivalSpec("t", "y").to_wire(), "group": "g", "strata": []}),
    (
        "coxph",
        {
            "step": "prepare",
            "stop": "t",
            "event": "y",
            "start": None,
            "strata": ["g"],
            "numeric": ["x"],
            "categorical": [],
        },
    ),
    (
        "coxph",
        {
            "step": "newton",
            "spec": COX,
            "beta": [0.3],
            "times": COX_TIMES,
            "by_station": False,
            "efron": True,
        },
    ),
    *[("validate", {**VALIDATE, **p}) for p in VALIDATE_ROUNDS],
    ("recalibrate", {**RECALIBRATE, "inner_params": RECALIBRATE_PREPARE}),
    ("recalibrate", {**RECALIBRATE, "inner_params": RECALIBRATE_IRLS}),
    *[("train", {**TRAIN, "step": step}) for step in ("train", "evaluate")],
    ("train", {**TRAIN, "step": "train", "epsilon": 0.5, "clip": 1.0}),
    (
        "train",
        {
            "step": "prepare",
            "response": "y",
            "offset": None,
            "numeric": ["x"],
            "categorical": ["g"],
        },
    ),
    (
        "boosted_trees",
        {
            "step": "prepare",
            "loss": "logistic",
            "response": "y",
            "numeric": ["x"],
            "categorical": ["g"],
        },
    ),
    ("boosted_trees", {**BOOSTED, "step": "sketch", "cells": 16, "grids": {"1": [-3.0, 3.0]}}),
    (
        "boosted_trees",
        {
            **BOOSTED,
            "step": "grow",
            "edges": [[], [-1.0, 0.0, 1.0], [0.5], [0.5]],
            "base": 0.0,
            "trees": [STUMP],
            "tree": STUMP,
            "open": [1, 2],
        },
    ),
    ("boosted_trees", {**BOOSTED, "step": "evaluate", "base": 0.0, "trees": [STUMP]}),
    ("weekly_counts", WEEKLY),
    ("weekly_counts", {**WEEKLY, "report_date": "d", "max_delay": 2}),
    ("weekly_counts", {**WEEKLY, "levels": {"g": ["a", "b", "c"]}, "epsilon": 1.0}),
]


def _shape(value: Any) -> Any:
    """The structure of a payload: keys and lengths, not values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [len(value), [_shape(v) for v in value]]
    return type(value).__name__ if value is not None else "int"


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": np.tile([0, 1], n)[:n],
            "g": np.tile(["a", "b", "c"], n)[:n],
            # Whole "days" 1..4: event times stay the same set whatever the rows.
            "t": np.tile([1.0, 2.0, 3.0, 4.0, 4.0], n)[:n],
            # Dates of three weeks: the weekly counts' layout stays the same whatever the rows.
            "d": np.tile(["2024-01-01", "2024-01-09", "2024-01-21"], n)[:n],
        }
    )


def _outputs(n: int, seed: int) -> list[Any]:
    source = FrameSource(_frame(n, seed))
    policy = DisclosurePolicy(min_rows=10, min_cell=1)
    context = StationContext("s", policy)
    return [
        _shape(INSTALLED[name].station_step(source, params, context).payload)
        for name, params in STEPS
    ]


#: Linkage protocols exchange blinded sets between stations, as long as the sets:
#: sealed for another station, unreadable by the coordinator. What they release to
#: the researcher is counts; tests/algorithms/feasibility/test_overlap.py checks that part.
STATION_TO_STATION = {"overlap", "linked_crosstab"}


def test_every_installed_algorithm_is_covered():
    assert {name for name, _ in STEPS} | STATION_TO_STATION == set(INSTALLED)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(n=st.integers(min_value=30, max_value=5000), seed=st.integers(0, 1000))
def test_output_size_does_not_depend_on_rows(n, seed):
    assert _outputs(n, seed) == _outputs(30, 0)
