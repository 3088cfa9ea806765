"""A report's release under disclosure rules, its JSON and its HTML page."""

from __future__ import annotations

import json
import re

import pytest

from perron.catalogue.metadata import QualityReport as CatalogueQuality
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError
from perron.quality import Check, QualityReport, Status, run_checks
from perron.quality.checks import check_type
from perron.quality.report import release
from perron.quality.run import result_of
from perron.quality.store import load, quality_summary, report_files, save
from tests.quality.builders import SETTINGS, people, rows, tables, text, value

POLICY = DisclosurePolicy(min_cell=5)
KEY = "isRequired.person.year_of_birth"


def three_of_twenty() -> QualityReport:
    """A report where exactly 3 of 20 persons lack a year of birth."""
    years = [None, None, None] + [1950 + i for i in range(17)]
    return run_checks(tables(person=people(20, year_of_birth=years)), SETTINGS, dataset="north")


def one_check(violated: int, denominator: int, threshold: float) -> QualityReport:
    check = Check(check_type("plausibleValueLow"), "person", "year_of_birth", threshold=threshold)
    result = result_of(check, violated, denominator)
    return QualityReport("d", "cdm", QualityReport.now(), (result,))


def test_a_count_of_three_is_released_as_below_five_never_three():
    exact = three_of_twenty()
    assert value(exact.check(KEY).violated) == 3

    released = exact.released(POLICY)

    result = released.check(KEY)
    assert text(result.violated) == "< 5"
    assert value(result.violated) is None
    assert value(result.denominator) == 20
    assert result.pct_violated is None  # withheld: its numerator is suppressed
    assert result.status is Status.FAILED  # threshold 0: any of 1-4 fails
    as_json = json.loads(released.to_json())
    row = next(c for c in as_json["checks"] if c["key"] == KEY)
    assert row["num_violated_rows"] == "< 5"
    assert row["pct_violated_rows"] is None
    assert 3 not in row.values()
    assert as_json["disclosure"] == {"min_cell": 5, "round_counts": None}
    page = released.to_html()
    cells = re.search(r"<tr>(?:(?!</tr>).)*isRequired(?:(?!</tr>).)*year_of_birth.*?</tr>", page)
    assert cells is not None
    assert "&lt; 5" in cells.group(0)
    assert ">3<" not in cells.group(0)
    assert "3.00%" not in cells.group(0)
    assert "15.00%" not in cells.group(0)


def test_coverage_is_released_the_same_way():
    released = three_of_twenty().released(POLICY)

    coverage = {(r.table, r.field): r for r in released.coverage}
    # 20 persons, 17 with a year of birth; 0 with a month: zeros are not suppressed.
    year = coverage[("person", "year_of_birth")]
    assert (text(year.records), text(year.records_total), year.pct_records) == ("17", "20", 85.0)
    month = coverage[("person", "month_of_birth")]
    assert text(month.records) == "0"


def test_counts_between_one_and_min_cell_are_suppressed_everywhere():
    released = three_of_twenty().released(DisclosurePolicy(min_cell=10))

    for check in released.checks:
        for count in (check.violated, check.denominator):
            if count is not None and count.value is not None:
                assert count.value == 0 or count.value >= 10 or check.structural


def test_the_status_follows_the_released_numbers():
    # 2 of 100 below a plausible bound, 1% allowed: exactly, failed (2%).
    exact = one_check(2, 100, threshold=1.0)
    assert exact.checks[0].status is Status.FAILED
    # Released as "< 5" of 100: 1% (passes) to 4% (fails) -> reported as failed, with a note.
    shown = exact.released(POLICY).checks[0]
    assert shown.status is Status.FAILED
    assert "leave open" in shown.notes
    # With 5% allowed every count below 5 passes: the status is known from "< 5".
    lenient = one_check(2, 100, threshold=5.0).released(POLICY).checks[0]
    assert (lenient.status, lenient.notes) == (Status.PASSED, "")
    # Exact numbers released as they are: the status stays.
    many = one_check(7, 100, threshold=5.0).released(POLICY).checks[0]
    assert (text(many.violated), many.pct_violated, many.status) == ("7", 7.0, Status.FAILED)


