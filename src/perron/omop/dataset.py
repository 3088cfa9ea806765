"""An OMOP CDM as a station's dataset: the ``[omop]`` table of station.toml.

A station whose ``reader`` is ``"omop"`` names its CDM as ``dataset``, in one of
three forms, and analyses read the per-person table that
:func:`~perron.omop.view.person_table` derives from it::

    dataset = "omop/mapping.toml"        # a mapping file: flat source tables -> CDM
    # dataset = "fhir"                   # or a folder of FHIR R4 bundles (*.json)
    # dataset = "cdm"                    # or a folder of CDM tables (person.csv, ...)
    reader = "omop"

    [omop]
    index_date = 2025-01-01              # ages and events at this date (default: the
                                         #   day the station starts)
    lookback_days = 3650                 # optional: only events this recent count
    format = "mapping"                   # optional: "mapping", "fhir" or "tables"
                                         #   (default: from the path)

    [omop.conditions]                    # one true/false column per code set
    heart_failure = "ICD10:I50*"
    heart_disease = "SNOMED:56265001"    # and its descendants, with a hierarchy below
    [omop.drugs]
    statin = "ATC:C10AA*"
    [omop.procedures]
    [omop.measurements]                  # the last value on or before the index date
    nt_probnp = "LOINC:33762-6"

    [omop.hierarchies]                   # parent -> children per code system
    SNOMED = "snomed_isa.csv"            # a file: parent,child rows, or a SNOMED CT
                                         #   RF2 relationship file (is-a, active rows)
    [omop.hierarchies.ATC]               # or inline
    "C10AA" = ["C10AA01", "C10AA05"]

The analysis table is :func:`person_table`'s, without ``person_id`` (a CDM-internal
number: no analysis needs it). ``person_source_value``, the holder's own identifier,
is the station's identifier column unless ``[governance] id_column`` names another:
objections match it and no analysis can use it. Every bad field of ``[omop]`` is
reported with its place (:class:`~perron.protocol.errors.InputError`); the CDM's
own problems come as :class:`~perron.omop.cdm.CdmError` when the table is built.

Examples
--------
>>> settings = OmopSettings.from_mapping(
...     {"index_date": "2025-01-01", "conditions": {"hf": "ICD10:I50*"}}, Path("."))
>>> settings.index_date, dict(settings.conditions)
(datetime.date(2025, 1, 1), {'hf': ('ICD10:I50*',)})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from perron.omop.cdm import Cdm, CdmError, read_table_files
from perron.omop.fhir import import_bundles
from perron.omop.mapping import apply
from perron.omop.mapping_spec import load as load_mapping
from perron.omop.schema import SCHEMA
from perron.omop.view import BASE_COLUMNS, CodeSet, Hierarchy, person_table
from perron.protocol.errors import InputError

__all__ = [
    "FORMATS",
    "GROUPS",
    "OmopSettings",
    "analysis_table",
    "cdm_format",
    "read_cdm",
    "read_hierarchy",
]

FORMATS = ("mapping", "fhir", "tables")
"""The forms a station's CDM can take."""
GROUPS = ("conditions", "drugs", "procedures", "measurements")
"""The code-set tables of ``[omop]``, as :func:`person_table` names its arguments."""
_KEYS = frozenset({"index_date", "lookback_days", "format", "hierarchies", *GROUPS})
#: SNOMED CT's is-a relationship type, in RF2 relationship files.
_IS_A = "116680003"
#: The column the analysis table leaves out: the CDM's own row number of a person.
_DROPPED = "person_id"


