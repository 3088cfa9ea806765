"""The mapping file: its dataclasses, and reading and checking it.

The format is described in :mod:`perron.omop.mapping`, which applies a mapping.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from perron.omop.cdm import CdmError, Problem
from perron.omop.schema import (
    CONCEPTS,
    DATE,
    DATETIME,
    FLOAT,
    INTEGER,
    SCHEMA,
    TEXT,
    VOCABULARIES,
    Field,
)

__all__ = [
    "CdmMapping",
    "FieldRule",
    "MappingError",
    "SourceSpec",
    "TableRule",
    "field_reading",
    "load",
    "loads",
]

Part = Literal["year", "month", "day"]
_SPEC_KEYS = ("column", "format", "part", "plus_days", "values", "default", "key", "codes")
_RULE_KEYS = ("source", "where_present")
_TOP_KEYS = ("name", "description", "sources", "cdm", "observation_period")
_PARTS = ("year", "month", "day")


class MappingError(CdmError):
    """A mapping file, or the data it maps, has problems; all are listed."""


@dataclass(frozen=True)
class SourceSpec:
    """A flat source table: its name, optional file and optional declared columns."""

    name: str
    file: str | None = None
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FieldRule:
    """How one CDM field is filled (see the module docstring for the keys)."""

    field: str
    kind: Literal["constant", "column", "key", "codes"]
    constant: object = None
    column: str | None = None
    format: str | None = None
    part: Part | None = None
    plus_days: int | str | None = None
    values: Mapping[str, object] | None = None
    default: object = None
    codes: Mapping[str, str] | None = None

    def source_columns(self) -> tuple[str, ...]:
        """The source columns this rule reads."""
        used = [self.column] if self.column is not None else []
        if isinstance(self.plus_days, str):
            used.append(self.plus_days)
        if self.codes is not None:
            used.extend(self.codes.values())
        return tuple(used)


@dataclass(frozen=True)
class TableRule:
    """One ``[[cdm.<table>]]`` entry: a source feeding a CDM table."""

    table: str
    index: int
    source: str
    fields: Mapping[str, FieldRule]
    where_present: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return f"cdm.{self.table}[{self.index}]"


@dataclass(frozen=True)
class CdmMapping:
    """A checked mapping file.

    Attributes
    ----------
    name, description : str
    sources : mapping of str to SourceSpec
    rules : tuple of TableRule
    observation_period_type : int or None
        When set, observation periods are derived from the events with this
        ``period_type_concept_id``.
    base : Path or None
        The folder of the mapping file; source files are relative to it.
    origin : str
        The file name, for messages.
    """

    name: str
    sources: Mapping[str, SourceSpec]
    rules: tuple[TableRule, ...]
    description: str = ""
    observation_period_type: int | None = None
    base: Path | None = None
    origin: str = "<mapping>"


# --------------------------------------------------------------------------------------
# Reading and checking the file
# --------------------------------------------------------------------------------------


def load(path: str | Path) -> CdmMapping:
    """Read and check a TOML mapping file.

    Raises
    ------
    MappingError
        Listing every problem in the file (unknown CDM tables or fields, required
        fields not mapped, unknown source columns where ``columns`` are declared,
        bad date formats, values of the wrong type, unknown code systems, ...).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(
            f"mapping {str(path)!r}",
            [Problem(str(path), None, f"cannot be read ({exc.strerror}).")],
            "Check the path.",
        ) from exc
    return loads(text, base=path.parent, origin=path.name)


