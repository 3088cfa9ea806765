"""``perron station ...``: set up, run and audit a station at a data holder."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

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
