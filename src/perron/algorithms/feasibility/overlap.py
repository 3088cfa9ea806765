"""The overlap report before a study: how many records of each holder can be linked.

The stations run private set intersection (:mod:`perron.linkage.psi`) on their link
keys (study pseudonyms). The researcher's coordinator only relays the PSI messages,
each sealed (signed and encrypted) from one station to another with session keys
the stations make for this report, so the coordinator and the hub learn only who
sends to whom and the message lengths (the set sizes, which the report gives
anyway). A station releases to the researcher only counts: the set sizes, every
pairwise overlap, the all-way overlap and, when variables are asked for, the
number of linked records that miss each variable at that station. Every count
passes the holder's small-cells rule and rounding (a suppressed count is reported
as missing).

With a cohort (``Overlap(stations, cohort=...)``, the feasibility count's "present
at several holders"), each station takes only its records in the cohort, after the
feasibility guard's checks (:func:`perron.algorithms.feasibility.counts.guard`).

Rounds: ``keys`` (each station makes a session key pair and publishes its public
half), ``start`` (each station blinds its set and seals the first PSI message),
``relay`` (as many as the protocol needs: the coordinator hands every station the
messages sealed for it), ``report`` (the counts). Without variables the PSI runs in
cardinality mode, so no station learns *which* of its records are shared; with
variables it runs in intersection mode, and each station learns which of its own
records are in the linked set (it needs that to count missing values), but nothing
of the others' other records.

Semi-honest model, as PSI's: a coordinator that replaces the stations' session
keys could read the messages (it still sees only blinded points); stations' long
term keys could sign the session keys to close that, at the cost of the simulation
having no keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
from perron.algorithms.feasibility.guard import guard
from perron.algorithms.linkage.relay import inboxes, my_inbox, send_psi
from perron.crypto.keys import KeyPair, PublicKeys
from perron.data.cohort import Cohort
from perron.data.source import DataSource
from perron.linkage.psi import PsiParty
from perron.linkage.psi_messages import open_message
from perron.privacy.rules import MIN_CELL, release_counts
from perron.protocol.errors import InputError
from perron.protocol.messages import Decision


@dataclass(frozen=True)
class _State:
    session: str
    parties: tuple[str, ...]
    mode: str
    keys: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    stage: str = "keys"


@dataclass(frozen=True, kw_only=True)
class OverlapReport(FederatedResult):
    """Sizes, pairwise and all-way overlaps, coverage and missingness on the linked set.

    Counts a holder's rules suppressed are ``NaN``.
    """

    sizes: Mapping[str, float]
    pairwise: Mapping[tuple[str, str], float]
    overlap: float
    missing: pd.DataFrame

    @property
    def coverage(self) -> dict[str, float]:
        """Per holder: the share of its records in the all-way linked set, in percent."""
        return {
            name: 100.0 * self.overlap / size if size else float("nan")
            for name, size in self.sizes.items()
        }

    @property
    def table(self) -> pd.DataFrame:
        """One row per holder and per pair, and the all-way row."""
        rows = [
            {"holders": name, "records": size, "coverage %": self.coverage[name]}
            for name, size in self.sizes.items()
        ]
        rows += [
            {"holders": f"{a} & {b}", "records": count, "coverage %": float("nan")}
            for (a, b), count in self.pairwise.items()
        ]
        rows.append({"holders": "all", "records": self.overlap, "coverage %": float("nan")})
        return pd.DataFrame(rows).set_index("holders")

    def __str__(self) -> str:
        text = self.table.to_string(float_format=lambda v: f"{v:,.1f}")
        if not self.missing.empty:
            text += "\n\nmissing values on the linked set\n" + self.missing.to_string()
        return text

    def plot(self, path: str | Path | None = None) -> Any:
        """An UpSet-style bar chart: records per holder, per pair and linked at all."""
        from perron.plots.overlap import overlap_plot  # noqa: PLC0415 - matplotlib only here

        return overlap_plot(self.table, list(self.sizes), path)


class Overlap(FederatedAlgorithm[_State, OverlapReport]):
    """The overlap of the stations' link keys, and missingness on the linked set.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> a = pd.DataFrame({"pid": [f"p{i}" for i in range(40)], "age": range(40)})
    >>> b = pd.DataFrame({"pid": [f"p{i}" for i in range(20, 70)], "bmi": range(50)})
    >>> report = perron.simulate({"a": a, "b": b}, link_column="pid").overlap()
    >>> report.sizes, report.overlap
    ({'a': 40.0, 'b': 50.0}, 20.0)
    """

    name = "overlap"
    contract = DisclosureContract(
        releases={
            "box": "this session's public key (one per station)",
            "messages": "PSI messages sealed for other stations (blinded points only)",
            "done": "whether this station's PSI finished",
            "counts": "set sizes, pairwise and all-way overlap (small cells suppressed)",
            "missing": "per requested variable, linked records missing it",
        },
        rules=(MIN_CELL,),
    )
    max_rounds = 50

    def __init__(
        self,
        stations: Sequence[str],
        columns: Sequence[str] = (),
        cohort: Cohort | Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if len(stations) < 2:
            raise InputError("an overlap needs at least two stations.")
        self.stations = tuple(stations)
        self.columns = tuple(columns)
        self.cohort = (
            None if cohort is None or isinstance(cohort, Cohort) else Cohort.from_wire(cohort)
        )

    def start(self) -> Next[_State]:
        mode = "intersection" if self.columns else "cardinality"
        state = _State(uuid.uuid4().hex, self.stations, mode)
        return self._with_cohort(Next(_params(state), state))

    def _with_cohort(self, step: Next[_State]) -> Next[_State]:
        """Every round names the cohort, when the overlap is of a cohort's records."""
        if self.cohort is None:
            return step
        return Next({**step.params, "cohort": self.cohort.to_wire()}, step.state)

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[OverlapReport]:
        outcome = self._step(partials, state)
        return outcome if isinstance(outcome, Done) else self._with_cohort(outcome)

    def _step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[OverlapReport]:
        if state.stage == "keys":
            keys = {name: dict(p["box"]) for name, p in partials.items()}
            following = _State(state.session, state.parties, state.mode, keys, "start")
            return Next(_params(following), following)
        if state.stage in ("start", "relay"):
            inbox = inboxes(partials, state.parties)
            if all(payload.get("done") for payload in partials.values()):
                following = _State(state.session, state.parties, state.mode, state.keys, "report")
                return Next({**_params(following), "columns": list(self.columns)}, following)
            following = _State(state.session, state.parties, state.mode, state.keys, "relay")
            return Next({**_params(following), "inbox": inbox}, following)
        return Done(self._report(partials, state))

    def _report(self, partials: Mapping[str, Payload], state: _State) -> OverlapReport:
        sizes: dict[str, float] = {}
        pairwise: dict[tuple[str, str], float] = {}
        overlaps: list[float] = []
        for name in state.parties:
            counts = partials[name]["counts"]
            sizes[name] = _number(counts["size"])
            overlaps.append(_number(counts["overlap"]))
            for pair in counts.get("pairwise", ()):
                key = (str(pair[0]), str(pair[1]))
                value = _number(pair[2])
                pairwise[key] = value if key not in pairwise else _stricter(pairwise[key], value)
        overlap = overlaps[0]
        for value in overlaps[1:]:
            overlap = _stricter(overlap, value)
        missing = pd.DataFrame(
            {name: partials[name].get("missing", {}) for name in state.parties}
        ).astype(float)
        return OverlapReport(sizes=sizes, pairwise=pairwise, overlap=overlap, missing=missing)

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        if context.linkage is None:
            raise InputError(
                f"station {context.station!r} has no link key column; its holder must "
                "configure the column of study pseudonyms to take part in linkage."
            )
        session = str(params["session"])
        stage = params["stage"]
        if stage == "keys":
            memory = context.memory.open(session)
            memory["keys"] = KeyPair.generate()
            return StationOutput({"box": memory["keys"].public().to_dict()}, [])
        memory = context.memory.get(session)
        own: KeyPair = memory["keys"]
        if stage == "start":
            peers = {name: PublicKeys.from_dict(dict(k)) for name, k in params["keys"].items()}
            memory["peers"] = peers
            cohort = None
            if params.get("cohort") is not None:  # a feasibility count: the same guard
                cohort = Cohort.from_wire(params["cohort"])
                guard(cohort, data, context)
            party = PsiParty(
                context.station,
                context.linkage.keys(cohort),
                parties=list(params["parties"]),
                session=session,
                mode=params["mode"],
            )
            memory["party"] = party
            return send_psi(party.start(), peers, own, party.done)
        party = memory["party"]
        peers = memory["peers"]
        if stage == "relay":
            outgoing = []
            for item in my_inbox(params, context.station):
                sender = str(item["from"])
                message = open_message(str(item["sealed"]), own, peers[sender], sender)
                outgoing += party.receive(message)
            return send_psi(outgoing, peers, own, party.done)
        outcome = party.outcome()
        context.memory.close(session)
        return _counts(outcome, params, context, data)