def loads(text: str, *, base: Path | None = None, origin: str = "<mapping>") -> CdmMapping:
    """Parse and check a mapping from TOML text (see :func:`load`).

    Examples
    --------
    >>> mapping = loads('''
    ... [sources.people]
    ... [[cdm.person]]
    ... source = "people"
    ... person_id = { key = "id" }
    ... gender_concept_id = 0
    ... year_of_birth = { column = "born", format = "%d-%m-%Y", part = "year" }
    ... race_concept_id = 0
    ... ethnicity_concept_id = 0
    ... ''')
    >>> [rule.location for rule in mapping.rules]
    ['cdm.person[0]']
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(
            f"mapping {origin!r}",
            [Problem(origin, None, f"is not valid TOML: {exc}.")],
            "Fix the TOML syntax.",
        ) from exc
    mapping, problems = _parse(document, base=base, origin=origin)
    if problems:
        raise MappingError(
            f"mapping {origin!r}", problems, "Fix the mapping file at the places named above."
        )
    return mapping


def _parse(
    document: Mapping[str, object], *, base: Path | None, origin: str
) -> tuple[CdmMapping, list[Problem]]:
    problems: list[Problem] = []
    for key in document:
        if key not in _TOP_KEYS:
            problems.append(
                Problem(origin, key, f"is not a mapping key; use {', '.join(_TOP_KEYS)}.")
            )
    sources = _parse_sources(document.get("sources", {}), problems)
    rules: list[TableRule] = []
    cdm = document.get("cdm", {})
    if not isinstance(cdm, dict):
        problems.append(Problem("cdm", None, "must be a table of [[cdm.<table>]] entries."))
        cdm = {}
    for table, entries in cdm.items():
        if table not in SCHEMA:
            problems.append(
                Problem(
                    f"cdm.{table}",
                    None,
                    f"is not a table of the CDM subset; use one of {', '.join(SCHEMA)}.",
                )
            )
            continue
        if not isinstance(entries, list):
            problems.append(
                Problem(f"cdm.{table}", None, f"must be written [[cdm.{table}]] (an array).")
            )
            continue
        for index, entry in enumerate(entries):
            rule = _parse_rule(table, index, entry, sources, problems)
            if rule is not None:
                rules.append(rule)
    period_type = _parse_periods(document.get("observation_period"), cdm, problems)
    _check_keys(rules, problems)
    name = document.get("name", origin)
    description = document.get("description", "")
    mapping = CdmMapping(
        name=str(name),
        sources=sources,
        rules=tuple(rules),
        description=str(description),
        observation_period_type=period_type,
        base=base,
        origin=origin,
    )
    return mapping, problems


def _parse_sources(raw: object, problems: list[Problem]) -> dict[str, SourceSpec]:
    if not isinstance(raw, dict):
        problems.append(Problem("sources", None, "must be a table of [sources.<name>] tables."))
        return {}
    sources: dict[str, SourceSpec] = {}
    for name, spec in raw.items():
        where = f"sources.{name}"
        if not isinstance(spec, dict):
            problems.append(Problem(where, None, "must be a table (file, columns)."))
            continue
        for key in spec:
            if key not in ("file", "columns"):
                problems.append(Problem(where, key, "is not a source key; use file or columns."))
        file = spec.get("file")
        if file is not None and not isinstance(file, str):
            problems.append(Problem(where, "file", "must be a path (a string)."))
            file = None
        columns = spec.get("columns")
        if columns is not None and not (
            isinstance(columns, list) and all(isinstance(c, str) for c in columns)
        ):
            problems.append(Problem(where, "columns", "must be a list of column names."))
            columns = None
        sources[name] = SourceSpec(name, file, tuple(columns) if columns is not None else None)
    return sources


def _parse_periods(raw: object, cdm: Mapping[str, object], problems: list[Problem]) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(Problem("observation_period", None, "must be a table."))
        return None
    for key in raw:
        if key not in ("from_events", "period_type_concept_id"):
            problems.append(
                Problem(
                    "observation_period",
                    key,
                    "is not a key here; use from_events and period_type_concept_id.",
                )
            )
    if raw.get("from_events") is not True:
        problems.append(
            Problem(
                "observation_period",
                "from_events",
                "must be true (or leave [observation_period] out and map "
                "[[cdm.observation_period]]).",
            )
        )
        return None
    if "observation_period" in cdm:
        problems.append(
            Problem(
                "observation_period",
                None,
                "derives periods from events, but [[cdm.observation_period]] maps them too; "
                "keep one.",
            )
        )
    kind = raw.get("period_type_concept_id", CONCEPTS["EHR"])
    if not isinstance(kind, int) or isinstance(kind, bool):
        problems.append(
            Problem("observation_period", "period_type_concept_id", "must be an integer.")
        )
        return None
    return kind


def _parse_rule(
    table: str,
    index: int,
    entry: object,
    sources: Mapping[str, SourceSpec],
    problems: list[Problem],
) -> TableRule | None:
    where = f"cdm.{table}[{index}]"
    if not isinstance(entry, dict):
        problems.append(Problem(where, None, "must be a table of CDM fields."))
        return None
    schema = SCHEMA[table]
    source = entry.get("source")
    spec: SourceSpec | None = None
    if not isinstance(source, str):
        problems.append(Problem(where, "source", "is missing; name the source table it maps."))
        source = ""
    elif source not in sources:
        problems.append(
            Problem(
                where,
                "source",
                f"names {source!r}, which is not declared; add [sources.{source}].",
            )
        )
    else:
        spec = sources[source]
    present = entry.get("where_present", [])
    if not (isinstance(present, list) and all(isinstance(c, str) for c in present)):
        problems.append(Problem(where, "where_present", "must be a list of source columns."))
        present = []
    fields: dict[str, FieldRule] = {}
    for name, value in entry.items():
        if name in _RULE_KEYS:
            continue
        cdm_field = schema.field(name)
        if cdm_field is None:
            problems.append(
                Problem(
                    where,
                    name,
                    f"is not a field of CDM table {table}; check the spelling "
                    "(OMOP CDM v5.4 field names, lower case).",
                )
            )
            continue
        rule = _parse_field(where, cdm_field, value, problems)
        if rule is not None:
            fields[name] = rule
    for cdm_field in schema.fields:
        if cdm_field.required and cdm_field.name not in entry:
            auto = cdm_field.primary_key and table != "person"
            if not auto:
                problems.append(
                    Problem(
                        where,
                        cdm_field.name,
                        "is required and not mapped; map it to a column, a key or a "
                        "constant (0 where no concept is known).",
                    )
                )
    if spec is not None and spec.columns is not None:
        used = [c for r in fields.values() for c in r.source_columns()] + list(present)
        for column in dict.fromkeys(used):
            if column not in spec.columns:
                problems.append(
                    Problem(
                        where,
                        field_reading(fields, column) or "where_present",
                        f"reads column {column!r}, which source {source!r} does not have "
                        f"(it declares {', '.join(spec.columns)}).",
                    )
                )
    return TableRule(table, index, source, fields, tuple(present))


def field_reading(fields: Mapping[str, FieldRule], column: str) -> str | None:
    return next((name for name, r in fields.items() if column in r.source_columns()), None)


def _parse_field(
    where: str, cdm_field: Field, value: object, problems: list[Problem]
) -> FieldRule | None:
    name = cdm_field.name
    start = len(problems)

    def bad(reason: str) -> None:
        problems.append(Problem(where, name, reason))

    if not isinstance(value, dict):
        reason = _constant_problem(cdm_field, value)
        if reason is not None:
            bad(reason)
            return None
        return FieldRule(name, "constant", constant=value)
    unknown = [k for k in value if k not in _SPEC_KEYS]
    if unknown:
        bad(f"has unknown keys {unknown}; use {', '.join(_SPEC_KEYS)}.")
    sources = [k for k in ("column", "key", "codes") if k in value]
    if len(sources) != 1:
        bad("needs exactly one of column, key or codes (or a bare constant).")
        return None
    kind = sources[0]
    extras = [k for k in value if k in _SPEC_KEYS and k != kind]
    if kind in ("key", "codes") and extras:
        bad(f"{kind} takes no other keys (got {', '.join(extras)}).")
    if kind == "key":
        key = value["key"]
        if not isinstance(key, str):
            bad("key must name a source column.")
        elif not (cdm_field.primary_key or cdm_field.references):
            bad("takes no key: only primary keys, person_id and visit_occurrence_id do.")
        return None if len(problems) > start else FieldRule(name, "key", column=key)
    if kind == "codes":
        codes = value["codes"]
        if not name.endswith("_source_codes"):
            bad("takes no codes: only the *_source_codes fields do.")
        elif not isinstance(codes, dict) or not all(isinstance(c, str) for c in codes.values()):
            bad('codes must map code systems to columns: { ICD10 = "icd10" }.')
        else:
            for vocabulary in codes:
                if vocabulary not in VOCABULARIES:
                    bad(
                        f"code system {vocabulary!r} is unknown; "
                        f"use one of {', '.join(VOCABULARIES)}."
                    )
        if len(problems) > start:
            return None
        return FieldRule(name, "codes", codes=dict(codes))
    column = value["column"]
    if not isinstance(column, str):
        bad("column must name a source column.")
    fmt = value.get("format")
    part = value.get("part")
    plus = value.get("plus_days")
    is_date = cdm_field.type in (DATE, DATETIME)
    if part is not None:
        if part not in _PARTS:
            bad(f"part {part!r} is not one of {', '.join(_PARTS)}.")
        elif cdm_field.type is not INTEGER:
            bad("part gives an integer; use it on an integer field such as year_of_birth.")
    if fmt is not None:
        if not isinstance(fmt, str):
            bad("format must be a strptime format such as '%Y-%m-%d'.")
        else:
            reason = _format_problem(fmt, part)
            if reason is not None:
                bad(reason)
        if not is_date and part is None:
            bad("format reads dates; use it on a date field, or with part on an integer field.")
    if plus is not None:
        if not is_date:
            bad("plus_days adds days to a date; use it on a date field.")
        elif isinstance(plus, bool) or not isinstance(plus, int | str):
            bad("plus_days must be a whole number of days or a column of them.")
    values = value.get("values")
    if values is not None:
        if not isinstance(values, dict):
            bad("values must be a table: { source value = CDM value }.")
            values = None
        else:
            for source_value, target in values.items():
                reason = _constant_problem(cdm_field, target)
                if reason is not None:
                    bad(f"values.{source_value}: {reason}")
    default = value.get("default")
    if default is not None:
        reason = _constant_problem(cdm_field, default)
        if reason is not None:
            bad(f"default: {reason}")
    if len(problems) > start:
        return None
    return FieldRule(
        name,
        "column",
        column=str(column),
        format=fmt,
        part=part,
        plus_days=plus,
        values=values,
        default=default,
    )


def _constant_problem(cdm_field: Field, value: object) -> str | None:
    kind = cdm_field.type
    if isinstance(value, bool):
        return f"{value!r} is a boolean; give a {kind.value}."
    if kind is INTEGER and not isinstance(value, int):
        return f"{value!r} is not an integer."
    if kind is FLOAT and not isinstance(value, int | float):
        return f"{value!r} is not a number."
    if kind is TEXT:
        if not isinstance(value, str):
            return f"{value!r} is not text; quote it."
        if cdm_field.name.endswith("_vocabulary_id") and value not in VOCABULARIES:
            return f"code system {value!r} is unknown; use one of {', '.join(VOCABULARIES)}."
        if cdm_field.length is not None and len(value) > cdm_field.length:
            return f"{value!r} is longer than {cdm_field.length} characters."
    if kind in (DATE, DATETIME):
        if isinstance(value, date):
            return None
        if not isinstance(value, str):
            return f"{value!r} is not a date."
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not an ISO date (YYYY-MM-DD)."
    return None


def _format_problem(fmt: str, part: str | None) -> str | None:
    """Why ``fmt`` cannot read dates, or None when it can."""
    if "%" not in fmt:
        return f"format {fmt!r} has no % directive; write e.g. '%Y-%m-%d'."
    probe = datetime(2001, 2, 3, 4, 5, 6)
    try:
        datetime.strptime(probe.strftime(fmt), fmt)
    except ValueError as exc:
        return f"format {fmt!r} is not a strptime date format ({exc})."
    if part in (None, "year") and "%Y" not in fmt and "%y" not in fmt:
        return f"format {fmt!r} has no year (%Y or %y)."
    return None


def _check_keys(rules: Sequence[TableRule], problems: list[Problem]) -> None:
    """Tables whose primary keys come from source keys; key lookups must point to one."""
    keyed: dict[str, list[bool]] = {}
    for rule in rules:
        primary = SCHEMA[rule.table].primary_key
        if primary is None:
            continue
        spec = rule.fields.get(primary)
        keyed.setdefault(rule.table, []).append(spec is not None and spec.kind == "key")
    for table, flags in keyed.items():
        if any(flags) and not all(flags):
            primary = SCHEMA[table].primary_key
            problems.append(
                Problem(
                    f"cdm.{table}",
                    primary,
                    "is a key in some rules and not in others; use { key = ... } in every "
                    f"[[cdm.{table}]] rule so the ids cannot collide.",
                )
            )
    key_tables = frozenset(t for t, flags in keyed.items() if flags and all(flags))
    for rule in rules:
        for name, spec in rule.fields.items():
            target = SCHEMA[rule.table].field(name)
            if spec.kind != "key" or target is None or target.primary_key:
                continue
            assert target.references is not None  # checked in _parse_field
            if target.references not in key_tables:
                problems.append(
                    Problem(
                        rule.location,
                        name,
                        f"looks up a key in {target.references}, but no [[cdm."
                        f"{target.references}]] rule defines keys "
                        f"({SCHEMA[target.references].primary_key} = {{ key = ... }}).",
                    )
                )
