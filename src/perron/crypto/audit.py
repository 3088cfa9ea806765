"""A station's hash-chained, append-only audit log (one JSON object per line).

Each line is the canonical JSON (:func:`perron.crypto.envelope.canonical`) of::

    {"seq": n, "time": "<ISO-8601 UTC>", "entry": {...}, "prev": "<hash of line n-1>",
     "hash": sha256(prev + canonical({"seq": n, "time": ..., "entry": ...}))}

with ``seq`` counting from 1 (so ``seq`` is the line number) and ``prev`` of the first
line 64 zeros.

Security assumptions
--------------------
- The log is **tamper-evident, not tamper-proof**. Whoever can write the file can
  still change it; what they cannot do is change, delete, insert or reorder a line
  *in the middle* without :func:`verify_audit_log` noticing: every line's hash
  covers its content and the hash of the line before it, and every line must be
  byte-for-byte the canonical encoding of what it says (so even an edit that parses
  to the same value, such as ``1.0`` for ``1.00``, is caught).
- The hash is a plain SHA-256, not a MAC: there is no secret. Someone who rewrites
  the file can recompute every hash from the edited line to the end, and someone
  who deletes the last lines leaves a shorter chain that is valid. **Neither can be
  detected from the file alone.** A station must therefore report its head,
  :meth:`AuditLog.head` (``(seq, hash)``), somewhere the file's writer cannot
  change (the hub, a researcher, a print-out), and an auditor checks the file with
  ``verify_audit_log(path, expected_head=...)``. A head anchored at one time stays
  valid as the log grows.
- Appends are serialised by a lock inside each :class:`AuditLog` and, on POSIX, by
  an exclusive ``flock`` on the file, so threads and processes that append to one
  file keep one chain. Every append is flushed and ``fsync``-ed before it returns.
- A crash in the middle of a write can leave an incomplete last line. That cannot be
  told from a cut made on purpose, so the log then refuses further appends with
  :class:`AuditLogTampered`; an operator moves the file aside (keeping it as
  evidence) and starts a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perron.crypto.envelope import canonical
from perron.protocol.errors import InputError, SecurityError

if sys.platform != "win32":
    import fcntl

__all__ = ["GENESIS", "AuditLog", "AuditLogTampered", "verify_audit_lines", "verify_audit_log"]

GENESIS = "0" * 64
"""The ``prev`` of the first line: the hash of an empty log."""

_FIELDS = frozenset({"seq", "time", "entry", "prev", "hash"})
_TAIL_CHUNK = 4096
_HEX64 = re.compile(r"[0-9a-f]{64}")


class AuditLogTampered(SecurityError):
    """An audit log line was edited, deleted, inserted, moved or is not valid JSON.

    Parameters
    ----------
    line : int
        The 1-based line number of the file where the problem shows.
    reason : str
        What is wrong with that line.
    """

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(
            f"audit log line {line}: {reason}. The log was changed after it was "
            "written; keep the file as evidence and compare it with the head the "
            "station reported."
        )

    def __reduce__(self) -> tuple[type[AuditLogTampered], tuple[int, str]]:
        return (AuditLogTampered, (self.line, self.reason))


def _chain_hash(prev: str, seq: int, time: str, entry: dict[str, Any]) -> str:
    """``sha256(prev + canonical({"seq", "time", "entry"}))`` as lowercase hex."""
    content = canonical({"seq": seq, "time": time, "entry": entry})
    return hashlib.sha256(prev.encode("ascii") + content).hexdigest()


def _check_line(raw: bytes, line: int) -> tuple[int, str, str]:
    """Check one line on its own; return its ``(seq, prev, hash)``.

    The line must be ASCII JSON, an object with exactly the five fields, in
    canonical form, with well-typed fields and a hash that matches its content.
    Whether it links to the line before is the caller's business.
    """
    try:
        record = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AuditLogTampered(line, f"is not valid JSON ({exc})") from exc
    if not isinstance(record, dict) or set(record) != _FIELDS:
        raise AuditLogTampered(line, f"is not an object with the fields {sorted(_FIELDS)}")
    if canonical(record) != raw:
        raise AuditLogTampered(line, "is not in canonical form (its bytes were edited)")
    seq, time, entry = record["seq"], record["time"], record["entry"]
    prev, digest = record["prev"], record["hash"]
    if type(seq) is not int or seq < 1:
        raise AuditLogTampered(line, f"has seq {seq!r}, not a positive integer")
    if not isinstance(entry, dict):
        raise AuditLogTampered(line, "has an entry that is not an object")
    if not isinstance(prev, str) or not _HEX64.fullmatch(prev):
        raise AuditLogTampered(line, "has a prev that is not 64 lowercase hex digits")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise AuditLogTampered(line, "has a hash that is not 64 lowercase hex digits")
    if not isinstance(time, str) or not _is_utc_iso(time):
        raise AuditLogTampered(line, f"has time {time!r}, not an ISO-8601 UTC time")
    if digest != _chain_hash(prev, seq, time, entry):
        raise AuditLogTampered(line, "has a hash that does not match its content (edited)")
    return seq, prev, digest


def _is_utc_iso(text: str) -> bool:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return False
    offset = stamp.utcoffset()
    return offset is not None and not offset


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's lines without their newlines, numbered from 1.

    Raises
    ------
    AuditLogTampered
        If the file does not end with a newline (its last line is incomplete).
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                raise AuditLogTampered(number, "is incomplete (no newline at its end)")
            yield number, raw[:-1]


def verify_audit_log(path: str | Path, expected_head: tuple[int, str] | None = None) -> int:
    """Check a whole audit log and return its number of entries.

    Parameters
    ----------
    path : str or Path
        The JSON-lines file an :class:`AuditLog` wrote.
    expected_head : tuple of (int, str), optional
        A head ``(seq, hash)`` that :meth:`AuditLog.head` reported earlier and that
        was kept outside the file. The log must still contain that exact entry (it
        may have grown since). Without it, deleting lines from the *end* of the log
        cannot be detected.

    Returns
    -------
    int
        The number of entries (lines) in the log.

    Raises
    ------
    AuditLogTampered
        If any line was edited, deleted, inserted or moved, is not valid JSON, or
        the log no longer contains ``expected_head``; the message names the line.
    InputError
        If there is no file at ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl"
    >>> log = AuditLog(path)
    >>> _ = log.append({"event": "task", "task_id": "t1"})
    >>> verify_audit_log(path, expected_head=log.head())
    1
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"there is no audit log at {file}; check the path.")
    return verify_audit_lines((raw for _, raw in _lines(file)), expected_head, start=1)


