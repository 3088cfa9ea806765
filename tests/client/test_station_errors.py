"""A run's errors as a published result carries them: which station said what."""

from __future__ import annotations

import pytest

import perron
from perron import DisclosurePolicy
from perron.client.station_errors import MAX_TEXT, entries_of, error_entries
from perron.protocol.errors import (
    DisclosureBlocked,
    InputError,
    OutsidePolicy,
    RoundTimeout,
    UnknownColumn,
)


def test_a_blocked_output_names_its_station():
    error = DisclosureBlocked("north", "min_rows", 10, "Ask for fewer groups.")

    assert error_entries(error) == [
        {"station": "north", "kind": "DisclosureBlocked", "message": str(error)}
    ]


def test_a_timeout_names_every_station_that_did_not_answer():
    error = RoundTimeout("no answer from north, south")
    error.stations = ("north", "south")

    entries = error_entries(error)

    assert [e["station"] for e in entries] == ["north", "south"]
    assert {e["kind"] for e in entries} == {"RoundTimeout"}


def test_the_round_loops_prefix_becomes_the_station():
    error = OutsidePolicy("station 'north': column 'wt_loss' is not in the policy.")

    assert error_entries(error) == [
        {
            "station": "north",
            "kind": "OutsidePolicy",
            "message": "column 'wt_loss' is not in the policy.",
        }
    ]


def test_a_station_named_inside_the_message_keeps_the_message_whole():
    error = OutsidePolicy("the policy of station 'south' has expired; ask for a new one.")

    (entry,) = error_entries(error)

    assert (entry["station"], entry["message"]) == ("south", str(error))


def test_an_error_that_names_no_station_has_an_empty_station():
    assert error_entries(InputError("give a title.")) == [
        {"station": "", "kind": "InputError", "message": "give a title."}
    ]


def test_the_errors_of_a_real_run_name_their_station(lbw):
    session = perron.simulate(
        {"north": lbw[:100], "south": lbw[100:]},
        disclosure={"south": DisclosurePolicy(min_rows=500)},
    )
    with pytest.raises(DisclosureBlocked) as blocked:
        session.summary("age", quantiles=None)
    with pytest.raises(UnknownColumn) as unknown:
        session.summary("weight", quantiles=None)

    (refused,) = error_entries(blocked.value)
    (missing,) = error_entries(unknown.value)

    assert (refused["station"], refused["kind"]) == ("south", "DisclosureBlocked")
    assert (missing["station"], missing["kind"]) == ("north", "UnknownColumn")
    assert "weight" in missing["message"]


def test_a_long_message_is_cut_to_what_the_hub_keeps():
    (entry,) = error_entries(InputError("x" * 5000))

    assert len(entry["message"]) == MAX_TEXT
    assert entry["message"].endswith("\u2026")


def test_entries_pass_through_and_exceptions_are_read():
    entry = {"station": "north", "kind": "RoundTimeout", "message": "no answer"}

    assert entries_of([entry, InputError("bad")]) == [
        entry,
        {"station": "", "kind": "InputError", "message": "bad"},
    ]


@pytest.mark.parametrize(
    "entry",
    [
        {"station": "north", "kind": "X"},
        {"station": None, "kind": "X", "message": "m"},
        {"station": "north", "kind": 3, "message": "m"},
        "north failed",
    ],
)
def test_malformed_entries_are_refused(entry):
    with pytest.raises(InputError, match=r"station, kind and message|exception or"):
        entries_of([entry])
