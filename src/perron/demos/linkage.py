"""Linkage before a study: ``perron demo --linkage``.

The synthetic three-holder scenario (:func:`perron.linkage.synthetic.scenario`): a
hospital, an insurer and a pharmacy share part of their patients, with typing
errors, missing fields and some records without a BSN. The demo

1. checks every BSN with the eleven-test and turns the valid ones into study
   pseudonyms (the holder's source key, then the TTP's per-study key);
2. shows the overlap report before any paperwork: private set intersection on the
   pseudonyms between the three stations, only counts out;
2b. counts the hospital's admission reason against the insurer's cost band on the
   linked patients without pooling them (a secure product with the pharmacy as
   helper, :mod:`perron.algorithms.linkage.linked_crosstab`);
3. links hospital and insurer records by hardened Bloom-filter encodings of name,
   date of birth, sex and postcode, and scores the links against the known truth,
   including the patients without a BSN that only this step can find.

It runs in one process (``perron.simulate``);
``tests/algorithms/feasibility/test_overlap_network.py`` runs the overlap between real
station processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from rich.console import Console

import perron
from perron.algorithms.feasibility.overlap import OverlapReport
from perron.algorithms.linkage.linked_crosstab import LinkedCrosstabResult
from perron.linkage import bloom
from perron.linkage.pseudonym import PseudonymKey, local_ttp, pseudonymise_frame
from perron.linkage.synthetic import Holder, Scenario, scenario

STUDY = "linkage-demo"


@dataclass(frozen=True)
class LinkageOutcome:
    invalid_bsns: dict[str, int]
    report: OverlapReport
    crosstab: LinkedCrosstabResult
    bloom: bloom.LinkageQuality
    found_without_bsn: int
    true_without_bsn: int


def station_table(
    holder: Holder, source: PseudonymKey, ttp: PseudonymKey
) -> tuple[pd.DataFrame, int]:
    """One row per record: its study pseudonym (if it has a valid BSN) and a summary of
    its events; the BSN never leaves this function. Returns the table and the number of
    records whose BSN failed the checks."""
    people = holder.people
    with_bsn = people[people["bsn"].notna()]
    done = pseudonymise_frame(
        with_bsn[["record_id", "bsn"]], "bsn", source, local_ttp(ttp, STUDY), invalid="drop"
    )
    events = holder.events.groupby("record_id").size().rename("events")
    table = people[["record_id"]].merge(done.frame, on="record_id", how="left")
    table = table.merge(events, left_on="record_id", right_index=True, how="left")
    for name, values in _categories(holder).items():
        table = table.merge(values.rename(name), left_on="record_id", right_index=True, how="left")
    return table.drop(columns="record_id"), len(done.invalid)


#: Yearly care cost bands (euro) of the insurer's category.
COST_BANDS = (0.0, 2_500.0, 10_000.0, float("inf"))


def _categories(holder: Holder) -> dict[str, pd.Series]:
    """One categorical summary per record for the linked crosstab: the hospital's
    admission reason (cardiovascular or other), the insurer's mean yearly cost band."""
    events = holder.events
    if holder.name == "hospital":
        cardiac = events.groupby("record_id")["icd10"].agg(lambda c: c.str.startswith("I").any())
        return {"admission": cardiac.map({True: "cardiovascular", False: "other"})}
    if holder.name == "insurer":
        yearly = events.groupby(["record_id", "year"])["cost"].sum().groupby("record_id").mean()
        bands = pd.cut(yearly, COST_BANDS, labels=["< 2.5k", "2.5k-10k", "> 10k"], right=False)
        return {"cost_band": bands.astype(str)}
    return {}


def run_linkage(data: Scenario | None = None) -> LinkageOutcome:
    """The whole demo; returns what it measured."""
    data = data or scenario(seed=0, size=500)
    source = PseudonymKey.generate(version="v1", owner="holders")
    ttp = PseudonymKey.generate(version="v1", owner="TTP")
    tables, invalid = {}, {}
    for name, holder in data.holders().items():
        tables[name], invalid[name] = station_table(holder, source, ttp)
    session = perron.simulate(tables, link_column="pseudonym")
    report = session.overlap(["events"])
    crosstab = session.linked_crosstab(
        ("hospital", "admission"), ("insurer", "cost_band"), helper="pharmacy"
    )

    schema = bloom.LinkageSchema()
    secret = PseudonymKey.generate(version="v1", owner="holders").secret
    hospital, insurer = data.hospital.people, data.insurer.people
    links = bloom.match(
        bloom.encode(hospital, schema, secret),
        bloom.encode(insurer, schema, secret),
        schema.recommended_threshold,
    )
    truth = data.truth.set_index(["holder", "record_id"])["person_id"]
    ids_a = [truth[("hospital", r)] for r in hospital["record_id"]]
    ids_b = [truth[("insurer", r)] for r in insurer["record_id"]]
    scored = bloom.quality(links, ids_a, ids_b, schema.recommended_threshold)
    lacks_a = hospital["bsn"].isna().to_numpy()
    lacks_b = dict(zip(ids_b, insurer["bsn"].isna().to_numpy(), strict=True))
    # Shared patients whose record lacks a BSN on at least one side: no pseudonym links them.
    hidden = {
        person
        for person, lacks in zip(ids_a, lacks_a, strict=True)
        if person in lacks_b and (lacks or lacks_b[person])
    }
    found = sum(1 for i, j, _ in links if ids_a[i] == ids_b[j] and ids_a[i] in hidden)
    true_missing = len(hidden)
    return LinkageOutcome(invalid, report, crosstab, scored, found, true_missing)


def main(console: Console) -> LinkageOutcome:
    """Run and tell (``perron demo --linkage``)."""
    console.print("[bold]Perron demo: linkage before a study[/bold] (synthetic Dutch data)")
    outcome = run_linkage()
    console.print(f"BSNs that failed the eleven-test or were malformed: {outcome.invalid_bsns}")
    console.print("Overlap report (PSI on study pseudonyms; counts only):")
    console.print(str(outcome.report))
    console.print(
        "Linked crosstab without pooling (secure product; the pharmacy deals the "
        "randomness and applies the holders' rules):"
    )
    console.print(str(outcome.crosstab))
    q = outcome.bloom
    console.print(
        f"Bloom-filter linkage hospital x insurer: precision {q.precision:.3f}, "
        f"recall {q.recall:.3f}; it found {outcome.found_without_bsn} of "
        f"{outcome.true_without_bsn} shared patients who lack a BSN at one side."
    )
    return outcome
