"""The hub under load: 100 stations and 10 researchers at once, at 1, 2 and 4 hub workers.

Each configuration gets a fresh PostgreSQL database (127.0.0.1:5432, dropped
afterwards) and a hub with that many worker processes. The 100 stations are real
stations (each verifies, runs, signs, seals and audits, with its own keys, token,
state folder and WebSocket to the hub), hosted ~25 to a "swarm" process, one thread
each, since 100 OS processes do not fit on a small machine. Ten researchers, each
its own hub user with its own keys and connection, run analyses over all stations
in parallel threads until ``--seconds`` have passed: researcher i a logistic GLM
(i % 3 == 0), a Cox model (1) or a crosstab (2). Every task is one round; each
result is checked against the same analysis in simulation (parameters to rtol
1e-10, tables exactly). The "3 stations alone" rows run sequential one-column
summary rounds of one researcher against 3 station processes, as round_latency.py.

Per row: rounds, rounds/s (rounds over the wall time), median and p95 round latency,
the hub's CPU (user + system seconds of the hub process and its workers during the
measured phase, also as % of one core), its peak memory (RSS of the hub process and
its workers, sampled every 0.2 s) and the errors. Goal: median round <= 10 ms at 3
stations; at 100 stations x 10 researchers no error and every result equal to its
simulation. Exits 1 when a result differs or an analysis failed.

Run: ``.venv/bin/python benchmarks/load.py`` (about 8 minutes on 2 cores); a quick
run: ``--stations 12 --researchers 3 --seconds 15 --workers 1 2 --small-rounds 50``.
The script also serves as the swarm process (``--swarm WORKDIR NAME...``, started by
itself).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import psutil
import psycopg
from psycopg import sql

from perron.client.connect import connect
from perron.client.session import Session
from perron.protocol.errors import TransportError
from perron.protocol.grid import Grid
from perron.protocol.messages import Partial, Task
from perron.sandbox.localnet import LocalNetwork
from perron.sandbox.simulation import simulate

POSTGRES_SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
KINDS = ("glm", "cox", "crosstab")
#: How close a network result's parameters must be to the simulation's.
RTOL = 1e-10
#: Errors after which a researcher stops (the rest would repeat the same failure).
MAX_ERRORS_PER_RESEARCHER = 3
#: A round this long waited for a periodic re-read rather than a wake-up (3 stations).
SLOW_SECONDS = 0.9
SUMMARY = Task("summary", {"columns": ["x1"]})

logger = logging.getLogger("perron.benchmarks.load")


# -- data and analyses ----------------------------------------------------------------


def frames(k: int, rows: int, seed: int = 11) -> dict[str, pd.DataFrame]:
    """Station name -> a synthetic cohort: a binary outcome, follow-up in whole months
    with an event indicator, two covariates and two categorical columns."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(k):
        x = rng.normal(size=(rows, 2)).round(4)
        y = rng.binomial(1, 1 / (1 + np.exp(-(x @ np.array([0.6, -0.4])))))
        event_time = rng.exponential(10 * np.exp(-(x @ np.array([0.5, 0.3]))))
        censored = rng.exponential(12, rows)
        out[f"st{i:03d}"] = pd.DataFrame(
            {
                "x1": x[:, 0],
                "x2": x[:, 1],
                "y": y,
                "time": np.ceil(np.minimum(event_time, censored)).astype(int),
                "event": (event_time <= censored).astype(int),
                "group": rng.choice(["a", "b", "c"], rows),
                "stage": rng.choice(["I", "II"], rows),
            }
        )
    return out


def analyse(session: Session, kind: str) -> pd.Series | pd.DataFrame:
    """Run one analysis; its parameters (GLM, Cox) or its combined table (crosstab)."""
    if kind == "glm":
        return session.glm("y ~ x1 + x2", family="binomial").params
    if kind == "cox":
        return session.coxph("time", "event", ["x1", "x2"]).params
    return session.crosstab("group", "stage").table


