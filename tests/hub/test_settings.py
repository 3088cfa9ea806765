"""Settings: defaults, the TOML file, the environment; and the long-poll notifier."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from perron.hub.notify import Notifier, poll_until
from perron.hub.settings import (
    DEFAULT_DATABASE_URL,
    Settings,
    load_settings,
    normalise_database_url,
)
from perron.protocol.errors import InputError


def test_defaults_follow_the_network_design():
    settings = load_settings(environ={})

    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///perron-hub.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8700)
    # Configuration values, not timings.
    configured = {"lease_seconds": 120, "token_hours": 12, "max_wait_seconds": 60}
    assert {name: getattr(settings, name) for name in configured} == configured


def test_a_toml_file_sets_values_and_the_environment_sets_the_database(tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text(
        'database_url = "sqlite:///from-file.db"\nhost = "0.0.0.0"\nport = 9000\n'
        "lease_seconds = 30\ntoken_hours = 1.5\n"
    )

    from_file = load_settings(config, environ={})
    from_env = load_settings(config, environ={"PERRON_DATABASE_URL": "postgresql://h/db"})

    assert from_file == Settings(
        database_url="sqlite:///from-file.db",
        host="0.0.0.0",
        port=9000,
        lease_seconds=30.0,
        token_hours=1.5,
    )
    assert from_env.database_url == "postgresql://h/db"
    assert from_env.port == 9000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("portt = 1\n", "unknown keys"),
        ('port = "80"\n', "port must be a int"),
        ("lease_seconds = true\n", "lease_seconds must be a float"),
        ('access_log = "yes"\n', "access_log must be a bool"),
        ("port = true\n", "port must be a int"),
        ("lease_seconds = 0\n", "must be positive"),
        ("port = [\n", "not valid TOML"),
    ],
)
def test_a_bad_toml_file_is_an_input_error(tmp_path, content, message):
    config = tmp_path / "hub.toml"
    config.write_text(content)

    with pytest.raises(InputError, match=message):
        load_settings(config, environ={})


def test_the_access_log_is_off_unless_the_file_turns_it_on(tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text("access_log = true\n")

    assert Settings().access_log is False
    assert load_settings(config, environ={}).access_log is True


def test_a_missing_config_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_postgresql_urls_use_psycopg_3():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def _poll(
    attempt: Callable[[], int],
    ready: Callable[[int], bool],
    notifier: Notifier,
    **options: Any,
) -> int:
    async def run(unit: Callable[[Any], int]) -> int:
        return unit(None)  # the connection: these attempts need none

    async def main() -> int:
        return await poll_until(run, lambda _: attempt(), ready, notifier=notifier, **options)

    return asyncio.run(main())


def test_poll_until_returns_at_once_when_ready_and_the_last_result_after_the_wait():
    notifier = Notifier()
    results = iter(range(100))
    clock = iter([0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])

    ready = _poll(lambda: 7, lambda n: n == 7, notifier, wait=60, poll_seconds=1)
    last = _poll(
        lambda: next(results),
        lambda n: False,
        notifier,
        wait=1.0,
        poll_seconds=0.0,
        clock=lambda: next(clock),
    )

    assert ready == 7
    assert last == 2  # attempts at t = 0, 0.5 and 1.0


def test_closing_the_notifier_releases_waiting_polls():
    notifier = Notifier()
    answers: list[int] = []
    started = threading.Event()

    def attempt() -> int:
        started.set()
        return 0

    waiter = threading.Thread(
        target=lambda: answers.append(
            _poll(attempt, lambda n: False, notifier, wait=60, poll_seconds=60)
        )
    )
    waiter.start()
    assert started.wait(10)

    notifier.close()
    waiter.join(timeout=10)

    assert answers == [0]


def test_a_notification_from_another_thread_wakes_a_waiting_poll():
    notifier = Notifier()
    results = iter([0, 1])
    started = threading.Event()

    def attempt() -> int:
        started.set()
        return next(results)

    answers: list[int] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            _poll(attempt, lambda n: n == 1, notifier, wait=60, poll_seconds=60)
        )
    )
    waiter.start()
    assert started.wait(10)

    notifier.notify()
    waiter.join(timeout=10)

    assert answers == [1]


def test_a_notification_that_takes_the_waiter_at_the_end_of_its_wait_counts_as_a_change():
    # A notify from another thread (a wake-up from another hub worker) can take the
    # waiter off the list between the timeout and its handler: the wait must report
    # the change, not fail to remove a waiter that is gone (the 500s seen at 4 workers).
    notifier = Notifier()

    async def main() -> bool | object:
        seen = notifier.generation
        # Runs while the timed-out wait cancels its shield, before its handler.
        asyncio.get_running_loop().call_soon(notifier.notify)
        return await notifier.wait(seen, timeout=0.0)

    changed = asyncio.run(main())

    assert changed is True
    assert notifier.waiting == 0


def _waiting_poll(
    notifier: Notifier, attempt: Callable[[Any], int], ready: Callable[[int], bool]
) -> tuple[threading.Thread, list[int | Exception]]:
    """A poll in another thread, waiting on ``notifier`` after a first attempt of 0."""
    answers: list[int | Exception] = []
    first = threading.Event()

    async def run(unit: Callable[[Any], int]) -> int:
        first.set()
        return 0  # its own attempts find nothing

    async def main() -> None:
        try:
            answer: int = await poll_until(
                run, attempt, ready, notifier=notifier, wait=60, poll_seconds=60
            )
            answers.append(answer)
        except Exception as error:
            answers.append(error)

    waiter = threading.Thread(target=lambda: asyncio.run(main()))
    waiter.start()
    assert first.wait(10)
    return waiter, answers


def _serve_when_waiting(notifier: Notifier, connection: object) -> int:
    """Serve the notifier's waiters once one is waiting (it registers after its attempt)."""
    for _ in range(1000):
        served = notifier.serve(connection)  # type: ignore[arg-type]
        if served:
            return served
        threading.Event().wait(0.01)
    raise AssertionError("no poll started waiting")


