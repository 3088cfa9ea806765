"""Governance as code at the station: every task under its study's signed policy.

Before a task runs, :meth:`Governor.admit` decides, in this order:

1. **the policy** of the task's study for this holder (:class:`~.policies.PolicyBook`:
   fetched from the hub, verified against the signers the holder trusts). Without
   one the task runs as before, unless ``require_policy`` is set (rule ``required``);
2. **the task check** (:func:`~perron.governance.policy.check_task`): period,
   ``max_tasks`` (counted by :class:`~.counter.TaskCounter`), algorithm, parameter
   bounds, dataset, and the privacy budget (the epsilon a noisy task spends is
   charged in the same ledger; its answer and every audit entry show what is left,
   :meth:`Governor.budget`);
3. **the disclosure settings**: the holder's, tightened by the policy's where these
   are stricter (a looser policy setting leaves the holder's in place); the task's
   own request may then only tighten further (:class:`~.node.Station`);
4. **the cohort**: the policy's columns of this dataset without the identifier
   column, and the rows of everyone not excluded by an objection at this moment
   (:mod:`.objections`, :mod:`.view`). A column outside the policy is refused when
   the algorithm asks for it (rule ``column``).

A refusal is an :class:`~perron.protocol.errors.OutsidePolicy` (or the
``TamperedMessage`` of a policy whose signature does not verify) that the researcher
gets by name; :func:`policy_rule` reads the rule back for the audit log. A task
refused by the policy does not count towards ``max_tasks``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from perron.data.linkage import LinkKeys
from perron.data.source import DataSource
from perron.governance.policy import StudyPolicy, check_task, requested_epsilon
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import (
    InputError,
    LooseningRejected,
    OutsidePolicy,
    PerronError,
)
from perron.protocol.messages import Partial, Task
from perron.station.config import GovernanceSettings
from perron.station.counter import TaskCounter
from perron.station.objections import ObjectionRegister
from perron.station.policies import PolicyBook
from perron.station.view import DatasetView

__all__ = ["Admission", "Governor", "policy_rule", "tightened_by_policy"]

logger = logging.getLogger(__name__)

_RULE = re.compile(r"policy rule '([a-z_]+)'")


def policy_rule(error: Mapping[str, object] | PerronError | None) -> str | None:
    """The policy rule a refusal names (from the error or its wire form), if any.

    Examples
    --------
    >>> policy_rule({"kind": "OutsidePolicy", "message": "policy rule 'column': ..."})
    'column'
    >>> policy_rule({"kind": "TamperedMessage", "message": "a signature does not verify"})
    'signature'
    """
    if error is None:
        return None
    if isinstance(error, PerronError):
        kind, message = type(error).__name__, str(error)
    else:
        kind, message = str(error.get("kind")), str(error.get("message", ""))
    if kind == "TamperedMessage":
        return "signature"
    if kind != "OutsidePolicy":
        return None
    found = _RULE.search(message)
    return found.group(1) if found else None


def tightened_by_policy(holder: DisclosurePolicy, settings: Mapping[str, Any]) -> DisclosurePolicy:
    """The holder's disclosure settings, tightened by a policy's stricter ones.

    A policy setting looser than the holder's is ignored (the holder's own rule
    stays); an unknown setting raises ``InputError``.

    Examples
    --------
    >>> holder = DisclosurePolicy(min_cell=10)
    >>> policy = tightened_by_policy(holder, {"min_cell": 5, "min_rows": 50})
    >>> policy.min_cell, policy.min_rows
    (10, 50)
    """
    stricter: dict[str, Any] = {}
    for name, value in settings.items():
        try:
            holder.tightened({name: value})
        except LooseningRejected:
            logger.warning("policy setting %s=%r is looser; the holder's stays", name, value)
            continue
        except InputError:
            pass  # judged with the others below (event_times="rounded" needs time_grid)
        stricter[name] = value
    return holder.tightened(stricter)


@dataclass(frozen=True)
class Admission:
    """What the station decided about one task before running it.

    Either ``refusal`` is set, or ``source`` and ``disclosure`` are: the data the task
    may see and the disclosure settings it runs under.
    """

    at: datetime
    dataset: str
    policy: StudyPolicy | None = None
    refusal: PerronError | None = None
    source: DataSource | None = None
    disclosure: DisclosurePolicy | None = None
    #: People in the dataset left out because of their objection.
    excluded: int = 0
    #: The link keys a linkage protocol may use (objectors left out), if any.
    linkage: LinkKeys | None = None
    apply_to_earlier: bool = False

    @property
    def rule(self) -> str | None:
        """The policy rule of the refusal, if any."""
        return policy_rule(self.refusal)

    def cohort(self) -> dict[str, Any] | None:
        """How the task's cohort was assembled (for the audit log), None if refused."""
        if self.refusal is not None:
            return None
        granted = None if self.policy is None else self.policy.granted_at.isoformat()
        return {
            "dataset": self.dataset,
            "at": self.at.isoformat(),
            "policy_granted_at": granted,
            "objections_apply_to_earlier": self.apply_to_earlier,
            "excluded": self.excluded,
        }


