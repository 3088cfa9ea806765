"""Drafts generated from a data request: a DPIA, the joint privacy matrix, a term sheet.

Each draft is Markdown, written from the :class:`~perron.governance.request.DataRequest`
alone, so the people of the route start from the request instead of a blank page:
the privacy officer from :func:`dpia_draft` and :func:`privacy_matrix` (the DPIA
step), legal counsel from :func:`term_sheet` (the agreements step). What a draft
cannot know is left as a marked field ("To be completed by the privacy officer").
Given a ``holder``, a draft covers that holder's part of the request only
(:meth:`~perron.governance.request.DataRequest.part_for`), so a holder's documents
never show what the other holders were asked for.

Text the applicant wrote is escaped: it renders as written (Markdown and HTML in
it do nothing), and a ``|`` or a line break cannot break a table. :func:`to_html`
turns a draft into a standalone HTML page (raw HTML disabled, tables enabled).
The drafts are deterministic: the same request gives the same bytes, so a draft's
SHA-256 identifies it when it is attached to a decision.

Examples
--------
>>> from perron.governance.request import EXAMPLE, DataRequest
>>> request = DataRequest.model_validate(EXAMPLE)
>>> sorted(DRAFTS)
['dpia', 'privacy-matrix', 'term-sheet']
>>> "insurer-east" in DRAFTS["dpia"](request, holder="umc-north")
False
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from markdown_it import MarkdownIt

from perron.governance.request import (
    PUBLICATION_MONTHS,
    AnalysisRequest,
    DataForm,
    DataRequest,
    Pet,
    Purpose,
    Variable,
    publication_deadline,
)
from perron.governance.route import SIGNING_ROLES

__all__ = [
    "DRAFTS",
    "TO_COMPLETE",
    "TO_COMPLETE_LEGAL",
    "dpia_draft",
    "privacy_matrix",
    "term_sheet",
    "to_html",
]

#: The marker of a field the privacy officer fills in (the DPIA and the matrix).
TO_COMPLETE = "**To be completed by the privacy officer.**"
#: The marker of a field legal counsel fills in (the term sheet).
TO_COMPLETE_LEGAL = "**To be completed by legal counsel.**"

_PURPOSES: dict[Purpose, str] = {
    Purpose.PUBLIC_HEALTH: "EHDS art. 53(1)(a): public interest in public and occupational health",
    Purpose.POLICY: "EHDS art. 53(1)(b): policy-making and regulatory activities in the "
    "health or care sectors",
    Purpose.STATISTICS: "EHDS art. 53(1)(c): official statistics related to the health or "
    "care sectors",
    Purpose.EDUCATION: "EHDS art. 53(1)(d): education or teaching in the health or care sectors",
    Purpose.SCIENTIFIC_RESEARCH: "EHDS art. 53(1)(e): scientific research related to the "
    "health or care sectors",
    Purpose.IMPROVING_CARE: "EHDS art. 53(1)(f): improving the delivery of care, treatment "
    "optimisation and the provision of healthcare",
}
_PETS: dict[Pet, str] = {
    Pet.FEDERATED: "federated analysis: the data stay at each holder's station; only "
    "aggregates leave it",
    Pet.LINKAGE: "record linkage across holders on pseudonyms, inside the stations",
    Pet.MPC: "secure multi-party computation: no party sees another party's inputs",
    Pet.DP: "differential privacy: calibrated noise on released results, within a budget",
    Pet.SECURE_AGGREGATION: "secure aggregation: the coordinator sees only the sum of the "
    "holders' contributions",
}
# ASCII punctuation that Markdown (CommonMark or GitHub's) may read as syntax; each
# is escaped with a backslash, which CommonMark allows before any ASCII punctuation.
_SYNTAX = re.compile(r"([\\`*_\[\]<>|&#~!])")
_SPACE = re.compile(r"\s+")
_STYLE = """
body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; color: #1a1a1a; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #999; padding: 0.3rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #eee; }
blockquote { border-left: 4px solid #999; margin-left: 0; padding-left: 1rem; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""


def dpia_draft(request: DataRequest, holder: str | None = None) -> str:
    """A draft data protection impact assessment (GDPR art. 35) of the request.

    The sections follow art. 35(7): (a) a systematic description of the processing
    and its purposes, (b) necessity and proportionality, (c) the risks to the rights
    and freedoms of data subjects, (d) the measures that address them. Everything
    the request says is filled in (data, data form, identifying variables, analyses,
    PETs, period, safeguards); judgements are left to the privacy officer.

    Parameters
    ----------
    request
        The data request.
    holder
        Only this holder's part of the request (``None``: every holder).

    Raises
    ------
    InputError
        ``holder`` is not asked for data in this request.

    Examples
    --------
    >>> from perron.governance.request import EXAMPLE, DataRequest
    >>> draft = dpia_draft(DataRequest.model_validate(EXAMPLE), holder="umc-north")
    >>> draft.splitlines()[0]
    '# DPIA draft: Lung cancer survival after first-line treatment'
    >>> TO_COMPLETE in draft
    True
    """
    request = _scope(request, holder)
    identifying = _identifying(request)
    lines = [
        f"# DPIA draft: {_text(request.title)}",
        "",
        "> Generated from the data request; a starting point for the data protection "
        "impact assessment (GDPR art. 35), not the assessment itself. The fields marked "
        '"To be completed by the privacy officer" must be filled in before the DPIA step '
        "is decided.",
        "",
        f"**Scope.** {_scope_line(request, holder)}",
        "",
        "## 1. Systematic description of the processing and its purposes (GDPR art. 35(7)(a))",
        "",
        f"- **Study:** {_text(request.title)}",
        f"- **Applicant:** {_text(request.applicant)}, {_text(request.organisation)}",
        f"- **Controller at the data holder:** {TO_COMPLETE}",
        f"- **Purpose:** {_PURPOSES[request.purpose]}",
        f"- **Purpose as described:** {_text(request.purpose_description)}",
        f"- **Lay summary:** {_text(request.lay_summary)}",
        *_pico(request),
        f"- **Data form:** {_data_form(request)}",
        f"- **Period:** {_period(request)}",
        f"- **Maximum number of tasks:** {request.max_tasks} per holder",
        f"- **Privacy budget:** {_budget(request)}",
        f"- **Expected outputs:** {_text(request.expected_outputs)}",
        "",
        "### Data requested",
        "",
        *_variables_table(request),
        "",
        "### Identifying variables",
        "",
        *_identifying_lines(request, identifying),
        "",
        "### Processing operations (analyses)",
        "",
        *_analyses_table(request.analyses),
        "",
        "### Privacy-enhancing technologies",
        "",
        *_bullets(_PETS[pet] for pet in request.pets),
        "",
        "## 2. Necessity and proportionality (GDPR art. 35(7)(b))",
        "",
        f"- **Data minimisation:** {_count(request)}; the need for each variable: {TO_COMPLETE}",
        f"- **Data form:** {_form_necessity(request)}",
        f"- **Storage limitation:** the data are used from {request.period.start} until "
        f"{request.period.end}; nothing leaves the stations but aggregates.",
        f"- **Legal basis (GDPR art. 6 and 9(2)) and EHDS permit:** {TO_COMPLETE}",
        "- **Information to data subjects and their right to opt out (EHDS art. 71):** "
        f"{TO_COMPLETE}",
        "",
        "## 3. Risks to the rights and freedoms of data subjects (GDPR art. 35(7)(c))",
        "",
        "| Risk | Measures in this request | Likelihood and severity |",
        "| --- | --- | --- |",
        *(f"| {risk} | {measures} | {TO_COMPLETE} |" for risk, measures in _risks(request)),
        f"| Other risks | {TO_COMPLETE} | {TO_COMPLETE} |",
        "",
        "## 4. Measures to address the risks (GDPR art. 35(7)(d))",
        "",
        f"- **Safeguards stated by the applicant:** {_text(request.safeguards)}",
        "- **Privacy-enhancing technologies:** "
        + ", ".join(pet.value.replace("_", " ") for pet in request.pets),
        "- **Disclosure control:** only aggregates leave a station, each checked against "
        "the holder's disclosure rules (see the joint privacy matrix).",
        "- **Signed study policy:** each holder's station enforces the agreed purpose, "
        f"analyses and parameter bounds, period and at most {request.max_tasks} tasks.",
        "- **No re-identification (EHDS art. 61(3)) and publication of results within "
        f"{PUBLICATION_MONTHS} months (art. 61(4)).**",
        f"- **Ethics:** {_text(request.ethics_declaration)}",
        f"- **Further organisational and technical measures at the holder:** {TO_COMPLETE}",
        "",
        "## 5. Conclusion",
        "",
        f"- **Residual risk and conclusion:** {TO_COMPLETE}",
        f"- **Advice of the data protection officer (GDPR art. 35(2)):** {TO_COMPLETE}",
        "- **Prior consultation of the supervisory authority needed (GDPR art. 36):** "
        f"{TO_COMPLETE}",
        "",
    ]
    return "\n".join(lines)


def privacy_matrix(
    request: DataRequest,
    holder: str | None = None,
    disclosure: Mapping[str, Any] | None = None,
) -> str:
    """The joint privacy matrix: how each requested variable is protected and released.

    One row per (holder, dataset, variable). A variable is pseudonymised when it
    identifies a person and the request asks for pseudonymised data; an identifying
    variable of an anonymised request is not released at all. Everything else is
    released only as an aggregate under the holder's disclosure rules.

    Parameters
    ----------
    request
        The data request.
    holder
        Only this holder's part of the request (``None``: every holder).
    disclosure
        The holder's disclosure rules (name -> value, e.g. ``{"min_rows": 10}``),
        named in the matrix; ``None`` or empty: "the holder's disclosure rules".

    Raises
    ------
    InputError
        ``holder`` is not asked for data in this request.

    Examples
    --------
    >>> from perron.governance.request import EXAMPLE, DataRequest
    >>> matrix = privacy_matrix(DataRequest.model_validate(EXAMPLE), "insurer-east",
    ...                         {"min_rows": 10})
    >>> print(next(line for line in matrix.splitlines() if "| age |" in line))
    | insurer-east | lung | age | no | no | only as aggregate under rule min\\_rows = 10 |
    """
    request = _scope(request, holder)
    rules = _rules(disclosure)
    pseudonymised = request.data_form is DataForm.PSEUDONYMISED
    rows = []
    for part in request.holders:
        for dataset in part.datasets:
            for variable in dataset.variables:
                released = f"only as aggregate under {rules}"
                if variable.identifying and pseudonymised:
                    released += "; the pseudonym itself never leaves the station"
                elif variable.identifying:
                    released = "not released (the request asks for anonymised data)"
                cells = (
                    _cell(part.holder),
                    _cell(dataset.name),
                    _cell(variable.name),
                    _yes(variable.identifying),
                    _yes(variable.identifying and pseudonymised),
                    released,
                )
                rows.append("| " + " | ".join(cells) + " |")
    lines = [
        f"# Joint privacy matrix: {_text(request.title)}",
        "",
        f"**Scope.** {_scope_line(request, holder)}",
        "",
        f"**Data form.** {_data_form(request)}",
        "",
        "| Holder | Dataset | Variable | Identifying | Pseudonymised | Released how |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Row-level data never leave a station; only aggregates that pass the disclosure "
        "rules do. Whether each variable is correctly classified as identifying: "
        f"{TO_COMPLETE}",
        "",
    ]
    return "\n".join(lines)


def term_sheet(
    request: DataRequest,
    holder: str | None = None,
    disclosure: Mapping[str, Any] | None = None,
) -> str:
    """The terms of the data use agreement, as a sheet for legal counsel.

    Parties, purpose, data per holder, permitted analyses with their parameter
    bounds, PETs, disclosure rules, duration, maximum number of tasks, the duty to
    publish the results within 18 months (EHDS art. 61(4)) and the ethics
    declaration. These are the terms that become each holder's signed study policy.

    Parameters
    ----------
    request
        The data request.
    holder
        Only this holder's part of the request (``None``: every holder).
    disclosure
        The holder's disclosure rules (name -> value); ``None`` or empty: "the
        holder's disclosure rules".

    Raises
    ------
    InputError
        ``holder`` is not asked for data in this request.

    Examples
    --------
    >>> from perron.governance.request import EXAMPLE, DataRequest
    >>> sheet = term_sheet(DataRequest.model_validate(EXAMPLE))
    >>> [line for line in sheet.splitlines() if line.startswith("- **Results")]
    ['- **Results published:** no later than 18 months after the processing ends (EHDS art. 61(4)), at the latest on 2029-06-01.']
    """  # noqa: E501
    request = _scope(request, holder)
    *others, last = (role.label for role in SIGNING_ROLES)
    signers = f"{', '.join(others)} and {last}"
    lines = [
        f"# Term sheet: {_text(request.title)}",
        "",
        "> Generated from the data request: the terms to agree on, not the agreement "
        'itself. The fields marked "To be completed by legal counsel" must be filled in.',
        "",
        f"**Scope.** {_scope_line(request, holder)}",
        "",
        "## Parties",
        "",
        f"- **Data user:** {_text(request.organisation)} (applicant {_text(request.applicant)})",
        *(f"- **Data holder:** {_text(part.holder)}" for part in request.holders),
        f"- **Legal entities and representatives:** {TO_COMPLETE_LEGAL}",
        "",
        "## Purpose",
        "",
        f"- **Purpose:** {_PURPOSES[request.purpose]}",
        f"- **As described:** {_text(request.purpose_description)}",
        *_pico(request),
        "- **Prohibited uses:** any use outside this purpose, the uses of EHDS art. 54, "
        "and re-identification of any person (art. 61(3)).",
        "",
        "## Data",
        "",
        f"- **Data form:** {_data_form(request)}",
    ]
    for part in request.holders:
        for dataset in part.datasets:
            lines.append(
                f"- **{_text(part.holder)}, dataset {_text(dataset.name)}:** "
                + ", ".join(_variable_term(v) for v in dataset.variables)
            )
    lines += [
        "",
        "## Permitted analyses",
        "",
        *_analyses_table(request.analyses),
        "",
        "No other analysis may run on the data; parameters outside the bounds are refused.",
        "",
        "## Privacy-enhancing technologies",
        "",
        *_bullets(_PETS[pet] for pet in request.pets),
        "",
        "## Disclosure rules",
        "",
        f"Only aggregates leave a station, under {_rules(disclosure)}. A holder's rules "
        "may be tightened for this study, never loosened.",
        "",
        "## Duration and volume",
        "",
        f"- **Period:** {_period(request)}",
        f"- **Maximum number of tasks:** {request.max_tasks} per holder",
        f"- **Privacy budget:** {_budget(request)}",
        "",
        "## Publication",
        "",
        f"- **Results published:** no later than {PUBLICATION_MONTHS} months after the "
        f"processing ends (EHDS art. 61(4)){_latest(request)}.",
        "- **Only anonymous results** are published; the holders are informed of the publication.",
        f"- **Expected outputs:** {_text(request.expected_outputs)}",
        "",
        "## Ethics",
        "",
        f"- **Declaration of the applicant:** {_text(request.ethics_declaration)}",
        f"- **Safeguards stated by the applicant:** {_text(request.safeguards)}",
        "",
        "## Signatures",
        "",
        f"Each holder's study policy is signed by its {signers}. Liability, applicable "
        f"law and dispute resolution: {TO_COMPLETE_LEGAL}",
        "",
    ]
    return "\n".join(lines)


def to_html(markdown: str, title: str) -> str:
    """A standalone HTML5 page of a Markdown draft.

    Raw HTML in ``markdown`` is not passed through (it shows as text), tables are
    rendered, and ``title`` is escaped.

    Examples
    --------
    >>> page = to_html("| a |\\n| --- |\\n| <b>1</b> |", title="<Draft>")
    >>> "<title>&lt;Draft&gt;</title>" in page, "<table>" in page, "<b>" in page
    (True, True, False)
    """
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = renderer.render(markdown)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            "<main>",
            body.rstrip("\n"),
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


#: The drafts by the name the hub and the CLI use for them.
DRAFTS: dict[str, Callable[..., str]] = {
    "dpia": dpia_draft,
    "privacy-matrix": privacy_matrix,
    "term-sheet": term_sheet,
}


def _scope(request: DataRequest, holder: str | None) -> DataRequest:
    return request if holder is None else request.part_for(holder)


def _scope_line(request: DataRequest, holder: str | None) -> str:
    if holder is not None:
        return f"The part of the request for data holder {_text(holder)}."
    names = ", ".join(_text(name) for name in request.holder_names)
    return f"The whole request, to the data holders {names}."


def _text(value: str) -> str:
    """User text as inline Markdown that renders as written, on one line."""
    return _SYNTAX.sub(r"\\\1", _SPACE.sub(" ", value).strip())


def _cell(value: str) -> str:
    """User text for a table cell (``|`` and line breaks are escaped by :func:`_text`)."""
    return _text(value) or " "


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _bullets(items: Iterable[str]) -> list[str]:
    return [f"- {item}" for item in items]


def _pico(request: DataRequest) -> list[str]:
    question = request.question
    return [
        "- **Research question (PICO):**",
        f"  - population: {_text(question.population)}",
        f"  - intervention or exposure: {_text(question.intervention)}",
        f"  - comparison: {_text(question.comparison) or 'none stated'}",
        f"  - outcome: {_text(question.outcome)}",
    ]


def _data_form(request: DataRequest) -> str:
    if request.data_form is DataForm.ANONYMISED:
        return "anonymised (the default of EHDS art. 66)."
    return (
        "pseudonymised (EHDS art. 68(1)(c)); justification: "
        f"{_text(request.pseudonymisation_justification)}"
    )


def _form_necessity(request: DataRequest) -> str:
    if request.data_form is DataForm.ANONYMISED:
        return "anonymised data are asked for; identifying variables are not released."
    return (
        "pseudonymised data are asked for, justified as: "
        f"{_text(request.pseudonymisation_justification)}. Whether anonymised data "
        f"would do: {TO_COMPLETE}"
    )


def _period(request: DataRequest) -> str:
    days = (request.period.end - request.period.start).days
    return f"from {request.period.start} until {request.period.end} ({days} days)"


def _budget(request: DataRequest) -> str:
    if request.privacy_budget is None:
        return "none (no differential privacy asked for)"
    return f"epsilon = {request.privacy_budget:g} for the whole study at each holder"


def _count(request: DataRequest) -> str:
    variables = [v for part in request.holders for ds in part.datasets for v in ds.variables]
    identifying = sum(v.identifying for v in variables)
    return f"{len(variables)} variables are requested, {identifying} of them identifying"


def _identifying(request: DataRequest) -> list[tuple[str, str, Variable]]:
    return [
        (part.holder, ds.name, v)
        for part in request.holders
        for ds in part.datasets
        for v in ds.variables
        if v.identifying
    ]


def _identifying_lines(
    request: DataRequest, identifying: list[tuple[str, str, Variable]]
) -> list[str]:
    if not identifying:
        return ["None of the requested variables is marked as identifying."]
    treatment = (
        "pseudonymised at the station"
        if request.data_form is DataForm.PSEUDONYMISED
        else "not released (anonymised request)"
    )
    return [
        f"- {_text(v.name)} ({_text(holder)}, dataset {_text(dataset)}): {treatment}"
        for holder, dataset, v in identifying
    ]


def _variables_table(request: DataRequest) -> list[str]:
    lines = [
        "| Holder | Dataset | Variable | Description | Identifying |",
        "| --- | --- | --- | --- | --- |",
    ]
    for part in request.holders:
        for ds in part.datasets:
            for v in ds.variables:
                cells = (part.holder, ds.name, v.name, v.description)
                lines.append(
                    "| " + " | ".join(_cell(c) for c in cells) + f" | {_yes(v.identifying)} |"
                )
    return lines


def _analyses_table(analyses: Iterable[AnalysisRequest]) -> list[str]:
    lines = ["| Algorithm | Description | Parameter bounds |", "| --- | --- | --- |"]
    for analysis in analyses:
        cells = (_cell(analysis.algorithm), _cell(analysis.description), _bounds(analysis))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _bounds(analysis: AnalysisRequest) -> str:
    if not analysis.bounds:
        return "none"
    parts = []
    for param, bound in analysis.bounds.items():
        terms = []
        if "min" in bound:
            terms.append(f"at least {_value(bound['min'])}")
        if "max" in bound:
            terms.append(f"at most {_value(bound['max'])}")
        if "one_of" in bound:
            values = bound["one_of"]
            listed = values if isinstance(values, list | tuple) else [values]
            terms.append("one of " + ", ".join(_value(v) for v in listed))
        parts.append(f"{_text(param)}: " + (" and ".join(terms) or "no bound stated"))
    return "; ".join(parts)


def _latest(request: DataRequest) -> str:
    try:
        return f", at the latest on {publication_deadline(request.period.end)}"
    except ValueError:  # past the end of the calendar: no date to give
        return ""


def _variable_term(variable: Variable) -> str:
    return _text(variable.name) + (" (identifying)" if variable.identifying else "")


def _rules(disclosure: Mapping[str, Any] | None) -> str:
    """The disclosure rules as "rule(s) name = value, ..." for a sentence or a cell."""
    if not disclosure:
        return "the holder's disclosure rules"
    named = ", ".join(f"{_text(str(name))} = {_value(v)}" for name, v in disclosure.items())
    return ("rule " if len(disclosure) == 1 else "rules ") + named


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _text(str(value))


def _risks(request: DataRequest) -> list[tuple[str, str]]:
    """The risks the request itself points to, with the measures it already takes."""
    risks = [
        (
            "Identification of a person from released aggregates (small cells, or the "
            "difference of two overlapping results)",
            "only aggregates leave a station, under the holder's disclosure rules; at most "
            f"{request.max_tasks} tasks; only the agreed analyses and parameter bounds",
        )
    ]
    names = ", ".join(_text(v.name) for _, _, v in _identifying(request))
    if names and request.data_form is DataForm.PSEUDONYMISED:
        risks.append(
            (
                f"Identification through the identifying variables ({names})",
                "pseudonymised at the station; the pseudonyms never leave it",
            )
        )
    elif names:
        risks.append(
            (
                f"Identification through the identifying variables ({names})",
                "not released: the request asks for anonymised data",
            )
        )
    if request.data_form is DataForm.PSEUDONYMISED:
        risks.append(
            (
                "Re-identification of pseudonymised data",
                "re-identification is prohibited (EHDS art. 61(3)); keys stay with the "
                "health data access body or a trusted third party (art. 66)",
            )
        )
    if Pet.LINKAGE in request.pets:
        risks.append(
            (
                "Linked records across holders give a fuller profile of a person",
                "linkage on pseudonyms inside the stations; linked rows are not released",
            )
        )
    risks += [
        (
            "Use of the data beyond the agreed purpose or period",
            "a study policy signed by each holder, enforced by its station on every task",
        ),
        (
            "Stigmatisation of a group of people by the results",
            f"ethics declaration: {_text(request.ethics_declaration)}",
        ),
    ]
    return risks
