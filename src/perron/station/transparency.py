"""Which studies used my data? The station's answer for one patient, from its audit log.

A person may ask a data holder which studies used their data (the transparency that
EHDS recital 66 and the Dutch "Volgjezorg" log aim at). The station answers from its
own hash-chained audit log: every study (with its policy id, first and last use and
the algorithms run) of a task that *released* an aggregate while the person was in
the dataset and not left out by an objection at that moment.

Assumptions
-----------
- **The dataset is the one configured now.** The audit log does not record which
  rows a task saw; the person counts as "in the dataset" if the station's current
  dataset has a row with their identifier in ``[governance] id_column``. A person
  added to the data after a task (or removed before it) is therefore reported
  wrongly; keep the dataset's history if that matters.
- Rows are matched by ``id_column`` only: the answer says the person's rows were in
  the cohort of the task, not that every analysis used them (an analysis uses the
  rows complete on its columns).
- Objections are judged as the task was run: with the register's history at the
  task's moment, the policy's grant time and the holder's setting, both recorded in
  the audit entry (:func:`~perron.station.objections.excludes`).
- The audit log is checked (:func:`~perron.crypto.audit.verify_audit_log`) before it
  is read; a changed log raises rather than answering from it.
- A released task counts even if the researcher's round failed at another station.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perron.crypto.audit import verify_audit_log
from perron.protocol.errors import InputError
from perron.station.config import StationConfig
from perron.station.objections import Objection, ObjectionRegister, check_patient_id, excludes
from perron.station.view import DatasetView

__all__ = ["StudyUse", "studies_using", "used_by"]


@dataclass(frozen=True)
class StudyUse:
    """One study's use of one person's data at this station."""

    study: str
    policy_id: str | None
    first_use: datetime
    last_use: datetime
    algorithms: tuple[str, ...]
    tasks: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "policy_id": self.policy_id,
            "first_use": self.first_use.isoformat(),
            "last_use": self.last_use.isoformat(),
            "algorithms": list(self.algorithms),
            "tasks": self.tasks,
        }


def studies_using(
    patient_id: str,
    *,
    audit_log: Path,
    objections: ObjectionRegister,
    dataset_ids: Collection[str],
) -> list[StudyUse]:
    """The studies that used ``patient_id``'s data, oldest first use first.

    Parameters
    ----------
    patient_id
        The identifier or pseudonym, as in the dataset's id column.
    audit_log
        The station's audit log.
    objections
        The holder's objection register.
    dataset_ids
        The identifiers in the station's dataset.

    Returns
    -------
    list of StudyUse
        Empty for a person not in the dataset, or whose data no study used.

    Raises
    ------
    AuditLogTampered
        The audit log was changed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with ObjectionRegister(folder / "objections.sqlite") as register:
    ...     studies_using("P001", audit_log=folder / "audit.jsonl", objections=register,
    ...                   dataset_ids={"P001"})
    []
    """
    patient_id = check_patient_id(patient_id)
    if patient_id not in dataset_ids or not audit_log.is_file():
        return []
    verify_audit_log(audit_log)
    history = objections.history(patient_id)
    uses: dict[tuple[str, str | None], list[tuple[datetime, str]]] = {}
    with audit_log.open("rb") as lines:
        for line in lines:
            record = json.loads(line)
            entry: Mapping[str, Any] = record["entry"]
            if entry.get("outcome") != "released":
                continue
            at = _used_at(entry, record)
            if _left_out(history, entry, at):
                continue
            key = (str(entry.get("study")), entry.get("policy_id"))
            uses.setdefault(key, []).append((at, str(entry.get("algorithm"))))
    found = [
        StudyUse(
            study=study,
            policy_id=policy_id,
            first_use=min(at for at, _ in runs),
            last_use=max(at for at, _ in runs),
            algorithms=tuple(sorted({algorithm for _, algorithm in runs})),
            tasks=len(runs),
        )
        for (study, policy_id), runs in uses.items()
    ]
    return sorted(found, key=lambda use: (use.first_use, use.study))


def used_by(config: StationConfig | str | Path, patient_id: str) -> list[StudyUse]:
    """:func:`studies_using` for the station that ``config`` (or its TOML file) describes.

    Raises
    ------
    InputError
        The configuration has no ``[governance] id_column``.
    """
    if not isinstance(config, StationConfig):
        config = StationConfig.load(config)
    id_column = config.governance.id_column
    if id_column is None:
        raise InputError(
            "the station's dataset has no patient identifier column; set [governance] "
            "id_column in station.toml to answer which studies used a person's data."
        )
    view = DatasetView.from_config(config)
    try:
        with ObjectionRegister(config.objections_file) as register:
            return studies_using(
                patient_id, audit_log=config.audit_log, objections=register, dataset_ids=view.ids
            )
    finally:
        view.close()


def _used_at(entry: Mapping[str, Any], record: Mapping[str, Any]) -> datetime:
    """When the task's cohort was assembled (the log line's time for older entries)."""
    cohort = entry.get("cohort")
    if isinstance(cohort, Mapping) and cohort.get("at"):
        return _aware(datetime.fromisoformat(str(cohort["at"])))
    return _aware(datetime.fromisoformat(str(record["time"])))


def _left_out(history: tuple[Objection, ...], entry: Mapping[str, Any], at: datetime) -> bool:
    cohort = entry.get("cohort")
    cohort = cohort if isinstance(cohort, Mapping) else {}
    granted = cohort.get("policy_granted_at")
    granted_at = None if granted is None else _aware(datetime.fromisoformat(str(granted)))
    apply = bool(cohort.get("objections_apply_to_earlier", False))
    return any(excludes(o, granted_at, apply, at) for o in history)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
