"""Configuration of the hub: defaults, a TOML file and the environment.

Precedence, lowest first: the defaults below, the TOML file given with
``perron hub start --config hub.toml``, the environment (``PERRON_DATABASE_URL``,
so a database password can stay out of the file), and finally the ``--host`` /
``--port`` flags of the command line.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perron.protocol.errors import InputError

DATABASE_URL_ENV = "PERRON_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///perron-hub.db"


@dataclass(frozen=True)
class Settings:
    """Everything a hub needs to run.

    Parameters
    ----------
    database_url
        SQLAlchemy URL. ``sqlite:///file.db`` (default ``sqlite:///perron-hub.db``)
        or ``postgresql://user@host/db`` (the psycopg 3 driver is used).
    host, port
        Where ``perron hub start`` listens (default ``127.0.0.1:8700``).
    lease_seconds
        A claimed run not answered within this many seconds is delivered again.
    token_hours
        Lifetime of a user token issued by ``POST /api/auth/token``.
    max_wait_seconds
        Cap on the ``wait`` of a long-poll.
    poll_seconds
        A long-poll re-reads the database at least this often, so it sees changes
        made by another hub process and runs whose lease expired.
    argon2_time_cost, argon2_memory_kib, argon2_parallelism
        Argon2id parameters for new password hashes (RFC 9106 low-memory profile by
        default); older hashes are upgraded at the next login.
    worker_threads
        Size of the thread pool running requests; each waiting long-poll holds one.
    access_log
        Log every HTTP request (uvicorn's access log; default off). It took about 7%
        of the hub's CPU per round; what matters is audited by the stations.
    workers
        Hub worker processes serving one port (default 1). More than one needs
        PostgreSQL: the workers wake each other's long-polls through it
        (:mod:`perron.hub.wakeups`). docs/network.md, "Running at scale", has the
        measured figures.
    station_online_seconds
        A station seen within this many seconds is shown online (default 90). A
        station waiting for its runs is seen every 5 s or so; one that stopped
        calling the hub shows offline this long after its last call.

    Examples
    --------
    >>> Settings(database_url="sqlite:///hub.db", lease_seconds=30).port
    8700
    """

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8700
    lease_seconds: float = 120.0
    token_hours: float = 12.0
    max_wait_seconds: float = 60.0
    poll_seconds: float = 1.0
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    worker_threads: int = 100
    access_log: bool = False
    station_online_seconds: float = 90.0
    workers: int = 1

    def __post_init__(self) -> None:
        for name in (
            "lease_seconds",
            "token_hours",
            "max_wait_seconds",
            "poll_seconds",
            "station_online_seconds",
        ):
            if not getattr(self, name) > 0:
                raise InputError(f"hub setting {name} must be positive, got {getattr(self, name)}.")
        if not 1 <= self.workers <= 64:
            raise InputError(f"hub setting workers must be in 1..64, got {self.workers}.")
        if self.workers > 1 and not self.postgresql:
            raise InputError(
                f"hub setting workers = {self.workers} needs PostgreSQL (database_url "
                "postgresql://...): SQLite has one writer and cannot wake the other "
                "workers' long-polls. Use workers = 1 with SQLite."
            )
        if not 0 < self.port < 65536:
            raise InputError(f"hub setting port must be in 1..65535, got {self.port}.")

    @property
    def postgresql(self) -> bool:
        """Whether the database is PostgreSQL.

        Examples
        --------
        >>> Settings(database_url="postgresql://postgres@localhost/hub").postgresql
        True
        """
        return normalise_database_url(self.database_url).startswith("postgresql")

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed.

        Examples
        --------
        >>> Settings().replace(port=9000).port
        9000
        """
        return dataclasses.replace(self, **changes)


def normalise_database_url(url: str) -> str:
    """Select the psycopg 3 driver for PostgreSQL URLs; leave others unchanged.

    Examples
    --------
    >>> normalise_database_url("postgresql://postgres@localhost/hub")
    'postgresql+psycopg://postgres@localhost/hub'
    >>> normalise_database_url("sqlite:///perron-hub.db")
    'sqlite:///perron-hub.db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings(
    config: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the settings: defaults, then the TOML file, then the environment.

    Parameters
    ----------
    config
        A TOML file with any of the keys ``database_url``, ``host``, ``port``,
        ``lease_seconds``, ``token_hours`` (and the other :class:`Settings` fields).
    environ
        The environment (default ``os.environ``); ``PERRON_DATABASE_URL`` wins over
        the file.

    Raises
    ------
    InputError
        The file is missing, is not TOML, or has an unknown key or a wrong type.

    Examples
    --------
    >>> load_settings(environ={"PERRON_DATABASE_URL": "sqlite:///x.db"}).database_url
    'sqlite:///x.db'
    """
    values: dict[str, Any] = {}
    if config is not None:
        values.update(_read_toml(Path(config)))
    env = os.environ if environ is None else environ
    if env.get(DATABASE_URL_ENV):
        values["database_url"] = env[DATABASE_URL_ENV]
    return Settings(**values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"hub configuration {path} does not exist.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"hub configuration {path} is not valid TOML: {exc}.") from exc
    fields = {field.name: field for field in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InputError(
            f"hub configuration {path} has unknown keys {unknown}; known keys are {sorted(fields)}."
        )
    for key, value in data.items():
        expected = type(getattr(Settings(), key))
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if not ok or (expected is not bool and isinstance(value, bool)):
            raise InputError(
                f"hub configuration {path}: {key} must be a {expected.__name__}, got {value!r}."
            )
        if expected is float:
            data[key] = float(value)
    return dict(data)
