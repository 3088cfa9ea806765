"""One party of a vertical MPC regression, run as its own process.

::

    python -m perron.mpc.party --party 0 \\
        --parties 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 \\
        --spec spec.json --data hospital.parquet --output party-0.json

Party 0 is the holder with the outcome, party 1 the other holder, party 2 the
helper (it gets no ``--data``). Each party writes one JSON file: its result (the
holders' has the coefficients) or the error that stopped it, and what it learned in
the clear. The exit status is 0 on success, 1 on a Perron error, 2 on a crash.

MPyC reads its options from ``sys.argv`` when it is imported; this module imports
it only inside :func:`run_party`, after putting the party's options there (the rest
of :mod:`perron.mpc` never imports it), so that importing Perron never starts an
MPyC runtime. MPyC's listening socket
binds all interfaces (its API has no host for it): run the parties behind a
firewall, or with MPyC's ``--ssl``, outside loopback tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from perron.mpc.fixed import Context
from perron.mpc.local import HolderDesign, holder_design, read_frame
from perron.mpc.regression import Sizes, fit, learned_by
from perron.mpc.spec import HELPER, VerticalSpec
from perron.protocol.errors import (
    InputError,
    PerronError,
    TransportError,
    error_from_wire,
    error_to_wire,
)

__all__ = ["check_ready", "main", "run_party"]

PARTIES = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perron.mpc.party", description=__doc__)
    parser.add_argument("--party", type=int, required=True, choices=range(PARTIES))
    parser.add_argument("--parties", required=True, help="host:port of parties 0,1,2")
    parser.add_argument("--spec", type=Path, required=True, help="the model spec (JSON)")
    parser.add_argument("--data", type=Path, help="this holder's table (CSV or Parquet)")
    parser.add_argument("--output", type=Path, required=True, help="where to write JSON")
    parser.add_argument("--connect-timeout", type=float, default=30.0)
    return parser


def _addresses(text: str) -> list[str]:
    addresses = [a.strip() for a in text.split(",") if a.strip()]
    if len(addresses) != PARTIES or any(":" not in a for a in addresses):
        raise InputError(
            f"--parties {text!r}: give {PARTIES} addresses host:port separated by commas."
        )
    return addresses


def _prepare(party: int, spec: VerticalSpec, data: Path | None) -> HolderDesign | None:
    if party == HELPER:
        if data is not None:
            raise InputError("the helper party holds no data; start it without --data.")
        return None
    if data is None:
        raise InputError(f"holder {spec.holders[party]!r} (party {party}) needs --data.")
    return holder_design(read_frame(data), spec, party)


def check_ready(statuses: list[dict[str, Any]], spec: VerticalSpec) -> Sizes:
    """The public sizes, once every party is ready and the holders' cohorts agree.

    ``statuses`` are the three parties' readiness messages: ``ok`` (and ``error``
    when not), ``rows`` and ``digest`` (the helper: 0 and "").
    """
    for status in statuses:
        if not status["ok"]:
            raise error_from_wire(status["error"])
    rows = [int(statuses[p]["rows"]) for p in (0, 1)]
    if rows[0] != rows[1]:
        raise InputError(
            f"the holders have different row counts ({spec.holders[0]!r}: {rows[0]}, "
            f"{spec.holders[1]!r}: {rows[1]}); both must hold the same linked cohort in the "
            "same order (sort by the study pseudonym, or name it as the spec's key)."
        )
    if statuses[0]["digest"] != statuses[1]["digest"]:
        raise InputError(
            f"the holders' pseudonyms in {spec.key!r} differ: they do not hold the same "
            "linked cohort. Run the linkage step again and give each holder its linked rows."
        )
    widths = spec.widths
    return Sizes(rows[0], widths[0], widths[1])


async def _session(
    mpc: Any,
    party: int,
    spec: VerticalSpec,
    design: HolderDesign | None,
    problem: PerronError | None,
    connect_timeout: float,
) -> dict[str, Any]:
    try:
        await asyncio.wait_for(mpc.start(), connect_timeout)
    except TimeoutError:
        raise TransportError(
            f"party {party} could not connect to all {PARTIES} parties within "
            f"{connect_timeout:g} s; check that every party runs and the addresses agree."
        ) from None
    except OSError as error:
        raise TransportError(
            f"party {party} cannot listen on its port ({error.strerror or error}); another "
            "program uses it: choose other ports."
        ) from None
    started = time.perf_counter()
    ctx = Context(mpc)
    status: dict[str, Any] = {"ok": problem is None, "rows": 0, "digest": ""}
    if problem is not None:
        status["error"] = error_to_wire(problem)
    if design is not None:
        status.update(rows=design.rows, digest=design.key_digest)
    statuses = await ctx.share_public(status, "readiness and sizes of every party")
    sizes = check_ready(statuses, spec)
    output = await fit(ctx, spec, design, sizes)
    await mpc.shutdown()
    result: dict[str, Any] = {
        "ok": True,
        "party": party,
        "holds_data": design is not None,
        "input_rows": 0 if design is None else design.rows,
        "input_columns": 0 if design is None else int(design.z.shape[1]),
        "nobs": sizes.rows,
        "iterations": output.iterations,
        "seconds": output.seconds,
        "total_seconds": time.perf_counter() - started,
        "scale": output.scale,
        "learned_by_design": learned_by(party, spec),
        "opened": [label for label, _ in ctx.opened],
    }
    if output.params is not None and output.cov is not None:
        result.update(names=spec.names, params=output.params.tolist(), cov=output.cov.tolist())
    return result


def run_party(
    party: int,
    addresses: list[str],
    spec: VerticalSpec,
    data: Path | None,
    connect_timeout: float = 30.0,
) -> dict[str, Any]:
    """Run one party to the end and return its JSON-ready result.

    Raises
    ------
    PerronError
        The error that stopped the computation (the same at every party when it is
        a property of the data or the model).
    """
    problem: PerronError | None = None
    design: HolderDesign | None = None
    try:
        design = _prepare(party, spec, data)
    except PerronError as error:  # told to the other parties, then raised everywhere
        problem = error
    mpyc_options = ["-I", str(party), "--no-log"]
    for address in addresses:
        mpyc_options += ["-P", address]
    sys.argv = [sys.argv[0], *mpyc_options]
    from mpyc.runtime import mpc  # type: ignore[import-untyped]  # noqa: PLC0415

    result: dict[str, Any] = mpc.run(_session(mpc, party, spec, design, problem, connect_timeout))
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        spec = VerticalSpec.from_json(args.spec.read_text())
        result = run_party(
            args.party, _addresses(args.parties), spec, args.data, args.connect_timeout
        )
        status = 0
    except PerronError as error:
        result = {"ok": False, "party": args.party, "error": error_to_wire(error)}
        status = 1
    except Exception as error:
        lines = traceback.format_exception(error)
        message = f"party {args.party} crashed: {error!r}\n{''.join(lines[-3:])}"
        result = {"ok": False, "party": args.party, "error": error_to_wire(PerronError(message))}
        status = 2
    args.output.write_text(json.dumps(result))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
