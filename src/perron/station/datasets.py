"""A station's dataset descriptions (``datasets.toml``) and their publication to the hub.

The descriptions live in ``datasets.toml`` beside ``station.toml``, one table per
dataset, named as data requests name the dataset (``perron station datasets add``
writes it; a data manager may edit it by hand)::

    [lung]
    title = "Lung cancer cohort, UMC North"
    description = "Patients treated for advanced lung cancer ..."
    keywords = ["lung cancer", "survival"]
    coding_systems = ["ICD-10"]
    min_age = 39
    max_age = 82
    legal_basis = ["eu-gdpr:A9-2-j"]
    listing = "public"                      # or "hub": signed-in hub users only

    [lung.contact]
    name = "Research data desk"
    email = "data@umc-north.example"

    [lung.counting]                         # how the station counts; never published
    source = "data/lung.csv"                # default: the station's dataset, if the
                                            #   name is its [governance] dataset_name
    id_column = "patient_id"                # default: [governance] id_column
    round_counts = 10                       # may only tighten [disclosure]

Every key but ``counting`` is a field of
:class:`~perron.catalogue.metadata.DatasetMetadata`; the holder is the station's
organisation. The numbers of records and of individuals are never written by hand:
:func:`describe` counts them in the data, leaves out the people whose objection
stands (when the dataset has an identifier column), and passes both counts through
the holder's disclosure rules (:func:`perron.catalogue.counts.published`), tightened
by ``counting`` if it says so. A separate file, not a table of ``station.toml``:
the station's configuration is read-only to the running station, while the
descriptions are edited by the data manager and change more often.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from perron.catalogue.counts import published
from perron.catalogue.metadata import DatasetMetadata, PublishedCount
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError
from perron.protocol.http import check
from perron.quality.store import load as load_report
from perron.quality.store import quality_summary, report_files
from perron.station.config import StationConfig
from perron.station.hub_client import hub_client
from perron.station.objections import ObjectionRegister
from perron.station.view import DatasetView

FILE_NAME = "datasets.toml"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: Keys of a description that the station fills in itself.
_COMPUTED = frozenset({"name", "holder", "records", "individuals"})
_COUNTING_KEYS = frozenset({"source", "id_column", "min_cell", "round_counts"})


@dataclass(frozen=True)
class Counting:
    """How the station counts a dataset's records and individuals (``[<name>.counting]``)."""

    source: Path | None = None
    id_column: str | None = None
    min_cell: int | None = None
    round_counts: int | None = None

    @classmethod
    def from_mapping(cls, raw: Any, base: Path) -> Counting:
        """Read and check a ``counting`` table (paths relative to ``base``)."""
        if not isinstance(raw, Mapping):
            raise InputError(
                "counting must be a table (source, id_column, min_cell, round_counts)."
            )
        unknown = sorted(set(raw) - _COUNTING_KEYS)
        if unknown:
            raise InputError(
                f"counting has unknown keys {unknown}; the keys are {sorted(_COUNTING_KEYS)}."
            )
        source = raw.get("source")
        id_column = raw.get("id_column")
        for key, value in (("source", source), ("id_column", id_column)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InputError(f"counting.{key} must be a non-empty string, not {value!r}.")
        for key in ("min_cell", "round_counts"):
            value = raw.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InputError(f"counting.{key} must be a whole number, not {value!r}.")
        path = None if source is None else Path(source)
        return cls(
            source=None if path is None else path if path.is_absolute() else base / path,
            id_column=id_column,
            min_cell=raw.get("min_cell"),
            round_counts=raw.get("round_counts"),
        )

    def policy(self, holder: DisclosurePolicy) -> DisclosurePolicy:
        """The holder's disclosure settings, tightened for the catalogue as asked.

        Raises
        ------
        LooseningRejected
            ``min_cell`` or ``round_counts`` is looser than the holder's.
        """
        return holder.tightened({"min_cell": self.min_cell, "round_counts": self.round_counts})


class DatasetsFile:
    """``datasets.toml``: the station's descriptions, as the data manager wrote them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, config: Path) -> DatasetsFile:
        """The file beside the station's configuration file."""
        return cls(config.parent / FILE_NAME)

    def read(self) -> dict[str, dict[str, Any]]:
        """Every description, by dataset name (empty if there is no file yet)."""
        try:
            raw = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{self.path} is not valid TOML: {exc}") from None
        for name, table in raw.items():
            if not isinstance(table, dict):
                raise InputError(f"{self.path}: {name!r} must be a table of a dataset's fields.")
        return raw

    def entry(self, name: str) -> dict[str, Any]:
        """The description of dataset ``name`` as written.

        Raises
        ------
        InputError
            There is none (the message lists the names there are).
        """
        entries = self.read()
        if name not in entries:
            known = ", ".join(sorted(entries)) or "none yet"
            raise InputError(
                f"{self.path} has no dataset {name!r} (it has: {known}); add it with "
                "`perron station datasets add`."
            )
        return entries[name]

    def add(self, name: str, fields: Mapping[str, Any], holder: str, *, replace: bool) -> None:
        """Write the description of ``name``, after checking it is valid.

        Raises
        ------
        InputError
            The description is not valid, names fields the station computes, or
            exists already and ``replace`` is false.
        """
        entries = self.read()
        if name in entries and not replace:
            raise InputError(
                f"{self.path} describes {name!r} already; give --replace to overwrite it."
            )
        check_fields(name, fields, holder, self.path.parent)
        entries[name] = dict(fields)
        self.path.write_text(dump_toml(entries), encoding="utf-8")


def check_fields(name: str, fields: Mapping[str, Any], holder: str, base: Path) -> None:
    """Raise ``InputError`` unless ``fields`` make a valid description of ``name``."""
    computed = sorted(_COMPUTED & set(fields))
    if computed:
        raise InputError(
            f"the description of {name!r} sets {computed}; the station fills these in itself "
            "(the name and holder from its configuration, the counts from the data). "
            "Remove them."
        )
    Counting.from_mapping(fields.get("counting", {}), base)
    DatasetMetadata.parse(_without_counting(fields) | {"name": name, "holder": holder})


def describe(config: StationConfig, datasets: DatasetsFile, name: str) -> DatasetMetadata:
    """The description of ``name`` as the station would publish it, counts included.

    The counts come from ``counting.source`` if given, else from the station's own
    dataset when ``name`` is its dataset name (a file or a database, as the station
    reads it); without either the description carries no counts. When the holder
    ran ``perron station quality`` for ``name``, the released report's summary is
    linked in (``quality_report``).
    """
    fields = datasets.entry(name)
    counting = Counting.from_mapping(fields.get("counting", {}), datasets.path.parent)
    description = _without_counting(fields) | {"name": name, "holder": config.organisation}
    view = _open(config, name, counting)
    if view is not None:
        try:
            records, individuals = _counts(config, view)
        finally:
            view.close()
        policy = counting.policy(config.disclosure)
        description["records"] = _wire(published(records, policy, station=config.name))
        if individuals is not None:
            description["individuals"] = _wire(published(individuals, policy, station=config.name))
    released = report_files(config.state_dir, name).json
    if released.exists():  # the released quality report of `perron station quality`
        given = dict(description.get("quality_report") or {})
        summary = quality_summary(load_report(released), given.get("url"))
        description["quality_report"] = {**summary, **{k: v for k, v in given.items() if v}}
    return DatasetMetadata.parse(description)


def _without_counting(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if key != "counting"}


def _wire(count: PublishedCount) -> dict[str, Any]:
    return count.model_dump(mode="json")


def _open(config: StationConfig, name: str, counting: Counting) -> DatasetView | None:
    """The data to count, as the station reads them (``None``: nothing to count)."""
    if counting.source is not None:
        return DatasetView.from_path(counting.source, name, counting.id_column)
    if name != config.dataset_name:
        return None
    return DatasetView.from_config(config, id_column=counting.id_column)


def _counts(config: StationConfig, view: DatasetView) -> tuple[int, int | None]:
    """Records and distinct individuals, without the people whose objection stands."""
    excluded: frozenset[str] = frozenset()
    if view.id_column is not None and config.objections_file.exists():
        with ObjectionRegister(config.objections_file) as register:
            excluded = register.excluded(None, apply_to_earlier=False)
    records = view.source(None, excluded).complete_count([])
    if view.id_column is None:
        return records, None
    ids = view.ids
    return records, len(ids) - sum(1 for pid in excluded if pid in ids)


def publish(
    config: StationConfig,
    datasets: DatasetsFile,
    names: Iterable[str] | None = None,
    *,
    client: httpx.Client | None = None,
) -> list[dict[str, Any]]:
    """Publish the descriptions of ``names`` (default: all) to the hub; the hub's answers.

    Every description is built (and counted) before the first is sent, so an error
    in one publishes none.
    """
    chosen = list(datasets.read()) if names is None else list(names)
    if not chosen:
        raise InputError(f"{datasets.path} describes no dataset; add one first.")
    described = [describe(config, datasets, name) for name in chosen]
    own = client or hub_client(config)
    try:
        answers = []
        for metadata in described:
            response = own.put(_path(metadata.holder, metadata.name), json=metadata.to_wire())
            check(response)
            answers.append(response.json())
        return answers
    finally:
        if client is None:
            own.close()


def withdraw(config: StationConfig, name: str, *, client: httpx.Client | None = None) -> None:
    """Withdraw the description of ``name`` from the hub's catalogue."""
    own = client or hub_client(config)
    try:
        check(own.delete(_path(config.organisation, name)))
    finally:
        if client is None:
            own.close()


def _path(holder: str, name: str) -> str:
    return f"/api/catalogue/datasets/{holder}/{name}"


# -- writing TOML (the standard library reads it but does not write it) ---------------


def dump_toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """One TOML document of tables of scalars, lists and sub-tables (one level deep).

    Checked by reading it back: what it writes reads as what it was given.

    Examples
    --------
    >>> print(dump_toml({"lung": {"title": "Lung", "keywords": ["a"], "contact": {"name": "D"}}}))
    [lung]
    title = "Lung"
    keywords = ["a"]
    <BLANKLINE>
    [lung.contact]
    name = "D"
    <BLANKLINE>
    """
    lines: list[str] = []
    for name, table in tables.items():
        lines.append(f"[{_key(name)}]")
        subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        lines.extend(
            f"{_key(k)} = {_value(v)}"
            for k, v in table.items()
            if k not in subtables and v is not None
        )
        lines.append("")
        for key, sub in subtables.items():
            lines.append(f"[{_key(name)}.{_key(key)}]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in sub.items() if v is not None)
            lines.append("")
    text = "\n".join(lines)
    back = tomllib.loads(text)
    if back != _normalised(tables):
        raise InputError("the descriptions cannot be written as TOML; report this as a bug.")
    return text


def _key(key: str) -> str:
    """A bare key where TOML allows one (a dot would split it), else a quoted key."""
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise InputError(f"cannot write {value!r} to {FILE_NAME}; use text, numbers or lists.")


def _normalised(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normalised(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple | list):
        return [_normalised(item) for item in value]
    return value
