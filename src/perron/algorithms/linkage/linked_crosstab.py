"""A crosstab of a variable at one holder against a variable at another, on linked records.

Holder A has variable ``x`` and holder B variable ``y`` of the same people (vertical
partitioning); neither may see the other's values, and the data are not pooled.
The table ``n[i, j] = #{linked people with x = i and y = j}`` is the product
``X' Y`` of A's one-hot matrix ``X`` (people x levels of ``x``) and B's ``Y``. It is
computed with a **helper** that sees only sizes and masked values:

1. ``keys``: A, B and the helper make session key pairs (messages between them
   are signed and encrypted; the coordinator only relays them).
2. ``start`` / ``relay``: A and B run private set intersection
   (:mod:`perron.linkage.psi`, intersection mode) on their link keys; each learns
   which of *its own* records are linked. Both sort the linked keys (the same study
   pseudonyms), so their rows line up without anyone sending a key.
3. ``dims``: A and B release the levels of their variable on the linked set (the
   table's labels, after the levels-density and minimum-rows rules) and tell the
   helper, sealed, the number of linked records and their disclosure settings.
4. ``deal``: the helper deals a matrix Beaver triple for that shape
   (:mod:`perron.secure.beaver`): a seed to A, a seed and a share to B.
5. ``mask``: A sends B ``X' - U`` with a fresh seed for a common mask; B sends A
   ``Y - V``. Both are uniform in ``Z/2^64``: one-time pads.
6. ``share``: each sends the helper its share of ``X' Y``, hidden by the common
   mask (``+R`` at A, ``-R`` at B).
7. ``release``: the helper adds the two shares, the table, and releases it under
   the strictest of A's, B's and its own disclosure settings (small cells
   suppressed, counts rounded).

**What each party learns.** The coordinator (researcher) and the hub: who sends
to whom and message lengths (so the linked-set size and the numbers of levels),
the levels of ``x`` and ``y`` on the linked set, and the released table. A and B:
which of their own records are linked (not the other's other records), the
other's number of levels, and uniform masked matrices; they do not see the
table. The helper: the number of linked records, the numbers of levels, both
holders' disclosure settings and the exact table (an aggregate) before it applies
the rules; never a key, a value or a row. Semi-honest parties and no collusion
between the helper and a holder (the helper's randomness would unmask the other
holder's values); the helper should be a party with no stake in the data (a TTP
or a third holder).
"""

from __future__ import annotations

import uuid
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
    FederatedResult,
    Next,
    Payload,
    StationContext,
    StationOutput,
)
from perron.algorithms.core.checks import require_rows
from perron.algorithms.linkage.relay import (
    inboxes,
    my_inbox,
    open_from,
    pack_array,
    seal_for,
    send_psi,
    unpack_array,
)
from perron.crypto.keys import KeyPair, PublicKeys, b64, unb64
from perron.crypto.prg import new_seed
from perron.data.design import Level, sort_levels
from perron.data.source import DataSource
from perron.linkage.psi import PsiParty
from perron.linkage.psi_messages import open_message
from perron.privacy.policy import DisclosurePolicy
from perron.privacy.rules import (
    LEVELS_DENSITY,
    MIN_CELL,
    MIN_ROWS,
    ROUNDING,
    check_level_density,
    release_counts,
)
from perron.protocol.errors import InputError, TamperedMessage
from perron.protocol.messages import Decision
from perron.secure.beaver import (
    ColumnDeal,
    ColumnHolder,
    RowDeal,
    RowHolder,
    Shape,
    combine,
    deal,
)

#: The disclosure settings a holder hands the helper for the release.
_RELEASE_SETTINGS = ("min_cell", "round_counts")

#: The stages in order; ``relay`` repeats until the PSI is done.
_STAGES = ("keys", "start", "relay", "dims", "deal", "mask", "share", "release")


@dataclass(frozen=True)
class Variable:
    """A variable at one station."""

    station: str
    column: str


