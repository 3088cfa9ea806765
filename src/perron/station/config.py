"""A station's configuration file (TOML), written by ``perron station init``.

```toml
name = "hospital_north"
organisation = "umc-north"
hub_url = "http://127.0.0.1:8700"
transport = "websocket"               # how runs arrive: one WebSocket, or "http" long-polls
                                      #   (for proxies that do not pass WebSockets)
token_file = "station.token"          # the station token from `perron hub admin`
keys_dir = "keys"                     # private keys, never leave this machine
audit_log = "audit.jsonl"
state_dir = "state"                   # replay guard, stored answers, task counts, objections,
                                      #   the feasibility ledger
dataset = "data/lung_north.csv"       # CSV or Parquet file, DuckDB file, database URL,
                                      #   or with reader = "omop" an OMOP CDM (below)
reader = "pandas"                     # CSV/Parquet: "pandas" loads the file into memory,
                                      #   "duckdb" scans it and pushes aggregates down;
                                      #   "omop": the per-person table of an OMOP CDM
allowed_algorithms = ["summary", "glm", "coxph"]   # default: all installed
allowed_requesters = []               # default: any researcher of the study
task_timeout = 600                    # seconds a signed task stays valid

[disclosure]                          # the holder's rules (DisclosurePolicy)
min_cell = 5
event_times = "rounded"
time_grid = 7

[governance]                          # every key is optional
dataset_name = "lung"                 # the dataset's name in requests and policies
                                      #   (default: the file's stem, here "lung_north")
id_column = "patient_id"              # the patient identifier or pseudonym column:
                                      #   matches objections; no analysis can use it
require_policy = false                # true: a study's task runs only under a verified
                                      #   policy of that study for this holder
objections_apply_to_earlier = false   # whether an objection also excludes the person
                                      #   from policies granted before it (EHDS art.
                                      #   71(3) excludes them from later ones always)

[governance.signers]                  # role -> base64 Ed25519 verify key the holder trusts;
privacy_officer = "q0p3...="          #   a policy is in force only when every role
legal_counsel = "Zm9v...="            #   listed here signed it with that key

[quality]                             # the CDM `perron station quality` checks (optional):
mapping = "omop/mapping.toml"         #   mapping = ..., fhir = [...] or tables = "cdm/";
death_grace_days = 60                 #   and the checks' settings (docs/quality.md)
```

Relative paths are relative to the configuration file's folder.

The dataset can also live in a database, which is then never loaded: every
aggregate runs as SQL in it (:mod:`perron.data.sql`). Name the table or view:

```toml
dataset = "data/cohort.duckdb"        # a DuckDB file (opened read-only)
table = "lung"                        #   default: its only table

dataset = "postgresql+psycopg://station@db.hospital.local:5432/research"
table = "lung"                        # any SQLAlchemy URL; required for a URL
```

The dataset can be an OMOP CDM (:mod:`perron.omop.dataset`): a mapping file of flat
source tables, a folder of FHIR R4 bundles or a folder of CDM tables. Analyses then
read the per-person table derived from it (:func:`perron.omop.view.person_table`),
with the code sets of ``[omop]`` as columns::

    dataset = "omop/mapping.toml"         # or "fhir/" (bundles) or "cdm/" (tables)
    reader = "omop"

    [omop]
    index_date = 2025-01-01
    [omop.conditions]
    heart_disease = "SNOMED:56265001"     # with its descendants in the hierarchy
    [omop.hierarchies]
    SNOMED = "snomed_isa.csv"             # parent,child rows

Then ``[governance] id_column`` defaults to ``person_source_value``, and ``perron
station quality`` checks this CDM unless ``[quality]`` names another.

Keep passwords out of station.toml: leave them out of the URL and let the driver
find them (for PostgreSQL ``~/.pgpass`` or the ``PGPASSWORD`` environment variable).
Without ``dataset_name`` a dataset is named after its file's stem, or for a URL
after its table.

``require_policy = true`` needs at least one signer. Without signers the station
does not look for policies at all (tasks run as before); it still hides the
``id_column`` from every analysis and leaves out the people who objected (see
:mod:`perron.station.objections`).
"""

from __future__ import annotations

import binascii
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from perron.crypto.keys import unb64
from perron.data.sql_engine import is_url
from perron.governance.roles import Role
from perron.omop.dataset import OmopSettings, cdm_format
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError
from perron.quality.settings import StationQuality

_GOVERNANCE_KEYS = frozenset(
    {"dataset_name", "id_column", "require_policy", "objections_apply_to_earlier", "signers"}
)
_VERIFY_KEY_BYTES = 32
_READERS = ("pandas", "duckdb", "omop")
#: How a station takes its runs from the hub (:mod:`perron.station.link`).
TRANSPORTS = ("websocket", "http")
#: The identifier column of an OMOP dataset's analysis table: the holder's own id.
OMOP_ID_COLUMN = "person_source_value"


