"""The study route, end to end: ``perron demo --route``.

A researcher sends one data request to three hospitals (the lung cancer data, as
in the main demo). At each hospital the data manager, privacy officer, legal
counsel, IT administrator and security officer take their step of the route with
go / no-go decisions and documents; the southern hospital's privacy officer says
no-go at the DPIA, so that hospital is left out; the centre's security officer
sends the track back to installation once. Each approved hospital's approvers sign
its policy with their own keys, which the hospital's station trusts. The analyses
then run only within the policy: an agreed survival analysis runs, an analysis or
a column outside the agreement is refused by the stations themselves. A patient's
objection at the northern hospital changes the counts; the patient can ask which
studies used their data; the public register shows the study.

Everything runs as real processes on 127.0.0.1 (:class:`~perron.sandbox.localnet.LocalNetwork`).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from rich.console import Console

from perron.client.governance import Governance, register
from perron.client.session import Session
from perron.crypto.keys import KeyPair
from perron.demos.study import POLICY, lung_stations
from perron.governance.request import DataRequest
from perron.governance.roles import Role
from perron.governance.route import SIGNING_ROLES, Step
from perron.hub import admin
from perron.protocol.errors import OutsidePolicy
from perron.sandbox.localnet import RESEARCH_ORG, RESEARCHER, LocalNetwork

STUDY = "lung-route"
#: Station -> its holder organisation.
HOLDERS: Mapping[str, str] = {
    "hospital_north": "umc-north",
    "hospital_centre": "hospital-centre",
    "hospital_south": "hospital-south",
}
#: The people at every holder and the roles each holds (one person, two roles).
STAFF: Mapping[str, tuple[Role, ...]] = {
    "data": (Role.DATA_MANAGER, Role.IT_ADMIN),
    "privacy": (Role.PRIVACY_OFFICER,),
    "legal": (Role.LEGAL_COUNSEL,),
    "security": (Role.SECURITY_OFFICER,),
}
#: The holder that says no-go at the DPIA.
REFUSING = "hospital-south"
#: Patients of the northern hospital who objected before the study was granted.
OBJECTORS = 5
AGREED = ("time", "status", "age", "sex", "ph_ecog")


def with_ids(stations: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The lung data with a pseudonymous patient id per row (the holder's identifier)."""
    return {
        name: frame.assign(patient_id=[f"{name[9:12]}-{i:04d}" for i in range(len(frame))])
        for name, frame in stations.items()
    }


def data_request() -> DataRequest:
    """The request: three holders, survival analyses on five variables."""
    variables = [{"name": column} for column in AGREED]
    today = datetime.now(UTC).date()
    return DataRequest.parse(
        {
            "title": "Survival after lung cancer diagnosis across three hospitals",
            "lay_summary": "How long do patients live after a lung cancer diagnosis, and "
            "does that differ between men and women when age and fitness are considered?",
            "applicant": RESEARCHER,
            "organisation": RESEARCH_ORG,
            "purpose": "scientific_research",
            "purpose_description": "Observational survival study (cohort).",
            "question": {
                "population": "patients with advanced lung cancer",
                "intervention": "female sex",
                "comparison": "male sex",
                "outcome": "overall survival",
            },
            "holders": [
                {"holder": holder, "datasets": [{"name": "lung", "variables": variables}]}
                for holder in HOLDERS.values()
            ],
            "data_form": "anonymised",
            "analyses": [
                {"algorithm": "summary", "description": "cohort description"},
                {"algorithm": "quantile", "description": "quartiles in the description"},
                {"algorithm": "kaplan_meier", "description": "survival curves by sex"},
                {
                    "algorithm": "coxph",
                    "description": "hazard ratios adjusted for age and ECOG score",
                    "bounds": {"max_iterations": {"min": 1, "max": 100}},
                },
            ],
            "pets": ["federated_analysis"],
            "safeguards": "Only aggregates that pass each hospital's disclosure rules leave.",
            "period": {
                "start": (today - timedelta(days=1)).isoformat(),
                "end": (today + timedelta(days=365)).isoformat(),
            },
            "expected_outputs": "Kaplan-Meier curves and hazard ratios; one publication.",
            "ethics_declaration": "Reviewed by the medical ethics committee; no "
            "stigmatising use of the results.",
            "max_tasks": 200,
        }
    )


