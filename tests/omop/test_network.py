"""Feasibility counts at station processes whose dataset is an OMOP CDM (``reader =
"omop"``): one from a mapping of flat tables, one from FHIR R4 bundles; a cohort on a
SNOMED CT code counts its descendants through the hierarchy named in station.toml."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
from typer.testing import CliRunner

from perron.__main__ import app
from perron.client.connect import hub_client, log_in
from perron.omop.cdm import Cdm
from perron.omop.dataset import read_cdm
from perron.omop.synthetic import SNOMED_FRAGMENT, demo
from perron.privacy.policy import DisclosurePolicy
from perron.sandbox.localnet import RESEARCHER, LocalNetwork

INDEX = date(2025, 1, 1)
HEART_DISEASE = "56265001"
COHORT = [
    {"column": "heart_disease", "in": [True]},
    {"column": "age", "between": [40, 120]},
]
STATION = f"""
[omop]
index_date = {INDEX.isoformat()}
[omop.conditions]
heart_disease = "SNOMED:{HEART_DISEASE}"
[omop.hierarchies]
SNOMED = "../../snomed_isa.csv"
"""


def _descendants(code: str) -> set[str]:
    found, queue = {code}, [code]
    while queue:
        for child in SNOMED_FRAGMENT.get(queue.pop(), ()):
            found.add(child)
            queue.append(child)
    return found


def expected(cdm: Cdm, codes: set[str]) -> int:
    """Persons aged 40+ at the index date with a condition coded in ``codes`` before it,
    counted on the CDM directly."""
    events = cdm.condition_occurrence
    tokens = events["condition_source_codes"].str.split("|")
    coded = tokens.map(lambda found: any(t in {f"SNOMED:{c}" for c in codes} for t in found))
    before = events["condition_start_date"] <= pd.Timestamp(INDEX)
    people = set(events.loc[coded & before, "person_id"])
    person = cdm.person
    month = person["month_of_birth"].fillna(0)  # unknown: the year difference alone
    day = person["day_of_birth"].fillna(1)
    later = (month > INDEX.month) | ((month == INDEX.month) & (day > INDEX.day))
    age = INDEX.year - person["year_of_birth"] - later.astype(int)
    return int((person["person_id"].isin(people) & (age >= 40)).sum())


def test_a_cohort_is_counted_at_omop_configured_station_processes(tmp_path):
    mapping = demo(seed=1, size=150).write(tmp_path / "north")["hospital"]
    bundles = demo(seed=2, size=120).write(tmp_path / "south")["hospital"].parent / "fhir"
    rows = [(p, c) for p, children in SNOMED_FRAGMENT.items() for c in children]
    pd.DataFrame(rows, columns=["parent", "child"]).to_csv(tmp_path / "snomed_isa.csv", index=False)
    cdms = {"north": read_cdm(mapping), "south": read_cdm(bundles)}
    datasets = {
        "north": f'dataset = "{mapping}"\nreader = "omop"',
        "south": f'dataset = "{bundles}"\nreader = "omop"',
    }

    with LocalNetwork(
        dict.fromkeys(cdms, pd.DataFrame()),
        workdir=tmp_path,
        disclosure=DisclosurePolicy(count_precision="exact"),
        station_datasets=datasets,
        station_settings=dict.fromkeys(cdms, STATION),
    ) as network:
        counted = network.connect().feasibility(COHORT)
        with hub_client(network.url) as client:
            token = log_in(client, RESEARCHER, network.password)
        shown = CliRunner().invoke(
            app,
            [
                *("feasibility", "--study", network.study, "--hub", network.url),
                *("--token", token, "--cohort", json.dumps(COHORT)),
            ],
        )

    tree = _descendants(HEART_DISEASE)
    for name, cdm in cdms.items():
        assert counted.counts[name].precision == "exact"
        assert counted.counts[name].value == expected(cdm, tree)
        # Without the hierarchy the code itself matches (almost) no one: the
        # descendants are what is counted.
        assert expected(cdm, {HEART_DISEASE}) < expected(cdm, tree)
    assert shown.exit_code == 0, shown.output
    assert str(counted.counts["north"].value) in shown.output
