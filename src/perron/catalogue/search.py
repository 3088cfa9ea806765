"""Search over dataset descriptions: free text, theme, coding system and holder.

Every criterion given must hold (an empty one always does):

- ``text``: every word appears (case-insensitive) in the name, holder, publisher,
  title, description, keywords or population coverage;
- ``theme``: an EU data theme (by code or label: ``HEAL``, ``health``) or a health
  theme (its IRI, or the IRI's last segment, such as a Wikidata ``Q47912``);
- ``code``: a coding system, by common name (``ICD-10``) or IRI;
- ``holder``: the holder's name at the hub, or its publisher name (case-insensitive).

The hub keeps a catalogue of at most a few thousand descriptions, so it searches
them in memory; results come sorted by holder, then dataset name.

Examples
--------
>>> from perron.catalogue.metadata import EXAMPLE, DatasetMetadata
>>> lung = DatasetMetadata.parse(EXAMPLE)
>>> [m.name for m in search([lung], Query(text="Lung survival", code="icd-10"))]
['lung']
>>> search([lung], Query(theme="TRAN"))
[]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from perron.catalogue import vocabulary as vocab
from perron.catalogue.metadata import DatasetMetadata

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """What to look for; every non-empty field must match."""

    text: str = ""
    theme: str = ""
    code: str = ""
    holder: str = ""


def matches(metadata: DatasetMetadata, query: Query) -> bool:
    """Whether one description matches every criterion of ``query``."""
    return (
        _text(metadata, query.text)
        and _theme(metadata, query.theme)
        and _code(metadata, query.code)
        and _holder(metadata, query.holder)
    )


def search(
    entries: Iterable[T],
    query: Query,
    metadata: Callable[[T], DatasetMetadata] | None = None,
) -> list[T]:
    """The entries whose description matches ``query``, by holder and name.

    Parameters
    ----------
    entries
        Descriptions, or records that hold one (then give ``metadata``).
    query
        The criteria.
    metadata
        How to get the description of an entry (default: the entry is one).
    """

    def of(entry: T) -> DatasetMetadata:
        if metadata is not None:
            return metadata(entry)
        assert isinstance(entry, DatasetMetadata)
        return entry

    found = [entry for entry in entries if matches(of(entry), query)]
    return sorted(found, key=lambda entry: (of(entry).holder, of(entry).name))


def _text(metadata: DatasetMetadata, text: str) -> bool:
    words = text.casefold().split()
    if not words:
        return True
    haystack = " ".join(
        (
            metadata.name,
            metadata.holder,
            metadata.publisher_name,
            metadata.title,
            metadata.description,
            *metadata.keywords,
            metadata.population_coverage,
        )
    ).casefold()
    return all(word in haystack for word in words)


def _theme(metadata: DatasetMetadata, theme: str) -> bool:
    wanted = theme.strip()
    if not wanted:
        return True
    try:
        if vocab.data_theme(wanted) in metadata.themes:
            return True
    except ValueError:
        pass  # not an EU data theme: perhaps a health theme
    folded = wanted.casefold()
    return any(
        iri.casefold() == folded or iri.rstrip("/").rsplit("/", 1)[-1].casefold() == folded
        for iri in metadata.health_themes
    )


def _code(metadata: DatasetMetadata, code: str) -> bool:
    if not code.strip():
        return True
    try:
        return vocab.coding_system_iri(code) in metadata.coding_systems
    except ValueError:
        return False  # neither a known system nor an IRI: nothing uses it


def _holder(metadata: DatasetMetadata, holder: str) -> bool:
    wanted = holder.strip().casefold()
    return not wanted or wanted in (metadata.holder.casefold(), metadata.publisher_name.casefold())
