"""The station's harmonised view: a subset of the OMOP Common Data Model v5.4.

Eight tables of OMOP CDM v5.4 (:mod:`perron.omop.schema`): ``person``,
``observation_period``, ``visit_occurrence``, ``condition_occurrence``,
``drug_exposure``, ``procedure_occurrence``, ``measurement`` and ``death``.

Perron ships no OHDSI vocabulary. Concept ids are 0 ("No matching concept") except
for a handful of well-known standard concepts (gender, visit and type concepts:
:data:`~perron.omop.schema.CONCEPTS`). The source code and its code system are kept instead, in two
Perron extension fields per event table (marked ``extension=True``):

- ``<domain>_source_vocabulary_id`` - the code system of ``<domain>_source_value``,
  spelled as an OHDSI ``vocabulary_id`` (``ICD10``, ``SNOMED``, ``ATC``, ``LOINC``,
  ...; :data:`~perron.omop.schema.VOCABULARIES`);
- ``<domain>_source_codes`` - every coding the source gave, as ``VOCAB:code``
  tokens joined by ``|`` (``ICD10:I50.9|SNOMED:84114007``); it defaults to the
  source value with its vocabulary.

A :class:`Cdm` holds one pandas DataFrame per table, conformed to the schema
(``Int64``, ``float64``, ``datetime64[ns]`` or ``object`` strings per field), and is
valid by construction: types, required fields, primary keys, foreign keys to
``person`` and ``visit_occurrence``, and start <= end for every period. Every bad
field is reported at once (:class:`CdmError`, one :class:`Problem` each).

Examples
--------
>>> import pandas as pd
>>> person = pd.DataFrame({"person_id": [1], "gender_concept_id": [8532],
...     "year_of_birth": [1950], "race_concept_id": [0], "ethnicity_concept_id": [0]})
>>> cdm = Cdm({"person": person})
>>> cdm.person["year_of_birth"].tolist(), len(cdm.measurement)
([1950], 0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from perron.omop.schema import (
    CONCEPTS,
    DATE,
    DATETIME,
    FLOAT,
    INTEGER,
    SCHEMA,
    TEXT,
    Field,
    Table,
)
from perron.protocol.errors import InputError

__all__ = [
    "Cdm",
    "CdmError",
    "Problem",
    "conform",
    "empty_table",
    "key_ids",
    "observation_periods_from_events",
    "read_table_files",
]


# --------------------------------------------------------------------------------------
# Problems and the error that lists them
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One bad field: where it is, which field, what is wrong (and in which rows).

    Attributes
    ----------
    where : str
        A CDM table (``"condition_occurrence"``), a mapping rule
        (``"cdm.person[0]"``) or a FHIR resource (``"entry 3 (Condition/c1)"``).
    field : str or None
        The CDM, mapping or FHIR field; None when the problem is the whole place.
    reason : str
        What is wrong and what to do.
    rows : tuple of int
        0-based row positions in the table or source it concerns (if any).
    """

    where: str
    field: str | None
    reason: str
    rows: tuple[int, ...] = ()

    def __str__(self) -> str:
        place = self.where if self.field is None else f"{self.where}.{self.field}"
        text = f"{place}: {self.reason}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:5])
            more = f" and {len(self.rows) - 5} more" if len(self.rows) > 5 else ""
            text += f" (row{'s' * (len(self.rows) > 1)} {shown}{more})"
        return text


class CdmError(InputError):
    """Data that do not fit the CDM; ``problems`` lists every bad field at once."""

    def __init__(self, what: str, problems: Sequence[Problem], hint: str) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"{what}: {count} problem{'s' * (count != 1)}\n{lines}\n{hint}")


# --------------------------------------------------------------------------------------
# Conforming frames to the schema
# --------------------------------------------------------------------------------------


def read_table_files(folder: Path) -> dict[str, pd.DataFrame]:
    """Every ``<table>.csv`` / ``<table>.parquet`` in ``folder`` by its stem, as is (CSV
    as text, empty cells missing); :class:`Cdm` converts and validates them."""
    tables: dict[str, pd.DataFrame] = {}
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            tables[path.stem] = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        elif suffix in (".parquet", ".pq"):
            tables[path.stem] = pd.read_parquet(path)
    return tables


