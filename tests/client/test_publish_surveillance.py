"""A surveillance signal's document: the week assessed, the recent weeks, the counts, the
suppressed cells, and a detection figure the hub's results board accepts."""

from __future__ import annotations

import json

import numpy as np
import pytest

import perron
from perron import DisclosurePolicy
from perron.algorithms.surveillance.signal import RECENT_WEEKS, assess
from perron.client.publish import result_document
from perron.hub.services.results import ResultDocument
from perron.protocol.errors import InputError
from perron.surveillance.synthetic import synthetic_surveillance
from perron.surveillance.weeks import IsoWeek, week_range

CASE = [{"column": "icd10", "in": ["A02.0"]}]
OPTIONS = {"alpha": 0.01, "no_periods": 10, "past_weeks_not_included": 26}


@pytest.fixture(scope="module")
def session():
    data = synthetic_surveillance()
    return perron.simulate(data.frames, disclosure=DisclosurePolicy(min_cell=3))


def test_the_signal_of_the_outbreaks_first_week_alarms_and_publishes(session):
    counts = session.weekly_counts(case=CASE, date="report", first="2020-W01", last="2025-W15")

    signal = assess(counts, "farrington_flexible", OPTIONS)
    document = result_document(signal, title="Salmonella: 2025-W15", study="watch")

    assert signal.alarm
    assert signal.week == IsoWeek(2025, 15)
    # The recent weeks with five years of history (b=5) since 2020-W01: 2025-W01 on.
    assert signal.detection.weeks == tuple(week_range(IsoWeek(2025, 1), IsoWeek(2025, 15)))
    assert np.isfinite(signal.detection.upperbound).all()
    assert document["kind"] == "surveillance"
    state = dict(document["tables"][0]["rows"])
    assert state["alarm"] is True
    assert state["week assessed"] == "2025-W15"
    names = [t["name"] for t in document["tables"]]
    assert "Suppressed cells" in names
    assert "Disclosure decisions" in names
    figure = document["figure"]
    assert figure["type"] == "detection"
    assert figure["weeks"][-1] == "2025-W15"
    assert figure["alarm"][-1] is True
    ResultDocument.model_validate(json.loads(json.dumps(document)))  # the hub takes it


def test_a_week_without_history_cannot_be_assessed(session):
    counts = session.weekly_counts(case=CASE, date="report", first="2024-W01", last="2025-W15")

    with pytest.raises(InputError, match="2025-W15 has no reference week 5 years back"):
        assess(counts, "farrington_flexible", OPTIONS)


def test_with_three_years_of_history_the_whole_recent_window_is_assessed(session):
    counts = session.weekly_counts(case=CASE, date="report", first="2020-W01", last="2025-W15")

    signal = assess(counts, "farrington_flexible", {**OPTIONS, "b": 3})

    assert len(signal.detection.weeks) == RECENT_WEEKS


def test_an_ears_signal_assesses_the_recent_weeks(session):
    counts = session.weekly_counts(case=CASE, date="report", first="2024-W01", last="2025-W16")

    signal = assess(counts, "ears_c1", {"alpha": 0.01})

    assert signal.detection.method == "ears_c1"
    assert signal.detection.weeks[-1] == IsoWeek(2025, 16)
    assert str(signal).startswith("2025-W16: ")
