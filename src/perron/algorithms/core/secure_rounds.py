"""Rounds under secure aggregation: stations mask their partials, the coordinator sees sums.

An algorithm that can run so declares, per round, the payload fields its
coordinator only ever adds up (:meth:`FederatedAlgorithm.secure_fields`); the other
fields (category levels, flags) travel in the clear. A run then

1. opens with a ``keys`` round: every station makes an X25519 key pair for the run
   (:class:`perron.secure.secagg.MaskKey`), keeps the private half in its session
   memory and releases the public half;
2. sends every round's parameters with ``params[SECURE_AGGREGATION] = {run, round,
   keys}``; the station computes its partial as usual, then replaces the additive
   fields by one masked vector (:func:`mask_payload`);
3. adds the masked vectors of all stations (:meth:`SecureRun.combine`) and hands the
   algorithm's coordinator step one partial, ``SECURE_SUM``, holding the sums.

A cell a station suppressed (``NaN``) is sent as zero plus a count in a masked
indicator vector; a summed cell that any station suppressed stays ``NaN``. With
fewer than three stations, or when a station drops out, the run stops with an
error that says what to do (:mod:`perron.secure.secagg`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from perron.algorithms.core.base import FederatedResult, Payload, raise_station_errors
from perron.crypto.keys import b64, unb64
from perron.data.design import pool_levels
from perron.protocol.errors import InputError, RoundTimeout, TamperedMessage
from perron.protocol.messages import SECURE_AGGREGATION, Decision, Partial, Task
from perron.secure.secagg import MIN_STATIONS, MaskKey, Ring, StationDropped, mask, unmask

R = TypeVar("R", bound=FederatedResult)

#: The name of the one partial the coordinator step sees under secure aggregation.
SECURE_SUM = "(secure sum)"
#: The payload key of a station's masked vector.
MASKED = "masked"
#: The payload key of a station's per-run public key (the ``keys`` round).
KEY = "secagg_key"


def key_round(run: str) -> dict[str, Any]:
    return {SECURE_AGGREGATION: {"stage": "keys", "run": run}}


def open_run(memory: Any, run: str) -> dict[str, str]:
    """Station side of the ``keys`` round: a fresh key pair; the public half out."""
    key = MaskKey()
    memory.open(f"secagg:{run}")["key"] = key
    return {KEY: b64(key.public)}


def _leaves(value: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """The numeric leaves of a field, nested mappings flattened into paths."""
    if isinstance(value, Mapping):
        return [leaf for key in sorted(value) for leaf in _leaves(value[key], (*path, str(key)))]
    return [(path, value)]


def mask_payload(
    payload: Mapping[str, Any],
    fields: frozenset[str],
    spec: Mapping[str, Any],
    me: str,
    memory: Any,
) -> dict[str, Any]:
    """Station side: ``payload`` with its additive ``fields`` replaced by one masked vector.

    A field may be a number, an array or a nested mapping of those (per column, per
    stratum); the layout (paths and shapes, no values) travels in the clear.
    """
    key: MaskKey = memory.get(f"secagg:{spec['run']}")["key"]
    peers = {name: unb64(str(k)) for name, k in spec["keys"].items()}
    layout: list[list[Any]] = []
    parts: list[npt.NDArray[np.float64]] = []
    for name in sorted(fields):
        if name not in payload:
            raise InputError(f"the partial lacks the field {name!r} secure aggregation adds up.")
        for path, leaf in _leaves(payload[name], (name,)):
            value = np.asarray(leaf, dtype=np.float64)
            layout.append([list(path), list(value.shape)])
            parts.append(value.ravel())
    values = np.concatenate(parts) if parts else np.zeros(0)
    suppressed = np.isnan(values)
    vector = np.concatenate([np.where(suppressed, 0.0, values), suppressed.astype(np.float64)])
    masked = mask(
        vector, me=me, key=key, peers=peers, run=str(spec["run"]), label=str(spec["round"])
    )
    clear = {k: v for k, v in payload.items() if k not in fields}
    packed = {"layout": layout, "size": masked.size, "data": b64(masked.to_bytes())}
    return {**clear, MASKED: packed}


class SecureRun:
    """Coordinator side of one run of an algorithm under secure aggregation."""

    def __init__(self, run: str, keys: Mapping[str, str]) -> None:
        if len(keys) < MIN_STATIONS:
            raise InputError(
                f"secure aggregation needs at least {MIN_STATIONS} stations and this session "
                f"has {len(keys)}; add stations or run without it (if the study policy allows)."
            )
        self.run = run
        self.keys = dict(keys)

    @classmethod
    def start(cls, grid: Any, algorithm: str, disclosure: Mapping[str, Any]) -> SecureRun:
        """Run the ``keys`` round on ``grid``."""
        run = uuid.uuid4().hex
        partials: Mapping[str, Partial] = grid.run_round(
            Task(algorithm, key_round(run), 0, dict(disclosure))
        )
        payloads = raise_station_errors(partials)
        return cls(run, {name: str(p[KEY]) for name, p in payloads.items()})

    def params(self, params: Payload, round_number: int) -> dict[str, Any]:
        spec = {"run": self.run, "round": round_number, "keys": self.keys}
        return {**params, SECURE_AGGREGATION: spec}

    def combine(self, payloads: Mapping[str, Payload]) -> dict[str, Payload]:
        """The one partial of sums the coordinator step sees."""
        dropped = sorted(set(self.keys) - set(payloads))
        if dropped:
            raise StationDropped(dropped)
        layouts = {_layout(p) for p in payloads.values()}
        if len(layouts) != 1:
            raise TamperedMessage(
                "the stations masked different fields or shapes in one round; the round was "
                "stopped (their data may differ in levels the algorithm cannot align)."
            )
        masked = {
            name: Ring.from_bytes(unb64(str(p[MASKED]["data"])), int(p[MASKED]["size"]))
            for name, p in payloads.items()
        }
        total = unmask(masked, list(self.keys))
        first = next(iter(payloads.values()))
        half = total.size // 2
        values, suppressed = total[:half], total[half:]
        values = np.where(suppressed > 0.5, np.nan, values)
        combined: dict[str, Any] = {}
        offset = 0
        for path, dims in first[MASKED]["layout"]:
            shape = tuple(int(d) for d in dims)
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            chunk = values[offset : offset + count]
            offset += count
            node = combined
            for key in path[:-1]:
                node = node.setdefault(str(key), {})
            node[str(path[-1])] = float(chunk[0]) if not shape else chunk.reshape(shape).tolist()
        for name, value in first.items():
            if name == MASKED:
                continue
            others = [p.get(name) for p in payloads.values()]
            combined[name] = _clear_field(name, value, others)
        return {SECURE_SUM: combined}


def _layout(payload: Payload) -> str:
    if MASKED not in payload:
        raise TamperedMessage(
            "a station answered a secure-aggregation round without masking its partial; "
            "the round was stopped."
        )
    spec = payload[MASKED]
    return repr((spec["layout"], int(spec["size"])))


def _clear_field(name: str, value: Any, values: Sequence[Any]) -> Any:
    """A field sent in the clear: flags are or-ed, levels (and event-time grids) pooled
    per key, anything else must agree."""
    if isinstance(value, bool):
        return any(bool(v) for v in values)
    if isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in values):
        return pool_levels(values, sorted({str(key) for v in values for key in v}))
    if any(v != value for v in values):
        raise InputError(
            f"the stations' {name!r} differ, and this algorithm cannot combine them under "
            "secure aggregation; run it without secure aggregation or align the data."
        )
    return value


class SecureAggregation:
    """Secure aggregation for :meth:`FederatedAlgorithm.run` (its ``secure`` argument):
    the implementation of :class:`~perron.algorithms.core.base.SecureRounds`."""

    def start(self, grid: Any, algorithm: str, disclosure: Mapping[str, Any]) -> SecureRun:
        return SecureRun.start(grid, algorithm, disclosure)

    def retry(self, attempt: Callable[[Any], R], grid: Any) -> R:
        """Run ``attempt(grid)``; if stations drop out, run it again once without them.

        A dropout is a station missing from a round's partials, or one that did not
        answer in time over a hub (:class:`RoundTimeout`). The first run's masks cannot be
        removed without the dropped stations' seeds, so
        the whole analysis starts again (new keys) on the remaining stations, when at
        least three remain and the grid can leave stations out (``grid.without``). The
        result's decisions record who was left out.
        """
        try:
            return attempt(grid)
        except (StationDropped, RoundTimeout) as dropped:
            without = getattr(grid, "without", None)
            gone = dropped.stations
            remaining = [s for s in grid.stations if s not in gone]
            if not gone or without is None or len(remaining) < MIN_STATIONS:
                raise
            result = attempt(without(gone))
            left_out = tuple(
                Decision(s, SECURE_AGGREGATION, MIN_STATIONS, "withheld", "dropped out; left out")
                for s in gone
            )
            return replace(result, decisions=left_out + tuple(result.decisions))
