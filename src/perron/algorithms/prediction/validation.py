"""External validation of a published prediction model without releasing predictions.

Round 0 (``scores``): each station evaluates the model on its complete rows
(:func:`~perron.algorithms.prediction.scoring.score_rows`) and releases sums only: rows,
observed events, expected events (sum of predicted risks), the Brier sum
``sum (y - p)^2``, the sum and sum of squares of the linear predictor, and its
own concordance counts (pairs of its subjects, counted exactly: Mann-Whitney for
a logistic model, Harrell's for Cox, two numbers).

Round 1 (``bins``): pairs of subjects at *different* stations need both scores.
The coordinator fixes a fine grid on the linear predictor (pooled mean +- 5 SD,
``bins`` bins, plus the two tails). Each station bins its scores per role
(cases and non-cases; for Cox, events and all subjects per interval of follow-up
time) and merges consecutive bins into blocks of at least ``min_cell`` subjects
(:func:`~perron.algorithms.prediction.scoring.release_blocks`); only blocks leave. The
coordinator spreads each block evenly over its bins and counts cross-station
pairs on the fine grid. For a logistic model, pairs whose blocks do not overlap
are ordered exactly, so the error of the AUC is at most the share of pairs in
overlapping blocks (``concordance_max_error``).

Round 2 (``calibration``, logistic): bins of predicted risk at the pooled deciles
(read off the pooled histogram); each station merges adjacent bins until each
holds ``min_cell`` rows and releases per merged bin its rows, observed and
expected events. The pooled table uses the bin boundaries every station kept.

Calibration-in-the-large and slope are exact federated GLMs (see
:mod:`perron.algorithms.prediction.recalibration`); :meth:`perron.Session.validate` adds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.algorithms.core.base import (
    DisclosureContract,
    Done,
    FederatedAlgorithm,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.prediction.published_model import PublishedModel
from perron.algorithms.prediction.scoring import (
    concordance_within,
    decode_blocks,
    encode_blocks,
    merge_blocks,
    overlapping_pairs,
    pairs_above,
    pooled_shape,
    release_blocks,
    score_rows,
    spread,
)
from perron.algorithms.prediction.validation_result import ValidationResult
from perron.data.grouped import harrell
from perron.data.source import DataSource
from perron.privacy.rules import LEVELS_DENSITY, MIN_CELL, MIN_ROWS
from perron.privacy.survival import EVENT_TIMES, check_event_times, time_grid
from perron.protocol.errors import InputError
from perron.protocol.messages import Decision

FloatArray = npt.NDArray[np.float64]
#: The fine score grid spans the pooled mean +- this many standard deviations.
GRID_SD = 5.0


@dataclass(frozen=True)
class _State:
    scores: Mapping[str, Payload] = field(default_factory=dict)
    edges: tuple[float, ...] = ()
    bins: Mapping[str, Payload] = field(default_factory=dict)
    calibration_edges: tuple[float, ...] = ()


class Validate(FederatedAlgorithm[_State, ValidationResult]):
    """Discrimination, calibration and Brier score of a published model."""

    name = "validate"
    contract = DisclosureContract(
        releases={
            "n": "scalar: complete rows",
            "dropped": "scalar: rows dropped for missing values",
            "observed": "scalar: number of events",
            "expected": "scalar: sum of predicted risks",
            "brier": "scalar: sum of squared prediction errors",
            "lp": "2 numbers: sum and sum of squares of the linear predictor",
            "concordance": "2 numbers: concordant (+ half tied) and comparable pairs within "
            "the station",
            "blocks": "per role, blocks (time rows x score bins) of >= min_cell subjects; at "
            "most rows x (bins + 2) blocks",
            "calibration": "per merged risk bin of >= min_cell rows: rows, observed, expected",
        },
        rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, EVENT_TIMES),
    )

    def __init__(
        self,
        model: PublishedModel,
        outcome: str,
        *,
        event: str | None = None,
        bins: int = 200,
        calibration_bins: int = 10,
        time_edges: Sequence[float] = (),
    ) -> None:
        if (model.kind == "cox") != (event is not None):
            raise InputError(
                "a Cox model is validated with duration= and event=, a logistic model with "
                "outcome= only."
            )
        if bins < 2 or calibration_bins < 1:
            raise InputError("bins must be at least 2 and calibration_bins at least 1.")
        edges = np.asarray(time_edges, dtype=np.float64)
        if edges.size and not np.all(np.diff(edges) > 0):
            raise InputError("time_edges must be increasing.")
        self.model = model
        self.outcome = outcome
        self.event = event
        self.bins = bins
        self.calibration_bins = calibration_bins
        self.time_edges = tuple(edges.tolist())

    # -- station ----------------------------------------------------------------------

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        model = PublishedModel.from_dict(params["model"])
        event = params.get("event")
        decisions: list[Decision] = []
        if event:
            decisions.append(check_event_times(context.station, context.policy, "validation"))
        scored, more = score_rows(data, model, str(params["outcome"]), event, context)
        decisions += more
        time = None
        if scored.time is not None:
            grid = time_grid(context.policy)
            time = scored.time if grid is None else np.ceil(scored.time / grid - 1e-12) * grid
        step = params["step"]
        if step == "scores":
            return StationOutput(
                _scores(model, scored.lp, scored.y, time, scored.dropped), decisions
            )
        if step == "bins":
            edges = np.asarray(params["edges"], dtype=np.float64)
            cells = np.searchsorted(edges, scored.lp, side="right")
            width = edges.size + 1
            if time is None:
                roles = {"cases": scored.y == 1, "controls": scored.y == 0}
                rows = np.zeros(scored.lp.size, dtype=np.int64)
                height = 1
            else:
                roles = {"events": scored.y == 1, "all": np.ones(scored.lp.size, dtype=bool)}
                time_edges = np.asarray(params["time_edges"], dtype=np.float64)
                rows = np.searchsorted(time_edges, time, side="left")
                height = time_edges.size + 1
            blocks: dict[str, Any] = {}
            for role, mask in roles.items():
                table = np.zeros((height, width), dtype=np.int64)
                np.add.at(table, (rows[mask], cells[mask]), 1)
                released, decision = release_blocks(table, context, f"score bins of {role}")
                blocks[role] = encode_blocks(released, height, width)
                decisions.append(decision)
            return StationOutput({"blocks": blocks}, decisions)
        risk = model.risk(scored.lp)
        assert risk is not None
        cal_edges = np.asarray(params["calibration_edges"], dtype=np.float64)
        cells = np.searchsorted(cal_edges, scored.lp, side="right")
        size = cal_edges.size + 1
        n = np.bincount(cells, minlength=size).astype(np.int64)
        observed = np.bincount(cells, scored.y, minlength=size)
        expected = np.bincount(cells, risk, minlength=size)
        merged = merge_blocks(n, context.policy.min_cell)
        # Fixed-size release: each merged bin's sums at its last bin, its first bin
        # beside them (-1 where no merged bin ends).
        first = np.full(size, -1, dtype=np.int64)
        sums = np.zeros((3, size))
        for b0, b1 in merged:
            span = slice(b0, b1 + 1)
            first[b1] = b0
            sums[:, b1] = [n[span].sum(), observed[span].sum(), expected[span].sum()]
        calibration = {"first": first.tolist(), "sums": sums.tolist()}
        detail = f"calibration bins: {len(merged)} of >= min_cell rows (adjacent bins merged)"
        decisions.append(
            Decision(context.station, MIN_CELL, context.policy.min_cell, "passed", detail)
        )
        return StationOutput({"calibration": calibration}, decisions)

    # -- coordinator ------------------------------------------------------------------

    def _params(self, step: str, **extra: Any) -> dict[str, Any]:
        return {
            "step": step,
            "model": self.model.to_dict(),
            "outcome": self.outcome,
            "event": self.event,
            **extra,
        }

    def start(self) -> Next[_State]:
        return Next(self._params("scores"), _State())

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[ValidationResult]:
        if not state.scores:
            n = sum(int(p["n"]) for p in partials.values())
            total = sum(float(p["lp"][0]) for p in partials.values())
            squares = sum(float(p["lp"][1]) for p in partials.values())
            mean = total / n
            sd = float(np.sqrt(max(squares / n - mean**2, 0.0))) or 1.0
            edges = tuple(np.linspace(mean - GRID_SD * sd, mean + GRID_SD * sd, self.bins + 1))
            params = self._params("bins", edges=list(edges), time_edges=list(self.time_edges))
            return Next(params, _State(scores=dict(partials), edges=edges))
        if not state.bins:
            partials = {
                s: {"blocks": {r: decode_blocks(b) for r, b in p["blocks"].items()}}
                for s, p in partials.items()
            }
            if self.model.kind == "cox":
                return Done(self._result(state.scores, partials, len(state.edges) + 1, None, ()))
            cal_edges = _deciles(partials, np.asarray(state.edges), self.calibration_bins)
            params = self._params("calibration", calibration_edges=list(cal_edges))
            return Next(params, _State(state.scores, state.edges, dict(partials), cal_edges))
        width = len(state.edges) + 1
        calibration = {s: {"calibration": _calibration_rows(p)} for s, p in partials.items()}
        return Done(
            self._result(state.scores, state.bins, width, calibration, state.calibration_edges)
        )

    def _result(
        self,
        scores: Mapping[str, Payload],
        bins: Mapping[str, Payload],
        width: int,
        calibration: Mapping[str, Payload] | None,
        cal_edges: Sequence[float],
    ) -> ValidationResult:
        stations = list(scores)
        per_station = pd.DataFrame(
            {
                "n": [int(scores[s]["n"]) for s in stations],
                "observed": [float(scores[s]["observed"]) for s in stations],
                "expected": [_maybe(scores[s]["expected"]) for s in stations],
                "brier": [_maybe(scores[s]["brier"]) for s in stations],
                "concordance": [_ratio(scores[s]["concordance"]) for s in stations],
            },
            index=pd.Index(stations, name="station"),
        )
        per_station.insert(3, "O/E", per_station["observed"] / per_station["expected"])
        per_station["brier"] = per_station["brier"] / per_station["n"]
        within = sum(float(scores[s]["concordance"][0]) for s in stations)
        within_pairs = sum(float(scores[s]["concordance"][1]) for s in stations)
        if self.model.kind == "logistic":
            cross, cross_pairs, ambiguous = _cross_auc(bins, width)
        else:
            cross, cross_pairs = _cross_harrell(bins, len(self.time_edges) + 1, width)
            ambiguous = None
        n = int(per_station["n"].sum())
        pairs = within_pairs + cross_pairs
        expected = (
            None if self.model.risk(np.zeros(1)) is None else float(per_station["expected"].sum())
        )
        table, by_station = (None, None)
        if calibration is not None:
            table, by_station = _calibration(calibration, cal_edges, self.model)
        brier = float(per_station["brier"].mul(per_station["n"]).sum()) / n
        return ValidationResult(
            kind=self.model.kind,
            model=self.model.name,
            nobs=n,
            observed=float(per_station["observed"].sum()),
            expected=expected,
            brier=brier if self.model.kind == "logistic" else None,
            concordance=(within + cross) / pairs,
            concordance_within=within / within_pairs,
            concordance_max_error=None if ambiguous is None else ambiguous / pairs,
            per_station=per_station,
            calibration=table,
            calibration_per_station=by_station,
            nobs_per_station={s: int(scores[s]["n"]) for s in stations},
        )


def _scores(
    model: PublishedModel, lp: FloatArray, y: FloatArray, time: FloatArray | None, dropped: int
) -> dict[str, Any]:
    risk = model.risk(lp)
    if time is None:
        concordant, pairs = concordance_within(lp, y)
    else:
        ones = np.ones(lp.size, dtype=np.int64)
        concordant, pairs = harrell(time, y == 1, lp, ones)
    brier = None
    if risk is not None and time is None:
        brier = float(np.sum((y - risk) ** 2))
    return {
        "n": int(lp.size),
        "dropped": dropped,
        "observed": float(y.sum()),
        "expected": None if risk is None else float(risk.sum()),
        "brier": brier,
        "lp": [float(lp.sum()), float(np.sum(lp**2))],
        "concordance": [float(concordant), int(pairs)],
    }


def _calibration_rows(payload: Payload) -> list[list[float]]:
    """A station's merged calibration bins as rows [first, last, n, observed, expected]."""
    first = np.asarray(payload["calibration"]["first"], dtype=np.int64)
    sums = np.asarray(payload["calibration"]["sums"], dtype=np.float64)
    return [[float(first[b]), float(b), *sums[:, b].tolist()] for b in np.flatnonzero(first >= 0)]


