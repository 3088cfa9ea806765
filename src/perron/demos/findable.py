"""Findable data of known quality: ``perron demo --findable``.

The synthetic hospital, insurer and pharmacy (:mod:`perron.omop.synthetic`, the
linkage demo's population) map their data to OMOP CDM v5.4 and serve one row per
person (:func:`perron.omop.view.person_table`) at three station processes behind a
hub on 127.0.0.1. Then

1. each station's data manager checks the quality of its CDM (``perron station
   quality``), describes its dataset and publishes it to the hub's catalogue
   (HealthDCAT-AP; counts rounded by the holder's rules; the quality report's
   summary linked in), and the researcher searches the catalogue;
2. the researcher asks a feasibility count (Beacon v2: counts rounded as each holder
   decides) of women aged 60 or over with heart failure, and then a near copy of
   that cohort, which the stations refuse (the differencing guard);
3. the researcher asks every station's quality report (OHDSI DQD-style checks):
   the checks of the analysis dataset and of the CDM, only aggregate,
   disclosure-checked numbers.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console

from perron.algorithms.feasibility.counts import FeasibilityResult
from perron.omop.cdm import Cdm
from perron.omop.synthetic import demo as omop_demo
from perron.omop.view import person_table
from perron.protocol.errors import DisclosureBlocked
from perron.protocol.http import check
from perron.quality.run import run_checks
from perron.quality.store import save
from perron.sandbox.localnet import LocalNetwork
from perron.station.config import StationConfig
from perron.station.datasets import DatasetsFile, publish

HOLDERS = {"hospital": "umc-demo", "insurer": "insurer-demo", "pharmacy": "pharmacy-demo"}
INDEX_DATE = "2024-01-01"
CONDITIONS = {"heart_failure": "ICD10:I50*", "myocardial_infarction": "ICD10:I21*"}
DRUGS = {"statin": "ATC:C10AA*", "loop_diuretic": "ATC:C03C*"}
COHORT: list[dict[str, Any]] = [
    {"column": "sex", "in": ["female"]},
    {"column": "age", "between": [60, 110]},
    {"column": "heart_failure", "in": [True]},
]
NEAR_COPY: list[dict[str, Any]] = [
    {"column": "sex", "in": ["female"]},
    {"column": "age", "between": [61, 110]},
    {"column": "heart_failure", "in": [True]},
]
#: Per holder: dataset name, title, keywords and coding systems of its description.
_DESCRIPTIONS = {
    "hospital": (
        "admissions",
        "Cardiology and oncology admissions",
        ["heart failure", "myocardial infarction", "oncology"],
        ["ICD-10", "SNOMED CT"],
    ),
    "insurer": ("claims", "Health insurance claims", ["care use", "costs"], ["ICD-10"]),
    "pharmacy": (
        "dispensings",
        "Community pharmacy dispensings",
        ["statins", "heart failure medication"],
        ["ATC"],
    ),
}


@dataclass(frozen=True)
class FindableOutcome:
    found: list[dict[str, Any]]
    feasibility: FeasibilityResult
    near_copy_refused: str | None
    quality: Any


def station_data(size: int = 300, seed: int = 0) -> tuple[dict[str, pd.DataFrame], dict[str, Cdm]]:
    """Per holder: one row per person (the analysis dataset), and its OMOP CDM."""
    data = omop_demo(seed=seed, size=size)
    tables, cdms = {}, {}
    for holder in HOLDERS:
        cdms[holder] = data.cdm(holder)
        table = person_table(cdms[holder], INDEX_DATE, conditions=CONDITIONS, drugs=DRUGS)
        tables[holder] = table.drop(columns=["person_id"])
    return tables, cdms


def _check_quality(network: LocalNetwork, name: str, cdm: Cdm) -> None:
    """What ``perron station quality`` does: the holder checks its CDM, keeps the exact
    report in the station's state folder and releases it under its own rules."""
    config = StationConfig.load(network.workdir / "stations" / name / "station.toml")
    report = run_checks(cdm, dataset=config.dataset_name)
    save(report, config.state_dir, config.disclosure)


def _describe(network: LocalNetwork, name: str) -> None:
    config_path = network.workdir / "stations" / name / "station.toml"
    config = StationConfig.load(config_path)
    _, title, keywords, codes = _DESCRIPTIONS[name]
    fields: dict[str, Any] = {
        "title": title,
        "description": f"Synthetic {name} data in OMOP CDM v5.4, one row per person.",
        "keywords": keywords,
        "coding_systems": codes,
        "themes": ["HEAL"],
        "contact": {"name": "Data desk", "email": f"data@{HOLDERS[name]}.example"},
    }
    datasets = DatasetsFile.beside(config_path)
    datasets.add(config.dataset_name, fields, config.organisation, replace=True)
    publish(config, datasets)


def run_findable(console: Console, size: int = 300) -> FindableOutcome:
    """The whole demo; returns what it showed."""
    tables, cdms = station_data(size)
    settings = {
        name: f'[governance]\ndataset_name = "{_DESCRIPTIONS[name][0]}"\n'
        'id_column = "person_source_value"\n'
        for name in tables
    }
    with tempfile.TemporaryDirectory(prefix="perron-findable-") as folder:
        network = LocalNetwork(
            tables,
            workdir=Path(folder),
            organisations=HOLDERS,
            station_settings=settings,
        )
        with network:
            for name in tables:
                _check_quality(network, name, cdms[name])
                _describe(network, name)
            response = httpx.get(f"{network.url}/api/catalogue", params={"text": "heart"})
            check(response)
            found: list[dict[str, Any]] = response.json()
            console.print("[bold]1. The catalogue[/bold]: datasets about 'heart'")
            for entry in found:
                meta = entry["metadata"]
                records = meta.get("records") or {}
                console.print(
                    f"  {entry['holder']}/{entry['name']}: {meta['title']} "
                    f"(records ~{records.get('value')}; keywords: "
                    f"{', '.join(meta.get('keywords', []))})"
                )
                quality = meta.get("quality_report") or {}
                console.print(f"    {quality.get('summary', 'no quality report')}")
            session = network.connect()
            try:
                console.print(
                    "[bold]2. A feasibility count[/bold]: women aged 60+ with heart failure"
                )
                feasibility = session.feasibility(COHORT)
                console.print(str(feasibility))
                refused: str | None = None
                try:
                    session.feasibility(NEAR_COPY)
                except DisclosureBlocked as error:
                    refused = str(error)
                console.print(f"  the same cohort from age 61 instead of 60: {refused}")
                console.print("[bold]3. Data quality[/bold]: every station's report")
                quality = session.quality()
                console.print(str(quality))
            finally:
                session.close()
    return FindableOutcome(found, feasibility, refused, quality)


def main(console: Console) -> FindableOutcome:
    """``perron demo --findable``."""
    console.print(
        "[bold]Perron demo: findable data of known quality[/bold] (synthetic OMOP data, "
        "a hub and three station processes)"
    )
    return run_findable(console)
