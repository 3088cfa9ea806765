"""Federated Kaplan-Meier equals lifelines' ``KaplanMeierFitter`` on the pooled data.

Exactness tests run with ``DisclosurePolicy(min_cell=1)`` and exact times, where
no station coarsens anything: the curve, its Greenwood standard error and interval,
the numbers at risk, events and censorings are compared at every time of
lifelines' timeline. lifelines has no public standard error of S; it keeps
Greenwood's sum in ``_cumulative_sq_``, and se = S sqrt(sum).

R: ``survfit(Surv(time, status) ~ sex, data = lung)`` prints medians 270 (212,
310) and 426 (348, 550) with its default ``conf.type = "log"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

import perron
from perron import DisclosureBlocked, DisclosurePolicy, InputError, UnknownColumn
from perron.algorithms.core.base import StationContext
from perron.algorithms.survival.kaplan_meier import KaplanMeier
from perron.data.frame import FrameSource
from tests.algorithms.survival import survival_data
from tests.algorithms.survival.survival_data import random_split, stations
from tests.support import assert_close, reference_settings

mpl.use("Agg")

SHARES = (0.60, 0.25, 0.15)
EXACT = DisclosurePolicy(min_cell=1)


def lifelines_km(duration: Any, event: Any, entry: Any = None, alpha: float = 0.05) -> Any:
    return KaplanMeierFitter(alpha=alpha).fit(duration, event, entry=entry)


def assert_matches_lifelines(
    result: perron.KaplanMeierResult,
    group: Any,
    duration: Any,
    event: Any,
    entry: Any = None,
) -> None:
    """Curve, se, interval, n, events and censorings at every lifelines time; median."""
    kmf = lifelines_km(duration, event, entry, alpha=result.alpha)
    key = result.group_key(group)
    ours = result.survival_at(kmf.timeline).loc[key]
    survival = kmf.survival_function_.iloc[:, 0].to_numpy()
    assert_close(ours["survival"], survival)
    assert_close(ours["std_err"], survival * np.sqrt(kmf._cumulative_sq_.to_numpy()))
    assert_close(ours["lower"], kmf.confidence_interval_.iloc[:, 0])
    assert_close(ours["upper"], kmf.confidence_interval_.iloc[:, 1])

    # With min_cell=1 and exact times nothing is coarsened: the released table has
    # lifelines' timeline, and its counts at every time.
    released = result.table(key)
    np.testing.assert_array_equal(released.index, kmf.timeline)
    table = kmf.event_table
    assert_close(released["events"], table["observed"])
    assert_close(released["censored"], table["censored"])
    # lifelines counts rows entering at t in its table's at_risk, not in the estimate
    # (at risk at t when entry < t <= exit).
    entering = table["entrance"] if entry is not None else 0
    assert_close(released["at_risk"], table["at_risk"] - entering)
    assert_close(ours["at_risk"], table["at_risk"] - entering)

    median = median_survival_times(kmf.confidence_interval_).iloc[0].to_numpy()
    expected = [kmf.median_survival_time_, *median]
    np.testing.assert_array_equal(result.median.loc[key].to_numpy(), expected)


def test_whas500_by_gender_equals_lifelines(whas500, split):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.kaplan_meier("lenfol", "fstat", by="gender")

    assert result.groups == ["0.0", "1.0"]
    for gender, rows in whas500.groupby("gender"):
        assert_matches_lifelines(result, gender, rows["lenfol"], rows["fstat"])
    assert result.nobs_per_station == {"s0": 300, "s1": 125, "s2": 75}


def test_whas500_overall_curve_equals_lifelines(whas500, split):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.kaplan_meier("lenfol", "fstat")

    assert result.groups == ["all"]
    assert_matches_lifelines(result, None, whas500["lenfol"], whas500["fstat"])


def test_lung_status_is_coded_0_1_by_lifelines():
    data = survival_data.lung()

    assert set(data["status"]) == {0, 1}
    assert int(data["status"].sum()) == 165


def test_lung_split_unevenly_equals_lifelines(split):
    data = survival_data.lung()
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.kaplan_meier("time", "status", by="sex")

    for sex, rows in data.groupby("sex"):
        assert_matches_lifelines(result, sex, rows["time"], rows["status"])


def test_lung_split_by_institution_equals_lifelines():
    data = survival_data.lung()
    stations = survival_data.lung_by_institution()
    session = perron.simulate(stations, disclosure=EXACT)

    result = session.kaplan_meier("time", "status", by="sex")

    assert sum(result.nobs_per_station.values()) == len(data)
    for sex, rows in data.groupby("sex"):
        assert_matches_lifelines(result, sex, rows["time"], rows["status"])


def test_lung_medians_with_log_intervals_equal_r():
    """R: ``survfit(Surv(time, status) ~ sex, data = lung)`` (conf.type = "log")."""
    session = perron.simulate(survival_data.lung_by_institution(), disclosure=EXACT)

    result = session.kaplan_meier("time", "status", by="sex", conf_type="log")

    np.testing.assert_array_equal(result.median.loc["1"], [270.0, 212.0, 310.0])
    np.testing.assert_array_equal(result.median.loc["2"], [426.0, 348.0, 550.0])


def test_veterans_string_categories_equal_lifelines(split):
    data = survival_data.veterans()
    session = perron.simulate(split(data, (0.7, 0.3)), disclosure=EXACT)

    result = session.kaplan_meier("time", "status", by="Celltype")

    assert result.groups == ["adeno", "large", "smallcell", "squamous"]
    for celltype, rows in data.groupby("Celltype"):
        assert_matches_lifelines(result, celltype, rows["time"], rows["status"])


def test_gbsg2_by_two_columns_equals_lifelines(split):
    data = survival_data.gbsg2()
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.kaplan_meier("time", "cens", by=["horTh", "menostat"], alpha=0.1)

    assert result.groups == ["no|Post", "no|Pre", "yes|Post", "yes|Pre"]
    for (hormone, status), rows in data.groupby(["horTh", "menostat"]):
        assert_matches_lifelines(result, (hormone, status), rows["time"], rows["cens"])


@pytest.mark.parametrize("conf_type", ["log", "plain"])
def test_log_and_plain_intervals_follow_greenwood(whas500, split, conf_type):
    """R's ``conf.type = "log"``: S exp(-+z se(log S)); ``"plain"``: S -+ z se(S)."""
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.kaplan_meier("lenfol", "fstat", conf_type=conf_type)

    kmf = lifelines_km(whas500["lenfol"], whas500["fstat"])
    s = kmf.survival_function_.iloc[:, 0].to_numpy()
    root = np.sqrt(kmf._cumulative_sq_.to_numpy())
    z = 1.959963984540054
    if conf_type == "log":
        lower, upper = s * np.exp(-z * root), np.minimum(s * np.exp(z * root), 1.0)
    else:
        lower, upper = np.clip(s - z * s * root, 0, 1), np.clip(s + z * s * root, 0, 1)
    ours = result.survival_at(kmf.timeline).loc["all"]
    assert_close(ours["lower"], lower)
    assert_close(ours["upper"], upper)