def difference(kind: str, got: pd.Series | pd.DataFrame, expected: pd.Series | pd.DataFrame) -> str:
    """What differs between a network result and its simulation ("" if nothing)."""
    if isinstance(got, pd.DataFrame) or isinstance(expected, pd.DataFrame):
        if isinstance(got, pd.DataFrame) and got.equals(expected):
            return ""
        return f"{kind}: table\n{got}\ndiffers from the simulation's\n{expected}"
    if list(got.index) != list(expected.index) or not np.allclose(
        got.to_numpy(float), expected.to_numpy(float), rtol=RTOL, atol=0.0
    ):
        return f"{kind}: params {got.to_dict()} differ from the simulation's {expected.to_dict()}"
    return ""


class TimedGrid:
    """A grid that records how long each of its rounds took (seconds)."""

    def __init__(self, inner: Grid) -> None:
        self.inner = inner
        self.latencies: list[float] = []

    @property
    def stations(self) -> Sequence[str]:
        return self.inner.stations

    def run_round(self, task: Task) -> Mapping[str, Partial]:
        start = time.perf_counter()
        partials = self.inner.run_round(task)
        self.latencies.append(time.perf_counter() - start)
        return partials

    def close(self) -> None:
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()


# -- PostgreSQL, the hub's processes --------------------------------------------------


def create_database() -> str:
    """A new, empty, uniquely named PostgreSQL database; its name."""
    name = f"perron_load_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(name: str) -> None:
    """End every connection to database ``name`` and drop it."""
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def cpu_seconds(processes: Sequence[psutil.Process]) -> dict[int, float]:
    """User + system CPU seconds of each process (by pid) so far."""
    seconds = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
    return seconds


def spent(start: Mapping[int, float], end: Mapping[int, float]) -> float:
    """CPU seconds between two readings (a process started meanwhile from zero)."""
    return sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items())


def postgres_backends(database: str) -> list[psutil.Process]:
    """The PostgreSQL server processes serving ``database`` now."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if process.info["name"] == "postgres" and f" {database} " in cmdline:
            found.append(process)
    return found


class HubMeter:
    """CPU seconds and peak RSS of the hub process and its workers while in use.

    With several workers the hub process is uvicorn's supervisor and its children are
    the workers (and a multiprocessing resource tracker, left out).
    """

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.cpu_seconds = 0.0
        self._start: dict[int, float] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="hub-meter", daemon=True)

    def processes(self) -> list[psutil.Process]:
        found = [self.root]
        for child in self.root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    found.append(child)
        return found

    def _sample(self) -> None:
        while True:
            rss = 0
            for process in self.processes():
                with contextlib.suppress(psutil.Error):
                    rss += process.memory_info().rss
            self.peak_rss = max(self.peak_rss, rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> HubMeter:
        self._start = cpu_seconds(self.processes())
        self._sampler.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        end = cpu_seconds(self.processes())
        self._stop.set()
        self._sampler.join()
        self.cpu_seconds = spent(self._start, end)  # a restarted worker from zero


def log_problems(paths: Sequence[Path], limit: int = 40) -> str:
    """The warnings, errors and tracebacks in log files (at most ``limit`` lines each)."""
    out: list[str] = []
    for path in paths:
        if not path.exists():
            continue
        picked: list[str] = []
        following = 0
        for line in path.read_text(errors="replace").splitlines():
            if any(word in line for word in ("Traceback", "ERROR", "WARNING", "Exception")):
                following = 12
            if following > 0 and "hub unreachable" not in line:
                picked.append(line)
            following = max(following - 1, 0)
            if len(picked) >= limit:
                break
        if picked:
            out.append(f"--- {path.name}\n" + "\n".join(picked))
    return "\n".join(out)


# -- the swarm: many stations in one process ------------------------------------------


def swarm(workdir: Path, names: Sequence[str]) -> None:
    """Serve the stations ``names`` of ``workdir/stations``, one thread each, until
    SIGTERM or SIGINT."""
    from perron.station.config import StationConfig
    from perron.station.runner import StationRunner

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s %(message)s"
    )
    stop = threading.Event()

    def shut_down(*_: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, shut_down)
    runners = []
    for name in names:
        if stop.is_set():
            break
        runners.append(
            StationRunner(StationConfig.load(workdir / "stations" / name / "station.toml"))
        )

    def serve(runner: StationRunner) -> None:
        try:
            runner.serve_forever(stop)
        except Exception:
            logger.exception("station %s stopped", runner.config.name)
        finally:
            runner.close()

    threads = [
        threading.Thread(target=serve, args=(runner,), name=runner.config.name, daemon=True)
        for runner in runners
    ]
    for thread in threads:
        thread.start()
    logger.info("swarm serving %d stations", len(threads))
    while not stop.wait(0.5):
        pass
    # Closing a station's WebSocket ends the wait it is blocked in; one that opened a
    # new connection meanwhile (it was answering a run) is closed in the second pass.
    for _ in range(2):
        for runner in runners:
            with contextlib.suppress(Exception):
                runner.link.close()
        for thread in threads:
            thread.join(timeout=3.0)
    logger.info("swarm stopped")


def start_swarms(net: LocalNetwork, count: int) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` swarm processes sharing the network's stations."""
    names = list(net.datasets)
    groups = [names[i::count] for i in range(count) if names[i::count]]
    processes = []
    for i, group in enumerate(groups):
        with (net.workdir / f"swarm-{i}.log").open("ab") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--swarm", str(net.workdir), *group],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return processes


