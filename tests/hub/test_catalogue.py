"""The catalogue at the hub, on SQLite and PostgreSQL: publishing, reading, exporting.

The standard world (see ``conftest.world``): organisations A, B, C with stations sa,
sb, sc; researchers ada (A), bob (B), eve (C). Stations publish for their own
organisation only; reading public descriptions needs no login, reading those listed
on the hub only needs a token of any organisation.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from perron.catalogue.dcat import parse
from perron.catalogue.metadata import EXAMPLE
from perron.catalogue.shacl import validate
from perron.hub.migrate import check, current, downgrade, upgrade
from perron.station.config import StationConfig
from perron.station.datasets import DatasetsFile, publish, withdraw
from perron.station.objections import ObjectionRegister
from tests.hub.databases import BACKENDS, fresh_database
from tests.hub.test_storage import every_stored_value
from tests.hub.world import World


def description(holder: str = "A", name: str = "lung", **changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(EXAMPLE) | {"holder": holder, "name": name}
    raw.update(changes)
    return raw


def put(world: World, who: str, body: dict[str, Any], holder: str = "A", name: str = "lung"):
    return world.call(who, "PUT", f"/api/catalogue/datasets/{holder}/{name}", json=body)


def assert_error(answer, status: int, kind: str, text: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert text in answer.json()["detail"]


# Migration


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_catalogue_migration_builds_its_table_and_goes_back(backend: str, tmp_path: Path):
    with fresh_database(backend, tmp_path) as url:
        upgrade(url)
        assert current(url) == "0005"
        check(url)
        downgrade(url, "0002")
        assert current(url) == "0002"
        upgrade(url)
        check(url)


# Publishing


def test_a_station_publishes_and_replaces_its_holders_description(world: World):
    first = put(world, "sa", description())
    again = put(world, "sa", description(title="Lung cancer cohort (2nd edition)"))

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    entry = again.json()
    assert (entry["holder"], entry["name"], entry["station"]) == ("A", "lung", "sa")
    assert entry["issued"] == first.json()["issued"]
    assert entry["modified"] >= entry["issued"]
    assert entry["metadata"]["title"] == "Lung cancer cohort (2nd edition)"
    [listed] = world.client.get("/api/catalogue").json()
    assert listed == entry


def test_a_station_may_not_publish_for_another_holder(world: World):
    answer = put(world, "sb", description(holder="A"), holder="A")

    assert_error(
        answer, 403, "NotAuthorized", "station 'sb' publishes for its own organisation 'B'"
    )
    assert world.client.get("/api/catalogue").json() == []


def test_users_and_strangers_may_not_publish(world: World):
    by_user = put(world, "ada", description())
    anonymous = world.client.put("/api/catalogue/datasets/A/lung", json=description())

    assert_error(by_user, 403, "NotAuthorized", "for stations")
    assert_error(anonymous, 401, "AuthenticationFailed")


def test_a_second_station_of_the_holder_cannot_take_over_a_dataset(world: World):
    world.station("sa2", "A")
    assert put(world, "sa", description()).status_code == 201

    taken = put(world, "sa2", description())
    withdrawn = world.call("sa2", "DELETE", "/api/catalogue/datasets/A/lung")

    assert_error(taken, 409, "Conflict", "published by station 'sa'")
    assert_error(withdrawn, 409, "Conflict", "published by station 'sa'")
    assert put(world, "sa2", description(name="lung2"), name="lung2").status_code == 201


def test_a_description_must_name_the_address_it_is_sent_to(world: World):
    answer = put(world, "sa", description(name="heart"), name="lung")

    assert_error(answer, 422, "InputError", "is of A/heart, but was sent to A/lung")


@pytest.mark.parametrize(
    ("records", "why"),
    [
        ({"value": 3, "min_cell": 5}, "below min_cell 5"),
        ({"value": 1234, "min_cell": 5, "rounded_to": 10}, "not a multiple of rounded_to 10"),
        ({"value": -1, "min_cell": 5}, "records.value"),
    ],
)
def test_a_count_that_breaks_the_rule_it_names_is_refused(world: World, records, why):
    answer = put(world, "sa", description(records=records))

    assert_error(answer, 422, "InputError", why)
    assert world.client.get("/api/catalogue").json() == []


def test_a_body_is_checked_only_after_the_caller(world: World):
    # A researcher learns nothing from the validation of a description.
    assert put(world, "ada", {"not": "a description"}).status_code == 403
    assert_error(put(world, "sa", {"not": "a description"}), 422, "InputError", "title")


def test_a_station_withdraws_its_description(world: World):
    put(world, "sa", description())

    foreign = world.call("sb", "DELETE", "/api/catalogue/datasets/A/lung")
    own = world.call("sa", "DELETE", "/api/catalogue/datasets/A/lung")
    again = world.call("sa", "DELETE", "/api/catalogue/datasets/A/lung")

    assert_error(foreign, 403, "NotAuthorized")
    assert own.status_code == 204, own.text
    assert_error(again, 404, "NotFound")
    assert world.client.get("/api/catalogue/datasets/A/lung").status_code == 404


# Reading: public descriptions without login, hub-only ones with any valid token


def test_public_descriptions_need_no_login_and_hub_ones_need_a_token(world: World):
    put(world, "sa", description())
    put(world, "sb", description(holder="B", name="claims", listing="hub"), "B", "claims")

    def names(answer) -> list[str]:
        assert answer.status_code == 200, answer.text
        return [f"{e['holder']}/{e['name']}" for e in answer.json()]

    assert names(world.client.get("/api/catalogue")) == ["A/lung"]
    assert names(world.call("eve", "GET", "/api/catalogue")) == ["A/lung", "B/claims"]
    assert names(world.call("sc", "GET", "/api/catalogue")) == ["A/lung", "B/claims"]
    hidden = world.client.get("/api/catalogue/datasets/B/claims")
    assert_error(hidden, 404, "NotFound", "sign in to see those listed on the hub")
    assert world.call("eve", "GET", "/api/catalogue/datasets/B/claims").status_code == 200
    assert "claims" not in world.client.get("/api/catalogue/export").text
    assert "urn:perron:dataset:B:claims" in world.call("eve", "GET", "/api/catalogue/export").text


@pytest.mark.parametrize("header", ["Bearer pu_not-a-valid-token", "Basic abc", "Bearer "])
def test_a_wrong_token_is_refused_even_for_public_reads(world: World, header: str):
    put(world, "sa", description())

    answer = world.client.get("/api/catalogue", headers={"Authorization": header})

    assert_error(answer, 401, "AuthenticationFailed")


def test_search_by_text_theme_code_and_holder(world: World):
    put(world, "sa", description())
    pharmacy = description(
        holder="B",
        name="dispensing",
        title="Dispensed medicines",
        description="Every prescription dispensed.",
        keywords=["medication"],
        themes=["HEAL", "ECON"],
        coding_systems=["ATC"],
        health_themes=[],
        population_coverage="",
    )
    put(world, "sb", pharmacy, "B", "dispensing")

    def found(**params: str) -> list[str]:
        answer = world.client.get("/api/catalogue", params=params)
        assert answer.status_code == 200, answer.text
        return [e["name"] for e in answer.json()]

    assert found() == ["lung", "dispensing"]
    assert found(text="prescription") == ["dispensing"]
    assert found(theme="ECON") == ["dispensing"]
    assert found(theme="Q47912") == ["lung"]
    assert found(code="ATC") == ["lung", "dispensing"]
    assert found(code="ICD-10") == ["lung"]
    assert found(holder="B") == ["dispensing"]
    assert found(text="lung", holder="B") == []


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_one_dataset_and_the_catalogue_export_as_valid_healthdcat_ap(world: World, fmt: str):
    put(world, "sa", description())
    put(world, "sb", description(holder="B", name="claims"), "B", "claims")

    one = world.client.get("/api/catalogue/datasets/A/lung", params={"format": fmt})
    whole = world.client.get("/api/catalogue/export", params={"format": fmt})

    media = {"turtle": "text/turtle", "jsonld": "application/ld+json"}[fmt]
    for answer in (one, whole):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(media)
        report = validate(parse(answer.text, fmt))  # type: ignore[arg-type]
        assert report.conforms, report.text
    assert "urn:perron:dataset:B:claims" not in one.text
    assert "http://testserver/api/catalogue/datasets/A/lung" in one.text  # the landing page
    for iri in ("urn:perron:dataset:A:lung", "urn:perron:dataset:B:claims"):
        assert iri in whole.text
    assert "http://testserver/api/catalogue" in whole.text  # the dcat:Catalog


def test_an_empty_catalogue_exports_as_a_valid_catalog(world: World):
    answer = world.client.get("/api/catalogue/export")

    assert answer.status_code == 200, answer.text
    assert "dcat:Catalog" in answer.text
    assert validate(parse(answer.text, "turtle")).conforms


# A station's side, against this hub


def _station(tmp_path: Path, world: World, **governance: str) -> StationConfig:
    rows = [f"PID-{i:05d}" for i in range(137)]
    frame = pd.DataFrame({"pid": rows + rows[:40], "age": range(177)})  # 177 records, 137 people
    frame.to_csv(tmp_path / "lung.csv", index=False)
    (tmp_path / "station.token").write_text(world.stations["sa"].token)
    settings = "".join(f'{key} = "{value}"\n' for key, value in governance.items())
    (tmp_path / "station.toml").write_text(
        'name = "sa"\norganisation = "A"\nhub_url = "http://testserver"\ndataset = "lung.csv"\n'
        f"\n[disclosure]\nmin_cell = 5\nround_counts = 10\n\n[governance]\n{settings}"
    )
    return StationConfig.load(tmp_path / "station.toml")


def test_a_station_publishes_rounded_counts_without_objectors_and_no_rows(
    world: World, tmp_path: Path
):
    config = _station(tmp_path, world, dataset_name="lung", id_column="pid")
    with ObjectionRegister(config.objections_file) as register:
        for pid in ("PID-00000", "PID-00001", "PID-00100"):  # two of them have 2 records
            register.add(pid)
    fields = {
        k: v for k, v in EXAMPLE.items() if k not in ("name", "holder", "records", "individuals")
    }
    datasets = DatasetsFile.beside(tmp_path / "station.toml")
    datasets.add("lung", fields, "A", replace=False)
    client = TestClient(world.client.app, headers=world.stations["sa"].headers)

    [answer] = publish(config, datasets, client=client)

    counts = answer["metadata"]["records"], answer["metadata"]["individuals"]
    # 177 - 5 objector records = 172 -> 170; 137 - 3 people = 134 -> 130.
    assert counts == (
        {"value": 170, "min_cell": 5, "rounded_to": 10},
        {"value": 130, "min_cell": 5, "rounded_to": 10},
    )
    stored = every_stored_value(world.database_url)
    assert not [cell for cell in stored if "PID-" in cell]  # no identifier, no row
    withdraw(config, "lung", client=client)
    assert world.client.get("/api/catalogue").json() == []


def test_a_hub_only_listing_is_published_as_such(world: World, tmp_path: Path):
    config = _station(tmp_path, world, dataset_name="lung")
    fields = {
        k: v for k, v in EXAMPLE.items() if k not in ("name", "holder", "records", "individuals")
    }
    datasets = DatasetsFile.beside(tmp_path / "station.toml")
    datasets.add("lung", fields | {"listing": "hub"}, "A", replace=False)
    client = TestClient(world.client.app, headers=world.stations["sa"].headers)

    [answer] = publish(config, datasets, client=client)

    assert answer["metadata"]["listing"] == "hub"
    assert answer["metadata"]["individuals"] is None  # no id column: people not counted
    assert world.client.get("/api/catalogue").json() == []
    assert len(world.call("bob", "GET", "/api/catalogue").json()) == 1
