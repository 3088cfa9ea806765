"""The audit log is a hash chain: any edit, deletion, insertion or move is detected."""

from __future__ import annotations

import hashlib
import json
import pickle
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perron.crypto.audit import GENESIS, AuditLog, AuditLogTampered, verify_audit_log
from perron.crypto.envelope import canonical
from perron.protocol.errors import InputError, SecurityError


def _write_log(path: Path, count: int) -> AuditLog:
    log = AuditLog(path)
    for i in range(count):
        log.append({"event": "task", "task_id": f"t{i}", "rows": i * 10, "ok": i % 2 == 0})
    return log


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(canonical(record) + b"\n" for record in records))


def _rehash(record: dict[str, Any]) -> dict[str, Any]:
    """What a forger does: give an edited line a hash that matches its content."""
    content = canonical({"seq": record["seq"], "time": record["time"], "entry": record["entry"]})
    digest = hashlib.sha256(record["prev"].encode() + content).hexdigest()
    return {**record, "hash": digest}


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def test_lines_have_the_documented_shape(log_path):
    log = _write_log(log_path, 2)

    first, second = _records(log_path)

    assert set(first) == {"seq", "time", "entry", "prev", "hash"}
    assert (first["seq"], first["prev"]) == (1, GENESIS)
    assert second["prev"] == first["hash"]
    assert first["time"].endswith("+00:00")
    assert first["hash"] == _rehash(first)["hash"]
    assert log.head() == (2, second["hash"])
    assert verify_audit_log(log_path) == 2


def test_append_returns_the_new_head(log_path):
    log = AuditLog(log_path)

    digest = log.append({"event": "start"})

    assert log.head() == (1, digest)


def test_empty_log_verifies_and_has_the_genesis_head(log_path):
    log = AuditLog(log_path)

    assert log.head() == (0, GENESIS)
    assert verify_audit_log(log_path, expected_head=(0, GENESIS)) == 0


def test_new_file_is_private(log_path):
    AuditLog(log_path)

    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


def test_nan_and_unicode_entries_verify(log_path):
    log = AuditLog(log_path)

    log.append({"mean": float("nan"), "max": float("inf"), "station": "Zürich", "n": [1, 2]})

    assert verify_audit_log(log_path, expected_head=log.head()) == 1


def test_non_dict_entry_is_refused(log_path):
    log = AuditLog(log_path)

    with pytest.raises(InputError):
        log.append(["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        log.append({"value": object()})
    assert verify_audit_log(log_path) == 0


@pytest.mark.parametrize("field", ["seq", "time", "entry", "prev", "hash"])
@pytest.mark.parametrize("line", [1, 3, 5])
def test_edit_of_any_field_of_any_line_is_detected(log_path, field, line):
    _write_log(log_path, 5)
    records = _records(log_path)
    edits: dict[str, Any] = {
        "seq": 99,
        "time": "2020-01-01T00:00:00.000000+00:00",
        "entry": {**records[line - 1]["entry"], "rows": -1},
        "prev": "1" * 64,
        "hash": "f" * 64,
    }
    records[line - 1][field] = edits[field]
    _write_records(log_path, records)

    with pytest.raises(AuditLogTampered) as caught:
        verify_audit_log(log_path)

    assert caught.value.line == line
    assert f"line {line}" in str(caught.value)


def test_edit_with_a_recomputed_hash_breaks_the_next_link(log_path):
    _write_log(log_path, 4)
    records = _records(log_path)
    records[1] = _rehash({**records[1], "entry": {"event": "nothing happened"}})
    _write_records(log_path, records)

    with pytest.raises(AuditLogTampered, match="prev") as caught:
        verify_audit_log(log_path)

    assert caught.value.line == 3


def test_edit_that_parses_to_the_same_value_is_detected(log_path):
    log = AuditLog(log_path)
    log.append({"station": "Zürich"})
    text = log_path.read_text()
    assert "\\u00fc" in text
    log_path.write_text(text.replace("\\u00fc", "\\u00FC"))

    with pytest.raises(AuditLogTampered, match="canonical") as caught:
        verify_audit_log(log_path)

    assert caught.value.line == 1


def test_deletion_of_a_middle_line_is_detected(log_path):
    _write_log(log_path, 5)
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(lines[:2] + lines[3:]))

    with pytest.raises(AuditLogTampered) as caught:
        verify_audit_log(log_path)

    assert caught.value.line == 3


def test_deletion_of_the_first_line_is_detected(log_path):
    _write_log(log_path, 3)
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(lines[1:]))

    with pytest.raises(AuditLogTampered) as caught:
        verify_audit_log(log_path)

    assert caught.value.line == 1


def test_swap_of_two_lines_is_detected(log_path):
    _write_log(log_path, 5)
    lines = log_path.read_bytes().splitlines(keepends=True)
    lines[1], lines[3] = lines[3], lines[1]
    log_path.write_bytes(b"".join(lines))

    with pytest.raises(AuditLogTampered) as caught:
        verify_audit_log(log_path)

    assert caught.value.line == 2


def test_inserted_forged_line_with_its_own_valid_hash_is_detected(log_path):
    _write_log(log_path, 4)
    records = _records(log_path)
    forged = _rehash(
        {
            "seq": 3,
            "time": records[2]["time"],
            "entry": {"event": "task", "task_id": "forged"},
            "prev": records[1]["hash"],
            "hash": "",
        }
    )
    _write_records(log_path, [*records[:2], forged, *records[2:]])

    with pytest.raises(AuditLogTampered, match="prev") as caught:
        verify_audit_log(log_path)

    assert caught.value.line == 4


