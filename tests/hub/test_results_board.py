"""A study's results board: signed result documents, published and read by study members.

The standard world (see ``conftest.world``): study ``lung`` = organisations A, B with
researchers ada (A) and bob (B) and admin root (A); ``heart`` = B, C with eve (C);
stations sa (A), sb (B), sc (C).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from perron.crypto.envelope import sign, verify
from tests.hub.world import World

CURVE = {
    "label": "all",
    "time": [0, 10.5, 30],
    "survival": [1.0, 0.8, 0.55],
    "lower": [1.0, 0.7, None],
    "upper": [1.0, 0.9, None],
}
KM = {"type": "km", "duration": "days", "curves": [CURVE]}
FOREST = {
    "type": "forest",
    "label": "Hazard ratio",
    "scale": "log",
    "reference": 1.0,
    "terms": [{"name": "age", "estimate": 1.02, "lower": 1.0, "upper": 1.05}],
}


def assert_error(answer, status: int, kind: str, text: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["kind"] == kind
    assert text in answer.json()["detail"]


def document(study: str = "lung", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "result_id": uuid.uuid4().hex,
        "study": study,
        "title": "Age by sex",
        "kind": "summary",
        "task_ids": [uuid.uuid4().hex],
        "created_at": "2026-12-14T09:30:00+00:00",
        "tables": [
            {
                "name": "summary",
                "columns": ["variable", "n", "mean", "suppressed"],
                "rows": [["age", 120, 61.5, False], ["bmi", 118, None, True]],
            }
        ],
        "figure": None,
        "errors": [{"station": "sb", "kind": "DisclosureBlocked", "message": "too few rows"}],
    }
    return body | changes


def publish(
    world: World,
    who: str,
    body: dict[str, Any] | None = None,
    *,
    study: str = "lung",
    envelope: dict[str, Any] | None = None,
):
    if envelope is None:
        envelope = sign(body or document(study), world.users[who].keys)
    principal = world.users.get(who) or world.stations[who]
    return world.client.post(
        f"/api/studies/{study}/results", json={"envelope": envelope}, headers=principal.headers
    )


def board(world: World, who: str, study: str = "lung", **params: Any):
    return world.call(who, "GET", f"/api/studies/{study}/results", params=params)


def read(world: World, who: str, result_id: str, study: str = "lung"):
    return world.call(who, "GET", f"/api/studies/{study}/results/{result_id}")


def test_a_researcher_publishes_a_result_and_members_read_it(world: World):
    start = datetime.now(UTC).replace(microsecond=0)
    body = document()

    answer = publish(world, "ada", body)

    assert answer.status_code == 201, answer.text
    assert answer.json() == {"result_id": body["result_id"]}
    (listed,) = board(world, "bob").json()
    assert {k: listed[k] for k in ("result_id", "title", "kind", "author")} == {
        "result_id": body["result_id"],
        "title": "Age by sex",
        "kind": "summary",
        "author": "ada",
    }
    published = datetime.fromisoformat(listed["created_at"])
    assert start <= published <= datetime.now(UTC)  # the hub's time of publishing
    got = read(world, "bob", body["result_id"]).json()
    assert {k: got[k] for k in listed} == listed
    # The envelope as signed: a reader checks the author's signature itself.
    assert verify(got["envelope"], world.users["ada"].keys.public().verify_key) == body


@pytest.mark.parametrize("figure", [KM, FOREST])
def test_a_result_may_carry_a_figure(world: World, figure: dict[str, Any]):
    body = document(kind="coxph", figure=figure, tables=[], errors=[])

    assert publish(world, "ada", body).status_code == 201

    assert read(world, "ada", body["result_id"]).json()["envelope"]["body"]["figure"] == figure


def test_the_board_is_newest_first_and_limited(world: World):
    ids = []
    for who in ("ada", "bob", "ada"):
        body = document()
        assert publish(world, who, body).status_code == 201
        ids.append(body["result_id"])

    assert [r["result_id"] for r in board(world, "ada").json()] == ids[::-1]
    assert [r["result_id"] for r in board(world, "ada", limit=1).json()] == ids[-1:]
    assert [r["author"] for r in board(world, "ada").json()] == ["ada", "bob", "ada"]
    assert_error(board(world, "ada", limit=0), 422, "InputError")


def test_the_same_result_id_twice_is_a_conflict(world: World):
    body = document()
    assert publish(world, "ada", body).status_code == 201

    assert_error(publish(world, "ada", body), 409, "Conflict", "published before")
    again = document(result_id=body["result_id"], title="Another")
    assert_error(publish(world, "bob", again), 409, "Conflict")


def test_a_result_is_read_on_its_own_studys_board_only(world: World):
    body = document()
    assert publish(world, "ada", body).status_code == 201

    assert board(world, "eve", "heart").json() == []
    assert_error(read(world, "eve", body["result_id"], "heart"), 404, "NotFound", "no result")
    assert_error(read(world, "ada", uuid.uuid4().hex), 404, "NotFound", "no result")


# Who may publish and read


def test_outsiders_may_neither_publish_nor_read(world: World):
    body = document()
    assert publish(world, "ada", body).status_code == 201

    assert_error(publish(world, "eve", document()), 403, "NotAuthorized", "not a member")
    assert_error(board(world, "eve"), 403, "NotAuthorized", "not a member")
    assert_error(read(world, "eve", body["result_id"]), 403, "NotAuthorized")
    assert_error(board(world, "ada", "nope"), 404, "NotFound", "no study")
    assert_error(publish(world, "ada", document("nope"), study="nope"), 404, "NotFound")


def test_the_board_is_for_users_not_stations(world: World):
    body = document()
    assert publish(world, "ada", body).status_code == 201
    envelope = sign(document(), world.users["ada"].keys)

    assert_error(publish(world, "sa", envelope=envelope), 403, "NotAuthorized", "for users")
    assert_error(board(world, "sa"), 403, "NotAuthorized", "for users")
    assert_error(read(world, "sa", body["result_id"]), 403, "NotAuthorized", "for users")


def test_no_token_gets_401(world: World):
    for answer in (
        world.client.get("/api/studies/lung/results"),
        world.client.get(f"/api/studies/lung/results/{uuid.uuid4().hex}"),
        world.client.post("/api/studies/lung/results", json={"envelope": {}}),
    ):
        assert_error(answer, 401, "AuthenticationFailed")


# What the hub checks


def test_a_tampered_or_foreign_signature_is_rejected(world: World):
    envelope = sign(document(), world.users["ada"].keys)
    envelope["body"]["title"] = "Something else"

    assert_error(publish(world, "ada", envelope=envelope), 400, "TamperedMessage")
    by_bob = sign(document(), world.users["bob"].keys)
    assert_error(publish(world, "ada", envelope=by_bob), 400, "TamperedMessage")
    assert board(world, "ada").json() == []


def test_a_result_for_another_study_is_refused(world: World):
    assert_error(publish(world, "ada", document("heart")), 422, "InputError", "names study")


def test_an_author_without_keys_cannot_publish(world: World):
    world.user("kim", "A", studies=["lung"], register_keys=False)

    assert_error(publish(world, "kim", document()), 422, "InputError", "register your public")


def test_a_result_over_two_mib_is_refused(world: World):
    rows = [["x" * 1000] for _ in range(2200)]
    body = document(tables=[{"name": "big", "columns": ["text"], "rows": rows}])

    assert_error(publish(world, "ada", body), 422, "InputError", "at most")


@pytest.mark.parametrize(
    "changes",
    [
        {"result_id": "not-hex"},
        {"result_id": uuid.uuid4().hex.upper()},
        {"title": ""},
        {"title": "t" * 201},
        {"title": "nul \x00"},
        {"kind": "anova"},
        {"task_ids": ["bad id!"]},
        {"task_ids": [uuid.uuid4().hex] * 1001},
        {"created_at": "yesterday"},
        {"tables": [{"name": "t", "columns": ["a", "b"], "rows": [[1]]}]},
        {"tables": [{"name": "t", "columns": ["a"], "rows": [[{"nested": 1}]]}]},
        {"figure": {"type": "pie"}},
        {"figure": KM | {"curves": [CURVE | {"survival": [1.0]}]}},
        {"figure": FOREST | {"reference": 2.0}},
        {"figure": FOREST | {"label": "Risk"}},
        {"errors": [{"station": "sb"}]},
        {"title": 7},
    ],
)
def test_a_document_that_does_not_fit_the_board_is_refused(world: World, changes: dict[str, Any]):
    answer = publish(world, "ada", document(**changes))

    assert_error(answer, 422, "InputError", "does not fit")


def test_nan_in_a_signed_result_is_refused(world: World):
    body = document(tables=[{"name": "t", "columns": ["mean"], "rows": [[float("nan")]]}])
    envelope = sign(body, world.users["ada"].keys)

    answer = world.client.post(
        "/api/studies/lung/results",
        content=json.dumps({"envelope": envelope}).encode(),
        headers=world.users["ada"].headers | {"Content-Type": "application/json"},
    )

    assert_error(answer, 422, "InputError", "NaN")
