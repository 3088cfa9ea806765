"""A fresh copy of the example description, free to edit."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from perron.catalogue.metadata import EXAMPLE, DatasetMetadata


@pytest.fixture
def raw() -> dict[str, Any]:
    """A deep copy of :data:`perron.catalogue.metadata.EXAMPLE`."""
    return copy.deepcopy(EXAMPLE)


@pytest.fixture
def lung(raw: dict[str, Any]) -> DatasetMetadata:
    """The example, validated."""
    return DatasetMetadata.parse(raw)
