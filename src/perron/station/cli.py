"""``perron station ...``: set up, run and audit a station at a data holder.

Also the holder's objection register (``perron station objections add|remove|list``)
and a patient's question "which studies used my data" (``perron station used-by``).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from perron.station.objections import ObjectionRegister

app = typer.Typer(help="Run a station at a data holder (outbound connections only).")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The station's TOML file.")]


@app.command()
def init(
    config: ConfigOption = Path("station.toml"),
    name: Annotated[str, typer.Option(help="Station name, as registered at the hub.")] = "",
    organisation: Annotated[str, typer.Option(help="The data holder's organisation.")] = "",
    hub: Annotated[str, typer.Option(help="The hub's URL.")] = "http://127.0.0.1:8700",
    dataset: Annotated[str, typer.Option(help="CSV or Parquet file with the data.")] = "",
) -> None:
    """Write a configuration file and generate this station's keys (never committed)."""
    from perron.crypto.keys import KeyPair  # noqa: PLC0415 - keep `--help` fast

    if not name or not organisation or not dataset:
        raise typer.BadParameter("--name, --organisation and --dataset are required.")
    if config.exists():
        raise typer.BadParameter(f"{config} exists; remove it first.")
    folder = config.parent
    KeyPair.generate().save(folder / "keys")
    config.write_text(
        f'name = "{name}"\norganisation = "{organisation}"\nhub_url = "{hub}"\n'
        f'dataset = "{dataset}"\ntoken_file = "station.token"\nkeys_dir = "keys"\n'
        'audit_log = "audit.jsonl"\nstate_dir = "state"\n\n[disclosure]\nmin_cell = 5\n'
    )
    typer.echo(
        f"wrote {config} and keys in {folder / 'keys'}; put the station token in "
        f"{folder / 'station.token'}."
    )


@app.command()
def start(config: ConfigOption = Path("station.toml")) -> None:
    """Serve tasks from the hub until interrupted (SIGINT/SIGTERM)."""
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.runner import run_station  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def shut_down(*_: object) -> None:
        # Raising interrupts a long-poll blocked in the socket at once; the runner's
        # `finally` closes its files and connection.
        stop.set()
        raise SystemExit(0)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, shut_down)
    run_station(StationConfig.load(config), stop)


audit_app = typer.Typer(help="The station's hash-chained audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(config: ConfigOption = Path("station.toml")) -> None:
    """Check that no audit entry was edited, deleted, inserted or reordered."""
    from perron.crypto.audit import verify_audit_log  # noqa: PLC0415
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415

    path = StationConfig.load(config).audit_log
    try:
        count = verify_audit_log(path)
    except PerronError as error:
        typer.echo(f"audit log {path} FAILED verification: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"audit log {path}: {count} entries, chain intact")


objections_app = typer.Typer(
    help="The holder's register of objections (opt-outs) to the secondary use of data."
)
app.add_typer(objections_app, name="objections")

IdsArgument = Annotated[
    list[str],
    typer.Argument(help="Patient identifiers or pseudonyms, as in the dataset's id column."),
]
AtOption = Annotated[
    str | None,
    typer.Option(help="When it happened, ISO 8601 (e.g. 2026-03-01T09:00+01:00); default now."),
]


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"{type(error).__name__}: {error}", err=True)
    return typer.Exit(1)


def _moment(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(f"--at {at!r} is not an ISO 8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _register(config: Path) -> ObjectionRegister:
    from perron.protocol.errors import InputError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.objections import ObjectionRegister  # noqa: PLC0415

    settings = StationConfig.load(config)
    if settings.governance.id_column is None:
        raise InputError(
            f"{config} names no patient identifier column; set [governance] id_column "
            "first, or the station cannot match objections to rows."
        )
    return ObjectionRegister(settings.objections_file)


def _change_objections(
    ids: list[str], config: Path, at: str | None, withdraw: bool, done: str, unchanged: str
) -> None:
    """Add or withdraw objections, all ids checked before any is changed."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.objections import check_patient_id  # noqa: PLC0415

    moment = _moment(at)
    try:
        checked = [check_patient_id(pid) for pid in ids]  # all or nothing
        with _register(config) as register:
            change = register.remove if withdraw else register.add
            for pid in checked:
                typer.echo(f"{pid}: {done}" if change(pid, moment) else f"{pid}: {unchanged}")
    except PerronError as error:
        raise _fail(error) from None


@objections_app.command("add")
def objections_add(
    ids: IdsArgument, config: ConfigOption = Path("station.toml"), at: AtOption = None
) -> None:
    """Register objections: these people are left out of analyses from now on."""
    _change_objections(ids, config, at, False, "objection registered", "objects already")


@objections_app.command("remove")
def objections_remove(
    ids: IdsArgument, config: ConfigOption = Path("station.toml"), at: AtOption = None
) -> None:
    """Withdraw objections: these people count again (their history is kept)."""
    _change_objections(ids, config, at, True, "objection withdrawn", "no objection")


@objections_app.command("list")
def objections_list(
    config: ConfigOption = Path("station.toml"),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list.")] = False,
) -> None:
    """Every objection with its history (objected at, withdrawn at)."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415

    try:
        with _register(config) as register:
            objections = register.list()
    except PerronError as error:
        raise _fail(error) from None
    if as_json:
        typer.echo(json.dumps([o.to_wire() for o in objections], indent=2))
        return
    for objection in objections:
        withdrawn = objection.withdrawn_at
        state = "objects" if withdrawn is None else f"withdrawn {withdrawn.isoformat()}"
        typer.echo(f"{objection.patient_id}\tobjected {objection.objected_at.isoformat()}\t{state}")


@app.command("used-by")
def used_by(
    patient_id: Annotated[str, typer.Argument(help="The identifier or pseudonym.")],
    config: ConfigOption = Path("station.toml"),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list.")] = False,
) -> None:
    """Which studies used this person's data (from the station's audit log)."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.transparency import used_by as studies  # noqa: PLC0415

    try:
        uses = studies(StationConfig.load(config), patient_id)
    except PerronError as error:
        raise _fail(error) from None
    if as_json:
        typer.echo(json.dumps([use.to_wire() for use in uses], indent=2))
        return
    if not uses:
        typer.echo(f"no study used the data of {patient_id} at this station.")
    for use in uses:
        typer.echo(
            f"{use.study}\tpolicy {use.policy_id or '-'}\t{use.first_use.isoformat()} .. "
            f"{use.last_use.isoformat()}\t{', '.join(use.algorithms)} ({use.tasks} tasks)"
        )


feasibility_app = typer.Typer(help="The feasibility ledger: who counted which cohorts here.")
app.add_typer(feasibility_app, name="feasibility")


@feasibility_app.command("unlock")
def feasibility_unlock(
    requester: Annotated[str, typer.Argument(help="The requester's user name at the hub.")],
    config: ConfigOption = Path("station.toml"),
) -> None:
    """Lift a requester's feasibility lockout (after the holder reviewed their queries)."""
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.query_ledger import SqliteLedger  # noqa: PLC0415

    with SqliteLedger(StationConfig.load(config).feasibility_file) as ledger:
        refused = ledger.unlock(requester)
    typer.echo(f"{requester}: lockout lifted ({refused} refused queries were counted)")
