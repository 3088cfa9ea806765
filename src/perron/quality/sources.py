"""Read the CDM a quality report checks: a mapping, FHIR bundles, or CDM tables as they are.

- :func:`read_cdm` with ``mapping``: the holder's TOML mapping applied to its sources
  (:func:`perron.omop.mapping.apply`; it refuses data that do not fit the CDM and
  names every problem);
- with ``fhir``: FHIR R4 bundles (:func:`perron.omop.fhir.import_bundles`);
- with ``tables``: a folder with one ``<table>.csv`` or ``<table>.parquet`` per CDM
  table, read as is (CSV as text, empty cells missing), so that data the CDM
  validation would reject are still reported on, check by check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from perron.omop.cdm import Cdm, read_table_files
from perron.omop.fhir import import_bundles
from perron.omop.mapping import apply
from perron.omop.mapping import load as load_mapping
from perron.omop.schema import SCHEMA
from perron.protocol.errors import InputError

__all__ = ["read_cdm", "read_tables"]


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every ``<table>.csv`` / ``<table>.parquet`` in ``folder``, unconverted.

    Files that are not named after a CDM table are read too, so the report can name
    them (as not checked).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of CDM tables (<table>.csv or .parquet).")
    tables = read_table_files(folder)
    if not any(name in SCHEMA for name in tables):
        raise InputError(
            f"{folder} holds no CDM table; name the files after the tables "
            f"({', '.join(SCHEMA)}), e.g. person.csv."
        )
    return tables


def read_cdm(
    *,
    mapping: Path | None = None,
    fhir: Sequence[Path] = (),
    tables: Path | None = None,
) -> Cdm | dict[str, pd.DataFrame]:
    """The holder's CDM from exactly one of ``mapping``, ``fhir`` or ``tables``.

    Raises
    ------
    InputError
        None or several given; or (``MappingError``, ``FhirError``) the data do not
        fit the CDM: the message names every problem; check the data with
        ``tables`` (an export of the CDM tables) to get a report anyway.
    """
    given = [
        name for name, value in (("mapping", mapping), ("fhir", fhir), ("tables", tables)) if value
    ]
    if len(given) != 1:
        raise InputError(
            "give the CDM to check as one of a mapping file (--cdm-mapping), FHIR bundles "
            "(--fhir) or a folder of CDM tables (--cdm-tables), or set it in [quality] of "
            f"station.toml; got {given or 'none'}."
        )
    if mapping is not None:
        return apply(load_mapping(mapping))
    if tables is not None:
        return read_tables(tables)
    return import_bundles(list(fhir)).cdm