def _now() -> datetime:
    return datetime.now(UTC)


class Governor:
    """Applies the study policies and the objection register to every task.

    Parameters
    ----------
    view
        The station's dataset.
    objections
        The holder's objection register.
    counter
        Tasks run per policy.
    settings
        The ``[governance]`` settings.
    holder_disclosure
        The holder's disclosure settings (``[disclosure]``).
    book
        The verified policies; ``None`` when the holder trusts no signers (then tasks
        run without a policy).
    clock
        The current time (default: the system clock, UTC).
    """

    def __init__(
        self,
        view: DatasetView,
        objections: ObjectionRegister,
        counter: TaskCounter,
        settings: GovernanceSettings,
        holder_disclosure: DisclosurePolicy,
        *,
        book: PolicyBook | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.view = view
        self.objections = objections
        self.counter = counter
        self.settings = settings
        self.holder_disclosure = holder_disclosure
        self.book = book
        self.clock = clock or _now

    def admit(self, study: str, task_id: str, task: Task) -> Admission:
        """Decide whether and how ``task`` of ``study`` runs (see the module docstring)."""
        at = self.clock()
        dataset = self.view.name
        apply = self.settings.objections_apply_to_earlier
        policy: StudyPolicy | None = None
        try:
            policy = None if self.book is None else self.book.policy_for(study, at)
            if policy is None:
                if self.settings.require_policy:
                    raise OutsidePolicy(
                        f"policy rule 'required': study {study!r} has no signed policy for "
                        "this data holder, and its station runs tasks only under one; the "
                        "holder's approvers must sign the study's policy first."
                    )
                columns: tuple[str, ...] | None = None
                disclosure = self.holder_disclosure
            else:
                check_task(
                    policy,
                    algorithm=task.algorithm,
                    params=task.params,
                    dataset=dataset,
                    now=at,
                    tasks_used=self.counter.used(policy.policy_id),
                    epsilon_spent=self.counter.spent(policy.policy_id),
                )
                columns = policy.columns_of(dataset)
                disclosure = tightened_by_policy(self.holder_disclosure, policy.disclosure)
            granted = None if policy is None else policy.granted_at
            excluded = self.objections.excluded(granted, apply, at=at)
            source = self.view.source(columns, excluded, study=study)
            linkage = self.view.linkage(columns, excluded)
            epsilon = 0.0 if policy is None else requested_epsilon(task.params)
            budget = None if policy is None or policy.budget is None else policy.budget.epsilon
            if policy is not None and not self.counter.claim(
                policy.policy_id, task_id, policy.max_tasks, epsilon, budget
            ):
                raise OutsidePolicy(
                    f"policy rule 'max_tasks' or 'budget': study {study!r} has used all "
                    f"{policy.max_tasks} tasks or its privacy budget at this holder (another "
                    "task took the last of it just now); ask for an amended policy."
                )
        except PerronError as error:
            return Admission(at, dataset, policy, refusal=error, apply_to_earlier=apply)
        return Admission(
            at,
            dataset,
            policy,
            source=source,
            disclosure=disclosure,
            excluded=len(excluded & self.view.ids),
            apply_to_earlier=apply,
            linkage=linkage,
        )

    def budget(self, policy: StudyPolicy | None) -> dict[str, float] | None:
        """The study's privacy budget at this holder: granted, spent and remaining.

        ``None`` without a policy or when the policy grants no budget.
        """
        if policy is None or policy.budget is None:
            return None
        granted, spent = policy.budget.epsilon, self.counter.spent(policy.policy_id)
        return {"epsilon": granted, "spent": spent, "remaining": max(granted - spent, 0.0)}

    def with_budget(self, admission: Admission, task: Task, partial: Partial) -> Partial:
        """``partial`` with the study's budget (``budget``) after a task that spent some,
        so the researcher sees what is spent and left at this holder."""
        budget = self.budget(admission.policy)
        if budget is None or partial.payload is None or not requested_epsilon(task.params):
            return partial
        return replace(partial, payload={**partial.payload, "budget": budget})

    def settle(self, admission: Admission, task_id: str, partial: Partial) -> None:
        """After the run: a task the policy refused (a column outside it) does not count."""
        error = partial.error
        if admission.policy is not None and error and error.get("kind") == "OutsidePolicy":
            self.counter.release(task_id)