def verify_audit_lines(
    lines: Iterable[str | bytes],
    expected_head: tuple[int, str] | None = None,
    *,
    start: int | None = None,
) -> int:
    """Check consecutive lines of an audit log (all of it, or its last lines).

    The checks are those of :func:`verify_audit_log`, which reads its file and
    calls this: every line canonical, well formed and matching its own hash, every
    line linked to the one before it, and the entry numbers consecutive. The lines
    a station reports to the hub (its last few thousand) are checked this way.

    Parameters
    ----------
    lines : iterable of str or bytes
        The lines as written, without their newlines (one trailing newline is
        ignored).
    expected_head : tuple of (int, str), optional
        An anchored head ``(seq, hash)`` (see :func:`verify_audit_log`); it must
        lie among the lines, or be the entry just before the first.
    start : int, optional
        The entry number the first line must have: 1 for a whole log, so that its
        first line must also link to :data:`GENESIS`. Without it, the lines may be
        the end of a longer log: they are numbered from the first line's ``seq``, and
        that line's link to the entry before it (which is not given) is taken as it
        stands, unless it is entry 1.

    Returns
    -------
    int
        The number of lines checked (for a whole log: its number of entries).

    Raises
    ------
    AuditLogTampered
        If a line was edited, deleted, inserted or moved, is not valid JSON, or the
        lines end before ``expected_head`` or do not hold it; the error's ``line`` is
        the entry number where it shows.
    InputError
        If ``expected_head`` lies before the lines (they cannot confirm it), or
        ``start`` is not a positive entry number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl")
    >>> for i in range(3):
    ...     _ = log.append({"event": "task", "task_id": f"t{i}"})
    >>> lines = log.path.read_text().splitlines()
    >>> verify_audit_lines(lines[1:], expected_head=log.head())
    2
    """
    if isinstance(lines, str | bytes):
        raise InputError("give the audit lines as a list of lines, not as one text.")
    if start is not None and (type(start) is not int or start < 1):
        raise InputError(f"start must be a positive entry number, not {start!r}.")
    number = start
    prev: str | None = GENESIS if start == 1 else None
    first_prev: str | None = None
    head_seq = -1 if expected_head is None else expected_head[0]
    anchored: str | None = None
    count = 0
    for line in lines:
        raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        raw = raw.removesuffix(b"\n")
        if number is None:  # the end of a log: its first line numbers the rest
            number = _claimed_seq(raw)
        seq, line_prev, digest = _check_line(raw, number)
        if prev is None and seq == 1:  # the lines begin at the log's first entry
            prev = GENESIS
        if prev is not None and line_prev != prev:
            raise AuditLogTampered(
                number,
                "has a prev that is not the hash of the line before it "
                "(a line was deleted, inserted or moved)",
            )
        if seq != number:
            raise AuditLogTampered(
                number, f"has seq {seq}, expected {number} (a line was deleted, inserted or moved)"
            )
        if count == 0:
            first_prev = line_prev
        if seq == head_seq:
            anchored = digest
        prev, count, number = digest, count + 1, number + 1
    if expected_head is not None:
        _check_head(expected_head, anchored, first_prev, (number or 1) - count, count)
    return count


