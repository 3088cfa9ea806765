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


@objections_app.command("summary")
def objections_summary(config: ConfigOption = Path("station.toml")) -> None:
    """What the station reports of its register to the hub: count, last change, digest.

    The holder's station page shows the same (the digest's start), so the register the
    hub was told about can be checked against the one here; no identifier is reported.
    """
    from perron.crypto.keys import KeyPair  # noqa: PLC0415
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.report import digest_key  # noqa: PLC0415

    try:
        key = digest_key(KeyPair.load(StationConfig.load(config).keys_dir))
        with _register(config) as register:
            summary = register.summary(key)
    except PerronError as error:
        raise _fail(error) from None
    typer.echo(json.dumps(summary.to_wire(), indent=2))


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


datasets_app = typer.Typer(
    help="The catalogue: describe this holder's datasets and publish them to the hub "
    "(datasets.toml beside station.toml; docs/catalogue.md)."
)
app.add_typer(datasets_app, name="datasets")

NameArgument = Annotated[
    str | None,
    typer.Argument(help="The dataset's name, as data requests name it (default: the station's)."),
]
Many = list[str] | None


def _dataset_name(config: Path, name: str | None) -> str:
    from perron.station.config import StationConfig  # noqa: PLC0415

    return name or StationConfig.load(config).dataset_name


@datasets_app.command("add")
def datasets_add(
    name: NameArgument = None,
    config: ConfigOption = Path("station.toml"),
    file: Annotated[
        Path | None, typer.Option(help="A description to start from (TOML or JSON).")
    ] = None,
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    keyword: Annotated[Many, typer.Option(help="Repeatable.")] = None,
    theme: Annotated[Many, typer.Option(help="EU data theme, e.g. HEAL (repeatable).")] = None,
    health_theme: Annotated[Many, typer.Option(help="A health theme IRI (repeatable).")] = None,
    coding_system: Annotated[
        Many, typer.Option(help="ICD-10, ATC, LOINC, SNOMED CT, ... or an IRI (repeatable).")
    ] = None,
    population: Annotated[str | None, typer.Option(help="Population coverage.")] = None,
    min_age: Annotated[int | None, typer.Option(help="Minimum typical age.")] = None,
    max_age: Annotated[int | None, typer.Option(help="Maximum typical age.")] = None,
    start: Annotated[str | None, typer.Option(help="First day covered (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day covered (YYYY-MM-DD).")] = None,
    country: Annotated[Many, typer.Option(help="ISO 3166 alpha-3, e.g. NLD (repeatable).")] = None,
    legal_basis: Annotated[Many, typer.Option(help="e.g. eu-gdpr:A9-2-j (repeatable).")] = None,
    legislation: Annotated[
        Many, typer.Option(help="EHDS, GDPR or an ELI IRI (repeatable).")
    ] = None,
    access_rights: Annotated[
        str | None, typer.Option(help="NON_PUBLIC (default), RESTRICTED or PUBLIC.")
    ] = None,
    condition: Annotated[
        Many, typer.Option(help="A DUO term: HMB, GRU, PUB, ... (repeatable).")
    ] = None,
    contact_name: Annotated[str | None, typer.Option()] = None,
    contact_email: Annotated[str | None, typer.Option()] = None,
    contact_url: Annotated[str | None, typer.Option()] = None,
    publisher_name: Annotated[str | None, typer.Option()] = None,
    publisher_url: Annotated[str | None, typer.Option()] = None,
    provenance: Annotated[str | None, typer.Option(help="How the data were collected.")] = None,
    quality_report: Annotated[str | None, typer.Option(help="The quality report's URL.")] = None,
    listing: Annotated[str | None, typer.Option(help="public (default) or hub.")] = None,
    source: Annotated[str | None, typer.Option(help="Data file to count (CSV/Parquet).")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column to count individuals.")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite an existing description.")] = False,
) -> None:
    """Describe a dataset in datasets.toml (checked before it is written)."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.datasets import DatasetsFile  # noqa: PLC0415

    flags = {
        "title": title,
        "description": description,
        "keywords": keyword,
        "themes": theme,
        "health_themes": health_theme,
        "coding_systems": coding_system,
        "population_coverage": population,
        "min_age": min_age,
        "max_age": max_age,
        "countries": country,
        "legal_basis": legal_basis,
        "applicable_legislation": legislation,
        "access_rights": access_rights,
        "conditions": condition,
        "provenance": provenance,
        "listing": listing,
    }
    nested = {
        "temporal": {"start": start, "end": end},
        "contact": {"name": contact_name, "email": contact_email, "url": contact_url},
        "publisher": {"name": publisher_name, "homepage": publisher_url},
        "quality_report": {"url": quality_report},
        "counting": {"source": source, "id_column": id_column},
    }
    try:
        settings = StationConfig.load(config)
        fields = _read_description(file) if file is not None else {}
        fields.update({key: value for key, value in flags.items() if value not in (None, [])})
        for key, table in nested.items():
            given = {k: v for k, v in table.items() if v is not None}
            if given:
                earlier = fields.get(key)
                fields[key] = {**(earlier if isinstance(earlier, dict) else {}), **given}
        dataset = name or settings.dataset_name
        DatasetsFile.beside(config).add(dataset, fields, settings.organisation, replace=replace)
    except PerronError as error:
        raise _fail(error) from None
    typer.echo(f"described {dataset!r} in {DatasetsFile.beside(config).path}")


def _read_description(path: Path) -> dict[str, object]:
    import tomllib  # noqa: PLC0415

    from perron.protocol.errors import InputError  # noqa: PLC0415

    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the description {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path} must hold one table (JSON object) of a dataset's fields.")
    return raw


@datasets_app.command("list")
def datasets_list(config: ConfigOption = Path("station.toml")) -> None:
    """The datasets described in datasets.toml."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.datasets import DatasetsFile  # noqa: PLC0415

    try:
        entries = DatasetsFile.beside(config).read()
    except PerronError as error:
        raise _fail(error) from None
    if not entries:
        typer.echo("no dataset described yet; add one with `perron station datasets add`.")
    for name, fields in entries.items():
        typer.echo(f"{name}\t{fields.get('listing', 'public')}\t{fields.get('title', '')}")


