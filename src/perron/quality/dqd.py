"""OHDSI Data Quality Dashboard thresholds for Perron's eight CDM tables.

Generated from OHDSI/DataQualityDashboard v2.8.4 (Apache License 2.0),
``inst/csv/OMOP_CDMv5.4_Field_Level.csv`` (kept as ``dqd_fields.csv`` beside this
module, one row per field and check) and ``OMOP_CDMv5.4_Table_Level.csv`` (below):
the checks Perron runs (:mod:`perron.quality.checks`), with DQD's threshold (the
percentage of violating rows allowed) and argument. Arguments are normalised:
ISO dates for DQD's ``'19500101'``, ``today+1`` for ``DATEADD(dd,1,GETDATE())``,
``year+1`` for ``YEAR(GETDATE())+1``; the end field of ``plausibleStartBeforeEnd``,
the referenced table of ``isForeignKey`` (only ``person`` and ``visit_occurrence``:
concept, provider, care site, location and visit detail are outside the subset),
the standard concept field of ``sourceValueCompleteness``. Left out: DQD's
deprecated ``plausibleTemporalAfter`` and ``plausibleDuringLife`` (replaced by
``plausibleAfterBirth``, ``plausibleBeforeDeath`` and ``plausibleStartBeforeEnd``),
and ``sourceConceptRecordCompleteness`` (source concept ids need the vocabulary).
"""

from __future__ import annotations

import csv
import io
from importlib.resources import files
from typing import NamedTuple


class FieldThreshold(NamedTuple):
    """One DQD field-level check of one field: its threshold (%) and argument."""

    table: str
    field: str
    check: str
    threshold: float
    argument: str


class TableThreshold(NamedTuple):
    """DQD's table-level settings: required, and the thresholds (%) of the table checks
    (``None``: DQD does not run the check on this table)."""

    table: str
    required: bool
    person_completeness: float | None
    observation_period_overlap: float | None


TABLES: tuple[TableThreshold, ...] = (
    TableThreshold("person", True, None, None),
    TableThreshold("observation_period", True, 0.0, 0.0),
    TableThreshold("visit_occurrence", False, 95.0, None),
    TableThreshold("condition_occurrence", False, 95.0, None),
    TableThreshold("drug_exposure", False, 95.0, None),
    TableThreshold("procedure_occurrence", False, 95.0, None),
    TableThreshold("measurement", False, 95.0, None),
    TableThreshold("death", False, 100.0, None),
)


def _fields() -> tuple[FieldThreshold, ...]:
    """The field-level rows, from the CSV shipped beside this module."""
    text = (files("perron.quality") / FIELDS_FILE).read_text(encoding="utf-8")
    return tuple(
        FieldThreshold(
            row["table"], row["field"], row["check"], float(row["threshold"]), row["argument"]
        )
        for row in csv.DictReader(io.StringIO(text))
    )


#: The file with DQD's field-level rows for the eight tables (table, field, check,
#: threshold, argument), generated as described above.
FIELDS_FILE = "dqd_fields.csv"
FIELDS: tuple[FieldThreshold, ...] = _fields()
