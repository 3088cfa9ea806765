"""The study policy: the agreed terms of one holder's track, signed and enforced.

When a holder's track is approved (:mod:`perron.governance.route`), the terms of the
data request become a :class:`StudyPolicy`: study, purpose, permitted algorithms
and their parameter bounds, datasets and columns, disclosure settings (which may
only tighten the holder's own), validity period, maximum number of tasks and an
optional privacy budget. The holder's approvers (the leads of its steps) each sign
the policy's canonical JSON with their Ed25519 key. A station trusts the keys its
holder configured, not the hub: :func:`verify_policy` accepts a policy only when
every role the station requires has signed it with the key configured for that
role, so a hub cannot forge or widen a policy.

:func:`check_task` is the station's check of one task against the policy; it raises
:class:`~perron.protocol.errors.OutsidePolicy` naming the rule. Columns are
enforced by the station through the data seam (only the policy's columns of the
dataset are visible to a task), see :meth:`StudyPolicy.columns_of`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from perron.crypto.envelope import canonical
from perron.crypto.keys import KeyPair, b64, unb64
from perron.governance.request import DataRequest, Pet
from perron.governance.roles import Role
from perron.protocol.errors import InputError, OutsidePolicy, TamperedMessage
from perron.protocol.messages import SECURE_AGGREGATION

POLICY_VERSION = 1


@dataclass(frozen=True)
class Budget:
    """A differential-privacy budget for the whole study at this holder."""

    epsilon: float
    delta: float = 0.0


@dataclass(frozen=True)
class StudyPolicy:
    """What a holder permits a study to do with its data (see the module docstring)."""

    policy_id: str
    study: str
    holder: str
    purpose: str
    title: str
    algorithms: Mapping[str, Mapping[str, Mapping[str, Any]]]
    datasets: Mapping[str, tuple[str, ...]]
    valid_from: datetime
    valid_until: datetime
    granted_at: datetime
    max_tasks: int
    disclosure: Mapping[str, Any] = field(default_factory=dict)
    budget: Budget | None = None
    #: Every task must run under secure aggregation (at least three stations).
    secure_aggregation: bool = False

    def to_wire(self) -> dict[str, Any]:
        """The policy as JSON (what is signed)."""
        # Optional terms appear only when set, so earlier policies keep their signatures.
        optional = {"secure_aggregation": True} if self.secure_aggregation else {}
        return {
            **optional,
            "version": POLICY_VERSION,
            "policy_id": self.policy_id,
            "study": self.study,
            "holder": self.holder,
            "purpose": self.purpose,
            "title": self.title,
            "algorithms": {
                name: {param: dict(bound) for param, bound in bounds.items()}
                for name, bounds in sorted(self.algorithms.items())
            },
            "datasets": {name: list(cols) for name, cols in sorted(self.datasets.items())},
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "granted_at": self.granted_at.isoformat(),
            "max_tasks": self.max_tasks,
            "disclosure": dict(self.disclosure),
            "budget": None
            if self.budget is None
            else {"epsilon": self.budget.epsilon, "delta": self.budget.delta},
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> StudyPolicy:
        """Read a policy; ``InputError`` if a field is missing or malformed."""
        try:
            if wire["version"] != POLICY_VERSION:
                raise InputError(
                    f"policy version {wire['version']!r} is not supported (this Perron "
                    f"reads version {POLICY_VERSION}); upgrade the station."
                )
            budget = wire.get("budget")
            return cls(
                policy_id=str(wire["policy_id"]),
                study=str(wire["study"]),
                holder=str(wire["holder"]),
                purpose=str(wire["purpose"]),
                title=str(wire["title"]),
                algorithms={
                    str(name): {str(p): dict(b) for p, b in dict(bounds).items()}
                    for name, bounds in dict(wire["algorithms"]).items()
                },
                datasets={
                    str(name): tuple(str(c) for c in cols)
                    for name, cols in dict(wire["datasets"]).items()
                },
                valid_from=_when(wire["valid_from"]),
                valid_until=_when(wire["valid_until"]),
                granted_at=_when(wire["granted_at"]),
                max_tasks=int(wire["max_tasks"]),
                disclosure=dict(wire.get("disclosure") or {}),
                budget=None
                if budget is None
                else Budget(float(budget["epsilon"]), float(budget.get("delta", 0.0))),
                secure_aggregation=bool(wire.get("secure_aggregation", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"the policy is malformed ({exc!r}); ask for a new one.") from exc

    def columns_of(self, dataset: str) -> tuple[str, ...]:
        """The columns of ``dataset`` a task may use.

        Raises
        ------
        OutsidePolicy
            The dataset is not in the policy.
        """
        if dataset not in self.datasets:
            raise OutsidePolicy(
                f"policy rule 'dataset': dataset {dataset!r} is not part of the policy of "
                f"study {self.study!r} at {self.holder!r} (it permits "
                f"{sorted(self.datasets)}); ask for an amended policy."
            )
        return self.datasets[dataset]


def _when(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def policy_from_request(
    request: DataRequest,
    *,
    study: str,
    holder: str,
    granted_at: datetime,
    disclosure: Mapping[str, Any] | None = None,
    policy_id: str | None = None,
) -> StudyPolicy:
    """The policy that the approved request gives ``holder`` (before signatures)."""
    own = request.variables_of(holder)
    return StudyPolicy(
        policy_id=policy_id or uuid.uuid4().hex,
        study=study,
        holder=holder,
        purpose=request.purpose.value,
        title=request.title,
        algorithms={a.algorithm: dict(a.bounds) for a in request.analyses},
        datasets=own,
        valid_from=datetime.combine(request.period.start, time(), UTC),
        valid_until=datetime.combine(request.period.end, time(), UTC),
        granted_at=granted_at,
        max_tasks=request.max_tasks,
        disclosure=dict(disclosure or {}),
        budget=None if request.privacy_budget is None else Budget(request.privacy_budget),
        secure_aggregation=Pet.SECURE_AGGREGATION in request.pets,
    )


@dataclass(frozen=True)
class Signature:
    """One approver's signature over the policy's canonical JSON."""

    role: Role
    signer: str
    verify_key: str
    signature: str

    def to_wire(self) -> dict[str, str]:
        return {
            "role": self.role.value,
            "signer": self.signer,
            "verify_key": self.verify_key,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class SignedPolicy:
    """A policy with its approvers' signatures (as stored at the hub and sent to stations)."""

    policy: StudyPolicy
    signatures: tuple[Signature, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_wire(),
            "signatures": [s.to_wire() for s in self.signatures],
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> SignedPolicy:
        try:
            signatures = tuple(
                Signature(
                    Role(s["role"]), str(s["signer"]), str(s["verify_key"]), str(s["signature"])
                )
                for s in wire.get("signatures", ())
            )
            return cls(StudyPolicy.from_wire(wire["policy"]), signatures)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"the signed policy is malformed ({exc!r}).") from exc

    def signed(self, role: Role, signer: str, keys: KeyPair) -> SignedPolicy:
        """This policy with one more signature (replacing an earlier one of ``role``)."""
        raw = keys.signing.sign(canonical(self.policy.to_wire())).signature
        signature = Signature(role, signer, keys.public().verify_key, b64(raw))
        kept = tuple(s for s in self.signatures if s.role is not role)
        return SignedPolicy(self.policy, (*kept, signature))

    def signature_valid(self, signature: Signature) -> bool:
        """Whether ``signature`` verifies over this policy with its own verify key."""
        try:
            VerifyKey(unb64(signature.verify_key)).verify(
                canonical(self.policy.to_wire()), unb64(signature.signature)
            )
        except (BadSignatureError, CryptoError, ValueError, TypeError):
            return False
        return True


