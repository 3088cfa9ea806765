"""The admin API (``/api/admin``): hub admins only, on SQLite and PostgreSQL.

The standard world (see ``conftest.world``): organisations A, B, C; study ``lung``
(A, B) with ada (A), bob (B) and admin root (A); ``heart`` (B, C) with eve (C);
stations sa (A), sb (B), sc (C). Everyone has registered keys.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from perron.crypto.keys import KeyPair
from tests.hub.world import PASSWORD, World

#: Every admin endpoint: method, path and a valid body.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/organisations", None),
    ("POST", "/api/admin/organisations", {"name": "D"}),
    ("GET", "/api/admin/users", None),
    (
        "POST",
        "/api/admin/users",
        {"username": "dan", "organisation": "A", "password": PASSWORD, "role": "admin"},
    ),
    ("GET", "/api/admin/stations", None),
    ("POST", "/api/admin/stations", {"name": "sd", "organisation": "A"}),
    ("POST", "/api/admin/stations/sa/rotate", None),
    ("GET", "/api/admin/studies", None),
    ("POST", "/api/admin/studies", {"name": "liver", "organisations": ["A"]}),
    ("POST", "/api/admin/studies/heart/users", {"username": "ada"}),
]


def assert_error(answer: httpx.Response, status: int, kind: str, *words: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    detail: str = answer.json()["detail"]
    for word in words:
        assert word in detail
    return detail


def as_root(world: World, method: str, path: str, body: Any = None) -> httpx.Response:
    return world.call("root", method, path, json=body)


def listing(world: World, what: str) -> list[dict[str, Any]]:
    answer = as_root(world, "GET", f"/api/admin/{what}")
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


# Authorisation


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_needs_a_token(world: World, method: str, path: str, body: Any):
    answer = world.client.request(method, path, json=body)

    assert_error(answer, 401, "AuthenticationFailed", "bearer token")
    assert answer.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_refuses_a_researcher_and_a_station(
    world: World, method: str, path: str, body: Any
):
    world.grant("ada", "org_admin", "data_manager")  # organisation roles do not count

    assert_error(world.call("ada", method, path, json=body), 403, "NotAuthorized", "hub admins")
    assert_error(world.call("sa", method, path, json=body), 403, "NotAuthorized", "for users")


def test_refused_calls_change_nothing(world: World):
    before = {what: listing(world, what) for what in ("organisations", "users", "studies")}
    stations = listing(world, "stations")

    for method, path, body in ENDPOINTS:
        if method == "POST":
            world.call("ada", method, path, json=body)
            world.call("sa", method, path, json=body)
            world.client.request(method, path, json=body)

    assert {what: listing(world, what) for what in before} == before
    assert listing(world, "stations") == stations
    assert world.client.get("/api/studies", headers=world.stations["sa"].headers).is_success


def test_a_hub_admin_of_any_organisation_administers_every_organisation(world: World):
    world.user("carl", "C", role="admin")

    answer = world.call("carl", "POST", "/api/admin/studies/lung/users", json={"username": "eve"})

    assert answer.status_code == 204, answer.text
    lung = next(s for s in listing(world, "studies") if s["name"] == "lung")
    assert "eve" in lung["users"]


# Organisations


def test_organisations_are_listed_with_their_users_and_stations(world: World):
    organisations = listing(world, "organisations")

    assert [(o["name"], o["users"], o["stations"]) for o in organisations] == [
        ("A", 2, 1),
        ("B", 1, 1),
        ("C", 1, 1),
    ]
    assert all(o["created_at"].endswith("+00:00") for o in organisations)


def test_an_organisation_is_created_once(world: World):
    answer = as_root(world, "POST", "/api/admin/organisations", {"name": "D"})

    assert answer.status_code == 201, answer.text
    assert answer.json() == {"name": "D"}
    assert ("D", 0, 0) in [
        (o["name"], o["users"], o["stations"]) for o in listing(world, "organisations")
    ]
    again = as_root(world, "POST", "/api/admin/organisations", {"name": "D"})
    assert_error(again, 409, "Conflict", "organisation 'D' exists already")


def test_an_organisation_name_must_be_valid(world: World):
    answer = as_root(world, "POST", "/api/admin/organisations", {"name": "bad name; drop"})

    assert_error(answer, 422, "InputError", "body.name")
    assert_error(as_root(world, "POST", "/api/admin/organisations", {}), 422, "InputError", "name")


# Users


def test_users_are_listed_with_their_roles_and_keys(world: World):
    world.grant("bob", "data_manager")
    world.user("kim", "B", register_keys=False)

    users = {u["username"]: u for u in listing(world, "users")}

    assert list(users) == ["ada", "bob", "eve", "kim", "root"]
    assert users["bob"] == {
        "username": "bob",
        "organisation": "B",
        "role": "researcher",
        "roles": ["data_manager", "researcher"],
        "has_keys": True,
    }
    assert users["root"]["role"] == "admin"
    assert users["root"]["roles"] == []
    assert users["kim"]["has_keys"] is False


def test_a_user_is_created_and_can_log_in(world: World):
    body = {"username": "dan", "organisation": "B", "password": PASSWORD, "role": "admin"}

    answer = as_root(world, "POST", "/api/admin/users", body)

    assert answer.status_code == 201, answer.text
    assert answer.json() == {
        "username": "dan",
        "organisation": "B",
        "role": "admin",
        "roles": [],
        "has_keys": False,
    }
    login = world.client.post("/api/auth/token", json={"username": "dan", "password": PASSWORD})
    assert login.status_code == 200, login.text
    me = world.client.get("/api/me", headers={"Authorization": f"Bearer {login.json()['token']}"})
    assert me.json()["role"] == "admin"


def test_a_user_is_a_researcher_unless_told_otherwise(world: World):
    body = {"username": "dan", "organisation": "B", "password": PASSWORD}

    answer = as_root(world, "POST", "/api/admin/users", body)

    assert answer.status_code == 201, answer.text
    assert answer.json()["role"] == "researcher"
    assert answer.json()["roles"] == ["researcher"]


def test_a_user_needs_a_known_organisation_a_new_name_and_a_long_password(world: World):
    def create(**changes: Any) -> httpx.Response:
        body = {"username": "dan", "organisation": "A", "password": PASSWORD} | changes
        return as_root(world, "POST", "/api/admin/users", body)

    assert_error(create(organisation="Z"), 404, "NotFound", "no organisation 'Z'", "create it")
    assert_error(create(username="ada"), 409, "Conflict", "user 'ada' exists already")
    assert_error(create(password="x" * 11), 422, "InputError", "body.password", "12 characters")
    assert_error(create(role="root"), 422, "InputError", "body.role")
    assert_error(create(username="-dan"), 422, "InputError", "body.username")
    assert "dan" not in [u["username"] for u in listing(world, "users")]
    assert create(password="x" * 12).status_code == 201


# Stations


def test_stations_are_listed_with_whether_they_have_keys(world: World):
    stations = listing(world, "stations")

    assert [(s["name"], s["organisation"], s["has_keys"]) for s in stations] == [
        ("sa", "A", True),
        ("sb", "B", True),
        ("sc", "C", True),
    ]
    assert all(s["created_at"].endswith("+00:00") for s in stations)


def test_a_station_is_created_with_a_token_shown_once(world: World):
    answer = as_root(world, "POST", "/api/admin/stations", {"name": "sd", "organisation": "C"})

    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "sd"
    token = answer.json()["token"]
    assert token.startswith("ps_")
    studies = world.client.get("/api/studies", headers={"Authorization": f"Bearer {token}"})
    assert studies.json() == [{"name": "heart", "organisations": ["B", "C"]}]
    listed = {s["name"]: s for s in listing(world, "stations")}
    assert listed["sd"]["organisation"] == "C"
    assert listed["sd"]["has_keys"] is False
    assert "token" not in listed["sd"]


def test_a_station_needs_a_known_organisation_and_a_new_name(world: World):
    def create(**changes: Any) -> httpx.Response:
        body = {"name": "sd", "organisation": "A"} | changes
        return as_root(world, "POST", "/api/admin/stations", body)

    assert_error(create(organisation="Z"), 404, "NotFound", "no organisation 'Z'")
    assert_error(create(name="sa"), 409, "Conflict", "station 'sa' exists already")
    assert_error(create(name="s d"), 422, "InputError", "body.name")


def test_rotating_revokes_every_earlier_token_and_clears_the_keys(world: World):
    old = world.stations["sa"].headers

    first = as_root(world, "POST", "/api/admin/stations/sa/rotate")
    second = as_root(world, "POST", "/api/admin/stations/sa/rotate")

    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert second.json()["name"] == "sa"
    for headers in (old, {"Authorization": f"Bearer {first.json()['token']}"}):
        answer = world.client.get("/api/studies", headers=headers)
        assert_error(answer, 401, "AuthenticationFailed", "revoked")
    assert {s["name"]: s["has_keys"] for s in listing(world, "stations")}["sa"] is False
    stations = world.call("ada", "GET", "/api/studies/lung/stations").json()
    sa = next(s for s in stations if s["name"] == "sa")
    assert sa["verify_key"] is None
    assert sa["box_key"] is None
    # The other stations keep their tokens and keys.
    assert world.call("sb", "GET", "/api/studies").status_code == 200
    assert next(s for s in stations if s["name"] == "sb")["verify_key"] is not None


def test_a_rotated_station_registers_new_keys_and_serves_again(world: World):
    token = as_root(world, "POST", "/api/admin/stations/sa/rotate").json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    keys = KeyPair.generate().public()

    registered = world.client.put("/api/station/keys", json=keys.to_dict(), headers=headers)
    task_id = world.task("ada", "lung", ["sa"])
    delivery = world.client.get("/api/station/next", params={"wait": 0}, headers=headers)

    assert registered.status_code == 204, registered.text
    assert {s["name"]: s["has_keys"] for s in listing(world, "stations")}["sa"] is True
    stations = world.call("ada", "GET", "/api/studies/lung/stations").json()
    assert next(s for s in stations if s["name"] == "sa")["verify_key"] == keys.verify_key
    assert delivery.status_code == 200, delivery.text
    assert delivery.json()["task_id"] == task_id


def test_rotating_an_unknown_station_is_not_found(world: World):
    answer = as_root(world, "POST", "/api/admin/stations/nope/rotate")

    assert_error(answer, 404, "NotFound", "no station 'nope'")


# Studies


def test_studies_are_listed_with_their_organisations_and_users(world: World):
    assert listing(world, "studies") == [
        {"name": "heart", "organisations": ["B", "C"], "users": ["eve"]},
        {"name": "lung", "organisations": ["A", "B"], "users": ["ada", "bob", "root"]},
    ]


def test_a_study_is_created_and_users_are_added_to_it(world: World):
    body = {"name": "liver", "organisations": ["C", "A", "C"]}

    created = as_root(world, "POST", "/api/admin/studies", body)
    added = as_root(world, "POST", "/api/admin/studies/liver/users", {"username": "eve"})
    again = as_root(world, "POST", "/api/admin/studies/liver/users", {"username": "eve"})

    assert created.status_code == 201, created.text
    assert created.json() == {"name": "liver", "organisations": ["A", "C"], "users": []}
    assert added.status_code == 204, added.text
    assert again.status_code == 204, again.text
    liver = {"name": "liver", "organisations": ["A", "C"], "users": ["eve"]}
    assert liver in listing(world, "studies")
    assert [s["name"] for s in world.call("eve", "GET", "/api/studies").json()] == [
        "heart",
        "liver",
    ]


def test_a_study_needs_known_organisations_and_a_new_name(world: World):
    def create(**changes: Any) -> httpx.Response:
        body = {"name": "liver", "organisations": ["A"]} | changes
        return as_root(world, "POST", "/api/admin/studies", body)

    assert_error(create(organisations=["A", "Z"]), 404, "NotFound", "no organisation 'Z'")
    assert_error(create(name="lung"), 409, "Conflict", "study 'lung' exists already")
    assert_error(create(organisations=[]), 422, "InputError", "body.organisations")
    assert "liver" not in [s["name"] for s in listing(world, "studies")]


def test_adding_to_a_study_needs_a_known_study_and_user(world: World):
    path = "/api/admin/studies/{}/users"

    unknown_study = as_root(world, "POST", path.format("nope"), {"username": "ada"})
    unknown_user = as_root(world, "POST", path.format("lung"), {"username": "nobody"})
    no_user = as_root(world, "POST", path.format("lung"), {})

    assert_error(unknown_study, 404, "NotFound", "no study 'nope'")
    assert_error(unknown_user, 404, "NotFound", "no user 'nobody'")
    assert_error(no_user, 422, "InputError", "body.username")
