"""Data quality reports: OHDSI Data Quality Dashboard checks, released under disclosure control.

Modules, in dependency order:

- :mod:`perron.quality.dqd` - DQD v2.8.4's thresholds for Perron's eight CDM tables;
- :mod:`perron.quality.settings` - what a holder tunes: journey rules (minimum
  intervals between administrations, days after death), lab ranges, thresholds;
- :mod:`perron.quality.checks` - the check types with their DQD metadata, and the
  checks run;
- :mod:`perron.quality.rows` - a report's rows: counts as shown, check results,
  coverage;
- :mod:`perron.quality.html` - the self-contained HTML page;
- :mod:`perron.quality.report` - :class:`QualityReport`, its release under a
  holder's disclosure rules, and JSON;
- :mod:`perron.quality.run` - :func:`run_checks` on a CDM (valid or not);
- :mod:`perron.quality.store` - where a station keeps its reports, and the summary
  a catalogue entry embeds.

The package is pure: it reads a holder's CDM and writes reports; the federated
algorithm (:mod:`perron.algorithms.quality.reports`) and the commands use it. See
docs/quality.md.
"""

from perron.quality.checks import Check, CheckType, Status, catalogue
from perron.quality.report import QualityReport
from perron.quality.rows import CheckResult, Count, CoverageRow
from perron.quality.run import run_checks
from perron.quality.settings import (
    GenderRule,
    IntervalRule,
    QualitySettings,
    StationQuality,
    UnitRule,
    ValueRange,
)

__all__ = [
    "Check",
    "CheckResult",
    "CheckType",
    "Count",
    "CoverageRow",
    "GenderRule",
    "IntervalRule",
    "QualityReport",
    "QualitySettings",
    "StationQuality",
    "Status",
    "UnitRule",
    "ValueRange",
    "catalogue",
    "run_checks",
]