def stop_swarms(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for_swarms(net: LocalNetwork, processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Wait until every station published its keys (several times the network's own
    patience: a hundred stations start on a busy machine)."""
    for attempt in range(4):
        try:
            net.wait_for_stations()
            return
        except TransportError:
            dead = [i for i, p in enumerate(processes) if p.poll() is not None]
            if dead or attempt == 3:
                raise TransportError(
                    f"stations did not register (swarms exited: {dead}); see "
                    f"{net.workdir}/swarm-*.log"
                ) from None


# -- the rows ------------------------------------------------------------------------


@dataclass
class Row:
    stations: int
    studies: int
    workers: int
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu_seconds: float = 0.0
    rss_mb: float = 0.0
    analyses: int = 0
    errors: list[str] = field(default_factory=list)
    #: CPU seconds of the other processes in the measured phase (stations, ...).
    other_cpu: dict[str, float] = field(default_factory=dict)
    #: Warnings, errors and tracebacks from the hub's (and swarms') logs.
    log: str = ""

    @property
    def label(self) -> str:
        return f"{self.stations} stations x {self.studies} researchers, {self.workers} workers"

    @property
    def slow(self) -> int:
        """Rounds that took the hub's periodic re-read (poll_seconds, 1 s) or longer: a
        wake-up that did not arrive, at least when only a few stations answer."""
        return sum(latency >= SLOW_SECONDS for latency in self.latencies)

    def line(self) -> str:
        rounds = len(self.latencies)
        median = 1000 * statistics.median(self.latencies) if rounds else float("nan")
        p95 = 1000 * float(np.percentile(self.latencies, 95)) if rounds else float("nan")
        rate = rounds / self.wall if self.wall else float("nan")
        share = 100 * self.cpu_seconds / self.wall if self.wall else float("nan")
        return (
            f"{self.stations:>8} {self.studies:>7} {self.workers:>7} {rounds:>7} {rate:>9.1f} "
            f"{median:>9.2f} {p95:>8.2f} {self.cpu_seconds:>9.1f} {share:>9.0f} "
            f"{self.rss_mb:>10.0f} {len(self.errors):>6}"
        )


HEADER = (
    f"{'stations':>8} {'studies':>7} {'workers':>7} {'rounds':>7} {'rounds/s':>9} "
    f"{'median ms':>9} {'p95 ms':>8} {'hub CPU s':>9} {'hub CPU %':>9} "
    f"{'hub RSS MB':>10} {'errors':>6}"
)


@dataclass
class Researcher:
    session: Session
    grid: TimedGrid
    kind: str
    analyses: int = 0
    errors: list[str] = field(default_factory=list)


def researcher_loop(
    researcher: Researcher,
    reference: pd.Series | pd.DataFrame,
    deadline: float,
    limit: int | None,
) -> None:
    """Run analyses of the researcher's kind until the deadline (or ``limit`` of them)."""
    while time.monotonic() < deadline and (limit is None or researcher.analyses < limit):
        try:
            problem = difference(
                researcher.kind, analyse(researcher.session, researcher.kind), reference
            )
        except Exception as error:
            problem = f"{researcher.kind}: {type(error).__name__}: {error}"
        researcher.analyses += 1
        if problem:
            researcher.errors.append(problem)
            if len(researcher.errors) >= MAX_ERRORS_PER_RESEARCHER:
                return


def add_researchers(net: LocalNetwork, count: int) -> list[str]:
    """Hub users researcher-0, researcher-1, ... in the network's study."""
    names = [f"researcher-{i}" for i in range(count)]
    for name in names:
        net.add_researcher(name)
    return names


@contextlib.contextmanager
def postgres_network(
    data: Mapping[str, pd.DataFrame], workers: int, keep: bool
) -> Iterator[tuple[LocalNetwork, str, Path]]:
    """A network (not started) on a new PostgreSQL database; the database's name and the
    working folder. Closed, dropped and removed (unless ``keep``) afterwards."""
    database = create_database()
    workdir = Path(tempfile.mkdtemp(prefix="perron-load-"))
    net = LocalNetwork(
        data,
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        hub_workers=workers,
        workdir=workdir,
    )
    try:
        yield net, database, workdir
    finally:
        net.close()
        drop_database(database)
        if keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def load_row(
    args: argparse.Namespace,
    workers: int,
    data: Mapping[str, pd.DataFrame],
    references: Mapping[str, pd.Series | pd.DataFrame],
) -> Row:
    """Many stations in swarm processes, researchers in threads, for ``args.seconds``."""
    row = Row(len(data), args.researchers, workers)
    with postgres_network(data, workers, args.keep) as (net, database, workdir):
        _measure_load(args, row, net, database, workdir, references)
    return row


def _measure_load(
    args: argparse.Namespace,
    row: Row,
    net: LocalNetwork,
    database: str,
    workdir: Path,
    references: Mapping[str, pd.Series | pd.DataFrame],
) -> None:
    swarms: list[subprocess.Popen[bytes]] = []
    researchers: list[Researcher] = []
    try:
        net.setup()
        users = add_researchers(net, args.researchers)
        net.start_hub()
        assert net.hub is not None
        swarms = start_swarms(net, args.swarms)
        wait_for_swarms(net, swarms)
        for i, user in enumerate(users):
            session = connect(
                net.url, study=net.study, username=user, password=net.password, progress=False
            )
            grid = TimedGrid(session.grid)
            researchers.append(Researcher(Session(grid), grid, KINDS[i % len(KINDS)]))
            session.grid.run_round(SUMMARY)  # warm-up, not measured
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=researcher_loop,
                args=(r, references[r.kind], deadline, args.analyses),
                name=f"researcher-{i}",
            )
            for i, r in enumerate(researchers)
        ]
        others: dict[str, Callable[[], list[psutil.Process]]] = {
            "stations": lambda: [psutil.Process(p.pid) for p in swarms],
            "researchers": lambda: [psutil.Process()],
            "postgres": lambda: postgres_backends(database),
        }
        before = {name: cpu_seconds(find()) for name, find in others.items()}
        with HubMeter(net.hub.pid) as meter:
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            row.wall = time.perf_counter() - start
        row.other_cpu = {
            name: spent(before[name], cpu_seconds(find())) for name, find in others.items()
        }
        row.cpu_seconds = meter.cpu_seconds
        row.rss_mb = meter.peak_rss / 2**20
        for r in researchers:
            row.latencies += r.grid.latencies
            row.analyses += r.analyses
            row.errors += r.errors
        exited = [i for i, p in enumerate(swarms) if p.poll() is not None]
        if exited:
            row.errors.append(f"swarm processes {exited} exited during the run")
    except Exception as error:
        row.errors.append(f"setup: {type(error).__name__}: {error}")
    finally:
        for r in researchers:
            r.session.close()
        stop_swarms(swarms)
        row.log = log_problems([workdir / "hub.log", *sorted(workdir.glob("swarm-*.log"))])