def verify_policy(signed: SignedPolicy, trusted: Mapping[Role, str]) -> StudyPolicy:
    """The policy, if every role in ``trusted`` signed it with the key given there.

    Parameters
    ----------
    trusted
        Role -> base64 Ed25519 verify key, as the holder configured at its station.

    Raises
    ------
    OutsidePolicy
        No trusted signers are configured, or a required role has not signed.
    TamperedMessage
        A required signature does not verify (the policy was changed after signing,
        or signed with another key).
    """
    if not trusted:
        raise OutsidePolicy(
            "policy rule 'signature': the station trusts no policy signers; configure "
            "[governance.signers] in station.toml."
        )
    by_role = {s.role: s for s in signed.signatures}
    for role, key in sorted(trusted.items()):
        signature = by_role.get(role)
        if signature is None:
            raise OutsidePolicy(
                f"policy rule 'signature': the policy of study {signed.policy.study!r} is "
                f"not signed by the {role.label}; it is not in force yet."
            )
        if signature.verify_key != key or not signed.signature_valid(signature):
            raise TamperedMessage(
                f"the {role.label}'s signature on the policy of study "
                f"{signed.policy.study!r} does not verify with the key this station trusts; "
                "the policy was changed or signed by someone else. It was rejected."
            )
    return signed.policy


