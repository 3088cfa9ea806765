"""Private set intersection between stations: ECDH-PSI on ristretto255.

Two or more parties (stations) hold sets of pseudonyms. They learn how large the
overlap of their sets is (``cardinality`` mode) or which of their own pseudonyms
are in every set (``intersection`` mode, to build the linked cohort for MPC), and
nothing about the others' other elements. Every message is a value a station can
seal for the next station, so a relay (the hub, or the researcher's coordinator)
carries them without reading them.

Protocol
--------
Parties ``P_0 .. P_{n-1}`` (``n >= 2``) agree on their order, a session label and
the mode; ``P_0`` is the *collector*. ``H`` hashes an element to a point (see
:mod:`perron.linkage.psi_group`, domain-separated by protocol and session label),
``k_i`` is ``P_i``'s fresh secret scalar, ``S_i`` its set (de-duplicated).

- Round 0: every ``P_i`` sends ``k_i * H(S_i)``, in a random order it remembers,
  to ``P_{i+1}``.
- Round ``r = 1 .. n-1``: every ``P_i`` receives the set of ``P_{i-r}``, multiplies
  every point by ``k_i`` and passes it on to ``P_{i+1}``. In cardinality mode it
  also shuffles the set; in intersection mode it keeps the order. After ``n``
  scalars the set is complete, ``F_j = k_0 ... k_{n-1} * H(S_j)``, and goes to the
  collector instead. Equal elements now have equal points, whoever holds them.
- Round ``n``: the collector compares the complete sets and sends every party an
  :class:`~perron.linkage.psi_messages.Announcement`: the set sizes, the all-way
  overlap ``|F_0 ∩ ... ∩ F_{n-1}|``, in cardinality mode every pairwise overlap, in
  intersection mode a bitmask over the recipient's own set (in the order the
  recipient sent it) marking the points in every set.

For two parties this is the classic exchange: ``A -> B: a*H(A)``;
``B -> A: b*H(B)`` and ``b*a*H(A)``; ``A -> B``: the result. All parties work in
parallel in every round: each hashes its own set once and multiplies every party's
set by its scalar once, one set per round.

What each party learns
----------------------
Semi-honest parties that follow the protocol and do not collude.

``cardinality``
    Every party learns every set size ``|S_i|``, the all-way overlap and every
    pairwise overlap (for two parties: ``|A|``, ``|B|``, ``|A ∩ B|``). No party
    learns which elements are shared: every hop shuffles, so no complete point can
    be traced to an element or to a position in anyone's input. The collector, which
    holds all complete sets, could also count every region of the Venn diagram (for
    instance ``|S_1 ∩ S_2 \\ S_3|``); for two or three parties that is implied by the
    announced counts anyway.
``intersection``
    Every party learns the set sizes, the all-way overlap, and which of its own
    elements are in every set: its own part of the linked cohort. It learns nothing
    about the other parties' elements outside the intersection. For ``n >= 3`` the
    collector also learns, for each of its own elements, which other sets contain
    it, and the size of every Venn region: make the party entitled to that (or one
    holding the fewest sensitive records) the collector, i.e. first in the order.

Nobody learns anything about an element outside the intersection: every point a
party receives is ``H(x)`` under at least one scalar it does not know, which under
the decisional Diffie-Hellman assumption looks random; without every scalar nobody
can compute the point of a guessed element, so nobody can test membership
offline. Fresh scalars per session make points of the same element unlinkable
across sessions; the session label separates studies even at the hash.

A relay that carries the sealed messages learns who sends to whom, when, and the
lengths: ``32 * |S_i| + a constant`` for a set, so the set sizes; announcements
have fixed-width counts, so their length does not reveal the overlap.

Not covered: malicious parties (a party may run the protocol on other elements
than its real set, for instance a list of guessed pseudonyms, to learn their
membership; keyed pseudonyms keep the list unguessable for a holder without the
key, and the announced sizes make inflated sets visible), and coalitions (two
parties that pool their views learn more, for instance membership of their shared
elements in a third set).

Inputs are de-duplicated before hashing: an element counts once, and repeated
points, which would show how often an element occurs, never leave a party.
Received sets with a repeated point are rejected.

Examples
--------
>>> result = run_psi({"hospital": ["p1", "p2", "p3"], "insurer": ["p2", "p3", "p4"]})
>>> result.sizes, result.overlap
({'hospital': 3, 'insurer': 3}, 2)
>>> run_psi({"a": ["p1", "p2"], "b": ["p2"]}, mode="intersection").shared["a"]
('p2',)
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import NoReturn

import numpy as np
import numpy.typing as npt

from perron.crypto.keys import KeyPair
from perron.linkage.psi_group import (
    POINT_BYTES,
    check_format,
    check_workers,
    hash_points,
    multiply_points,
    new_scalar,
    permute_points,
    random_order,
    shuffle_points,
    validate_points,
)
from perron.linkage.psi_messages import (
    MODES,
    Announcement,
    BlindedSet,
    Mode,
    PsiMessage,
    message_from_bytes,
    open_message,
    pairs,
    seal_message,
)
from perron.protocol.errors import InputError, TamperedMessage, TransportError

__all__ = [
    "Announcement",
    "BlindedSet",
    "Mode",
    "PsiMessage",
    "PsiOutcome",
    "PsiParty",
    "PsiResult",
    "Traffic",
    "run_psi",
]


@dataclass(frozen=True)
class PsiOutcome:
    """What one party learned in one PSI session.

    Attributes
    ----------
    sizes
        Number of distinct elements of every party.
    overlap
        Number of elements in every party's set.
    pairwise
        Cardinality mode: the overlap of every pair ``(a, b)``, ``a`` before ``b`` in
        the party order. Empty in intersection mode.
    shared
        Intersection mode: this party's own elements that are in every set, in the
        order of its input. ``None`` in cardinality mode.
    """

    party: str
    session: str
    mode: Mode
    sizes: Mapping[str, int]
    overlap: int
    pairwise: Mapping[tuple[str, str], int]
    shared: tuple[str, ...] | None


class PsiParty:
    """One party of one PSI session: its set, its secret scalar, and the session state.

    The station-side API. :meth:`start` gives the party's round-0 message;
    :meth:`receive` takes any later message and gives the messages to send next;
    when the collector's announcement has arrived, :meth:`outcome` says what the
    party learned. Messages addressed to the party itself are handled inside.

    A ``PsiParty`` is good for one session: it draws its scalar when created, drops it
    when the session ends, and refuses to be copied or pickled.

    Parameters
    ----------
    name
        This party's name; one of ``parties``.
    elements
        The party's pseudonyms (strings, UTF-8). Duplicates are removed first.
    parties
        Every party, in the agreed order; the first is the collector.
    session
        The session label, the same at every party; a new one for every session
        (for example ``"<study id>/<task id>"``).
    mode
        ``"cardinality"`` or ``"intersection"``.
    workers
        Threads for hashing, multiplying and validating points; ``None`` (the
        default) is :func:`~perron.linkage.psi_group.default_workers`, the CPUs this
        process may use, at most 8. Any number gives the same messages and result;
        ``1`` does everything in the calling thread.

    Raises
    ------
    InputError
        A bad argument: see the message.

    Examples
    --------
    >>> order = ["a", "b"]
    >>> a = PsiParty("a", ["x", "y"], parties=order, session="demo")
    >>> b = PsiParty("b", ["y", "z", "z"], parties=order, session="demo")
    >>> inbox = a.start() + b.start()
    >>> while inbox:
    ...     message = inbox.pop(0)
    ...     inbox += {"a": a, "b": b}[message.recipient].receive(message)
    >>> b.outcome().sizes, b.outcome().overlap
    ({'a': 2, 'b': 2}, 1)
    """

    def __init__(
        self,
        name: str,
        elements: Iterable[str],
        *,
        parties: Sequence[str],
        session: str,
        mode: Mode = "cardinality",
        workers: int | None = None,
    ) -> None:
        self._parties = _check_parties(name, parties)
        if not isinstance(session, str) or not session:
            raise InputError("a PSI session needs a non-empty session label (a string).")
        if mode not in MODES:
            raise InputError(f"PSI mode {mode!r} is unknown; use one of {MODES}.")
        self._name = name
        self._session = session
        self._mode: Mode = mode
        self._index = self._parties.index(name)
        self._elements = _distinct(elements)
        self._encoded = [e.encode("utf-8") for e in self._elements]
        self._workers = check_workers(workers)
        self._scalar: bytes | None = new_scalar()
        self._sent_order: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._started = False
        self._seen: set[tuple[str, int]] = set()
        self._complete: dict[str, bytes] = {}
        self._outcome: PsiOutcome | None = None

    def __repr__(self) -> str:
        state = "done" if self.done else ("started" if self._started else "new")
        return (
            f"PsiParty({self._name!r}, {len(self._elements)} elements, "
            f"session={self._session!r}, mode={self._mode!r}, {state})"
        )

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            "a PsiParty holds the secret scalar of one session and cannot be copied or "
            "pickled; create the party in the process that runs the session."
        )

    @property
    def name(self) -> str:
        """This party's name."""
        return self._name

    @property
    def parties(self) -> tuple[str, ...]:
        """Every party, in the agreed order."""
        return self._parties

    @property
    def collector(self) -> str:
        """The party that compares the complete sets and announces the result."""
        return self._parties[0]

    @property
    def session(self) -> str:
        """The session label."""
        return self._session

    @property
    def mode(self) -> Mode:
        """``"cardinality"`` or ``"intersection"``."""
        return self._mode

    @property
    def size(self) -> int:
        """Number of distinct elements of this party."""
        return len(self._elements)

    @property
    def done(self) -> bool:
        """Whether the announcement has arrived."""
        return self._outcome is not None

    def start(self) -> list[PsiMessage]:
        """Round 0: this party's own set, hashed and blinded, for the next party.

        Raises
        ------
        InputError
            ``start`` was already called.
        """
        if self._started:
            raise InputError(
                f"PSI party {self._name!r} has already started session "
                f"{self._session!r}; a party sends its set once."
            )
        self._started = True
        order = random_order(len(self._encoded))
        if self._mode == "intersection":
            self._sent_order = order
        points = hash_points(self._session, self._encoded, self._workers)
        return self._forward(self._name, 0, permute_points(points, order), shuffle=False)

    def receive(self, message: PsiMessage) -> list[PsiMessage]:
        """Take one message of the session and give the messages to send next.

        Raises
        ------
        TamperedMessage
            The message is for another session, mode or party, comes from the wrong
            sender or too often, or holds invalid, repeated or too few points.
        """
        if message.session != self._session or message.mode != self._mode:
            raise TamperedMessage(
                f"a PSI message of session {message.session!r} ({message.mode}) reached "
                f"party {self._name!r} of session {self._session!r} ({self._mode}); it "
                "was replayed or misrouted and was rejected."
            )
        if message.recipient != self._name:
            raise TamperedMessage(
                f"a PSI message for {message.recipient!r} reached {self._name!r}; it was "
                "misrouted and was rejected."
            )
        if isinstance(message, Announcement):
            self._learn(message)
            return []
        return self._advance(message)

    def outcome(self) -> PsiOutcome:
        """What this party learned.

        Raises
        ------
        InputError
            The session has not finished yet.
        """
        if self._outcome is None:
            raise InputError(
                f"PSI session {self._session!r} has not finished at {self._name!r}: "
                "deliver every message of the session first."
            )
        return self._outcome

    # -- the ring --------------------------------------------------------------------

    def _secret(self) -> bytes:
        if self._scalar is None:
            raise InputError(
                f"PSI session {self._session!r} is over at {self._name!r}, and its "
                "scalar was dropped; start a new session with a new PsiParty."
            )
        return self._scalar

    def _party(self, name: str, role: str) -> int:
        if name not in self._parties:
            raise TamperedMessage(
                f"a PSI message names {role} {name!r}, which is not a party of session "
                f"{self._session!r}; it was rejected."
            )
        return self._parties.index(name)

    def _advance(self, message: BlindedSet) -> list[PsiMessage]:
        n = len(self._parties)
        origin = self._party(message.origin, "origin")
        if not 1 <= message.hops <= n:
            raise TamperedMessage(
                f"a PSI message says the set of {message.origin!r} made {message.hops} "
                f"hop(s); with {n} parties that is impossible; it was rejected."
            )
        if message.hops == n:
            expected = (self.collector, self._parties[(origin - 1) % n], n)
        else:
            expected = (self._name, self._parties[self._index - 1], (self._index - origin) % n)
        if (self._name, message.sender, message.hops) != expected:
            raise TamperedMessage(
                f"party {self._name!r} got the set of {message.origin!r} after "
                f"{message.hops} hop(s) from {message.sender!r}; in this session's ring "
                "that set does not come that way; the message was rejected."
            )
        if (message.origin, message.hops) in self._seen:
            raise TamperedMessage(
                f"party {self._name!r} got the set of {message.origin!r} after "
                f"{message.hops} hop(s) twice; the copy was rejected."
            )
        self._seen.add((message.origin, message.hops))
        check_format(message.points, f"the set of {message.origin!r} from {message.sender!r}")
        if message.hops == n:
            # Only compared, never multiplied: checked here (multiplying checks).
            validate_points(message.points, self._workers)
            return self._collect(message.origin, message.points)
        return self._forward(
            message.origin, message.hops, message.points, shuffle=self._mode == "cardinality"
        )

    def _forward(self, origin: str, hops: int, points: bytes, *, shuffle: bool) -> list[PsiMessage]:
        blinded = multiply_points(self._secret(), points, self._workers)
        if shuffle:
            blinded = shuffle_points(blinded)
        hops += 1
        n = len(self._parties)
        if hops == n and self.collector == self._name:
            return self._collect(origin, blinded)
        recipient = self.collector if hops == n else self._parties[(self._index + 1) % n]
        return [BlindedSet(self._session, self._mode, self._name, recipient, origin, hops, blinded)]

    def _collect(self, origin: str, points: bytes) -> list[PsiMessage]:
        self._complete[origin] = points
        if len(self._complete) < len(self._parties):
            return []
        complete = [_split(self._complete.pop(p)) for p in self._parties]
        sets = [set(points) for points in complete]
        common = reduce(set.intersection, sorted(sets, key=len))
        sizes = tuple(len(points) for points in complete)
        pairwise: tuple[int, ...] = ()
        if self._mode == "cardinality":
            n = len(sets)
            pairwise = (
                (len(common),)  # two parties: the one pair is the all-way overlap
                if n == 2
                else tuple(len(sets[i] & sets[j]) for i in range(n) for j in range(i + 1, n))
            )
        messages: list[PsiMessage] = []
        for party, blinded in zip(self._parties, complete, strict=True):
            mask = b""
            if self._mode == "intersection":
                bits = np.fromiter((p in common for p in blinded), dtype=bool, count=len(blinded))
                mask = np.packbits(bits).tobytes()
            announcement = Announcement(
                self._session,
                self._mode,
                self._name,
                party,
                self._parties,
                sizes,
                len(common),
                pairwise,
                mask,
            )
            if party == self._name:
                self._learn(announcement)
            else:
                messages.append(announcement)
        return messages

    def _learn(self, message: Announcement) -> None:
        if message.sender != self.collector or message.parties != self._parties:
            raise TamperedMessage(
                f"party {self._name!r} got an announcement from {message.sender!r} for "
                f"parties {message.parties}; only the collector {self.collector!r} "
                f"announces, for {self._parties}; it was rejected."
            )
        if self._outcome is not None or not self._started:
            raise TamperedMessage(
                f"party {self._name!r} got an announcement of session {self._session!r} "
                "before it sent its set or after the session ended; it was rejected."
            )
        if message.sizes[self._index] != self.size:
            raise TamperedMessage(
                f"the announcement says {self._name!r} holds {message.sizes[self._index]} "
                f"elements, but it holds {self.size}: its set was changed on the way; "
                "the result was rejected."
            )
        shared: tuple[str, ...] | None = None
        pairwise: dict[tuple[str, str], int] = {}
        if self._mode == "intersection":
            shared = self._shared(message)
        else:
            pairwise = dict(zip(pairs(self._parties), message.pairwise, strict=True))
        self._outcome = PsiOutcome(
            party=self._name,
            session=self._session,
            mode=self._mode,
            sizes=dict(zip(self._parties, message.sizes, strict=True)),
            overlap=message.overlap,
            pairwise=pairwise,
            shared=shared,
        )
        # The session is over: drop the secret so that it can never serve another.
        self._scalar = None

    def _shared(self, message: Announcement) -> tuple[str, ...]:
        if len(message.mask) != (self.size + 7) // 8:
            raise TamperedMessage(
                f"the membership mask for {self._name!r} has {len(message.mask)} bytes, "
                f"not {(self.size + 7) // 8}; the result was rejected."
            )
        bits = np.unpackbits(np.frombuffer(message.mask, dtype=np.uint8), count=self.size)
        positions = np.flatnonzero(bits)
        if len(positions) != message.overlap:
            raise TamperedMessage(
                f"the membership mask for {self._name!r} marks {len(positions)} elements "
                f"but the overlap is {message.overlap}; the result was rejected."
            )
        mine: list[int] = np.sort(self._sent_order[positions]).tolist()
        return tuple(self._elements[i] for i in mine)


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES)]


