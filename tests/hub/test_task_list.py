"""A study's task list (``GET /api/studies/{study}/tasks``): newest first, no payloads.

The standard world (see ``conftest.world``): study ``lung`` = organisations A, B with
ada (A), bob (B) and admin root (A); ``heart`` = B, C with eve (C); stations sa (A),
sb (B), sc (C).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.hub.world import World


def assert_error(answer, status: int, kind: str, text: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert text in answer.json()["detail"]


def tasks_of(world: World, who: str, study: str = "lung", **params: Any):
    return world.call(who, "GET", f"/api/studies/{study}/tasks", params=params)


def test_the_list_shows_each_task_and_each_stations_progress(world: World):
    start = datetime.now(UTC).replace(microsecond=0)
    first = world.task("ada", "lung", ["sa", "sb"])
    run_id = world.next("sa").json()["run_id"]
    assert world.answer("sa", run_id, {"n": 3}, "ada").status_code == 204
    world.next("sb")  # claimed, not answered
    body = world.body("bob", "lung", algorithm="glm")
    assert world.send("bob", "lung", ["sb"], body=body).status_code == 201

    answer = tasks_of(world, "ada")

    assert answer.status_code == 200, answer.text
    newest, oldest = answer.json()
    assert (newest["task_id"], newest["algorithm"], newest["requester"]) == (
        body["task_id"],
        "glm",
        "bob",
    )
    assert newest["status"] == "pending"
    assert newest["cancelled"] is False
    assert newest["runs"] == [
        {"station": "sb", "status": "pending", "claimed_at": None, "finished_at": None}
    ]
    assert (oldest["task_id"], oldest["algorithm"], oldest["status"]) == (
        first,
        "summary",
        "claimed",
    )
    sa, sb = oldest["runs"]
    assert (sa["station"], sa["status"], sb["station"], sb["status"]) == (
        "sa",
        "done",
        "sb",
        "claimed",
    )
    assert sa["claimed_at"] <= sa["finished_at"]
    assert sb["claimed_at"] is not None
    assert sb["finished_at"] is None
    created = datetime.fromisoformat(oldest["created_at"])
    assert start <= created <= datetime.now(UTC)  # stored when it was sent
    assert "payload" not in str(answer.json())


def test_the_list_is_newest_first_and_limited(world: World):
    sent = [world.task("ada", "lung", ["sa"]) for _ in range(4)]

    assert [t["task_id"] for t in tasks_of(world, "bob").json()] == sent[::-1]
    assert [t["task_id"] for t in tasks_of(world, "bob", limit=2).json()] == sent[:1:-1]


@pytest.mark.parametrize("limit", [0, 501, "many"])
def test_a_limit_outside_1_to_500_is_refused(world: World, limit: object):
    assert_error(tasks_of(world, "ada", limit=limit), 422, "InputError")


def test_a_cancelled_task_shows_cancelled(world: World):
    task_id = world.task("ada", "lung", ["sa"])
    world.call("ada", "POST", f"/api/tasks/{task_id}/cancel")

    (task,) = tasks_of(world, "ada").json()

    assert (task["status"], task["cancelled"]) == ("cancelled", True)
    assert task["runs"][0]["status"] == "cancelled"
    assert task["runs"][0]["finished_at"] is not None


def test_only_the_studys_tasks_are_listed(world: World):
    world.task("ada", "lung", ["sa"])

    assert tasks_of(world, "eve", "heart").json() == []


def test_study_members_users_and_stations_list_the_tasks(world: World):
    task_id = world.task("ada", "lung", ["sa"])

    for who in ("ada", "bob", "root", "sa", "sb"):
        answer = tasks_of(world, who)
        assert answer.status_code == 200, (who, answer.text)
        assert [t["task_id"] for t in answer.json()] == [task_id]


def test_others_may_not_list_the_tasks(world: World):
    world.task("ada", "lung", ["sa"])

    assert_error(tasks_of(world, "eve"), 403, "NotAuthorized", "not a member")
    assert_error(tasks_of(world, "sc"), 403, "NotAuthorized", "not a member")
    assert_error(tasks_of(world, "ada", "nope"), 404, "NotFound", "no study")
    assert_error(world.client.get("/api/studies/lung/tasks"), 401, "AuthenticationFailed")
