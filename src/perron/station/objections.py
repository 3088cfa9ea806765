"""The objection register: who opted out of secondary use of their data, and when.

A person may object to the secondary use of their health data at any time, without
giving reasons, and may withdraw the objection again (EHDS art. 71(1); the Dutch
"geen bezwaar" rule of art. 7:458 BW lets data be supplied for research without
consent only if the patient has not expressly objected). The register keeps every
objection with its history (``objected_at``, ``withdrawn_at``) in a SQLite file in
the station's state folder, keyed by the patient identifier or pseudonym that the
dataset's ``id_column`` holds.

Who is left out of an analysis (:func:`excludes`, :meth:`ObjectionRegister.excluded`):

- a person whose objection is withdrawn counts again;
- without a study policy, everyone with a current objection is left out;
- under a policy granted *after* (or at) the objection the person is always left out
  (EHDS art. 71(3));
- under a policy granted *before* the objection, the holder's setting
  ``objections_apply_to_earlier`` decides (art. 71(3) leaves earlier permits
  unaffected; a holder may still honour the objection for them).

Security assumptions: only the station's operator can write the file (it is the
holder's register, not an interface for patients); identifiers are compared as
exact strings, so the register must use the same spelling as the dataset; the
station's clock is roughly right.

Examples
--------
>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> with ObjectionRegister(pathlib.Path(tempfile.mkdtemp()) / "objections.sqlite") as reg:
...     _ = reg.add("P001", at=datetime(2026, 1, 10, tzinfo=UTC))
...     granted_before = datetime(2026, 1, 1, tzinfo=UTC)
...     sorted(reg.excluded(None, False)), sorted(reg.excluded(granted_before, False))
(['P001'], [])
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from perron.protocol.errors import InputError
from perron.station._sqlite import Store, transaction

__all__ = ["Objection", "ObjectionRegister", "RegisterSummary", "check_patient_id", "excludes"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objections (
    id           INTEGER PRIMARY KEY,
    patient_id   TEXT NOT NULL,
    objected_at  TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE INDEX IF NOT EXISTS objections_patient ON objections (patient_id);
CREATE UNIQUE INDEX IF NOT EXISTS objections_one_open
    ON objections (patient_id) WHERE withdrawn_at IS NULL;
"""


@dataclass(frozen=True)
class Objection:
    """One objection of one person; ``withdrawn_at`` is None while it stands."""

    patient_id: str
    objected_at: datetime
    withdrawn_at: datetime | None = None

    def active_at(self, moment: datetime) -> bool:
        """Whether the objection stood at ``moment``."""
        return self.objected_at <= moment and (
            self.withdrawn_at is None or moment < self.withdrawn_at
        )

    def to_wire(self) -> dict[str, str | None]:
        return {
            "patient_id": self.patient_id,
            "objected_at": self.objected_at.isoformat(),
            "withdrawn_at": None if self.withdrawn_at is None else self.withdrawn_at.isoformat(),
        }


@dataclass(frozen=True)
class RegisterSummary:
    """The register as a station reports it: how many objections stand, when it last
    changed and a keyed digest of its history (``None`` for an empty register)."""

    count: int
    updated_at: str | None
    digest: str | None

    def to_wire(self) -> dict[str, int | str | None]:
        return {"count": self.count, "updated_at": self.updated_at, "digest": self.digest}


def excludes(
    objection: Objection,
    policy_granted_at: datetime | None,
    apply_to_earlier: bool,
    at: datetime,
) -> bool:
    """Whether ``objection`` leaves its person out of an analysis run at ``at``.

    Parameters
    ----------
    policy_granted_at
        When the study's policy was granted; ``None``: the task runs without a policy.
    apply_to_earlier
        The holder's setting for policies granted before the objection.
    at
        When the analysis runs (the register's state at that moment counts).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> day = lambda d: datetime(2026, 1, d, tzinfo=UTC)
    >>> objection = Objection("P001", objected_at=day(10))
    >>> excludes(objection, day(20), False, day(25))  # policy granted after: always out
    True
    >>> excludes(objection, day(5), False, day(25))  # granted before: the holder decides
    False
    >>> excludes(objection, None, False, day(9))  # the objection was not made yet
    False
    """
    if not objection.active_at(at):
        return False
    if policy_granted_at is None or objection.objected_at <= policy_granted_at:
        return True
    return apply_to_earlier


