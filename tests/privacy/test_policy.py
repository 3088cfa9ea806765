"""A request may tighten the holder's disclosure settings, never loosen them."""

from __future__ import annotations

import pytest

import perron
from perron import DisclosurePolicy, InputError, LooseningRejected


def test_defaults_follow_the_field():
    policy = DisclosurePolicy()
    assert (policy.min_rows, policy.min_cell, policy.max_params_ratio) == (10, 5, 0.33)
    assert policy.release_extremes is False


@pytest.mark.parametrize(
    "request_",
    [
        {"min_rows": 20},
        {"min_cell": 10},
        {"max_params_ratio": 0.1},
        {"round_counts": 5},
        {"levels_density": 0.1},
        {"release_extremes": False},
        {"min_events": 8},
        {"event_times": "rounded", "time_grid": 7.0},
        {"event_times": "none"},
    ],
)
def test_stricter_requests_are_applied(request_):
    tightened = DisclosurePolicy().tightened(request_)
    for name, value in request_.items():
        assert getattr(tightened, name) == value


@pytest.mark.parametrize(
    "request_",
    [
        {"min_rows": 5},
        {"min_cell": 3},
        {"max_params_ratio": 0.5},
        {"levels_density": 0.9},
        {"release_extremes": True},
    ],
)
def test_looser_requests_are_rejected(request_):
    with pytest.raises(LooseningRejected, match="may only tighten"):
        DisclosurePolicy().tightened(request_)


def test_survival_settings_only_tighten():
    holder = DisclosurePolicy(event_times="rounded", time_grid=7.0, min_events=3)
    assert holder.tightened({"time_grid": 30.0}).time_grid == 30.0
    assert holder.tightened({"min_events": 5}).event_block == 5
    for looser in ({"event_times": "exact"}, {"time_grid": 1.0}, {"min_events": 1}):
        with pytest.raises(LooseningRejected):
            holder.tightened(looser)


def test_events_per_time_default_to_the_cell_minimum():
    assert DisclosurePolicy(min_cell=7).event_block == 7
    assert DisclosurePolicy(min_cell=7, min_events=2).event_block == 2


def test_rounding_needs_a_grid():
    with pytest.raises(InputError, match="time_grid"):
        DisclosurePolicy(event_times="rounded")


def test_coarser_rounding_is_stricter_finer_is_rejected():
    holder = DisclosurePolicy(round_counts=5)
    assert holder.tightened({"round_counts": 10}).round_counts == 10
    with pytest.raises(LooseningRejected):
        holder.tightened({"round_counts": 3})


def test_unknown_setting_is_an_input_error():
    with pytest.raises(InputError, match="unknown disclosure setting"):
        DisclosurePolicy().tightened({"min_cells": 3})


def test_invalid_settings_are_rejected():
    with pytest.raises(InputError):
        DisclosurePolicy(min_cell=0)
    with pytest.raises(InputError):
        DisclosurePolicy(max_params_ratio=2.0)


def test_a_session_request_loosening_a_station_fails_there(lbw):
    session = perron.simulate({"a": lbw[:100], "b": lbw[100:]})
    with pytest.raises(LooseningRejected):
        session.summary(["age"], disclosure={"min_rows": 2})