def small_row(args: argparse.Namespace, workers: int) -> Row:
    """3 station processes, one researcher, sequential one-column summary rounds."""
    row = Row(3, 1, workers)
    with postgres_network(frames(3, args.rows), workers, args.keep) as (net, _database, workdir):
        _measure_small(args, row, net, workdir)
    return row


def _measure_small(args: argparse.Namespace, row: Row, net: LocalNetwork, workdir: Path) -> None:
    try:
        net.start()
        assert net.hub is not None
        session = net.connect()
        for _ in range(10):  # warm-up
            session.grid.run_round(SUMMARY)
        with HubMeter(net.hub.pid) as meter:
            start = time.perf_counter()
            for _ in range(args.small_rounds):
                begin = time.perf_counter()
                session.grid.run_round(SUMMARY)
                row.latencies.append(time.perf_counter() - begin)
            row.wall = time.perf_counter() - start
        row.cpu_seconds = meter.cpu_seconds
        row.rss_mb = meter.peak_rss / 2**20
    except Exception as error:
        row.errors.append(f"3 stations: {type(error).__name__}: {error}")
    finally:
        row.log = log_problems([workdir / "hub.log"])


def timed(label: str, run: Callable[[], Row]) -> Row:
    start = time.perf_counter()
    row = run()
    print(f"  ({label}: {time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--researchers", type=int, default=10)
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="how long researchers start analyses"
    )
    parser.add_argument(
        "--analyses", type=int, default=None, help="stop each researcher after this many"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--small-rounds", type=int, default=200, help="rounds at 3 stations")
    parser.add_argument("--rows", type=int, default=300, help="rows per station")
    parser.add_argument("--swarms", type=int, default=4, help="processes hosting the stations")
    parser.add_argument("--keep", action="store_true", help="keep the working folders")
    parser.add_argument("--swarm", nargs="+", metavar=("WORKDIR", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.swarm:
        swarm(Path(args.swarm[0]), args.swarm[1:])
        return

    started = time.perf_counter()
    data = frames(args.stations, args.rows)
    simulated = simulate(data)
    references = {kind: analyse(simulated, kind) for kind in KINDS}
    print(HEADER, flush=True)
    rows: list[Row] = []
    for workers in args.workers:
        label = f"{args.stations} stations, {workers} workers"
        row = timed(label, partial(load_row, args, workers, data, references))
        rows.append(row)
        print(row.line(), f"  ({row.analyses} analyses, {row.slow} rounds >= 0.9 s)", flush=True)
    for workers in args.workers:
        row = timed(f"3 stations, {workers} workers", partial(small_row, args, workers))
        rows.append(row)
        print(row.line(), flush=True)
    for row in rows:
        if row.stations == 3 and row.latencies:
            median = 1000 * statistics.median(row.latencies)
            verdict = "met" if median <= 10.0 else "not met"
            print(
                f"goal: median at 3 stations <= 10 ms with {row.workers} workers: "
                f"{verdict} ({median:.2f} ms)"
            )
    print(f"wall time {time.perf_counter() - started:.0f} s")
    for row in rows:
        if row.other_cpu:
            shares = ", ".join(
                f"{name} {seconds:.0f} s ({100 * seconds / row.wall:.0f} %)"
                for name, seconds in row.other_cpu.items()
            )
            print(f"note: {row.label}: CPU besides the hub: {shares}")
        if row.slow:
            print(f"note: {row.label}: {row.slow} of {len(row.latencies)} rounds took >= 0.9 s")
        if row.log:
            print(f"log excerpt, {row.label}:\n{row.log}")
    failed = [f"{row.label}: {error}" for row in rows for error in row.errors]
    for error in failed:
        print(f"ERROR: {error}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
