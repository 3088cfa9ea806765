"""A dataset's description as its holder publishes it: :class:`DatasetMetadata`.

Everything a researcher needs to find a dataset and to ask for it: the names a data
request uses (``holder`` and ``name``, see :class:`perron.governance.request.HolderPart`),
what the data are about (title, description, keywords, EU data themes, health themes,
coding systems, population, typical ages, period, countries), how large they are (the
numbers of records and of individuals, as published counts), under which terms they
may be used (access rights, applicable legislation, GDPR legal basis, conditions of
use as DUO terms) and where to read about their quality.

Counts are never typed in: a station computes them from its data and passes them
through the holder's disclosure rules (:func:`perron.catalogue.counts.published`),
which gives a :class:`PublishedCount`: released (and rounded, if the holder rounds)
or suppressed. A suppressed count is published as "fewer than ``min_cell``"
(``value`` is ``None``); HealthDCAT-AP has no form for a bound, so the RDF export
leaves the property out. A published count that contradicts the rule it names (a
released count between 0 and ``min_cell``, or not a multiple of its rounding base)
is refused, so a hub cannot be handed one.

Validation errors name the field and say what to write (:meth:`DatasetMetadata.parse`).

Examples
--------
>>> meta = DatasetMetadata.parse(EXAMPLE)
>>> meta.holder, meta.name, meta.conditions[0]
('umc-north', 'lung', 'DUO:0000006')
>>> str(meta.records), str(meta.individuals)
('1230', '< 10')
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from perron.catalogue import vocabulary as vocab
from perron.catalogue.vocabulary import AccessRights
from perron.governance.request import describe
from perron.protocol.errors import InputError

#: Names of holders and datasets, as the hub names organisations.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
#: One line of text: no control characters.
_LINE = r"^[^\x00-\x1f\x7f]*$"
#: Free text: line breaks and tabs, no other control characters.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_EMAIL = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
#: The largest count a description may carry (a sanity bound, not a privacy rule).
MAX_COUNT = 10**12


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid Unicode (a lone surrogate)") from None
    return value


Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=_LINE),
    AfterValidator(_encodable),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=20_000, pattern=_TEXT),
    AfterValidator(_encodable),
]
Iri = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=vocab.IRI_PATTERN)
]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=_EMAIL)]
Country = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{3}$")]
Age = Annotated[int, Field(ge=0, le=150)]
Terms = Annotated[tuple[str, ...], Field(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Agent(_Strict):
    """The holder as a publisher shows it: a display name and where to find it."""

    name: Line
    homepage: Iri | None = None
    email: Email | None = None


class Contact(_Strict):
    """Whom a researcher asks about the dataset: an e-mail address, a web page, or both."""

    name: Line
    email: Email | None = None
    url: Iri | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if self.email is None and self.url is None:
            raise ValueError("a contact needs an email or a url (HealthDCAT-AP asks for one)")
        return self


class Period(_Strict):
    """When the data were recorded; either end may be open."""

    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start is None and self.end is None:
            raise ValueError("a period needs a start, an end or both")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("the period ends before it starts")
        return self


class QualityReport(_Strict):
    """Where the dataset's quality report is, or its summary, or both."""

    url: Iri | None = None
    summary: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> QualityReport:
        if self.url is None and not self.summary:
            raise ValueError("a quality report needs a url or a summary")
        return self