def _claimed_seq(raw: bytes) -> int:
    """The ``seq`` a line says it has (1 if it cannot be read: the checks then say why)."""
    try:
        seq = json.loads(raw.decode("ascii")).get("seq")
    except (UnicodeDecodeError, ValueError, RecursionError, AttributeError):
        return 1
    return seq if type(seq) is int and seq >= 1 else 1


def _check_head(
    expected_head: tuple[int, str],
    anchored: str | None,
    first_prev: str | None,
    first: int,
    count: int,
) -> None:
    """That the checked lines ``first .. first + count - 1`` hold the anchored head.

    ``anchored`` is the hash of the line numbered as the head (if among them) and
    ``first_prev`` the first line's link to the entry before it.
    """
    head_seq, head_hash = expected_head
    last = first + count - 1
    if head_seq == 0:
        anchored = GENESIS
    elif head_seq == first - 1 and count:
        anchored = first_prev
    elif head_seq < first:
        raise InputError(
            f"the audit lines begin at entry {first}, after the anchored head (entry "
            f"{head_seq}); they cannot confirm it. Verify the whole log at the station "
            "(`perron station audit verify`)."
        )
    elif head_seq > last:
        raise AuditLogTampered(
            last + 1,
            f"is missing: the log ends after {last} entries but its anchored head "
            f"is entry {head_seq} (lines were deleted from the end)",
        )
    if anchored != head_hash:
        raise AuditLogTampered(
            head_seq,
            "does not have the anchored head's hash (the log was rewritten "
            "from this line on, or replaced)",
        )


@contextmanager
def _exclusive(descriptor: int) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file (POSIX; a no-op elsewhere)."""
    if sys.platform == "win32":
        yield
        return
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def _read_tail(descriptor: int) -> bytes | None:
    """The last line of the file without its newline, or None for an empty file.

    Raises
    ------
    AuditLogTampered
        If the file does not end with a newline.
    """
    size = os.lseek(descriptor, 0, os.SEEK_END)
    if size == 0:
        return None
    tail = b""
    position = size
    while position > 0:
        step = min(_TAIL_CHUNK, position)
        position -= step
        tail = os.pread(descriptor, step, position) + tail
        if not tail.endswith(b"\n"):
            raise AuditLogTampered(
                _count_lines(descriptor), "is incomplete (no newline at its end)"
            )
        start = tail.rfind(b"\n", 0, len(tail) - 1)
        if start >= 0:
            return tail[start + 1 : -1]
    return tail[:-1]


def _read_last_lines(descriptor: int, count: int) -> list[bytes]:
    """The file's last ``count`` lines without their newlines (it ends with one)."""
    if count <= 0:
        return []
    position = os.lseek(descriptor, 0, os.SEEK_END)
    chunks: list[bytes] = []
    newlines = 0
    # One newline more than lines wanted: then the first of them is complete too.
    while position > 0 and newlines <= count:
        step = min(_TAIL_CHUNK * 16, position)
        position -= step
        chunk = os.pread(descriptor, step, position)
        chunks.append(chunk)
        newlines += chunk.count(b"\n")
    return b"".join(reversed(chunks)).split(b"\n")[:-1][-count:]


def _count_lines(descriptor: int) -> int:
    """The number of the file's last line; only used to word an error."""
    size = os.lseek(descriptor, 0, os.SEEK_END)
    data = os.pread(descriptor, size, 0)
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


