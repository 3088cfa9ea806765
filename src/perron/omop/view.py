"""The analysable table: one row per person, derived from the CDM.

Federated analyses, feasibility counts and quality reports read a flat table
(:class:`~perron.data.frame.FrameSource`); :func:`person_table` derives it from a
:class:`~perron.omop.cdm.Cdm` at an index date:

==================  ===================================================================
column              meaning
==================  ===================================================================
person_id           the CDM person id
person_source_value the holder's own id (the key linkage works with)
sex                 "male" / "female" from gender_concept_id (8507 / 8532), else missing
age                 whole years at the index date (the year difference alone where the
                    month of birth is unknown; an unknown day counts as the 1st)
in_observation      the index date lies in one of the person's observation periods
dead                died on or before the index date
<condition name>    has a condition_occurrence matching the code set, started on or
                    before the index date (within ``lookback_days`` if given)
<drug name>         the same for drug_exposure
<procedure name>    the same for procedure_occurrence
<measurement name>  the last value_as_number of a matching measurement on or before
                    the index date (within ``lookback_days``), else missing
==================  ===================================================================

Codes are matched on the ``*_source_codes`` tokens (``VOCAB:code``; every coding
the source gave), so a code set may mix code systems: ``CodeSet.parse("ICD10:I50*",
"SNOMED:84114007")``. A trailing ``*`` matches a code prefix (ICD-10 and ATC are
hierarchical by prefix); ICD-10 codes match with or without their dot. An exact
code also matches its descendants when a hierarchy for its code system is given
(``{"SNOMED": {parent: [children, ...]}}``, e.g. from a SNOMED CT release's is-a
relationships; Perron ships none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from perron.omop.cdm import Cdm
from perron.omop.schema import CODE_SEPARATOR, CONCEPTS
from perron.protocol.errors import InputError

__all__ = ["BASE_COLUMNS", "Code", "CodeSet", "Hierarchy", "person_table"]

Hierarchy = Mapping[str, Sequence[str]]
"""Parent code -> child codes (is-a) within one code system."""

_SEXES = {CONCEPTS["male"]: "male", CONCEPTS["female"]: "female"}
_DOTLESS = frozenset({"ICD10", "ICD10CM"})
_BASE = ("person_id", "person_source_value", "sex", "age", "in_observation", "dead")
BASE_COLUMNS = _BASE
"""The columns every person table has, before the code sets' columns."""


def _normal(vocabulary: str, code: str) -> str:
    code = code.strip()
    if vocabulary in _DOTLESS:
        return code.replace(".", "").upper()
    return code


@dataclass(frozen=True)
class Code:
    """A code of one code system (an OHDSI vocabulary id), or a prefix of codes."""

    vocabulary: str
    code: str
    prefix: bool = False

    def token(self) -> str:
        return f"{self.vocabulary}:{_normal(self.vocabulary, self.code)}"


