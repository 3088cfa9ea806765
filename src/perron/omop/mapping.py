"""Flat source tables to the CDM, declared in a TOML mapping file.

A data manager writes one TOML file per holder: which source tables there are and,
for each CDM table, which source feeds it and how each CDM field is filled::

    name = "hospital"

    [sources.patients]
    file = "patients.csv"                  # relative to the mapping file; optional
    columns = ["record_id", "sex", "dob"]  # optional: lets `load` check columns early

    [[cdm.person]]
    source = "patients"
    person_id = { key = "record_id" }      # a source key: Perron numbers persons 1..n
    person_source_value = { column = "record_id" }
    gender_concept_id = { column = "sex", values = { m = 8507, v = 8532 }, default = 0 }
    year_of_birth = { column = "dob", format = "%Y-%m-%d", part = "year" }
    race_concept_id = 0                    # a bare value is a constant
    ethnicity_concept_id = 0

    [observation_period]                   # derive one period per person from events
    from_events = true
    period_type_concept_id = 32817

A field is a constant (a TOML string, number or date) or a table with exactly one of

- ``column`` - copy a source column, optionally with ``format`` (a ``strptime``
  format for dates), ``part`` (``year``, ``month`` or ``day`` of that date),
  ``plus_days`` (a number, or a column of numbers, added to that date), ``values``
  (a value map; unlisted values need ``default``) and ``default`` (for empty cells
  and unlisted values);
- ``key`` - a source key column: on a primary key it numbers the rows by sorted key
  (:func:`~perron.omop.cdm.key_ids`), on ``person_id`` or ``visit_occurrence_id``
  elsewhere it looks the key up in the referenced table;
- ``codes`` - for ``*_source_codes``: ``{ ICD10 = "icd10", SNOMED = "snomed" }``,
  every non-empty coding as ``VOCAB:code``.

A rule may also say ``where_present = ["death_date"]``: only rows with a value in
those source columns are mapped. Primary keys not mapped are numbered 1..n.

:func:`load` checks the file itself, :func:`check` the file against the data, and
:func:`apply` builds the :class:`~perron.omop.cdm.Cdm`; each reports every bad field
at once, located as ``cdm.<table>[<rule>].<field>`` (and source rows where the data
are at fault).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from perron.omop.cdm import (
    Cdm,
    Problem,
    conform,
    key_ids,
    observation_periods_from_events,
)
from perron.omop.mapping_spec import (
    CdmMapping,
    FieldRule,
    MappingError,
    SourceSpec,
    TableRule,
    field_reading,
    load,
    loads,
)
from perron.omop.schema import CODE_SEPARATOR, SCHEMA

__all__ = [
    "CdmMapping",
    "FieldRule",
    "MappingError",
    "SourceSpec",
    "TableRule",
    "apply",
    "check",
    "load",
    "loads",
]

# --------------------------------------------------------------------------------------
# Applying a mapping to the data
# --------------------------------------------------------------------------------------


def _read_source(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        # Text as written: codes and ids keep their leading zeros; only empty cells are missing.
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(f"unsupported file type {suffix!r}; use .csv or .parquet")


def _resolve_sources(
    mapping: CdmMapping, given: Mapping[str, pd.DataFrame] | None, problems: list[Problem]
) -> dict[str, pd.DataFrame]:
    given = given or {}
    frames: dict[str, pd.DataFrame] = {}
    for name in given:
        if name not in mapping.sources:
            problems.append(
                Problem(
                    f"sources.{name}",
                    None,
                    "was given but the mapping does not declare it; add [sources."
                    f"{name}] or drop it.",
                )
            )
    for name, spec in mapping.sources.items():
        if name in given:
            frames[name] = given[name].reset_index(drop=True)
            continue
        if spec.file is None:
            if any(rule.source == name for rule in mapping.rules):
                problems.append(
                    Problem(
                        f"sources.{name}",
                        None,
                        "has no file and was not given; pass it to apply() or set file = ...",
                    )
                )
            continue
        path = Path(spec.file)
        if not path.is_absolute() and mapping.base is not None:
            path = mapping.base / path
        try:
            frames[name] = _read_source(path)
        except (OSError, ValueError) as exc:
            problems.append(Problem(f"sources.{name}", "file", f"cannot be read: {exc}."))
    return frames


def _absent(value: object) -> bool:
    """None, NA, NaN, NaT, or empty or whitespace-only text."""
    if isinstance(value, str):
        return not value.strip()
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    )


def _blank(series: pd.Series) -> pd.Series:
    """The series with every absent value (:func:`_absent`) as None."""
    if series.dtype != object:
        return series
    values = [None if _absent(v) else v for v in series.tolist()]
    return pd.Series(values, index=series.index, dtype=object)


def _dates(rule: TableRule, spec: FieldRule, raw: pd.Series, problems: list[Problem]) -> pd.Series:
    present = raw.notna()
    if spec.format is not None:
        parsed = pd.to_datetime(raw.astype(object), format=spec.format, errors="coerce")
        reason = f"do not match date format {spec.format!r}"
    else:
        parsed = pd.to_datetime(raw.astype(object), format="ISO8601", errors="coerce")
        reason = "are not ISO dates (YYYY-MM-DD); give format = '...'"
    bad = present & parsed.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
        problems.append(
            Problem(
                rule.location,
                spec.field,
                f"values of column {spec.column!r} {reason} (e.g. {examples}).",
                tuple(int(i) for i in np.flatnonzero(bad.to_numpy())),
            )
        )
    return parsed


def _column_values(
    rule: TableRule, spec: FieldRule, frame: pd.DataFrame, problems: list[Problem]
) -> pd.Series:
    assert spec.column is not None
    raw = _blank(frame[spec.column])
    target = SCHEMA[rule.table].field(spec.field)
    assert target is not None
    needs_date = spec.format is not None or spec.part is not None or spec.plus_days is not None
    if needs_date:
        stamps = _dates(rule, spec, raw, problems)
        if spec.plus_days is not None:
            if isinstance(spec.plus_days, str):
                days = pd.to_numeric(_blank(frame[spec.plus_days]), errors="coerce")
                bad = frame[spec.plus_days].notna() & days.isna()
                if bad.any():
                    problems.append(
                        Problem(
                            rule.location,
                            spec.field,
                            f"plus_days column {spec.plus_days!r} holds values that are not "
                            "numbers of days.",
                            tuple(int(i) for i in np.flatnonzero(bad.to_numpy())),
                        )
                    )
            else:
                days = pd.Series(float(spec.plus_days), index=frame.index)
            stamps = stamps + pd.to_timedelta(days, unit="D")
        if spec.part is not None:
            values: pd.Series = getattr(stamps.dt, spec.part).astype("Int64")
        else:
            values = stamps
    else:
        values = raw
    if spec.values is None and spec.default is None:
        return values
    lookup = {str(k): v for k, v in (spec.values or {}).items()}
    out: list[object] = []
    unlisted: list[int] = []
    for row, value in enumerate(values.tolist()):
        if _absent(value):
            out.append(spec.default)
        elif spec.values is None:
            out.append(value)
        elif str(value) in lookup:
            out.append(lookup[str(value)])
        else:
            out.append(spec.default)
            if spec.default is None:
                unlisted.append(row)
    if unlisted:
        examples = ", ".join(repr(v) for v in dict.fromkeys(str(values.iloc[r]) for r in unlisted))
        problems.append(
            Problem(
                rule.location,
                spec.field,
                f"column {spec.column!r} has values the value map does not list "
                f"({examples}); add them to values or give a default.",
                tuple(unlisted),
            )
        )
    return pd.Series(out, index=values.index, dtype=object)


def _codes_values(spec: FieldRule, frame: pd.DataFrame) -> pd.Series:
    assert spec.codes is not None
    columns = {vocabulary: frame[column].tolist() for vocabulary, column in spec.codes.items()}
    joined = [
        CODE_SEPARATOR.join(
            f"{vocabulary}:{values[row]}"
            for vocabulary, values in columns.items()
            if not _absent(values[row])
        )
        or None
        for row in range(len(frame))
    ]
    return pd.Series(joined, index=frame.index, dtype=object)


def _key_maps(mapping: CdmMapping, frames: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    keys: dict[str, list[object]] = {}
    for rule in mapping.rules:
        primary = SCHEMA[rule.table].primary_key
        spec = rule.fields.get(primary) if primary is not None else None
        frame = frames.get(rule.source)
        if spec is None or spec.kind != "key" or frame is None or spec.column not in frame:
            continue
        keys.setdefault(rule.table, []).extend(_blank(frame[spec.column]).tolist())
    return {table: key_ids(values) for table, values in keys.items()}


def _key_values(
    rule: TableRule,
    spec: FieldRule,
    frame: pd.DataFrame,
    maps: Mapping[str, dict[str, int]],
    problems: list[Problem],
) -> pd.Series:
    assert spec.column is not None
    target = SCHEMA[rule.table].field(spec.field)
    assert target is not None
    table = rule.table if target.primary_key else target.references
    assert table is not None
    lookup = maps.get(table, {})
    keys = [None if _absent(v) else str(v) for v in frame[spec.column].tolist()]
    ids = [None if k is None else lookup.get(k) for k in keys]
    unknown = [row for row, (k, i) in enumerate(zip(keys, ids, strict=True)) if k and i is None]
    if unknown:
        examples = ", ".join(repr(k) for k in list(dict.fromkeys(keys[r] for r in unknown))[:3])
        problems.append(
            Problem(
                rule.location,
                spec.field,
                f"keys in column {spec.column!r} are not keys of {table} (e.g. {examples}); "
                f"map those records in [[cdm.{table}]] or fix the keys.",
                tuple(unknown),
            )
        )
    return pd.Series(ids, index=frame.index, dtype="Int64")


def _rule_frame(
    rule: TableRule,
    frame: pd.DataFrame,
    maps: Mapping[str, dict[str, int]],
    problems: list[Problem],
) -> pd.DataFrame | None:
    missing = [
        c
        for c in dict.fromkeys(
            [c for spec in rule.fields.values() for c in spec.source_columns()]
            + list(rule.where_present)
        )
        if c not in frame.columns
    ]
    for column in missing:
        problems.append(
            Problem(
                rule.location,
                field_reading(rule.fields, column) or "where_present",
                f"reads column {column!r}, which source {rule.source!r} does not have "
                f"(it has {', '.join(str(c) for c in frame.columns)}).",
            )
        )
    if missing:
        return None
    out: dict[str, pd.Series] = {}
    for name, spec in rule.fields.items():
        if spec.kind == "constant":
            constant = spec.constant
            if isinstance(constant, date):
                constant = pd.Timestamp(constant)
            out[name] = pd.Series([constant] * len(frame), index=frame.index, dtype=object)
        elif spec.kind == "key":
            out[name] = _key_values(rule, spec, frame, maps, problems)
        elif spec.kind == "codes":
            out[name] = _codes_values(spec, frame)
        else:
            out[name] = _column_values(rule, spec, frame, problems)
    return pd.DataFrame(out, index=frame.index)


def _run(
    mapping: CdmMapping, sources: Mapping[str, pd.DataFrame] | None
) -> tuple[dict[str, pd.DataFrame] | None, list[Problem]]:
    problems: list[Problem] = []
    frames = _resolve_sources(mapping, sources, problems)
    maps = _key_maps(mapping, frames)
    parts: dict[str, list[pd.DataFrame]] = {}
    origin: dict[str, list[tuple[TableRule, int]]] = {}
    for rule in mapping.rules:
        frame = frames.get(rule.source)
        if frame is None:
            continue
        if rule.where_present and all(c in frame.columns for c in rule.where_present):
            keep = pd.concat([_blank(frame[c]).notna() for c in rule.where_present], axis=1)
            frame = frame[keep.all(axis=1).to_numpy()]
        positions = frame.index.to_numpy()
        frame = frame.reset_index(drop=True)
        before = len(problems)
        built = _rule_frame(rule, frame, maps, problems)
        for index in range(before, len(problems)):  # rows of the filtered frame -> source rows
            problem = problems[index]
            if problem.rows:
                problems[index] = Problem(
                    problem.where,
                    problem.field,
                    f"{problem.reason} [source {rule.source!r}]",
                    tuple(int(positions[r]) for r in problem.rows),
                )
        if built is None:
            continue
        parts.setdefault(rule.table, []).append(built)
        origin.setdefault(rule.table, []).extend((rule, int(p)) for p in positions)
    tables: dict[str, pd.DataFrame] = {}
    for table, pieces in parts.items():
        joined = pd.concat(pieces, ignore_index=True)
        primary = SCHEMA[table].primary_key
        if primary is not None and primary not in joined.columns:
            joined.insert(0, primary, list(range(1, len(joined) + 1)))
        tables[table] = joined
    conformed, cdm_problems = conform(tables)
    reported = {(p.where, p.field) for p in problems}
    for problem in cdm_problems:
        problems.extend(p for p in _locate(problem, origin) if (p.where, p.field) not in reported)
    if problems:
        return None, problems
    if mapping.observation_period_type is not None:
        conformed["observation_period"] = observation_periods_from_events(
            conformed, mapping.observation_period_type
        )
    return conformed, []


def _locate(problem: Problem, origin: Mapping[str, list[tuple[TableRule, int]]]) -> list[Problem]:
    """A CDM problem in terms of the mapping rules and source rows that made the rows."""
    rows = origin.get(problem.where)
    if rows is None or not problem.rows:
        return [problem]
    by_rule: dict[str, tuple[TableRule, list[int]]] = {}
    for row in problem.rows:
        rule, source_row = rows[row]
        by_rule.setdefault(rule.location, (rule, []))[1].append(source_row)
    return [
        Problem(location, problem.field, f"{problem.reason} [source {rule.source!r}]", tuple(found))
        for location, (rule, found) in by_rule.items()
    ]


def check(mapping: CdmMapping, sources: Mapping[str, pd.DataFrame] | None = None) -> list[Problem]:
    """Every problem applying ``mapping`` to ``sources`` would meet (empty when none)."""
    return _run(mapping, sources)[1]


def apply(mapping: CdmMapping, sources: Mapping[str, pd.DataFrame] | None = None) -> Cdm:
    """Map flat source tables to a validated :class:`~perron.omop.cdm.Cdm`.

    Parameters
    ----------
    mapping : CdmMapping
        From :func:`load` or :func:`loads`.
    sources : mapping of str to DataFrame, optional
        Source tables by name; sources not given are read from their ``file``
        (CSV as text, or Parquet).

    Raises
    ------
    MappingError
        Listing every problem: columns the sources lack, values that do not match a
        date format or a value map, keys that do not resolve, and every CDM problem
        (type, required, key, period) located at its rule and source rows.

    Examples
    --------
    >>> import pandas as pd
    >>> mapping = loads('''
    ... [sources.people]
    ... [[cdm.person]]
    ... source = "people"
    ... person_id = { key = "id" }
    ... person_source_value = { column = "id" }
    ... gender_concept_id = { column = "sex", values = { m = 8507, v = 8532 }, default = 0 }
    ... year_of_birth = { column = "born", format = "%d-%m-%Y", part = "year" }
    ... race_concept_id = 0
    ... ethnicity_concept_id = 0
    ... ''')
    >>> people = pd.DataFrame(
    ...     {"id": ["b", "a"], "sex": ["v", "x"], "born": ["03-02-1950", "01-01-1961"]})
    >>> cdm = apply(mapping, {"people": people})
    >>> cdm.person[["person_id", "gender_concept_id", "year_of_birth"]]
       person_id  gender_concept_id  year_of_birth
    0          2               8532           1950
    1          1                  0           1961
    """
    tables, problems = _run(mapping, sources)
    if tables is None:
        raise MappingError(
            f"mapping {mapping.origin!r} applied to its sources",
            problems,
            "Fix the mapping file or the source data at the places named above.",
        )
    return Cdm(tables)
