"""The station's checks on a delivered run, without a hub: signature, study,
requester, replay and expiry; and what it seals and audits."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from perron.crypto.audit import verify_audit_log
from perron.crypto.envelope import sign, unseal
from perron.crypto.keys import KeyPair
from perron.protocol.messages import Partial
from perron.station.config import StationConfig
from perron.station.runner import StationRunner


@pytest.fixture
def researcher() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def runner(tmp_path: Path, lbw: pd.DataFrame) -> Iterator[StationRunner]:
    lbw.to_csv(tmp_path / "data.csv", index=False)
    KeyPair.generate().save(tmp_path / "keys")
    (tmp_path / "station.token").write_text("ps_unused")
    config = StationConfig.from_mapping(
        {
            "name": "north",
            "organisation": "org-north",
            "hub_url": "http://127.0.0.1:9",
            "dataset": "data.csv",
            "allowed_requesters": ["ana"],
        },
        tmp_path,
    )
    station = StationRunner(config)
    yield station
    station.close()


def _run(researcher: KeyPair, **changes: Any) -> dict[str, Any]:
    now = time.time()
    body = {
        "task_id": uuid.uuid4().hex,
        "study": "lbw",
        "requester": "ana",
        "algorithm": "summary",
        "params": {"columns": ["age"]},
        "round": 0,
        "disclosure": {},
        "nonce": secrets.token_hex(16),
        "issued_at": now,
        "expires_at": now + 300,
    }
    body.update(changes.pop("body", {}))
    run = {
        "run_id": 1,
        "task_id": body["task_id"],
        "study": {"name": "lbw", "organisations": ["org-north", "org-research"]},
        "envelope": sign(body, researcher),
        "requester": {"username": "ana", **researcher.public().to_dict()},
    }
    run.update(changes)
    return run


def _open(runner: StationRunner, researcher: KeyPair, sealed: str) -> Partial:
    return Partial.from_wire(unseal(sealed, researcher, runner.keys.public()))


def test_a_valid_task_is_answered_sealed_for_the_requester(runner, researcher):
    status, sealed = runner.answer(_run(researcher))

    assert status == "done"
    partial = _open(runner, researcher, sealed)
    assert partial.payload is not None
    assert partial.payload["columns"]["age"]["n"] == 189
    # Ciphertext, not plaintext: the words of the partial are not in the sealed
    # bytes. (A three-digit count is no test: base64 of random bytes holds "189"
    # about once in every few hundred sealings.)
    raw = base64.b64decode(sealed)
    for word in (b'"payload"', b'"columns"', b'"age"', b'"signature"'):
        assert word not in raw


def test_a_tampered_task_is_rejected(runner, researcher):
    run = _run(researcher)
    run["envelope"]["body"]["params"] = {"columns": ["lwt"]}

    status, sealed = runner.answer(run)

    assert status == "failed"
    assert _open(runner, researcher, sealed).error["kind"] == "TamperedMessage"  # type: ignore[index]


def test_a_task_for_another_requester_than_signed_is_rejected(runner, researcher):
    run = _run(researcher, body={"requester": "mallory"})

    status, sealed = runner.answer(run)

    assert _open(runner, researcher, sealed).error["kind"] == "TamperedMessage"  # type: ignore[index]
    assert status == "failed"


def test_a_study_without_the_stations_organisation_is_refused(runner, researcher):
    run = _run(researcher, study={"name": "lbw", "organisations": ["org-south"]})

    _, sealed = runner.answer(run)

    assert _open(runner, researcher, sealed).error["kind"] == "NotAuthorized"  # type: ignore[index]


def test_a_requester_not_on_the_allow_list_is_refused(runner, researcher):
    run = _run(
        researcher,
        body={"requester": "bob"},
        requester={"username": "bob", **researcher.public().to_dict()},
    )

    _, sealed = runner.answer(run)

    assert _open(runner, researcher, sealed).error["kind"] == "NotAuthorized"  # type: ignore[index]


def test_a_redelivered_task_gets_the_same_answer_without_a_second_run(runner, researcher):
    run = _run(researcher)

    first = runner.answer(run)
    again = runner.answer(run)

    assert again == first
    entries = verify_audit_log(runner.config.audit_log)
    assert entries == 1


def test_a_replayed_task_with_other_content_is_rejected(runner, researcher):
    run = _run(researcher)
    runner.answer(run)
    replay = _run(researcher, body={"task_id": run["task_id"], "params": {"columns": ["lwt"]}})

    status, sealed = runner.answer(replay)

    assert status == "failed"
    assert _open(runner, researcher, sealed).error["kind"] == "ReplayedTask"  # type: ignore[index]


def test_an_expired_task_is_rejected(runner, researcher):
    past = time.time() - 1000
    run = _run(researcher, body={"issued_at": past - 10, "expires_at": past})

    _, sealed = runner.answer(run)

    assert _open(runner, researcher, sealed).error["kind"] == "ReplayedTask"  # type: ignore[index]


def test_every_answer_is_audited_with_outcome_and_reason(runner, researcher):
    runner.answer(_run(researcher))
    runner.answer(_run(researcher, body={"params": {"columns": ["race"]}}))
    tampered = _run(researcher)
    tampered["envelope"]["signature"] = sign({"x": 1}, researcher)["signature"]
    runner.answer(tampered)

    assert verify_audit_log(runner.config.audit_log) == 3
    lines = runner.config.audit_log.read_text().splitlines()
    outcomes = [json.loads(line)["entry"]["outcome"] for line in lines]
    assert outcomes == ["released", "refused", "rejected"]
    refused = json.loads(lines[1])["entry"]
    assert refused["error"]["kind"] == "NonNumericColumn"
    assert refused["requester"] == "ana"
    assert refused["algorithm"] == "summary"