def empty_table(name: str) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of CDM table ``name``."""
    table = SCHEMA[name]
    return pd.DataFrame({f.name: pd.Series([], dtype=f.type.dtype) for f in table.fields})


def _rows(mask: pd.Series) -> tuple[int, ...]:
    return tuple(int(i) for i in np.flatnonzero(mask.to_numpy(dtype=bool)))


def _convert(series: pd.Series, field: Field) -> tuple[pd.Series, pd.Series]:
    """The series in the field's dtype, and the rows whose value could not convert."""
    present = series.notna()
    if field.type is INTEGER:
        if pd.api.types.is_bool_dtype(series):
            return pd.Series(pd.NA, index=series.index, dtype="Int64"), present
        number = pd.to_numeric(series, errors="coerce")
        fractional = number.notna() & (number.astype("float64") % 1 != 0)
        bad = present & (number.isna() | fractional)
        return number.where(~bad).astype("Float64").astype("Int64"), bad
    if field.type is FLOAT:
        if pd.api.types.is_bool_dtype(series):
            return pd.Series(np.nan, index=series.index, dtype="float64"), present
        number = pd.to_numeric(series, errors="coerce").astype("float64")
        return number, present & number.isna()
    if field.type in (DATE, DATETIME):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            stamps = series.dt.tz_localize(None)
        elif pd.api.types.is_datetime64_dtype(series):
            stamps = series
        elif pd.api.types.is_numeric_dtype(series) and present.any():
            stamps = pd.Series(pd.NaT, index=series.index)  # numbers are not dates
        else:
            stamps = pd.to_datetime(series, errors="coerce", format="ISO8601")
        stamps = stamps.astype("datetime64[ns]")
        if field.type is DATE:
            stamps = stamps.dt.normalize()
        return stamps, present & stamps.isna()
    text = [
        None if not keep else v if isinstance(v, str) else str(v)
        for v, keep in zip(series.tolist(), present.tolist(), strict=True)
    ]
    return pd.Series(text, index=series.index, dtype=object), pd.Series(False, index=series.index)


def _fill_codes(frame: pd.DataFrame, table: Table) -> None:
    """``*_source_codes`` defaults to ``VOCAB:value`` of the source value."""
    names = table.codes_field
    if names is None:
        return
    value, vocabulary, codes = names
    missing = frame[codes].isna() & frame[value].notna() & frame[vocabulary].notna()
    if missing.any():
        frame.loc[missing, codes] = (
            frame.loc[missing, vocabulary] + ":" + frame.loc[missing, value]
        ).astype(object)