@dataclass
class People:
    """Every person's password and key pair; the keys never leave this process."""

    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    keys: dict[str, KeyPair] = field(default_factory=dict)

    def username(self, holder: str, desk: str) -> str:
        return f"{holder}-{desk}"

    def key(self, username: str) -> KeyPair:
        return self.keys.setdefault(username, KeyPair.generate())

    def signers_toml(self, holder: str, dataset: str = "lung") -> str:
        """The ``[governance]`` settings of a holder's station: whom it trusts to sign."""
        lines = [
            "[governance]",
            f'dataset_name = "{dataset}"',
            'id_column = "patient_id"',
            "require_policy = true",
            "",
            "[governance.signers]",
        ]
        for role in SIGNING_ROLES:
            desk = next(d for d, roles in STAFF.items() if role in roles)
            verify_key = self.key(self.username(holder, desk)).public().verify_key
            lines.append(f'{role.value} = "{verify_key}"')
        return "\n".join(lines)


@dataclass
class RouteOutcome:
    """What the scenario produced (the e2e test checks it)."""

    request_id: str
    tracks: dict[str, str]
    policies_signed: dict[str, list[str]]
    counts: dict[str, int]
    counts_after_objection: dict[str, int]
    hazard_ratios: dict[str, float]
    refusals: list[str]
    used_by: list[dict[str, Any]]
    register: list[dict[str, Any]]


def create_people(
    network: LocalNetwork, people: People, holders: Iterable[str] | None = None
) -> None:
    """The holders' staff at the hub, with their roles (as each organisation's admin would)."""
    with admin.admin_session(network.database_url) as db:
        for holder in HOLDERS.values() if holders is None else holders:
            for desk, roles in STAFF.items():
                name = people.username(holder, desk)
                admin.create_user(db, name, organisation=holder, password=people.password)
                admin.grant_roles(db, name, [role.value for role in roles])


def desk(network: LocalNetwork, people: People, username: str) -> Governance:
    """A person's desk, logged in, with their public key registered."""
    password = network.password if username == RESEARCHER else people.password
    client = Governance.login(network.url, username, password)
    if username != RESEARCHER:
        client.register_keys(people.key(username))
    return client


def walk_route(
    network: LocalNetwork,
    people: People,
    console: Console,
    *,
    request: DataRequest | None = None,
    study: str = STUDY,
    refusing: str | None = REFUSING,
    sent_back: str | None = "hospital-centre",
) -> tuple[str, dict[str, str]]:
    """Submit the request (by default the lung study's) and take every holder it names
    along the route, ``refusing`` saying no-go at the DPIA and ``sent_back`` sent back
    once from the risk assessment; return the tracks."""
    request = request or data_request()
    holders = request.holder_names
    applicant = desk(network, people, RESEARCHER)
    request_id = applicant.submit(study, request)
    console.print(f"request {request_id} sent to {', '.join(holders)}")
    staff = {
        (holder, d): desk(network, people, people.username(holder, d))
        for holder in holders
        for d in STAFF
    }
    lead_desk = {role: d for d, roles in STAFF.items() for role in roles}
    status: dict[str, str] = {}
    for holder in holders:
        applicant.decide(request_id, holder, Step.RESEARCH_QUESTION, "go", comment="PICO agreed")
        for step in (
            Step.DATASET_PREPARATION,
            Step.DPIA,
            Step.AGREEMENTS,
            Step.INSTALLATION,
            Step.RISK_ASSESSMENT,
        ):
            person = staff[(holder, lead_desk[step.lead])]
            if step is Step.DPIA and holder == refusing:
                track = person.decide(
                    request_id,
                    holder,
                    step,
                    "no_go",
                    comment="Small subgroups per institution: re-identification risk too high.",
                )
                console.print(f"  {holder}: [red]no-go at the DPIA[/red]; left out")
                break
            attachments = []
            if step is Step.DPIA:
                draft = person.draft(request_id, "dpia", holder=holder)
                attachments.append(person.attach(request_id, f"dpia-{holder}.md", draft))
            if step is Step.AGREEMENTS:
                sheet = person.draft(request_id, "term-sheet", holder=holder)
                attachments.append(person.attach(request_id, f"terms-{holder}.md", sheet))
            if step is Step.RISK_ASSESSMENT and holder == sent_back:
                person.send_back(request_id, holder, Step.INSTALLATION, comment="TLS missing")
                console.print(f"  {holder}: sent back to installation once")
                staff[(holder, lead_desk[Step.INSTALLATION.lead])].decide(
                    request_id, holder, Step.INSTALLATION, "go", comment="TLS configured"
                )
            track = person.decide(
                request_id, holder, step, "go", comment="ok", attachments=attachments
            )
        status[holder] = str(track["status"])
        if track["status"] == "approved":
            for role in SIGNING_ROLES:
                person = staff[(holder, lead_desk[role])]
                person.sign_policy(request_id, holder, role, people.key(person.me()["username"]))
            console.print(f"  {holder}: [green]approved[/green]; policy signed by every approver")
    for client in (applicant, *staff.values()):
        client.close()
    return request_id, status


