"""PSI on several threads: the same bytes and results as on one, errors still raised."""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
import rbcl  # type: ignore[import-untyped]

from perron.linkage import psi, psi_group
from perron.linkage.psi import PsiParty, run_psi
from perron.linkage.psi_group import (
    MAX_WORKERS,
    MIN_CHUNK,
    POINT_BYTES,
    check_workers,
    default_workers,
    hash_points,
    multiply_points,
    new_scalar,
    validate_points,
)
from perron.linkage.psi_messages import PsiMessage
from perron.protocol.errors import InputError, TamperedMessage

# Enough points that 2 and 3 threads each get several chunks (sets below
# 2 * MIN_CHUNK points stay on the calling thread).
COUNT = 2 * MIN_CHUNK * 3 + 17
ELEMENTS = [f"pseudonym-{i}".encode() for i in range(COUNT)]


@pytest.fixture(scope="module")
def points() -> bytes:
    return hash_points("parallel", ELEMENTS, workers=1)


def test_libsodium_calls_release_the_gil():
    """ctypes releases the GIL for a CDLL function unless it is a Python-API one."""
    assert isinstance(rbcl._sodium, ctypes.CDLL)
    assert not isinstance(rbcl._sodium, ctypes.PyDLL)
    for function in (psi_group._FROM_HASH, psi_group._SCALARMULT, psi_group._IS_VALID):
        assert not function._flags_ & ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


def test_direct_calls_agree_with_rbcl(points: bytes):
    scalar = new_scalar()

    blinded = multiply_points(scalar, points, workers=2)

    for i in (0, 1, COUNT // 2, COUNT - 1):
        point = points[i * POINT_BYTES : (i + 1) * POINT_BYTES]
        expected = rbcl.crypto_scalarmult_ristretto255(scalar, point)
        assert blinded[i * POINT_BYTES : (i + 1) * POINT_BYTES] == expected


@pytest.mark.parametrize("workers", [2, 3, 64])
def test_hash_points_is_the_same_on_threads(points: bytes, workers: int):
    assert hash_points("parallel", ELEMENTS, workers=workers) == points


@pytest.mark.parametrize("workers", [2, 3, 64])
def test_multiply_points_is_the_same_on_threads(points: bytes, workers: int):
    scalar = new_scalar()

    assert multiply_points(scalar, points, workers=workers) == multiply_points(scalar, points)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("position", [0, COUNT // 2, COUNT - 1])
def test_invalid_points_are_refused_on_threads(points: bytes, workers: int, position: int):
    start = position * POINT_BYTES
    invalid = bytes([points[start] ^ 1]) + points[start + 1 : start + POINT_BYTES]
    identity = bytes(POINT_BYTES)
    validate_points(points, workers=workers)

    for bad in (invalid, identity):
        blob = points[:start] + bad + points[start + POINT_BYTES :]
        with pytest.raises(TamperedMessage, match="not a valid ristretto255 point"):
            multiply_points(new_scalar(), blob, workers=workers)
        with pytest.raises(TamperedMessage, match="not a valid ristretto255 point"):
            validate_points(blob, workers=workers)


def test_a_partial_point_is_refused(points: bytes):
    with pytest.raises(TamperedMessage):
        multiply_points(new_scalar(), points[:-1], workers=2)
    with pytest.raises(TamperedMessage):
        validate_points(points[:-1], workers=2)


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2"])
def test_workers_must_be_a_positive_integer(bad: object):
    with pytest.raises(InputError, match="workers"):
        check_workers(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="workers"):
        PsiParty("a", ["x"], parties=["a", "b"], session="s", workers=bad)  # type: ignore[arg-type]


def test_default_workers_is_the_usable_cpus_capped():
    assert 1 <= default_workers() <= MAX_WORKERS
    assert check_workers(None) == default_workers()


def _scripted(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Fix the scalars and the permutations, so that two runs send the same bytes."""
    rng = np.random.default_rng(seed)
    scalars: Iterator[bytes] = iter(
        rbcl.crypto_core_ristretto255_scalar_reduce(rng.bytes(64)) for _ in range(100)
    )

    def order(n: int) -> npt.NDArray[np.intp]:
        return rng.permutation(n)

    monkeypatch.setattr(psi, "new_scalar", lambda: next(scalars))
    monkeypatch.setattr(psi, "random_order", order)
    monkeypatch.setattr(psi_group, "random_order", order)


def _messages(sets: dict[str, list[str]], mode: psi.Mode, workers: int) -> list[bytes]:
    order = list(sets)
    parties = {
        name: PsiParty(name, sets[name], parties=order, session="s/1", mode=mode, workers=workers)
        for name in order
    }
    queue: deque[PsiMessage] = deque(m for p in parties.values() for m in p.start())
    sent: list[bytes] = []
    while queue:
        message = queue.popleft()
        sent.append(message.to_bytes())
        queue.extend(parties[message.recipient].receive(message))
    assert all(p.done for p in parties.values())
    return sent


@pytest.mark.parametrize("mode", ["cardinality", "intersection"])
def test_the_protocol_sends_the_same_bytes_on_threads(
    monkeypatch: pytest.MonkeyPatch, mode: psi.Mode
):
    sets = {
        "a": [f"id-{i}" for i in range(0, 1200)],
        "b": [f"id-{i}" for i in range(600, 1500)],
        "c": [f"id-{i}" for i in range(300, 1000)],
    }
    _scripted(monkeypatch, seed=5)
    sequential = _messages(sets, mode, workers=1)
    _scripted(monkeypatch, seed=5)
    threaded = _messages(sets, mode, workers=2)

    assert len(sequential) == 3 * 3 - 1 + 2
    assert threaded == sequential


@pytest.mark.parametrize("mode", ["cardinality", "intersection"])
def test_run_psi_gives_the_same_result_on_threads(mode: psi.Mode):
    sets = {"a": [f"id-{i}" for i in range(0, 1500)], "b": [f"id-{i}" for i in range(1000, 2200)]}

    sequential = run_psi(sets, mode=mode, workers=1)
    threaded = run_psi(sets, mode=mode, workers=3)

    assert threaded.overlap == sequential.overlap == 500
    assert threaded.sizes == sequential.sizes
    assert threaded.pairwise == sequential.pairwise
    assert threaded.shared == sequential.shared
    assert threaded.bytes_exchanged == sequential.bytes_exchanged