@datasets_app.command("describe")
def datasets_describe(
    name: NameArgument = None,
    config: ConfigOption = Path("station.toml"),
    format: Annotated[str, typer.Option(help="text, json, turtle or jsonld.")] = "text",
    check: Annotated[
        bool, typer.Option("--check", help="Validate the HealthDCAT-AP export (SHACL).")
    ] = False,
) -> None:
    """What the station would publish: the description, with counts from the data,
    rounded and suppressed by the holder's disclosure rules."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.datasets import DatasetsFile, describe  # noqa: PLC0415

    if format not in ("text", "json", "turtle", "jsonld"):
        raise typer.BadParameter("--format is text, json, turtle or jsonld.")
    try:
        settings = StationConfig.load(config)
        metadata = describe(settings, DatasetsFile.beside(config), _dataset_name(config, name))
    except PerronError as error:
        raise _fail(error) from None
    if format == "json":
        typer.echo(json.dumps(metadata.to_wire(), indent=2))
    elif format == "text":
        _print_description(metadata)
    if format in ("turtle", "jsonld") or check:
        from perron.catalogue.dcat import serialise, to_graph  # noqa: PLC0415

        graph = to_graph([metadata], service_url=settings.hub_url)
        if format in ("turtle", "jsonld"):
            typer.echo(serialise(graph, "turtle" if format == "turtle" else "jsonld"))
        if check:
            from perron.catalogue.shacl import validate  # noqa: PLC0415

            report = validate(graph)
            if not report.conforms:
                for problem in report.problems:
                    typer.echo(f"SHACL: {problem}", err=True)
                raise typer.Exit(1)
            typer.echo(
                "HealthDCAT-AP export conforms to the DCAT-AP 3 and health shapes.", err=True
            )


def _print_description(metadata: object) -> None:
    from perron.catalogue.metadata import DatasetMetadata  # noqa: PLC0415

    assert isinstance(metadata, DatasetMetadata)
    for label, count in (("records", metadata.records), ("individuals", metadata.individuals)):
        rounding = (
            "" if count is None or count.rounded_to is None else f", rounded to {count.rounded_to}"
        )
        shown = "not counted" if count is None else f"{count}{rounding} (min_cell {count.min_cell})"
        typer.echo(f"{label}: {shown}")
    for key, value in metadata.to_wire().items():
        if key not in ("records", "individuals") and value not in (None, "", []):
            typer.echo(f"{key}: {json.dumps(value) if not isinstance(value, str) else value}")


@datasets_app.command("publish")
def datasets_publish(
    names: Annotated[
        list[str] | None, typer.Argument(help="Datasets to publish (default: all described).")
    ] = None,
    config: ConfigOption = Path("station.toml"),
) -> None:
    """Publish the descriptions (counts included) to the hub's catalogue."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.datasets import DatasetsFile, publish  # noqa: PLC0415

    try:
        answers = publish(StationConfig.load(config), DatasetsFile.beside(config), names or None)
    except PerronError as error:
        raise _fail(error) from None
    for answer in answers:
        typer.echo(f"published {answer['holder']}/{answer['name']} ({answer['modified']})")


