"""The ``perron`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from perron.client.cli import (
    catalogue_app,
    feasibility,
    overlap,
    quality,
    request_app,
    study_app,
)
from perron.client.surveillance_cli import surveillance_app
from perron.hub.cli import app as hub_app
from perron.linkage.cli import app as pseudonymise_app
from perron.station.cli import app as station_app

app = typer.Typer(help="Perron: federated analysis where the data stays at the station.")
app.add_typer(hub_app, name="hub")
app.add_typer(station_app, name="station")
app.add_typer(request_app, name="request")
app.add_typer(study_app, name="study")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(surveillance_app, name="surveillance")
app.command("overlap")(overlap)
app.command("feasibility")(feasibility)
app.command("quality")(quality)
app.add_typer(pseudonymise_app, name="pseudonymise")


@app.callback()
def _root() -> None:
    """Perron command line."""


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the plots.")] = Path("out"),
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Run in one process instead of a real network.")
    ] = False,
    surveillance: Annotated[
        bool,
        typer.Option(
            "--surveillance",
            help="Early warning instead: a GP network, a hospital and a laboratory with a "
            "planted outbreak; a signed surveillance policy, a weekly job at the hub, the "
            "alarm in the outbreak's first week, a nowcast.",
        ),
    ] = False,
    route: Annotated[
        bool,
        typer.Option(
            "--route",
            help="The study route instead: one data request to three hospitals, every "
            "role's go/no-go, signed policies, analyses only within them.",
        ),
    ] = False,
    linkage: Annotated[
        bool,
        typer.Option(
            "--linkage",
            help="Linkage before a study instead: BSN pseudonyms, the PSI overlap report "
            "and Bloom-filter linkage on synthetic Dutch data.",
        ),
    ] = False,
    findable: Annotated[
        bool,
        typer.Option(
            "--findable",
            help="Findable data of known quality instead: OMOP data at three stations, the "
            "catalogue, a feasibility count with its differencing guard, quality reports.",
        ),
    ] = False,
    mpc: Annotated[
        bool,
        typer.Option(
            "--mpc",
            help="Vertical MPC instead: a readmission risk model fitted on hospital + "
            "insurer data by three MPyC processes (the pharmacy as helper), no pooling.",
        ),
    ] = False,
    prediction: Annotated[
        bool,
        typer.Option(
            "--prediction",
            help="Prediction models instead: a published risk score validated and "
            "recalibrated on three hospitals' WHAS500 patients, with calibration plots.",
        ),
    ] = False,
    ui: Annotated[
        bool,
        typer.Option(
            "--ui",
            help="The web interface: a hub with three hospitals' stations, a study with "
            "results and a request waiting for sign-offs; runs until Ctrl-C.",
        ),
    ] = False,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every demo step in turn (what `make demo` runs), then a summary of what "
            "each showed and where the plots are; exit code 1 if any step failed.",
        ),
    ] = False,
) -> None:
    """A three-hospital study on the real lung cancer data: a hub and three station
    processes on localhost (or, with --simulate, all in this process)."""
    from perron.demos.tour import run_tour, step_for  # noqa: PLC0415

    console = Console(width=max(Console().width, 120))
    if everything:
        if not all(report.ok for report in run_tour(console, out)):
            raise typer.Exit(1)
        return
    if ui:
        from perron.demos.ui import main as ui_main  # noqa: PLC0415

        ui_main(console)
        return
    # One step, run by the tour's own table; with several options the first here wins.
    for option, wanted in (
        ("--prediction", prediction),
        ("--findable", findable),
        ("--mpc", mpc),
        ("--linkage", linkage),
        ("--route", route),
        ("--surveillance", surveillance),
    ):
        if wanted:
            step_for(option).run(console, out)
            return
    from perron.demos.study import main as study_main  # noqa: PLC0415

    study_main(console, out, simulate_only=simulate)


def main() -> None:
    """The ``perron`` command: a Perron error is one message on stderr, not a traceback."""
    from rich.markup import escape  # noqa: PLC0415

    from perron.protocol.errors import PerronError  # noqa: PLC0415

    try:
        app()
    except PerronError as error:
        message = escape(f"{type(error).__name__}: {error}")
        Console(stderr=True).print(f"[red]error[/red]: {message}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
