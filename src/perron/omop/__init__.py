"""The common data model: an OMOP CDM v5.4 subset as each station's harmonised view.

Modules, in dependency order:

- :mod:`perron.omop.cdm` - the eight tables' schema and :class:`Cdm`, a validated
  container of DataFrames (every bad field reported at once);
- :mod:`perron.omop.mapping` - flat source tables to the CDM through a TOML mapping
  file;
- :mod:`perron.omop.fhir` - FHIR R4 bundles to the CDM (``fhir.resources``);
- :mod:`perron.omop.view` - the per-person flat table that analyses read;
- :mod:`perron.omop.dataset` - a CDM as a station's dataset (``reader = "omop"``
  and the ``[omop]`` table of station.toml);
- :mod:`perron.omop.synthetic` - the hospital / insurer / pharmacy demo data, as
  flat tables with shipped mappings and as FHIR bundles.

The package is pure: it reads and writes DataFrames and never talks to a hub.
See docs/omop.md.
"""

from perron.omop.cdm import Cdm, CdmError, Problem
from perron.omop.fhir import FhirError, FhirImport, import_bundles
from perron.omop.mapping import CdmMapping, MappingError
from perron.omop.view import CodeSet, person_table

__all__ = [
    "Cdm",
    "CdmError",
    "CdmMapping",
    "CodeSet",
    "FhirError",
    "FhirImport",
    "MappingError",
    "Problem",
    "import_bundles",
    "person_table",
]