def test_std_err_equals_statsmodels_greenwood(whas500, split):
    from statsmodels.duration.survfunc import SurvfuncRight

    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)

    result = session.kaplan_meier("lenfol", "fstat")

    expected = SurvfuncRight(whas500["lenfol"], whas500["fstat"])
    ours = result.survival_at(expected.surv_times).loc["all"]
    assert_close(ours["survival"], expected.surv_prob)
    # Where S drops to 0 statsmodels' se is 0 * inf = NaN; lifelines' (and ours) is 0.
    defined = np.isfinite(expected.surv_prob_se)
    assert_close(ours["std_err"][defined], expected.surv_prob_se[defined])
    assert (ours["std_err"][~defined] == 0).all()
    assert_close(ours["at_risk"], expected.n_risk)


def test_survival_at_times_is_a_right_continuous_step(whas500, split):
    session = perron.simulate(split(whas500, SHARES), disclosure=EXACT)
    times = [-1.0, 0.0, 1.0, 365.0, 730.0, 1825.0, 10_000.0]

    result = session.kaplan_meier("lenfol", "fstat", times=times)

    kmf = lifelines_km(whas500["lenfol"], whas500["fstat"])
    at = result.survival_at().loc["all"]
    assert list(at.index) == times
    assert at["survival"].iloc[0] == 1.0
    assert_close(at["survival"].iloc[1:], kmf.survival_function_at_times(times[1:]))
    assert at["at_risk"].iloc[-1] == 0
    assert at["at_risk"].iloc[1] == len(whas500)