def test_blank_and_incomplete_lines_are_detected(log_path):
    _write_log(log_path, 3)
    good = log_path.read_bytes()

    log_path.write_bytes(good.replace(b"\n", b"\n\n", 1))
    with pytest.raises(AuditLogTampered, match="JSON") as blank:
        verify_audit_log(log_path)
    log_path.write_bytes(good[:-1])
    with pytest.raises(AuditLogTampered, match="incomplete") as cut:
        verify_audit_log(log_path)

    assert (blank.value.line, cut.value.line) == (2, 3)


def test_malformed_json_is_detected(log_path):
    _write_log(log_path, 3)
    lines = log_path.read_bytes().splitlines(keepends=True)
    lines[1] = b'{"seq": 2, oops\n'
    log_path.write_bytes(b"".join(lines))

    with pytest.raises(AuditLogTampered, match="not valid JSON") as caught:
        verify_audit_log(log_path)

    assert caught.value.line == 2


def test_truncation_is_only_detected_against_an_anchored_head(log_path):
    log = _write_log(log_path, 5)
    head = log.head()
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(lines[:-2]))

    assert verify_audit_log(log_path) == 3
    with pytest.raises(AuditLogTampered, match="deleted from the end") as caught:
        verify_audit_log(log_path, expected_head=head)
    assert caught.value.line == 4


def test_truncation_to_nothing_is_detected_against_an_anchored_head(log_path):
    log = _write_log(log_path, 2)
    head = log.head()
    log_path.write_bytes(b"")

    with pytest.raises(AuditLogTampered, match="deleted from the end"):
        verify_audit_log(log_path, expected_head=head)


def test_an_anchored_head_stays_valid_as_the_log_grows(log_path):
    log = _write_log(log_path, 3)
    head = log.head()

    log.append({"event": "later"})

    assert verify_audit_log(log_path, expected_head=head) == 4


def test_a_rewritten_log_does_not_match_its_anchored_head(log_path):
    log = _write_log(log_path, 3)
    head = log.head()
    records = _records(log_path)
    records[1] = _rehash({**records[1], "entry": {"event": "rewritten"}})
    records[2] = _rehash({**records[2], "prev": records[1]["hash"]})
    _write_records(log_path, records)

    assert verify_audit_log(log_path) == 3
    with pytest.raises(AuditLogTampered, match="anchored head") as caught:
        verify_audit_log(log_path, expected_head=head)
    assert caught.value.line == 3


def test_restart_continues_the_chain(log_path):
    first = _write_log(log_path, 3)
    head = first.head()

    second = AuditLog(log_path)
    digest = second.append({"event": "after restart"})

    assert second.head() == (4, digest)
    assert _records(log_path)[3]["prev"] == head[1]
    assert verify_audit_log(log_path, expected_head=(4, digest)) == 4


def test_two_objects_appending_in_turn_keep_one_chain(log_path):
    a, b = AuditLog(log_path), AuditLog(log_path)

    for i in range(3):
        a.append({"by": "a", "i": i})
        b.append({"by": "b", "i": i})

    assert verify_audit_log(log_path, expected_head=a.head()) == 6


def test_append_refuses_a_log_truncated_behind_its_back(log_path):
    log = _write_log(log_path, 3)
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(lines[:2]))

    with pytest.raises(AuditLogTampered, match="deleted or rewritten"):
        log.append({"event": "next"})


def test_opening_a_log_with_a_broken_last_line_is_refused(log_path):
    _write_log(log_path, 3)
    log_path.write_bytes(log_path.read_bytes()[:-10] + b"\n")

    with pytest.raises(AuditLogTampered) as caught:
        AuditLog(log_path)

    assert caught.value.line == 3


def test_concurrent_appends_from_eight_threads_keep_a_valid_chain(log_path):
    log = AuditLog(log_path)
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        barrier.wait()
        for i in range(10):
            log.append({"worker": worker, "i": i})

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert verify_audit_log(log_path, expected_head=log.head()) == 80
    entries = {(r["entry"]["worker"], r["entry"]["i"]) for r in _records(log_path)}
    assert len(entries) == 80


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no audit log"):
        verify_audit_log(tmp_path / "nowhere.jsonl")


def test_error_is_a_security_error_that_pickles():
    error = AuditLogTampered(7, "was edited")

    back = pickle.loads(pickle.dumps(error))

    assert isinstance(error, SecurityError)
    assert (back.line, back.reason, str(back)) == (7, "was edited", str(error))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    log = AuditLog(path)
    log.append({"event": "task", "task_id": "t1", "mean": 1.5, "n": 120, "note": "é\\u00e9"})
    log.append({"event": "task", "task_id": "t2", "mean": float("nan"), "big": 1e300})
    log.append({"event": "stop", "ok": True, "none": None, "list": [1, -0.0, "x"]})
    return path.read_bytes()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_single_byte_change_is_detected(tmp_path, pristine, data):
    position = data.draw(st.integers(0, len(pristine) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != pristine[position]), label="byte")
    path = tmp_path / "changed.jsonl"
    path.write_bytes(pristine[:position] + bytes([byte]) + pristine[position + 1 :])

    with pytest.raises(AuditLogTampered):
        verify_audit_log(path)


def test_the_pristine_log_verifies(tmp_path, pristine):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(pristine)

    assert verify_audit_log(path) == 3
