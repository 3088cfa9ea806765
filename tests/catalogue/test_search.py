"""Search over descriptions: text, theme, coding system and holder, all of them at once."""

from __future__ import annotations

from typing import Any

import pytest

from perron.catalogue.metadata import DatasetMetadata
from perron.catalogue.search import Query, search


@pytest.fixture
def catalogue(raw: dict[str, Any]) -> list[DatasetMetadata]:
    pharmacy = raw | {
        "name": "dispensing",
        "holder": "pharmacy-west",
        "title": "Dispensed medicines",
        "description": "Every prescription dispensed, by ATC code.",
        "publisher": {"name": "Apotheek West"},
        "keywords": ["medication"],
        "themes": ["HEAL", "ECON"],
        "health_themes": [],
        "coding_systems": ["ATC"],
        "population_coverage": "Everyone served by the pharmacy.",
    }
    registry = raw | {
        "name": "births",
        "holder": "registry",
        "title": "Birth registry",
        "description": "Births and birth weights.",
        "publisher": None,
        "keywords": ["perinatal"],
        "themes": ["SOCI"],
        "health_themes": ["http://www.wikidata.org/entity/Q1415641"],
        "coding_systems": ["http://example.org/codes/perinatal"],
        "population_coverage": "",
    }
    return [DatasetMetadata.parse(d) for d in (registry, pharmacy, raw)]


def names(found: list[DatasetMetadata]) -> list[str]:
    return [f"{m.holder}/{m.name}" for m in found]


def test_an_empty_query_finds_everything_by_holder_and_name(catalogue):
    assert names(search(catalogue, Query())) == [
        "pharmacy-west/dispensing",
        "registry/births",
        "umc-north/lung",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (Query(text="lung SURVIVAL"), ["umc-north/lung"]),
        (Query(text="lung medication"), []),  # every word must appear
        (Query(text="prescription"), ["pharmacy-west/dispensing"]),
        (Query(text="advanced lung cancer"), ["umc-north/lung"]),  # population coverage too
        (Query(theme="HEAL"), ["pharmacy-west/dispensing", "umc-north/lung"]),
        (Query(theme="economy and finance"), ["pharmacy-west/dispensing"]),
        (Query(theme="Q1415641"), ["registry/births"]),
        (Query(theme="http://www.wikidata.org/entity/Q47912"), ["umc-north/lung"]),
        (Query(theme="astronomy"), []),
        (Query(code="atc"), ["pharmacy-west/dispensing", "umc-north/lung"]),
        (Query(code="ICD-10"), ["umc-north/lung"]),
        (Query(code="http://example.org/codes/perinatal"), ["registry/births"]),
        (Query(code="no such system"), []),
        (Query(holder="REGISTRY"), ["registry/births"]),
        (Query(holder="Apotheek West"), ["pharmacy-west/dispensing"]),
        (Query(holder="umc"), []),  # the holder's whole name, not a part of it
        (Query(text="cohort", theme="HEAL", code="ATC", holder="umc-north"), ["umc-north/lung"]),
        (Query(text="cohort", code="ICD-10", holder="pharmacy-west"), []),
    ],
)
def test_each_criterion_narrows_the_result(catalogue, query, expected):
    assert names(search(catalogue, query)) == expected


def test_records_that_hold_a_description_are_searched_through_it(catalogue):
    records = [{"id": i, "meta": m} for i, m in enumerate(catalogue)]

    found = search(records, Query(code="ATC"), lambda r: r["meta"])

    assert [r["id"] for r in found] == [1, 2]
