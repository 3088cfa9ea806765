"""ECDH-PSI: results against plain set algebra and openmined-psi, what each party can and
cannot learn, tampered messages, and what a relay sees."""

from __future__ import annotations

import copy
import pickle
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perron.linkage.psi import PsiParty, run_psi
from perron.linkage.psi_group import hash_to_group, multiply, split_points
from perron.linkage.psi_messages import (
    Announcement,
    BlindedSet,
    Mode,
    PsiMessage,
    message_from_bytes,
)
from perron.protocol.errors import InputError, TamperedMessage

MODES: list[Mode] = ["cardinality", "intersection"]


def make_parties(
    sets: Mapping[str, Sequence[str]], mode: Mode = "cardinality", session: str = "study/1"
) -> dict[str, PsiParty]:
    order = list(sets)
    return {
        name: PsiParty(name, elements, parties=order, session=session, mode=mode)
        for name, elements in sets.items()
    }


def exchange(
    parties: Mapping[str, PsiParty],
    tamper: Callable[[PsiMessage], PsiMessage] = lambda m: m,
    *,
    hold_announcements: bool = False,
) -> list[PsiMessage]:
    """Deliver every message (through ``tamper``); return them in the order sent."""
    queue: deque[PsiMessage] = deque(m for p in parties.values() for m in p.start())
    log: list[PsiMessage] = []
    while queue:
        message = tamper(queue.popleft())
        log.append(message)
        if not (hold_announcements and isinstance(message, Announcement)):
            queue.extend(parties[message.recipient].receive(message))
    return log


def blinded_sets(log: Sequence[PsiMessage]) -> list[BlindedSet]:
    return [m for m in log if isinstance(m, BlindedSet)]


# -- correctness -------------------------------------------------------------------------

element_sets = st.lists(st.text(alphabet="abcdefgh", max_size=2), max_size=8)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(sets=st.lists(element_sets, min_size=2, max_size=4), mode=st.sampled_from(MODES))
def test_results_equal_plain_set_algebra(sets: list[list[str]], mode: Mode):
    named = {f"p{i}": elements for i, elements in enumerate(sets)}
    plain = {name: set(elements) for name, elements in named.items()}
    everywhere = set.intersection(*plain.values())

    result = run_psi(named, mode=mode)

    assert result.sizes == {name: len(s) for name, s in plain.items()}
    assert result.overlap == len(everywhere)
    if mode == "cardinality":
        names = list(named)
        assert result.pairwise == {
            (a, b): len(plain[a] & plain[b]) for i, a in enumerate(names) for b in names[i + 1 :]
        }
        assert result.shared == {}
    else:
        assert result.pairwise == {}
        assert result.shared == {
            name: tuple(dict.fromkeys(e for e in elements if e in everywhere))
            for name, elements in named.items()
        }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ([], [], 0),
        ([], ["x", "y"], 0),
        (["x", "y"], [], 0),
        (["x", "y"], ["z"], 0),
        (["x", "y", "z"], ["z", "y", "x"], 3),
        (["x", "x", "y", "y"], ["y", "y"], 1),
    ],
    ids=["both-empty", "a-empty", "b-empty", "disjoint", "identical", "duplicates"],
)
def test_edge_cases(a: list[str], b: list[str], overlap: int, mode: Mode):
    result = run_psi({"a": a, "b": b}, mode=mode)

    assert result.overlap == overlap
    assert result.sizes == {"a": len(set(a)), "b": len(set(b))}
    if mode == "intersection":
        assert set(result.shared["a"]) == set(result.shared["b"]) == set(a) & set(b)


def test_intersection_lists_own_elements_in_input_order():
    result = run_psi(
        {"a": ["q", "c", "b", "a", "c"], "b": ["a", "b", "c", "z"]}, mode="intersection"
    )

    assert result.shared == {"a": ("c", "b", "a"), "b": ("a", "b", "c")}


