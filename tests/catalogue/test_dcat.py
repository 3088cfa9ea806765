"""HealthDCAT-AP export: the triples, Turtle and JSON-LD, and SHACL validation both ways."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rdflib import XSD, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, ODRL2, RDF

from perron.catalogue import vocabulary as vocab
from perron.catalogue.dcat import (
    VCARD,
    CatalogueInfo,
    Record,
    dataset_iri,
    parse,
    serialise,
    to_graph,
)
from perron.catalogue.metadata import DatasetMetadata
from perron.catalogue.shacl import SHAPE_FILES, shapes, validate
from perron.governance.odrl import to_odrl
from perron.governance.policy import StudyPolicy

HUB = "https://hub.example"
H = vocab.HEALTHDCATAP
LUNG = URIRef("urn:perron:dataset:umc-north:lung")


def health(term: str) -> URIRef:
    return URIRef(H + term)


@pytest.fixture
def graph(lung: DatasetMetadata) -> Graph:
    return to_graph([lung], service_url=HUB)


def problems_of(graph: Graph) -> list[str]:
    return [f"{p.path} {p.message}" for p in validate(graph).problems]


def test_the_shipped_shapes_are_the_dcat_ap_3_shapes_and_perrons_health_shapes():
    shape_graph = shapes()

    assert SHAPE_FILES == ("dcat-ap-SHACL.ttl", "perron-healthdcat-ap.ttl")
    shape = URIRef("http://www.w3.org/ns/shacl#NodeShape")
    targets = {
        str(t)
        for s in shape_graph.subjects(RDF.type, shape)
        for t in shape_graph.objects(s, URIRef("http://www.w3.org/ns/shacl#targetClass"))
    }
    assert {str(DCAT.Dataset), str(DCAT.Catalog), str(DCAT.Distribution)} <= targets


def test_a_full_description_and_a_catalogue_of_it_conform(lung):
    record = Record(
        lung,
        issued=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        modified=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        page=f"{HUB}/api/catalogue/datasets/umc-north/lung",
    )

    dataset_only = to_graph([record], service_url=HUB)
    catalogue = to_graph([record], service_url=HUB, catalogue=CatalogueInfo())

    assert problems_of(dataset_only) == []
    assert problems_of(catalogue) == []
    catalog = URIRef(f"{HUB}/api/catalogue")
    assert (catalog, RDF.type, DCAT.Catalog) in catalogue
    assert (catalog, DCAT.dataset, LUNG) in catalogue
    assert catalogue.value(catalog, DCTERMS.modified) == Literal(record.modified)


def test_a_minimal_description_conforms_too(raw):
    keep = ("name", "holder", "title", "description", "contact", "keywords")
    meta = DatasetMetadata.parse({key: raw[key] for key in keep})

    assert problems_of(to_graph([meta], service_url=HUB)) == []


def test_the_health_properties_carry_their_typed_values(graph):
    def value(term: str) -> Any:
        return graph.value(LUNG, health(term))

    assert value("numberOfRecords") == Literal(1230, datatype=XSD.nonNegativeInteger)
    # The individuals were suppressed (< 10): HealthDCAT-AP cannot say so, it is left out.
    assert value("numberOfUniqueIndividuals") is None
    assert value("minTypicalAge") == Literal(39, datatype=XSD.nonNegativeInteger)
    assert value("maxTypicalAge") == Literal(82, datatype=XSD.nonNegativeInteger)
    assert str(value("populationCoverage")).startswith("Adults treated")
    assert set(graph.objects(LUNG, health("hasCodingSystem"))) == {
        URIRef("http://www.wikidata.org/entity/P494"),
        URIRef("http://www.wikidata.org/entity/P267"),
    }
    assert value("healthTheme") == URIRef("http://www.wikidata.org/entity/Q47912")
    assert graph.value(LUNG, URIRef(vocab.DPV + "hasLegalBasis")) == URIRef(
        "https://w3id.org/dpv/legal/eu/gdpr#A9-2-j"
    )
    assert graph.value(LUNG, DCTERMS.accessRights) == URIRef(vocab.ACCESS_RIGHT + "NON_PUBLIC")
    period = graph.value(LUNG, DCTERMS.temporal)
    assert graph.value(period, DCAT.startDate) == Literal("2010-01-01", datatype=XSD.date)
    contact = graph.value(LUNG, DCAT.contactPoint)
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:data@umc-north.example")


def test_the_conditions_of_use_are_a_duo_offer_on_the_distribution(graph):
    distribution = graph.value(LUNG, DCAT.distribution)
    offer = graph.value(distribution, ODRL2.hasPolicy)
    permission = graph.value(offer, ODRL2.permission)
    constraint = graph.value(permission, ODRL2.constraint)

    assert graph.value(distribution, DCAT.accessURL) == URIRef(HUB)
    assert (offer, RDF.type, ODRL2.Offer) in graph
    assert graph.value(permission, ODRL2.action) == ODRL2.use
    assert graph.value(constraint, ODRL2.leftOperand) == ODRL2.purpose
    assert graph.value(constraint, ODRL2.operator) == ODRL2.isA
    assert graph.value(constraint, ODRL2.rightOperand) == URIRef(vocab.duo_iri("DUO:0000006"))
    assert set(graph.objects(offer, DCTERMS.subject)) == {
        URIRef(vocab.duo_iri(code))
        for code in ("DUO:0000006", "DUO:0000019", "DUO:0000025", "DUO:0000027")
    }


def test_the_dataset_iri_is_the_target_of_the_study_policy():
    at = datetime(2027, 1, 1, tzinfo=UTC)
    policy = StudyPolicy(
        "p1",
        "s1",
        "umc-north",
        "statistics",
        "Counts",
        {"summary": {}},
        {"lung": ("age",)},
        at,
        at.replace(year=2028),
        at,
        10,
    )

    target = to_odrl(policy)["permission"][0]["target"]["uid"]

    assert target == dataset_iri("umc-north", "lung") == str(LUNG)


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_turtle_and_json_ld_read_back_as_the_same_graph(graph, fmt):
    text = serialise(graph, fmt)

    back = parse(text, fmt)

    assert isomorphic(back, graph)
    assert problems_of(back) == []


def test_the_same_descriptions_give_the_same_turtle(lung):
    first = serialise(to_graph([lung], service_url=HUB), "turtle")
    second = serialise(to_graph([lung], service_url=HUB), "turtle")

    assert first == second


def test_the_json_ld_is_compact_with_the_catalogue_prefixes(graph):
    text = serialise(graph, "jsonld")

    assert '"healthdcatap": "http://healthdataportal.eu/ns/health#"' in text
    assert '"healthdcatap:numberOfRecords"' in text


# A broken record fails validation, naming what is wrong.


def test_a_dataset_without_a_title_fails(graph):
    graph.remove((LUNG, DCTERMS.title, None))

    problems = problems_of(graph)

    assert not validate(graph).conforms
    assert f"{DCTERMS.title} A dataset has a dct:title." in problems
    assert any(p.startswith(f"{DCTERMS.title} Less than 1 values") for p in problems)  # DCAT-AP


def test_an_access_right_outside_the_three_categories_fails(graph):
    graph.set((LUNG, DCTERMS.accessRights, URIRef(vocab.ACCESS_RIGHT + "CONFIDENTIAL")))

    assert any("PUBLIC, RESTRICTED or NON_PUBLIC" in p for p in problems_of(graph))


def test_typical_ages_in_the_wrong_order_fail(graph):
    graph.set((LUNG, health("minTypicalAge"), Literal(90, datatype=XSD.nonNegativeInteger)))

    assert any("at most maxTypicalAge" in p for p in problems_of(graph))


def test_more_individuals_than_records_fail(graph):
    graph.add(
        (LUNG, health("numberOfUniqueIndividuals"), Literal(5000, datatype=XSD.nonNegativeInteger))
    )

    assert any("at most numberOfRecords" in p for p in problems_of(graph))


def test_a_count_that_is_not_a_non_negative_integer_fails(graph):
    graph.set((LUNG, health("numberOfRecords"), Literal("about a thousand")))

    assert any("numberOfRecords is one xsd:nonNegativeInteger" in p for p in problems_of(graph))


def test_a_contact_point_without_an_address_fails(graph):
    contact = graph.value(LUNG, DCAT.contactPoint)
    graph.remove((contact, VCARD.hasEmail, None))

    assert any("vcard:hasEmail or a vcard:hasURL" in p for p in problems_of(graph))


def test_a_theme_that_is_not_a_concept_fails_the_dcat_ap_shapes(graph):
    theme = graph.value(LUNG, DCAT.theme)
    graph.remove((theme, None, None))

    assert any(p.startswith(f"{DCAT.theme} Value does not have class") for p in problems_of(graph))
