"""Validate an export against the shipped SHACL shapes, with pyshacl.

Two shape files ship with Perron (``perron/catalogue/shapes/``):

- ``dcat-ap-SHACL.ttl``: the DCAT-AP 3.0.0 shapes of SEMIC (Interoperable Europe),
  unchanged, from the SEMICeu/DCAT-AP repository (``releases/3.0.0/shacl``, commit
  fff059b of 17 June 2024). Copyright European Union, published under CC-BY 4.0,
  which allows redistribution with attribution (see ``shapes/README.md``);
- ``perron-healthdcat-ap.ttl``: Perron's shapes for the HealthDCAT-AP properties it
  emits, after the constraints of HealthDCAT-AP release 5 for non-public datasets.

Validation runs without inference: the export states the classes the shapes check
(:mod:`perron.catalogue.dcat`).

Examples
--------
>>> from perron.catalogue.dcat import to_graph
>>> from perron.catalogue.metadata import EXAMPLE, DatasetMetadata
>>> validate(to_graph([DatasetMetadata.parse(EXAMPLE)], service_url="https://hub.example")).conforms
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from pyshacl import validate as shacl_validate
from rdflib import Graph
from rdflib.namespace import SH
from rdflib.term import Node

SHAPE_FILES = ("dcat-ap-SHACL.ttl", "perron-healthdcat-ap.ttl")


@dataclass(frozen=True)
class Problem:
    """One violation: the node, the property path, and what is wrong."""

    focus: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.focus} {self.path}: {self.message}"


@dataclass(frozen=True)
class Report:
    """The outcome of a validation; ``text`` is pyshacl's full report."""

    conforms: bool
    problems: tuple[Problem, ...]
    text: str


@cache
def shapes() -> Graph:
    """The shipped shapes as one graph (parsed once; treat it as read-only)."""
    graph = Graph()
    folder = files("perron.catalogue") / "shapes"
    for name in SHAPE_FILES:
        graph.parse(data=(folder / name).read_text(encoding="utf-8"), format="turtle")
    return graph


def validate(graph: Graph) -> Report:
    """Validate ``graph`` against the DCAT-AP 3 and Perron's HealthDCAT-AP shapes.

    Examples
    --------
    >>> validate(Graph()).conforms  # nothing to check: an empty graph conforms
    True
    """
    conforms, results, text = shacl_validate(
        graph, shacl_graph=shapes(), inference="none", advanced=True, allow_warnings=True
    )
    assert isinstance(results, Graph)
    assert isinstance(text, str)
    problems = tuple(
        sorted(
            (
                Problem(
                    _text(results.value(result, SH.focusNode)),
                    _text(results.value(result, SH.resultPath)),
                    _text(results.value(result, SH.resultMessage)),
                )
                for result in results.subjects(SH.resultSeverity, SH.Violation)
            ),
            key=str,
        )
    )
    return Report(bool(conforms), problems, text)


def _text(node: Node | None) -> str:
    return "" if node is None else str(node)
