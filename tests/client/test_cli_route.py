"""``perron request ...`` and ``perron study ...`` against a real hub process.

One holder, every step of its route taken through the command line by the person
holding the step's role, the policy signed with keys made by ``perron request keys``
and exported as ODRL, results reported, and the public register read without login.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from perron.__main__ import app
from perron.governance.request import EXAMPLE
from perron.governance.roles import Role
from perron.governance.route import SIGNING_ROLES, Step
from perron.hub import admin
from perron.sandbox.localnet import RESEARCH_ORG, RESEARCHER, LocalNetwork

HOLDER = "umc-north"
PASSWORD = "a long enough password"
#: One person per holder-side role, named after it.
STAFF = {role: f"north-{role.value}" for role in SIGNING_ROLES}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    frame = pd.DataFrame({"age": range(30), "time": range(30), "status": [0, 1] * 15})
    with LocalNetwork(
        {"north": frame},
        organisations={"north": HOLDER},
        create_study=False,
        workdir=tmp_path_factory.mktemp("net"),
    ) as net:
        with admin.admin_session(net.database_url) as db:
            for role, name in STAFF.items():
                admin.create_user(db, name, organisation=HOLDER, password=PASSWORD)
                admin.grant_roles(db, name, [role])
        yield net


def _token(network: LocalNetwork, username: str) -> str:
    password = network.password if username == RESEARCHER else PASSWORD
    answer = httpx.post(
        f"{network.url}/api/auth/token", json={"username": username, "password": password}
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def _run(network: LocalNetwork, username: str | None, *args: str) -> str:
    env = {"PERRON_HUB_URL": network.url}
    if username is not None:
        env["PERRON_TOKEN"] = _token(network, username)
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_whole_route_through_the_command_line(network: LocalNetwork, tmp_path: Path):
    request = json.loads(_run(network, None, "request", "example"))
    request |= {"applicant": RESEARCHER, "organisation": RESEARCH_ORG}
    request["holders"] = [part for part in request["holders"] if part["holder"] == HOLDER]
    (tmp_path / "request.json").write_text(json.dumps(request))

    request_id = _run(
        network, RESEARCHER, "request", "submit", str(tmp_path / "request.json"), "--study", "s1"
    ).strip()
    _run(network, RESEARCHER, "request", "decide", request_id, HOLDER, "research_question", "go")

    for step in (
        Step.DATASET_PREPARATION,
        Step.DPIA,
        Step.AGREEMENTS,
        Step.INSTALLATION,
        Step.RISK_ASSESSMENT,
    ):
        person = STAFF[step.lead]
        document = tmp_path / f"{step.value}.md"
        _run(network, person, "request", "draft", request_id, "dpia", "--out", str(document))
        document.write_text(document.read_text() + f"\nFinal, for {step.value}, by {person}.\n")
        track = json.loads(
            _run(
                network,
                person,
                "request",
                "decide",
                request_id,
                HOLDER,
                step.value,
                "go",
                "--attach",
                str(document),
            )
        )
        assert track["decisions"][step.value]["attachments"][0]["name"] == document.name
    assert track["status"] == "approved"

    for role, person in STAFF.items():
        keys = tmp_path / person
        _run(network, person, "request", "keys", "--keys", str(keys))
        signed = _run(
            network,
            person,
            "request",
            "sign-policy",
            request_id,
            HOLDER,
            "--role",
            role.value,
            "--keys",
            str(keys),
        )
    assert ast.literal_eval(signed.removeprefix("signed by ")) == sorted(
        role.value for role in SIGNING_ROLES
    )
    odrl = json.loads(_run(network, RESEARCHER, "request", "policy", request_id, HOLDER, "--odrl"))
    assert odrl["@type"] == "Agreement"

    _run(
        network,
        RESEARCHER,
        "request",
        "results",
        request_id,
        "--summary",
        "HR 0.6",
        "--publication",
        "doi:10/x",
    )
    (entry,) = json.loads(_run(network, None, "study", "register"))
    assert entry["title"] == EXAMPLE["title"]
    assert entry["results"]


def test_a_refused_step_prints_the_reason_and_exits_1(network: LocalNetwork, tmp_path: Path):
    request = {**EXAMPLE, "applicant": RESEARCHER, "organisation": RESEARCH_ORG}
    request["holders"] = [part for part in EXAMPLE["holders"] if part["holder"] == HOLDER]
    (tmp_path / "request.json").write_text(json.dumps(request))
    request_id = _run(
        network, RESEARCHER, "request", "submit", str(tmp_path / "request.json"), "--study", "s2"
    ).strip()

    token = _token(network, STAFF[Role.PRIVACY_OFFICER])
    env = {"PERRON_HUB_URL": network.url, "PERRON_TOKEN": token}
    result = CliRunner().invoke(
        app, ["request", "decide", request_id, HOLDER, "dpia", "go"], env=env
    )

    assert result.exit_code == 1
    assert "RouteViolation" in result.output
    assert "research_question" in result.output
