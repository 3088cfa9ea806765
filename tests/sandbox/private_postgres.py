"""A PostgreSQL server of a test's own, on a free port, that the test may restart.

The machine's shared server (127.0.0.1:5432) serves every other test at the same
time, so a test that restarts PostgreSQL starts its own from Debian's binaries:
``initdb`` into the test's folder, ``pg_ctl start`` on a free port. initdb refuses to
run as root; as root the server runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from perron.sandbox.localnet import free_port

#: Seconds pg_ctl waits for the server to start or stop.
PG_CTL_WAIT = 60


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError("PostgreSQL's server binaries (pg_ctl, initdb) are not installed.")
    return Path(pg_ctl).parent


class PrivatePostgres:
    """A PostgreSQL server in a new folder under the temporary directory (the
    ``postgres`` user must reach it, which a test's own folder does not allow); use as a
    context manager: stopped and removed at the end.

    ``url`` is a hub database URL of its ``postgres`` database.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="perron-pg-"))
        self.data = self.folder / "pgdata"
        self.log = self.folder / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._bin = _bin_dir()

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def _options(self) -> str:
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c max_connections=200"
        )

    def __enter__(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run(
            str(self._bin / "initdb"),
            *("-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"),
        )
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        self._run(
            str(self._bin / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.log), "-o", self._options()),
            *("-w", "-t", str(PG_CTL_WAIT), *extra, action),
        )

    def restart(self) -> None:
        """Restart the server as an administrator would (``-m fast``: every client's
        connection is ended, what was committed stays)."""
        self._pg_ctl("restart", "-m", "fast")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