@dataclass(frozen=True)
class OmopSettings:
    """The ``[omop]`` table: how the station's CDM becomes its analysis table.

    Parameters
    ----------
    index_date
        Ages are taken, and events counted, at this date; ``None``: the day the
        table is built.
    lookback_days
        Count only events this many days before the index date (``None``: all).
    format
        ``"mapping"``, ``"fhir"`` or ``"tables"``; ``None``: recognised from the path.
    conditions, drugs, procedures, measurements
        Column name -> code patterns (``"VOCAB:code"`` or ``"VOCAB:prefix*"``).
    hierarchies
        Code system -> parent-to-children table, or the file to read it from.
    """

    index_date: date | None = None
    lookback_days: int | None = None
    format: str | None = None
    conditions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    drugs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    procedures: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    measurements: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hierarchies: Mapping[str, Hierarchy | Path] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: Any, base: Path) -> OmopSettings:
        """Read and check an ``[omop]`` table; files are relative to ``base``.

        Raises
        ------
        InputError
            Naming the key and what is wrong with it.
        """
        if not isinstance(raw, Mapping):
            raise InputError("[omop] must be a table (index_date, conditions, ...).")
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise InputError(
                f"[omop] has unknown keys {unknown}; the keys are {sorted(_KEYS)} "
                "(check the spelling)."
            )
        groups = {group: _code_sets(group, raw.get(group, {})) for group in GROUPS}
        names = [name for sets in groups.values() for name in sets]
        clashes = sorted({n for n in names if names.count(n) > 1 or n in BASE_COLUMNS})
        if clashes:
            raise InputError(
                f"[omop] names the columns {clashes} twice, or as a base column of the "
                f"person table {list(BASE_COLUMNS)}; give each code set its own name."
            )
        return cls(
            index_date=_index_date(raw.get("index_date")),
            lookback_days=_lookback(raw.get("lookback_days")),
            format=_format(raw.get("format")),
            hierarchies=_hierarchies(raw.get("hierarchies", {}), base),
            **groups,
        )

    def resolved_hierarchies(self) -> dict[str, Hierarchy]:
        """Every hierarchy as a table (files read now)."""
        return {
            vocabulary: read_hierarchy(value) if isinstance(value, Path) else value
            for vocabulary, value in self.hierarchies.items()
        }


def _code_sets(group: str, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise InputError(
            f"[omop.{group}] must be a table of column name = code patterns, e.g. "
            'heart_failure = "ICD10:I50*".'
        )
    sets: dict[str, tuple[str, ...]] = {}
    for name, value in raw.items():
        patterns = [value] if isinstance(value, str) else value
        if (
            not isinstance(patterns, Sequence)
            or not patterns
            or not all(isinstance(p, str) for p in patterns)
        ):
            raise InputError(
                f"[omop.{group}] {name} must be a code pattern or a non-empty list of them "
                f'("VOCAB:code" or "VOCAB:prefix*"), not {value!r}.'
            )
        try:
            CodeSet.parse(*patterns)
        except InputError as error:
            raise InputError(f"[omop.{group}] {name}: {error}") from None
        sets[str(name)] = tuple(patterns)
    return sets


def _index_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"[omop] index_date must be a date (2025-01-01), not {value!r}.") from None


def _lookback(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(
            f"[omop] lookback_days must be a whole number of days >= 0, not {value!r}."
        )
    return value


def _format(value: Any) -> str | None:
    if value is None:
        return None
    if value not in FORMATS:
        raise InputError(f"[omop] format must be one of {list(FORMATS)}, not {value!r}.")
    return str(value)


def _hierarchies(raw: Any, base: Path) -> dict[str, Hierarchy | Path]:
    if not isinstance(raw, Mapping):
        raise InputError(
            "[omop.hierarchies] must be a table of code system = file, or of code "
            'system = {parent = [children]} (e.g. SNOMED = "snomed_isa.csv").'
        )
    found: dict[str, Hierarchy | Path] = {}
    for vocabulary, value in raw.items():
        where = f"[omop.hierarchies] {vocabulary}"
        if isinstance(value, str):
            path = Path(value) if Path(value).is_absolute() else base / value
            if not path.is_file():
                raise InputError(f"{where}: the file {str(path)!r} does not exist.")
            found[str(vocabulary)] = path
        elif isinstance(value, Mapping):
            tree: dict[str, tuple[str, ...]] = {}
            for parent, children in value.items():
                if isinstance(children, str) or not isinstance(children, Sequence):
                    raise InputError(
                        f"{where}: the children of {parent!r} must be a list of codes."
                    )
                tree[str(parent)] = tuple(str(child) for child in children)
            found[str(vocabulary)] = tree
        else:
            raise InputError(
                f"{where} must be a file name or a table of parent = [children], not {value!r}."
            )
    return found


def read_hierarchy(path: Path) -> Hierarchy:
    """Parent -> children from a file of ``parent,child`` rows or a SNOMED CT RF2
    relationship file (tab-separated; active is-a rows: child ``sourceId``, parent
    ``destinationId``). ``.txt`` and ``.tsv`` files are read as tab-separated.

    Raises
    ------
    InputError
        The file cannot be read or has neither layout.
    """
    separator = "\t" if path.suffix.lower() in (".txt", ".tsv") else ","
    try:
        frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"hierarchy file {str(path)!r} cannot be read: {exc}") from None
    columns = set(frame.columns)
    if {"parent", "child"} <= columns:
        pairs = frame[["parent", "child"]]
    elif {"sourceId", "destinationId", "typeId"} <= columns:
        keep = frame["typeId"] == _IS_A
        if "active" in columns:
            keep &= frame["active"] == "1"
        pairs = frame.loc[keep, ["destinationId", "sourceId"]]
        pairs.columns = pd.Index(["parent", "child"])
    else:
        raise InputError(
            f"hierarchy file {str(path)!r} has the columns {sorted(columns)}; give parent "
            "and child columns, or a SNOMED CT RF2 relationship file (sourceId, "
            "destinationId, typeId)."
        )
    tree: dict[str, list[str]] = {}
    for parent, child in pairs.itertuples(index=False):
        if parent and child:
            tree.setdefault(str(parent).strip(), []).append(str(child).strip())
    return {parent: tuple(children) for parent, children in tree.items()}


