"""PSI-cardinality: Perron's ECDH-PSI on ristretto255 vs openmined-psi, N x N elements.

Both protocols run on the same two sets of random 32-hex-digit pseudonyms (N per
side, half of them shared), each party in its own process: a
``ProcessPoolExecutor`` with 2 workers, one per party, the parent relaying the
messages as the hub would and counting their bytes. Processes, not threads: the
work of the two parties is independent within a round (each hashes and blinds its
own set, then blinds the other's), so two processes do it side by side.

- Perron: :class:`perron.linkage.psi.PsiParty`, cardinality mode; messages in their
  compact binary form (``to_bytes``), or sealed station to station with ``--seal``.
  Each party hashes, multiplies and validates on ``--workers`` threads (default: the
  library default, the usable CPUs, at most 8); several values give one row each, so
  ``--workers 1 2`` shows the sequential path next to the threaded one. With two
  party processes on two CPUs the threads add no CPU; they fill the time one party
  would otherwise leave a CPU idle (the collector's final check and count).
- openmined-psi 2.0.6 (P-256, C++): server = party B (setup message, GCS,
  fpr 1e-9), client = party A (request); the server's setup and the client's
  request are made in parallel, then the server answers and the client counts.

The clock runs from "go" (sets generated, parties created) until both parties have
their result. Target (issue "Vertical partitioning", item 2): 1M x 1M <= 120 s and
faster than openmined-psi.

Run: ``.venv/bin/python benchmarks/psi.py`` (1e4 and 1e5), ``--full`` adds 1e6;
``--sizes 100000 --workers 1 2`` for the sequential/threaded comparison. The load
average is printed at start and end: on a shared machine, wall times say more about
the other jobs than about PSI; the CPU column does not depend on them as much.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

from perron.crypto.keys import KeyPair
from perron.linkage.psi import PsiParty
from perron.linkage.psi_group import default_workers
from perron.linkage.psi_messages import message_from_bytes, open_message, seal_message

PARTIES = ("a", "b")
GO = "go"


def pseudonyms(start: int, stop: int) -> list[str]:
    """Random-looking pseudonyms (like keyed BSN pseudonyms), fixed by their index."""
    return [
        hashlib.blake2b(i.to_bytes(8, "big"), digest_size=16).hexdigest()
        for i in range(start, stop)
    ]


def ranges(n: int) -> dict[str, tuple[int, int]]:
    """Party a holds [0, n), party b [n/2, 3n/2): n/2 shared."""
    return {"a": (0, n), "b": (n // 2, n + n // 2)}


# -- worker processes ------------------------------------------------------------------

# Set once per worker by the pool initializer (inherited through fork, not pickled).
_QUEUES: dict[str, Queue[Any]] = {}
_KEYS: dict[str, KeyPair] = {}


def _init(queues: dict[str, Queue[Any]], keys: dict[str, KeyPair]) -> None:
    _QUEUES.update(queues)
    _KEYS.update(keys)


def _send(sender: str, recipient: str, data: bytes | str) -> None:
    _QUEUES["relay"].put((sender, recipient, data))


def _perron_party(name: str, n: int, session: str, seal: bool, workers: int) -> dict[str, Any]:
    elements = pseudonyms(*ranges(n)[name])
    party = PsiParty(name, elements, parties=PARTIES, session=session, workers=workers)
    other = "b" if name == "a" else "a"
    inbox = _QUEUES[name]
    _send(name, "relay", "ready")
    assert inbox.get() == GO
    cpu = time.process_time()

    def post(messages: list[Any]) -> None:
        for message in messages:
            if seal:
                data: bytes | str = seal_message(
                    message, _KEYS[message.recipient].public(), _KEYS[name]
                )
            else:
                data = message.to_bytes()
            _send(name, message.recipient, data)

    post(party.start())
    while not party.done:
        data = inbox.get()
        if isinstance(data, str):
            message = open_message(data, _KEYS[name], _KEYS[other].public(), other)
        else:
            message = message_from_bytes(data)
        post(party.receive(message))
    _send(name, "relay", "done")
    return {"overlap": party.outcome().overlap, "cpu": time.process_time() - cpu}


def _openmined_party(name: str, n: int) -> dict[str, Any]:
    import private_set_intersection.python as om  # type: ignore[import-untyped]

    elements = pseudonyms(*ranges(n)[name])
    inbox = _QUEUES[name]
    _send(name, "relay", "ready")
    assert inbox.get() == GO
    cpu = time.process_time()
    overlap = -1
    if name == "b":  # server
        server = om.server.CreateWithNewKey(False)
        setup = server.CreateSetupMessage(1e-9, n, elements, om.DataStructure.GCS)
        _send(name, "a", setup.SerializeToString())
        request = om.Request()
        request.ParseFromString(inbox.get())
        _send(name, "a", server.ProcessRequest(request).SerializeToString())
    else:  # client
        client = om.client.CreateWithNewKey(False)
        _send(name, "b", client.CreateRequest(elements).SerializeToString())
        setup, response = om.ServerSetup(), om.Response()
        setup.ParseFromString(inbox.get())
        response.ParseFromString(inbox.get())
        overlap = client.GetIntersectionSize(setup, response)
    _send(name, "relay", "done")
    return {"overlap": overlap, "cpu": time.process_time() - cpu}


# -- the relay (parent process) ------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    overlap: int
    seconds: float
    nbytes: int
    cpu: float


def relay(
    pool: ProcessPoolExecutor,
    queues: dict[str, Queue[Any]],
    work: Callable[..., dict[str, Any]],
    *args: Any,
) -> Run:
    futures = [pool.submit(work, name, *args) for name in PARTIES]
    ready = done = nbytes = 0
    while ready < len(PARTIES):
        ready += queues["relay"].get()[2] == "ready"
    for name in PARTIES:
        queues[name].put(GO)
    start = time.perf_counter()
    while done < len(PARTIES):
        _, recipient, data = queues["relay"].get()
        if recipient == "relay":
            done += data == "done"
            continue
        nbytes += len(data)
        queues[recipient].put(data)
    seconds = time.perf_counter() - start
    results = [f.result() for f in futures]
    overlap = max(r["overlap"] for r in results)
    return Run(overlap, seconds, nbytes, sum(r["cpu"] for r in results))


def _row(n: int, workers: int, ours: Run, theirs: Run | None, load: str) -> str:
    line = (
        f"{n:>10} {workers:>7} {ours.overlap:>8} {ours.seconds:>9.1f} "
        f"{ours.cpu:>7.1f} {ours.nbytes / 1e6:>7.1f}"
    )
    if theirs is not None:
        line += (
            f" {theirs.seconds:>12.1f} {theirs.cpu:>7.1f} {theirs.nbytes / 1e6:>7.1f}"
            f" {ours.seconds / theirs.seconds:>10.2f} {ours.cpu / theirs.cpu:>9.2f}"
        )
    return f"{line} {load:>6}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--full", action="store_true", help="add 1,000,000 per side")
    parser.add_argument("--seal", action="store_true", help="seal Perron's messages")
    parser.add_argument("--no-openmined", action="store_true", help="skip openmined-psi")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[default_workers()],
        help="threads per Perron party; several values give one row each "
        f"(default: {default_workers()}, the usable CPUs, at most 8)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run everything this many times, alternating, and end with the fastest "
        "run of each (the one least disturbed by other jobs)",
    )
    args = parser.parse_args()
    sizes = [*args.sizes, 1_000_000] if args.full else args.sizes
    context = mp.get_context("fork")
    queues: dict[str, Queue[Any]] = {name: context.Queue() for name in (*PARTIES, "relay")}
    keys = {name: KeyPair.generate() for name in PARTIES}
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    header = (
        f"{'N per side':>10} {'workers':>7} {'overlap':>8} {'perron s':>9} {'CPU s':>7} "
        f"{'MB':>7} {'openmined s':>12} {'CPU s':>7} {'MB':>7} {'time ratio':>10} "
        f"{'CPU ratio':>9} {'load':>6}"
    )
    print(header)
    best: dict[tuple[int, int], Run] = {}
    best_theirs: dict[int, Run] = {}
    with ProcessPoolExecutor(
        2, mp_context=context, initializer=_init, initargs=(queues, keys)
    ) as pool:
        for _ in range(args.repeat):
            for n in sizes:
                # openmined-psi first, so that every Perron row can show it alongside.
                theirs = None
                if not args.no_openmined:
                    theirs = relay(pool, queues, _openmined_party, n)
                    if n not in best_theirs or theirs.seconds < best_theirs[n].seconds:
                        best_theirs[n] = theirs
                for workers in args.workers:
                    ours = relay(pool, queues, _perron_party, n, f"bench/{n}", args.seal, workers)
                    if theirs is not None:
                        assert theirs.overlap == ours.overlap == n // 2, (theirs, ours)
                    key = (n, workers)
                    if key not in best or ours.seconds < best[key].seconds:
                        best[key] = ours
                    load = f"{os.getloadavg()[0]:.1f}"
                    print(_row(n, workers, ours, theirs, load), flush=True)
    if args.repeat > 1:
        print(f"fastest of {args.repeat} runs:")
        for (n, workers), ours in best.items():
            print(_row(n, workers, ours, best_theirs.get(n), "-"))
    print(
        f"load average {os.getloadavg()[0]:.2f} at end; workers = threads per Perron party; "
        "CPU s = both parties' process time; ratios = perron / openmined; load = 1-minute "
        "load average after the Perron run (2 = both CPUs busy)"
    )


if __name__ == "__main__":
    main()
