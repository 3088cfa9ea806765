"""Drafts from a request: what they say, what a holder's view leaves out, and that
user text can neither inject HTML nor break a table."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from perron.governance.drafts import (
    DRAFTS,
    TO_COMPLETE,
    TO_COMPLETE_LEGAL,
    dpia_draft,
    privacy_matrix,
    term_sheet,
    to_html,
)
from perron.governance.request import DataRequest
from perron.protocol.errors import InputError

DISCLOSURE = {"min_rows": 10, "min_cell": 5, "round_counts": None, "release_extremes": False}


class _Tables(HTMLParser):
    """The cells of every table row of an HTML page, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def _matrix_rows(markdown: str) -> dict[tuple[str, str, str], list[str]]:
    """The matrix as rendered: (holder, dataset, variable) -> the other cells."""
    rows = _tables(to_html(markdown, "matrix")).rows
    assert rows[0] == [
        "Holder",
        "Dataset",
        "Variable",
        "Identifying",
        "Pseudonymised",
        "Released how",
    ]
    return {(r[0], r[1], r[2]): r[3:] for r in rows[1:]}


# -- scope ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DRAFTS))
def test_a_holders_view_does_not_mention_the_other_holders_or_their_variables(pseudonymised, name):
    draft = DRAFTS[name](pseudonymised, holder="insurer-east")

    assert "insurer-east" in draft
    for other in ("umc-north", "pharmacy-west", "status", "postcode"):
        assert other not in draft
    assert "insurer\\_id" in draft


@pytest.mark.parametrize("name", sorted(DRAFTS))
def test_the_whole_view_mentions_every_holder(study_request, name):
    draft = DRAFTS[name](study_request)

    for holder in study_request.holder_names:
        assert holder in draft


@pytest.mark.parametrize("name", sorted(DRAFTS))
def test_a_draft_for_a_holder_not_in_the_request_is_an_input_error(study_request, name):
    with pytest.raises(InputError, match="not asked for data"):
        DRAFTS[name](study_request, holder="nobody")


@pytest.mark.parametrize("name", sorted(DRAFTS))
def test_drafts_are_deterministic(pseudonymised, name):
    again = DataRequest.model_validate(pseudonymised.model_dump(mode="json"))

    assert DRAFTS[name](pseudonymised) == DRAFTS[name](again)
    assert to_html(DRAFTS[name](pseudonymised), "x") == to_html(DRAFTS[name](again), "x")


def test_the_drafts_are_registered_by_name():
    registered = dict(DRAFTS)

    assert registered == {
        "dpia": dpia_draft,
        "privacy-matrix": privacy_matrix,
        "term-sheet": term_sheet,
    }


# -- the privacy matrix ---------------------------------------------------------------------


def test_the_matrix_has_one_row_per_holder_dataset_and_variable(study_request):
    rows = _matrix_rows(privacy_matrix(study_request))

    expected = {
        (part.holder, ds.name, v.name)
        for part in study_request.holders
        for ds in part.datasets
        for v in ds.variables
    }
    assert set(rows) == expected
    assert len(rows) == 8


def test_identifying_variables_of_a_pseudonymised_request_are_pseudonymised(pseudonymised):
    rows = _matrix_rows(privacy_matrix(pseudonymised, disclosure=DISCLOSURE))

    identifying, pseudonym, released = rows[("umc-north", "lung", "postcode")]
    assert (identifying, pseudonym) == ("yes", "yes")
    assert released.startswith("only as aggregate under rules min_rows = 10, min_cell = 5")
    assert "pseudonym itself never leaves the station" in released
    assert rows[("insurer-east", "lung", "insurer_id")][:2] == ["yes", "yes"]
    assert rows[("umc-north", "lung", "age")][:2] == ["no", "no"]


def test_identifying_variables_of_an_anonymised_request_are_not_released(
    anonymised_identifying,
):
    rows = _matrix_rows(privacy_matrix(anonymised_identifying, disclosure=DISCLOSURE))

    assert rows[("umc-north", "lung", "postcode")] == [
        "yes",
        "no",
        "not released (the request asks for anonymised data)",
    ]
    assert rows[("umc-north", "lung", "age")] == [
        "no",
        "no",
        "only as aggregate under rules min_rows = 10, min_cell = 5, round_counts = none, "
        "release_extremes = no",
    ]