@dataclass(frozen=True)
class CodeSet:
    """Codes that define a condition, drug, procedure or measurement.

    Examples
    --------
    >>> heart_failure = CodeSet.parse("ICD10:I50*", "SNOMED:84114007")
    >>> [c.token() for c in heart_failure.codes]
    ['ICD10:I50', 'SNOMED:84114007']
    >>> tree = {"SNOMED": {"84114007": ["42343007"], "42343007": ["85232009"]}}
    >>> sorted(c.code for c in heart_failure.expand(tree).codes if c.vocabulary == "SNOMED")
    ['42343007', '84114007', '85232009']
    """

    codes: tuple[Code, ...]

    @classmethod
    def parse(cls, *patterns: str) -> CodeSet:
        """``"VOCAB:code"`` for one code, ``"VOCAB:prefix*"`` for every code below it."""
        codes: list[Code] = []
        for pattern in patterns:
            vocabulary, sep, code = pattern.partition(":")
            if not sep or not vocabulary or not code.rstrip("*"):
                raise InputError(
                    f"code pattern {pattern!r} is not VOCAB:code; write e.g. 'ICD10:I50*' "
                    "or 'SNOMED:84114007'."
                )
            codes.append(Code(vocabulary, code.rstrip("*"), code.endswith("*")))
        return cls(tuple(codes))

    def expand(self, hierarchies: Mapping[str, Hierarchy]) -> CodeSet:
        """This set with the descendants of each exact code, where a hierarchy is given."""
        found = list(self.codes)
        seen = {(c.vocabulary, c.code, c.prefix) for c in found}
        queue = [c for c in found if not c.prefix and c.vocabulary in hierarchies]
        while queue:
            parent = queue.pop()
            for child in hierarchies[parent.vocabulary].get(parent.code, ()):
                code = Code(parent.vocabulary, child)
                if (code.vocabulary, code.code, False) not in seen:
                    seen.add((code.vocabulary, code.code, False))
                    found.append(code)
                    queue.append(code)
        return CodeSet(tuple(found))

    def matches(self, codes: pd.Series) -> pd.Series:
        """Per row of ``*_source_codes`` values: does any token match?"""
        exact = {c.token() for c in self.codes if not c.prefix}
        prefixes = tuple(c.token() for c in self.codes if c.prefix)
        tokens = codes.fillna("").astype(str).str.split(CODE_SEPARATOR).explode()
        normal = tokens.map(_normal_token)
        hit = normal.isin(exact)
        if prefixes:
            hit |= normal.map(lambda t: t.startswith(prefixes))
        return hit.groupby(level=0).any().reindex(codes.index, fill_value=False)


def _normal_token(token: str) -> str:
    vocabulary, _, code = token.partition(":")
    return f"{vocabulary}:{_normal(vocabulary, code)}"


def _code_set(name: str, spec: CodeSet | str | Sequence[str]) -> CodeSet:
    if isinstance(spec, CodeSet):
        return spec
    if isinstance(spec, str):
        return CodeSet.parse(spec)
    if not spec:
        raise InputError(f"{name!r} has no codes; give at least one 'VOCAB:code'.")
    return CodeSet.parse(*spec)


def _events(
    frame: pd.DataFrame, start: str, codes: str, index: pd.Timestamp, lookback: int | None
) -> pd.DataFrame:
    keep = frame[start].notna() & (frame[start] <= index)
    if lookback is not None:
        keep &= frame[start] >= index - pd.Timedelta(days=lookback)
    return frame.loc[keep.to_numpy(), ["person_id", start, codes, *_value_columns(frame)]]


def _value_columns(frame: pd.DataFrame) -> list[str]:
    return ["value_as_number"] if "value_as_number" in frame.columns else []


