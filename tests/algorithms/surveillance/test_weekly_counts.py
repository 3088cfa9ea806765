"""Federated weekly counts: exact pooled series, suppressed cells named, noisy counts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

import perron
from perron import DisclosurePolicy
from perron.algorithms.surveillance.case_counts import CountSpec
from perron.protocol.errors import DisclosureBlocked, InputError
from perron.surveillance.synthetic import synthetic_surveillance
from perron.surveillance.weeks import IsoWeek

CASE = [{"column": "icd10", "in": ["A02.0"]}]
BANDS = {"age": [0, 15, 65]}


@pytest.fixture(scope="module")
def holders() -> dict[str, pd.DataFrame]:
    return dict(
        synthetic_surveillance(IsoWeek(2023, 1), IsoWeek(2024, 52), outbreak=None, seed=3).frames
    )


def _pooled_by_pandas(
    frames: dict[str, pd.DataFrame], first: str, last: str, by: list[str]
) -> pd.DataFrame:
    """The reference: the same counts on the pooled records, with pandas."""
    pooled = pd.concat(frames.values(), ignore_index=True)
    cases = pooled[pooled["icd10"] == "A02.0"].copy()
    iso = pd.to_datetime(cases["onset"]).dt.isocalendar()
    cases["week"] = [f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"], strict=True)]
    cases = cases[(cases["week"] >= first) & (cases["week"] <= last)]
    if "age" in by:
        bands = pd.cut(cases["age"], [0, 15, 65, 200], right=False, labels=["0-14", "15-64", "65+"])
        cases["age"] = bands.astype(str)
    if not by:
        return cases.groupby("week").size().to_frame("total")
    return cases.groupby(["week", *by]).size().unstack(by, fill_value=0)


def test_pooled_counts_equal_the_counts_of_the_pooled_records(holders):
    session = perron.simulate(holders, disclosure=DisclosurePolicy(min_cell=1))

    result = session.weekly_counts(
        case=CASE, date="onset", first="2023-W01", last="2024-W52", by=["age"], bands=BANDS
    )

    expected = _pooled_by_pandas(holders, "2023-W01", "2024-W52", ["age"])
    table = result.table().loc[expected.index, expected.columns]
    np.testing.assert_array_equal(table.to_numpy(), expected.to_numpy(dtype=float))
    assert result.table().drop(index=expected.index).sum().sum() == 0  # weeks without a case
    assert result.suppressed.empty
    np.testing.assert_array_equal(result.series().counts, result.table().sum(axis=1).to_numpy())


def test_a_small_station_cell_is_suppressed_and_named_and_the_rest_stays_exact(holders):
    session = perron.simulate(holders, disclosure=DisclosurePolicy(min_cell=5))

    result = session.weekly_counts(case=CASE, date="onset", first="2023-W01", last="2024-W52")

    hospital = holders["hospital"]
    local = _pooled_by_pandas({"h": hospital}, "2023-W01", "2024-W52", [])["total"]
    small = local[(local > 0) & (local < 5)].index
    suppressed = result.suppressed
    assert set(suppressed.loc[suppressed["station"] == "hospital", "week"]) >= set(small)
    series = result.series()
    unknown = {str(w) for w, k in zip(series.weeks, series.known, strict=True) if not k}
    assert unknown == set(suppressed["week"])
    exact = _pooled_by_pandas(holders, "2023-W01", "2024-W52", [])["total"]
    known = [w for w in exact.index if w not in unknown]
    table = result.table()["total"]
    np.testing.assert_array_equal(table.loc[known].to_numpy(), exact.loc[known].to_numpy(float))
    assert any(d.rule == "min_cell" and d.outcome == "suppressed" for d in result.decisions)


def test_rounding_set_by_the_holder_applies_to_every_cell(holders):
    session = perron.simulate(holders, disclosure=DisclosurePolicy(min_cell=1, round_counts=5))

    result = session.weekly_counts(case=CASE, date="onset", first="2024-W01", last="2024-W10")

    for table in result.per_station.values():
        assert np.all(table % 5 == 0)


def test_reporting_delays_form_the_triangle_as_of_the_last_week():
    frame = pd.DataFrame(
        {
            "onset": ["2024-01-01", "2024-01-02", "2024-01-08", "2024-01-15", "2024-01-15"] * 4,
            "report": ["2024-01-01", "2024-01-09", "2024-01-20", "2024-01-16", "2024-01-30"] * 4,
            "icd10": ["A02.0"] * 20,
        }
    )
    session = perron.simulate({"a": frame, "b": frame}, disclosure=DisclosurePolicy(min_cell=1))

    result = session.weekly_counts(
        case=CASE,
        date="onset",
        first="2024-W01",
        last="2024-W03",
        report_date="report",
        max_delay=2,
    )

    # W01: delays 0 and 1; W02: delay 1; W03: delay 0, and one report in W05 (not yet in).
    np.testing.assert_array_equal(result.counts[:, 0, :], [[8, 8, 0], [0, 8, 0], [8, 0, 0]])
    triangle = result.triangle()
    assert triangle.now == IsoWeek(2024, 3)
    assert np.isnan(triangle.counts[2, 1])
    assert np.isnan(triangle.counts[1, 2])


def test_noisy_counts_spend_epsilon_and_need_a_fixed_layout(holders):
    session = perron.simulate(holders)

    result = session.weekly_counts(
        case=CASE, date="onset", first="2024-W01", last="2024-W20", epsilon=1.0
    )

    exact = _pooled_by_pandas(holders, "2024-W01", "2024-W20", [])["total"].to_numpy(float)
    assert result.noisy
    assert set(result.scales.values()) == {1.0}
    assert result.suppressed.empty
    noise = result.series().counts - exact
    assert np.all(np.abs(noise) < 40)
    assert not np.all(noise == 0)
    with pytest.raises(InputError, match="levels of \\['region'\\] fixed in advance"):
        session.weekly_counts(
            case=CASE,
            date="onset",
            first="2024-W01",
            last="2024-W20",
            by=["region"],
            epsilon=1.0,
        )
    fixed = session.weekly_counts(
        case=CASE,
        date="onset",
        first="2024-W01",
        last="2024-W04",
        by=["region"],
        levels={"region": ["NL111", "NL113"]},
        epsilon=1.0,
    )
    assert fixed.strata == (("NL111",), ("NL113",))


def test_fixed_levels_count_only_the_listed_regions(holders):
    session = perron.simulate(holders, disclosure=DisclosurePolicy(min_cell=1))

    result = session.weekly_counts(
        case=CASE,
        date="onset",
        first="2024-W01",
        last="2024-W52",
        by=["region"],
        levels={"region": ["NL113"]},
    )

    pooled = pd.concat(holders.values())
    cases = pooled[(pooled["icd10"] == "A02.0") & (pooled["region"] == "NL113")]
    in_2024 = cases[pd.to_datetime(cases["onset"]).dt.isocalendar()["year"] == 2024]
    assert result.series().counts.sum() == len(in_2024)


def test_a_station_below_the_minimum_rows_refuses_without_the_number():
    frame = pd.DataFrame({"onset": ["2024-01-01"] * 3, "icd10": ["A02.0"] * 3})
    session = perron.simulate({"a": frame}, disclosure=DisclosurePolicy(min_rows=10))

    with pytest.raises(DisclosureBlocked, match="min_rows") as raised:
        session.weekly_counts(case=CASE, date="onset", first="2024-W01", last="2024-W02")
    assert "3" not in str(raised.value).replace("2024-W0", "")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"first": "2024-W10", "last": "2024-W01"}, "ends"),
        ({"first": "2024-W54"}, "not an ISO week"),
        ({"by": ["age", "age"]}, "twice"),
        ({"bands": {"age": [0, 15]}}, "not in by"),
        ({"max_delay": 3}, "report_date"),
    ],
)
def test_a_malformed_request_is_refused_before_it_is_sent(params, message):
    base = {"case": CASE, "date": "onset", "first": "2024-W01", "last": "2024-W05"}

    with pytest.raises(InputError, match=message):
        CountSpec.from_params({**base, **params})


def test_weeks_follow_iso_8601_across_a_year_end():
    frame = pd.DataFrame(
        {
            "onset": [date(2020, 12, 31).isoformat(), "2021-01-03", "2021-01-04"] * 5,
            "icd10": ["A02.0"] * 15,
        }
    )
    session = perron.simulate({"a": frame}, disclosure=DisclosurePolicy(min_cell=1))

    result = session.weekly_counts(case=CASE, date="onset", first="2020-W53", last="2021-W01")

    assert result.table().index.tolist() == ["2020-W53", "2021-W01"]
    assert result.series().counts.tolist() == [10.0, 5.0]
