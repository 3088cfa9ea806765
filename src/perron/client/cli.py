"""``perron request ...`` and ``perron study ...``: the study route from the command line.

Connection: ``--hub`` (or ``PERRON_HUB_URL``) and ``--token`` (or ``PERRON_TOKEN``,
a user token from ``POST /api/auth/token``). Private keys stay in ``--keys``.

Example::

    perron request example > request.json          # edit it
    perron request submit request.json --study lung-survival
    perron request decide REQ umc-north dpia go --attach dpia-final.md
    perron request sign-policy REQ umc-north --role privacy_officer --keys ~/.perron/keys
    perron study register --hub http://127.0.0.1:8700
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

request_app = typer.Typer(help="Data requests and the study route (per holder).")
study_app = typer.Typer(help="Studies: the public register.")

Hub = Annotated[str, typer.Option("--hub", envvar="PERRON_HUB_URL", help="The hub's URL.")]
Token = Annotated[
    str, typer.Option("--token", envvar="PERRON_TOKEN", help="Your user token (pu_...).")
]
RequestId = Annotated[str, typer.Argument(help="The request's id.")]
Holder = Annotated[str, typer.Argument(help="The holder organisation's name.")]
DEFAULT_HUB = "http://127.0.0.1:8700"


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


@contextmanager
def _desk(hub: str, token: str) -> Iterator[Any]:
    from perron.client.governance import Governance  # noqa: PLC0415 - keep --help fast
    from perron.protocol.errors import PerronError  # noqa: PLC0415

    if not token:
        raise typer.BadParameter("give --token or set PERRON_TOKEN (a user token).")
    with Governance.with_token(hub, token) as desk:
        try:
            yield desk
        except PerronError as error:
            typer.echo(f"{type(error).__name__}: {error}", err=True)
            raise typer.Exit(1) from None


@request_app.command("example")
def example() -> None:
    """Print a complete example request (JSON) to start from."""
    from perron.governance.request import EXAMPLE  # noqa: PLC0415

    _echo(EXAMPLE)


@request_app.command("submit")
def submit(
    file: Annotated[Path, typer.Argument(help="The request as JSON.")],
    study: Annotated[str, typer.Option(help="The study's name at the hub.")],
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Send one data request to every holder it names."""
    raw = json.loads(file.read_text())
    with _desk(hub, token) as desk:
        typer.echo(desk.submit(study, raw))


@request_app.command("list")
def list_requests(hub: Hub = DEFAULT_HUB, token: Token = "") -> None:
    """The requests you may see."""
    with _desk(hub, token) as desk:
        _echo(desk.requests())


@request_app.command("show")
def show(request_id: RequestId, hub: Hub = DEFAULT_HUB, token: Token = "") -> None:
    """A request and its tracks (a holder sees only its own part)."""
    with _desk(hub, token) as desk:
        _echo(desk.show(request_id))


