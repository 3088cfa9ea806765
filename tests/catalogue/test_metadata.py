"""The description model: what it accepts, how it normalises terms, what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from perron.catalogue import vocabulary as vocab
from perron.catalogue.metadata import DatasetMetadata, PublishedCount
from perron.governance.odrl import PROJECT_SPECIFIC, PUBLICATION_REQUIRED, TIME_LIMIT
from perron.protocol.errors import InputError


def minimal() -> dict[str, Any]:
    return {
        "name": "lung",
        "holder": "umc-north",
        "title": "Lung",
        "description": "A cohort.",
        "contact": {"name": "Desk", "url": "https://umc-north.example/contact"},
        "keywords": ["lung"],
    }


def test_a_minimal_description_gets_the_perron_defaults():
    meta = DatasetMetadata.parse(minimal())

    assert meta.themes == ("HEAL",)
    assert meta.access_rights is vocab.AccessRights.NON_PUBLIC
    assert meta.applicable_legislation == (vocab.EHDS,)
    # Health research, and the modifiers every Perron agreement carries.
    assert meta.conditions == ("DUO:0000006", PUBLICATION_REQUIRED, PROJECT_SPECIFIC, TIME_LIMIT)
    assert meta.listing == "public"
    assert meta.records is None
    assert meta.individuals is None
    assert meta.publisher_name == "umc-north"


def test_terms_are_written_in_their_canonical_form_once(raw):
    raw |= {
        "themes": ["health", "HEAL", "soci"],
        "coding_systems": ["icd-10", "SNOMED-CT", "http://www.wikidata.org/entity/P494"],
        "legal_basis": ["A9-2-J", "eu-gdpr:A6-1-e"],
        "applicable_legislation": ["ehds", "GDPR"],
        "conditions": ["hmb", "DUO:0000019", "http://purl.obolibrary.org/obo/DUO_0000046"],
        "keywords": ["lung", "lung", "survival"],
    }

    meta = DatasetMetadata.parse(raw)

    assert meta.themes == ("HEAL", "SOCI")
    assert meta.coding_systems == (
        "http://www.wikidata.org/entity/P494",
        "http://www.wikidata.org/entity/P5806",
    )
    assert meta.legal_basis == ("eu-gdpr:A9-2-j", "eu-gdpr:A6-1-e")
    assert meta.applicable_legislation == (
        "http://data.europa.eu/eli/reg/2025/327/oj",
        "http://data.europa.eu/eli/reg/2016/679/oj",
    )
    assert meta.conditions == ("DUO:0000006", "DUO:0000019", "DUO:0000046")
    assert meta.keywords == ("lung", "survival")


def test_the_wire_form_reads_back_as_the_same_description(lung):
    assert DatasetMetadata.parse(lung.to_wire()) == lung
    assert DatasetMetadata.model_validate_json(lung.model_dump_json()) == lung


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "two\nlines"}, "title"),
        ({"description": "nul \x00 byte"}, "description"),
        ({"name": "has space"}, "name"),
        ({"holder": ""}, "holder"),
        ({"keywords": []}, "keywords"),
        ({"contact": {"name": "Desk"}}, "contact"),
        ({"contact": {"name": "Desk", "email": "not-an-address"}}, "contact.email"),
        ({"themes": ["WEATHER"]}, "themes"),
        ({"health_themes": ["cancer"]}, "health_themes"),
        ({"coding_systems": ["my codes"]}, "coding_systems"),
        ({"legal_basis": ["A6-2-a"]}, "legal_basis"),
        ({"conditions": ["XYZ"]}, "conditions"),
        ({"access_rights": "OPEN"}, "access_rights"),
        ({"countries": ["NL"]}, "countries"),
        ({"min_age": -1}, "min_age"),
        ({"temporal": {"start": "2020-01-01", "end": "2019-01-01"}}, "temporal"),
        ({"temporal": {}}, "temporal"),
        ({"quality_report": {}}, "quality_report"),
        ({"listing": "secret"}, "listing"),
        ({"size": 3}, "size"),
    ],
)
def test_a_wrong_field_is_named_in_the_error(raw, change, field):
    raw.update(change)

    with pytest.raises(InputError, match=rf"(^|; |: ){field}(\.|:)") as caught:
        DatasetMetadata.parse(raw)

    assert str(caught.value).startswith("the dataset description is not valid: ")


def test_ages_must_be_in_order(raw):
    raw |= {"min_age": 70, "max_age": 40}

    with pytest.raises(InputError, match="min_age 70 is above max_age 40"):
        DatasetMetadata.parse(raw)


def test_a_lone_surrogate_is_refused_not_stored(raw):
    raw["title"] = "broken \ud800 text"

    with pytest.raises(InputError, match="title"):
        DatasetMetadata.parse(raw)


def test_a_released_count_below_min_cell_is_refused(raw):
    raw["records"] = {"value": 3, "min_cell": 5}

    with pytest.raises(InputError, match="below min_cell 5; publish it suppressed"):
        DatasetMetadata.parse(raw)


def test_a_count_rounded_just_below_min_cell_passes_as_the_rule_releases_it(raw):
    # 9 people, rounded to a base of 2, is released as 8 (round half to even).
    raw["records"] = {"value": 8, "min_cell": 9, "rounded_to": 2}
    assert DatasetMetadata.parse(raw).records == PublishedCount(value=8, min_cell=9, rounded_to=2)

    raw["records"] = {"value": 6, "min_cell": 9, "rounded_to": 2}  # no count >= 9 gives 6
    with pytest.raises(InputError, match="below min_cell 9"):
        DatasetMetadata.parse(raw)


def test_a_count_that_is_not_rounded_as_it_claims_is_refused(raw):
    raw["records"] = {"value": 1234, "min_cell": 5, "rounded_to": 10}

    with pytest.raises(InputError, match="not a multiple of rounded_to 10"):
        DatasetMetadata.parse(raw)


def test_more_individuals_than_records_is_refused(raw):
    raw["records"] = {"value": 100, "min_cell": 10}
    raw["individuals"] = {"value": 110, "min_cell": 10}

    with pytest.raises(InputError, match="individuals \\(110\\) outnumber records \\(100\\)"):
        DatasetMetadata.parse(raw)


def test_a_suppressed_count_says_fewer_than_min_cell():
    hidden = PublishedCount(value=None, min_cell=10, rounded_to=10)
    zero = PublishedCount(value=0, min_cell=10)

    assert (str(hidden), hidden.released) == ("< 10", False)
    assert (str(zero), zero.released) == ("0", True)


def test_every_duo_term_has_a_shorthand_that_reads_back():
    for code, term in vocab.DUO_TERMS.items():
        assert vocab.duo_code(term.shorthand.lower()) == code
        assert vocab.duo_code(vocab.duo_iri(code)) == code
