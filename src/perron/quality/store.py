"""Where a station keeps its quality reports, and what a catalogue entry embeds.

``perron station quality`` writes three files into the station's state folder::

    state/quality/<dataset>.exact.json   exact numbers: never leaves the station; the
                                         federated step releases it per task
    state/quality/<dataset>.json         released under the holder's disclosure rules
    state/quality/<dataset>.html         the same, as a self-contained page

The released JSON and HTML are what a catalogue entry links to (publish them where
the entry's ``quality_report.url`` points), and :func:`quality_summary` gives the
``{"url", "summary"}`` a :class:`perron.catalogue.metadata.QualityReport` takes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError
from perron.quality.report import QualityReport

__all__ = ["ReportFiles", "load", "quality_summary", "report_files", "save"]

FOLDER = "quality"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReportFiles:
    """The three files of one dataset's quality report."""

    exact: Path
    json: Path
    html: Path


def report_files(state_dir: Path, dataset: str) -> ReportFiles:
    """The report files of ``dataset`` in a station's state folder.

    Examples
    --------
    >>> report_files(Path("state"), "hospital cdm").html
    PosixPath('state/quality/hospital_cdm.html')
    """
    stem = _UNSAFE.sub("_", dataset).strip("._") or "dataset"
    folder = Path(state_dir) / FOLDER
    return ReportFiles(
        folder / f"{stem}.exact.json", folder / f"{stem}.json", folder / f"{stem}.html"
    )


def save(report: QualityReport, state_dir: Path, policy: DisclosurePolicy) -> ReportFiles:
    """Write the exact report and its release under ``policy`` (JSON and HTML).

    The exact file is readable by the station's user only.
    """
    if report.is_released:
        raise InputError("save the station's exact report; it is released here.")
    files = report_files(state_dir, report.dataset)
    files.exact.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(files.exact, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(report.to_json())
    released = report.released(policy)
    files.json.write_text(released.to_json(), encoding="utf-8")
    files.html.write_text(released.to_html(), encoding="utf-8")
    return files


def load(path: Path) -> QualityReport:
    """A report written by :func:`save` (``InputError`` if missing or damaged)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"no quality report at {path}; run `perron station quality` first."
        ) from None
    return QualityReport.from_json(text)


def quality_summary(report: QualityReport, url: str | None = None) -> dict[str, Any]:
    """What a catalogue entry embeds: ``{"url": ..., "summary": ...}``.

    The keys of :class:`perron.catalogue.metadata.QualityReport` (``url`` left out
    when not given). Only a released report is summarised.

    Examples
    --------
    >>> from perron.quality.report import QualityReport
    >>> empty = QualityReport("lung", "cdm", "2026-01-01T00:00:00+00:00", (),
    ...                       disclosure={"min_cell": 5, "round_counts": None})
    >>> quality_summary(empty, "https://example.org/q.html")["summary"][:40]
    'Data quality (OHDSI DQD checks, 2026-01-'
    """
    if not report.is_released:
        raise InputError(
            "summarise the released report (state/quality/<dataset>.json), not the exact one."
        )
    counts = report.status_counts()
    share = report.summary()["pct_passed"]
    text = (
        f"Data quality (OHDSI DQD checks, {report.generated[:10]}): {len(report.checks)} "
        f"checks, {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['not_applicable']} not applicable, {counts['error']} errors"
    )
    if share is not None:
        text += f"; {share:g}% of applicable checks passed"
    out: dict[str, Any] = {"summary": text + "."}
    if url is not None:
        out["url"] = url
    return out