@dataclass(frozen=True)
class GovernanceSettings:
    """The ``[governance]`` table: how this station enforces study policies and objections.

    Parameters
    ----------
    dataset_name
        The dataset's name in data requests and policies; ``None``: the file's stem.
    id_column
        The column with the patient identifier or pseudonym; ``None``: the dataset
        has none (then objections cannot be honoured, and tasks are refused while
        any objection is registered).
    require_policy
        Whether a task runs only under a verified policy of its study.
    objections_apply_to_earlier
        Whether an objection also excludes the person from policies granted before it.
    signers
        Role -> base64 Ed25519 verify key whose signature a policy needs.

    Examples
    --------
    >>> settings = GovernanceSettings.from_mapping({"id_column": "pid"})
    >>> settings.id_column, settings.require_policy, dict(settings.signers)
    ('pid', False, {})
    """

    dataset_name: str | None = None
    id_column: str | None = None
    require_policy: bool = False
    objections_apply_to_earlier: bool = False
    signers: Mapping[Role, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> GovernanceSettings:
        """Read and check the ``[governance]`` table; ``InputError`` names what is wrong."""
        unknown = sorted(set(raw) - _GOVERNANCE_KEYS)
        if unknown:
            raise InputError(
                f"[governance] has unknown keys {unknown}; the keys are "
                f"{sorted(_GOVERNANCE_KEYS)} (check the spelling)."
            )
        settings = cls(
            dataset_name=_name(raw, "dataset_name"),
            id_column=_name(raw, "id_column"),
            require_policy=_flag(raw, "require_policy"),
            objections_apply_to_earlier=_flag(raw, "objections_apply_to_earlier"),
            signers=_signers(raw.get("signers", {})),
        )
        if settings.require_policy and not settings.signers:
            raise InputError(
                "[governance] require_policy = true needs the keys of the policy signers "
                "the holder trusts: add a [governance.signers] table (for example "
                'privacy_officer = "<base64 verify key>").'
            )
        return settings


def _name(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"[governance] {key} must be a non-empty string, not {value!r}.")
    return value


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise InputError(f"[governance] {key} must be true or false, not {value!r}.")
    return value


def _signers(raw: object) -> dict[Role, str]:
    if not isinstance(raw, Mapping):
        raise InputError(
            "[governance.signers] must be a table of role = base64 verify key, e.g. "
            'privacy_officer = "..."'
        )
    signers: dict[Role, str] = {}
    for name, key in raw.items():
        try:
            role = Role(str(name))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InputError(
                f"[governance.signers] names an unknown role {name!r}; the roles are {known}."
            ) from None
        if not isinstance(key, str):
            raise InputError(f"[governance.signers] {name} must be a base64 string.")
        try:
            raw_key = unb64(key)
        except (binascii.Error, ValueError):
            raise InputError(
                f"[governance.signers] {name} is not valid base64; paste the signer's "
                "verify key as `perron` printed it."
            ) from None
        if len(raw_key) != _VERIFY_KEY_BYTES:
            raise InputError(
                f"[governance.signers] {name} is {len(raw_key)} bytes, not the "
                f"{_VERIFY_KEY_BYTES} bytes of an Ed25519 verify key; check that the whole "
                "key was copied (and that it is the verify key, not a private key)."
            )
        signers[role] = key
    return signers


@dataclass(frozen=True)
class StationConfig:
    name: str
    organisation: str
    hub_url: str
    token_file: Path
    keys_dir: Path
    audit_log: Path
    state_dir: Path
    #: A file path, or a SQLAlchemy URL (a string).
    dataset: Path | str
    disclosure: DisclosurePolicy = field(default_factory=DisclosurePolicy)
    allowed_algorithms: tuple[str, ...] | None = None
    allowed_requesters: tuple[str, ...] = ()
    task_timeout: float = 600.0
    governance: GovernanceSettings = field(default_factory=GovernanceSettings)
    #: The table or view in a DuckDB file or a database.
    table: str | None = None
    #: How a CSV/Parquet file is read: "pandas" (into memory) or "duckdb" (scanned).
    reader: str = "pandas"
    #: The ``[quality]`` table: the CDM ``perron station quality`` checks, and how.
    quality: StationQuality = field(default_factory=StationQuality)
    #: The ``[omop]`` table, for ``reader = "omop"``: how the CDM becomes the table.
    omop: OmopSettings | None = None
    #: How runs arrive from the hub: "websocket" (one connection) or "http" (long-polls).
    transport: str = "websocket"

    @property
    def token(self) -> str:
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError as exc:
            raise InputError(
                f"station token file {self.token_file} is missing; ask the hub admin for "
                "a station token (`perron hub admin create-station`)."
            ) from exc

    @property
    def dataset_name(self) -> str:
        """The dataset's name in requests and policies (default: the file's stem, or
        the table of a database)."""
        if self.governance.dataset_name:
            return self.governance.dataset_name
        if isinstance(self.dataset, str):  # a database URL: the table
            return self.table or "dataset"
        return self.dataset.stem

    @property
    def objections_file(self) -> Path:
        """The objection register (SQLite) in the state folder."""
        return self.state_dir / "objections.sqlite"

    @property
    def policy_tasks_file(self) -> Path:
        """The count of tasks run under each policy (SQLite) in the state folder."""
        return self.state_dir / "policy_tasks.sqlite"

    @property
    def feasibility_file(self) -> Path:
        """The feasibility ledger per requester (SQLite) in the state folder."""
        return self.state_dir / "feasibility.sqlite"

    @classmethod
    def load(cls, path: str | Path) -> StationConfig:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise InputError(f"station configuration {path} does not exist.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"station configuration {path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(raw, path.parent)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], base: Path) -> StationConfig:
        required = ("name", "organisation", "hub_url", "dataset")
        missing = [key for key in required if key not in raw]
        if missing:
            raise InputError(f"station configuration lacks {missing}.")

        def local(key: str, default: str) -> Path:
            value = Path(str(raw.get(key, default)))
            return value if value.is_absolute() else base / value

        dataset: Path | str = str(raw["dataset"])
        if not is_url(dataset):
            dataset = local("dataset", "")
        elif raw.get("table") is None:
            raise InputError(
                'dataset is a database URL: name the table or view with table = "..." in '
                "station.toml."
            )
        reader = _choice(raw, "reader", _READERS)
        transport = _choice(raw, "transport", TRANSPORTS)
        table = raw.get("table")
        if table is not None and (not isinstance(table, str) or not table.strip()):
            raise InputError(f"table must be a non-empty string, not {table!r}.")
        allowed = raw.get("allowed_algorithms")
        governance = raw.get("governance", {})
        if not isinstance(governance, Mapping):
            raise InputError("[governance] must be a table.")
        settings = GovernanceSettings.from_mapping(governance)
        quality = StationQuality.from_mapping(raw.get("quality", {}), base)
        omop = None
        if reader == "omop":
            if isinstance(dataset, str) or table is not None:
                raise InputError(
                    'reader = "omop" reads an OMOP CDM from a mapping file, a folder of FHIR '
                    "bundles or a folder of CDM tables: give its path as dataset, and no "
                    "table."
                )
            omop = OmopSettings.from_mapping(raw.get("omop", {}), base)
            quality = _quality_of(quality, dataset, cdm_format(dataset, omop.format))
            if settings.id_column is None:
                settings = replace(settings, id_column=OMOP_ID_COLUMN)
        elif "omop" in raw:
            raise InputError(
                '[omop] describes an OMOP CDM dataset; set reader = "omop" (and the CDM as '
                "dataset), or remove [omop]."
            )
        return cls(
            name=str(raw["name"]),
            organisation=str(raw["organisation"]),
            hub_url=str(raw["hub_url"]).rstrip("/"),
            token_file=local("token_file", "station.token"),
            keys_dir=local("keys_dir", "keys"),
            audit_log=local("audit_log", "audit.jsonl"),
            state_dir=local("state_dir", "state"),
            dataset=dataset,
            disclosure=DisclosurePolicy(**dict(raw.get("disclosure", {}))),
            allowed_algorithms=None if allowed is None else tuple(str(a) for a in allowed),
            allowed_requesters=tuple(str(r) for r in raw.get("allowed_requesters", ())),
            task_timeout=float(raw.get("task_timeout", 600.0)),
            governance=settings,
            table=table,
            reader=reader,
            quality=quality,
            omop=omop,
            transport=transport,
        )


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    """``raw[key]``, one of ``choices`` (default: the first)."""
    value = str(raw.get(key, choices[0]))
    if value not in choices:
        raise InputError(f"{key} must be one of {', '.join(map(repr, choices))}, not {value!r}.")
    return value


def _quality_of(quality: StationQuality, dataset: Path, kind: str) -> StationQuality:
    """``[quality]``, checking the station's own CDM unless it names another."""
    if quality.mapping is not None or quality.fhir or quality.tables is not None:
        return quality
    if kind == "mapping":
        return replace(quality, mapping=dataset)
    if kind == "tables":
        return replace(quality, tables=dataset)
    files = (dataset,) if dataset.is_file() else tuple(sorted(dataset.glob("*.json")))
    return replace(quality, fhir=files)