def test_the_matrix_names_one_rule_or_falls_back_to_the_holders_rules(study_request):
    one = _matrix_rows(privacy_matrix(study_request, disclosure={"min_cell": 11}))
    none = _matrix_rows(privacy_matrix(study_request))
    empty = _matrix_rows(privacy_matrix(study_request, disclosure={}))

    assert one[("umc-north", "lung", "age")][2] == "only as aggregate under rule min_cell = 11"
    for rows in (none, empty):
        assert rows[("umc-north", "lung", "age")][2] == (
            "only as aggregate under the holder's disclosure rules"
        )


def test_the_matrix_marks_what_the_privacy_officer_completes(study_request):
    assert TO_COMPLETE in privacy_matrix(study_request)


# -- the DPIA ------------------------------------------------------------------------------


def test_the_dpia_follows_gdpr_article_35_and_leaves_the_judgements_open(study_request):
    draft = dpia_draft(study_request)

    for section in ("35(7)(a)", "35(7)(b)", "35(7)(c)", "35(7)(d)"):
        assert section in draft
    assert draft.count(TO_COMPLETE) >= 8
    assert "EHDS art. 53(1)(e): scientific research" in draft
    assert "anonymised (the default of EHDS art. 66)" in draft
    assert "from 2026-12-01 until 2027-12-01 (365 days)" in draft
    assert "federated analysis" in draft
    assert "None of the requested variables is marked as identifying." in draft
    assert "max\\_iterations: at least 1 and at most 50" in draft
    assert "at most 500 tasks" in draft


def test_the_dpia_lists_the_identifying_variables_and_the_justification(pseudonymised):
    draft = dpia_draft(pseudonymised)

    assert "- postcode (umc-north, dataset lung): pseudonymised at the station" in draft
    assert "- insurer\\_id (insurer-east, dataset lung): pseudonymised" in draft
    assert "justification: Linkage of records across the holders." in draft
    assert "Re-identification of pseudonymised data" in draft
    assert "Linked records across holders" in draft
    assert "10 variables are requested, 2 of them identifying" in draft


def test_the_dpia_of_an_anonymised_request_does_not_release_identifying_variables(
    anonymised_identifying,
):
    draft = dpia_draft(anonymised_identifying)

    assert "- postcode (umc-north, dataset lung): not released (anonymised request)" in draft


def test_the_dpia_shows_a_privacy_budget(raw):
    raw["privacy_budget"] = 1.5
    raw["pets"] = ["federated_analysis", "differential_privacy"]

    draft = dpia_draft(DataRequest.parse(raw))

    assert "epsilon = 1.5" in draft
    assert "differential privacy: calibrated noise" in draft


# -- the term sheet -----------------------------------------------------------------------


def test_the_term_sheet_states_every_term(study_request):
    sheet = term_sheet(study_request, disclosure={"min_rows": 25})

    assert "- **Data user:** research (applicant ana)" in sheet
    for holder in ("umc-north", "insurer-east", "pharmacy-west"):
        assert f"- **Data holder:** {holder}" in sheet
    assert "- **insurer-east, dataset lung:** time, age" in sheet
    assert "| coxph | adjusted hazard ratios | max\\_iterations: at least 1 and at most 50 |" in (
        sheet
    )
    assert "| summary | descriptive statistics | none |" in sheet
    assert "federated analysis" in sheet
    assert "under rule min\\_rows = 25" in sheet
    assert "from 2026-12-01 until 2027-12-01" in sheet
    assert "**Maximum number of tasks:** 500 per holder" in sheet
    assert "no later than 18 months" in sheet
    assert "EHDS art. 61(4)), at the latest on 2029-06-01." in sheet
    assert "The study was reviewed by the METC" in sheet
    assert "security officer" in sheet
    assert TO_COMPLETE_LEGAL in sheet


def test_the_term_sheet_marks_identifying_variables(pseudonymised):
    sheet = term_sheet(pseudonymised, holder="umc-north")

    assert "- **umc-north, dataset lung:** time, status, age, sex, postcode (identifying)" in (
        sheet
    )
    assert "pseudonymised (EHDS art. 68(1)(c)); justification: Linkage" in sheet


