"""``perron hub ...``: start the hub and administer it.

The root command line mounts :data:`app` as ``perron hub``; ``python -m
perron.hub.cli`` runs it on its own.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

from perron.hub.settings import Settings, load_settings
from perron.protocol.errors import PerronError

app = typer.Typer(help="The hub: relays signed tasks and sealed partials.", no_args_is_help=True)
admin_app = typer.Typer(help="Organisations, users, stations and studies.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="A TOML file (database_url, host, port, lease_seconds, token_hours).",
        exists=True,
        dir_okay=False,
    ),
]


@app.callback()
def _hub() -> None:
    """The hub: relays signed tasks and sealed partials."""


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except PerronError as exc:
        raise _fail(exc) from exc


def _fail(error: PerronError) -> typer.Exit:
    typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@app.command()
def start(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Hub worker processes on the port (more than 1 needs PostgreSQL)."),
    ] = None,
) -> None:
    """Migrate the database, then serve the hub (default 127.0.0.1:8700)."""
    from perron.hub.app import serve  # noqa: PLC0415 - keep `perron --help` fast

    settings = _settings(config)
    given = (("host", host), ("port", port), ("workers", workers))
    changes = {key: value for key, value in given if value is not None}
    try:
        chosen = settings.replace(**changes)
    except PerronError as exc:
        raise _fail(exc) from exc
    serve(chosen)


def _admin_session(config: Path | None) -> AbstractContextManager[Session]:
    from perron.hub.admin import admin_session  # noqa: PLC0415 - keep `perron --help` fast
    from perron.hub.migrate import upgrade  # noqa: PLC0415

    url = _settings(config).database_url
    upgrade(url)
    return admin_session(url)


@admin_app.command("create-org")
def create_org(name: str, config: ConfigOption = None) -> None:
    """Create an organisation."""
    from perron.hub import admin  # noqa: PLC0415 - keep `perron --help` fast

    try:
        with _admin_session(config) as session:
            admin.create_org(session, name)
    except PerronError as exc:
        raise _fail(exc) from exc
    typer.echo(f"organisation {name} created")


@admin_app.command("create-user")
def create_user(
    username: str,
    org: Annotated[str, typer.Option("--org", help="The user's organisation.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    role: Annotated[str, typer.Option(help="researcher or admin.")] = "researcher",
    config: ConfigOption = None,
) -> None:
    """Create a user (the password is asked for when not given)."""
    from perron.hub import admin  # noqa: PLC0415 - keep `perron --help` fast

    try:
        with _admin_session(config) as session:
            admin.create_user(session, username, organisation=org, role=role, password=password)
    except PerronError as exc:
        raise _fail(exc) from exc
    typer.echo(f"user {username} ({role}) of {org} created")


@admin_app.command("create-station")
def create_station(
    name: str,
    org: Annotated[str, typer.Option("--org", help="The station's organisation.")],
    config: ConfigOption = None,
) -> None:
    """Create a station and print its token (shown only this once)."""
    from perron.hub import admin  # noqa: PLC0415 - keep `perron --help` fast

    try:
        with _admin_session(config) as session:
            token = admin.create_station(session, name, organisation=org)
    except PerronError as exc:
        raise _fail(exc) from exc
    typer.echo(f"station {name} of {org} created; its token (shown only once):", err=True)
    typer.echo(token)


@admin_app.command("rotate-station-token")
def rotate_station_token(name: str, config: ConfigOption = None) -> None:
    """Revoke a station's tokens and print a new one (shown only this once)."""
    from perron.hub import admin  # noqa: PLC0415 - keep `perron --help` fast

    try:
        with _admin_session(config) as session:
            token = admin.rotate_station_token(session, name)
    except PerronError as exc:
        raise _fail(exc) from exc
    typer.echo(f"station {name}: old tokens revoked; its new token (shown only once):", err=True)
    typer.echo(token)


@admin_app.command("create-study")
def create_study(
    name: str,
    org: Annotated[list[str], typer.Option("--org", help="An organisation in the study.")],
    config: ConfigOption = None,
) -> None:
    """Create a study of some organisations (repeat --org)."""
    from perron.hub import admin  # noqa: PLC0415 - keep `perron --help` fast

    try:
        with _admin_session(config) as session:
            admin.create_study(session, name, organisations=org)
    except PerronError as exc:
        raise _fail(exc) from exc
    typer.echo(f"study {name} of {', '.join(org)} created")


@admin_app.command("add-user")
def add_user(study: str, username: str, config: ConfigOption = None) -> None:
    """Make a user a member of a study."""
    from perron.hub import admin  # noqa: PLC0415 - keep `perron --help` fast

    try:
        with _admin_session(config) as session:
            admin.add_user_to_study(session, study, username)
    except PerronError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{username} is a member of study {study}")


@admin_app.command("grant-roles")
def grant_roles(
    username: str,
    role: Annotated[
        list[str] | None,
        typer.Argument(
            help="Roles in the user's organisation (data_manager, privacy_officer, "
            "legal_counsel, it_admin, security_officer, org_admin, researcher); none "
            "clears them."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Replace the roles a user holds in their organisation."""
    from perron.hub import admin  # noqa: PLC0415 - keep `perron --help` fast

    try:
        with _admin_session(config) as session:
            held = admin.grant_roles(session, username, role or [])
    except PerronError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{username} holds {', '.join(sorted(r.value for r in held)) or 'no roles'}")


if __name__ == "__main__":
    app()
