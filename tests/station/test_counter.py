"""The durable count of tasks per policy counts task ids, not deliveries."""

from __future__ import annotations

from perron.station.counter import TaskCounter


def test_a_task_counts_once_and_the_limit_holds(tmp_path):
    with TaskCounter(tmp_path / "count.sqlite") as counter:
        assert counter.claim("p1", "t1", limit=2)
        assert counter.claim("p1", "t1", limit=2)  # run again after a crash: same task
        assert counter.claim("p1", "t2", limit=2)
        assert not counter.claim("p1", "t3", limit=2)
        assert counter.claim("p2", "t4", limit=2)  # another policy has its own count

        assert (counter.used("p1"), counter.used("p2"), counter.used("p3")) == (2, 1, 0)


def test_a_released_task_frees_its_place(tmp_path):
    with TaskCounter(tmp_path / "count.sqlite") as counter:
        counter.claim("p1", "t1", limit=1)
        counter.release("t1")

        assert counter.claim("p1", "t2", limit=1)


def test_the_count_survives_a_restart(tmp_path):
    with TaskCounter(tmp_path / "count.sqlite") as counter:
        counter.claim("p1", "t1", limit=5)

    with TaskCounter(tmp_path / "count.sqlite") as counter:
        assert counter.used("p1") == 1