def _maybe(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _ratio(pair: Sequence[float]) -> float:
    return float(pair[0]) / float(pair[1]) if float(pair[1]) else float("nan")


def _cross_auc(bins: Mapping[str, Payload], width: int) -> tuple[float, float, float]:
    """Concordant and total case-control pairs across stations, and the pairs whose
    order the blocks leave open."""
    shape = {
        role: pooled_shape([p["blocks"][role] for p in bins.values()], 1, width)
        for role in ("cases", "controls")
    }
    cases = {s: spread(p["blocks"]["cases"], 1, width, shape["cases"])[0] for s, p in bins.items()}
    controls = {
        s: spread(p["blocks"]["controls"], 1, width, shape["controls"])[0] for s, p in bins.items()
    }
    concordant = pairs = ambiguous = 0.0
    for a in bins:
        for b in bins:
            if a == b:
                continue
            concordant += pairs_above(cases[a], controls[b])
            pairs += float(cases[a].sum() * controls[b].sum())
            ambiguous += overlapping_pairs(
                bins[a]["blocks"]["cases"], bins[b]["blocks"]["controls"]
            )
    return concordant, pairs, ambiguous


def _cross_harrell(bins: Mapping[str, Payload], rows: int, width: int) -> tuple[float, float]:
    """Harrell's concordant and comparable pairs across stations.

    An event in time interval k and a subject of another station in a later
    interval are comparable; in the same interval, half a pair (their order in time
    is unknown). Comparable pairs are concordant when the event has the higher
    score, half when the scores share a bin.
    """
    shape = {
        role: pooled_shape([p["blocks"][role] for p in bins.values()], rows, width)
        for role in ("events", "all")
    }
    events = {
        s: spread(p["blocks"]["events"], rows, width, shape["events"]) for s, p in bins.items()
    }
    everyone = {s: spread(p["blocks"]["all"], rows, width, shape["all"]) for s, p in bins.items()}
    concordant = comparable = 0.0
    for a in bins:
        for b in bins:
            if a == b:
                continue
            later = np.cumsum(everyone[b][::-1], axis=0)[::-1]  # rows >= k
            for k in range(rows):
                after = later[k + 1] if k + 1 < rows else np.zeros(width)
                weight = after + 0.5 * everyone[b][k]
                comparable += float(events[a][k].sum() * weight.sum())
                concordant += pairs_above(events[a][k], weight)
    return concordant, comparable


def _deciles(bins: Mapping[str, Payload], edges: FloatArray, groups: int) -> tuple[float, ...]:
    """Edges at the pooled quantiles of the linear predictor, read off the histogram."""
    width = edges.size + 1
    total = np.zeros(width)
    for p in bins.values():
        for role in p["blocks"].values():
            total += spread(role, 1, width)[0]
    cumulative = np.cumsum(total)
    out: list[float] = []
    for q in np.arange(1, groups) / groups:
        cell = int(np.searchsorted(cumulative, q * cumulative[-1]))
        edge = float(edges[min(max(cell, 0), edges.size - 1)])
        if not out or edge > out[-1]:
            out.append(edge)
    return tuple(out)


def _calibration(
    partials: Mapping[str, Payload], edges: Sequence[float], model: PublishedModel
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Per-station tables and the pooled table over the boundaries all stations kept."""
    lp_edges = np.concatenate([[-np.inf], np.asarray(edges, dtype=np.float64), [np.inf]])
    risk_edges = model.risk(lp_edges)
    assert risk_edges is not None

    def frame(rows: Sequence[Sequence[float]]) -> pd.DataFrame:
        table = pd.DataFrame(rows, columns=["first", "last", "n", "observed", "expected"])
        table.insert(0, "risk_from", risk_edges[table["first"].astype(int)])
        table.insert(1, "risk_to", risk_edges[table["last"].astype(int) + 1])
        table["observed_risk"] = table["observed"] / table["n"]
        table["expected_risk"] = table["expected"] / table["n"]
        return table.drop(columns=["first", "last"])

    by_station = {s: frame(p["calibration"]) for s, p in partials.items()}
    size = len(edges) + 1
    # A boundary after bin i is common when every station either ends a block at i or
    # has no rows on one side of it (its blocks do not straddle i).
    common = [
        i
        for i in range(size - 1)
        if all(not any(b0 <= i < b1 for b0, b1, *_ in p["calibration"]) for p in partials.values())
    ]
    cuts = [*common, size - 1]
    pooled: list[list[float]] = []
    start = 0
    for cut in cuts:
        inside = [
            r for p in partials.values() for r in p["calibration"] if start <= r[0] and r[1] <= cut
        ]
        if inside:
            pooled.append([start, cut, *np.sum([r[2:] for r in inside], axis=0).tolist()])
        start = cut + 1
    return frame(pooled), by_station
