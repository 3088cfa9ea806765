"""The namespaces and controlled terms of the catalogue.

Namespaces (the prefixes :mod:`perron.catalogue.dcat` binds):

============  ==============================================  ===============================
prefix        namespace                                       defined by
============  ==============================================  ===============================
dcat          http://www.w3.org/ns/dcat#                      W3C DCAT 3
dct           http://purl.org/dc/terms/                       DCMI Metadata Terms
dcatap        http://data.europa.eu/r5r/                      DCAT-AP 3.0.0 (SEMIC)
healthdcatap  http://healthdataportal.eu/ns/health#           HealthDCAT-AP (release 5, the
                                                              namespace its SHACL shapes and
                                                              ckanext-dcat use)
dpv           https://w3id.org/dpv#                           W3C DPVCG Data Privacy Vocab.
eu-gdpr       https://w3id.org/dpv/legal/eu/gdpr#             DPV's GDPR extension
dqv           http://www.w3.org/ns/dqv#                       W3C Data Quality Vocabulary
oa            http://www.w3.org/ns/oa#                        W3C Web Annotation
odrl          http://www.w3.org/ns/odrl/2/                    W3C ODRL 2.2
obo (DUO)     http://purl.obolibrary.org/obo/DUO_             GA4GH Data Use Ontology
vcard         http://www.w3.org/2006/vcard/ns#                W3C vCard
foaf          http://xmlns.com/foaf/0.1/                      FOAF
skos          http://www.w3.org/2004/02/skos/core#            W3C SKOS
eli           http://data.europa.eu/eli/ontology#             European Legislation Identifier
============  ==============================================  ===============================

Controlled terms, each with the short form a data manager writes:

- EU data themes (``HEAL``) of the Publications Office's *data-theme* table;
- access rights (``NON_PUBLIC``, ``RESTRICTED``, ``PUBLIC``): the three categories of
  HealthDCAT-AP, from the *access-right* table;
- applicable legislation as ELI IRIs (``EHDS`` is Regulation (EU) 2025/327);
- legal bases as DPV's GDPR articles (``A9-2-j`` or ``eu-gdpr:A9-2-j``);
- conditions of use as DUO terms (``HMB`` or ``DUO:0000006``), the codes of DUO
  release v2021-02-23; the modifiers every Perron agreement carries come from
  :mod:`perron.governance.odrl`;
- coding systems as Wikidata properties, as HealthDCAT-AP recommends for
  ``healthdcatap:hasCodingSystem`` (``ICD-10`` is ``wikidata:P494``), or any IRI.

Examples
--------
>>> duo_code("hmb"), duo_code("DUO:0000019")
('DUO:0000006', 'DUO:0000019')
>>> coding_system_iri("ICD-10")
'http://www.wikidata.org/entity/P494'
>>> legal_basis_code("A9-2-j")
'eu-gdpr:A9-2-j'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from perron.governance.odrl import (
    DUO_OF_PURPOSE,
    PROJECT_SPECIFIC,
    PUBLICATION_REQUIRED,
    TIME_LIMIT,
)
from perron.governance.request import Purpose

DCAT: Final = "http://www.w3.org/ns/dcat#"
DCT: Final = "http://purl.org/dc/terms/"
DCATAP: Final = "http://data.europa.eu/r5r/"
HEALTHDCATAP: Final = "http://healthdataportal.eu/ns/health#"
DPV: Final = "https://w3id.org/dpv#"
EU_GDPR: Final = "https://w3id.org/dpv/legal/eu/gdpr#"
DQV: Final = "http://www.w3.org/ns/dqv#"
OA: Final = "http://www.w3.org/ns/oa#"
ODRL: Final = "http://www.w3.org/ns/odrl/2/"
DUO: Final = "http://purl.obolibrary.org/obo/DUO_"
VCARD: Final = "http://www.w3.org/2006/vcard/ns#"
FOAF: Final = "http://xmlns.com/foaf/0.1/"
SKOS: Final = "http://www.w3.org/2004/02/skos/core#"
ELI: Final = "http://data.europa.eu/eli/ontology#"
WIKIDATA: Final = "http://www.wikidata.org/entity/"

#: The Publications Office's authority tables.
AUTHORITY: Final = "http://publications.europa.eu/resource/authority/"
DATA_THEME: Final = AUTHORITY + "data-theme/"
ACCESS_RIGHT: Final = AUTHORITY + "access-right/"
COUNTRY: Final = AUTHORITY + "country/"

#: The EU data themes (code -> English label).
DATA_THEMES: Final[dict[str, str]] = {
    "AGRI": "Agriculture, fisheries, forestry and food",
    "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport",
    "ENER": "Energy",
    "ENVI": "Environment",
    "GOVE": "Government and public sector",
    "HEAL": "Health",
    "INTR": "International issues",
    "JUST": "Justice, legal system and public safety",
    "REGI": "Regions and cities",
    "SOCI": "Population and society",
    "TECH": "Science and technology",
    "TRAN": "Transport",
}


class AccessRights(StrEnum):
    """HealthDCAT-AP's three categories of access (the EU *access-right* table)."""

    PUBLIC = "PUBLIC"
    RESTRICTED = "RESTRICTED"
    NON_PUBLIC = "NON_PUBLIC"