@datasets_app.command("withdraw")
def datasets_withdraw(
    name: Annotated[str, typer.Argument(help="The dataset to take out of the catalogue.")],
    config: ConfigOption = Path("station.toml"),
) -> None:
    """Take a description out of the hub's catalogue (datasets.toml keeps it)."""
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415
    from perron.station.datasets import withdraw  # noqa: PLC0415

    try:
        withdraw(StationConfig.load(config), name)
    except PerronError as error:
        raise _fail(error) from None
    typer.echo(f"withdrew {name!r} from the catalogue")


@app.command("quality")
def quality(
    config: ConfigOption = Path("station.toml"),
    cdm_mapping: Annotated[
        Path | None, typer.Option("--cdm-mapping", help="The CDM mapping file (TOML).")
    ] = None,
    fhir: Annotated[
        list[Path] | None, typer.Option("--fhir", help="A FHIR R4 bundle (repeatable).")
    ] = None,
    cdm_tables: Annotated[
        Path | None,
        typer.Option(
            "--cdm-tables",
            help="A folder with <table>.csv or .parquet per CDM table, checked as it is.",
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="The report's dataset name (default: the station's).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the released report here (HTML; JSON beside).")
    ] = None,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact", help="Write --out with exact numbers (for the data manager; never publish)."
        ),
    ] = False,
) -> None:
    """Check this holder's OMOP CDM (OHDSI DQD checks) and store the report.

    Writes state/quality/<dataset>.exact.json (stays here; the quality algorithm
    releases it per task) and the released <dataset>.json and .html, which a catalogue
    entry links to. The CDM comes from the options, else from [quality] in station.toml.
    """
    from perron.protocol.errors import PerronError  # noqa: PLC0415
    from perron.quality.run import run_checks  # noqa: PLC0415
    from perron.quality.sources import read_cdm  # noqa: PLC0415
    from perron.quality.store import quality_summary, save  # noqa: PLC0415
    from perron.station.config import StationConfig  # noqa: PLC0415

    try:
        settings = StationConfig.load(config)
        given = settings.quality
        if cdm_mapping or fhir or cdm_tables:
            cdm = read_cdm(mapping=cdm_mapping, fhir=fhir or (), tables=cdm_tables)
        else:
            cdm = read_cdm(mapping=given.mapping, fhir=given.fhir, tables=given.tables)
        name = dataset or settings.dataset_name
        report = run_checks(cdm, given.settings, dataset=name)
        files = save(report, settings.state_dir, settings.disclosure)
        released = report.released(settings.disclosure, station=settings.name)
        if out is not None:
            shown = report if exact else released
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(shown.to_html(), encoding="utf-8")
            out.with_suffix(".json").write_text(shown.to_json(), encoding="utf-8")
    except PerronError as error:
        raise _fail(error) from None
    typer.echo(str(released))
    typer.echo(f"exact report (stays at the station): {files.exact}")
    typer.echo(f"released report for the catalogue: {files.json} and {files.html}")
    if out is not None:
        typer.echo(f"wrote {out} and {out.with_suffix('.json')}" + (" (exact)" if exact else ""))
    typer.echo(f"catalogue entry: {json.dumps(quality_summary(released))}")
