"""A station's configuration file (TOML), written by ``perron station init``.

```toml
name = "hospital_north"
organisation = "umc-north"
hub_url = "http://127.0.0.1:8700"
token_file = "station.token"          # the station token from `perron hub admin`
keys_dir = "keys"                     # private keys, never leave this machine
audit_log = "audit.jsonl"
state_dir = "state"                   # replay guard and stored answers
dataset = "data/lung_north.csv"       # CSV or Parquet
allowed_algorithms = ["summary", "glm", "coxph"]   # default: all installed
allowed_requesters = []               # default: any researcher of the study
task_timeout = 600                    # seconds a signed task stays valid

[disclosure]                          # the holder's rules (DisclosurePolicy)
min_cell = 5
event_times = "rounded"
time_grid = 7
```

Relative paths are relative to the configuration file's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError


@dataclass(frozen=True)
class StationConfig:
    name: str
    organisation: str
    hub_url: str
    token_file: Path
    keys_dir: Path
    audit_log: Path
    state_dir: Path
    dataset: Path
    disclosure: DisclosurePolicy = field(default_factory=DisclosurePolicy)
    allowed_algorithms: tuple[str, ...] | None = None
    allowed_requesters: tuple[str, ...] = ()
    task_timeout: float = 600.0

    @property
    def token(self) -> str:
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError as exc:
            raise InputError(
                f"station token file {self.token_file} is missing; ask the hub admin for "
                "a station token (`perron hub admin create-station`)."
            ) from exc

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

        allowed = raw.get("allowed_algorithms")
        return cls(
            name=str(raw["name"]),
            organisation=str(raw["organisation"]),
            hub_url=str(raw["hub_url"]).rstrip("/"),
            token_file=local("token_file", "station.token"),
            keys_dir=local("keys_dir", "keys"),
            audit_log=local("audit_log", "audit.jsonl"),
            state_dir=local("state_dir", "state"),
            dataset=local("dataset", ""),
            disclosure=DisclosurePolicy(**dict(raw.get("disclosure", {}))),
            allowed_algorithms=None if allowed is None else tuple(str(a) for a in allowed),
            allowed_requesters=tuple(str(r) for r in raw.get("allowed_requesters", ())),
            task_timeout=float(raw.get("task_timeout", 600.0)),
        )
