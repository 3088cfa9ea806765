"""Roles people hold in their organisation: granted by a hub admin or an org admin.

The governance world (see ``conftest.gov``): stewards nora (umc-north), ivan
(insurer-east) and pia (pharmacy-west) hold every holder role; nick (umc-north) holds
none; root of elsewhere is the hub admin.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from perron.governance.roles import Role
from perron.hub import admin
from perron.hub.cli import app as hub_cli
from perron.protocol.errors import InputError
from tests.hub.world import World


def assert_error(answer, status: int, kind: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind


def grant(world: World, who: str, org: str, member: str, *roles: str):
    path = f"/api/organisations/{org}/members/{member}/roles"
    return world.call(who, "POST", path, json={"roles": list(roles)})


def test_me_shows_the_organisation_and_the_roles_held(gov: World):
    nora = gov.call("nora", "GET", "/api/me").json()
    root = gov.call("root", "GET", "/api/me").json()

    assert nora == {
        "username": "nora",
        "organisation": "umc-north",
        "role": "researcher",
        "roles": [
            "data_manager",
            "it_admin",
            "legal_counsel",
            "privacy_officer",
            "researcher",
            "security_officer",
        ],
    }
    assert (root["role"], root["roles"]) == ("admin", [])


def test_a_hub_admin_grants_roles_in_any_organisation_and_the_grant_replaces_the_set(
    gov: World,
):
    answer = grant(gov, "root", "umc-north", "nick", "privacy_officer", "org_admin")
    again = grant(gov, "root", "umc-north", "nick", "data_manager")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "username": "nick",
        "organisation": "umc-north",
        "roles": ["org_admin", "privacy_officer", "researcher"],
    }
    assert again.json()["roles"] == ["data_manager", "researcher"]
    assert gov.call("nick", "GET", "/api/me").json()["roles"] == ["data_manager", "researcher"]


def test_an_org_admin_grants_roles_in_their_own_organisation_only(gov: World):
    gov.grant("nick", Role.ORG_ADMIN)

    own = grant(gov, "nick", "umc-north", "nora", "data_manager")
    other = grant(gov, "nick", "insurer-east", "ivan", "data_manager")

    assert own.status_code == 200, own.text
    assert own.json()["roles"] == ["data_manager", "researcher"]
    assert_error(other, 403, "NotAuthorized")
    assert "data_manager" in gov.call("ivan", "GET", "/api/me").json()["roles"]
    assert len(gov.call("ivan", "GET", "/api/me").json()["roles"]) == 6


def test_roles_are_not_granted_by_people_without_the_right_nor_to_strangers(gov: World):
    # nora holds every holder role but not org_admin.
    assert_error(grant(gov, "nora", "umc-north", "nick", "data_manager"), 403, "NotAuthorized")
    assert_error(grant(gov, "root", "umc-north", "ivan", "data_manager"), 404, "NotFound")
    assert_error(grant(gov, "root", "nowhere", "nick", "data_manager"), 404, "NotFound")
    assert_error(grant(gov, "root", "umc-north", "nick", "overlord"), 422, "InputError")
    assert_error(grant(gov, "st-north", "umc-north", "nick", "data_manager"), 403, "NotAuthorized")
    assert gov.call("nick", "GET", "/api/me").json()["roles"] == ["researcher"]


def test_grant_roles_from_python_and_the_command_line(gov: World, tmp_path, monkeypatch):
    with admin.admin_session(gov.database_url) as session:
        held = admin.grant_roles(session, "nick", ["legal_counsel"])
        with pytest.raises(InputError, match="unknown role"):
            admin.grant_roles(session, "nick", ["overlord"])
    monkeypatch.delenv("PERRON_DATABASE_URL", raising=False)
    config = tmp_path / "hub.toml"
    config.write_text(f'database_url = "{gov.database_url}"\n')
    runner = CliRunner()

    granted = runner.invoke(
        hub_cli, ["admin", "grant-roles", "root", "it_admin", "org_admin", "--config", str(config)]
    )
    cleared = runner.invoke(hub_cli, ["admin", "grant-roles", "nick", "--config", str(config)])
    unknown = runner.invoke(hub_cli, ["admin", "grant-roles", "nobody", "--config", str(config)])

    assert held == {Role.LEGAL_COUNSEL, Role.RESEARCHER}
    assert granted.exit_code == 0, granted.output
    assert "root holds it_admin, org_admin" in granted.stdout
    assert cleared.exit_code == 0, cleared.output
    assert gov.call("nick", "GET", "/api/me").json()["roles"] == ["researcher"]
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output