@dataclass(frozen=True)
class _State:
    session: str
    stage: str = "keys"
    keys: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    levels: Mapping[str, tuple[Level, ...]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LinkedCrosstabResult(FederatedResult):
    """The table on the linked records (``NaN``: a cell the rules suppressed)."""

    row: Variable
    col: Variable
    helper: str
    table: pd.DataFrame

    def __str__(self) -> str:
        title = (
            f"{self.row.station}.{self.row.column} x {self.col.station}.{self.col.column} "
            f"on linked records (helper: {self.helper})"
        )
        return title + "\n" + self.table.to_string(float_format=lambda v: f"{v:,.0f}")


class LinkedCrosstab(FederatedAlgorithm[_State, LinkedCrosstabResult]):
    """Counts of ``row`` (at one station) against ``col`` (at another) on linked records.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> ids = [f"p{i}" for i in range(60)]
    >>> a = pd.DataFrame({"pid": ids[:50], "smoker": ["yes", "no"] * 25})
    >>> b = pd.DataFrame({"pid": ids[10:], "statin": ["yes"] * 30 + ["no"] * 20})
    >>> c = pd.DataFrame({"pid": ids[:5], "other": range(5)})
    >>> session = perron.simulate({"a": a, "b": b, "c": c}, link_column="pid")
    >>> result = session.linked_crosstab(("a", "smoker"), ("b", "statin"), helper="c")
    >>> result.table
    statin    no   yes
    smoker
    no       5.0  15.0
    yes      5.0  15.0
    """

    name = "linked_crosstab"
    contract = DisclosureContract(
        releases={
            "box": "this session's public key (one per party)",
            "messages": "messages sealed for another party (blinded points, seeds, masks)",
            "done": "whether this station's PSI finished",
            "levels": "levels of the holder's variable on the linked set (levels rule)",
            "counts": "helper only: levels(row) x levels(col) released counts",
        },
        rules=(MIN_ROWS, MIN_CELL, LEVELS_DENSITY, ROUNDING),
    )
    max_rounds = 60

    def __init__(
        self,
        row: Variable | tuple[str, str],
        col: Variable | tuple[str, str],
        helper: str,
        stations: Sequence[str] | None = None,
    ) -> None:
        self.row = row if isinstance(row, Variable) else Variable(*row)
        self.col = col if isinstance(col, Variable) else Variable(*col)
        self.helper = helper
        parties = (self.row.station, self.col.station, helper)
        if len(set(parties)) != 3:
            raise InputError(
                f"a linked crosstab needs two different holders and a third party as helper, "
                f"got row at {self.row.station!r}, col at {self.col.station!r} and helper "
                f"{helper!r}; for two variables of one station use crosstab()."
            )
        if stations is not None:
            unknown = [p for p in parties if p not in stations]
            if unknown:
                raise InputError(
                    f"{unknown} are not stations of this session; choose from {list(stations)}."
                )

    def start(self) -> Next[_State]:
        state = _State(uuid.uuid4().hex)
        return Next(self._params(state), state)

    def _params(self, state: _State, **extra: Any) -> dict[str, Any]:
        return {
            "stage": state.stage,
            "session": state.session,
            "row": [self.row.station, self.row.column],
            "col": [self.col.station, self.col.column],
            "helper": self.helper,
            "keys": {name: dict(k) for name, k in state.keys.items()},
            **extra,
        }

    def coordinator_step(
        self, partials: Mapping[str, Payload], state: _State
    ) -> Next[_State] | Done[LinkedCrosstabResult]:
        parties = (self.row.station, self.col.station, self.helper)
        missing = [p for p in parties if p not in partials]
        if missing:
            raise InputError(f"stations {missing} did not answer the linked crosstab.")
        if state.stage == "keys":
            keys = {name: dict(partials[name]["box"]) for name in parties}
            following = _State(state.session, "start", keys)
            return Next(self._params(following), following)
        inbox = inboxes({p: partials[p] for p in parties}, parties)
        if state.stage in ("start", "relay"):
            done = all(partials[p].get("done") for p in parties[:2])
            stage = "dims" if done else "relay"
            following = _State(state.session, stage, state.keys)
            return Next(self._params(following, inbox=inbox), following)
        if state.stage == "dims":
            levels = {p: tuple(partials[p]["levels"]) for p in parties[:2]}
            following = _State(state.session, "deal", state.keys, levels)
            return Next(self._params(following, inbox=inbox), following)
        if state.stage in ("deal", "mask", "share"):
            stage = _STAGES[_STAGES.index(state.stage) + 1]
            following = _State(state.session, stage, state.keys, state.levels)
            return Next(self._params(following, inbox=inbox), following)
        return Done(self._result(partials[self.helper], state))

    def _result(self, released: Payload, state: _State) -> LinkedCrosstabResult:
        rows = list(state.levels[self.row.station])
        cols = list(state.levels[self.col.station])
        counts = np.array(
            [[np.nan if v is None else float(v) for v in line] for line in released["counts"]],
            dtype=np.float64,
        ).reshape(len(rows), len(cols))
        table = pd.DataFrame(
            counts,
            index=pd.Index(rows, name=self.row.column),
            columns=pd.Index(cols, name=self.col.column),
        )
        return LinkedCrosstabResult(row=self.row, col=self.col, helper=self.helper, table=table)

    @staticmethod
    def station_step(data: DataSource, params: Payload, context: StationContext) -> StationOutput:
        row, col = Variable(*params["row"]), Variable(*params["col"])
        helper = str(params["helper"])
        me = context.station
        if me not in (row.station, col.station, helper):
            return StationOutput({}, [])
        session = str(params["session"])
        stage = str(params["stage"])
        if stage == "keys":
            memory = context.memory.open(session)
            memory["keys"] = KeyPair.generate()
            return StationOutput({"box": memory["keys"].public().to_dict()}, [])
        memory = context.memory.get(session)
        step = _Step(params, context, memory, row, col, helper)
        if me == helper:
            return step.helper_stage(stage)
        return step.holder_stage(stage)


class _Step:
    """One station's part in one stage (holders A and B, or the helper)."""

    def __init__(
        self,
        params: Payload,
        context: StationContext,
        memory: dict[str, Any],
        row: Variable,
        col: Variable,
        helper: str,
    ) -> None:
        self.params = params
        self.context = context
        self.memory = memory
        self.me = context.station
        self.row, self.col, self.helper = row, col, helper
        self.session = str(params["session"])
        self.own: KeyPair = memory["keys"]
        self.peers = {n: PublicKeys.from_dict(dict(k)) for n, k in params["keys"].items()}

    # -- messaging ---------------------------------------------------------------

    def _seal(self, to: str, kind: str, body: Mapping[str, Any]) -> dict[str, str]:
        return seal_for(
            body,
            kind=kind,
            session=self.session,
            sender=self.me,
            recipient=to,
            peer=self.peers[to],
            own=self.own,
        )

    def _received(self, kind: str, sender: str) -> dict[str, Any]:
        items = [i for i in my_inbox(self.params, self.me) if i.get("from") == sender]
        if len(items) != 1:
            raise TamperedMessage(
                f"station {self.me!r} expected one {kind} message from {sender!r} and got "
                f"{len(items)}; the session was disturbed, start it again."
            )
        return open_from(
            items[0],
            kind=kind,
            session=self.session,
            recipient=self.me,
            own=self.own,
            peers=self.peers,
        )

    # -- the holders ----------------------------------------------------------------

    def holder_stage(self, stage: str) -> StationOutput:
        is_row = self.me == self.row.station
        other = self.col.station if is_row else self.row.station
        if stage == "start":
            if self.context.linkage is None:
                raise InputError(
                    f"station {self.me!r} has no link key column; its holder must configure "
                    "the column of study pseudonyms to take part in linkage."
                )
            party = PsiParty(
                self.me,
                self.context.linkage.keys(),
                parties=[self.row.station, self.col.station],
                session=self.session,
                mode="intersection",
            )
            self.memory["party"] = party
            return send_psi(party.start(), self.peers, self.own, party.done)
        if stage == "relay":
            party = self.memory["party"]
            outgoing = []
            for item in my_inbox(self.params, self.me):
                sender = str(item["from"])
                outgoing += party.receive(
                    open_message(str(item["sealed"]), self.own, self.peers[sender], sender)
                )
            return send_psi(outgoing, self.peers, self.own, party.done)
        if stage == "dims":
            return self._dims(self.row if is_row else self.col)
        if stage == "deal":
            return StationOutput({}, [])
        if stage == "mask":
            return self._mask(is_row, other)
        if stage == "share":
            return self._share(is_row, other)
        self.context.memory.close(self.session)
        return StationOutput({}, [])

    def _dims(self, variable: Variable) -> StationOutput:
        party: PsiParty = self.memory.pop("party")
        assert self.context.linkage is not None
        shared = sorted(party.outcome().shared or ())
        values = self.context.linkage.values(shared, variable.column)
        present = values.dropna()
        subject = f"{variable.column} on linked records"
        decisions: list[Decision] = [require_rows(len(present), self.context, subject)]
        levels = sort_levels(present.tolist())
        decisions.append(
            check_level_density(
                self.me, len(levels), len(present), self.context.policy, variable.column
            )
        )
        onehot = np.zeros((len(shared), len(levels)), dtype=np.uint64)
        positions = {level: k for k, level in enumerate(levels)}
        for person, value in enumerate(values.tolist()):
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                onehot[person, positions[value]] = 1
        self.memory["onehot"] = onehot
        settings = {k: self.context.policy.as_dict()[k] for k in _RELEASE_SETTINGS}
        message = self._seal(
            self.helper, "dims", {"linked": len(shared), "levels": len(levels), **settings}
        )
        return StationOutput({"levels": levels, "messages": [message]}, decisions)

    def _mask(self, is_row: bool, other: str) -> StationOutput:
        dealt = self._received("deal", self.helper)
        onehot: npt.NDArray[np.uint64] = self.memory.pop("onehot")
        shape = Shape(int(dealt["rows"]), int(dealt["inner"]), int(dealt["cols"]))
        seed = unb64(str(dealt["seed"]))
        if is_row:
            holder: RowHolder | ColumnHolder = RowHolder(RowDeal(shape, seed), onehot.T.copy())
            mask_seed = new_seed()
            self.memory["mask_seed"] = mask_seed
            body = {"masked": pack_array(holder.masked()), "mask_seed": b64(mask_seed)}
        else:
            w = unpack_array(dealt["w"], "<u8").astype(np.uint64)
            holder = ColumnHolder(ColumnDeal(shape, seed, w), onehot)
            body = {"masked": pack_array(holder.masked())}
        self.memory["holder"] = holder
        return StationOutput({"messages": [self._seal(other, "mask", body)]}, [])

    def _share(self, is_row: bool, other: str) -> StationOutput:
        received = self._received("mask", other)
        masked = unpack_array(received["masked"], "<u8").astype(np.uint64)
        holder = self.memory.pop("holder")
        if is_row:
            share = holder.share(masked, self.memory.pop("mask_seed"))
        else:
            share = holder.share(masked, unb64(str(received["mask_seed"])))
        message = self._seal(self.helper, "share", {"share": pack_array(share)})
        return StationOutput({"messages": [message]}, [])

    # -- the helper --------------------------------------------------------------------

    def helper_stage(self, stage: str) -> StationOutput:
        if stage in ("start", "relay"):
            return StationOutput({"done": True}, [])
        if stage == "deal":
            return self._deal()
        if stage == "release":
            return self._release()
        return StationOutput({}, [])

    def _deal(self) -> StationOutput:
        a = self._received("dims", self.row.station)
        b = self._received("dims", self.col.station)
        if int(a["linked"]) != int(b["linked"]):
            raise InputError(
                f"the two holders report different linked sets ({self.row.station!r} and "
                f"{self.col.station!r} disagree on its size); run the linkage again."
            )
        shape = Shape(int(a["levels"]), int(a["linked"]), int(b["levels"]))
        policy = self.context.policy
        for settings in (a, b):
            policy = policy.combined(
                DisclosurePolicy(**{k: settings[k] for k in _RELEASE_SETTINGS})
            )
        self.memory["policy"] = policy
        self.memory["shape"] = shape
        row_part, col_part = deal(shape)
        dims = {"rows": shape.rows, "inner": shape.inner, "cols": shape.cols}
        return StationOutput(
            {
                "messages": [
                    self._seal(self.row.station, "deal", {**dims, "seed": b64(row_part.seed)}),
                    self._seal(
                        self.col.station,
                        "deal",
                        {**dims, "seed": b64(col_part.seed), "w": pack_array(col_part.w)},
                    ),
                ]
            },
            [],
        )

    def _release(self) -> StationOutput:
        shape: Shape = self.memory["shape"]
        shares = [
            unpack_array(self._received("share", s)["share"], "<u8").astype(np.uint64)
            for s in (self.row.station, self.col.station)
        ]
        for share in shares:
            if share.shape != (shape.rows, shape.cols):
                raise TamperedMessage(
                    f"a share has shape {share.shape}, not the dealt {(shape.rows, shape.cols)};"
                    " it was rejected."
                )
        table = combine(shares[0], shares[1])
        if table.min(initial=0) < 0 or table.sum() > shape.inner:
            raise TamperedMessage(
                "the shares do not add up to a table of counts of the linked records; a "
                "holder sent a wrong share. The session was stopped."
            )
        policy: DisclosurePolicy = self.memory["policy"]
        subject = f"{self.row.column} x {self.col.column} on linked records"
        released, decisions = release_counts(self.me, table, policy, subject)
        self.context.memory.close(self.session)
        counts = [[None if np.isnan(v) else v for v in line] for line in released.tolist()]
        return StationOutput({"counts": counts}, decisions)