class AuditLog:
    """An append-only, hash-chained JSON-lines log of what a station did.

    Opening an existing file continues its chain from its last line (after checking
    that line on its own; :func:`verify_audit_log` checks the whole file). A new file
    is created with mode 0600.

    Parameters
    ----------
    path : str or Path
        The log file; it and its parent folder are created if missing.

    Raises
    ------
    AuditLogTampered
        If the existing file's last line is malformed, incomplete or does not match
        its own hash.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl")
    >>> digest = log.append({"event": "task", "task_id": "t1", "outcome": "done"})
    >>> log.head() == (1, digest)
    True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            os.close(descriptor)
            _fsync_folder(self.path.parent)
        self._head = self.head()

    def head(self) -> tuple[int, str]:
        """The ``(seq, hash)`` of the last entry; ``(0, GENESIS)`` for an empty log.

        Report it somewhere the log's writer cannot change: with it,
        ``verify_audit_log(path, expected_head=...)`` also detects deleted last lines.

        Returns
        -------
        tuple of (int, str)
            The sequence number and hash of the newest entry.
        """
        with self._lock, self._open() as descriptor, _exclusive(descriptor):
            return self._tail(descriptor)

    def tail(self, count: int) -> tuple[list[str], int]:
        """The last ``count`` lines as written (without newlines) and the number of entries.

        What a station reports to the hub; :func:`verify_audit_lines` checks them.
        Only the end of the file is read.

        Raises
        ------
        AuditLogTampered
            If the file's last line is malformed or incomplete.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl")
        >>> for i in range(3):
        ...     _ = log.append({"event": "task", "task_id": f"t{i}"})
        >>> lines, total = log.tail(2)
        >>> len(lines), total, verify_audit_lines(lines, expected_head=log.head())
        (2, 3, 2)
        """
        with self._lock, self._open() as descriptor, _exclusive(descriptor):
            seq, _ = self._tail(descriptor)
            lines = _read_last_lines(descriptor, count) if seq else []
        return [line.decode("ascii", errors="replace") for line in lines], seq

    def append(self, entry: dict[str, Any]) -> str:
        """Append one entry, flush and fsync it, and return its hash.

        Parameters
        ----------
        entry : dict
            A JSON object (string keys; NaN and infinities are allowed).

        Returns
        -------
        str
            The new line's hash (64 lowercase hex digits), the log's new head.

        Raises
        ------
        InputError
            If ``entry`` is not a JSON object.
        AuditLogTampered
            If the file's last line is malformed, or the log is shorter than, or
            ends differently from, what this object last wrote or read.
        """
        if not isinstance(entry, dict):
            raise InputError(f"an audit entry must be a dict, not {type(entry).__name__}.")
        with self._lock, self._open() as descriptor, _exclusive(descriptor):
            seq, prev = self._tail(descriptor)
            known_seq, known_hash = self._head
            if seq < known_seq or (seq == known_seq and prev != known_hash):
                raise AuditLogTampered(
                    seq + 1,
                    f"is not where it should be: this log had {known_seq} entries, the "
                    f"file now ends after entry {seq} with another hash (lines were "
                    "deleted or rewritten since)",
                )
            seq += 1
            time = datetime.now(UTC).isoformat(timespec="microseconds")
            try:
                digest = _chain_hash(prev, seq, time, entry)
                line = canonical(
                    {"seq": seq, "time": time, "entry": entry, "prev": prev, "hash": digest}
                )
                readable = canonical(json.loads(line)) == line
            except (TypeError, ValueError) as exc:
                raise InputError(f"an audit entry cannot be written as JSON: {exc}.") from exc
            if not readable:
                raise InputError(
                    "an audit entry does not survive a JSON round trip unchanged; "
                    "use plain str keys and JSON values."
                )
            _write_all(descriptor, line + b"\n")
            os.fsync(descriptor)
            self._head = (seq, digest)
            return digest

    @contextmanager
    def _open(self) -> Iterator[int]:
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND)
        try:
            yield descriptor
        finally:
            os.close(descriptor)

    def _tail(self, descriptor: int) -> tuple[int, str]:
        raw = _read_tail(descriptor)
        if raw is None:
            return 0, GENESIS
        try:
            seq, _, digest = _check_line(raw, 0)
        except AuditLogTampered as exc:
            # Counting lines reads the whole file: only worth it to word an error.
            raise AuditLogTampered(_count_lines(descriptor), exc.reason) from None
        return seq, digest


def _fsync_folder(folder: Path) -> None:
    """Make a newly created file's directory entry durable (POSIX)."""
    if sys.platform == "win32":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