def cdm_format(path: Path, given: str | None = None) -> str:
    """The form of the CDM at ``path``: ``given``, or recognised from the path.

    A ``.toml`` file is a mapping; a ``.json`` file or a folder of ``*.json`` files
    holds FHIR bundles; a folder with files named after CDM tables
    (``person.csv``, ``condition_occurrence.parquet``, ...) holds CDM tables.

    Raises
    ------
    InputError
        The path does not exist, or its form is not recognised.
    """
    if not path.exists():
        raise InputError(
            f'dataset {str(path)!r} (reader = "omop") does not exist; name a CDM mapping '
            "file, a folder of FHIR R4 bundles or a folder of CDM tables."
        )
    if given is not None:
        return given
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".toml":
            return "mapping"
        if suffix == ".json":
            return "fhir"
    else:
        stems = {p.stem for p in path.iterdir() if p.suffix.lower() in (".csv", ".parquet", ".pq")}
        if stems & set(SCHEMA):
            return "tables"
        if any(path.glob("*.json")):
            return "fhir"
    raise InputError(
        f'dataset {str(path)!r} (reader = "omop") is not a CDM mapping (.toml), FHIR '
        "bundles (.json, or a folder of them) or a folder of CDM tables (person.csv, ...); "
        'set [omop] format = "mapping", "fhir" or "tables".'
    )


def read_cdm(path: Path, kind: str | None = None) -> Cdm:
    """The validated CDM at ``path`` (see :func:`cdm_format`).

    Raises
    ------
    InputError
        The path is not a CDM in a known form.
    CdmError
        (``MappingError``, ``FhirError``) the data do not fit the CDM; every problem is
        named.
    """
    kind = cdm_format(path, kind)
    if kind == "mapping":
        return apply(load_mapping(path))
    if kind == "fhir":
        files = [path] if path.is_file() else sorted(path.glob("*.json"))
        if not files:
            raise InputError(f"{str(path)!r} holds no FHIR bundle (*.json).")
        return import_bundles(files).cdm
    if not path.is_dir():
        raise InputError(f"{str(path)!r} is not a folder of CDM tables (person.csv, ...).")
    try:
        return Cdm(read_table_files(path))
    except CdmError as error:
        raise CdmError(
            f"the CDM tables in {str(path)!r} do not fit OMOP CDM v5.4",
            error.problems,
            "Fix the tables named above; `perron station quality` reports on them as they are.",
        ) from None


def analysis_table(
    path: Path, settings: OmopSettings, *, today: date | None = None
) -> pd.DataFrame:
    """The station's analysis table: one row per person of the CDM at ``path``.

    :func:`~perron.omop.view.person_table` at ``settings.index_date`` (else ``today``,
    else the current date) with the code sets and hierarchies of ``settings``,
    without ``person_id``.
    """
    cdm = read_cdm(path, settings.format)
    table = person_table(
        cdm,
        settings.index_date or today or date.today(),
        conditions=settings.conditions,
        drugs=settings.drugs,
        procedures=settings.procedures,
        measurements=settings.measurements,
        hierarchies=settings.resolved_hierarchies() or None,
        lookback_days=settings.lookback_days,
    )
    return table.drop(columns=[_DROPPED])
