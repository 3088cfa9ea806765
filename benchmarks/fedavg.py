"""FedAvg logistic regression through Perron's hub vs Flower's deployment runtime.

The same rounds on both: 5 stations of 20,000 rows each (``x`` 10 standard normal
columns, ``y`` a logistic outcome; ``benchmarks/flower_app/fedavg_flower/task.py``
generates them from a seed), weights from zero, each round every station takes one
full-batch gradient step (learning rate 0.1) on its mean log-loss and the server
averages the results weighted by the row counts; 20 rounds.

- Perron: ``Session.train("logistic", ..., strategy="fedavg", standardize=False)``
  through a :class:`~perron.sandbox.localnet.LocalNetwork` (hub + 5 station processes on
  127.0.0.1). Per round: ``model.history[r].seconds`` (task sent to answers combined).
- Flower (``flwr``, deployment runtime, ``--insecure`` on 127.0.0.1): one
  ``flower-superlink`` and five ``flower-supernode`` processes from ``.venv-flower``,
  and ``flwr run`` of the app in ``benchmarks/flower_app``. Per round: the gaps
  between the ServerApp strategy's ``evaluate_fn`` calls (one before round 1, one
  after each round), which the ServerApp writes to a file with its final weights.

Both totals exclude process start-up: Perron's is the sum of the training rounds
(the whole ``train`` call, with its prepare and final evaluation rounds, is shown
too); Flower's runs from before round 1 to after round R in the ServerApp (the
whole ``flwr run`` to result, with app install and ServerApp start, is shown too).
The final weights of both are checked against the same rounds done in one process.
Target (issue 10): Perron at least 100x faster per round.

Run: ``make bench-fedavg`` (creates ``.venv-flower`` from
``benchmarks/flower-constraints.txt``), or ``.venv/bin/python benchmarks/fedavg.py``
once ``.venv-flower`` exists. ``--skip-flower`` runs the Perron side alone.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from perron.sandbox.localnet import LocalNetwork, free_port

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "benchmarks" / "flower_app"
# The app's numpy half (data and maths) is shared, so both sides train on the same rows.
sys.path.insert(0, str(APP))
from fedavg_flower.task import Vector, federated_fit, station_data  # noqa: E402

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Workload:
    stations: int
    rows: int
    features: int
    rounds: int
    epochs: int
    learning_rate: float
    seed: int

    @property
    def columns(self) -> list[str]:
        return [f"x{j + 1}" for j in range(self.features)]


@dataclass(frozen=True)
class Timing:
    rounds: list[float]  # seconds per training round
    whole: float  # seconds for the whole run, as a user waits for it
    weights: Vector  # intercept, then one coefficient per column

    @property
    def total(self) -> float:
        return sum(self.rounds)


def frames(work: Workload) -> dict[str, pd.DataFrame]:
    out = {}
    for k in range(work.stations):
        x, y = station_data(k, work.rows, work.features, work.seed)
        frame = pd.DataFrame(x, columns=work.columns)
        frame["y"] = y.astype(int)
        out[f"s{k + 1}"] = frame
    return out


def run_perron(work: Workload) -> Timing:
    with LocalNetwork(frames(work)) as network:
        session = network.connect()
        start = time.perf_counter()
        model = session.train(
            "logistic",
            "y",
            work.columns,
            strategy="fedavg",
            rounds=work.rounds,
            local_epochs=work.epochs,
            learning_rate=work.learning_rate,
            batch_size=None,
            penalty="none",
            validation=0.0,
            patience=None,
            seed=work.seed,
            # Flower's side trains on the raw columns; Perron standardises by default.
            standardize=False,
        )
        whole = time.perf_counter() - start
    coefficients = model.coefficients
    weights = coefficients[["Intercept", *work.columns]].to_numpy(dtype=np.float64)
    return Timing([m.seconds for m in model.history], whole, weights)


class FlowerDeployment:
    """A SuperLink and one SuperNode per station, as processes on 127.0.0.1."""

    def __init__(self, venv: Path, stations: int, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **os.environ,
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "FLWR_HOME": str(home),  # apps, state and config.toml stay in our folder
            "FLWR_TELEMETRY_ENABLED": "0",
        }
        (home / "config.toml").write_text(
            '[superlink]\ndefault = "bench"\n\n'
            f'[superlink.bench]\naddress = "127.0.0.1:{self.port}"\ninsecure = true\n'
        )
        self.stations = stations
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, args: list[str]) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                args,
                env=self.env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its SuperExec and app processes die with it
            )
        )

    def start(self, timeout: float = 120.0) -> None:
        link = self.home / "superlink.log"
        self._start(
            "superlink",
            [
                "flower-superlink",
                "--insecure",
                "--disable-runtime-dependency-installation",
                "--port",
                str(self.port),
            ],
        )
        for k in range(self.stations):
            self._start(
                f"supernode{k}",
                [
                    "flower-supernode",
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{self.port}",
                    "--port",
                    str(free_port()),
                    "--node-config",
                    f"partition-id={k} num-partitions={self.stations}",
                ],
            )
        deadline = time.monotonic() + timeout
        while link.read_text(errors="replace").count("Activated node_id") < self.stations:
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"SuperNodes not all connected after {timeout} s; see {link}")
            time.sleep(0.2)

    def _check_alive(self) -> None:
        for proc in self.processes:
            if proc.poll() is not None:
                raise RuntimeError(f"a Flower process exited ({proc.args!r}); logs in {self.home}")

    def run(self, work: Workload, timeout: float) -> Timing:
        result = self.home / "result.json"
        config = (
            f"num-server-rounds={work.rounds} local-epochs={work.epochs} "
            f"learning-rate={work.learning_rate} rows={work.rows} features={work.features} "
            f'seed={work.seed} num-stations={work.stations} result-file="{result}"'
        )
        start = time.perf_counter()
        submit = subprocess.run(
            ["flwr", "run", str(APP), "bench", "--run-config", config],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            check=False,
        )
        if submit.returncode != 0:
            raise RuntimeError(f"flwr run failed:\n{submit.stdout}{submit.stderr}")
        deadline = time.monotonic() + timeout
        while not result.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Flower result after {timeout} s; logs in {self.home}")
            time.sleep(0.05)
        whole = time.perf_counter() - start
        found = json.loads(result.read_text())
        return Timing(found["round_seconds"], whole, np.array(found["weights"]))

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # SuperNodes exit on SIGTERM without their SuperExec and app children.
        for proc in self.processes:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def flower(venv: Path, stations: int) -> Iterator[FlowerDeployment]:
    with tempfile.TemporaryDirectory(prefix="perron-flower-") as home:
        deployment = FlowerDeployment(venv, stations, Path(home))
        try:
            deployment.start()
            yield deployment
        finally:
            deployment.stop()


def describe(name: str, timing: Timing) -> str:
    r = timing.rounds
    return (
        f"{name:<8} {1000 * statistics.median(r):>12.1f} {1000 * min(r):>9.1f} "
        f"{1000 * max(r):>9.1f} {timing.total:>10.3f} {timing.whole:>10.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=5)
    parser.add_argument("--rows", type=int, default=20_000, help="rows per station")
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1, help="local epochs per round")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flower-venv", type=Path, default=ROOT / ".venv-flower")
    parser.add_argument("--flower-timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument("--skip-flower", action="store_true")
    args = parser.parse_args()
    work = Workload(
        args.stations,
        args.rows,
        args.features,
        args.rounds,
        args.epochs,
        args.learning_rate,
        args.seed,
    )
    print(
        f"FedAvg logistic regression: {work.stations} stations x {work.rows} rows, "
        f"{work.features} features, {work.rounds} rounds of {work.epochs} full-batch "
        f"epoch(s), learning rate {work.learning_rate}"
    )
    reference = federated_fit(
        work.stations,
        work.rows,
        work.features,
        work.seed,
        work.rounds,
        work.epochs,
        work.learning_rate,
    )
    perron = run_perron(work)
    timings = {"Perron": perron}
    if not args.skip_flower:
        with flower(args.flower_venv, work.stations) as deployment:
            timings["Flower"] = deployment.run(work, args.flower_timeout)
    print(
        f"{'':<8} {'median ms/rd':>12} {'min ms':>9} {'max ms':>9} {'rounds s':>10} {'whole s':>10}"
    )
    for name, timing in timings.items():
        print(describe(name, timing))
    print("rounds s: the training rounds only; whole s: the call / flwr run to its result")
    for name, timing in timings.items():
        gap = float(np.max(np.abs(timing.weights - reference)))
        print(f"{name} final weights vs the same rounds in one process: max |diff| {gap:.1e}")
        assert gap < TOLERANCE, f"{name}'s weights differ from the reference by {gap}"
    if "Flower" in timings:
        fl = timings["Flower"]
        per_round = statistics.median(fl.rounds) / statistics.median(perron.rounds)
        print(
            f"Perron vs Flower: {per_round:.0f}x faster per round (median), "
            f"{fl.total / perron.total:.0f}x over the {work.rounds} rounds, "
            f"{fl.whole / perron.whole:.0f}x whole run (target: 100x per round)"
        )


if __name__ == "__main__":
    main()
