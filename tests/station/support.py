"""Helpers for the station's governance tests: a cohort, signed policies, signed tasks."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from perron.crypto.envelope import sign, unseal
from perron.crypto.keys import KeyPair
from perron.governance.policy import SignedPolicy, StudyPolicy
from perron.governance.roles import Role
from perron.protocol.messages import Partial
from perron.station.policies import StaticPolicies
from perron.station.runner import StationRunner

HOLDER = "org-north"
STUDY = "whas"
DATASET = "whas"
ID_COLUMN = "patient_id"
#: The columns the test policy permits (whas500 has more: hr, sysbp, ...).
COLUMNS = ("age", "gender", "bmi", "fstat", "lenfol")
DAY = timedelta(days=1)


def with_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a pseudonym column ``patient_id`` (P0000, P0001, ...) in front."""
    out = frame.copy()
    out.insert(0, ID_COLUMN, [f"P{i:04d}" for i in range(len(out))])
    return out


def study_policy(**changes: Any) -> StudyPolicy:
    """A policy of study ``whas`` at ``org-north``, granted 10 days ago, valid for 60 days."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "policy_id": uuid.uuid4().hex,
        "study": STUDY,
        "holder": HOLDER,
        "purpose": "scientific_research",
        "title": "Survival after acute myocardial infarction",
        "algorithms": {
            "summary": {},
            "crosstab": {},
            "kaplan_meier": {},
            "glm": {"family": {"one_of": ["binomial"]}},
        },
        "datasets": {DATASET: COLUMNS},
        "valid_from": now - 30 * DAY,
        "valid_until": now + 30 * DAY,
        "granted_at": now - 10 * DAY,
        "max_tasks": 100,
    }
    fields.update(changes)
    return StudyPolicy(**fields)


@dataclass(frozen=True)
class Signers:
    """The holder's approvers who sign policies: a privacy officer and a legal counsel."""

    privacy_officer: KeyPair
    legal_counsel: KeyPair

    def config(self) -> dict[str, str]:
        """The ``[governance.signers]`` table that trusts them."""
        return {
            "privacy_officer": self.privacy_officer.public().verify_key,
            "legal_counsel": self.legal_counsel.public().verify_key,
        }

    def sign(self, policy: StudyPolicy) -> SignedPolicy:
        return (
            SignedPolicy(policy)
            .signed(Role.PRIVACY_OFFICER, "petra", self.privacy_officer)
            .signed(Role.LEGAL_COUNSEL, "lars", self.legal_counsel)
        )


def make_run(
    researcher: KeyPair,
    algorithm: str = "summary",
    params: dict[str, Any] | None = None,
    *,
    study: str = STUDY,
    disclosure: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A run as the hub delivers it: a task signed by ``researcher``."""
    now = time.time()
    body = {
        "task_id": uuid.uuid4().hex,
        "study": study,
        "requester": "ana",
        "algorithm": algorithm,
        "params": {"columns": ["age"]} if params is None else params,
        "round": 0,
        "disclosure": disclosure or {},
        "nonce": secrets.token_hex(16),
        "issued_at": now,
        "expires_at": now + 300,
    }
    return {
        "run_id": 1,
        "task_id": body["task_id"],
        "study": {"name": study, "organisations": [HOLDER, "org-research"]},
        "envelope": sign(body, researcher),
        "requester": {"username": "ana", **researcher.public().to_dict()},
    }


def answer(runner: StationRunner, researcher: KeyPair, run: dict[str, Any]) -> Partial:
    """Deliver ``run`` to the station and open its sealed answer."""
    _, sealed = runner.answer(run)
    return Partial.from_wire(unseal(sealed, researcher, runner.keys.public()))


def error_kind(partial: Partial) -> str:
    assert partial.error is not None, partial.payload
    return str(partial.error["kind"])


def audit_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of an audit log, oldest first."""
    return [json.loads(line)["entry"] for line in path.read_text().splitlines()]


def policy_source(runner: StationRunner) -> StaticPolicies:
    """The in-memory policy source a test station was made with."""
    book = runner.governor.book
    assert book is not None
    assert isinstance(book.source, StaticPolicies)
    return book.source