def test_delayed_entry_equals_lifelines(split):
    """Left truncation: a row is at risk at t when W < t <= T (R and lifelines)."""
    data = survival_data.aids()
    session = perron.simulate(split(data, SHARES), disclosure=EXACT)

    result = session.kaplan_meier("T", "D", entry="W")

    assert_matches_lifelines(result, None, data["T"], data["D"], entry=data["W"])


PERMISSIVE = DisclosurePolicy(min_rows=1, min_cell=1, levels_density=1.0)


@reference_settings(20)
@given(data=st.data())
def test_random_splits_of_whas500_equal_lifelines(whas500, data):
    seed, cuts = data.draw(random_split(len(whas500)))
    session = perron.simulate(stations(whas500, seed, cuts), disclosure=PERMISSIVE)

    result = session.kaplan_meier("lenfol", "fstat", by="gender")

    for gender, rows in whas500.groupby("gender"):
        assert_matches_lifelines(result, gender, rows["lenfol"], rows["fstat"])


# -- disclosure ---------------------------------------------------------------------------


def released_tables(frame: pd.DataFrame, policy: DisclosurePolicy, **km: Any) -> dict[str, Any]:
    """What one station releases for a Kaplan-Meier request."""
    params = KaplanMeier("lenfol", "fstat", **km).start().params
    output = KaplanMeier.station_step(FrameSource(frame), params, StationContext("s", policy))
    tables: dict[str, Any] = output.payload["tables"]
    return tables


def test_default_policy_releases_blocks_of_at_least_five_events(whas500, split):
    for frame in split(whas500, SHARES).values():
        tables = released_tables(frame, DisclosurePolicy(), by=("gender",))

        for table in tables.values():
            events = np.asarray(table["events"])
            assert ((events == 0) | (events >= 5)).all()
            assert events.sum() > 0


def test_default_policy_is_lifelines_on_the_released_data(whas500, split):
    """Coarsened, the result is still exact: lifelines' KM of the released table."""
    parts = split(whas500, SHARES)
    session = perron.simulate(parts)

    result = session.kaplan_meier("lenfol", "fstat")

    rows = []
    for frame in parts.values():
        table = released_tables(frame, DisclosurePolicy())["all"]
        for t, d, c in zip(table["time"], table["events"], table["censored"], strict=True):
            rows += [(t, 1)] * d + [(t, 0)] * c
    released = pd.DataFrame(rows, columns=["time", "event"])
    kmf = lifelines_km(released["time"], released["event"])
    ours = result.survival_at(kmf.timeline).loc["all"]
    assert_close(ours["survival"], kmf.survival_function_.iloc[:, 0])
    assert_close(ours["lower"], kmf.confidence_interval_.iloc[:, 0])
    # The coarsened curve stays close to the exact one: within 0.02 at one year.
    exact = lifelines_km(whas500["lenfol"], whas500["fstat"]).predict(365.0)
    assert abs(float(result.survival_at(365.0)["survival"].iloc[0]) - exact) < 0.02


def test_rounded_times_equal_lifelines_on_times_rounded_up(whas500, split):
    policy = DisclosurePolicy(min_cell=1, event_times="rounded", time_grid=30)
    session = perron.simulate(split(whas500, SHARES), disclosure=policy)

    result = session.kaplan_meier("lenfol", "fstat", by="gender")

    rounded = whas500.assign(lenfol=np.ceil(whas500["lenfol"] / 30) * 30)
    for gender, rows in rounded.groupby("gender"):
        assert_matches_lifelines(result, gender, rows["lenfol"], rows["fstat"])
    assert all(t % 30 == 0 for table in result.tables.values() for t in table.index)
    assert any(d.rule == "event_times" and d.outcome == "rounded" for d in result.decisions)