def _params(state: _State) -> dict[str, Any]:
    return {
        "stage": state.stage,
        "session": state.session,
        "parties": list(state.parties),
        "mode": state.mode,
        "keys": {name: dict(k) for name, k in state.keys.items()},
    }


def _counts(
    outcome: Any, params: Payload, context: StationContext, data: DataSource
) -> StationOutput:
    station = context.station
    # Intersection mode announces no pairwise overlaps (Session.overlap runs a
    # cardinality session for them): never release a zero for an unknown count.
    pairs = [
        (a, b)
        for a, b in combinations(outcome.sizes, 2)
        if station in (a, b) and ((a, b) in outcome.pairwise or (b, a) in outcome.pairwise)
    ]
    raw = np.array(
        [outcome.sizes[station], outcome.overlap]
        + [outcome.pairwise.get((a, b), outcome.pairwise.get((b, a))) for a, b in pairs],
        dtype=np.int64,
    )
    released, decisions = release_counts(station, raw, context.policy, "overlap counts")
    counts: dict[str, Any] = {
        "size": _wire(released[0]),
        "overlap": _wire(released[1]),
        "pairwise": [[a, b, _wire(v)] for (a, b), v in zip(pairs, released[2:], strict=True)],
    }
    payload: dict[str, Any] = {"counts": counts}
    columns = [str(c) for c in params.get("columns", ())]
    if columns:
        assert context.linkage is not None
        assert outcome.shared is not None
        linked = context.linkage.restricted(outcome.shared)
        missing = np.array(list(linked.missing_counts(columns).values()), dtype=np.int64)
        shown, more = release_counts(station, missing, context.policy, "missing on linked set")
        payload["missing"] = {c: _wire(v) for c, v in zip(columns, shown, strict=True)}
        decisions = [*decisions, *more]
    return StationOutput(payload, list[Decision](decisions))


def _wire(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _stricter(a: float, b: float) -> float:
    """Two stations' releases of one count: suppressed if either suppressed it."""
    return float("nan") if np.isnan(a) or np.isnan(b) else max(a, b) if a != b else a