class PublishedCount(_Strict):
    """A count as published: released (``value``) or suppressed (``value`` is None).

    Parameters
    ----------
    value
        The released count, rounded to ``rounded_to`` if the holder rounds; ``None``
        when it was below ``min_cell`` and suppressed.
    min_cell
        The holder's smallest releasable count.
    rounded_to
        The rounding base, if the holder rounds counts.

    Examples
    --------
    >>> str(PublishedCount(value=None, min_cell=5)), str(PublishedCount(value=1230, min_cell=5))
    ('< 5', '1230')
    """

    value: int | None = Field(ge=0, le=MAX_COUNT)
    min_cell: int = Field(ge=1, le=MAX_COUNT)
    rounded_to: int | None = Field(default=None, ge=1, le=MAX_COUNT)

    @model_validator(mode="after")
    def _follows_its_rule(self) -> PublishedCount:
        # Could the rule have released this value? A count of 0, or of at least
        # min_cell, rounded to the nearest multiple of rounded_to (which may take a
        # count at min_cell down by up to half the base, as for any table count).
        value, base = self.value, self.rounded_to
        if value is None or value == 0:
            return self
        if base is not None and value % base:
            raise ValueError(
                f"a released count of {value} is not a multiple of rounded_to {base}; "
                "round it first"
            )
        if value + (0 if base is None else base / 2) < self.min_cell:
            raise ValueError(
                f"a released count of {value} is below min_cell {self.min_cell}; "
                "publish it suppressed (value null), as the disclosure rule says"
            )
        return self

    @property
    def released(self) -> bool:
        """Whether the count was released (not suppressed)."""
        return self.value is not None

    def __str__(self) -> str:
        return f"< {self.min_cell}" if self.value is None else str(self.value)


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class DatasetMetadata(_Strict):
    """The description of one dataset at one holder (see the module docstring).

    ``listing`` is the holder's choice of who may find the description at the hub:
    ``"public"`` (anyone, as EHDS art. 77 asks of a dataset catalogue) or ``"hub"``
    (signed-in users and stations of the hub only).
    """

    name: Name
    holder: Name
    title: Line
    description: Annotated[Text, Field(min_length=1)]
    publisher: Agent | None = None
    contact: Contact
    keywords: Annotated[tuple[Line, ...], Field(min_length=1, max_length=50)]
    themes: Annotated[Terms, Field(min_length=1)] = ("HEAL",)
    health_themes: Annotated[tuple[Iri, ...], Field(max_length=50)] = ()
    coding_systems: Terms = ()
    population_coverage: Text = ""
    min_age: Age | None = None
    max_age: Age | None = None
    records: PublishedCount | None = None
    individuals: PublishedCount | None = None
    temporal: Period | None = None
    countries: Annotated[tuple[Country, ...], Field(max_length=50)] = ()
    legal_basis: Terms = ()
    applicable_legislation: Annotated[Terms, Field(min_length=1)] = (vocab.EHDS,)
    access_rights: AccessRights = AccessRights.NON_PUBLIC
    conditions: Terms = vocab.DEFAULT_CONDITIONS
    provenance: Text = ""
    quality_report: QualityReport | None = None
    listing: Literal["public", "hub"] = "public"

    @field_validator("keywords", "health_themes", "countries")
    @classmethod
    def _dedupe(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(values)

    @field_validator("themes")
    @classmethod
    def _themes(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(tuple(vocab.data_theme(v) for v in values))

    @field_validator("coding_systems")
    @classmethod
    def _coding(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(tuple(vocab.coding_system_iri(v) for v in values))

    @field_validator("legal_basis")
    @classmethod
    def _legal(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(tuple(vocab.legal_basis_code(v) for v in values))

    @field_validator("applicable_legislation")
    @classmethod
    def _laws(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(tuple(vocab.legislation_iri(v) for v in values))

    @field_validator("conditions")
    @classmethod
    def _duo(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(tuple(vocab.duo_code(v) for v in values))

    @model_validator(mode="after")
    def _consistent(self) -> DatasetMetadata:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError(f"min_age {self.min_age} is above max_age {self.max_age}")
        records, individuals = self.records, self.individuals
        if (
            records is not None
            and individuals is not None
            and records.value is not None
            and individuals.value is not None
            and individuals.value > records.value
        ):
            raise ValueError(
                f"individuals ({individuals.value}) outnumber records ({records.value}); "
                "every individual has at least one record"
            )
        return self

    @classmethod
    def parse(cls, raw: Any) -> DatasetMetadata:
        """Validate a description; ``InputError`` names every field that is wrong."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InputError("the dataset description is not valid: " + describe(exc)) from None

    @property
    def publisher_name(self) -> str:
        """The publisher's display name (the holder's name unless one is given)."""
        return self.holder if self.publisher is None else self.publisher.name

    def to_wire(self) -> dict[str, Any]:
        """The description as plain JSON (what a station sends and the hub stores)."""
        return self.model_dump(mode="json")


#: A complete example description, as a station would publish it.
EXAMPLE: dict[str, Any] = {
    "name": "lung",
    "holder": "umc-north",
    "title": "Lung cancer cohort, UMC North",
    "description": "Patients treated for advanced lung cancer at UMC North: survival, "
    "performance scores, weight loss and calorie intake.",
    "publisher": {"name": "UMC North", "homepage": "https://umc-north.example"},
    "contact": {"name": "Research data desk", "email": "data@umc-north.example"},
    "keywords": ["lung cancer", "survival", "oncology"],
    "themes": ["HEAL"],
    "health_themes": ["http://www.wikidata.org/entity/Q47912"],
    "coding_systems": ["ICD-10", "ATC"],
    "population_coverage": "Adults treated for advanced lung cancer at one university "
    "medical centre.",
    "min_age": 39,
    "max_age": 82,
    "records": {"value": 1230, "min_cell": 10, "rounded_to": 10},
    "individuals": {"value": None, "min_cell": 10, "rounded_to": 10},
    "temporal": {"start": "2010-01-01", "end": "2020-12-31"},
    "countries": ["NLD"],
    "legal_basis": ["eu-gdpr:A9-2-j"],
    "quality_report": {"url": "https://umc-north.example/quality/lung.html"},
}