def test_four_parties_pairwise_and_all_way():
    rng = random.Random(7)
    universe = [f"id-{i}" for i in range(120)]
    sets = {name: rng.sample(universe, 60) for name in ("w", "x", "y", "z")}
    plain = {name: set(s) for name, s in sets.items()}
    everywhere = set.intersection(*plain.values())

    cardinality = run_psi(sets)
    intersection = run_psi(sets, mode="intersection")

    assert cardinality.overlap == intersection.overlap == len(everywhere) > 0
    assert cardinality.pairwise[("x", "z")] == len(plain["x"] & plain["z"])
    assert len(cardinality.pairwise) == 6
    assert all(set(own) == everywhere for own in intersection.shared.values())
    # Every set is sent n times (n - 1 hops on, then to the collector), except once
    # when the collector makes the last hop itself; then n - 1 announcements.
    assert len(cardinality.traffic) == 4 * 4 - 1 + 3


def test_sealed_run_gives_the_same_result():
    sets = {"a": ["1", "2", "3"], "b": ["2", "3", "4"], "c": ["3", "4"]}

    result = run_psi(sets, mode="intersection", sealed=True)

    assert result.overlap == 1
    assert result.shared == {"a": ("3",), "b": ("3",), "c": ("3",)}


def test_cardinality_matches_openmined_psi():
    """openmined-psi 2.0.6 (P-256), client/server in cardinality mode, exact RAW setup."""
    import private_set_intersection.python as openmined  # type: ignore[import-untyped]

    rng = random.Random(20261123)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(4300)]
    hospital, insurer = ids[:2000], ids[1300:4300]  # 700 shared
    server = openmined.server.CreateWithNewKey(False)
    client = openmined.client.CreateWithNewKey(False)
    setup = server.CreateSetupMessage(1e-9, len(hospital), insurer, openmined.DataStructure.RAW)
    response = server.ProcessRequest(client.CreateRequest(hospital))
    reference = client.GetIntersectionSize(setup, response)

    ours = run_psi({"hospital": hospital, "insurer": insurer})

    assert reference == 700
    assert ours.overlap == reference


# -- what each party can and cannot learn -------------------------------------------------


def test_cardinality_answer_is_shuffled_not_aligned_with_the_request():
    """The initiator gets its own set back double-blinded in an order it cannot map."""
    orders = []
    for _ in range(2):
        parties = make_parties({"a": [f"e{i}" for i in range(40)], "b": ["e1", "e2"]})
        b_scalar = parties["b"]._scalar
        assert b_scalar is not None
        log = exchange(parties)
        request = next(m for m in blinded_sets(log) if m.origin == "a" and m.hops == 1)
        answer = next(m for m in blinded_sets(log) if m.origin == "a" and m.hops == 2)
        aligned = multiply(b_scalar, split_points(request.points, "request"))
        returned = split_points(answer.points, "answer")

        assert sorted(returned) == sorted(aligned)
        assert returned != aligned
        orders.append([aligned.index(p) for p in returned])

    assert orders[0] != orders[1]


def test_intersection_answer_keeps_the_initiators_order():
    parties = make_parties({"a": [f"e{i}" for i in range(20)], "b": ["e1"]}, "intersection")
    b_scalar = parties["b"]._scalar
    assert b_scalar is not None

    log = exchange(parties)

    request = next(m for m in blinded_sets(log) if m.origin == "a" and m.hops == 1)
    answer = next(m for m in blinded_sets(log) if m.origin == "a" and m.hops == 2)
    assert split_points(answer.points, "answer") == multiply(
        b_scalar, split_points(request.points, "request")
    )


def test_first_message_hides_the_input_order():
    elements = [f"e{i:02d}" for i in range(40)]
    parties = make_parties({"a": elements, "b": []})
    a_scalar = parties["a"]._scalar
    assert a_scalar is not None

    [request] = parties["a"].start()
    assert isinstance(request, BlindedSet)

    in_input_order = multiply(a_scalar, hash_to_group("study/1", [e.encode() for e in elements]))
    sent = split_points(request.points, "request")
    assert sorted(sent) == sorted(in_input_order)
    assert sent != in_input_order


