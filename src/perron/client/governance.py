"""The study route from the applicant's and the holders' desks: a client of the hub.

Every person works through their own :class:`Governance` client (their own token);
private keys never leave their machine: a policy is fetched, signed locally and
only the signature is sent.

Examples
--------
>>> desk = Governance.login("http://127.0.0.1:8700", "ana", "...")  # doctest: +SKIP
>>> request_id = desk.submit("lung-survival", EXAMPLE)                # doctest: +SKIP
>>> desk.decide(request_id, "umc-north", "research_question", "go")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from perron.client.connect import hub_client, log_in
from perron.crypto.keys import KeyPair
from perron.governance.policy import SignedPolicy
from perron.governance.request import DataRequest
from perron.governance.roles import Role
from perron.protocol.errors import InputError
from perron.protocol.http import check


class Governance:
    """One person's desk: requests, decisions, documents, drafts and policy signatures."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    @classmethod
    def login(cls, url: str, username: str, password: str) -> Governance:
        """Log in with a username and password."""
        client = hub_client(url)
        try:
            token = log_in(client, username, password)
        except BaseException:
            client.close()
            raise
        client.headers["Authorization"] = f"Bearer {token}"
        return cls(client)

    @classmethod
    def with_token(cls, url: str, token: str) -> Governance:
        """Use an API token (``pu_...``)."""
        client = hub_client(url)
        client.headers["Authorization"] = f"Bearer {token}"
        return cls(client)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Governance:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        check(response)
        return None if response.status_code == 204 else response.json()

    def me(self) -> dict[str, Any]:
        """Who this desk is: username, organisation, roles."""
        return dict(self._json("GET", "/api/me"))

    def register_keys(self, keys: KeyPair) -> None:
        """Publish the public half of ``keys`` (policy signatures are checked against it)."""
        self._json("PUT", "/api/me/keys", json=keys.public().to_dict())

    def submit(self, study: str, request: DataRequest | Mapping[str, Any]) -> str:
        """Send one data request to every holder it names; return its id."""
        parsed = request if isinstance(request, DataRequest) else DataRequest.parse(request)
        body = {"study": study, "request": parsed.model_dump(mode="json")}
        return str(self._json("POST", "/api/requests", json=body)["request_id"])

    def requests(self) -> list[dict[str, Any]]:
        """The requests this person may see."""
        return list(self._json("GET", "/api/requests"))

    def show(self, request_id: str) -> dict[str, Any]:
        """The request (a holder sees only its own part) and the tracks."""
        return dict(self._json("GET", f"/api/requests/{request_id}"))

    def decide(
        self,
        request_id: str,
        holder: str,
        step: str,
        outcome: str,
        *,
        comment: str = "",
        attachments: Iterable[str] = (),
        disclosure: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a go / no-go on ``holder``'s track; return the track."""
        body: dict[str, Any] = {
            "step": step,
            "outcome": outcome,
            "comment": comment,
            "attachments": list(attachments),
        }
        if disclosure is not None:
            body["disclosure"] = dict(disclosure)
        path = f"/api/requests/{request_id}/tracks/{holder}/decisions"
        return dict(self._json("POST", path, json=body))

    def send_back(
        self, request_id: str, holder: str, to: str, *, comment: str = ""
    ) -> dict[str, Any]:
        """Send ``holder``'s track back to an earlier step."""
        path = f"/api/requests/{request_id}/tracks/{holder}/send-back"
        return dict(self._json("POST", path, json={"to": to, "comment": comment}))

    def attach(
        self, request_id: str, name: str, content: str, media_type: str = "text/markdown"
    ) -> str:
        """Attach a document to the request; return its SHA-256 (cite it in a decision)."""
        body = {"name": name, "media_type": media_type, "content": content}
        return str(self._json("POST", f"/api/requests/{request_id}/documents", json=body)["sha256"])

    def draft(
        self, request_id: str, kind: str, *, holder: str | None = None, format: str = "md"
    ) -> str:
        """A generated draft: ``dpia``, ``privacy-matrix`` or ``term-sheet`` (md or html)."""
        params = {"format": format} | ({"holder": holder} if holder else {})
        response = self._client.get(f"/api/requests/{request_id}/drafts/{kind}", params=params)
        check(response)
        return response.text

    def policy(self, request_id: str, holder: str) -> SignedPolicy:
        """The policy of ``holder``'s approved track, with the signatures so far."""
        path = f"/api/requests/{request_id}/tracks/{holder}/policy"
        return SignedPolicy.from_wire(self._json("GET", path))

    def sign_policy(
        self, request_id: str, holder: str, role: Role | str, keys: KeyPair
    ) -> SignedPolicy:
        """Sign the policy locally as ``role`` and send only the signature."""
        me = self.me()
        signed = self.policy(request_id, holder).signed(Role(role), str(me["username"]), keys)
        signature = next(s for s in signed.signatures if s.role is Role(role))
        path = f"/api/requests/{request_id}/tracks/{holder}/policy/signatures"
        return SignedPolicy.from_wire(self._json("POST", path, json=signature.to_wire()))

    def report_results(
        self, request_id: str, summary: str, publications: Iterable[str] = ()
    ) -> None:
        """Report results and publications (shown in the public register)."""
        body = {"summary": summary, "publications": list(publications)}
        self._json("POST", f"/api/requests/{request_id}/results", json=body)


def register(url: str) -> list[dict[str, Any]]:
    """The hub's public study register (no login)."""
    with hub_client(url) as client:
        response = client.get("/api/register")
        check(response)
        entries = response.json()
    if not isinstance(entries, list):
        raise InputError("the hub's register is not a list; is this a Perron hub?")
    return entries