def person_table(
    cdm: Cdm,
    index_date: date | str,
    *,
    conditions: Mapping[str, CodeSet | str | Sequence[str]] | None = None,
    drugs: Mapping[str, CodeSet | str | Sequence[str]] | None = None,
    procedures: Mapping[str, CodeSet | str | Sequence[str]] | None = None,
    measurements: Mapping[str, CodeSet | str | Sequence[str]] | None = None,
    hierarchies: Mapping[str, Hierarchy] | None = None,
    lookback_days: int | None = None,
) -> pd.DataFrame:
    """One row per person of ``cdm``, with the columns in the module docstring.

    Parameters
    ----------
    cdm : Cdm
    index_date : date or ISO date text
        Ages are taken, and events counted, at this date.
    conditions, drugs, procedures : mapping of column name to code set
        A :class:`CodeSet`, one ``"VOCAB:code"`` pattern or a list of them.
    measurements : mapping of column name to code set
        The column holds the last value on or before the index date.
    hierarchies : mapping of vocabulary id to Hierarchy, optional
        Exact codes also match their descendants in these.
    lookback_days : int, optional
        Count only events this many days before the index date (default: all).

    Examples
    --------
    >>> import pandas as pd
    >>> from perron.omop.cdm import Cdm
    >>> cdm = Cdm({
    ...     "person": pd.DataFrame({"person_id": [1, 2], "gender_concept_id": [8532, 8507],
    ...         "year_of_birth": [1950, 1980], "month_of_birth": [6, None],
    ...         "race_concept_id": [0, 0], "ethnicity_concept_id": [0, 0]}),
    ...     "condition_occurrence": pd.DataFrame({"condition_occurrence_id": [1],
    ...         "person_id": [1], "condition_concept_id": [0],
    ...         "condition_start_date": ["2020-01-01"], "condition_type_concept_id": [32817],
    ...         "condition_source_value": ["I50.9"],
    ...         "condition_source_vocabulary_id": ["ICD10"]})})
    >>> person_table(cdm, "2021-03-01", conditions={"heart_failure": "ICD10:I50*"})[
    ...     ["person_id", "sex", "age", "heart_failure"]]
       person_id     sex  age  heart_failure
    0          1  female   70           True
    1          2    male   41          False
    """
    index = pd.Timestamp(index_date).normalize()
    if lookback_days is not None and lookback_days < 0:
        raise InputError(f"lookback_days={lookback_days} is negative; give a number of days >= 0.")
    groups = {
        "conditions": conditions or {},
        "drugs": drugs or {},
        "procedures": procedures or {},
        "measurements": measurements or {},
    }
    names = [n for group in groups.values() for n in group]
    clashes = sorted({n for n in names if names.count(n) > 1 or n in _BASE})
    if clashes:
        raise InputError(
            f"column names {clashes} are used twice (or are base columns {list(_BASE)}); "
            "give each code set its own name."
        )
    person = cdm.person
    out = pd.DataFrame(
        {
            "person_id": person["person_id"],
            "person_source_value": person["person_source_value"],
            "sex": pd.Series(
                [_SEXES.get(g) for g in person["gender_concept_id"].tolist()],
                index=person.index,
                dtype=object,
            ),
            "age": _age(person, index),
        }
    )
    periods = cdm.observation_period
    observed = periods.loc[
        (periods["observation_period_start_date"] <= index)
        & (periods["observation_period_end_date"] >= index),
        "person_id",
    ]
    out["in_observation"] = out["person_id"].isin(observed).astype(bool)
    deaths = cdm.death
    died = deaths.loc[deaths["death_date"] <= index, "person_id"]
    out["dead"] = out["person_id"].isin(died).astype(bool)
    sources = {
        "conditions": (cdm.condition_occurrence, "condition_start_date", "condition_source_codes"),
        "drugs": (cdm.drug_exposure, "drug_exposure_start_date", "drug_source_codes"),
        "procedures": (cdm.procedure_occurrence, "procedure_date", "procedure_source_codes"),
        "measurements": (cdm.measurement, "measurement_date", "measurement_source_codes"),
    }
    for group, specs in groups.items():
        frame, start, codes = sources[group]
        events = _events(frame, start, codes, index, lookback_days)
        for name, spec in specs.items():
            code_set = _code_set(name, spec)
            if hierarchies:
                code_set = code_set.expand(hierarchies)
            matched = events[code_set.matches(events[codes]).to_numpy(dtype=bool)]
            if group == "measurements":
                latest = matched.dropna(subset=["value_as_number"]).sort_values(
                    [start], kind="stable"
                )
                last = latest.groupby("person_id")["value_as_number"].last()
                out[name] = out["person_id"].map(last).astype("float64")
            else:
                out[name] = out["person_id"].isin(matched["person_id"]).astype(bool)
    return out.reset_index(drop=True)


def _age(person: pd.DataFrame, index: pd.Timestamp) -> pd.Series:
    """Whole years at ``index``; the year difference where month or day is unknown."""
    years = index.year - person["year_of_birth"]
    month = person["month_of_birth"]
    day = person["day_of_birth"].fillna(1)
    known = month.notna()
    later = known & ((month > index.month) | ((month == index.month) & (day > index.day)))
    return (years - later.astype("Int64")).astype("Int64").where(person["year_of_birth"].notna())
