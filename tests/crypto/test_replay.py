"""The replay guard runs each task once, answers redeliveries and rejects replays."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from perron.crypto.replay import ReplayGuard
from perron.protocol.errors import InputError, ReplayedTask

NOW = 1_763_870_000.0
EXPIRES = NOW + 600.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "replay.sqlite"


@pytest.fixture
def guard(db_path: Path):
    with ReplayGuard(db_path) as opened:
        yield opened


def test_a_new_task_is_accepted_once(guard):
    assert guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW) is True
    assert guard.check_and_remember("t2", "n2", "d2", EXPIRES, now=NOW) is True


def test_a_redelivery_is_recognised(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)

    again = guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW + 130)

    assert again is False


def test_same_task_id_with_another_digest_is_a_replay(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)

    with pytest.raises(ReplayedTask, match="other content"):
        guard.check_and_remember("t1", "n1", "changed", EXPIRES, now=NOW)


def test_same_task_id_with_another_nonce_is_a_replay(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)

    with pytest.raises(ReplayedTask, match="another nonce"):
        guard.check_and_remember("t1", "n2", "d2", EXPIRES, now=NOW)


def test_a_reused_nonce_is_a_replay(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)

    with pytest.raises(ReplayedTask, match="nonce 'n1' was already used by task 't1'"):
        guard.check_and_remember("t2", "n1", "d2", EXPIRES, now=NOW)


def test_a_rejected_replay_is_not_remembered(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)
    with pytest.raises(ReplayedTask):
        guard.check_and_remember("t2", "n1", "d2", EXPIRES, now=NOW)

    assert guard.check_and_remember("t2", "n2", "d2", EXPIRES, now=NOW) is True


def test_an_expired_task_is_rejected(guard):
    with pytest.raises(ReplayedTask, match="expired"):
        guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=EXPIRES + 0.001)


def test_a_redelivery_after_expiry_is_rejected(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)

    with pytest.raises(ReplayedTask, match="expired"):
        guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=EXPIRES + 1)


def test_the_expiry_instant_itself_is_still_valid(guard):
    assert guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=EXPIRES) is True


@pytest.mark.parametrize("expires_at", [float("nan"), float("inf")])
def test_a_task_without_a_finite_expiry_is_rejected(guard, expires_at):
    with pytest.raises(ReplayedTask, match="finite expiry"):
        guard.check_and_remember("t1", "n1", "d1", expires_at, now=NOW)


def test_a_nan_clock_is_an_input_error(guard):
    with pytest.raises(InputError):
        guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=float("nan"))


def test_the_default_clock_is_the_current_time(guard):
    assert guard.check_and_remember("t1", "n1", "d1", 4_000_000_000.0) is True
    with pytest.raises(ReplayedTask, match="expired"):
        guard.check_and_remember("t2", "n2", "d2", 1_000_000_000.0)


def test_a_stored_result_answers_a_redelivery(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)
    assert guard.result_for("t1") is None

    guard.store_result("t1", "sealed-answer")

    assert guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW + 1) is False
    assert guard.result_for("t1") == "sealed-answer"
    assert guard.result_for("unknown") is None


def test_the_first_stored_result_wins(guard):
    guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)

    guard.store_result("t1", "first")
    guard.store_result("t1", "second")

    assert guard.result_for("t1") == "first"


def test_storing_a_result_for_an_unknown_task_is_an_input_error(guard):
    with pytest.raises(InputError, match="check_and_remember first"):
        guard.store_result("never-seen", "payload")


def test_tasks_and_results_survive_reopening_the_file(db_path):
    with ReplayGuard(db_path) as first:
        first.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)
        first.store_result("t1", "sealed-answer")

    with ReplayGuard(db_path) as second:
        assert second.result_for("t1") == "sealed-answer"
        assert second.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW) is False
        with pytest.raises(ReplayedTask):
            second.check_and_remember("t1", "n1", "other", EXPIRES, now=NOW)


def test_prune_forgets_expired_tasks_but_still_rejects_them(db_path):
    with ReplayGuard(db_path) as guard:
        guard.check_and_remember("old", "n-old", "d-old", NOW + 10, now=NOW)
        guard.check_and_remember("live", "n-live", "d-live", NOW + 1000, now=NOW)

        assert guard.prune(older_than=NOW + 100) == 1

        assert guard.result_for("old") is None
        assert guard.check_and_remember("live", "n-live", "d-live", NOW + 1000, now=NOW) is False
    # Even with a clock that says the old task is still valid, it stays rejected.
    with ReplayGuard(db_path) as reopened, pytest.raises(ReplayedTask, match="expired"):
        reopened.check_and_remember("old", "n-old", "d-old", NOW + 10, now=NOW)


def test_prune_never_moves_its_mark_backwards(guard):
    guard.prune(older_than=NOW + 100)
    guard.prune(older_than=NOW)

    with pytest.raises(ReplayedTask, match="expired"):
        guard.check_and_remember("t1", "n1", "d1", NOW + 50, now=NOW)


def test_prune_needs_a_finite_time(guard):
    with pytest.raises(InputError):
        guard.prune(float("nan"))


def test_concurrent_deliveries_accept_a_task_exactly_once(db_path):
    with ReplayGuard(db_path) as one, ReplayGuard(db_path) as other:
        barrier = threading.Barrier(8)
        outcomes: list[bool] = []
        lock = threading.Lock()

        def deliver(index: int) -> None:
            guard = one if index % 2 else other
            barrier.wait()
            accepted = guard.check_and_remember("t1", "n1", "d1", EXPIRES, now=NOW)
            with lock:
                outcomes.append(accepted)

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(outcomes) == [False] * 7 + [True]


def test_acceptance_waits_for_the_durable_answer_and_the_guard_stays_full(tmp_path):
    """Accepting a task commits without a disk wait; storing its answer (before it
    leaves) commits durably and carries the acceptance with it; every other write
    stays ``synchronous=FULL`` (2)."""
    path = tmp_path / "replay.sqlite"
    with ReplayGuard(path) as guard:
        assert guard.check_and_remember("t1", "n1", "d1", expires_at=2e9, now=1e9)
        assert guard._db.execute("PRAGMA synchronous").fetchone() == (2,)
        guard.store_result("t1", "done:sealed")
    with ReplayGuard(path) as again:  # a restart: both are there
        assert again.result_for("t1") == "done:sealed"
        assert not again.check_and_remember("t1", "n1", "d1", expires_at=2e9, now=1e9)
        with pytest.raises(ReplayedTask):
            again.check_and_remember("t2", "n1", "d2", expires_at=2e9, now=1e9)