#: English labels of the access rights.
ACCESS_RIGHTS_LABELS: Final[dict[AccessRights, str]] = {
    AccessRights.PUBLIC: "Public",
    AccessRights.RESTRICTED: "Restricted",
    AccessRights.NON_PUBLIC: "Non-public",
}

#: Laws a data manager may name by their short name (ELI IRIs).
EHDS: Final = "http://data.europa.eu/eli/reg/2025/327/oj"
LEGISLATION: Final[dict[str, str]] = {
    "EHDS": EHDS,
    "GDPR": "http://data.europa.eu/eli/reg/2016/679/oj",
    "DGA": "http://data.europa.eu/eli/reg/2022/868/oj",
}

#: GDPR legal bases in DPV's GDPR extension (code -> English label).
LEGAL_BASES: Final[dict[str, str]] = {
    "A6-1-a": "Art. 6(1)(a) consent",
    "A6-1-b": "Art. 6(1)(b) contract",
    "A6-1-c": "Art. 6(1)(c) legal obligation",
    "A6-1-d": "Art. 6(1)(d) vital interest",
    "A6-1-e": "Art. 6(1)(e) public interest or official authority",
    "A6-1-f": "Art. 6(1)(f) legitimate interest",
    "A9-2-a": "Art. 9(2)(a) explicit consent",
    "A9-2-b": "Art. 9(2)(b) employment and social security",
    "A9-2-c": "Art. 9(2)(c) vital interest",
    "A9-2-d": "Art. 9(2)(d) not-for-profit body",
    "A9-2-e": "Art. 9(2)(e) made public by the data subject",
    "A9-2-f": "Art. 9(2)(f) legal claims",
    "A9-2-g": "Art. 9(2)(g) substantial public interest",
    "A9-2-h": "Art. 9(2)(h) health or social care",
    "A9-2-i": "Art. 9(2)(i) public interest in public health",
    "A9-2-j": "Art. 9(2)(j) research, statistics or archiving",
}


class DuoKind(StrEnum):
    """A DUO data use permission says what for; a modifier adds a condition."""

    PERMISSION = "permission"
    MODIFIER = "modifier"


@dataclass(frozen=True)
class DuoTerm:
    """A DUO term: its shorthand, its label and its kind."""

    shorthand: str
    label: str
    kind: DuoKind


