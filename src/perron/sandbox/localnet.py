"""A real deployment on one machine: a hub and one station per dataset, each an OS
process on 127.0.0.1, with generated keys and tokens in a working folder.

Used by ``perron demo`` (the network version), the process-level tests and the
latency benchmark. Everything a real deployment does happens here too: the hub
runs its migrations on a SQLite (or PostgreSQL) database, stations load their
CSV files and keys, long-poll the hub, sign, seal and audit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import select

from perron.client.connect import connect, hub_client, log_in
from perron.client.session import Session
from perron.crypto.keys import KeyPair
from perron.hub import admin
from perron.hub.db.models import Station
from perron.hub.migrate import upgrade
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import TransportError

RESEARCHER = "researcher"
RESEARCH_ORG = "org-research"
_STARTUP_SECONDS = 30.0


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalNetwork:
    """A hub and stations as separate processes; use as a context manager.

    Examples
    --------
    >>> with LocalNetwork({"a": frame_a, "b": frame_b}) as net:  # doctest: +SKIP
    ...     net.connect().summary(["age"])
    """

    def __init__(
        self,
        datasets: Mapping[str, pd.DataFrame],
        *,
        disclosure: DisclosurePolicy | Mapping[str, DisclosurePolicy] | None = None,
        workdir: str | Path | None = None,
        database_url: str | None = None,
        study: str = "demo",
        lease_seconds: float | None = None,
        organisations: Mapping[str, str] | None = None,
        station_settings: Mapping[str, str] | None = None,
        create_study: bool = True,
        station_datasets: Mapping[str, str] | None = None,
        transport: str | Mapping[str, str] = "websocket",
        hub_workers: int = 1,
    ) -> None:
        self.datasets = dict(datasets)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="perron-net-"))
        self.database_url = database_url or f"sqlite:///{self.workdir / 'hub.db'}"
        self.study = study
        self.lease_seconds = lease_seconds
        #: Station name -> its holder organisation (default ``org-<station>``).
        self.organisations = {n: (organisations or {}).get(n, f"org-{n}") for n in datasets}
        #: Extra TOML appended to a station's configuration (e.g. its [governance]).
        self.station_settings = dict(station_settings or {})
        #: Whether to create the study with every organisation as a member (else a
        #: data request creates it and approved holders join it).
        self.create_study = create_study
        #: Top-level TOML that names a station's dataset instead of its frame, written
        #: as data.csv (e.g. an OMOP CDM: ``dataset = "/data/cdm"`` and ``reader =
        #: "omop"``, with its ``[omop]`` table in ``station_settings``); relative paths
        #: are relative to the station's folder. Its frame in ``datasets`` is not written.
        self.station_datasets = dict(station_datasets or {})
        #: How each station takes its runs: "websocket" or "http" (long-polls).
        self.transports = (
            dict.fromkeys(datasets, transport)
            if isinstance(transport, str)
            else {n: transport.get(n, "websocket") for n in datasets}
        )
        #: Hub worker processes on the hub's port (more than 1 needs PostgreSQL).
        self.hub_workers = hub_workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        self.hub: subprocess.Popen[bytes] | None = None
        self._sessions: list[Session] = []
        self.stations: dict[str, subprocess.Popen[bytes]] = {}
        if disclosure is None or isinstance(disclosure, DisclosurePolicy):
            self.policies = dict.fromkeys(self.datasets, disclosure or DisclosurePolicy())
        else:
            self.policies = {n: disclosure.get(n, DisclosurePolicy()) for n in self.datasets}

    # -- life cycle -------------------------------------------------------------------

    def __enter__(self) -> LocalNetwork:
        return self.start()

    def start(self) -> LocalNetwork:
        """Set up, start the hub and the stations, and wait until they are ready."""
        try:
            self.setup()
            self.start_hub()
            for name in self.datasets:
                self.start_station(name)
            self.wait_for_stations()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def setup(self) -> None:
        """Database, organisations, researcher, study, station folders, keys, tokens."""
        upgrade(self.database_url)
        organisations = list(dict.fromkeys(self.organisations.values()))
        with admin.admin_session(self.database_url) as db:
            for organisation in [*organisations, RESEARCH_ORG]:
                admin.create_org(db, organisation)
            admin.create_user(db, RESEARCHER, organisation=RESEARCH_ORG, password=self.password)
            if self.create_study:
                admin.create_study(db, self.study, organisations=[*organisations, RESEARCH_ORG])
                admin.add_user_to_study(db, self.study, RESEARCHER)
            tokens = {
                name: admin.create_station(db, name, organisation=self.organisations[name])
                for name in self.datasets
            }
        settings = [f'database_url = "{self.database_url}"']
        if self.lease_seconds is not None:
            settings.append(f"lease_seconds = {self.lease_seconds}")
        if self.hub_workers != 1:
            settings.append(f"workers = {self.hub_workers}")
        (self.workdir / "hub.toml").write_text("\n".join(settings) + "\n")
        for name, frame in self.datasets.items():
            folder = self.workdir / "stations" / name
            folder.mkdir(parents=True, exist_ok=True)
            if name not in self.station_datasets:
                frame.to_csv(folder / "data.csv", index=False)
            KeyPair.generate().save(folder / "keys")
            (folder / "station.token").write_text(tokens[name])
            (folder / "station.toml").write_text(self._station_toml(name))

    def _station_toml(self, name: str) -> str:
        lines = [
            f'name = "{name}"',
            f'organisation = "{self.organisations[name]}"',
            f'hub_url = "{self.url}"',
            f'transport = "{self.transports[name]}"',
            self.station_datasets.get(name, 'dataset = "data.csv"').strip(),
            "",
            "[disclosure]",
        ]
        for key, value in asdict(self.policies[name]).items():
            if value is None:
                continue
            text = f'"{value}"' if isinstance(value, str) else str(value).lower()
            lines.append(f"{key} = {text}")
        extra = self.station_settings.get(name, "")
        return "\n".join(lines) + "\n" + (f"\n{extra.strip()}\n" if extra else "")

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PERRON_DATABASE_URL"] = self.database_url
        return env

    def start_hub(self) -> None:
        with (self.workdir / "hub.log").open("ab") as log:  # the child keeps its own copy
            self.hub = subprocess.Popen(
                [
                    *(sys.executable, "-m", "perron", "hub", "start"),
                    *("--config", str(self.workdir / "hub.toml"), "--port", str(self.port)),
                ],
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.hub.poll() is not None:
                raise TransportError(f"the hub exited; see {self.workdir / 'hub.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/openapi.json", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise TransportError(f"the hub did not start; see {self.workdir / 'hub.log'}")

    def stop_hub(self, *, kill: bool = False) -> None:
        _stop(self.hub, kill)
        self.hub = None

    def start_station(self, name: str) -> None:
        folder = self.workdir / "stations" / name
        with (folder / "station.log").open("ab") as log:
            self.stations[name] = subprocess.Popen(
                [sys.executable, "-m", "perron", "station", "start", "--config", "station.toml"],
                cwd=folder,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop_station(self, name: str, *, kill: bool = False) -> None:
        _stop(self.stations.pop(name, None), kill)

    def wait_for_stations(self) -> None:
        """Wait until every station has published its keys at the hub."""
        client = self.researcher_client()
        try:
            deadline = time.monotonic() + _STARTUP_SECONDS
            while time.monotonic() < deadline:
                if self.create_study:
                    listing = client.get(f"/api/studies/{self.study}/stations").json()
                    ready = {s["name"] for s in listing if s.get("verify_key")}
                else:  # no study yet (a data request makes it): ask the database
                    ready = self._stations_with_keys()
                if ready >= set(self.datasets):
                    return
                for name, process in self.stations.items():
                    if process.poll() is not None:
                        raise TransportError(f"station {name} exited; see its station.log")
                time.sleep(0.05)
        finally:
            client.close()
        raise TransportError("stations did not register in time; see their station.log")

    def _stations_with_keys(self) -> set[str]:
        with admin.admin_session(self.database_url) as db:
            return set(db.scalars(select(Station.name).where(Station.verify_key.is_not(None))))

    def researcher_client(self) -> httpx.Client:
        """An authenticated client for the researcher (the caller closes it)."""
        client = hub_client(self.url)
        client.headers["Authorization"] = f"Bearer {log_in(client, RESEARCHER, self.password)}"
        return client

    def add_researcher(self, username: str) -> None:
        """Another researcher of the research organisation, a member of the study (with
        the network's password): researchers working at once each need their own user,
        since a user's registered keys are those of their latest session."""
        with admin.admin_session(self.database_url) as db:
            admin.create_user(db, username, organisation=RESEARCH_ORG, password=self.password)
            admin.add_user_to_study(db, self.study, username)

    def connect(self, *, researcher: str = RESEARCHER, **options: Any) -> Session:
        """A researcher's Session on this network's study (``researcher``: one made by
        :meth:`add_researcher`)."""
        options.setdefault("progress", False)
        session = connect(
            self.url, study=self.study, username=researcher, password=self.password, **options
        )
        self._sessions.append(session)
        return session

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self._sessions.clear()
        for name in list(self.stations):
            self.stop_station(name)
        self.stop_hub()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def audit_logs(self) -> Iterator[Path]:
        for name in self.datasets:
            yield self.workdir / "stations" / name / "audit.jsonl"


def _stop(process: subprocess.Popen[bytes] | None, kill: bool) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
