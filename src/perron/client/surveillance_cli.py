"""``perron surveillance ...``: standing surveillance jobs from the command line.

Example::

    perron surveillance define job.json --study surveillance-nl --job salmonella
    perron surveillance jobs --study surveillance-nl
    perron surveillance show --study surveillance-nl --job salmonella
    perron surveillance run            # the jobs due now, once
    perron surveillance serve          # every 5 minutes, until Ctrl-C

``job.json`` is ``{"title": ..., "counts": {...}, "detection": {"method": ...,
"options": {...}}, "weekday": 1, "hour": 6}``: ``counts`` are the weekly-count
parameters without ``last`` (docs/surveillance.md).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perron.client.cli import DEFAULT_HUB, Hub, Token

if TYPE_CHECKING:
    import httpx

    from perron.client.surveillance import Run

surveillance_app = typer.Typer(help="Standing surveillance: weekly jobs, their runs and alarms.")
Study = Annotated[str, typer.Option("--study", help="The study the job belongs to.")]
Job = Annotated[str, typer.Option("--job", help="The job's name (a-z, 0-9, - and _).")]


def _client(hub: str, token: str) -> httpx.Client:
    from perron.client.connect import hub_client  # noqa: PLC0415 - keep --help fast

    if not token:
        raise typer.BadParameter("give --token or set PERRON_TOKEN (a user token).")
    client = hub_client(hub)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _get(hub: str, token: str, path: str) -> Any:
    from perron.protocol.http import check  # noqa: PLC0415

    with _client(hub, token) as client:
        response = client.get(path)
        check(response)
        return response.json()


@surveillance_app.command("define")
def define_job(
    file: Annotated[Path, typer.Argument(help="The job as JSON.")],
    study: Study,
    job: Job,
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Create or update a weekly job (you become its owner)."""
    from perron.client.surveillance import SurveillanceJob, define  # noqa: PLC0415

    raw = json.loads(file.read_text())
    definition = SurveillanceJob.from_spec(
        job, study, raw, weekday=int(raw.get("weekday", 1)), hour=int(raw.get("hour", 6))
    )
    with _client(hub, token) as client:
        stored = define(client, definition)
    typer.echo(f"job {study}/{job}: next run {stored.get('next_due')}")


@surveillance_app.command("jobs")
def jobs(study: Study, hub: Hub = DEFAULT_HUB, token: Token = "") -> None:
    """The study's jobs, their next run and latest alarm state."""
    for entry in _get(hub, token, f"/api/studies/{study}/surveillance"):
        latest = entry.get("latest_run") or {}
        state = "no run yet" if not latest else ("ALARM" if latest.get("alarm") else "no alarm")
        typer.echo(
            f"{entry['name']}: last week {entry.get('last_week') or '-'} ({state}); "
            f"next run {entry.get('next_due')}"
        )


@surveillance_app.command("show")
def show_job(study: Study, job: Job, hub: Hub = DEFAULT_HUB, token: Token = "") -> None:
    """A job and its runs, newest first."""
    typer.echo(json.dumps(_get(hub, token, f"/api/studies/{study}/surveillance/{job}"), indent=2))


def _print_run(run: Run) -> None:
    if run.error is not None:
        typer.echo(f"{run.study}/{run.job} {run.week}: failed: {run.error}", err=True)
    elif run.signal is not None:
        typer.echo(f"{run.study}/{run.job} {run.signal} -> result {run.result_id}")


@surveillance_app.command("run")
def run_due(hub: Hub = DEFAULT_HUB, token: Token = "") -> None:
    """Run your jobs that are due now, once (exit 1 if one failed)."""
    from perron.client.surveillance import runner_for  # noqa: PLC0415

    if not token:
        raise typer.BadParameter("give --token or set PERRON_TOKEN (a user token).")
    with runner_for(hub, token=token, report=_print_run) as runner:
        runs = runner.run_due()
    if not runs:
        typer.echo("no job is due.")
    if any(run.error for run in runs):
        raise typer.Exit(1)


@surveillance_app.command("serve")
def serve(
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
    interval: Annotated[float, typer.Option(help="Seconds between looks at the hub.")] = 300.0,
) -> None:
    """Run your due jobs whenever they fall due, until Ctrl-C."""
    from perron.client.surveillance import runner_for  # noqa: PLC0415

    if not token:
        raise typer.BadParameter("give --token or set PERRON_TOKEN (a user token).")
    stop = threading.Event()
    with runner_for(hub, token=token, report=_print_run) as runner:
        try:
            runner.serve(stop, interval=interval)
        except KeyboardInterrupt:
            stop.set()
