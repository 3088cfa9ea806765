"""Shared fixtures: a fresh copy of the example request, and two requests built on it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from perron.governance.request import EXAMPLE, DataRequest


@pytest.fixture
def raw() -> dict[str, Any]:
    """A deep copy of the example request, free to edit."""
    return copy.deepcopy(EXAMPLE)


@pytest.fixture
def study_request() -> DataRequest:
    """The example request, validated: three holders, anonymised, no identifying data."""
    return DataRequest.model_validate(EXAMPLE)


@pytest.fixture
def pseudonymised(raw: dict[str, Any]) -> DataRequest:
    """The example with an identifying variable at two holders, asked for pseudonymised."""
    raw["data_form"] = "pseudonymised"
    raw["pseudonymisation_justification"] = "Linkage of records across the holders."
    raw["pets"] = ["federated_analysis", "linkage"]
    raw["holders"][0]["datasets"][0]["variables"].append(
        {"name": "postcode", "description": "4-digit postcode", "identifying": True}
    )
    raw["holders"][1]["datasets"][0]["variables"].append(
        {"name": "insurer_id", "identifying": True}
    )
    return DataRequest.model_validate(raw)


@pytest.fixture
def anonymised_identifying(raw: dict[str, Any]) -> DataRequest:
    """The example with an identifying variable, asked for anonymised data."""
    raw["holders"][0]["datasets"][0]["variables"].append({"name": "postcode", "identifying": True})
    return DataRequest.model_validate(raw)