def _conform_table(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    table = SCHEMA[name]
    problems: list[Problem] = []
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        if table.field(str(column)) is None:
            problems.append(
                Problem(
                    name,
                    str(column),
                    "is not a field of OMOP CDM v5.4 (nor a Perron extension); "
                    "rename it to a CDM field or drop it.",
                )
            )
    out: dict[str, pd.Series] = {}
    for field in table.fields:
        if field.name not in frame.columns:
            if field.required and len(frame) != 0:
                problems.append(
                    Problem(name, field.name, "is required and missing; add the column.")
                )
            out[field.name] = pd.Series(
                [None] * len(frame), index=frame.index, dtype=field.type.dtype
            )
            continue
        converted, bad = _convert(frame[field.name], field)
        if bad.any():
            examples = ", ".join(repr(v) for v in frame[field.name][bad].unique()[:3])
            problems.append(
                Problem(
                    name,
                    field.name,
                    f"holds values that are not {_TYPE_WORDS[field.type]} (e.g. {examples}); "
                    "fix them in the source or the mapping.",
                    _rows(bad),
                )
            )
        elif field.required and converted.isna().any():
            problems.append(
                Problem(
                    name,
                    field.name,
                    "is required but empty; give a value in every row.",
                    _rows(converted.isna()),
                )
            )
        if field.length is not None:
            limit = field.length
            long = pd.Series(
                [isinstance(v, str) and len(v) > limit for v in converted.tolist()],
                index=converted.index,
            )
            if long.any():
                problems.append(
                    Problem(
                        name,
                        field.name,
                        f"holds text longer than {field.length} characters; shorten it.",
                        _rows(long.astype(bool)),
                    )
                )
        out[field.name] = converted
    conformed = pd.DataFrame(out, index=frame.index)
    _fill_codes(conformed, table)
    for start, end in table.periods:
        after = (
            conformed[start].notna() & conformed[end].notna() & (conformed[start] > conformed[end])
        )
        if after.any():
            problems.append(
                Problem(
                    name,
                    end,
                    f"is before {start}; a period must not end before it starts.",
                    _rows(after),
                )
            )
    for key in (table.primary_key, *table.unique):
        if key is None:
            continue
        keys = conformed[key]
        twice = keys.notna() & keys.duplicated(keep=False)
        if twice.any():
            what = "the primary key" if key == table.primary_key else "one row per value"
            problems.append(
                Problem(
                    name,
                    key,
                    f"has duplicate values but is {what}; make them unique.",
                    _rows(twice),
                )
            )
    return conformed, problems


_TYPE_WORDS = {
    INTEGER: "integers",
    FLOAT: "numbers",
    DATE: "ISO dates (YYYY-MM-DD)",
    DATETIME: "ISO date-times",
    TEXT: "text",
}


def _foreign_keys(frames: Mapping[str, pd.DataFrame]) -> list[Problem]:
    problems: list[Problem] = []
    for name, frame in frames.items():
        for field in SCHEMA[name].fields:
            if field.references is None or field.primary_key:
                continue
            target = SCHEMA[field.references].primary_key
            assert target is not None  # only tables with a primary key are referenced
            known = frames[field.references][target]
            values = frame[field.name]
            dangling = values.notna() & ~values.isin(known.dropna())
            if dangling.any():
                problems.append(
                    Problem(
                        name,
                        field.name,
                        f"refers to {field.references}.{target} values that do not exist "
                        f"(e.g. {', '.join(str(v) for v in values[dangling].unique()[:3])}); "
                        f"add them to {field.references} or fix the reference.",
                        _rows(dangling),
                    )
                )
    return problems


def conform(
    tables: Mapping[str, pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Tables in the schema's columns and dtypes, and every problem found.

    Missing tables become empty, missing optional fields empty columns. Use this for
    a quality report; :class:`Cdm` raises on the problems instead.
    """
    problems: list[Problem] = []
    frames: dict[str, pd.DataFrame] = {}
    for name in tables:
        if name not in SCHEMA:
            problems.append(
                Problem(
                    name,
                    None,
                    f"is not a table of Perron's CDM subset ({', '.join(SCHEMA)}); "
                    "drop it or map it to one of these.",
                )
            )
    for name in SCHEMA:
        if name in tables:
            frames[name], found = _conform_table(name, tables[name])
            problems.extend(found)
        else:
            frames[name] = empty_table(name)
    problems.extend(_foreign_keys(frames))
    return frames, problems


class Cdm:
    """The eight CDM tables of one data holder, conformed and validated.

    Parameters
    ----------
    tables : mapping of str to DataFrame, optional
        CDM tables by name; tables not given are empty.

    Raises
    ------
    CdmError
        Listing every bad field: unknown tables or fields, missing required fields or
        values, values of the wrong type, text too long, duplicate keys, references
        to persons or visits that do not exist, periods that end before they start.

    Notes
    -----
    The frames are shared, not copied: treat them as read-only.

    Examples
    --------
    >>> import pandas as pd
    >>> bad = pd.DataFrame({"person_id": [1], "gender_concept_id": [0],
    ...     "year_of_birth": ["19x0"], "race_concept_id": [0], "ethnicity_concept_id": [0]})
    >>> try:
    ...     Cdm({"person": bad})
    ... except CdmError as error:
    ...     print(error.problems[0].field)
    year_of_birth
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame] | None = None) -> None:
        frames, problems = conform(tables or {})
        if problems:
            raise CdmError(
                "the data do not fit OMOP CDM v5.4",
                problems,
                "Fix the fields named above (in the source data or the mapping) and load again.",
            )
        self._tables = frames

    @property
    def person(self) -> pd.DataFrame:
        return self._tables["person"]

    @property
    def observation_period(self) -> pd.DataFrame:
        return self._tables["observation_period"]

    @property
    def visit_occurrence(self) -> pd.DataFrame:
        return self._tables["visit_occurrence"]

    @property
    def condition_occurrence(self) -> pd.DataFrame:
        return self._tables["condition_occurrence"]

    @property
    def drug_exposure(self) -> pd.DataFrame:
        return self._tables["drug_exposure"]

    @property
    def procedure_occurrence(self) -> pd.DataFrame:
        return self._tables["procedure_occurrence"]

    @property
    def measurement(self) -> pd.DataFrame:
        return self._tables["measurement"]

    @property
    def death(self) -> pd.DataFrame:
        return self._tables["death"]

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            raise InputError(f"{name!r} is not a CDM table; use one of {', '.join(SCHEMA)}.")
        return self._tables[name]

    def tables(self) -> dict[str, pd.DataFrame]:
        """All tables by name, in load order."""
        return dict(self._tables)

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {name: len(frame) for name, frame in self._tables.items()}

    def replace(self, **tables: pd.DataFrame) -> Cdm:
        """A new, validated Cdm with some tables replaced."""
        return Cdm({**self._tables, **tables})

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={n}" for name, n in self.counts().items())
        return f"Cdm({counts})"


# --------------------------------------------------------------------------------------
# Observation periods derived from events
# --------------------------------------------------------------------------------------

_EVENT_DATES: tuple[tuple[str, str, str | None], ...] = (
    ("visit_occurrence", "visit_start_date", "visit_end_date"),
    ("condition_occurrence", "condition_start_date", "condition_end_date"),
    ("drug_exposure", "drug_exposure_start_date", "drug_exposure_end_date"),
    ("procedure_occurrence", "procedure_date", "procedure_end_date"),
    ("measurement", "measurement_date", None),
    ("death", "death_date", None),
)


def observation_periods_from_events(
    tables: Mapping[str, pd.DataFrame] | Cdm, type_concept_id: int = CONCEPTS["EHR"]
) -> pd.DataFrame:
    """One observation period per person: first event start to last event end.

    The usual ETL convention where the source has no enrolment data: every visit,
    condition, drug exposure, procedure, measurement and death counts; an event
    without an end date ends on its start date. Persons without events get no
    period. Ids are numbered by ``person_id``.

    Parameters
    ----------
    tables : Cdm or mapping of str to DataFrame
        Conformed CDM tables (as :func:`conform` returns them).
    type_concept_id : int
        ``period_type_concept_id`` of every period (default 32817, EHR).
    """
    frames = tables.tables() if isinstance(tables, Cdm) else tables
    parts: list[pd.DataFrame] = []
    for name, start, end in _EVENT_DATES:
        frame = frames.get(name)
        if frame is None or frame.empty:
            continue
        stop = frame[end].fillna(frame[start]) if end is not None else frame[start]
        parts.append(
            pd.DataFrame({"person_id": frame["person_id"], "start": frame[start], "end": stop})
        )
    if not parts:
        return empty_table("observation_period")
    events = pd.concat(parts, ignore_index=True).dropna(subset=["person_id", "start"])
    spans = events.groupby("person_id", sort=True).agg(start=("start", "min"), end=("end", "max"))
    return pd.DataFrame(
        {
            "observation_period_id": pd.array(np.arange(1, len(spans) + 1), dtype="Int64"),
            "person_id": pd.array(spans.index.to_numpy(), dtype="Int64"),
            "observation_period_start_date": spans["start"].to_numpy(),
            "observation_period_end_date": spans["end"].to_numpy(),
            "period_type_concept_id": pd.array([type_concept_id] * len(spans), dtype="Int64"),
        }
    )


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def key_ids(keys: Iterable[object]) -> dict[str, int]:
    """Integer ids 1..n for source keys, in sorted order of their text.

    Both the mapping and the FHIR import number persons, visits and events this
    way, so the same source keys give the same CDM ids by either path.
    """
    unique = sorted({str(k) for k in keys if not _missing(k)})
    return {key: number for number, key in enumerate(unique, start=1)}