def test_one_of_bounds_are_listed(raw):
    raw["analyses"][2]["bounds"] = {"ties": {"one_of": ["efron", "breslow"]}}

    sheet = term_sheet(DataRequest.parse(raw))

    assert "ties: one of efron, breslow" in sheet


# -- HTML, and user text ----------------------------------------------------------------------


@pytest.fixture
def hostile(raw: dict[str, Any]) -> DataRequest:
    """A request whose text tries HTML, Markdown and table breaking."""
    raw["title"] = "<script>alert('title')</script> study"
    raw["lay_summary"] = "<script>alert(1)</script> **bold** [x](javascript:alert(1)) & more"
    raw["organisation"] = "<img src=x onerror=alert(2)>"
    variables = raw["holders"][0]["datasets"][0]["variables"]
    variables[0]["description"] = "days | to death\n| x | y |\n\n# heading"
    variables[1]["name"] = "st|atus"
    return DataRequest.parse(raw)


@pytest.mark.parametrize("name", sorted(DRAFTS))
def test_user_html_is_escaped_in_every_page(hostile, name):
    page = to_html(DRAFTS[name](hostile), title=hostile.title)
    parsed = _tables(page)

    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert('title')&lt;/script&gt; study" in page
    assert {"script", "img", "h1"} & set(parsed.tags) == {"h1"}
    assert "<title>&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; study</title>" in page


def test_user_markdown_renders_as_written(hostile):
    page = to_html(dpia_draft(hostile), title="DPIA")

    assert "**bold** [x](javascript:alert(1)) &amp; more" in page
    assert 'href="javascript' not in page
    assert page.count("<h1>") == 1


@pytest.mark.parametrize("name", sorted(DRAFTS))
def test_user_text_cannot_break_a_table(hostile, name):
    parsed = _tables(to_html(DRAFTS[name](hostile), title="x"))

    # The drafts' tables have 3 (analyses, risks), 5 (variables) or 6 (matrix) columns.
    assert {len(row) for row in parsed.rows} <= {3, 5, 6}


def test_the_variable_table_keeps_a_pipe_and_a_line_break_in_one_cell(hostile):
    rows = _tables(to_html(dpia_draft(hostile), title="x")).rows
    variables = [row for row in rows if len(row) == 5]

    assert ["umc-north", "lung", "time", "days | to death | x | y | # heading", "no"] in variables
    assert ["umc-north", "lung", "st|atus", "1 = died", "no"] in variables
    assert len(variables) == 1 + 8


def test_matrix_rows_survive_hostile_names(hostile):
    rows = _matrix_rows(privacy_matrix(hostile))

    assert ("umc-north", "lung", "st|atus") in rows
    assert len(rows) == 8


def test_to_html_is_a_standalone_html5_document():
    page = to_html("# Title\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n", title="A & B")

    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert page.rstrip().endswith("</html>")
    assert '<meta charset="utf-8">' in page
    assert "<title>A &amp; B</title>" in page
    assert "<style>" in page
    assert "<table>" in page
    assert _tables(page).rows == [["a", "b"], ["1", "2"]]
    assert "<h1>Title</h1>" in page


def test_raw_html_in_markdown_is_not_passed_through():
    page = to_html("<div onclick=x>hi</div>\n\n<b>bold</b>", title="t")

    assert "<div onclick" not in page
    assert "<b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_every_draft_renders_its_tables(pseudonymised):
    expected = {"dpia": 3, "privacy-matrix": 1, "term-sheet": 1}

    for name, draft in DRAFTS.items():
        page = to_html(draft(pseudonymised), title=name)

        assert page.count("<table>") == expected[name]
        assert not re.search(r"<p>\|", page), f"a table of {name} did not render"


def test_a_term_sheet_for_a_period_at_the_end_of_the_calendar_gives_no_date(raw):
    raw["period"] = {"start": "2026-12-01", "end": "9998-12-01"}

    sheet = term_sheet(DataRequest.parse(raw))

    assert "after the processing ends (EHDS art. 61(4))." in sheet
    assert "at the latest on" not in sheet
