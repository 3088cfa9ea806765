"""A populated hub for tests: organisations, users, stations, studies and their keys."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import text

from perron.crypto.envelope import seal, sign
from perron.crypto.keys import KeyPair
from perron.hub import admin
from perron.hub.api.deps import Hub

#: Argon2 parameters that make a hash take well under a millisecond (tests only).
CHEAP_ARGON2: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 8,
    "argon2_parallelism": 1,
}
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery staple"


@dataclass
class Principal:
    """A user or station as a test drives it: its token and private keys."""

    name: str
    token: str
    keys: KeyPair = field(default_factory=KeyPair.generate)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class World:
    """A hub reached through a TestClient, with helpers to populate and drive it."""

    def __init__(self, client: TestClient, database_url: str) -> None:
        self.client = client
        self.database_url = database_url
        self.hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
        self.users: dict[str, Principal] = {}
        self.stations: dict[str, Principal] = {}

    @classmethod
    def standard(cls, client: TestClient, database_url: str) -> World:
        world = cls(client, database_url)
        for org in ("A", "B", "C"):
            world.org(org)
        world.study("lung", ["A", "B"])
        world.study("heart", ["B", "C"])
        world.user("ada", "A", studies=["lung"])
        world.user("bob", "B", studies=["lung"])
        world.user("eve", "C", studies=["heart"])
        world.user("root", "A", studies=["lung"], role="admin")
        for name, org in (("sa", "A"), ("sb", "B"), ("sc", "C")):
            world.station(name, org)
        return world

    # Population, through the admin functions and the API.

    def org(self, name: str) -> None:
        with self.hub.sessions() as session:
            admin.create_org(session, name)

    def study(self, name: str, orgs: list[str]) -> None:
        with self.hub.sessions() as session:
            admin.create_study(session, name, organisations=orgs)

    def user(
        self,
        name: str,
        org: str,
        *,
        studies: Sequence[str] = (),
        role: str = "researcher",
        register_keys: bool = True,
    ) -> Principal:
        with self.hub.sessions() as session:
            admin.create_user(
                session, name, organisation=org, role=role, password=PASSWORD, hasher=CHEAP_HASHER
            )
            for study in studies:
                admin.add_user_to_study(session, study, name)
        answer = self.client.post("/api/auth/token", json={"username": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        user = Principal(name, answer.json()["token"])
        if register_keys:
            answer = self.client.put(
                "/api/me/keys", json=user.keys.public().to_dict(), headers=user.headers
            )
            assert answer.status_code == 204, answer.text
        self.users[name] = user
        return user

    def station(self, name: str, org: str) -> Principal:
        with self.hub.sessions() as session:
            token = admin.create_station(session, name, organisation=org)
        station = Principal(name, token)
        answer = self.client.put(
            "/api/station/keys", json=station.keys.public().to_dict(), headers=station.headers
        )
        assert answer.status_code == 204, answer.text
        self.stations[name] = station
        return station

    def sql(self, statement: str, **params: Any) -> list[Any]:
        """Run SQL on the hub's database (to age tokens, or inspect what is stored)."""
        with self.hub.sessions() as session:
            result = session.execute(text(statement), params)
            rows = list(result) if statement.lstrip().upper().startswith("SELECT") else []
            session.commit()
        return rows

    # Driving the API.

    def body(self, user: str, study: str, **changes: Any) -> dict[str, Any]:
        """A signed-task body as the client makes it."""
        now = time.time()
        body: dict[str, Any] = {
            "task_id": uuid.uuid4().hex,
            "study": study,
            "requester": user,
            "algorithm": "summary",
            "params": {"columns": ["age"]},
            "round": 0,
            "disclosure": {},
            "nonce": secrets.token_hex(16),
            "issued_at": now,
            "expires_at": now + 600,
        }
        body.update(changes)
        return body

    def send(
        self,
        user: str,
        study: str,
        stations: list[str],
        *,
        body: dict[str, Any] | None = None,
        envelope: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """POST a task signed by ``user`` (or the given envelope) to ``stations``."""
        if envelope is None:
            envelope = sign(body or self.body(user, study), self.users[user].keys)
        answer: httpx.Response = self.client.post(
            f"/api/studies/{study}/tasks",
            json={"envelope": envelope, "stations": stations},
            headers=self.users[user].headers,
        )
        return answer

    def task(self, user: str, study: str, stations: list[str]) -> str:
        """Send a task that must be accepted; its id."""
        answer = self.send(user, study, stations)
        assert answer.status_code == 201, answer.text
        task_id: str = answer.json()["task_id"]
        return task_id

    def next(self, station: str, wait: float = 0.0) -> httpx.Response:
        answer: httpx.Response = self.client.get(
            "/api/station/next", params={"wait": wait}, headers=self.stations[station].headers
        )
        return answer

    def answer(
        self, station: str, run_id: int, partial: dict[str, Any], requester: str
    ) -> httpx.Response:
        """Seal ``partial`` for ``requester`` as ``station`` and post it."""
        sealed = seal(partial, self.users[requester].keys.public(), self.stations[station].keys)
        answer: httpx.Response = self.client.post(
            f"/api/station/runs/{run_id}",
            json={"status": "done", "payload": sealed},
            headers=self.stations[station].headers,
        )
        return answer

    def read(self, user: str, task_id: str, wait: float = 0.0) -> httpx.Response:
        answer: httpx.Response = self.client.get(
            f"/api/tasks/{task_id}", params={"wait": wait}, headers=self.users[user].headers
        )
        return answer