def check_patient_id(patient_id: object) -> str:
    """A patient identifier as the register stores it, or ``InputError``.

    Examples
    --------
    >>> check_patient_id("P001")
    'P001'
    """
    if not isinstance(patient_id, str) or not patient_id.strip():
        raise InputError(
            f"a patient identifier must be a non-empty text, not {patient_id!r}; give the "
            "identifier or pseudonym as it appears in the dataset's id column."
        )
    if patient_id != patient_id.strip():
        raise InputError(
            f"patient identifier {patient_id!r} begins or ends with white space; remove it "
            "(identifiers are compared exactly with the dataset's id column)."
        )
    return patient_id


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if not isinstance(at, datetime):
        raise InputError(f"a moment must be a datetime, not {at!r}.")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class ObjectionRegister(Store):
    """The holder's durable register of objections (opt-outs), with their history.

    Safe to share between threads (one lock around one connection); the CLI and a
    running station may use the same file (SQLite's write lock, WAL journal).

    Parameters
    ----------
    path
        The SQLite file; it is created (with its table) if missing.
    """

    SCHEMA = _SCHEMA

    def add(self, patient_id: str, at: datetime | None = None) -> bool:
        """Register an objection of ``patient_id`` made at ``at`` (default: now).

        Returns
        -------
        bool
            True if registered; False if the person already objects (the earlier
            objection stands, as it protects them longer).

        Raises
        ------
        InputError
            The identifier is empty or white space only, or ``at`` lies before the
            person's last withdrawal (the history must stay in order).
        """
        patient_id = check_patient_id(patient_id)
        moment = _moment(at)
        with self._lock, transaction(self._db):
            rows = self._db.execute(
                "SELECT objected_at, withdrawn_at FROM objections WHERE patient_id = ?",
                (patient_id,),
            ).fetchall()
            if any(withdrawn is None for _, withdrawn in rows):
                return False
            last = max((datetime.fromisoformat(w) for _, w in rows if w), default=None)
            if last is not None and moment < last:
                raise InputError(
                    f"the objection of {patient_id!r} at {moment.isoformat()} would lie "
                    f"before its withdrawal at {last.isoformat()}; give a later time."
                )
            self._db.execute(
                "INSERT INTO objections (patient_id, objected_at) VALUES (?, ?)",
                (patient_id, _text(moment)),
            )
            return True

    def remove(self, patient_id: str, at: datetime | None = None) -> bool:
        """Withdraw the current objection of ``patient_id`` at ``at`` (default: now).

        The objection stays in the history with its ``withdrawn_at``; from then on the
        person counts again.

        Returns
        -------
        bool
            True if withdrawn; False if the person has no current objection.

        Raises
        ------
        InputError
            The identifier is empty or white space only, or ``at`` lies before the
            objection.
        """
        patient_id = check_patient_id(patient_id)
        moment = _moment(at)
        with self._lock, transaction(self._db):
            row = self._db.execute(
                "SELECT id, objected_at FROM objections "
                "WHERE patient_id = ? AND withdrawn_at IS NULL",
                (patient_id,),
            ).fetchone()
            if row is None:
                return False
            objected = datetime.fromisoformat(row[1])
            if moment < objected:
                raise InputError(
                    f"the withdrawal of {patient_id!r} at {moment.isoformat()} would lie "
                    f"before the objection at {objected.isoformat()}; give a later time."
                )
            self._db.execute(
                "UPDATE objections SET withdrawn_at = ? WHERE id = ?", (_text(moment), row[0])
            )
            return True

    def list(self) -> tuple[Objection, ...]:
        """Every objection ever registered (withdrawn ones too), oldest first."""
        return self._select("SELECT patient_id, objected_at, withdrawn_at FROM objections", ())

    def history(self, patient_id: str) -> tuple[Objection, ...]:
        """The objections of one person, oldest first (empty for an unknown id)."""
        return self._select(
            "SELECT patient_id, objected_at, withdrawn_at FROM objections WHERE patient_id = ?",
            (patient_id,),
        )

    def excluded(
        self,
        policy_granted_at: datetime | None,
        apply_to_earlier: bool,
        *,
        at: datetime | None = None,
    ) -> frozenset[str]:
        """The people to leave out of an analysis under a policy granted then.

        Parameters
        ----------
        policy_granted_at
            When the task's study policy was granted; ``None`` when the task runs
            without a policy (then every current objection counts).
        apply_to_earlier
            The holder's setting for policies granted before an objection.
        at
            When the analysis runs (default: now).

        Returns
        -------
        frozenset of str
            Patient identifiers (see :func:`excludes` for the rules).
        """
        moment = _moment(at)
        granted = None if policy_granted_at is None else _moment(policy_granted_at)
        return frozenset(
            o.patient_id for o in self.list() if excludes(o, granted, apply_to_earlier, moment)
        )

    def summary(self, key: bytes, *, at: datetime | None = None) -> RegisterSummary:
        """What the station may tell the hub of its register: never an identifier.

        Parameters
        ----------
        key
            The station's secret digest key (:func:`perron.station.report.digest_key`).
        at
            The moment whose standing objections are counted (default: now).

        Returns
        -------
        RegisterSummary
            The number of standing objections, when the register last changed, and a
            digest of its whole history keyed with ``key``: it changes with every
            change, and without the key nobody can test a guessed identifier against it.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with ObjectionRegister(pathlib.Path(tempfile.mkdtemp()) / "o.sqlite") as reg:
        ...     empty = reg.summary(b"k")
        ...     _ = reg.add("P001")
        ...     (empty.count, empty.updated_at, empty.digest), reg.summary(b"k").count
        ((0, None, None), 1)
        """
        moment = _moment(at)
        rows = self.list()
        if not rows:
            return RegisterSummary(0, None, None)
        changes = [o.objected_at for o in rows] + [o.withdrawn_at for o in rows if o.withdrawn_at]
        mac = hmac.new(key, digestmod=hashlib.sha256)
        for objection in rows:
            wire = objection.to_wire()
            line = [wire["patient_id"], wire["objected_at"], wire["withdrawn_at"]]
            mac.update(json.dumps(line, separators=(",", ":")).encode() + b"\n")
        return RegisterSummary(
            count=sum(1 for o in rows if o.active_at(moment)),
            updated_at=_text(max(changes)),
            digest=mac.hexdigest(),
        )

    def _select(self, query: str, args: tuple[str, ...]) -> tuple[Objection, ...]:
        with self._lock:
            rows: Iterable[tuple[str, str, str | None]] = self._db.execute(
                f"{query} ORDER BY objected_at, id", args
            ).fetchall()
        return tuple(
            Objection(pid, datetime.fromisoformat(objected), _when(withdrawn))
            for pid, objected, withdrawn in rows
        )