def test_rounded_counts_give_percentages_and_statuses_from_the_rounded_numbers():
    report = one_check(12, 996, threshold=1.0)  # 1.2%: failed
    shown = report.released(DisclosurePolicy(min_cell=5, round_counts=10)).checks[0]

    assert (text(shown.violated), text(shown.denominator)) == ("10", "1000")
    assert shown.pct_violated == 1.0
    # 10 of 1000 could be 5..15 of 995..1005: the threshold may or may not be crossed.
    assert shown.status is Status.FAILED
    assert "leave open" in shown.notes
    far = one_check(40, 996, threshold=1.0).released(DisclosurePolicy(round_counts=10))
    assert (far.checks[0].status, far.checks[0].notes) == (Status.FAILED, "")


def test_structural_checks_are_released_as_they_are():
    report = run_checks({"observation_period": rows("observation_period")}, SETTINGS)
    released = report.released(POLICY)

    table = released.check("cdmTable.person")
    assert (text(table.violated), text(table.denominator), table.status) == (
        "1",
        "1",
        Status.FAILED,
    )


def test_release_returns_the_decisions_without_numbers():
    _, decisions = release(three_of_twenty(), POLICY, "north")

    assert [(d.station, d.rule, d.threshold, d.outcome) for d in decisions] == [
        ("north", "min_cell", 5, "suppressed")
    ]
    _, rounded = release(three_of_twenty(), DisclosurePolicy(round_counts=5), "north")
    assert [d.rule for d in rounded] == ["min_cell", "round_counts"]


def test_a_released_report_is_not_released_again():
    released = three_of_twenty().released(POLICY)

    with pytest.raises(InputError, match="released already"):
        released.released(DisclosurePolicy(min_cell=10))


def test_json_round_trip():
    report = three_of_twenty()
    released = report.released(POLICY)

    assert QualityReport.from_json(report.to_json()) == report
    assert QualityReport.from_json(released.to_json()) == released
    with pytest.raises(InputError, match="not a Perron quality report"):
        QualityReport.from_json('{"checks": []}')
    with pytest.raises(InputError, match="not JSON"):
        QualityReport.from_json("{")


def test_summary_and_overview_count_checks_per_category_and_context():
    report = three_of_twenty()
    summary = report.summary()
    overview = report.overview()

    assert summary["status"]["failed"] == len(report.failures())
    assert sum(summary["status"].values()) == len(report.checks)
    total = overview["Total"]["Total"]
    assert total["passed"] == summary["status"]["passed"]
    assert total["failed"] == summary["status"]["failed"]
    assert overview["Validation"]["Conformance"]["failed"] >= 1  # isRequired is Validation


def test_html_escapes_every_string():
    person = people()
    person["<script>alert(1)</script>"] = 1
    report = run_checks(tables(person=person), SETTINGS, dataset='<img src=x onerror="boom">')

    page = report.released(POLICY).to_html()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;boom&quot;&gt;" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page
    assert "<script" not in page


def test_an_exact_page_says_it_is_not_for_publication():
    page = three_of_twenty().to_html()

    assert "Exact numbers." in page
    assert "&lt; 5" not in page


def test_store_writes_the_exact_and_the_released_report(tmp_path):
    report = three_of_twenty()

    files = save(report, tmp_path, POLICY)

    assert files == report_files(tmp_path, "north")
    assert files.exact.stat().st_mode & 0o077 == 0  # the station's user only
    assert load(files.exact) == report
    published = load(files.json)
    assert text(published.check(KEY).violated) == "< 5"
    assert "&lt; 5" in files.html.read_text()
    with pytest.raises(InputError, match="station quality"):
        load(tmp_path / "missing.json")


def test_quality_summary_fits_a_catalogue_entry():
    released = three_of_twenty().released(POLICY)

    summary = quality_summary(released, "https://umc-north.example/quality/north.html")

    assert set(summary) == {"summary", "url"}
    assert "failed" in summary["summary"]
    entry = CatalogueQuality(**summary)
    assert str(entry.url) == "https://umc-north.example/quality/north.html"
    with pytest.raises(InputError, match="released report"):
        quality_summary(three_of_twenty())
