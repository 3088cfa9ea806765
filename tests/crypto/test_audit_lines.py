"""Audit lines checked without their file: a whole log, or the last lines a station reports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perron.crypto.audit import (
    GENESIS,
    AuditLog,
    AuditLogTampered,
    verify_audit_lines,
    verify_audit_log,
)
from perron.crypto.envelope import canonical
from perron.protocol.errors import InputError


def _log(path: Path, count: int, padding: int = 0) -> AuditLog:
    log = AuditLog(path)
    for i in range(count):
        log.append({"event": "task", "task_id": f"t{i}", "rows": i, "pad": "x" * padding})
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="ascii").splitlines()


def _edited(line: str, **changes: Any) -> str:
    record = json.loads(line)
    record["entry"] = {**record["entry"], **changes}
    return canonical(record).decode()


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return _log(tmp_path / "audit.jsonl", 10)


def test_a_whole_log_verifies_as_its_file_does(log):
    lines = _lines(log)

    assert verify_audit_lines(lines, start=1) == verify_audit_log(log.path) == 10
    assert verify_audit_lines(lines, expected_head=log.head()) == 10


def test_str_and_bytes_lines_with_or_without_their_newline_verify(log):
    raw = log.path.read_bytes().splitlines(keepends=True)

    assert verify_audit_lines(raw) == 10
    assert verify_audit_lines([line.decode() for line in raw]) == 10


def test_the_last_lines_verify_against_the_current_head(log):
    tail = _lines(log)[-4:]

    assert verify_audit_lines(tail, expected_head=log.head()) == 4


def test_a_head_among_the_lines_or_just_before_them_is_confirmed(log):
    records = [json.loads(line) for line in _lines(log)]
    tail = _lines(log)[6:]  # entries 7..10

    assert verify_audit_lines(tail, expected_head=(8, records[7]["hash"])) == 4
    assert verify_audit_lines(tail, expected_head=(6, records[5]["hash"])) == 4
    with pytest.raises(AuditLogTampered, match="anchored head's hash") as caught:
        verify_audit_lines(tail, expected_head=(6, records[4]["hash"]))
    assert caught.value.line == 6


def test_a_head_further_before_the_lines_cannot_be_confirmed(log):
    records = [json.loads(line) for line in _lines(log)]

    with pytest.raises(InputError, match="cannot confirm it"):
        verify_audit_lines(_lines(log)[6:], expected_head=(3, records[2]["hash"]))


def test_lines_cut_before_the_anchored_head_are_detected(log):
    head = log.head()

    with pytest.raises(AuditLogTampered, match="deleted from the end") as caught:
        verify_audit_lines(_lines(log)[4:-2], expected_head=head)

    assert caught.value.line == 9


def test_an_edit_in_the_last_lines_names_its_entry_number(log):
    lines = _lines(log)
    lines[7] = _edited(lines[7], rows=-1)

    with pytest.raises(AuditLogTampered, match="does not match its content") as caught:
        verify_audit_lines(lines[5:])

    assert caught.value.line == 8


def test_a_deleted_line_in_the_last_lines_is_detected(log):
    lines = _lines(log)[5:]
    del lines[2]

    with pytest.raises(AuditLogTampered, match="deleted, inserted or moved") as caught:
        verify_audit_lines(lines)

    assert caught.value.line == 8


def test_lines_that_begin_at_entry_one_must_begin_at_genesis(tmp_path):
    """A forger who rewrites entry 1 with another prev (and a matching hash) is caught."""
    log = _log(tmp_path / "audit.jsonl", 3)
    record = json.loads(_lines(log)[0])
    record["prev"] = "1" * 64
    content = canonical({"seq": 1, "time": record["time"], "entry": record["entry"]})
    record["hash"] = hashlib.sha256(record["prev"].encode() + content).hexdigest()
    forged = canonical(record).decode()

    with pytest.raises(AuditLogTampered, match="prev") as caught:
        verify_audit_lines([forged])

    assert caught.value.line == 1


def test_a_whole_log_must_start_at_entry_one(log):
    with pytest.raises(AuditLogTampered) as caught:
        verify_audit_lines(_lines(log)[3:], start=1)

    assert caught.value.line == 1


def test_no_lines_are_an_empty_log(tmp_path):
    assert verify_audit_lines([]) == 0
    assert verify_audit_lines([], expected_head=(0, GENESIS)) == 0
    with pytest.raises(AuditLogTampered, match="deleted from the end"):
        verify_audit_lines([], expected_head=(2, "a" * 64))


def test_an_unreadable_first_line_is_reported_as_such(log):
    with pytest.raises(AuditLogTampered, match="not valid JSON") as caught:
        verify_audit_lines(["{oops", *_lines(log)[1:]])

    assert caught.value.line == 1


@pytest.mark.parametrize("start", [0, -1, 1.0])
def test_start_must_be_a_positive_entry_number(log, start):
    with pytest.raises(InputError, match="start"):
        verify_audit_lines(_lines(log), start=start)


def test_one_text_is_not_a_list_of_lines(log):
    with pytest.raises(InputError, match="list of lines"):
        verify_audit_lines(log.path.read_text())


def test_tail_returns_the_last_lines_as_written_and_the_number_of_entries(log):
    lines, total = log.tail(3)

    assert (lines, total) == (_lines(log)[-3:], 10)
    assert log.tail(50) == (_lines(log), 10)
    assert log.tail(0) == ([], 10)


def test_tail_of_an_empty_log(tmp_path):
    assert AuditLog(tmp_path / "audit.jsonl").tail(5) == ([], 0)


def test_tail_reads_lines_across_its_read_chunks(tmp_path):
    """Lines of 30 kB: the reads from the end split lines; the lines come back whole."""
    log = _log(tmp_path / "audit.jsonl", 12, padding=30_000)

    lines, total = log.tail(7)

    assert (lines, total) == (_lines(log)[-7:], 12)
    assert verify_audit_lines(lines, expected_head=log.head()) == 7


def test_tail_refuses_a_log_with_a_broken_last_line(log):
    with log.path.open("ab") as handle:
        handle.write(b'{"seq": 11}\n')

    with pytest.raises(AuditLogTampered):
        log.tail(5)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    _log(path, 4)
    return path.read_bytes()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_fails_the_lines_as_it_fails_the_file(tmp_path, pristine, data):
    position = data.draw(st.integers(0, len(pristine) - 2), label="position")
    byte = data.draw(
        st.integers(0, 255).filter(lambda b: b not in (pristine[position], 10)), label="byte"
    )
    changed = pristine[:position] + bytes([byte]) + pristine[position + 1 :]
    path = tmp_path / "changed.jsonl"
    path.write_bytes(changed)

    with pytest.raises(AuditLogTampered) as by_file:
        verify_audit_log(path)
    with pytest.raises(AuditLogTampered) as by_lines:
        verify_audit_lines(changed.split(b"\n")[:-1], start=1)

    assert by_lines.value.line == by_file.value.line
