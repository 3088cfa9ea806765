"""The federated quality algorithm: three stations, their datasets and their CDM reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perron
from perron.algorithms.core.base import StationContext
from perron.algorithms.quality.reports import Quality, WithQualityReport, exact_report_path
from perron.client.grid import InMemoryGrid
from perron.client.session import Session
from perron.data.frame import FrameSource
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import DisclosureBlocked, InputError
from perron.quality import Status, run_checks
from perron.quality.store import save
from perron.station.node import Station
from tests.quality.builders import SETTINGS, people, rows, tables, text

POLICY = DisclosurePolicy(min_cell=5)


def cohort(n: int, too_old: int, seed: int) -> pd.DataFrame:
    """``n`` patients; ``too_old`` of them aged over 120; a few without a BMI."""
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 90, size=n).astype(float)
    age[:too_old] = 150.0
    bmi = rng.normal(26, 4, size=n)
    bmi[-3:] = np.nan
    sex = np.where(np.arange(n) % 2 == 0, "female", "male").astype(object)
    sex[1] = "unknown"
    return pd.DataFrame({"age": age, "bmi": bmi, "sex": sex})


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    return {"north": cohort(60, 2, 1), "south": cohort(80, 6, 2), "east": cohort(40, 0, 3)}


def test_three_stations_each_release_their_report(frames):
    session = perron.simulate(frames, disclosure=POLICY)

    result = session.quality(
        required=["bmi"],
        expected={"age": "numeric", "sex": "numeric"},
        ranges={"age": [0, 120]},
        levels={"sex": ["female", "male"]},
    )

    assert list(result.reports) == ["north", "south", "east"]
    high = {s: r.check(f"plausibleValueHigh.{s}.age") for s, r in result.reports.items()}
    assert text(high["north"].violated) == "< 5"  # 2 patients: suppressed, never 2
    assert high["north"].pct_violated is None
    assert high["north"].status is Status.FAILED
    assert (text(high["south"].violated), high["south"].pct_violated) == ("6", 7.5)
    assert (text(high["east"].violated), high["east"].status) == ("0", Status.PASSED)
    north = result.reports["north"]
    assert text(north.check("isRequired.north.bmi").violated) == "< 5"  # 3 missing
    assert north.check("cdmDatatype.north.sex").status is Status.FAILED  # text, not numeric
    assert text(north.check("allowedValues.north.sex").violated) == "< 5"
    assert north.check("measureValueCompleteness.north.age").status is Status.PASSED
    assert north.kind == "dataset"
    assert north.disclosure == {"min_cell": 5, "round_counts": None}
    coverage = {r.field: r for r in north.coverage}
    assert (text(coverage["bmi"].records), text(coverage["bmi"].records_total)) == ("57", "60")
    assert result.cdm == {}  # no station keeps a CDM report here
    assert result.nobs_per_station == {"north": 60, "south": 80, "east": 40}
    assert {d.rule for d in result.decisions} == {"min_rows", "min_cell"}


def test_the_result_as_a_table_json_and_one_html_page(frames):
    result = perron.simulate(frames, disclosure=POLICY).quality(ranges={"age": [0, 120]})

    assert list(result.table.index.get_level_values("station")) == ["north", "south", "east"]
    assert "&lt; 5" in result.to_html()
    assert '"< 5"' in result.to_json()
    assert "north" in str(result)


def test_a_malicious_column_name_is_escaped_on_the_page():
    frame = pd.DataFrame({"<script>alert(1)</script>": np.arange(30.0)})
    result = perron.simulate({"a": frame, "b": frame, "c": frame}).quality()

    page = result.to_html()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_request_may_tighten_the_rules(frames):
    result = perron.simulate(frames, disclosure=POLICY).quality(
        ranges={"age": [0, 120]}, disclosure={"min_cell": 10}
    )

    assert text(result.reports["south"].check("plausibleValueHigh.south.age").violated) == "< 10"


def test_a_station_with_too_few_rows_refuses(frames):
    small = {**frames, "east": frames["east"].head(5)}

    with pytest.raises(DisclosureBlocked, match="min_rows"):
        perron.simulate(small, disclosure=POLICY).quality()


def test_bad_parameters_fail_at_the_researcher():
    with pytest.raises(InputError, match="'numeric' or 'categorical'"):
        Quality(expected={"age": "text"})
    with pytest.raises(InputError, match=r"\[low, high\]"):
        Quality(ranges={"age": [0]})


def hospital_cdm(late: int) -> dict[str, pd.DataFrame]:
    """A small CDM where ``late`` of 10 persons lack a year of birth."""
    years = [None] * late + [1950 + i for i in range(10 - late)]
    return tables(person=people(year_of_birth=years), measurement=rows("measurement"))


def test_stations_with_a_cdm_report_add_it_released(frames, tmp_path):
    north = run_checks(hospital_cdm(3), SETTINGS, dataset="north-cdm")
    save(north, tmp_path, POLICY)
    south = run_checks(hospital_cdm(7), SETTINGS, dataset="south-cdm")
    stations = {
        "north": Station(
            "north",
            WithQualityReport(
                FrameSource(frames["north"]), exact_report_path(tmp_path, "north-cdm")
            ),
            POLICY,
        ),
        "south": Station("south", WithQualityReport(FrameSource(frames["south"]), south), POLICY),
        "east": Station("east", FrameSource(frames["east"]), POLICY),
    }
    session = Session(InMemoryGrid({name: s.handle for name, s in stations.items()}))

    result = session.quality(ranges={"age": [0, 120]})

    assert sorted(result.cdm) == ["north", "south"]
    key = "isRequired.person.year_of_birth"
    assert text(result.cdm["north"].check(key).violated) == "< 5"  # 3, released as "< 5"
    assert text(result.cdm["south"].check(key).violated) == "7"
    assert result.cdm["north"].disclosure == {"min_cell": 5, "round_counts": None}
    tighter = session.quality(disclosure={"min_cell": 10})
    assert text(tighter.cdm["south"].check(key).violated) == "< 10"
    assert "OMOP CDM" in result.to_html()
    assert [h for h, _ in result.sections()] == [
        "north: analysis dataset",
        "north: OMOP CDM",
        "south: analysis dataset",
        "south: OMOP CDM",
        "east: analysis dataset",
    ]
    without = session.quality(cdm=False)
    assert without.cdm == {}


def test_the_station_step_releases_only_declared_outputs(frames):
    output = Quality.station_step(
        FrameSource(frames["north"]), Quality().request.to_params(), StationContext("n", POLICY)
    )

    assert set(output.payload) == set(Quality.contract.releases)
    assert output.payload["cdm"] is None