@request_app.command("decide")
def decide(
    request_id: RequestId,
    holder: Holder,
    step: Annotated[str, typer.Argument(help="The step, e.g. dpia.")],
    outcome: Annotated[str, typer.Argument(help="go or no_go.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    attach: Annotated[
        list[Path] | None, typer.Option(help="A document to attach (repeatable).")
    ] = None,
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Record your go / no-go on the holder's current step."""
    with _desk(hub, token) as desk:
        hashes = [desk.attach(request_id, path.name, path.read_text()) for path in attach or []]
        _echo(desk.decide(request_id, holder, step, outcome, comment=comment, attachments=hashes))


@request_app.command("send-back")
def send_back(
    request_id: RequestId,
    holder: Holder,
    to: Annotated[str, typer.Argument(help="The earlier step to go back to.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Send the holder's track back to an earlier step."""
    with _desk(hub, token) as desk:
        _echo(desk.send_back(request_id, holder, to, comment=comment))


@request_app.command("draft")
def draft(
    request_id: RequestId,
    kind: Annotated[str, typer.Argument(help="dpia, privacy-matrix or term-sheet.")],
    holder: Annotated[str, typer.Option(help="Only this holder's part.")] = "",
    format: Annotated[str, typer.Option(help="md or html.")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """A generated draft to edit and attach."""
    with _desk(hub, token) as desk:
        text = desk.draft(request_id, kind, holder=holder or None, format=format)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}")


@request_app.command("keys")
def keys(
    keys_dir: Annotated[Path, typer.Option("--keys", help="Folder for your private keys.")],
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Create your key pair (if absent) and publish its public half at the hub."""
    from perron.crypto.keys import KeyPair  # noqa: PLC0415
    from perron.protocol.errors import InputError  # noqa: PLC0415

    try:
        pair = KeyPair.load(keys_dir)
    except InputError:  # none yet: make them (save refuses to overwrite a half pair)
        pair = KeyPair.generate()
        pair.save(keys_dir)
    with _desk(hub, token) as desk:
        desk.register_keys(pair)
    typer.echo(f"verify key {pair.public().verify_key}")


@request_app.command("policy")
def policy(
    request_id: RequestId,
    holder: Holder,
    odrl: Annotated[bool, typer.Option("--odrl", help="As ODRL 2.2 JSON-LD.")] = False,
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """The policy of an approved track (JSON, or ODRL with --odrl)."""
    with _desk(hub, token) as desk:
        signed = desk.policy(request_id, holder)
    if odrl:
        from perron.governance.odrl import to_odrl  # noqa: PLC0415

        _echo(to_odrl(signed.policy))
    else:
        _echo(signed.to_wire())


@request_app.command("sign-policy")
def sign_policy(
    request_id: RequestId,
    holder: Holder,
    role: Annotated[str, typer.Option(help="The role you sign as.")],
    keys_dir: Annotated[Path, typer.Option("--keys", help="Folder with your private keys.")],
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Sign the holder's policy locally and send the signature."""
    from perron.crypto.keys import KeyPair  # noqa: PLC0415

    with _desk(hub, token) as desk:
        signed = desk.sign_policy(request_id, holder, role, KeyPair.load(keys_dir))
    typer.echo(f"signed by {sorted(s.role.value for s in signed.signatures)}")


@request_app.command("results")
def results(
    request_id: RequestId,
    summary: Annotated[str, typer.Option(help="The results in a few lines.")],
    publication: Annotated[
        list[str] | None, typer.Option(help="A publication (repeatable).")
    ] = None,
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Report results for the public register."""
    with _desk(hub, token) as desk:
        desk.report_results(request_id, summary, publication or [])
    typer.echo("reported.")


@study_app.command("register")
def register(hub: Hub = DEFAULT_HUB) -> None:
    """The hub's public study register (no login)."""
    from perron.client.governance import register as fetch  # noqa: PLC0415

    _echo(fetch(hub))


def overlap(
    study: Annotated[str, typer.Option(help="The study at the hub.")],
    column: Annotated[
        list[str] | None, typer.Option(help="A variable to check on the linked set (repeatable).")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the overlap figure here (PNG).")] = None,
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """How many records the study's stations can link, before any paperwork.

    Sizes, every pairwise and the all-way overlap, coverage per holder, and the linked
    records missing each requested variable; counts pass each holder's rules.
    """
    from perron.client.connect import connect  # noqa: PLC0415
    from perron.protocol.errors import PerronError  # noqa: PLC0415

    if not token:
        raise typer.BadParameter("give --token or set PERRON_TOKEN (a user token).")
    try:
        session = connect(hub, study=study, token=token, progress=False)
        try:
            report = session.overlap(column or [])
        finally:
            session.close()
    except PerronError as error:
        typer.echo(f"{type(error).__name__}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(report))
    if plot is not None:
        report.plot(plot)
        typer.echo(f"wrote {plot}")


def feasibility(
    study: Annotated[str, typer.Option(help="The study at the hub.")],
    cohort: Annotated[
        str,
        typer.Option(
            help='The cohort as JSON, e.g. \'[{"column": "age", "between": [40, 60]}]\', or '
            "@file.json."
        ),
    ],
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """How many records at each station meet a cohort (Beacon v2 counts: exact, rounded
    or imprecise as each holder decides)."""
    import json  # noqa: PLC0415

    from perron.client.connect import connect  # noqa: PLC0415
    from perron.protocol.errors import PerronError  # noqa: PLC0415

    if not token:
        raise typer.BadParameter("give --token or set PERRON_TOKEN (a user token).")
    text = Path(cohort[1:]).read_text() if cohort.startswith("@") else cohort
    try:
        definition = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"--cohort is not JSON: {exc}") from None
    try:
        session = connect(hub, study=study, token=token, progress=False)
        try:
            result = session.feasibility(definition)
        finally:
            session.close()
    except PerronError as error:
        typer.echo(f"{type(error).__name__}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(result))


catalogue_app = typer.Typer(
    help="The dataset catalogue: search it, read a description, export HealthDCAT-AP."
)
OptionalToken = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="PERRON_TOKEN",
        help="A token (optional): also shows descriptions listed on the hub only.",
    ),
]
RdfFormat = Annotated[str, typer.Option(help="turtle or jsonld.")]


@contextmanager
def _catalogue(hub: str, token: str) -> Iterator[Any]:
    from perron.client.connect import hub_client  # noqa: PLC0415
    from perron.protocol.errors import PerronError  # noqa: PLC0415

    with hub_client(hub) as client:
        if token:
            client.headers["Authorization"] = f"Bearer {token}"
        try:
            yield client
        except PerronError as error:
            typer.echo(f"{type(error).__name__}: {error}", err=True)
            raise typer.Exit(1) from None


def _get(client: Any, path: str, **params: str) -> Any:
    from perron.protocol.http import check  # noqa: PLC0415

    response = client.get(path, params={k: v for k, v in params.items() if v})
    check(response)
    return response


def _rdf_format(value: str) -> str:
    if value not in ("turtle", "jsonld"):
        raise typer.BadParameter("--format is turtle or jsonld.")
    return value


@catalogue_app.command("search")
def catalogue_search(
    text: Annotated[str, typer.Argument(help="Words that must all appear.")] = "",
    theme: Annotated[str, typer.Option(help="An EU data theme (HEAL) or health theme.")] = "",
    code: Annotated[str, typer.Option(help="A coding system: ICD-10, ATC, ... or IRI.")] = "",
    holder: Annotated[str, typer.Option(help="The holder (organisation).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="The descriptions as JSON.")] = False,
    hub: Hub = DEFAULT_HUB,
    token: OptionalToken = "",
) -> None:
    """Find datasets: one line each (holder/name, records, individuals, title)."""
    with _catalogue(hub, token) as client:
        found = _get(
            client, "/api/catalogue", text=text, theme=theme, code=code, holder=holder
        ).json()
    if as_json:
        _echo(found)
        return
    if not found:
        typer.echo("no dataset matches.")
    for entry in found:
        meta = entry["metadata"]
        typer.echo(
            f"{entry['holder']}/{entry['name']}\trecords {_count(meta.get('records'))}\t"
            f"individuals {_count(meta.get('individuals'))}\t{meta['title']}"
        )


def _count(count: dict[str, Any] | None) -> str:
    if count is None:
        return "?"
    if count["value"] is None:
        return f"<{count['min_cell']}"
    return str(count["value"]) if count.get("rounded_to") is None else f"~{count['value']}"


@catalogue_app.command("show")
def catalogue_show(
    holder: Annotated[str, typer.Argument(help="The holder (organisation).")],
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    format: Annotated[str, typer.Option(help="json, turtle or jsonld.")] = "json",
    hub: Hub = DEFAULT_HUB,
    token: OptionalToken = "",
) -> None:
    """One description, as JSON or as HealthDCAT-AP."""
    if format not in ("json", "turtle", "jsonld"):
        raise typer.BadParameter("--format is json, turtle or jsonld.")
    with _catalogue(hub, token) as client:
        response = _get(client, f"/api/catalogue/datasets/{holder}/{name}", format=format)
    if format == "json":
        _echo(response.json())
    else:
        typer.echo(response.text)


@catalogue_app.command("export")
def catalogue_export(
    format: RdfFormat = "turtle",
    out: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Validate against the SHACL shapes (DCAT-AP 3).")
    ] = False,
    hub: Hub = DEFAULT_HUB,
    token: OptionalToken = "",
) -> None:
    """The whole catalogue as HealthDCAT-AP (a dcat:Catalog), in Turtle or JSON-LD."""
    fmt = _rdf_format(format)
    with _catalogue(hub, token) as client:
        text = _get(client, "/api/catalogue/export", format=fmt).text
    if check:
        from perron.catalogue.dcat import parse  # noqa: PLC0415
        from perron.catalogue.shacl import validate  # noqa: PLC0415

        report = validate(parse(text, "turtle" if fmt == "turtle" else "jsonld"))
        if not report.conforms:
            for problem in report.problems:
                typer.echo(f"SHACL: {problem}", err=True)
            raise typer.Exit(1)
        typer.echo("the export conforms to the DCAT-AP 3 and HealthDCAT-AP shapes.", err=True)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def _ranges(specs: list[str]) -> dict[str, list[float | None]]:
    ranges: dict[str, list[float | None]] = {}
    for spec in specs:
        column, sep, bounds = spec.partition("=")
        low, colon, high = bounds.partition(":")
        if not sep or not colon or not column:
            raise typer.BadParameter(f"--range {spec!r}: write column=low:high, e.g. age=0:120.")
        try:
            ranges[column] = [float(low) if low else None, float(high) if high else None]
        except ValueError:
            raise typer.BadParameter(f"--range {spec!r}: low and high must be numbers.") from None
    return ranges


def quality(
    study: Annotated[str, typer.Option(help="The study at the hub.")],
    column: Annotated[
        list[str] | None, typer.Option(help="A column to check (repeatable; default: all).")
    ] = None,
    required: Annotated[
        list[str] | None, typer.Option(help="A column that must be filled (repeatable).")
    ] = None,
    range_: Annotated[
        list[str] | None,
        typer.Option("--range", help="A plausible range, column=low:high (repeatable)."),
    ] = None,
    cdm: Annotated[
        bool, typer.Option(help="Include each station's OMOP CDM report, if it has one.")
    ] = True,
    html: Annotated[Path | None, typer.Option(help="Write the reports as one HTML page.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the reports as JSON.")
    ] = None,
    hub: Hub = DEFAULT_HUB,
    token: Token = "",
) -> None:
    """Data quality reports of the study's stations (OHDSI DQD checks), as each holder
    releases them: counts below a holder's minimum show as "< min_cell".

    Prints checks per status for each station's analysis dataset and OMOP CDM report,
    then every failed check ("north: FAILED key: n rows"; "north (OMOP CDM): ...")."""
    from perron.client.connect import connect  # noqa: PLC0415
    from perron.protocol.errors import PerronError  # noqa: PLC0415

    if not token:
        raise typer.BadParameter("give --token or set PERRON_TOKEN (a user token).")
    ranges = _ranges(range_ or [])
    try:
        session = connect(hub, study=study, token=token, progress=False)
        try:
            result = session.quality(
                column or None, required=required or (), ranges=ranges, cdm=cdm
            )
        finally:
            session.close()
    except PerronError as error:
        typer.echo(f"{type(error).__name__}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(result))
    for station, report in result.reports.items():
        # The analysis dataset's failures, then those of the station's CDM report.
        sections = [(station, report)]
        if station in result.cdm:
            sections.append((f"{station} (OMOP CDM)", result.cdm[station]))
        for heading, checked in sections:
            for check in checked.failures():
                shown = "" if check.violated is None else f": {check.violated.text} rows"
                typer.echo(f"{heading}: FAILED {check.key}{shown}")
    if html is not None:
        html.write_text(result.to_html(f"Data quality: study {study}"), encoding="utf-8")
        typer.echo(f"wrote {html}")
    if json_out is not None:
        json_out.write_text(result.to_json(), encoding="utf-8")
        typer.echo(f"wrote {json_out}")
