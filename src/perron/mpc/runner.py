"""Start the three parties of a vertical regression as processes on this machine.

:func:`fit_vertical` writes each holder's table to its own file in a private
temporary folder, starts ``python -m perron.mpc.party`` three times (holder 0,
holder 1, helper) talking MPyC over TCP on loopback, waits, and returns holder 0's
result. It is the local twin of a deployment where each party runs the same
command on its own machine; nothing but the file paths is shared between the
processes.

Failures end all three processes (no zombies): a party that exits with an error
ends the others, and the error it reported (or the tail of its stderr) is raised;
a run that passes ``timeout`` raises :class:`~perron.protocol.errors.RoundTimeout`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from perron.mpc.local import check_holder
from perron.mpc.party import check_ready
from perron.mpc.result import VerticalResult
from perron.mpc.spec import VerticalSpec
from perron.protocol.errors import (
    PerronError,
    RoundTimeout,
    TransportError,
    error_from_wire,
)

__all__ = ["fit_vertical", "free_ports"]

Table = pd.DataFrame | Path | str

#: How long the other parties get to report their own error after one failed.
_GRACE = 1.0
_POLL = 0.02


def free_ports(count: int = 3) -> list[int]:
    """``count`` TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _table_path(table: Table, folder: Path, name: str) -> Path:
    if isinstance(table, pd.DataFrame):
        path = folder / f"{name}.parquet"
        table.reset_index(drop=True).to_parquet(path)
        return path
    return Path(table)


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Terminate what still runs, then reap every process."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 5
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _report(path: Path) -> dict[str, Any] | None:
    try:
        report: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return report


def _failure(folder: Path, codes: list[int | None], spec: VerticalSpec) -> PerronError:
    """The error to raise: a party's own report, else the crash it left on stderr."""
    roles = [*spec.holders, "helper"]
    reports = [_report(folder / f"party-{i}.json") for i in range(3)]
    failed = [r for r in reports if r is not None and not r.get("ok")]
    # A data or model problem is reported alike by every party; a specific error
    # (UnknownColumn, TransportError, ...) says more than a crash report.
    failed.sort(key=lambda r: r["error"].get("kind") == "PerronError")
    if failed:
        return error_from_wire(failed[0]["error"])
    for i, code in enumerate(codes):
        if code not in (None, 0):
            tail = (folder / f"party-{i}.err").read_text(errors="replace").strip()[-800:]
            return TransportError(
                f"party {i} ({roles[i]}) stopped with exit status {code} without a "
                f"report; its last output:\n{tail or '(nothing)'}"
            )
    return TransportError("a party stopped without a report.")  # pragma: no cover


def _check_frames(holder_a: Table, holder_b: Table, spec: VerticalSpec) -> None:
    """The parties' own input checks, run here first when the caller has the frames.

    A path is left to its party (that is where the file is read). The parties check
    again; this only saves starting three processes for a mistake.
    """
    if not isinstance(holder_a, pd.DataFrame) or not isinstance(holder_b, pd.DataFrame):
        return
    checked = [check_holder(frame, spec, party) for party, frame in enumerate((holder_a, holder_b))]
    statuses = [{"ok": True, "rows": c.rows, "digest": c.key_digest} for c in checked]
    check_ready([*statuses, {"ok": True, "rows": 0, "digest": ""}], spec)


def fit_vertical(
    holder_a: Table,
    holder_b: Table,
    spec: VerticalSpec,
    *,
    timeout: float = 600.0,
    ports: Sequence[int] | None = None,
    connect_timeout: float = 30.0,
    python: str = sys.executable,
) -> VerticalResult:
    """Fit ``spec`` on two holders' tables with three MPC processes on loopback.

    Parameters
    ----------
    holder_a, holder_b : DataFrame or path
        Holder 0 (with the outcome) and holder 1, rows in the same (linked) order,
        or sortable by ``spec.key``. A path (CSV or Parquet) is read by that
        holder's process only.
    spec : VerticalSpec
        The model; every party gets the same copy.
    timeout : float
        Seconds for the whole run before every party is stopped.
    ports : three ints, optional
        Loopback ports of the parties (default: free ones).
    connect_timeout : float
        Seconds each party waits for the others to connect.
    python : str
        The interpreter that runs the parties.

    Returns
    -------
    VerticalResult
        Holder 0's result: coefficients, covariance, iterations, timings, and what
        each party reported it learned.

    Raises
    ------
    PerronError
        The error a party reported (e.g. ``UnknownColumn``, ``InputError`` for
        misaligned holders, ``ConvergenceFailed``); ``TransportError`` when a party
        crashed or could not listen; ``RoundTimeout`` after ``timeout``.
    """
    _check_frames(holder_a, holder_b, spec)
    chosen = list(ports) if ports is not None else free_ports(3)
    if len(chosen) != 3:
        raise PerronError("give three ports: holder 0, holder 1 and the helper.")
    addresses = ",".join(f"127.0.0.1:{port}" for port in chosen)
    with tempfile.TemporaryDirectory(prefix="perron-mpc-") as name:
        folder = Path(name)
        (folder / "spec.json").write_text(spec.to_json())
        data = [
            _table_path(holder_a, folder, "holder-0"),
            _table_path(holder_b, folder, "holder-1"),
        ]
        processes: list[subprocess.Popen[bytes]] = []
        try:
            for party in range(3):
                command = [
                    python,
                    "-m",
                    "perron.mpc.party",
                    "--party",
                    str(party),
                    "--parties",
                    addresses,
                    "--spec",
                    str(folder / "spec.json"),
                    "--output",
                    str(folder / f"party-{party}.json"),
                    "--connect-timeout",
                    str(connect_timeout),
                ]
                if party < 2:
                    command += ["--data", str(data[party])]
                with open(folder / f"party-{party}.err", "wb") as errors:
                    processes.append(
                        subprocess.Popen(
                            command,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=errors,
                        )
                    )
            _wait(processes, timeout, folder, spec)
        finally:
            _stop(processes)
        reports = [_report(folder / f"party-{i}.json") for i in range(3)]
    if any(r is None for r in reports):  # pragma: no cover - _wait checked the exit codes
        raise TransportError("a party finished without writing its report.")
    return VerticalResult.from_reports(spec, [r for r in reports if r is not None])


def _wait(
    processes: list[subprocess.Popen[bytes]], timeout: float, folder: Path, spec: VerticalSpec
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        codes = [p.poll() for p in processes]
        if all(code == 0 for code in codes):
            return
        if any(code not in (None, 0) for code in codes):
            grace = time.monotonic() + _GRACE
            while time.monotonic() < grace and any(p.poll() is None for p in processes):
                time.sleep(_POLL)
            _stop(processes)
            raise _failure(folder, [p.poll() for p in processes], spec)
        if time.monotonic() > deadline:
            _stop(processes)
            raise RoundTimeout(
                f"the MPC parties did not finish within {timeout:g} s; all three were "
                "stopped. Give a larger timeout for large cohorts."
            )
        time.sleep(_POLL)
