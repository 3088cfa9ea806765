"""A populated hub for tests: organisations, users, stations, studies and their keys.

:meth:`World.standard` is the task-relay world (organisations A, B, C);
:meth:`World.governance` is the world of the example data request
(:data:`perron.governance.request.EXAMPLE`): applicant ``ana`` of ``research`` and
the holders ``umc-north``, ``insurer-east`` and ``pharmacy-west``.
"""

from __future__ import annotations

import copy
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import text

from perron.crypto.envelope import seal, sign
from perron.crypto.keys import KeyPair
from perron.governance.policy import SignedPolicy
from perron.governance.request import EXAMPLE
from perron.governance.roles import Role
from perron.governance.route import APPROVING, Step
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
#: The roles that lead the holder's steps of the route.
HOLDER_ROLES = (
    Role.DATA_MANAGER,
    Role.PRIVACY_OFFICER,
    Role.LEGAL_COUNSEL,
    Role.IT_ADMIN,
    Role.SECURITY_OFFICER,
)
#: Holder organisation -> (its steward, who holds every holder role; its station).
HOLDERS = {
    "umc-north": ("nora", "st-north"),
    "insurer-east": ("ivan", "st-east"),
    "pharmacy-west": ("pia", "st-west"),
}


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

    @classmethod
    def governance(cls, client: TestClient, database_url: str) -> World:
        """The world of :data:`EXAMPLE`.

        Organisation ``research``: applicant ``ana``, ``rosa`` (a member of the
        applicant's studies once ``ana`` applies, see :meth:`submit`) and ``rik``
        (not a member). Each holder: a steward holding every holder role (``nora``,
        ``ivan``, ``pia``), a ``clerk`` without roles (``nick`` of umc-north) and a
        station (``st-north``, ``st-east``, ``st-west``). Organisation
        ``elsewhere``: ``olaf`` and station ``st-else``. Hub admin ``root`` of
        ``elsewhere``. Everyone has registered keys.
        """
        world = cls(client, database_url)
        for org in ("research", *HOLDERS, "elsewhere"):
            world.org(org)
        for name in ("ana", "rosa", "rik"):
            world.user(name, "research")
        for org, (steward, station) in HOLDERS.items():
            world.user(steward, org)
            world.grant(steward, *HOLDER_ROLES)
            world.station(station, org)
        world.user("nick", "umc-north")
        world.user("olaf", "elsewhere")
        world.user("root", "elsewhere", role="admin")
        world.station("st-else", "elsewhere")
        world.station("st-research", "research")
        return world

    # Population, through the admin functions and the API.

    def grant(self, username: str, *roles: Role | str) -> None:
        with self.hub.sessions() as session:
            admin.grant_roles(session, username, roles)

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
        wait: float | None = None,
    ) -> httpx.Response:
        """POST a task signed by ``user`` (or the given envelope) to ``stations``."""
        if envelope is None:
            envelope = sign(body or self.body(user, study), self.users[user].keys)
        answer: httpx.Response = self.client.post(
            f"/api/studies/{study}/tasks",
            json={"envelope": envelope, "stations": stations},
            params={} if wait is None else {"wait": wait},
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
        self,
        station: str,
        run_id: int,
        partial: dict[str, Any],
        requester: str,
        next_wait: float | None = None,
    ) -> httpx.Response:
        """Seal ``partial`` for ``requester`` as ``station`` and post it."""
        sealed = seal(partial, self.users[requester].keys.public(), self.stations[station].keys)
        answer: httpx.Response = self.client.post(
            f"/api/station/runs/{run_id}",
            json={"status": "done", "payload": sealed},
            params={} if next_wait is None else {"next_wait": next_wait},
            headers=self.stations[station].headers,
        )
        return answer

    def read(self, user: str, task_id: str, wait: float = 0.0) -> httpx.Response:
        answer: httpx.Response = self.client.get(
            f"/api/tasks/{task_id}", params={"wait": wait}, headers=self.users[user].headers
        )
        return answer

    # Governance.

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the API as user (or station) ``who``."""
        principal = self.users.get(who) or self.stations[who]
        answer: httpx.Response = self.client.request(
            method, path, headers=principal.headers, **kwargs
        )
        return answer

    def submit(
        self,
        user: str = "ana",
        study: str = "lung-survival",
        *,
        members: Iterable[str] = ("rosa",),
        **changes: Any,
    ) -> httpx.Response:
        """POST :data:`EXAMPLE` (with ``changes``) for ``study`` as ``user``.

        When accepted, ``members`` are added to the study (the applicant's side).
        """
        request = copy.deepcopy(EXAMPLE) | changes
        answer = self.call(user, "POST", "/api/requests", json={"study": study, "request": request})
        if answer.status_code == 201:
            with self.hub.sessions() as session:
                for member in members:
                    admin.add_user_to_study(session, study, member)
        return answer

    def request(self, study: str = "lung-survival", **changes: Any) -> str:
        """Submit a request that must be accepted; its id."""
        answer = self.submit(study=study, **changes)
        assert answer.status_code == 201, answer.text
        request_id: str = answer.json()["request_id"]
        return request_id

    def decide(
        self,
        who: str,
        request_id: str,
        holder: str,
        step: Step | str,
        outcome: str = "go",
        **body: Any,
    ) -> httpx.Response:
        path = f"/api/requests/{request_id}/tracks/{holder}/decisions"
        return self.call(who, "POST", path, json={"step": str(step), "outcome": outcome, **body})

    def send_back(
        self, who: str, request_id: str, holder: str, to: Step | str, comment: str = ""
    ) -> httpx.Response:
        path = f"/api/requests/{request_id}/tracks/{holder}/send-back"
        return self.call(who, "POST", path, json={"to": str(to), "comment": comment})

    def go(self, request_id: str, holder: str, *, until: Step = Step.ANALYSIS) -> dict[str, Any]:
        """Decide "go" on every step of ``holder``'s track before ``until``; the track."""
        track: dict[str, Any] = {}
        for step in APPROVING[APPROVING.index(Step(self.track(request_id, holder)["current"])) :]:
            if step is until:
                break
            who = "ana" if not step.on_holder_side else HOLDERS[holder][0]
            answer = self.decide(who, request_id, holder, step)
            assert answer.status_code == 200, answer.text
            track = answer.json()
        return track

    def track(self, request_id: str, holder: str, who: str = "ana") -> dict[str, Any]:
        answer = self.call(who, "GET", f"/api/requests/{request_id}")
        assert answer.status_code == 200, answer.text
        track: dict[str, Any] = answer.json()["tracks"][holder]
        return track

    def policy(self, request_id: str, holder: str, who: str = "ana") -> httpx.Response:
        return self.call(who, "GET", f"/api/requests/{request_id}/tracks/{holder}/policy")

    def sign(
        self,
        who: str,
        request_id: str,
        holder: str,
        role: Role,
        *,
        keys: KeyPair | None = None,
        policy: SignedPolicy | None = None,
    ) -> httpx.Response:
        """Sign ``holder``'s policy (as fetched, or ``policy``) as ``who`` and post it."""
        if policy is None:
            answer = self.policy(request_id, holder, who)
            assert answer.status_code == 200, answer.text
            policy = SignedPolicy.from_wire(answer.json())
        signed = policy.signed(role, who, keys or self.users[who].keys)
        signature = next(s for s in signed.signatures if s.role is role)
        path = f"/api/requests/{request_id}/tracks/{holder}/policy/signatures"
        return self.call(who, "POST", path, json=signature.to_wire())

    def study_organisations(self, study: str = "lung-survival") -> list[str]:
        rows = self.sql(
            "SELECT o.name FROM organisations o JOIN study_organisations so "
            "ON so.organisation_id = o.id JOIN studies s ON s.id = so.study_id "
            "WHERE s.name = :study ORDER BY o.name",
            study=study,
        )
        return [row[0] for row in rows]