def run_route(console: Console) -> RouteOutcome:
    """The whole scenario on a fresh local network; returns what happened."""
    from perron.station.objections import ObjectionRegister  # noqa: PLC0415
    from perron.station.transparency import used_by  # noqa: PLC0415

    people = People()
    stations = with_ids(lung_stations())
    network = LocalNetwork(
        stations,
        disclosure=POLICY,
        study=STUDY,
        organisations=HOLDERS,
        station_settings={s: people.signers_toml(h) for s, h in HOLDERS.items()},
        create_study=False,
    )
    with console.status("starting a hub and three station processes on 127.0.0.1 ..."):
        network.start()
    try:
        console.print(f"web interface while this demo runs: {network.url}/ui/")
        create_people(network, people)
        north = network.workdir / "stations" / "hospital_north"
        objectors = list(stations["hospital_north"]["patient_id"].iloc[:OBJECTORS])
        with ObjectionRegister(north / "state" / "objections.sqlite") as objections:
            for patient in objectors:
                objections.add(patient)
        console.print(f"{OBJECTORS} patients of hospital_north objected to secondary use")
        request_id, tracks = walk_route(network, people, console)
        session = network.connect(progress=False)
        counts = age_counts(session)
        cox = session.coxph("time", "status", ["age", "sex", "ph_ecog"], ties="efron")
        hazard_ratios = {str(name): float(math.exp(value)) for name, value in cox.params.items()}
        refusals = []
        for attempt in (
            lambda: session.glm("status ~ age", family="binomial"),
            lambda: session.summary(["wt_loss"]),
        ):
            try:
                attempt()
            except OutsidePolicy as error:
                refusals.append(str(error))
        with ObjectionRegister(north / "state" / "objections.sqlite") as objections:
            objections.remove(objectors[0])
        after = age_counts(session)
        session.close()
        patient = str(stations["hospital_north"]["patient_id"].iloc[OBJECTORS])
        answer = [use.to_wire() for use in used_by(north / "station.toml", patient)]
        with Governance.login(network.url, RESEARCHER, network.password) as applicant:
            applicant.report_results(request_id, "Women lived longer (HR 0.59).", ["doi:10/x"])
        policies = {
            h: [r.value for r in SIGNING_ROLES] for h, s in tracks.items() if s == "approved"
        }
        entries = register(network.url)
    finally:
        network.close()
    return RouteOutcome(
        request_id, tracks, policies, counts, after, hazard_ratios, refusals, answer, entries
    )


def age_counts(session: Session) -> dict[str, int]:
    """The number of patients with an age, per station (the first query of the study)."""
    table = session.summary(["age"]).table
    counts = table.xs("age", level=0)["count"]
    return {str(station): int(n) for station, n in counts.items() if station != "combined"}


def main(console: Console) -> RouteOutcome:
    """Run the scenario and tell what happened (``perron demo --route``)."""
    console.print("[bold]Perron demo: the study route[/bold] (governance as code)")
    outcome = run_route(console)
    console.print(f"tracks: {outcome.tracks}")
    console.print(f"patients with an age, per station: {outcome.counts}")
    console.print(
        f"after one of the {OBJECTORS} objectors withdrew: {outcome.counts_after_objection}"
    )
    ratios = ", ".join(f"{name} {ratio:.2f}" for name, ratio in outcome.hazard_ratios.items())
    console.print(f"Cox model within the policy (two holders), hazard ratios: {ratios}")
    for refusal in outcome.refusals:
        console.print(f"[yellow]refused by the stations[/yellow]: {refusal}")
    console.print(f"which studies used the data of one patient: {outcome.used_by}")
    for entry in outcome.register:
        console.print(
            f"public register: {entry['title']!r} ({entry['status']}), holders "
            f"{entry['holders']}, results due {entry.get('results_due')}"
        )
    return outcome
