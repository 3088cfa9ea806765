"""Errors keep their type and message across the transport seam."""

from __future__ import annotations

import pickle

import pytest

from perron.protocol import errors


@pytest.mark.parametrize(
    "error",
    [
        errors.UnknownColumn("column 'x' does not exist"),
        errors.SingularDesign("collinear"),
        errors.AlgorithmNotAllowed("not allowed"),
        errors.DisclosureBlocked("a", "min_cell", 5, "merge levels"),
    ],
)
def test_wire_round_trip_keeps_type_and_message(error):
    back = errors.error_from_wire(errors.error_to_wire(error))
    assert type(back) is type(error)
    assert str(back) == str(error)


def test_unknown_kind_becomes_a_transport_error():
    back = errors.error_from_wire({"kind": "Exploded", "message": "?"})
    assert isinstance(back, errors.TransportError)


def test_disclosure_blocked_pickles():
    error = errors.DisclosureBlocked("a", "min_rows", 10, "hint")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_tree_is_drawn_in_the_module_docstring():
    doc = errors.__doc__ or ""
    for name in ("PerronError", "DisclosureBlocked", "PerfectSeparation", "SingularDesign"):
        assert name in doc