def check_task(
    policy: StudyPolicy,
    *,
    algorithm: str,
    params: Mapping[str, Any],
    dataset: str,
    now: datetime,
    tasks_used: int,
    epsilon_spent: float = 0.0,
) -> None:
    """Refuse a task outside ``policy`` (the columns are enforced through the data seam).

    A task that releases noisy (differentially private) output names the privacy
    loss it spends in ``params["epsilon"]``; ``epsilon_spent`` is what the study has
    spent at this holder so far (the station's ledger).

    Raises
    ------
    OutsidePolicy
        Naming the rule: ``period``, ``max_tasks``, ``algorithm``, ``parameter``,
        ``budget`` or ``dataset``.
    """
    study = policy.study
    if now < policy.valid_from or now >= policy.valid_until:
        raise OutsidePolicy(
            f"policy rule 'period': the policy of study {study!r} is valid from "
            f"{policy.valid_from.date()} until {policy.valid_until.date()}; today it is not."
        )
    if tasks_used >= policy.max_tasks:
        raise OutsidePolicy(
            f"policy rule 'max_tasks': study {study!r} has used all {policy.max_tasks} "
            "tasks its policy allows at this holder; ask for an amended policy."
        )
    if policy.secure_aggregation:
        _check_secure(study, params)
    if algorithm not in policy.algorithms:
        raise OutsidePolicy(
            f"policy rule 'algorithm': {algorithm!r} is not among the analyses agreed for "
            f"study {study!r} ({sorted(policy.algorithms)})."
        )
    for param, bound in policy.algorithms[algorithm].items():
        if param in params:
            _check_bound(study, algorithm, param, params[param], bound)
        elif bound.get("required") is True:
            raise OutsidePolicy(
                f"policy rule 'parameter': {algorithm}.{param} must be given in study "
                f"{study!r} (its policy fixes it); the task leaves it out."
            )
    check_budget(policy, requested_epsilon(params), epsilon_spent)
    policy.columns_of(dataset)


def _check_secure(study: str, params: Mapping[str, Any]) -> None:
    """Under a policy that requires it, every task runs under secure aggregation with at
    least three stations (a keys round names none yet)."""
    spec = params.get(SECURE_AGGREGATION)
    if not isinstance(spec, Mapping):
        raise OutsidePolicy(
            f"policy rule 'secure_aggregation': study {study!r} requires secure aggregation; "
            "run the analysis with secure aggregation on (session.secure_aggregation = True)."
        )
    if spec.get("stage") != "keys" and len(spec.get("keys", {})) < 3:
        raise OutsidePolicy(
            f"policy rule 'secure_aggregation': study {study!r} requires at least three "
            "stations in every secure sum; this task names fewer."
        )


def requested_epsilon(params: Mapping[str, Any]) -> float:
    """The privacy loss a task asks to spend (0 for an exact, noise-free task).

    Raises
    ------
    OutsidePolicy
        ``epsilon`` is not a positive finite number.

    Examples
    --------
    >>> requested_epsilon({"columns": ["age"]}), requested_epsilon({"epsilon": 0.5})
    (0.0, 0.5)
    """
    value = params.get("epsilon", 0.0)
    if value == 0.0 and "epsilon" not in params:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise OutsidePolicy(
            f"policy rule 'budget': epsilon = {value!r} is not a positive, finite privacy loss."
        )
    return float(value)


def check_budget(policy: StudyPolicy, epsilon: float, spent: float) -> None:
    """Refuse a task whose privacy loss would exceed the study's budget at this holder.

    Raises
    ------
    OutsidePolicy
        Rule ``budget``: the policy grants no budget, or it would be exceeded.
    """
    if epsilon == 0.0:
        return
    if policy.budget is None:
        raise OutsidePolicy(
            f"policy rule 'budget': the policy of study {policy.study!r} grants no privacy "
            "budget, so no noisy (differentially private) output may be released."
        )
    if spent + epsilon > policy.budget.epsilon * (1 + 1e-12):
        raise OutsidePolicy(
            f"policy rule 'budget': study {policy.study!r} has {policy.budget.epsilon:g} "
            f"epsilon at this holder and has spent {spent:g}; a task asking {epsilon:g} "
            "would exceed it. Ask for an amended policy."
        )


def _check_bound(
    study: str, algorithm: str, param: str, value: Any, bound: Mapping[str, Any]
) -> None:
    unknown = sorted(set(bound) - {"min", "max", "one_of", "required"})
    if unknown:
        # Fail closed: a bound the station cannot read must not pass as no bound.
        raise OutsidePolicy(
            f"policy rule 'parameter': the bound of {algorithm}.{param} in study {study!r} "
            f"uses {unknown}, which this station does not understand; upgrade the station "
            "or ask for an amended policy."
        )
    where = f"policy rule 'parameter': {algorithm}.{param} = {value!r} is outside"
    if "one_of" in bound and not _one_of(value, bound["one_of"]):
        raise OutsidePolicy(f"{where} the agreed values {bound['one_of']} of study {study!r}.")
    # NaN compares false with every bound and True is an int: neither is in a range.
    if ("min" in bound or "max" in bound) and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise OutsidePolicy(f"{where} the agreed numeric range of study {study!r}.")
    if "min" in bound and value < bound["min"]:
        raise OutsidePolicy(f"{where} the agreed minimum {bound['min']} of study {study!r}.")
    if "max" in bound and value > bound["max"]:
        raise OutsidePolicy(f"{where} the agreed maximum {bound['max']} of study {study!r}.")


def _one_of(value: Any, allowed: Any) -> bool:
    """Whether ``value`` is one of ``allowed`` (a list; ``True`` does not match ``1``)."""
    if not isinstance(allowed, list | tuple):
        return False  # a string would otherwise match its substrings
    return any(
        value == option and isinstance(value, bool) == isinstance(option, bool)
        for option in allowed
    )