def test_no_event_times_blocks(whas500, split):
    session = perron.simulate(
        split(whas500, SHARES), disclosure={"s1": DisclosurePolicy(event_times="none")}
    )

    with pytest.raises(DisclosureBlocked) as blocked:
        session.kaplan_meier("lenfol", "fstat")

    assert blocked.value.rule == "event_times"
    assert blocked.value.station == "s1"


def test_too_few_events_at_a_station_is_blocked(whas500, split):
    session = perron.simulate(split(whas500, SHARES))

    with pytest.raises(DisclosureBlocked) as blocked:
        session.kaplan_meier("lenfol", "fstat", disclosure={"min_cell": 50})

    assert blocked.value.rule == "min_cell"
    assert blocked.value.station == "s2"


def test_a_group_with_too_few_events_is_blocked(whas500):
    women = whas500[whas500["gender"] == 1.0]
    small = pd.concat(
        [
            women[women["fstat"] == 0].iloc[:20],
            women[women["fstat"] == 1].iloc[:3],
            whas500[whas500["gender"] == 0.0].iloc[:30],
        ]
    )
    session = perron.simulate({"big": whas500.drop(index=small.index), "small": small})

    with pytest.raises(DisclosureBlocked) as blocked:
        session.kaplan_meier("lenfol", "fstat", by="gender")

    assert (blocked.value.rule, blocked.value.station) == ("min_cell", "small")
    assert "group 1.0" in str(blocked.value)


def test_decisions_are_recorded(whas500, split):
    session = perron.simulate(split(whas500, SHARES))

    result = session.kaplan_meier("lenfol", "fstat", by="gender")

    rules = {(d.station, d.rule) for d in result.decisions}
    for station in ("s0", "s1", "s2"):
        assert {(station, "event_times"), (station, "min_rows"), (station, "min_cell")} <= rules


# -- bad input ----------------------------------------------------------------------------


def test_missing_column_is_named(whas500, split):
    session = perron.simulate(split(whas500, SHARES))

    with pytest.raises(UnknownColumn, match="'days'"):
        session.kaplan_meier("days", "fstat")


def test_event_not_coded_0_1_is_rejected(split):
    data = survival_data.lung().assign(status=lambda d: d["status"] + 1)  # R's 1/2 coding
    session = perron.simulate(split(data, SHARES))

    with pytest.raises(InputError, match="0/1"):
        session.kaplan_meier("time", "status")


def test_unknown_interval_type_is_rejected(whas500, split):
    session = perron.simulate(split(whas500, SHARES))

    with pytest.raises(InputError, match="conf_type"):
        session.kaplan_meier("lenfol", "fstat", conf_type="arcsin")  # type: ignore[arg-type]


# -- result -------------------------------------------------------------------------------


def test_plot_writes_a_png_with_the_numbers_at_risk(whas500, split, tmp_path: Path):
    import matplotlib.pyplot as plt

    result = perron.simulate(split(whas500, SHARES)).kaplan_meier("lenfol", "fstat", by="gender")

    ax = result.plot(tmp_path / "km.png")

    assert (tmp_path / "km.png").stat().st_size > 10_000
    texts = [t.get_text() for t in ax.texts]
    assert "Number at risk" in texts
    assert "300" in texts  # at time 0: 300 men and 200 women
    assert "500" not in texts
    figure, own = plt.subplots()
    assert result.plot(ax=own) is own
    plt.close(figure)


def test_str_shows_the_medians(whas500, split):
    result = perron.simulate(split(whas500, SHARES)).kaplan_meier("lenfol", "fstat", by="gender")

    text = str(result)

    assert "median" in text
    assert "by gender" in text
    assert result.nobs == 500