_P, _M = DuoKind.PERMISSION, DuoKind.MODIFIER
#: The DUO terms (release v2021-02-23) without the two abstract roots.
DUO_TERMS: Final[dict[str, DuoTerm]] = {
    "DUO:0000004": DuoTerm("NRES", "no restriction", _P),
    "DUO:0000042": DuoTerm("GRU", "general research use", _P),
    "DUO:0000006": DuoTerm("HMB", "health or medical or biomedical research", _P),
    "DUO:0000007": DuoTerm("DS", "disease specific research", _P),
    "DUO:0000011": DuoTerm("POA", "population origins or ancestry research only", _P),
    "DUO:0000012": DuoTerm("RS", "research specific restrictions", _M),
    "DUO:0000015": DuoTerm("NMDS", "no general methods research", _M),
    "DUO:0000016": DuoTerm("GSO", "genetic studies only", _M),
    "DUO:0000018": DuoTerm("NPUNCU", "not for profit, non commercial use only", _M),
    PUBLICATION_REQUIRED: DuoTerm("PUB", "publication required", _M),
    "DUO:0000020": DuoTerm("COL", "collaboration required", _M),
    "DUO:0000021": DuoTerm("IRB", "ethics approval required", _M),
    "DUO:0000022": DuoTerm("GS", "geographical restriction", _M),
    "DUO:0000024": DuoTerm("MOR", "publication moratorium", _M),
    TIME_LIMIT: DuoTerm("TS", "time limit on use", _M),
    "DUO:0000026": DuoTerm("US", "user specific restriction", _M),
    PROJECT_SPECIFIC: DuoTerm("PS", "project specific restriction", _M),
    "DUO:0000028": DuoTerm("IS", "institution specific restriction", _M),
    "DUO:0000029": DuoTerm("RTN", "return to database or resource", _M),
    "DUO:0000043": DuoTerm("CC", "clinical care use", _M),
    "DUO:0000044": DuoTerm("NPOA", "population origins or ancestry research prohibited", _M),
    "DUO:0000045": DuoTerm("NPU", "not for profit organisation use only", _M),
    "DUO:0000046": DuoTerm("NCU", "non-commercial use only", _M),
}
_DUO_BY_SHORTHAND = {term.shorthand: code for code, term in DUO_TERMS.items()}

#: The conditions a description carries unless its holder says otherwise: health
#: research (the DUO permission of every EHDS purpose but general research, see
#: :data:`perron.governance.odrl.DUO_OF_PURPOSE`) and the modifiers every Perron
#: agreement carries: publication required, this project only, limited in time.
DEFAULT_CONDITIONS: Final = (
    DUO_OF_PURPOSE[Purpose.PUBLIC_HEALTH],
    PUBLICATION_REQUIRED,
    PROJECT_SPECIFIC,
    TIME_LIMIT,
)

#: Coding systems by common name -> the Wikidata property of their identifiers.
CODING_SYSTEMS: Final[dict[str, str]] = {
    "ATC": WIKIDATA + "P267",
    "ICD-9": WIKIDATA + "P493",
    "ICD-10": WIKIDATA + "P494",
    "ICD-10-CM": WIKIDATA + "P4229",
    "LOINC": WIKIDATA + "P4338",
    "MESH": WIKIDATA + "P486",
    "SNOMED CT": WIKIDATA + "P5806",
}
_CODING_NAMES = {iri: name for name, iri in CODING_SYSTEMS.items()}

#: An absolute http(s) IRI without characters Turtle or a browser would trip on.
IRI_PATTERN: Final = r"^https?://[^\s<>\"{}|\\^`]+$"
_IRI = re.compile(IRI_PATTERN)