def _check_parties(name: str, parties: Sequence[str]) -> tuple[str, ...]:
    if isinstance(parties, str):
        raise InputError("`parties` must be a sequence of party names, not one string.")
    order = tuple(parties)
    if len(order) < 2 or not all(isinstance(p, str) and p for p in order):
        raise InputError(
            f"PSI needs at least two parties with non-empty string names; got {order!r}."
        )
    if len(set(order)) != len(order):
        raise InputError(f"PSI party names must be distinct; got {order!r}.")
    if name not in order:
        raise InputError(f"PSI party {name!r} is not one of the parties {order!r}.")
    return order


def _distinct(elements: Iterable[str]) -> tuple[str, ...]:
    if isinstance(elements, str | bytes):
        raise InputError("PSI elements must be a sequence of strings (pseudonyms), not one string.")
    try:
        distinct = tuple(dict.fromkeys(elements))
    except TypeError as exc:
        raise InputError(
            "PSI elements must be strings (pseudonyms); got an unhashable value."
        ) from exc
    for element in distinct:
        if not isinstance(element, str):
            raise InputError(
                f"PSI elements must be strings (pseudonyms); got a {type(element).__name__}. "
                "Convert identifiers to text first."
            )
        try:
            element.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                "a PSI element is not valid Unicode text (it holds a lone surrogate); "
                "decode identifiers properly before linkage."
            ) from exc
    return distinct


