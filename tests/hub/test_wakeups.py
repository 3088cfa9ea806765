"""Wake-ups across hub workers: two hubs' notifiers on one PostgreSQL database.

Each side is what one hub worker holds: its :class:`Channels` and its
:class:`PostgresWakeups`. A change notified on one side wakes the waiters on the
other; a restarted station's bump travels too; a side ignores its own messages; and
a listener whose connection the database cut reconnects and wakes everyone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from perron.hub.notify import Channels, Notifier
from perron.hub.wakeups import MAX_PAYLOAD, PostgresWakeups, conninfo, parse, payloads

#: Long enough for a message on loopback; a test waiting this long for what must come
#: fails rather than hangs.
ARRIVAL_SECONDS = 10.0


@dataclass
class Worker:
    channels: Channels
    wakeups: PostgresWakeups
    received: list[list[str]]
    reconnects: list[int]


def _worker(url: str) -> Worker:
    channels = Channels()
    received: list[list[str]] = []
    reconnects: list[int] = []

    def deliver(subjects: list[str]) -> None:
        received.append(subjects)
        channels.receive(subjects)

    def on_reconnect() -> None:
        reconnects.append(1)
        channels.wake_all()

    wakeups = PostgresWakeups(url, deliver, on_reconnect).start()
    channels.attach(wakeups.publish)
    assert wakeups.listening.wait(ARRIVAL_SECONDS)
    return Worker(channels, wakeups, received, reconnects)


def _woken(notifier: Notifier, generation: int) -> bool:
    """Whether a waiter on ``notifier`` since ``generation`` is woken within the bound."""
    return asyncio.run(notifier.wait(generation, timeout=ARRIVAL_SECONDS)) is True


@pytest.fixture
def two_workers(postgres_database: str) -> Iterator[tuple[Worker, Worker]]:
    first, second = _worker(postgres_database), _worker(postgres_database)
    try:
        yield first, second
    finally:
        first.wakeups.close()
        second.wakeups.close()


def test_a_change_in_one_worker_wakes_the_waiters_of_another(two_workers):
    first, second = two_workers
    notifier = second.channels.channel("station:s1")
    generation = notifier.generation

    first.channels.notify("station:s1", "task:t1")

    assert _woken(notifier, generation)
    assert ["station:s1", "task:t1"] in second.received


def test_a_worker_does_not_receive_its_own_changes(two_workers):
    first, second = two_workers
    first.channels.notify("task:mine")
    second.channels.notify("task:theirs")
    # Wait for the second's message at the first: the first's own came before it.
    notifier = first.channels.channel("task:theirs")
    generation = notifier.generation

    if not any("task:theirs" in batch for batch in first.received):
        assert _woken(notifier, generation)
    assert all("task:mine" not in batch for batch in first.received)
    assert all("task:theirs" not in batch for batch in second.received)


def test_a_restarted_station_makes_the_other_workers_polls_stale(two_workers):
    first, second = two_workers
    key = "station:s1"
    before = second.channels.epoch(key)
    notifier = second.channels.channel(key)
    generation = notifier.generation

    first.channels.bump(key)
    first.channels.notify(key)

    assert _woken(notifier, generation)
    # The bump was sent before the wake-up and is handled first.
    assert second.channels.epoch(key) == before + 1


def test_a_listener_cut_off_by_the_database_reconnects_and_wakes_everyone(
    two_workers, postgres_database
):
    first, second = two_workers
    notifier = second.channels.channel("station:waiting")
    generation = notifier.generation
    with psycopg.connect(conninfo(postgres_database), autocommit=True) as admin:
        # End the listening connections of this database (as a restart would).
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND query LIKE 'LISTEN%'"
        )

    # Woken by the reconnection itself: what was sent meanwhile is lost.
    assert _woken(notifier, generation)
    assert len(second.reconnects) >= 2
    # And changes arrive again afterwards.
    assert second.wakeups.listening.wait(ARRIVAL_SECONDS)
    later = second.channels.channel("task:after")
    seen = later.generation
    first.channels.notify("task:after")

    assert _woken(later, seen)


def test_many_subjects_are_split_into_messages_postgresql_accepts():
    subjects = [f"station:{'s' * 40}{index}" for index in range(500)]
    messages = list(payloads("origin", subjects))
    assert len(messages) > 1
    assert all(len(message.encode()) < MAX_PAYLOAD for message in messages)
    carried = [subject for message in messages for subject in parse(message)[1]]
    assert carried == subjects
    assert {parse(message)[0] for message in messages} == {"origin"}


def test_nothing_to_send_sends_no_message():
    assert list(payloads("origin", [])) == []
