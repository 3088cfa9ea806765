"""A differentially private count between real station processes, under a study budget.

A hub and two stations run as OS processes. The study's data request asks for the
``dp_release`` analysis with a privacy budget of epsilon = 1 per holder; each holder
approves it and its approvers sign the policy with keys its station trusts. The
researcher's noisy counts spend the budget at both stations, the answers show
what is left, the query that would exceed it is refused by the stations naming
the rule, and every station's audit log records the budget after each task.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from perron.crypto.audit import verify_audit_log
from perron.demos.route import STAFF, People, create_people, desk
from perron.governance.request import DataRequest
from perron.governance.route import SIGNING_ROLES, Step
from perron.protocol.errors import OutsidePolicy
from perron.sandbox.localnet import RESEARCH_ORG, RESEARCHER, LocalNetwork

STUDY = "dp-study"
#: Station -> its holder organisation.
HOLDERS = {"north": "org-north", "south": "org-south"}


def _request() -> DataRequest:
    today = datetime.now(UTC).date()
    return DataRequest.parse(
        {
            "title": "Age at first admission, released with differential privacy",
            "lay_summary": "How old are patients at their first admission, counted with "
            "noise so that no single patient's presence can be told?",
            "applicant": RESEARCHER,
            "organisation": RESEARCH_ORG,
            "purpose": "scientific_research",
            "purpose_description": "Descriptive statistics under differential privacy.",
            "question": {
                "population": "admitted patients",
                "intervention": "none",
                "comparison": "none",
                "outcome": "age",
            },
            "holders": [
                {"holder": holder, "datasets": [{"name": "lung", "variables": [{"name": "age"}]}]}
                for holder in HOLDERS.values()
            ],
            "analyses": [
                {
                    "algorithm": "dp_release",
                    "description": "noisy counts, sums and means (OpenDP)",
                    "bounds": {"epsilon": {"max": 0.6}},
                }
            ],
            "safeguards": "Only noisy aggregates leave; a privacy budget per holder.",
            "period": {
                "start": (today - timedelta(days=1)).isoformat(),
                "end": (today + timedelta(days=30)).isoformat(),
            },
            "expected_outputs": "Counts and mean age.",
            "ethics_declaration": "Reviewed by the ethics committee.",
            "privacy_budget": 1.0,
        }
    )


def _approve_and_sign(network: LocalNetwork, people: People) -> None:
    """Every holder's staff take the route with go decisions and sign the policy."""
    create_people(network, people, HOLDERS.values())
    applicant = desk(network, people, RESEARCHER)
    request_id = applicant.submit(STUDY, _request())
    lead_desk = {role: d for d, roles in STAFF.items() for role in roles}
    for holder in HOLDERS.values():
        applicant.decide(request_id, holder, Step.RESEARCH_QUESTION, "go", comment="agreed")
        staff = {d: desk(network, people, people.username(holder, d)) for d in STAFF}
        for step in (
            Step.DATASET_PREPARATION,
            Step.DPIA,
            Step.AGREEMENTS,
            Step.INSTALLATION,
            Step.RISK_ASSESSMENT,
        ):
            track = staff[lead_desk[step.lead]].decide(request_id, holder, step, "go")
        assert track["status"] == "approved"
        for role in SIGNING_ROLES:
            person = staff[lead_desk[role]]
            person.sign_policy(request_id, holder, role, people.key(person.me()["username"]))
        for client in staff.values():
            client.close()
    applicant.close()


def test_a_noisy_count_spends_the_budget_at_each_station_until_it_is_refused(tmp_path):
    rng = np.random.default_rng(5)
    frames = {
        name: pd.DataFrame(
            {
                "patient_id": [f"{name}-{i:04d}" for i in range(n)],
                "age": rng.normal(65, 10, n).round(),
            }
        )
        for name, n in (("north", 300), ("south", 200))
    }
    people = People()
    network = LocalNetwork(
        frames,
        workdir=tmp_path,
        study=STUDY,
        organisations=HOLDERS,
        station_settings={s: people.signers_toml(h) for s, h in HOLDERS.items()},
        create_study=False,
    )
    with network:
        _approve_and_sign(network, people)
        session = network.connect()
        first = session.dp_count("age", epsilon=0.6)
        with pytest.raises(OutsidePolicy, match="policy rule 'budget'") as exhausted:
            session.dp_count("age", epsilon=0.6)  # 0.6 spent: 0.6 more would exceed 1.0
        with pytest.raises(OutsidePolicy, match="policy rule 'parameter'"):
            session.dp_count("age", epsilon=0.7)  # above the holders' cap per query
        last = session.dp_mean("age", (0, 120), epsilon=0.4)  # what is left
        audits = dict(zip(HOLDERS, network.audit_logs(), strict=True))
        entries = {
            name: [json.loads(line)["entry"] for line in path.read_text().splitlines()]
            for name, path in audits.items()
        }
        chained = {name: verify_audit_log(path) for name, path in audits.items()}

    assert abs(first.value - 500) <= 20 * first.std_error[0]
    assert {name: scales[0] for name, scales in first.scales.items()} == pytest.approx(
        {"north": 1 / 0.6, "south": 1 / 0.6}
    )
    for station in HOLDERS:
        assert first.budget[station] == pytest.approx(
            {"epsilon": 1.0, "spent": 0.6, "remaining": 0.4}
        )
        assert last.budget[station] == pytest.approx(
            {"epsilon": 1.0, "spent": 1.0, "remaining": 0.0}
        )
        assert [e["rule"] for e in entries[station]] == [None, "budget", "parameter", None]
        spent = [e["budget"]["spent"] for e in entries[station]]
        assert spent == pytest.approx([0.6, 0.6, 0.6, 1.0])
        assert entries[station][0]["params"]["epsilon"] == 0.6
        assert chained[station] == 4
    assert "spent 0.6" in str(exhausted.value)
    ages = pd.concat([frame["age"] for frame in frames.values()]).clip(0, 120)
    assert abs(last.value - ages.mean()) <= 20 * last.std_error[0]