# -- the in-process driver ------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """One message as a relay sees it: who to whom, which kind, how many bytes."""

    sender: str
    recipient: str
    kind: str
    nbytes: int


@dataclass(frozen=True)
class PsiResult:
    """The result of :func:`run_psi`: what the parties learned, and the traffic.

    Attributes
    ----------
    sizes
        Number of distinct elements of every party.
    overlap
        Number of elements in every set.
    pairwise
        Cardinality mode: overlap of every pair ``(a, b)``, in party order.
    shared
        Intersection mode: each party's own elements that are in every set; in
        cardinality mode empty.
    traffic
        Every message as the relay saw it (sealed lengths if ``sealed=True``).
    """

    session: str
    mode: Mode
    sizes: Mapping[str, int]
    overlap: int
    pairwise: Mapping[tuple[str, str], int]
    shared: Mapping[str, tuple[str, ...]]
    traffic: tuple[Traffic, ...] = field(repr=False)

    @property
    def bytes_exchanged(self) -> int:
        """Total bytes of all messages."""
        return sum(t.nbytes for t in self.traffic)

    def summary(self) -> str:
        """A short text report.

        Examples
        --------
        >>> print(run_psi({"a": ["1", "2"], "b": ["2", "3"]}, session="doc").summary())
        PSI (cardinality), session 'doc', 2 parties
          a: 2 elements
          b: 2 elements
          in every set: 1
          a & b: 1
        """
        lines = [f"PSI ({self.mode}), session {self.session!r}, {len(self.sizes)} parties"]
        lines += [f"  {party}: {size} elements" for party, size in self.sizes.items()]
        lines.append(f"  in every set: {self.overlap}")
        lines += [f"  {a} & {b}: {count}" for (a, b), count in self.pairwise.items()]
        return "\n".join(lines)


