"""The authorisation matrix: who may do what, and what everyone else gets.

The standard world (see ``conftest.world``): study ``lung`` = organisations A, B with
researchers ada (A) and bob (B) and admin root (A); study ``heart`` = B, C with eve
(C); stations sa (A), sb (B), sc (C).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from perron.crypto.envelope import sign
from perron.hub import admin
from tests.hub.world import World


def assert_error(answer, status: int, kind: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert answer.json()["detail"]


# Stations


def test_a_station_outside_the_study_receives_nothing_and_cannot_be_addressed(world: World):
    world.task("ada", "lung", ["sa", "sb"])

    assert world.next("sc").status_code == 204
    assert_error(world.send("ada", "lung", ["sc"]), 403, "NotAuthorized")


def test_a_run_of_a_study_without_the_stations_organisation_is_never_delivered(world: World):
    # The API refuses such a task; plant one in the database to test the query's guard.
    task_id = world.task("ada", "lung", ["sa"])
    world.sql(
        "INSERT INTO runs (task_id, station_id, status, created_at) "
        "SELECT :task, id, 'pending', :now FROM stations WHERE name = 'sc'",
        task=task_id,
        now=datetime.now(UTC).replace(tzinfo=None),
    )

    assert world.next("sc").status_code == 204


def test_a_station_receives_only_runs_addressed_to_it(world: World):
    task_id = world.task("ada", "lung", ["sa"])

    assert world.next("sb").status_code == 204
    delivery = world.next("sa")
    assert delivery.status_code == 200
    assert delivery.json()["task_id"] == task_id


def test_a_station_cannot_answer_another_stations_run(world: World):
    world.task("ada", "lung", ["sa"])
    run_id = world.next("sa").json()["run_id"]

    assert_error(world.answer("sb", run_id, {"x": 1}, "ada"), 403, "NotAuthorized")
    assert_error(world.answer("sb", 999_999, {"x": 1}, "ada"), 404, "NotFound")


def test_a_station_lists_stations_of_its_studies_only(world: World):
    sc = world.stations["sc"].headers

    assert world.client.get("/api/studies/heart/stations", headers=sc).status_code == 200
    answer = world.client.get("/api/studies/lung/stations", headers=sc)
    assert_error(answer, 403, "NotAuthorized")
    studies = world.client.get("/api/studies", headers=sc).json()
    assert studies == [{"name": "heart", "organisations": ["B", "C"]}]


# Users and studies


def test_a_user_outside_the_study_cannot_use_it(world: World):
    eve = world.users["eve"].headers

    assert_error(world.send("eve", "lung", ["sa"]), 403, "NotAuthorized")
    answer = world.client.get("/api/studies/lung/stations", headers=eve)
    assert_error(answer, 403, "NotAuthorized")
    task_id = world.task("ada", "lung", ["sa"])
    assert_error(world.read("eve", task_id), 403, "NotAuthorized")
    assert [s["name"] for s in world.client.get("/api/studies", headers=eve).json()] == ["heart"]


def test_a_researcher_cannot_read_or_cancel_another_researchers_task(world: World):
    task_id = world.task("ada", "lung", ["sa"])

    assert_error(world.read("bob", task_id), 403, "NotAuthorized")
    answer = world.client.post(f"/api/tasks/{task_id}/cancel", headers=world.users["bob"].headers)
    assert_error(answer, 403, "NotAuthorized")
    assert world.read("ada", task_id).json()["status"] == "pending"


def test_an_admin_cannot_send_tasks_even_in_a_study(world: World):
    assert_error(world.send("root", "lung", ["sa"]), 403, "NotAuthorized")


def test_unknown_study_task_and_station_are_not_found(world: World):
    ada = world.users["ada"].headers

    assert_error(world.client.get("/api/studies/nope/stations", headers=ada), 404, "NotFound")
    assert_error(world.send("ada", "nope", ["sa"]), 404, "NotFound")
    assert_error(world.read("ada", "0123456789abcdef"), 404, "NotFound")
    assert_error(world.send("ada", "lung", ["s-unknown"]), 404, "NotFound")


def test_tokens_of_the_wrong_kind_are_refused(world: World):
    station, user = world.stations["sa"].headers, world.users["ada"].headers

    assert_error(world.client.get("/api/me", headers=station), 403, "NotAuthorized")
    assert_error(world.client.get("/api/station/next", headers=user), 403, "NotAuthorized")
    keys = world.users["ada"].keys.public().to_dict()
    assert_error(
        world.client.put("/api/station/keys", json=keys, headers=user), 403, "NotAuthorized"
    )
    assert_error(world.client.put("/api/me/keys", json=keys, headers=station), 403, "NotAuthorized")


# Credentials


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer ",
        "Bearer pu_not-a-real-token",
        "Bearer ps_not-a-real-token",
        "Bearer xyz",
        "Basic abc",
    ],
)
def test_missing_or_wrong_tokens_get_401(world: World, header):
    headers = {} if header is None else {"Authorization": header}

    for method, path in [("GET", "/api/me"), ("GET", "/api/studies"), ("GET", "/api/station/next")]:
        answer = world.client.request(method, path, headers=headers)
        assert_error(answer, 401, "AuthenticationFailed")
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_wrong_password_or_unknown_user_gets_401(world: World):
    for username, password in [("ada", "wrong password"), ("nobody", "correct horse")]:
        answer = world.client.post(
            "/api/auth/token", json={"username": username, "password": password}
        )
        assert_error(answer, 401, "AuthenticationFailed")


def test_an_expired_token_gets_401(world: World):
    past = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None)
    world.sql("UPDATE tokens SET expires_at = :past WHERE expires_at IS NOT NULL", past=past)

    assert_error(
        world.client.get("/api/me", headers=world.users["ada"].headers), 401, "AuthenticationFailed"
    )


def test_a_revoked_token_gets_401_and_other_tokens_still_work(world: World):
    ada = world.users["ada"].headers
    assert world.client.post("/api/auth/revoke", headers=ada).status_code == 204

    assert_error(world.client.get("/api/me", headers=ada), 401, "AuthenticationFailed")
    assert world.client.get("/api/me", headers=world.users["bob"].headers).status_code == 200


def test_a_rotated_station_token_gets_401(world: World):
    old = world.stations["sa"].headers
    with admin.admin_session(world.database_url) as session:
        new = admin.rotate_station_token(session, "sa")

    assert_error(world.client.get("/api/station/next", headers=old), 401, "AuthenticationFailed")
    answer = world.client.get("/api/station/next", headers={"Authorization": f"Bearer {new}"})
    assert answer.status_code == 204


def test_the_database_holds_only_hashes_of_tokens(world: World):
    stored = {row[0] for row in world.sql("SELECT token_hash FROM tokens")}

    for principal in [*world.users.values(), *world.stations.values()]:
        assert principal.token not in stored
        assert all(principal.token not in value for value in stored)


# Signed tasks


def test_a_tampered_envelope_is_rejected(world: World):
    envelope = sign(world.body("ada", "lung"), world.users["ada"].keys)
    envelope["body"]["params"] = {"columns": ["age", "postcode"]}

    assert_error(world.send("ada", "lung", ["sa"], envelope=envelope), 400, "TamperedMessage")


def test_a_task_signed_with_another_key_is_rejected(world: World):
    envelope = sign(world.body("ada", "lung"), world.users["bob"].keys)

    assert_error(world.send("ada", "lung", ["sa"], envelope=envelope), 400, "TamperedMessage")


def test_a_task_naming_another_study_or_requester_is_rejected(world: World):
    other_study = world.body("ada", "heart")
    other_requester = world.body("bob", "lung")

    assert_error(world.send("ada", "lung", ["sa"], body=other_study), 422, "InputError")
    assert_error(world.send("ada", "lung", ["sa"], body=other_requester), 422, "InputError")


def test_a_task_without_registered_keys_is_rejected(world: World):
    world.user("kim", "A", studies=["lung"], register_keys=False)

    assert_error(world.send("kim", "lung", ["sa"]), 422, "InputError")


def test_a_duplicate_task_id_gets_409(world: World):
    body = world.body("ada", "lung")
    assert world.send("ada", "lung", ["sa"], body=body).status_code == 201

    again = world.send(
        "ada", "lung", ["sb"], body=world.body("ada", "lung", task_id=body["task_id"])
    )
    assert_error(again, 409, "Conflict")


def test_a_cancelled_tasks_runs_are_not_delivered_and_late_results_get_409(world: World):
    task_id = world.task("ada", "lung", ["sa", "sb"])
    run_id = world.next("sa").json()["run_id"]
    ada = world.users["ada"].headers

    assert world.client.post(f"/api/tasks/{task_id}/cancel", headers=ada).status_code == 204

    assert world.next("sb").status_code == 204
    assert_error(world.answer("sa", run_id, {"x": 1}, "ada"), 409, "TaskCancelled")
    task = world.read("ada", task_id).json()
    assert task["status"] == "cancelled"
    assert {run["status"] for run in task["runs"]} == {"cancelled"}
    assert all(run["payload"] is None for run in task["runs"])
