"""Run the check catalogue on a holder's CDM: :func:`run_checks`.

The checks run on a validated :class:`~perron.omop.cdm.Cdm`, and just as well on
CDM tables that its validation would reject (a mapping mid-way, an export from a
database): those are conformed to the schema's types with
:func:`~perron.omop.cdm.conform`, which reports instead of raising, so the report
can count exactly what validation would refuse (values of the wrong type, missing
required values, duplicate keys, dangling references, periods that end before
they start). Each check gets a status by DQD's rules, in this priority:

- ``error``: the check could not run (its table, or a table it compares with,
  cannot be read: not a table, duplicate column names, ...);
- ``not_applicable``: its table is absent or empty, its field is absent or holds
  no value (``measureValueCompleteness`` excepted), or no record has its concept;
- ``failed``: more than ``threshold`` percent of the rows violate it;
- ``passed``.

The report holds exact numbers: it stays at the station. Release it with
:meth:`~perron.quality.report.QualityReport.released`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perron.omop.cdm import Cdm, conform, empty_table
from perron.omop.schema import CONCEPTS, DATE, DATETIME, SCHEMA, TEXT, VOCABULARIES
from perron.omop.view import CodeSet
from perron.protocol.errors import InputError
from perron.quality import dqd
from perron.quality.checks import Check, Level, Status, catalogue, fills_concept
from perron.quality.report import QualityReport
from perron.quality.rows import CheckResult, Count, CoverageRow, pct
from perron.quality.settings import (
    GenderRule,
    IntervalRule,
    QualitySettings,
    UnitRule,
    ValueRange,
)

__all__ = ["result_of", "run_checks"]

logger = logging.getLogger(__name__)

Tables = Cdm | Mapping[str, pd.DataFrame]


# --------------------------------------------------------------------------------------
# The data as the checks see them
# --------------------------------------------------------------------------------------


@dataclass
class _Data:
    """Conformed frames plus what conforming them hid: which tables and fields were
    given, which raw values were present, which did not fit their type."""

    settings: QualitySettings
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Table -> the fields given (None: the table was not given).
    given: dict[str, frozenset[str] | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    filled: dict[tuple[str, str], pd.Series] = field(default_factory=dict)
    bad_type: dict[tuple[str, str], pd.Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def today(self) -> pd.Timestamp:
        return pd.Timestamp(self.settings.reference_date)

    def frame(self, table: str) -> pd.DataFrame:
        return self.frames[table]

    def present(self, table: str, name: str) -> pd.Series:
        """Rows of ``table`` with a value in ``name`` as given (before conversion)."""
        return self.filled[(table, name)]

    def persons(self) -> pd.Series:
        return self.frames["person"]["person_id"].dropna().drop_duplicates()

    def births(self) -> pd.Series:
        """Birth date per person_id: birth_datetime, else year-month-day (1 if unknown)."""
        person = self.frames["person"]
        stamp = person["birth_datetime"].dt.normalize()
        year = person["year_of_birth"].astype("Float64")
        month = person["month_of_birth"].astype("Float64").fillna(1)
        day = person["day_of_birth"].astype("Float64").fillna(1)
        valid = (year.between(1678, 2261) & month.between(1, 12) & day.between(1, 31)).fillna(False)
        built = pd.Series(pd.NaT, index=person.index, dtype="datetime64[ns]")
        if valid.any():
            parts = pd.DataFrame(
                {
                    "year": year[valid].astype("int64"),
                    "month": month[valid].astype("int64"),
                    "day": day[valid].astype("int64"),
                }
            )
            built[valid.to_numpy(dtype=bool)] = pd.to_datetime(parts, errors="coerce")
        births = stamp.fillna(built)
        keep = person["person_id"].notna().to_numpy(dtype=bool)
        return pd.Series(births.to_numpy()[keep], index=person["person_id"][keep].to_numpy())

    def deaths(self) -> pd.Series:
        """Earliest death date per person_id."""
        death = self.frames["death"].dropna(subset=["person_id", "death_date"])
        return death.groupby("person_id")["death_date"].min()


def _given_cdm(cdm: Cdm, settings: QualitySettings) -> _Data:
    data = _Data(settings)
    for name, frame in cdm.tables().items():
        data.frames[name] = frame
        data.given[name] = frozenset(SCHEMA[name].names)
        for spec in SCHEMA[name].fields:
            data.filled[(name, spec.name)] = frame[spec.name].notna()
            data.bad_type[(name, spec.name)] = pd.Series(False, index=frame.index)
    return data


def _given_tables(tables: Mapping[str, pd.DataFrame], settings: QualitySettings) -> _Data:
    data = _Data(settings)
    unknown = sorted(str(name) for name in tables if name not in SCHEMA)
    if unknown:
        data.notes.append(
            f"tables {unknown} are not in Perron's CDM subset ({', '.join(SCHEMA)}); they "
            "were not checked."
        )
    for name, table in SCHEMA.items():
        raw = tables.get(name)
        if raw is None:
            data.given[name] = None
            data.frames[name] = empty_table(name)
            continue
        try:
            frame, raw = _conformed(name, raw)
        except Exception as exc:  # a table pandas cannot even conform: its checks fail
            logger.warning("quality: table %s cannot be read", name, exc_info=True)
            data.errors[name] = str(exc) if isinstance(exc, InputError) else type(exc).__name__
            data.given[name] = frozenset()
            data.frames[name] = empty_table(name)
            continue
        columns = frozenset(str(c) for c in raw.columns)
        extra = sorted(columns - set(table.names))
        if extra:
            data.notes.append(
                f"table {name} has fields {extra} that are not in OMOP CDM v5.4; they were "
                "not checked."
            )
        derived = table.codes_field
        if derived is not None and derived[0] in columns:
            columns |= {derived[2]}  # conform fills the codings from the source value
        data.given[name] = columns & set(table.names)
        data.frames[name] = frame
        for spec in table.fields:
            if derived is not None and spec.name == derived[2] and spec.name not in raw.columns:
                data.filled[(name, spec.name)] = frame[spec.name].notna()
                data.bad_type[(name, spec.name)] = pd.Series(False, index=frame.index)
                continue
            if spec.name not in columns:
                data.filled[(name, spec.name)] = pd.Series(False, index=frame.index)
                data.bad_type[(name, spec.name)] = pd.Series(False, index=frame.index)
                continue
            given = _given_values(raw[spec.name])
            data.filled[(name, spec.name)] = given
            if spec.type is TEXT:
                limit = spec.length
                bad = pd.Series(
                    [
                        limit is not None and isinstance(v, str) and len(v) > limit
                        for v in frame[spec.name].tolist()
                    ],
                    index=frame.index,
                    dtype=bool,
                )
            else:
                bad = given & frame[spec.name].isna()
            data.bad_type[(name, spec.name)] = bad
    return data


def _given_values(series: pd.Series) -> pd.Series:
    """Rows with a value: not missing, and not blank text (an empty CSV cell)."""
    given = series.notna()
    if series.dtype == object:
        given &= ~series.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    return given.reset_index(drop=True)


def _conformed(name: str, raw: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not isinstance(raw, pd.DataFrame):
        raise InputError(f"is a {type(raw).__name__}, not a table (pandas DataFrame)")
    labels = [str(c) for c in raw.columns]
    twice = sorted({c for c in labels if labels.count(c) > 1})
    if twice:
        raise InputError(f"has the columns {twice} more than once")
    raw = raw.reset_index(drop=True)
    frames, _ = conform({name: raw})  # the problems are what the checks count
    return frames[name], raw


# --------------------------------------------------------------------------------------
# One outcome per check
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    violated: int = 0
    denominator: int = 0
    not_applicable: str | None = None
    notes: str = ""


def _na(reason: str) -> _Outcome:
    return _Outcome(not_applicable=reason)


def _mask(series: pd.Series) -> pd.Series:
    """A boolean mask without missing values (missing -> False)."""
    return series.astype("boolean").fillna(False).astype(bool)


def _day(series: pd.Series) -> pd.Series:
    days: pd.Series = series.dt.normalize()
    return days


def _bound(check: Check, data: _Data) -> float | pd.Timestamp:
    spec = SCHEMA[check.table].field(check.field or "")
    text = check.argument
    if spec is not None and spec.type in (DATE, DATETIME):
        if text == "today+1":
            return data.today + pd.Timedelta(days=1)
        return pd.Timestamp(text)
    if text == "year+1":
        return float(data.today.year + 1)
    return float(text)


def _value_bound(check: Check, data: _Data) -> _Outcome:
    frame = data.frame(check.table)
    values = frame[check.field or ""].dropna()
    bound = _bound(check, data)
    if isinstance(bound, pd.Timestamp):
        values = _day(values)
    low = check.name == "plausibleValueLow"
    violated = values < bound if low else values > bound
    return _Outcome(int(_mask(violated).sum()), len(values))


def _missing(check: Check, data: _Data) -> _Outcome:
    present = data.present(check.table, check.field or "")
    return _Outcome(int((~present).sum()), len(present))


def _datatype(check: Check, data: _Data) -> _Outcome:
    bad = data.bad_type[(check.table, check.field or "")]
    return _Outcome(int(bad.sum()), len(bad))


def _primary_key(check: Check, data: _Data) -> _Outcome:
    values = data.frame(check.table)[check.field or ""]
    twice = values.notna() & values.duplicated(keep=False)
    return _Outcome(int(twice.sum()), len(values))


def _foreign_key(check: Check, data: _Data) -> _Outcome:
    target = SCHEMA[check.argument].primary_key or "person_id"
    known = data.frame(check.argument)[target].dropna()
    values = data.frame(check.table)[check.field or ""]
    dangling = values.notna() & ~values.isin(known)
    return _Outcome(int(dangling.sum()), len(values))


def _standard_concept(check: Check, data: _Data) -> _Outcome:
    if not fills_concept(check.field or ""):
        return _na("Perron ships no OHDSI vocabulary: this concept id is 0 by design.")
    values = data.frame(check.table)[check.field or ""]
    return _Outcome(int(_mask(values == CONCEPTS["no matching concept"]).sum()), len(values))


def _source_value(check: Check, data: _Data) -> _Outcome:
    frame = data.frame(check.table)
    name = check.field or ""
    codes = SCHEMA[check.table].codes_field
    values = frame[name]
    known = values.notna()
    if codes is not None and codes[0] == name:
        vocabulary = frame[codes[1]]
        unmapped = known & ~_mask(vocabulary.isin(list(VOCABULARIES)))
    else:
        concept = frame[check.argument]
        unmapped = known & _mask(concept.isna() | (concept == CONCEPTS["no matching concept"]))
    return _Outcome(int(values[unmapped].nunique()), int(values[known].nunique()))


def _start_before_end(check: Check, data: _Data) -> _Outcome:
    frame = data.frame(check.table)
    start, end = frame[check.field or ""], frame[check.argument]
    after = start.notna() & end.notna() & (start > end)
    return _Outcome(int(after.sum()), int(start.notna().sum()))


def _before_birth_rows(frame: pd.DataFrame, name: str, births: pd.Series) -> pd.Series:
    birth = frame["person_id"].map(births)
    return _mask(_day(frame[name]) < birth)


def _after_birth(check: Check, data: _Data) -> _Outcome:
    frame = data.frame(check.table)
    name = check.field or ""
    early = _before_birth_rows(frame, name, data.births())
    return _Outcome(int(early.sum()), int(frame[name].notna().sum()))


def _after_death_rows(frame: pd.DataFrame, name: str, data: _Data) -> tuple[pd.Series, pd.Series]:
    """(rows after death + grace, rows with a date of a person who died)."""
    death = frame["person_id"].map(data.deaths())
    known = frame[name].notna() & death.notna()
    limit = death + pd.Timedelta(days=data.settings.death_grace_days)
    return _mask(known & (_day(frame[name]) > limit)), _mask(known)


def _before_death(check: Check, data: _Data) -> _Outcome:
    late, known = _after_death_rows(data.frame(check.table), check.field or "", data)
    return _Outcome(int(late.sum()), int(known.sum()))


def _within_visit(check: Check, data: _Data) -> _Outcome:
    frame = data.frame(check.table)
    visits = data.frame("visit_occurrence").dropna(subset=["visit_occurrence_id"])
    visits = visits.drop_duplicates("visit_occurrence_id").set_index("visit_occurrence_id")
    window = pd.Timedelta(days=data.settings.visit_window_days)
    start = frame["visit_occurrence_id"].map(visits["visit_start_date"])
    end = frame["visit_occurrence_id"].map(visits["visit_end_date"])
    when = _day(frame[check.field or ""])
    joined = _mask(when.notna() & start.notna())
    outside = joined & _mask((when < start - window) | (when > end.fillna(start) + window))
    return _Outcome(int(outside.sum()), int(joined.sum()))


def _person_completeness(check: Check, data: _Data) -> _Outcome:
    persons = data.persons()
    if persons.empty:
        return _na("Table person is empty.")
    seen = data.frame(check.table)["person_id"].dropna()
    return _Outcome(int((~persons.isin(seen)).sum()), len(persons))


def _period_overlap(check: Check, data: _Data) -> _Outcome:
    periods = data.frame("observation_period").dropna(
        subset=["person_id", "observation_period_start_date", "observation_period_end_date"]
    )
    periods = periods.sort_values(["person_id", "observation_period_start_date"], kind="stable")
    previous_end = periods.groupby("person_id")["observation_period_end_date"].shift()
    touching = periods["observation_period_start_date"] <= previous_end + pd.Timedelta(days=1)
    persons = periods.loc[_mask(touching), "person_id"].nunique()
    return _Outcome(int(persons), int(periods["person_id"].nunique()))


def _matching(frame: pd.DataFrame, field_name: str, codes: Iterable[str]) -> pd.Series:
    return _mask(CodeSet.parse(*codes).matches(frame[field_name]))


def _no_records(check: Check) -> _Outcome:
    return _na(f"No records in {check.table} have {check.concept}.")


def _gender(check: Check, data: _Data) -> _Outcome:
    rule: GenderRule = check.rule
    frame = data.frame(check.table)
    hit = _matching(frame, check.field or "", rule.codes)
    if not hit.any():
        return _no_records(check)
    person = data.frame("person").drop_duplicates("person_id").set_index("person_id")
    gender = frame["person_id"].map(person["gender_concept_id"])
    wrong = hit & _mask(gender != CONCEPTS[rule.gender])
    return _Outcome(int(wrong.sum()), int(hit.sum()))


def _lab_rows(frame: pd.DataFrame, code: str, unit: str | None) -> pd.Series:
    rows = _matching(frame, "measurement_source_codes", [code]) & frame["value_as_number"].notna()
    if unit is not None:
        rows &= _mask(frame["unit_source_value"] == unit)
    return rows


def _concept_value(check: Check, data: _Data) -> _Outcome:
    rule: ValueRange = check.rule
    frame = data.frame("measurement")
    rows = _lab_rows(frame, rule.code, rule.unit)
    if not rows.any():
        return _no_records(check)
    values = frame.loc[rows, "value_as_number"]
    if check.name == "plausibleValueLow":
        wrong = values < (rule.low if rule.low is not None else -np.inf)
    else:
        wrong = values > (rule.high if rule.high is not None else np.inf)
    return _Outcome(int(wrong.sum()), int(rows.sum()))


def _units(check: Check, data: _Data) -> _Outcome:
    rule: UnitRule = check.rule
    frame = data.frame("measurement")
    rows = _lab_rows(frame, rule.code, None)
    if not rows.any():
        return _no_records(check)
    wrong = rows & ~_mask(frame["unit_source_value"].isin(list(rule.units)))
    return _Outcome(int(wrong.sum()), int(rows.sum()))


def _interval(check: Check, data: _Data) -> _Outcome:
    rule: IntervalRule = check.rule
    frame = data.frame("drug_exposure")
    start = "drug_exposure_start_date"
    rows = _matching(frame, "drug_source_codes", rule.codes) & frame[start].notna()
    given = frame.loc[rows, ["person_id", start]].dropna()
    days = given.assign(day=_day(given[start])).drop_duplicates(["person_id", "day"])
    days = days.sort_values(["person_id", "day"], kind="stable")
    gaps = days.groupby("person_id")["day"].diff().dropna()
    if gaps.empty:
        return _na(f"No person has two administrations of {check.concept} on different days.")
    close = gaps < pd.Timedelta(days=rule.min_days)
    return _Outcome(int(close.sum()), len(gaps))


def _fields_of(check_name: str) -> list[tuple[str, str]]:
    return [(row.table, row.field) for row in dqd.FIELDS if row.check == check_name]


def _journey_before_birth(check: Check, data: _Data) -> _Outcome:
    persons = data.persons()
    births = data.births()
    early: set[object] = set()
    for table, name in _fields_of("plausibleAfterBirth"):
        frame = data.frame(table)
        early.update(frame.loc[_before_birth_rows(frame, name, births), "person_id"].tolist())
    return _Outcome(int(persons.isin(list(early)).sum()), len(persons))


def _journey_after_death(check: Check, data: _Data) -> _Outcome:
    dead = data.persons()
    dead = dead[dead.isin(data.deaths().index)]
    if dead.empty:
        return _na("No person in the person table has a death record.")
    late: set[object] = set()
    for table, name in _fields_of("plausibleBeforeDeath"):
        frame = data.frame(table)
        rows, _ = _after_death_rows(frame, name, data)
        late.update(frame.loc[rows, "person_id"].tolist())
    return _Outcome(int(dead.isin(list(late)).sum()), len(dead))


def _journey_start_after_end(check: Check, data: _Data) -> _Outcome:
    persons = data.persons()
    wrong: set[object] = set()
    for name, table in SCHEMA.items():
        frame = data.frame(name)
        for start, end in table.periods:
            after = frame[start].notna() & frame[end].notna() & (frame[start] > frame[end])
            wrong.update(frame.loc[_mask(after), "person_id"].tolist())
    return _Outcome(int(persons.isin(list(wrong)).sum()), len(persons))


def _structural_table(check: Check, data: _Data) -> _Outcome:
    required = check.argument == "required"
    absent = data.given[check.table] is None
    notes = "Not given: Perron treats an absent optional table as empty." if absent else ""
    return _Outcome(int(absent and required), 1, notes=notes)


def _structural_field(check: Check, data: _Data) -> _Outcome:
    given = data.given[check.table] or frozenset()
    absent = check.field not in given
    required = check.argument == "required"
    notes = "Not given: Perron treats an absent optional field as empty." if absent else ""
    return _Outcome(int(absent and required), 1, notes=notes)


Evaluator = Callable[[Check, _Data], _Outcome]

_FIELD: Mapping[str, Evaluator] = {
    "cdmField": _structural_field,
    "isRequired": _missing,
    "measureValueCompleteness": _missing,
    "cdmDatatype": _datatype,
    "isPrimaryKey": _primary_key,
    "isForeignKey": _foreign_key,
    "standardConceptRecordCompleteness": _standard_concept,
    "sourceValueCompleteness": _source_value,
    "plausibleValueLow": _value_bound,
    "plausibleValueHigh": _value_bound,
    "plausibleStartBeforeEnd": _start_before_end,
    "plausibleAfterBirth": _after_birth,
    "plausibleBeforeDeath": _before_death,
    "withinVisitDates": _within_visit,
}
_TABLE: Mapping[str, Evaluator] = {
    "cdmTable": _structural_table,
    "measurePersonCompleteness": _person_completeness,
    "measureObservationPeriodOverlap": _period_overlap,
    "journeyBeforeBirth": _journey_before_birth,
    "journeyAfterDeath": _journey_after_death,
    "journeyStartAfterEnd": _journey_start_after_end,
}
_CONCEPT: Mapping[str, Evaluator] = {
    "plausibleGender": _gender,
    "plausibleValueLow": _concept_value,
    "plausibleValueHigh": _concept_value,
    "plausibleUnitConceptIds": _units,
    "plausibleAdministrationInterval": _interval,
}
_EVALUATORS: Mapping[Level, Mapping[str, Evaluator]] = {
    Level.TABLE: _TABLE,
    Level.FIELD: _FIELD,
    Level.CONCEPT: _CONCEPT,
}

#: Tables a check reads besides its own.
_NEEDS: Mapping[str, tuple[str, ...]] = {
    "measurePersonCompleteness": ("person",),
    "plausibleAfterBirth": ("person",),
    "plausibleBeforeDeath": ("death",),
    "withinVisitDates": ("visit_occurrence",),
    "plausibleGender": ("person",),
    "journeyBeforeBirth": tuple(SCHEMA),
    "journeyAfterDeath": tuple(SCHEMA),
    "journeyStartAfterEnd": tuple(SCHEMA),
}


def _needs(check: Check) -> tuple[str, ...]:
    extra = (check.argument,) if check.name == "isForeignKey" else _NEEDS.get(check.name, ())
    return (check.table, *extra)


def _applicability(check: Check, data: _Data) -> str | None:
    """Why the check is not applicable (DQD's rules), or None."""
    name, table = check.name, check.table
    if name == "cdmTable":
        return None
    if data.given[table] is None:
        return f"Table {table} does not exist."
    if name in ("cdmField", "measurePersonCompleteness"):
        return None
    if check.field is not None and check.field not in (data.given[table] or ()):
        return f"Field {table}.{check.field} does not exist."
    if data.frame(table).empty:
        return f"Table {table} is empty."
    if name == "measureValueCompleteness" or check.type.level is not Level.FIELD:
        return None
    if not data.present(table, check.field or "").any():
        return f"Field {table}.{check.field} is not populated."
    return None


def result_of(
    check: Check,
    violated: int | None = None,
    denominator: int | None = None,
    *,
    not_applicable: str | None = None,
    error: str | None = None,
    notes: str = "",
) -> CheckResult:
    """A check's result with exact numbers and its status by DQD's rules.

    ``error`` (the check could not run) comes before ``not_applicable`` (and its
    reason), then failed when more than ``check.threshold`` percent of the
    ``denominator`` rows violate it, else passed.

    Examples
    --------
    >>> from perron.quality.checks import check_type
    >>> check = Check(check_type("isRequired"), "person", "year_of_birth")
    >>> result_of(check, 2, 10).status.value, result_of(check, 0, 10).status.value
    ('failed', 'passed')
    """
    status, shown_v, shown_d, reason = Status.PASSED, None, None, notes
    if error is not None:
        status, reason = Status.ERROR, error
    elif not_applicable is not None:
        status, reason = Status.NOT_APPLICABLE, not_applicable
    elif violated is None or denominator is None:
        raise InputError(f"check {check.key}: give the violated and denominator counts.")
    else:
        share = 0.0 if denominator == 0 else 100.0 * violated / denominator
        status = Status.FAILED if share > check.threshold else Status.PASSED
        shown_v, shown_d = Count.exact(violated), Count.exact(denominator)
    return CheckResult(
        key=check.key,
        check=check.name,
        level=check.type.level.value,
        category=check.type.category.value,
        subcategory=check.type.subcategory,
        context=check.type.context.value,
        severity=check.type.severity,
        table=check.table,
        field=check.field,
        concept=check.concept,
        description=check.description,
        threshold=check.threshold,
        status=status,
        violated=shown_v,
        denominator=shown_d,
        pct_violated=pct(shown_v, shown_d),
        notes=" ".join(n for n in (check.notes, reason) if n),
        structural=check.type.structural,
        origin=check.type.origin,
    )


def _evaluate(check: Check, data: _Data, evaluator: Evaluator) -> CheckResult:
    """One check's result by DQD's status rules."""
    broken = [t for t in _needs(check) if t in data.errors]
    if broken:
        reasons = "; ".join(f"table {t} {data.errors[t]}" for t in broken)
        return result_of(check, error=f"The check could not run: {reasons}.")
    reason = _applicability(check, data)
    if reason is not None:
        return result_of(check, not_applicable=reason)
    try:
        outcome = evaluator(check, data)
    except Exception as exc:  # a check that cannot run is reported, not fatal
        logger.warning("quality: check %s could not run", check.key, exc_info=True)
        note = f"The check could not run ({type(exc).__name__}); the station's log has details."
        return result_of(check, error=note)
    if outcome.not_applicable is not None:
        return result_of(check, not_applicable=outcome.not_applicable)
    if outcome.denominator == 0 and check.type.level is Level.CONCEPT:
        return result_of(check, not_applicable=f"No records have {check.concept}.")
    return result_of(check, outcome.violated, outcome.denominator, notes=outcome.notes)


def _coverage(data: _Data) -> tuple[CoverageRow, ...]:
    rows: list[CoverageRow] = []
    persons_total = len(data.persons())
    for name, table in SCHEMA.items():
        frame = data.frame(name)
        if data.given[name] is None or frame.empty:
            continue
        for spec in table.fields:
            filled = data.present(name, spec.name).to_numpy(dtype=bool)
            records = Count.exact(int(filled.sum()))
            total = Count.exact(len(frame))
            persons = everyone = None
            if name == "person":
                persons, everyone = records, total
            elif "person_id" in table.names:
                ids = frame["person_id"][filled].dropna()
                persons = Count.exact(int(ids.nunique()))
                everyone = Count.exact(persons_total)
            rows.append(
                CoverageRow(
                    name,
                    spec.name,
                    records,
                    total,
                    pct(records, total),
                    persons,
                    everyone,
                    pct(persons, everyone),
                )
            )
    return tuple(rows)


def run_checks(
    cdm: Tables,
    settings: QualitySettings | None = None,
    *,
    dataset: str = "cdm",
) -> QualityReport:
    """Run every check of :func:`~perron.quality.checks.catalogue` on one holder's CDM.

    Parameters
    ----------
    cdm : Cdm or mapping of table name to DataFrame
        A validated CDM, or CDM tables as they are (absent tables count as empty;
        values need not fit the schema: the report counts those that do not).
    settings : QualitySettings, optional
        Rules and thresholds (default: DQD's, and Perron's journey and lab rules).
    dataset : str
        The dataset's name in the report.

    Returns
    -------
    QualityReport
        With exact numbers: release it with ``report.released(policy)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from datetime import date
    >>> person = pd.DataFrame({"person_id": [1, 2], "gender_concept_id": [8507, 8532],
    ...     "year_of_birth": [1950, 1820], "race_concept_id": [0, 0],
    ...     "ethnicity_concept_id": [0, 0]})
    >>> report = run_checks({"person": person}, QualitySettings(today=date(2025, 1, 1)))
    >>> result = report.check("plausibleValueLow.person.year_of_birth")
    >>> result.status.value, result.violated.text, result.denominator.text
    ('failed', '1', '2')
    """
    settings = settings or QualitySettings()
    settings = settings.with_today(settings.reference_date)
    data = _given_cdm(cdm, settings) if isinstance(cdm, Cdm) else _given_tables(cdm, settings)
    results = []
    for check in catalogue(settings):
        evaluator = _EVALUATORS[check.type.level][check.name]
        results.append(_evaluate(check, data, evaluator))
    return QualityReport(
        dataset=dataset,
        kind="cdm",
        generated=QualityReport.now(),
        checks=tuple(results),
        coverage=_coverage(data),
        notes=tuple(data.notes),
        settings={
            "today": settings.reference_date.isoformat(),
            "death_grace_days": settings.death_grace_days,
            "visit_window_days": settings.visit_window_days,
            "dqd": "OHDSI DataQualityDashboard v2.8.4 thresholds",
        },
    )
