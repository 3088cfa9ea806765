"""Federated training of logistic regression and small neural networks (FedAvg and kin).

Round 0 (``prepare``): each station checks the columns, counts complete rows,
applies the level rules to the 0/1 outcome and to binary and categorical
predictors, releases the levels of the categorical predictors and, for
standardisation, the count, sum and sum of squares of each numeric predictor.
The coordinator agrees the design (:mod:`perron.data.design`), the pooled scaling
(:mod:`perron.learning.features`) and the initial weights.

Rounds 1..R (``train``): each station reads its complete rows through the data seam
(``design_arrays``; the rows stay inside), holds out a fixed fraction for
validation, evaluates the global weights it received (summed log-loss over its
training and its held-out rows), then trains locally from them
(:func:`perron.learning.local.local_train`: epochs of full-batch or mini-batch
proximal gradient descent, FedProx's proximal term, optional DP noise) and releases
``n_k`` and ``n_k * w_k``. The coordinator averages, ``w_avg = sum n_k w_k /
sum n_k``, and takes the strategy's server step (:mod:`perron.learning.strategies`).
One last ``evaluate`` round gives the losses of the final weights. The station
step is stateless: the weights travel in the parameters.

Released per round, per station: 2 counts, 2 loss sums, one vector of the model's
size. All of them are sums over rows, so the rounds can run under secure
aggregation (the coordinator then sees only their sums over the stations).

Disclosure rules, every round (the station checks again, so a crafted task that
skips the prepare round gains nothing): at least ``min_rows`` complete rows, and
at least ``min_rows`` training rows and held-out rows; both outcome levels and
every category level held by at least ``min_cell`` rows; at most
``max_params_ratio`` design columns per training row (the GLM's saturation rule;
the hidden weights of a network are not counted: require differential privacy for
a network that could memorise rows).

Early stopping: with ``validation > 0`` and ``patience``, training stops when the
pooled validation loss has not improved for ``patience`` rounds, and the model keeps
the weights of the best round.

Differential privacy (``epsilon``, ``clip``): every local gradient step is noisy
(:mod:`perron.learning.privacy`); each round task asks for ``epsilon / rounds``,
which the station's governor charges to the study's privacy budget (a task over
budget is refused); no losses are released (they would spend budget too), so
there is no evaluation round and no early stopping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.core.checks import predictor_levels, require_model_columns
from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.prediction.trained import TrainedModel
from perron.data.design import Design, pool_levels
from perron.data.source import DataSource
from perron.learning.card import build_card
from perron.learning.features import Scaling
from perron.learning.local import (
    LocalConfig,
    local_train,
    soft_threshold,
    station_rng,
    steps_per_round,
    validation_split,
)
from perron.learning.metrics import RoundMetrics
from perron.learning.network import ACTIVATIONS, Activation, FloatArray, Perceptron
from perron.learning.privacy import GradientNoise
from perron.learning.strategies import Moments, ServerOptimizer
from perron.privacy.dp import DIFFERENTIAL_PRIVACY
from perron.privacy.rules import (
    GLM_SATURATION,
    LEVELS_DENSITY,
    MIN_CELL,
    MIN_ROWS,
    check_levels,
    check_min_rows,
    check_saturation,
)
from perron.protocol.errors import InputError, NoCompleteRows
from perron.protocol.messages import Decision

Kind = Literal["logistic", "mlp"]
KINDS: tuple[Kind, ...] = ("logistic", "mlp")
#: The most rounds one run may take.
MAX_ROUNDS = 10_000

RoundCallback = Callable[[RoundMetrics], None]


@dataclass(frozen=True)
class TrainingPlan:
    """Everything a run needs besides the model formula; checked when made."""

    kind: Kind = "logistic"
    rounds: int = 20
    local: LocalConfig = field(default_factory=LocalConfig)
    server: ServerOptimizer = field(default_factory=lambda: ServerOptimizer.named("fedavg"))
    hidden: tuple[int, ...] = (16,)
    activation: Activation = "tanh"
    validation: float = 0.0
    patience: int | None = None
    seed: int = 0
    standardize: bool = True
    epsilon: float | None = None
    clip: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"model {self.kind!r} is not one of {list(KINDS)}.")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise InputError(f"rounds = {self.rounds} must lie between 1 and {MAX_ROUNDS}.")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation {self.activation!r} is not one of {list(ACTIVATIONS)}.")
        if not 0.0 <= self.validation < 1.0:
            raise InputError(
                f"validation = {self.validation!r} is the fraction of each station's rows held "
                "out; it must lie in [0, 1)."
            )
        if self.patience is not None:
            if self.patience < 1:
                raise InputError(f"patience = {self.patience} must be a positive number of rounds.")
            if self.validation == 0.0:
                raise InputError(
                    "early stopping watches the validation loss: pass validation=0.2 (say) "
                    "with patience."
                )
        if self.epsilon is not None:
            GradientNoise.calibrate(self.clip, self.epsilon / self.rounds, 1)  # checks both
            if self.validation or self.patience is not None:
                raise InputError(
                    "differentially private training releases no losses, so it has no "
                    "validation loss or early stopping; drop validation and patience, or "
                    "epsilon."
                )

    @property
    def epsilon_per_round(self) -> float | None:
        return None if self.epsilon is None else self.epsilon / self.rounds

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "strategy": self.server.strategy,
            "rounds": self.rounds,
            "local": self.local.to_wire(),
            "server_learning_rate": self.server.learning_rate,
            **(
                {"beta1": self.server.beta1, "beta2": self.server.beta2, "tau": self.server.tau}
                if self.server.strategy == "fedadam"
                else {}
            ),
            "validation": self.validation,
            "patience": self.patience,
            "seed": self.seed,
            "standardize": self.standardize,
        }


@dataclass(frozen=True)
class _Best:
    round: int
    loss: float
    weights: FloatArray


@dataclass(frozen=True)
class _State:
    design: Design | None = None
    scaling: Scaling | None = None
    network: Perceptron | None = None
    #: The global weights sent in the current round.
    weights: FloatArray | None = None
    #: Training rounds finished before the current one.
    done: int = 0
    evaluating: bool = False
    moments: Moments = field(default_factory=Moments)
    history: tuple[RoundMetrics, ...] = ()
    best: _Best | None = None
    #: Wall time of the last training round (its losses arrive with the next round).
    seconds: float = math.nan
    sent: float = 0.0
    started: datetime = field(default_factory=lambda: datetime.now(UTC))


class FederatedTraining(FederatedAlgorithm[_State, TrainedModel]):
    """FedAvg, FedProx or FedAdam over station-side gradient steps.

    Examples
    --------
    >>> import perron, pandas as pd, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def station(n):
    ...     x = rng.normal(size=n)
    ...     return pd.DataFrame({"x": x, "y": (rng.random(n) < 1 / (1 + np.exp(-x))) * 1})
    >>> session = perron.simulate({"a": station(400), "b": station(100)})
    >>> model = session.train("logistic", "y ~ x", rounds=5, learning_rate=1.0)
    >>> [m.round for m in model.history]
    [1, 2, 3, 4, 5]
    """

    name = "train"
    contract = DisclosureContract(
        releases={
            "n": "scalar: complete rows (prepare) or training rows (train)",
            "n_validation": "scalar: held-out rows",
            "dropped": "scalar: rows dropped for missing values",
            "levels": "levels of each categorical predictor (each held by >= min_cell rows)",
            "moments": "3 scalars per numeric predictor: count, sum, sum of squares",
            "loss": "scalar: summed log-loss of the training rows at the global weights",
            "validation_loss": "scalar: summed log-loss of the held-out rows",
            "weighted": "the model's size: training rows times the locally updated weights",
            "steps": "scalar: training rows times local gradient steps (public given n)",
        },
        rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, GLM_SATURATION, DIFFERENTIAL_PRIVACY),
    )
    max_rounds = MAX_ROUNDS + 3

    def __init__(
        self,
        spec: ModelSpec,
        plan: TrainingPlan,
        *,
        on_round: RoundCallback | None = None,
        secure: bool = False,
    ) -> None:
        self.spec = spec
        self.plan = plan
        self.on_round = on_round
        #: Recorded in the model card (the coordinator sees sums only).
        self.secure = secure

    # -- station ----------------------------------------------------------------------

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        if params["step"] == "prepare":
            return _prepare(data, params, context)
        return _train(data, params, context)

    @staticmethod
    def secure_fields(params: Payload) -> frozenset[str]:
        if params.get("step") == "prepare":
            return frozenset({"n", "dropped", "moments"})
        if params.get("step") == "evaluate":
            return frozenset({"n", "n_validation", "loss", "validation_loss"})
        return frozenset({"n", "n_validation", "loss", "validation_loss", "weighted", "steps"})

    # -- coordinator ------------------------------------------------------------------

    def start(self) -> Next[_State]:
        params = {
            "step": "prepare",
            "response": self.spec.response,
            "offset": self.spec.offset,
            "numeric": self.spec.numeric,
            "categorical": self.spec.categorical,
        }
        return Next(params, _State(sent=time.perf_counter()))

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[TrainedModel]:
        if state.design is None:
            return self._first_round(partials, state)
        return self._after_round(partials, state)

    def _first_round(self, partials: Mapping[str, Payload], state: _State) -> Next[_State]:
        plan = self.plan
        design = self.spec.design(
            pool_levels((p["levels"] for p in partials.values()), self.spec.categorical)
        )
        p = len(design.terms)
        scaling = Scaling.identity(p)
        if plan.standardize:
            sums: dict[str, float] = {}
            squares: dict[str, float] = {}
            counts: dict[str, float] = {}
            for part in partials.values():
                for column, (count, total, square) in dict(part["moments"]).items():
                    counts[column] = counts.get(column, 0.0) + float(count)
                    sums[column] = sums.get(column, 0.0) + float(total)
                    squares[column] = squares.get(column, 0.0) + float(square)
            scaling = Scaling.pooled(design, sums, squares, counts)
        intercept = next((j for j, t in enumerate(design.terms) if t.is_intercept), None)
        hidden = () if plan.kind == "logistic" else plan.hidden
        network = Perceptron(p, hidden, intercept, plan.activation)
        weights = network.initial(np.random.default_rng(plan.seed))
        new = replace(
            state,
            design=design,
            scaling=scaling,
            network=network,
            weights=weights,
            moments=plan.server.initial(network.size),
        )
        return self._round(new, "train")

    def _round(self, state: _State, step: str) -> Next[_State]:
        assert state.design is not None
        assert state.scaling is not None
        assert state.network is not None
        assert state.weights is not None
        plan = self.plan
        params: dict[str, Any] = {
            "step": step,
            "design": state.design.to_wire(),
            "network": state.network.to_wire(),
            "scaling": state.scaling.to_wire(),
            "weights": state.weights.tolist(),
            "validation": plan.validation,
            "seed": plan.seed,
            "round": state.done,
        }
        if step == "train":
            params["local"] = plan.local.to_wire()
            if plan.epsilon_per_round is not None:
                # The governor charges ``epsilon`` to the study's budget at each station.
                params["epsilon"] = plan.epsilon_per_round
                params["clip"] = plan.clip
        return Next(params, replace(state, evaluating=step == "evaluate", sent=time.perf_counter()))

    def _after_round(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[TrainedModel]:
        plan = self.plan
        assert state.weights is not None
        now = time.perf_counter()
        n = {s: int(p["n"]) for s, p in partials.items()}
        n_val = {s: int(p["n_validation"]) for s, p in partials.items()}
        dp = plan.epsilon is not None
        if state.done >= 1 and not dp:
            # The losses of the weights sent, i.e. of the model after round ``done``.
            total, held = sum(n.values()), sum(n_val.values())
            loss = sum(float(p["loss"]) for p in partials.values()) / total
            val = (
                sum(float(p["validation_loss"]) for p in partials.values()) / held
                if held
                else math.nan
            )
            state = self._record(
                state, RoundMetrics(state.done, loss, val, n, n_val, state.seconds)
            )
            if self._patience_ran_out(state) or state.evaluating:
                return Done(self._model(state, partials))
        weighted = np.sum(
            [np.asarray(p["weighted"], dtype=np.float64) for p in partials.values()], axis=0
        )
        average = weighted / sum(n.values())
        assert state.weights is not None
        weights, moments = plan.server.step(state.weights, average, state.moments)
        if plan.local.lasso:
            assert state.network is not None
            steps = sum(float(p["steps"]) for p in partials.values()) / sum(n.values())
            eta = 1.0 if plan.server.strategy == "fedadam" else plan.server.learning_rate
            threshold = eta * plan.local.learning_rate * plan.local.lasso * steps
            weights = soft_threshold(weights, threshold, state.network.penalised())
        done = state.done + 1
        state = replace(
            state, weights=weights, moments=moments, done=done, seconds=now - state.sent
        )
        if dp:
            state = self._record(
                state, RoundMetrics(done, math.nan, math.nan, n, n_val, state.seconds)
            )
            if done == plan.rounds:
                return Done(self._model(state, partials))
        if done == plan.rounds:
            return self._round(state, "evaluate")
        return self._round(state, "train")

    def _record(self, state: _State, metrics: RoundMetrics) -> _State:
        assert state.weights is not None
        best = state.best
        watched = metrics.validation_loss
        improved = not math.isnan(watched) and (best is None or watched < best.loss)
        if improved:
            best = _Best(metrics.round, watched, state.weights)
        metrics = replace(metrics, improved=improved)
        if self.on_round is not None:
            self.on_round(metrics)
        return replace(state, history=(*state.history, metrics), best=best)

    def _patience_ran_out(self, state: _State) -> bool:
        patience = self.plan.patience
        if patience is None or state.best is None:
            return False
        return state.done - state.best.round >= patience

    def _model(self, state: _State, partials: Mapping[str, Payload]) -> TrainedModel:
        assert state.design is not None
        assert state.scaling is not None
        assert state.network is not None
        assert state.weights is not None
        plan = self.plan
        stopped = plan.patience is not None and state.done < plan.rounds
        # Early stopping keeps the best weights; otherwise the last ones.
        if plan.patience is not None and state.best is not None:
            weights, best_round = state.best.weights, state.best.round
        else:
            weights, best_round = state.weights, state.done
        last = state.history[-1] if state.history else None
        nobs = dict(last.n) if last else {}
        nobs_val = dict(last.n_validation) if last else {}
        epsilon = (
            dict.fromkeys(nobs, plan.epsilon_per_round * state.done)
            if plan.epsilon_per_round is not None
            else {}
        )
        privacy = None
        if plan.epsilon_per_round is not None:
            privacy = {
                "mechanism": "Laplace on row-clipped (L1) gradient sums, per local step "
                "(OpenDP make_laplace)",
                "clip": plan.clip,
                "epsilon_per_round": plan.epsilon_per_round,
                "epsilon_spent_per_station": epsilon,
                "delta": 0.0,
                "privacy_unit": "one row",
            }
        kind = plan.kind
        model_details = {
            "kind": kind,
            "architecture": (
                "logistic regression"
                if state.network.logistic
                else f"MLP {state.network.inputs.size}-"
                + "-".join(str(h) for h in state.network.hidden)
                + f"-1 ({state.network.activation}, sigmoid output)"
            ),
            "outcome": state.design.response,
            "terms": state.design.names,
            "offset": state.design.offset,
            "parameters": state.network.size,
        }
        card = build_card(
            model=model_details,
            stations=list(partials),
            nobs=nobs,
            nobs_validation=nobs_val,
            started=state.started,
            history=state.history,
            best_round=best_round,
            stopped_early=stopped,
            hyperparameters={
                **plan.hyperparameters(),
                **(
                    {"hidden": list(plan.hidden), "activation": plan.activation}
                    if kind == "mlp"
                    else {}
                ),
            },
            privacy=privacy,
            secure_aggregation=self.secure,
        )
        return TrainedModel(
            kind=kind,
            design=state.design,
            network=state.network,
            scaling=state.scaling,
            weights=weights,
            history=state.history,
            best_round=best_round,
            stopped_early=stopped,
            epsilon=epsilon,
            card=card,
            nobs_per_station=nobs,
        )


# -- station steps --------------------------------------------------------------------


def _prepare(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    columns = require_model_columns(data, params, context)
    response, numeric, categorical = columns.response, columns.numeric, columns.categorical
    model_columns = columns.all
    n = data.complete_count(model_columns)
    decisions = _rows(n, context)
    decisions += _outcome_levels(data, response, model_columns, n, context)
    more, released = predictor_levels(data, numeric, categorical, model_columns, n, context)
    decisions += more
    moments: dict[str, list[float]] = {}
    for column in numeric:
        m = data.moments(column)
        moments[column] = [float(m.n), m.n * m.mean, m.m2 + m.n * m.mean * m.mean]
    dropped = data.complete_count([]) - n
    payload = {"n": n, "dropped": dropped, "levels": released, "moments": moments}
    return StationOutput(payload, decisions)


def _rows(n: int, context: StationContext) -> list[Decision]:
    if n == 0:
        raise NoCompleteRows(
            f"station {context.station!r} has no complete rows for the model: every row "
            "misses at least one of its columns; check the columns for missing data."
        )
    return [check_min_rows(context.station, n, context.policy, "the model")]


def _outcome_levels(
    data: DataSource, response: str, columns: Sequence[str], n: int, context: StationContext
) -> list[Decision]:
    """The outcome is 0/1 with both levels well represented (else it would disclose
    the outcome of every row)."""
    counts = data.value_counts([response], columns)
    if not {k[0] for k in counts} <= {0, 1}:
        raise InputError(
            f"the outcome {response!r} must be coded 0/1 at station {context.station!r}; "
            "recode it before training."
        )
    both = {level: counts.get((level,), 0) for level in (0, 1)}
    return check_levels(context.station, both, n, context.policy, response, zero_ok=False)


def _checks(
    design: Design,
    X: FloatArray,
    y: FloatArray,
    n_val: int,
    context: StationContext,
) -> list[Decision]:
    """The prepare round's rules again, on the design the task carries and the rows
    it selects (counted here with numpy: the rows are at hand)."""
    n = y.size
    n_train = n - n_val
    station, policy = context.station, context.policy
    decisions = _rows(n, context)
    decisions.append(check_min_rows(station, n_train, policy, "the training rows"))
    if n_val:
        decisions.append(check_min_rows(station, n_val, policy, "the held-out rows"))
    if not np.all((y == 0) | (y == 1)):
        raise InputError(
            f"the outcome {design.response!r} must be coded 0/1 at station {station!r}; "
            "recode it before training."
        )
    events = int(y.sum())
    outcome = {0: n - events, 1: events}
    decisions += check_levels(station, outcome, n, policy, design.response, zero_ok=False)
    indicators: dict[str, dict[object, int]] = {}
    for j, term in enumerate(design.terms):
        if term.column is None:
            continue
        if term.is_indicator:
            indicators.setdefault(term.column, {})[term.level] = int(X[:, j].sum())
            continue
        values, counts = np.unique(X[:, j], return_counts=True)
        if values.size <= 2:  # a binary predictor here: each value is a cell
            binary = {float(v): int(c) for v, c in zip(values, counts, strict=True)}
            decisions += check_levels(station, binary, n, policy, term.column)
    for column, cells in indicators.items():
        cells["(reference)"] = n - sum(cells.values())
        decisions += check_levels(station, cells, n, policy, column)
    decisions.append(
        check_saturation(station, len(design.terms), n_train, policy, f"{design.response} ~ ...")
    )
    return decisions


def _train(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
    design = Design.from_wire(params["design"])
    network = Perceptron.from_wire(dict(params["network"]))
    scaling = Scaling.from_wire(params["scaling"])
    weights = np.asarray(params["weights"], dtype=np.float64)
    if weights.shape != (network.size,) or network.n_inputs != len(design.terms):
        raise InputError(
            "the task's weights do not fit its model description; this is a bug in the "
            "coordinator or a tampered task."
        )
    X, y, offset = data.design_arrays(design)
    seed, round_number = int(params["seed"]), int(params["round"])
    held = validation_split(y.size, float(params["validation"]), seed, context.station)
    n, n_val = y.size, int(held.sum())
    n_train = n - n_val
    decisions = _checks(design, X, y, n_val, context)
    Xs = scaling.apply(X)
    train, hold = ~held, held
    Xt, yt, ot = Xs[train], y[train], offset[train]
    dp = "epsilon" in params
    payload: dict[str, Any] = {
        "n": n_train,
        "n_validation": n_val,
        # Losses are not released under DP (they would spend budget as well).
        "loss": 0.0 if dp else network.loss(weights, Xt, yt, ot),
        "validation_loss": 0.0
        if dp or not n_val
        else network.loss(weights, Xs[hold], y[hold], offset[hold]),
    }
    if params["step"] == "train":
        config = LocalConfig.from_wire(params["local"])
        noise = None
        if dp:
            steps = steps_per_round(n_train, config)
            epsilon = float(params["epsilon"])
            noise = GradientNoise.calibrate(float(params["clip"]), epsilon / steps, network.size)
            decisions = [
                Decision(
                    context.station,
                    DIFFERENTIAL_PRIVACY,
                    epsilon,
                    "passed",
                    f"{steps} noisy gradient steps, round {round_number + 1}",
                ),
                *(decisions if round_number == 0 else []),
            ]
        elif round_number > 0:
            decisions = []  # the same decisions every round: report them once
        rng = station_rng(seed, context.station, round_number)
        local = local_train(network, weights, Xt, yt, ot, config, rng, noise)
        payload["weighted"] = (n_train * local).tolist()
        # n_k times the station's number of steps (public: from n_k and the batch
        # size), for the coordinator's L1 threshold.
        payload["steps"] = n_train * steps_per_round(n_train, config)
    else:
        decisions = []
    return StationOutput(payload, decisions)