def is_iri(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) IRI Perron accepts.

    Examples
    --------
    >>> is_iri("https://www.wikidata.org/wiki/Q12078"), is_iri("cancer")
    (True, False)
    """
    return bool(_IRI.match(value))


def _key(value: str) -> str:
    return re.sub(r"[\s_]+", " ", value.strip()).upper()


def duo_code(value: str) -> str:
    """The CURIE (``DUO:0000006``) of a DUO term given by CURIE, IRI or shorthand.

    Raises
    ------
    ValueError
        Not a DUO term Perron knows (the message lists the shorthands).
    """
    text = value.strip()
    upper = text.upper()
    if upper.startswith("DUO:"):
        code = "DUO:" + upper[4:]
    elif text.startswith(DUO):
        code = "DUO:" + text[len(DUO) :]
    else:
        code = _DUO_BY_SHORTHAND.get(upper, "")
    if code not in DUO_TERMS:
        known = ", ".join(sorted(_DUO_BY_SHORTHAND))
        raise ValueError(
            f"{value!r} is not a DUO term; write a code (DUO:0000006) or one of {known}"
        )
    return code


def duo_iri(code: str) -> str:
    """The OBO IRI of a DUO CURIE.

    Examples
    --------
    >>> duo_iri("DUO:0000042")
    'http://purl.obolibrary.org/obo/DUO_0000042'
    """
    return DUO + code.removeprefix("DUO:")


def legal_basis_code(value: str) -> str:
    """The DPV code (``eu-gdpr:A9-2-j``) of a GDPR legal basis.

    Raises
    ------
    ValueError
        Not a GDPR article 6(1) or 9(2) basis.
    """
    text = value.strip()
    for prefix in ("eu-gdpr:", EU_GDPR):
        text = text.removeprefix(prefix)
    text = text.upper()
    article = re.sub(r"^A(\d)-(\d)-([A-Z])$", lambda m: f"A{m[1]}-{m[2]}-{m[3].lower()}", text)
    if article not in LEGAL_BASES:
        raise ValueError(
            f"{value!r} is not a GDPR legal basis; write eu-gdpr:A6-1-a .. A6-1-f or "
            "A9-2-a .. A9-2-j (DPV's GDPR articles)"
        )
    return "eu-gdpr:" + article


def legal_basis_iri(code: str) -> str:
    """The DPV IRI of a legal basis code."""
    return EU_GDPR + code.removeprefix("eu-gdpr:")


def legislation_iri(value: str) -> str:
    """The ELI IRI of a law given by short name (``EHDS``, ``GDPR``, ``DGA``) or IRI.

    Raises
    ------
    ValueError
        Neither a known short name nor an http(s) IRI.
    """
    text = value.strip()
    iri = LEGISLATION.get(text.upper(), text)
    if not is_iri(iri):
        raise ValueError(
            f"{value!r} is not a law Perron knows; write {', '.join(LEGISLATION)} or the "
            "law's ELI IRI (http://data.europa.eu/eli/...)"
        )
    return iri


def data_theme(value: str) -> str:
    """The EU data theme code (``HEAL``) of a code, label or IRI.

    Raises
    ------
    ValueError
        Not an EU data theme (the message lists them).
    """
    text = value.strip().removeprefix(DATA_THEME).upper()
    by_label = {label.upper(): code for code, label in DATA_THEMES.items()}
    code = by_label.get(text, text)
    if code not in DATA_THEMES:
        raise ValueError(
            f"{value!r} is not an EU data theme; write one of {', '.join(DATA_THEMES)}"
        )
    return code


def coding_system_iri(value: str) -> str:
    """The IRI of a coding system given by common name (``ICD-10``) or IRI.

    Raises
    ------
    ValueError
        Neither a known name nor an http(s) IRI.
    """
    key = _key(value).replace("SNOMED-CT", "SNOMED CT").replace("SNOMEDCT", "SNOMED CT")
    iri = CODING_SYSTEMS.get(key, value.strip())
    if not is_iri(iri):
        raise ValueError(
            f"{value!r} is not a coding system Perron knows; write one of "
            f"{', '.join(CODING_SYSTEMS)} or the system's IRI (a Wikidata property)"
        )
    return iri


def coding_system_name(iri: str) -> str:
    """The common name of a coding system IRI, or the IRI itself.

    Examples
    --------
    >>> coding_system_name("http://www.wikidata.org/entity/P494")
    'ICD-10'
    """
    return _CODING_NAMES.get(iri, iri)
