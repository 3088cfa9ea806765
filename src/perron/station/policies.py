"""Where a station gets its study policies, and which one is in force for a task.

The hub stores the signed policies and hands a station those of its organisation
(``GET /api/station/policies``, :class:`HubPolicies`); :class:`StaticPolicies` is the
in-memory twin for tests and simulations. The hub is not trusted with them:
:class:`PolicyBook` accepts a policy only when every signer the holder configured
(``[governance.signers]``) signed it with the configured key
(:func:`~perron.governance.policy.verify_policy`), and only for this holder.

The book caches the verified policies and fetches again when it has no policy in
force for a study (none yet, or the cached one expired), so a newly signed or
amended policy is picked up at the next task. When several verified policies of a
study are in force (an amendment) the one granted last counts; when none is in force
the one granted last is returned, so that the task check names the rule
(``period``). A policy of the study that fails verification makes the study's tasks
fail with that error unless a verified one exists: a hub cannot make the station
fall back to running without the policy by corrupting it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import httpx

from perron.governance.policy import SignedPolicy, StudyPolicy, verify_policy
from perron.governance.roles import Role
from perron.protocol.errors import (
    InputError,
    OutsidePolicy,
    PerronError,
    TamperedMessage,
    TransportError,
)
from perron.protocol.http import check

__all__ = ["HubPolicies", "PolicyBook", "PolicySource", "StaticPolicies", "in_force"]

logger = logging.getLogger(__name__)


class PolicySource(Protocol):
    """Hands out the signed policies of the station's organisation, as wire dicts."""

    def fetch(self) -> Sequence[Mapping[str, Any]]:
        """Every signed policy for this station's organisation (``SignedPolicy.to_wire``)."""
        ...


class HubPolicies:
    """The policies the hub stores for this station's organisation.

    Parameters
    ----------
    client
        The station's client (base URL of the hub, station token).
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def fetch(self) -> Sequence[Mapping[str, Any]]:
        response = self.client.get("/api/station/policies")
        check(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, list) or not all(isinstance(p, dict) for p in body):
            raise TransportError(
                "the hub answered GET /api/station/policies with something other than a "
                "list of signed policies; check that hub and station versions match."
            )
        return body


class StaticPolicies:
    """A fixed set of signed policies (the in-memory twin of :class:`HubPolicies`).

    Parameters
    ----------
    policies
        Signed policies, or their wire form (which may be tampered with, for tests).
    """

    def __init__(self, policies: Iterable[SignedPolicy | Mapping[str, Any]] = ()) -> None:
        self.policies = list(policies)
        #: How often :meth:`fetch` was called (tests check the caching with it).
        self.fetches = 0

    def fetch(self) -> Sequence[Mapping[str, Any]]:
        self.fetches += 1
        return [p.to_wire() if isinstance(p, SignedPolicy) else p for p in self.policies]


def in_force(policy: StudyPolicy, now: datetime) -> bool:
    """Whether ``now`` lies in the policy's validity period."""
    return policy.valid_from <= now < policy.valid_until


class PolicyBook:
    """The verified policies of one holder, by study, fetched when needed.

    Parameters
    ----------
    source
        Where the signed policies come from.
    holder
        This station's organisation; other holders' policies are ignored.
    trusted
        Role -> base64 verify key, from ``[governance.signers]``.
    """

    def __init__(self, source: PolicySource, *, holder: str, trusted: Mapping[Role, str]) -> None:
        self.source = source
        self.holder = holder
        self.trusted = dict(trusted)
        self._verified: dict[str, list[StudyPolicy]] = {}
        self._failed: dict[str, PerronError] = {}

    def policy_for(self, study: str, now: datetime) -> StudyPolicy | None:
        """The verified policy of ``study`` that counts at ``now``, or None if there is none.

        Raises
        ------
        OutsidePolicy, TamperedMessage, InputError
            The study has a policy but none that verifies (not signed by a required
            role; signed with another key or changed after signing; malformed).
        """
        policy = self._pick(study, now)
        if policy is None or not in_force(policy, now):
            self.refresh()
            policy = self._pick(study, now)
        if policy is None and study in self._failed:
            failure = self._failed[study]
            raise type(failure)(str(failure))
        return policy

    def refresh(self) -> None:
        """Fetch every policy again and verify it."""
        verified: dict[str, list[StudyPolicy]] = {}
        failed: dict[str, PerronError] = {}
        for wire in self.source.fetch():
            try:
                signed = SignedPolicy.from_wire(wire)
            except InputError as error:
                study = self._claimed_study(wire)
                logger.warning("ignored a malformed policy (study %r): %s", study, error)
                if study is not None:
                    failed.setdefault(study, error)
                continue
            policy = signed.policy
            if policy.holder != self.holder:
                continue
            try:
                verify_policy(signed, self.trusted)
            except (OutsidePolicy, TamperedMessage) as error:
                logger.warning("policy %s of study %r: %s", policy.policy_id, policy.study, error)
                failed.setdefault(policy.study, error)
                continue
            verified.setdefault(policy.study, []).append(policy)
        self._verified, self._failed = verified, failed

    def _pick(self, study: str, now: datetime) -> StudyPolicy | None:
        candidates = self._verified.get(study, [])
        current = [p for p in candidates if in_force(p, now)] or candidates
        return max(current, key=lambda p: p.granted_at, default=None)

    def _claimed_study(self, wire: Mapping[str, Any]) -> str | None:
        """The study a malformed policy of this holder says it is for, if it says so."""
        policy = wire.get("policy")
        if not isinstance(policy, Mapping) or policy.get("holder") != self.holder:
            return None
        study = policy.get("study")
        return study if isinstance(study, str) else None
