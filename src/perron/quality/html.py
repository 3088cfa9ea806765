"""A quality report as one self-contained HTML page, laid out as DQD's dashboard.

An overview per report (passed / failed / total / % passed per Kahn context and
category, as the Data Quality Dashboard's overview tab), the failed checks, every
check, and the coverage of each field. No scripts, no external files: the page can
be attached to a catalogue entry or opened from disk. Every text that reaches the
page (dataset, table and field names, notes, codes) is HTML-escaped, so a field
called ``<script>`` shows as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any, Protocol

from perron.quality.checks import Category, Context, Status
from perron.quality.rows import CheckResult, Count, CoverageRow

__all__ = ["ReportView", "render"]


class ReportView(Protocol):
    """What the page reads of a report (:class:`~perron.quality.report.QualityReport`)."""

    @property
    def dataset(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def generated(self) -> str: ...
    @property
    def checks(self) -> tuple[CheckResult, ...]: ...
    @property
    def coverage(self) -> tuple[CoverageRow, ...]: ...
    @property
    def notes(self) -> tuple[str, ...]: ...
    @property
    def disclosure(self) -> Mapping[str, Any] | None: ...
    def status_counts(self) -> dict[str, int]: ...
    def overview(self) -> dict[str, dict[str, dict[str, int]]]: ...
    def failures(self) -> tuple[CheckResult, ...]: ...


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2430; }
h1 { font-size: 1.5rem; }
h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 2px solid #d0d6de; }
h3 { font-size: 1.05rem; margin-top: 1.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #d0d6de; padding: 0.25rem 0.5rem; text-align: left; }
td { vertical-align: top; }
th { background: #f1f4f8; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: #17692f; } .failed { color: #b3261e; font-weight: 600; }
.not_applicable { color: #6b7280; } .error { color: #8a4b00; font-weight: 600; }
.meta { color: #4b5563; font-size: 0.9rem; } .badge { margin-right: 1rem; }
.exact { background: #fff4e5; border: 1px solid #f0b35a; padding: 0.5rem; }
details { margin: 0.5rem 0; } summary { cursor: pointer; font-weight: 600; }
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _count(count: Count | None) -> str:
    return "" if count is None else _e(count.text)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}%"


def _row(cells: Iterable[str]) -> str:
    return "<tr>" + "".join(cells) + "</tr>"


def _cell(value: object, css: str = "") -> str:
    klass = f' class="{_e(css)}"' if css else ""
    return f"<td{klass}>{_e(value)}</td>"


def _raw_cell(html: str, css: str = "") -> str:
    klass = f' class="{_e(css)}"' if css else ""
    return f"<td{klass}>{html}</td>"


def _overview(report: ReportView) -> str:
    table = report.overview()
    contexts = [c.value for c in Context] + ["Total"]
    categories = [c.value for c in Category] + ["Total"]
    head = (
        "<tr><th rowspan=2></th>"
        + "".join(f"<th colspan=4>{_e(x)}</th>" for x in contexts)
        + "</tr><tr>"
        + "<th>Pass</th><th>Fail</th><th>Total</th><th>% Pass</th>" * len(contexts)
        + "</tr>"
    )
    body = []
    for category in categories:
        cells = [f"<th>{_e(category)}</th>"]
        for context in contexts:
            cell = table[context][category]
            share = "" if cell["total"] == 0 else f"{100 * cell['passed'] / cell['total']:.0f}%"
            cells += [
                _cell(cell["passed"], "n"),
                _cell(cell["failed"], "n"),
                _cell(cell["total"], "n"),
                _cell(share, "n"),
            ]
        body.append(_row(cells))
    return f'<table class="overview">{head}{"".join(body)}</table>'


def _status_line(report: ReportView) -> str:
    counts = report.status_counts()
    names = {
        Status.PASSED: "passed",
        Status.FAILED: "failed",
        Status.NOT_APPLICABLE: "not applicable",
        Status.ERROR: "errors",
    }
    badges = "".join(
        f'<span class="badge {_e(status.value)}">{_e(names[status])}: '
        f"{_e(counts[status.value])}</span>"
        for status in Status
    )
    return f"<p>{badges}</p>"


_CHECK_HEAD = (
    "<tr><th>status</th><th>check</th><th>level</th><th>category</th><th>context</th>"
    "<th>table</th><th>field</th><th>concept</th><th>violated</th><th>of</th>"
    "<th>% violated</th><th>threshold</th><th>description</th><th>notes</th></tr>"
)


def _checks(checks: Sequence[CheckResult]) -> str:
    rows = [
        _row(
            [
                _cell(c.status.value.replace("_", " "), c.status.value),
                _cell(c.check),
                _cell(c.level),
                _cell(f"{c.category} {c.subcategory}".strip()),
                _cell(c.context),
                _cell(c.table),
                _cell(c.field),
                _cell(c.concept),
                _raw_cell(_count(c.violated), "n"),
                _raw_cell(_count(c.denominator), "n"),
                _raw_cell(_pct(c.pct_violated), "n"),
                _cell(f"{c.threshold:g}%", "n"),
                _cell(c.description),
                _cell(c.notes),
            ]
        )
        for c in checks
    ]
    return f"<table>{_CHECK_HEAD}{''.join(rows)}</table>"


def _coverage(rows: Sequence[CoverageRow]) -> str:
    head = (
        "<tr><th>table</th><th>field</th><th>records with a value</th><th>of</th>"
        "<th>%</th><th>persons with a value</th><th>of</th><th>%</th></tr>"
    )
    body = [
        _row(
            [
                _cell(r.table),
                _cell(r.field),
                _raw_cell(_count(r.records), "n"),
                _raw_cell(_count(r.records_total), "n"),
                _raw_cell(_pct(r.pct_records), "n"),
                _raw_cell(_count(r.persons), "n"),
                _raw_cell(_count(r.persons_total), "n"),
                _raw_cell(_pct(r.pct_persons), "n"),
            ]
        )
        for r in rows
    ]
    return f"<table>{head}{''.join(body)}</table>"


def _disclosure(report: ReportView) -> str:
    if report.disclosure is None:
        return (
            '<p class="exact"><strong>Exact numbers.</strong> This page is for the data '
            "holder only; publish the released report instead.</p>"
        )
    rules = report.disclosure
    text = f"Counts below {_e(rules.get('min_cell'))} are shown as &ldquo;&lt; "
    text += f"{_e(rules.get('min_cell'))}&rdquo;; percentages are computed from the numbers shown."
    if rules.get("round_counts"):
        text += f" Counts are rounded to multiples of {_e(rules['round_counts'])}."
    return f'<p class="meta">{text}</p>'


def _section(heading: str, report: ReportView) -> str:
    kind = "OMOP CDM" if report.kind == "cdm" else "analysis dataset"
    what = (
        "" if report.dataset in heading else f" <small>({_e(kind)}: {_e(report.dataset)})</small>"
    )
    parts = [
        f"<section><h2>{_e(heading)}{what}</h2>",
        f'<p class="meta">Generated {_e(report.generated)}. Checks after the OHDSI Data '
        "Quality Dashboard (Kahn framework: context, category, subcategory).</p>",
        _disclosure(report),
        _overview(report),
        _status_line(report),
    ]
    failed = report.failures()
    parts.append(f"<h3>Failed checks ({len(failed)})</h3>")
    parts.append(_checks(failed) if failed else "<p>None.</p>")
    order = {Status.FAILED: 0, Status.ERROR: 1, Status.PASSED: 2, Status.NOT_APPLICABLE: 3}
    every = sorted(report.checks, key=lambda c: order[c.status])
    parts.append(f"<details><summary>All checks ({len(every)})</summary>{_checks(every)}</details>")
    if report.coverage:
        parts.append("<h3>Coverage of each variable</h3>")
        parts.append(_coverage(report.coverage))
    if report.notes:
        notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
        parts.append(f"<h3>Notes</h3><ul>{notes}</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render(sections: Sequence[tuple[str, ReportView]], *, title: str) -> str:
    """One HTML page with a section per (heading, report)."""
    body = "\n".join(_section(heading, report) for heading, report in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n{body}\n</body>\n</html>\n"
    )