def run_psi(
    sets: Mapping[str, Sequence[str]],
    mode: Mode = "cardinality",
    session: str | None = None,
    *,
    sealed: bool = False,
    workers: int | None = None,
) -> PsiResult:
    """Run a PSI session between parties in this process, message by message.

    The driver plays the relay: it encodes every message (``to_bytes``, or sealed for
    its recipient if ``sealed``), records its length and hands the decoded copy to the
    recipient, round after round, as stations behind the hub would. For tests,
    benchmarks and simulation; stations use :class:`PsiParty` directly.

    Parameters
    ----------
    sets
        Party name -> its elements; the mapping's order is the party order, so the
        first party is the collector.
    mode
        ``"cardinality"`` (overlap sizes only) or ``"intersection"`` (each party also
        learns which of its own elements are in every set).
    session
        The session label; a fresh random one if not given.
    sealed
        Sign and encrypt every message for its recipient with fresh station keys,
        as between real stations (slower; the traffic then shows sealed lengths).
    workers
        Threads per party (the parties take turns); see :class:`PsiParty`.

    Examples
    --------
    >>> sets = {"a": ["x", "y", "z"], "b": ["y", "z"], "c": ["z", "w"]}
    >>> result = run_psi(sets)
    >>> result.overlap, result.pairwise[("a", "b")], result.pairwise[("b", "c")]
    (1, 2, 1)
    >>> run_psi(sets, mode="intersection").shared
    {'a': ('z',), 'b': ('z',), 'c': ('z',)}
    """
    order = list(sets)
    label = session if session is not None else f"psi/{secrets.token_hex(16)}"
    members = {
        name: PsiParty(name, sets[name], parties=order, session=label, mode=mode, workers=workers)
        for name in order
    }
    keys = {name: KeyPair.generate() for name in order} if sealed else {}
    public = {name: pair.public() for name, pair in keys.items()}
    queue: deque[PsiMessage] = deque()
    for member in members.values():
        queue.extend(member.start())
    traffic: list[Traffic] = []
    while queue:
        message = queue.popleft()
        received: PsiMessage
        if sealed:
            sealed_text = seal_message(message, public[message.recipient], keys[message.sender])
            nbytes = len(sealed_text)
            received = open_message(
                sealed_text, keys[message.recipient], public[message.sender], message.sender
            )
        else:
            encoded = message.to_bytes()
            nbytes = len(encoded)
            received = message_from_bytes(encoded)
        traffic.append(Traffic(message.sender, message.recipient, message.kind, nbytes))
        queue.extend(members[message.recipient].receive(received))
    unfinished = [name for name, member in members.items() if not member.done]
    if unfinished:
        raise TransportError(f"PSI parties {unfinished} did not finish session {label!r}.")
    first = members[order[0]].outcome()
    return PsiResult(
        session=label,
        mode=mode,
        sizes=first.sizes,
        overlap=first.overlap,
        pairwise=first.pairwise,
        shared={
            name: shared
            for name, member in members.items()
            if (shared := member.outcome().shared) is not None
        },
        traffic=tuple(traffic),
    )