def test_points_differ_per_party_session_and_study():
    """Without the other's scalar a party cannot test an element: its points differ."""

    def first_points(name: str, session: str) -> set[bytes]:
        parties = make_parties({"a": ["x", "y"], "b": ["x", "y"]}, session=session)
        message = parties[name].start()[0]
        assert isinstance(message, BlindedSet)
        return set(split_points(message.points, "first"))

    a = first_points("a", "study-1/task-1")
    b = first_points("b", "study-1/task-1")
    a_again = first_points("a", "study-1/task-1")
    a_other_study = first_points("a", "study-2/task-1")

    assert not a & b
    assert not a & a_again
    assert not a & a_other_study
    assert not a & set(hash_to_group("study-1/task-1", [b"x", b"y"]))


def test_scalar_is_fresh_per_party_and_dropped_after_the_session():
    parties = make_parties({"a": ["x"], "b": ["x"]})
    scalars = {name: p._scalar for name, p in parties.items()}

    exchange(parties)

    assert len(set(scalars.values())) == 2
    assert all(p._scalar is None for p in parties.values())
    with pytest.raises(InputError, match="already started"):
        parties["a"].start()


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, pickle.dumps])
def test_a_party_cannot_be_copied_or_pickled(duplicate: Callable[[PsiParty], object]):
    party = PsiParty("a", ["x"], parties=["a", "b"], session="s")

    with pytest.raises(TypeError, match="cannot be copied or pickled"):
        duplicate(party)


def test_repr_shows_no_elements_or_secret():
    party = PsiParty("a", ["secret-pseudonym"], parties=["a", "b"], session="s")

    assert "secret-pseudonym" not in repr(party)
    assert repr(party) == "PsiParty('a', 1 elements, session='s', mode='cardinality', new)"


# -- what a relay sees ----------------------------------------------------------------------


@pytest.mark.parametrize("sealed", [False, True])
def test_relay_sees_only_sizes(sealed: bool):
    """Same sizes, different contents and overlaps: the very same message lengths."""
    disjoint = run_psi(
        {"a": ["1", "2", "3"], "b": ["4", "5", "6", "7"]}, session="s", sealed=sealed
    )
    identical = run_psi(
        {"a": ["x", "y", "z"], "b": ["x", "y", "z", "w"]}, session="s", sealed=sealed
    )
    larger = run_psi({"a": ["1", "2", "3", "4", "5"], "b": ["4"]}, session="s")

    assert (disjoint.overlap, identical.overlap) == (0, 3)
    assert disjoint.traffic == identical.traffic
    if not sealed:
        sizes = {(t.sender, t.kind): t.nbytes for t in disjoint.traffic}
        grown = {(t.sender, t.kind): t.nbytes for t in larger.traffic}
        assert grown[("a", "blinded")] - sizes[("a", "blinded")] == 32 * (5 - 3)


# -- tampered messages -----------------------------------------------------------------------


def alter(target: Callable[[BlindedSet], bool], change: Callable[[bytes], bytes]):
    """A tamper function that changes the encoded bytes of the first targeted message."""
    done: list[bool] = []

    def tamper(message: PsiMessage) -> PsiMessage:
        if done or not isinstance(message, BlindedSet) or not target(message):
            return message
        done.append(True)
        return message_from_bytes(change(message.to_bytes()))

    return tamper


def flip_point_bit(data: bytes) -> bytes:
    """Set the lowest bit of the last point's first byte: never a valid encoding."""
    position = len(data) - 32
    return data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]


