"""Descriptions as HealthDCAT-AP: DCAT-AP 3 with the health extension, via rdflib.

:func:`to_graph` builds the graph of one or more descriptions, optionally inside a
``dcat:Catalog``; :func:`serialise` writes it as Turtle or JSON-LD and :func:`parse`
reads it back. The namespaces are those of :mod:`perron.catalogue.vocabulary`: DCAT 3
and DCMI terms, DCAT-AP 3 (``dcatap:``, http://data.europa.eu/r5r/), HealthDCAT-AP
(``healthdcatap:``, http://healthdataportal.eu/ns/health#, as in its release 5
shapes), DPV and its GDPR extension, DQV and Web Annotation, ODRL 2.2, DUO, vCard,
FOAF and SKOS.

How a description maps (one ``dcat:Dataset`` each):

- IRI and ``dct:identifier`` (``xsd:anyURI``): ``urn:perron:dataset:<holder>:<name>``,
  the same IRI the study policy's ODRL target has (:mod:`perron.governance.odrl`);
- ``dct:title``, ``dct:description``, ``dcat:keyword``, ``dcat:theme`` (EU data
  themes as ``skos:Concept`` with a label), ``healthdcatap:healthTheme``,
  ``healthdcatap:hasCodingSystem``, ``healthdcatap:populationCoverage``,
  ``healthdcatap:minTypicalAge`` / ``maxTypicalAge`` and
  ``healthdcatap:numberOfRecords`` / ``numberOfUniqueIndividuals``
  (``xsd:nonNegativeInteger``; a suppressed count is left out, as HealthDCAT-AP
  has no way to say "fewer than 10"), ``dct:spatial`` (EU country table);
- ``dct:publisher``: a ``foaf:Agent`` with the publisher's name, homepage, mailbox and
  the contact point (HealthDCAT-AP asks the publisher for exactly one);
  ``dcat:contactPoint``: a ``vcard:Kind`` with ``vcard:fn``, ``hasEmail``, ``hasURL``;
- ``dct:temporal``: a ``dct:PeriodOfTime`` with ``dcat:startDate`` / ``dcat:endDate``;
- ``dct:accessRights`` (the EU *access-right* table), ``dcatap:applicableLegislation``
  (ELI, typed ``eli:LegalResource``), ``dpv:hasLegalBasis`` (DPV's GDPR articles),
  ``dct:provenance`` (a ``dct:ProvenanceStatement``), ``dqv:hasQualityAnnotation``
  (a ``dqv:QualityAnnotation`` whose ``oa:hasBody`` is the report's URL and/or its
  summary), ``dct:issued`` / ``dct:modified`` when the hub knows them;
- ``dcat:distribution``: analysis through the Perron hub, the only way to the data:
  ``dcat:accessURL`` and ``dcat:accessService`` are the hub, ``dct:rights`` says that
  row-level data never leave the station, and ``odrl:hasPolicy`` (the DCAT-AP 3
  property for a distribution's policy) is an ``odrl:Offer`` carrying the conditions
  of use as DUO terms, as duo-odrl-dpv (Pandit and Esteves) models them: one
  ``odrl:use`` permission per DUO data use permission, constrained by
  ``odrl:purpose isA`` that term, and every DUO term of the description as the
  offer's ``dct:subject``.

Every node has an IRI derived from the dataset's (``...:contact``, ``...:period``),
so the same descriptions always give the same Turtle. Classes that DCAT-AP 3's
shapes check with ``sh:class`` on vocabulary terms (``dct:RightsStatement``,
``eli:LegalResource``, ``dct:Location``, ``skos:Concept``, ``rdfs:Resource`` for an
access URL) are stated in the graph, so the shapes hold without RDFS inference.

Examples
--------
>>> from perron.catalogue.metadata import EXAMPLE, DatasetMetadata
>>> graph = to_graph([DatasetMetadata.parse(EXAMPLE)], service_url="https://hub.example")
>>> 'healthdcatap:numberOfRecords "1230"^^xsd:nonNegativeInteger' in serialise(graph, "turtle")
True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from rdflib import XSD, Graph, Namespace, URIRef
from rdflib import Literal as Lit
from rdflib.namespace import DCAT, DCTERMS, FOAF, ODRL2, RDF, RDFS, SKOS
from rdflib.term import Node

from perron.catalogue import vocabulary as vocab
from perron.catalogue.metadata import DatasetMetadata, PublishedCount

__all__ = [
    "FORMATS",
    "CatalogueInfo",
    "Format",
    "Record",
    "dataset_iri",
    "parse",
    "serialise",
    "to_graph",
]

# rdflib's defined namespaces refuse unknown terms (and ``DCT.title`` is not
# ``str.title`` there); the others are plain namespaces with no such clash.
DCT = DCTERMS
ODRL = ODRL2
DCATAP = Namespace(vocab.DCATAP)
HEALTH = Namespace(vocab.HEALTHDCATAP)
DPV = Namespace(vocab.DPV)
DQV = Namespace(vocab.DQV)
OA = Namespace(vocab.OA)
VCARD = Namespace(vocab.VCARD)
ELI = Namespace(vocab.ELI)

#: The prefixes bound in every graph (and the JSON-LD context).
PREFIXES: dict[str, str] = {
    "dcat": vocab.DCAT,
    "dct": vocab.DCT,
    "dcatap": vocab.DCATAP,
    "healthdcatap": vocab.HEALTHDCATAP,
    "dpv": vocab.DPV,
    "eu-gdpr": vocab.EU_GDPR,
    "dqv": vocab.DQV,
    "oa": vocab.OA,
    "odrl": vocab.ODRL,
    "obo": "http://purl.obolibrary.org/obo/",
    "vcard": vocab.VCARD,
    "foaf": vocab.FOAF,
    "skos": vocab.SKOS,
    "eli": vocab.ELI,
    "rdfs": str(RDFS),
    "xsd": str(XSD),
}

Format = Literal["turtle", "jsonld"]
#: Each export format and its media type.
FORMATS: dict[Format, str] = {"turtle": "text/turtle", "jsonld": "application/ld+json"}

_DISTRIBUTION_TITLE = "Federated analysis through the Perron hub"
_DISTRIBUTION_DESCRIPTION = (
    "The data stay at the holder's station. Researchers of a study the holder approved "
    "send analyses through the hub; the station runs them and releases only aggregates "
    "that pass the holder's disclosure rules."
)
_RIGHTS = (
    "Row-level data never leave the holder's station; only aggregates that pass the "
    "holder's disclosure rules do, under a study policy the holder signed."
)


@dataclass(frozen=True)
class Record:
    """A description as the hub holds it.

    Parameters
    ----------
    metadata
        The description.
    issued, modified
        When the hub first listed it and when it last changed (aware datetimes).
    page
        The description's page at the hub (``dcat:landingPage``).
    """

    metadata: DatasetMetadata
    issued: datetime | None = None
    modified: datetime | None = None
    page: str | None = None


@dataclass(frozen=True)
class CatalogueInfo:
    """The catalogue itself (``dcat:Catalog``): what it is and who publishes it."""

    title: str = "Perron dataset catalogue"
    description: str = (
        "Health datasets that stay at their holders and can be analysed through this "
        "Perron hub, described by their holders."
    )
    publisher: str = "Perron hub"


def dataset_iri(holder: str, name: str) -> str:
    """The dataset's IRI, the same as its ODRL target in a study policy.

    Examples
    --------
    >>> dataset_iri("umc-north", "lung")
    'urn:perron:dataset:umc-north:lung'
    """
    return f"urn:perron:dataset:{quote(holder, safe='')}:{quote(name, safe='')}"


def to_graph(
    descriptions: Sequence[Record | DatasetMetadata],
    *,
    service_url: str,
    catalogue: CatalogueInfo | None = None,
) -> Graph:
    """The HealthDCAT-AP graph of ``descriptions`` (see the module docstring).

    Parameters
    ----------
    descriptions
        The descriptions (or records of the hub, with dates and a page).
    service_url
        The hub's base URL: every dataset is reached through it.
    catalogue
        Wrap the datasets in a ``dcat:Catalog`` described so (``None``: datasets
        only, as for one dataset's export).
    """
    records = [d if isinstance(d, Record) else Record(d) for d in descriptions]
    builder = _Builder(service_url.rstrip("/"))
    for record in records:
        builder.dataset(record)
    if catalogue is not None:
        builder.catalogue(catalogue, records)
    return builder.graph


def parse(text: str, fmt: Format) -> Graph:
    """A graph read from Turtle or JSON-LD (an export of this module, or anyone's).

    rdflib 7's own JSON-LD parser builds a ``ConjunctiveGraph``, which rdflib itself
    deprecates; that warning is about rdflib's internals, so it is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        return Graph().parse(data=text, format="turtle" if fmt == "turtle" else "json-ld")


def serialise(graph: Graph, fmt: Format) -> str:
    """``graph`` as Turtle or as compact JSON-LD (with the catalogue's prefixes)."""
    if fmt == "turtle":
        return graph.serialize(format="turtle")
    return graph.serialize(format="json-ld", context=dict(PREFIXES), indent=2)


class _Builder:
    """Adds datasets, agents, the hub's service and the catalogue to one graph."""

    def __init__(self, service_url: str) -> None:
        self.graph = Graph(bind_namespaces="none")
        for prefix, namespace in PREFIXES.items():
            self.graph.bind(prefix, namespace)
        self.url = service_url
        self.service = URIRef(f"{service_url}/api")
        self._service_added = False

    def add(self, subject: Node, predicate: URIRef, value: Node) -> None:
        self.graph.add((subject, predicate, value))

    def typed(self, subject: URIRef, *classes: URIRef) -> URIRef:
        for cls in classes:
            self.add(subject, RDF.type, cls)
        return subject

    # -- a dataset ----------------------------------------------------------------

    def dataset(self, record: Record) -> URIRef:
        meta = record.metadata
        iri = dataset_iri(meta.holder, meta.name)
        ds = self.typed(URIRef(iri), DCAT.Dataset)
        self.add(ds, DCT.identifier, Lit(iri, datatype=XSD.anyURI))
        self.add(ds, DCT.title, Lit(meta.title))
        self.add(ds, DCT.description, Lit(meta.description))
        for keyword in meta.keywords:
            self.add(ds, DCAT.keyword, Lit(keyword))
        for code in meta.themes:
            theme = self.typed(URIRef(vocab.DATA_THEME + code), SKOS.Concept)
            self.add(theme, SKOS.prefLabel, Lit(vocab.DATA_THEMES[code], lang="en"))
            self.add(theme, SKOS.inScheme, URIRef(vocab.DATA_THEME.rstrip("/")))
            self.add(ds, DCAT.theme, theme)
        for health_theme in meta.health_themes:
            self.add(ds, HEALTH.healthTheme, URIRef(health_theme))
        for system in meta.coding_systems:
            self.add(ds, HEALTH.hasCodingSystem, URIRef(system))
        if meta.population_coverage:
            self.add(ds, HEALTH.populationCoverage, Lit(meta.population_coverage))
        for predicate, age in (
            (HEALTH.minTypicalAge, meta.min_age),
            (HEALTH.maxTypicalAge, meta.max_age),
        ):
            if age is not None:
                self.add(ds, predicate, _count(age))
        self._count(ds, HEALTH.numberOfRecords, meta.records)
        self._count(ds, HEALTH.numberOfUniqueIndividuals, meta.individuals)
        for country in meta.countries:
            self.add(ds, DCT.spatial, self.typed(URIRef(vocab.COUNTRY + country), DCT.Location))
        self._period(ds, iri, meta)
        self._agents(ds, iri, meta)
        self._terms(ds, iri, meta)
        self._quality(ds, iri, meta)
        if record.issued is not None:
            self.add(ds, DCT.issued, Lit(record.issued))
        if record.modified is not None:
            self.add(ds, DCT.modified, Lit(record.modified))
        if record.page is not None:
            self.add(ds, DCAT.landingPage, self.typed(URIRef(record.page), FOAF.Document))
        self._distribution(ds, iri, meta)
        return ds

    def _count(self, ds: URIRef, predicate: URIRef, count: PublishedCount | None) -> None:
        if count is not None and count.value is not None:
            self.add(ds, predicate, _count(count.value))

    def _period(self, ds: URIRef, iri: str, meta: DatasetMetadata) -> None:
        if meta.temporal is None:
            return
        period = self.typed(URIRef(f"{iri}:period"), DCT.PeriodOfTime)
        if meta.temporal.start is not None:
            self.add(period, DCAT.startDate, Lit(meta.temporal.start))
        if meta.temporal.end is not None:
            self.add(period, DCAT.endDate, Lit(meta.temporal.end))
        self.add(ds, DCT.temporal, period)

    def _agents(self, ds: URIRef, iri: str, meta: DatasetMetadata) -> None:
        contact = self.typed(URIRef(f"{iri}:contact"), VCARD.Kind)
        self.add(contact, VCARD.fn, Lit(meta.contact.name))
        if meta.contact.email is not None:
            self.add(contact, VCARD.hasEmail, URIRef("mailto:" + meta.contact.email))
        if meta.contact.url is not None:
            self.add(contact, VCARD.hasURL, URIRef(meta.contact.url))
        self.add(ds, DCAT.contactPoint, contact)

        publisher = self.typed(URIRef(f"{iri}:publisher"), FOAF.Agent)
        self.add(publisher, FOAF.name, Lit(meta.publisher_name))
        self.add(publisher, DCT.identifier, Lit(_holder_iri(meta.holder)))
        if meta.publisher is not None and meta.publisher.homepage is not None:
            homepage = self.typed(URIRef(meta.publisher.homepage), FOAF.Document)
            self.add(publisher, FOAF.homepage, homepage)
        if meta.publisher is not None and meta.publisher.email is not None:
            self.add(publisher, FOAF.mbox, URIRef("mailto:" + meta.publisher.email))
        self.add(publisher, DCAT.contactPoint, contact)
        self.add(ds, DCT.publisher, publisher)

    def _terms(self, ds: URIRef, iri: str, meta: DatasetMetadata) -> None:
        rights = self.typed(URIRef(vocab.ACCESS_RIGHT + meta.access_rights), DCT.RightsStatement)
        self.add(
            rights, SKOS.prefLabel, Lit(vocab.ACCESS_RIGHTS_LABELS[meta.access_rights], lang="en")
        )
        self.add(ds, DCT.accessRights, rights)
        for law in meta.applicable_legislation:
            self.add(ds, DCATAP.applicableLegislation, self.typed(URIRef(law), ELI.LegalResource))
        for basis in meta.legal_basis:
            self.add(ds, DPV.hasLegalBasis, URIRef(vocab.legal_basis_iri(basis)))
        if meta.provenance:
            provenance = self.typed(URIRef(f"{iri}:provenance"), DCT.ProvenanceStatement)
            self.add(provenance, RDFS.label, Lit(meta.provenance))
            self.add(ds, DCT.provenance, provenance)

    def _quality(self, ds: URIRef, iri: str, meta: DatasetMetadata) -> None:
        report = meta.quality_report
        if report is None:
            return
        annotation = self.typed(URIRef(f"{iri}:quality"), DQV.QualityAnnotation)
        self.add(annotation, OA.hasTarget, ds)
        self.add(annotation, OA.motivatedBy, DQV.qualityAssessment)
        if report.url is not None:
            self.add(annotation, OA.hasBody, URIRef(report.url))
        if report.summary:
            body = self.typed(URIRef(f"{iri}:quality:summary"), OA.TextualBody)
            self.add(body, RDF.value, Lit(report.summary))
            self.add(body, DCT.format, Lit("text/plain"))
            self.add(annotation, OA.hasBody, body)
        self.add(ds, DQV.hasQualityAnnotation, annotation)

    def _distribution(self, ds: URIRef, iri: str, meta: DatasetMetadata) -> None:
        distribution = self.typed(URIRef(f"{iri}:federated"), DCAT.Distribution)
        self.add(distribution, DCT.title, Lit(_DISTRIBUTION_TITLE))
        self.add(distribution, DCT.description, Lit(_DISTRIBUTION_DESCRIPTION))
        self.add(distribution, DCAT.accessURL, self.typed(URIRef(self.url), RDFS.Resource))
        self.add(distribution, DCAT.accessService, self._service())
        self.add(self.service, DCAT.servesDataset, ds)
        for law in meta.applicable_legislation:
            self.add(distribution, DCATAP.applicableLegislation, URIRef(law))
        rights = self.typed(URIRef(f"{iri}:rights"), DCT.RightsStatement)
        self.add(rights, RDFS.label, Lit(_RIGHTS))
        self.add(distribution, DCT.rights, rights)
        self.add(distribution, ODRL.hasPolicy, self._offer(ds, iri, meta))
        self.add(ds, DCAT.distribution, distribution)

    def _offer(self, ds: URIRef, iri: str, meta: DatasetMetadata) -> URIRef:
        offer = self.typed(URIRef(f"{iri}:offer"), ODRL.Offer, ODRL.Policy)
        self.add(offer, ODRL.uid, offer)
        self.add(offer, ODRL.assigner, URIRef(_holder_iri(meta.holder)))
        self.add(offer, ODRL.target, ds)
        permissions = [
            code
            for code in meta.conditions
            if vocab.DUO_TERMS[code].kind is vocab.DuoKind.PERMISSION
        ]
        for index, code in enumerate(permissions or [None]):
            permission = self.typed(URIRef(f"{iri}:offer:permission:{index}"), ODRL.Permission)
            self.add(permission, ODRL.action, ODRL.use)
            self.add(permission, ODRL.target, ds)
            if code is not None:
                constraint = self.typed(
                    URIRef(f"{iri}:offer:permission:{index}:purpose"), ODRL.Constraint
                )
                self.add(constraint, ODRL.leftOperand, ODRL.purpose)
                self.add(constraint, ODRL.operator, ODRL.isA)
                self.add(constraint, ODRL.rightOperand, URIRef(vocab.duo_iri(code)))
                self.add(permission, ODRL.constraint, constraint)
            self.add(offer, ODRL.permission, permission)
        for code in meta.conditions:
            term = URIRef(vocab.duo_iri(code))
            self.add(term, RDFS.label, Lit(vocab.DUO_TERMS[code].label, lang="en"))
            self.add(offer, DCT.subject, term)
        return offer

    def _service(self) -> URIRef:
        if not self._service_added:
            self._service_added = True
            service = self.typed(self.service, DCAT.DataService)
            self.add(service, DCT.title, Lit("Perron hub"))
            self.add(
                service, DCAT.endpointURL, self.typed(URIRef(f"{self.url}/api"), RDFS.Resource)
            )
            description = self.typed(URIRef(f"{self.url}/openapi.json"), RDFS.Resource)
            self.add(service, DCAT.endpointDescription, description)
        return self.service

    # -- the catalogue ------------------------------------------------------------

    def catalogue(self, info: CatalogueInfo, records: Sequence[Record]) -> URIRef:
        catalog = self.typed(URIRef(f"{self.url}/api/catalogue"), DCAT.Catalog)
        self.add(catalog, DCT.title, Lit(info.title))
        self.add(catalog, DCT.description, Lit(info.description))
        publisher = self.typed(URIRef(f"{self.url}/api/catalogue#publisher"), FOAF.Agent)
        self.add(publisher, FOAF.name, Lit(info.publisher))
        self.add(catalog, DCT.publisher, publisher)
        self.add(catalog, FOAF.homepage, self.typed(URIRef(f"{self.url}/"), FOAF.Document))
        law = self.typed(URIRef(vocab.EHDS), ELI.LegalResource)
        self.add(catalog, DCATAP.applicableLegislation, law)
        self.add(catalog, DCAT.service, self._service())
        for record in records:
            meta = record.metadata
            self.add(catalog, DCAT.dataset, URIRef(dataset_iri(meta.holder, meta.name)))
        modified = [r.modified for r in records if r.modified is not None]
        if modified:
            self.add(catalog, DCT.modified, Lit(max(modified)))
        return catalog


def _count(value: int) -> Lit:
    return Lit(value, datatype=XSD.nonNegativeInteger)


def _holder_iri(holder: str) -> str:
    return f"urn:perron:holder:{quote(holder, safe='')}"
