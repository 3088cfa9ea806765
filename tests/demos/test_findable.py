"""``perron demo --findable`` between real station processes: a catalogue search, a
feasibility count with the differencing guard, and quality reports with the CDM's."""

from __future__ import annotations

from rich.console import Console

from perron.demos.findable import run_findable


def test_the_findable_data_demo_searches_counts_and_reports_quality():
    console = Console(record=True, width=160)

    outcome = run_findable(console, size=200)

    names = {f"{e['holder']}/{e['name']}" for e in outcome.found}
    assert "umc-demo/admissions" in names
    assert "insurer-demo/claims" not in names  # it says nothing about the heart
    linked = {e["name"]: e["metadata"].get("quality_report") for e in outcome.found}
    assert linked["admissions"]["summary"].startswith("Data quality (OHDSI DQD checks")
    assert set(outcome.feasibility.counts) == {"hospital", "insurer", "pharmacy"}
    assert all(c.precision == "rounded" for c in outcome.feasibility.counts.values())
    assert outcome.near_copy_refused is not None
    assert "min_difference" in outcome.near_copy_refused
    table = outcome.quality.table
    assert set(table.index.get_level_values("report")) == {"analysis dataset", "OMOP CDM"}
    assert "Data quality" in console.export_text()
