"""The public register as a standalone HTML page (``GET /register``).

Every string from a request or a result is escaped (:func:`html.escape`), so a
title like ``<script>`` shows as text and runs nothing; the page loads nothing
from elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from perron.hub.services.register import RegisterEntry

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; line-height: 1.45; color: #1b1b1b; }
article { border-top: 1px solid #ccc; padding: 1rem 0; }
h2 { margin: 0 0 .3rem; font-size: 1.2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
.status { font-variant: small-caps; }
"""


def _row(term: str, value: str) -> str:
    """A row of a definition list; ``value`` is HTML that is already escaped."""
    return f"<dt>{escape(term)}</dt><dd>{value}</dd>"


def _list(items: Iterable[str]) -> str:
    """An unordered list of items that are already escaped HTML."""
    inner = "".join(f"<li>{item}</li>" for item in items)
    return f"<ul>{inner}</ul>" if inner else "none"


def _entry(entry: RegisterEntry) -> str:
    holders = _list(
        f"{escape(h.holder)}: <span class=status>{escape(h.status)}</span>" for h in entry.holders
    )
    results = _list(
        f"{escape(r.summary)} (reported {escape(r.reported_at.date().isoformat())})"
        + _list(escape(p) for p in r.publications)
        for r in entry.results
    )
    rows = [
        _row("Study", escape(entry.study)),
        _row("Status", f"<span class=status>{escape(entry.status)}</span>"),
        _row("Purpose", escape(entry.purpose)),
        _row("Applicant", escape(entry.applicant_organisation)),
        _row("Data holders", holders),
        _row(
            "Period",
            f"{escape(entry.period_start.isoformat())} to {escape(entry.period_end.isoformat())}",
        ),
        _row("Registered", escape(entry.registered_at.date().isoformat())),
        _row("Results due", escape(entry.results_due.isoformat())),
        _row("Results", results),
    ]
    return (
        f'<article id="{escape(entry.request_id)}">'
        f"<h2>{escape(entry.title)}</h2>"
        f"<p>{escape(entry.lay_summary)}</p>"
        f"<dl>{''.join(rows)}</dl>"
        "</article>"
    )


def render(entries: Sequence[RegisterEntry]) -> str:
    """The register page of ``entries``.

    Examples
    --------
    >>> page = render([])
    >>> page.startswith("<!DOCTYPE html>"), "No data requests yet." in page
    (True, True)
    """
    body = "".join(_entry(entry) for entry in entries) or "<p>No data requests yet.</p>"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Register of data requests</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            "<main>",
            "<h1>Register of data requests</h1>",
            "<p>Every data request made on this hub, the holders asked and how far each "
            "is, and the results reported. Results are due 18 months after the period "
            "ends (EHDS art. 61(4)).</p>",
            body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
