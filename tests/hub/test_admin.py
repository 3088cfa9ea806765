"""Administration through ``perron.hub.admin`` and the ``perron hub`` command line."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from perron.hub import admin
from perron.hub.app import create_app
from perron.hub.cli import app as hub_cli
from perron.hub.errors import Conflict, NotFound
from perron.hub.settings import Settings
from perron.protocol.errors import InputError
from tests.hub.world import CHEAP_HASHER


def test_admin_functions_refuse_duplicates_unknown_names_and_bad_input(database_url: str):
    with admin.admin_session(database_url) as session:
        admin.create_org(session, "A")
        admin.create_user(
            session, "ada", organisation="A", password="long enough", hasher=CHEAP_HASHER
        )

        with pytest.raises(Conflict):
            admin.create_org(session, "A")
        with pytest.raises(Conflict):
            admin.create_user(session, "ada", organisation="A", password="long enough")
        with pytest.raises(NotFound):
            admin.create_station(session, "s1", organisation="Z")
        with pytest.raises(NotFound):
            admin.create_study(session, "lung", organisations=["A", "Z"])
        with pytest.raises(NotFound):
            admin.add_user_to_study(session, "nope", "ada")
        with pytest.raises(InputError, match="not valid"):
            admin.create_org(session, "bad name; drop table")
        with pytest.raises(InputError, match="role"):
            admin.create_user(session, "bo", organisation="A", password="long enough", role="root")
        with pytest.raises(InputError, match="at least"):
            admin.create_user(session, "bo", organisation="A", password="short")
        with pytest.raises(InputError, match="at least one organisation"):
            admin.create_study(session, "lung", organisations=[])

        admin.create_study(session, "lung", organisations=["A"])
        admin.add_user_to_study(session, "lung", "ada")
        admin.add_user_to_study(session, "lung", "ada")  # idempotent


def test_the_command_line_sets_up_a_study_the_api_then_serves(
    database_url: str, tmp_path, monkeypatch
):
    monkeypatch.delenv("PERRON_DATABASE_URL", raising=False)
    config = tmp_path / "hub.toml"
    config.write_text(f'database_url = "{database_url}"\n')
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(hub_cli, ["admin", *args, "--config", str(config)])
        assert result.exit_code == 0, result.output
        return result.stdout

    run("create-org", "A")
    run("create-org", "B")
    run("create-user", "ada", "--org", "A", "--password", "correct horse battery")
    token = run("create-station", "s1", "--org", "B").strip().splitlines()[-1]
    run("create-study", "lung", "--org", "A", "--org", "B")
    run("add-user", "lung", "ada")
    again = runner.invoke(hub_cli, ["admin", "create-org", "A", "--config", str(config)])

    assert again.exit_code == 1
    assert "exists already" in again.output
    assert token.startswith("ps_")
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        studies = client.get("/api/studies", headers={"Authorization": f"Bearer {token}"})
        login = client.post(
            "/api/auth/token", json={"username": "ada", "password": "correct horse battery"}
        )
    assert studies.json() == [{"name": "lung", "organisations": ["A", "B"]}]
    assert login.status_code == 200


def test_start_reads_the_config_and_the_flags(tmp_path, monkeypatch):
    monkeypatch.delenv("PERRON_DATABASE_URL", raising=False)
    config = tmp_path / "hub.toml"
    config.write_text('database_url = "sqlite:///x.db"\nport = 9000\nlease_seconds = 5\n')
    served: list[Settings] = []
    monkeypatch.setattr("perron.hub.app.serve", served.append)

    result = CliRunner().invoke(hub_cli, ["start", "--config", str(config), "--host", "0.0.0.0"])

    assert result.exit_code == 0, result.output
    assert served == [
        Settings(database_url="sqlite:///x.db", host="0.0.0.0", port=9000, lease_seconds=5.0)
    ]