def repeat_first_point(data: bytes) -> bytes:
    return data[:-32] + data[-64:-32]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("where", "change", "reason"),
    [
        ("request", flip_point_bit, "not a valid ristretto255 point"),
        ("answer", flip_point_bit, "not a valid ristretto255 point"),
        ("request", lambda d: d[:-1], "not a multiple of 32"),
        ("answer", lambda d: d + bytes(31), "not a multiple of 32"),
        ("request", repeat_first_point, "same point twice"),
        ("answer", lambda d: d[:-1] + bytes([d[-1] | 0x80]), "non-canonical"),
        ("request", lambda d: d[:12], "cannot be read"),
    ],
    ids=["flip-request", "flip-answer", "truncated", "too-long", "repeat", "top-bit", "header"],
)
def test_tampered_blinded_sets_are_rejected(
    where: str, change: Callable[[bytes], bytes], reason: str, mode: Mode
):
    parties = make_parties({"a": ["1", "2", "3"], "b": ["2", "3"]}, mode)
    hops = 1 if where == "request" else 2

    with pytest.raises(TamperedMessage, match=reason):
        exchange(parties, alter(lambda m: m.origin == "a" and m.hops == hops, change))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"session": "study/2"}, "replayed or misrouted"),
        ({"mode": "intersection"}, "replayed or misrouted"),
        ({"recipient": "c"}, "misrouted"),
        ({"sender": "c"}, "does not come that way"),
        ({"origin": "zed"}, "not a party"),
        ({"hops": 2}, "does not come that way"),
        ({"hops": 0}, "impossible"),
        ({"hops": 9}, "impossible"),
    ],
)
def test_misaddressed_blinded_sets_are_rejected(change: dict[str, object], reason: str):
    parties = make_parties({"a": ["1"], "b": ["1"], "c": ["1"]})
    [message] = parties["a"].start()
    assert isinstance(message, BlindedSet)
    changed = replace(message, **change)  # type: ignore[arg-type]

    with pytest.raises(TamperedMessage, match=reason):
        parties["b"].receive(changed)


def test_a_replayed_blinded_set_is_rejected():
    parties = make_parties({"a": ["1"], "b": ["1"], "c": ["1"]})
    [message] = parties["a"].start()
    parties["b"].receive(message)

    with pytest.raises(TamperedMessage, match="twice"):
        parties["b"].receive(message)


@pytest.mark.parametrize("mode", MODES)
def test_tampered_announcements_are_rejected(mode: Mode):
    parties = make_parties({"a": ["1", "2", "3"], "b": ["2", "3"]}, mode)
    [announcement] = [
        m for m in exchange(parties, hold_announcements=True) if isinstance(m, Announcement)
    ]
    b = parties["b"]

    with pytest.raises(TamperedMessage, match="holds 3 elements"):
        b.receive(replace(announcement, sizes=(3, 3)))
    with pytest.raises(TamperedMessage, match="only the collector"):
        b.receive(replace(announcement, sender="b"))
    if mode == "intersection":
        with pytest.raises(TamperedMessage, match="marks 2 elements"):
            b.receive(replace(announcement, overlap=1))
        with pytest.raises(TamperedMessage, match="bytes"):
            b.receive(replace(announcement, mask=b"\x00\x00"))
    b.receive(announcement)
    assert b.outcome().overlap == 2
    with pytest.raises(TamperedMessage, match="after the session ended"):
        b.receive(announcement)


# -- input errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"elements": "abc"}, "not one string"),
        ({"elements": [1, 2]}, "must be strings"),
        ({"elements": [["x"]]}, "unhashable"),
        ({"elements": ["\ud800"]}, "lone surrogate"),
        ({"parties": ["a"]}, "at least two parties"),
        ({"parties": "ab"}, "not one string"),
        ({"parties": ["a", "a"]}, "distinct"),
        ({"parties": ["b", "c"]}, "not one of the parties"),
        ({"session": ""}, "session label"),
        ({"mode": "union"}, "unknown"),
    ],
)
def test_bad_arguments_say_what_to_fix(kwargs: dict[str, object], reason: str):
    arguments: dict[str, object] = {
        "elements": ["x"],
        "parties": ["a", "b"],
        "session": "s",
        "mode": "cardinality",
        **kwargs,
    }

    with pytest.raises(InputError, match=reason):
        PsiParty("a", **arguments)  # type: ignore[arg-type]


def test_outcome_before_the_end_says_to_deliver_the_messages():
    party = PsiParty("a", ["x"], parties=["a", "b"], session="s")

    with pytest.raises(InputError, match="deliver every message"):
        party.outcome()