def test_a_unit_of_work_serves_a_waiting_poll_with_the_polls_own_attempt():
    notifier = Notifier()
    connection = object()
    seen: list[object] = []

    def attempt(on: Any) -> int:
        seen.append(on)
        return 5

    waiter, answers = _waiting_poll(notifier, attempt, lambda n: n == 5)
    served = _serve_when_waiting(notifier, connection)
    waiter.join(timeout=10)

    assert served == 1
    assert seen == [connection]  # run on the serving unit's connection
    assert answers == [5]


def test_an_error_of_a_served_attempt_is_raised_by_the_poll_not_the_server():
    notifier = Notifier()

    class Connection:
        rolled_back = False

        def rollback(self) -> None:
            self.rolled_back = True

    def attempt(_on: Any) -> int:
        raise InputError("the waiter's own error")

    connection = Connection()
    waiter, answers = _waiting_poll(notifier, attempt, lambda n: n == 5)
    _serve_when_waiting(notifier, connection)
    waiter.join(timeout=10)

    assert [str(answer) for answer in answers] == ["the waiter's own error"]
    assert isinstance(answers[0], InputError)
    assert connection.rolled_back


def test_a_served_poll_that_is_not_ready_keeps_waiting():
    notifier = Notifier()
    results = iter([1, 2])

    waiter, answers = _waiting_poll(notifier, lambda _on: next(results), lambda n: n == 2)
    _serve_when_waiting(notifier, object())  # 1: not ready, back to waiting
    _serve_when_waiting(notifier, object())
    waiter.join(timeout=10)

    assert answers == [2]


def test_several_workers_need_postgresql():
    with pytest.raises(InputError, match="workers = 2 needs PostgreSQL"):
        Settings(database_url="sqlite:///hub.db", workers=2)
    assert Settings(database_url="postgresql://postgres@localhost/hub", workers=4).workers == 4


@pytest.mark.parametrize("workers", [0, 65])
def test_the_number_of_workers_is_bounded(workers):
    with pytest.raises(InputError, match=r"workers must be in 1\.\.64"):
        Settings(database_url="postgresql://postgres@localhost/hub", workers=workers)


def test_the_hub_command_refuses_several_workers_on_sqlite(tmp_path):
    from typer.testing import CliRunner

    from perron.hub.cli import app

    config = tmp_path / "hub.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "hub.db"}"\n')
    result = CliRunner().invoke(app, ["start", "--config", str(config), "--workers", "2"])
    assert result.exit_code == 1
    assert "needs PostgreSQL" in result.output
