"""What the HTTP API accepts and answers, separate from the tables (docs/network.md).

Times are seconds since the epoch (like ``issued_at`` / ``expires_at`` in a signed
task). Names are 1 to 100 letters, digits, ``.``, ``_`` or ``-``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from perron.hub.db.models import NAME_PATTERN

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
RunStatus = Literal["pending", "claimed", "done", "failed", "cancelled"]
#: Largest sealed partial accepted (base64 characters).
MAX_PAYLOAD = 16 * 2**20
#: Base64 (standard alphabet, padded), the form :func:`perron.crypto.envelope.seal` returns.
BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"
#: Base64 of a 32-byte public key.
PUBLIC_KEY_PATTERN = r"^[A-Za-z0-9+/]{43}=$"
PublicKey = Annotated[str, StringConstraints(pattern=PUBLIC_KEY_PATTERN)]


class ErrorPublic(BaseModel):
    """Every error answer: what happened and the Perron error class."""

    detail: str
    kind: str


class TokenRequest(BaseModel):
    """A login."""

    username: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TokenPublic(BaseModel):
    """A new user token; shown once."""

    token: str
    expires_at: float


class MePublic(BaseModel):
    """The calling user."""

    username: str
    organisation: str
    role: Literal["admin", "researcher"]


class KeysIn(BaseModel):
    """Public keys (base64), from :meth:`perron.crypto.keys.KeyPair.public`."""

    verify_key: PublicKey
    box_key: PublicKey


class StudyPublic(BaseModel):
    """A study and its organisations."""

    name: str
    organisations: list[str]


class StationPublic(BaseModel):
    """A station of a study; keys are ``null`` until the station registers them."""

    name: str
    organisation: str
    verify_key: str | None
    box_key: str | None


class EnvelopeIn(BaseModel):
    """A signed task, from :func:`perron.crypto.envelope.sign`."""

    body: dict[str, Any]
    signature: Annotated[str, StringConstraints(max_length=200)]


class TaskCreate(BaseModel):
    """A task to send: the signed envelope and the stations to run it at."""

    envelope: EnvelopeIn
    stations: Annotated[list[Name], Field(min_length=1, max_length=1000)]


class TaskCreated(BaseModel):
    """The id of the stored task (the one in the signed body)."""

    task_id: str


class RunPublic(BaseModel):
    """One station's part of a task; ``payload`` is the sealed partial."""

    station: str
    status: RunStatus
    payload: str | None


class TaskPublic(BaseModel):
    """A task's state."""

    task_id: str
    status: RunStatus
    runs: list[RunPublic]


class RequesterPublic(BaseModel):
    """The researcher who signed a task and the keys to verify it and seal for them."""

    username: str
    verify_key: str
    box_key: str


class DeliveryPublic(BaseModel):
    """A run for a station."""

    run_id: int
    task_id: str
    study: StudyPublic
    envelope: dict[str, Any]
    requester: RequesterPublic


class RunResult(BaseModel):
    """A station's answer: the partial sealed for the requester."""

    status: Literal["done", "failed"]
    payload: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_PAYLOAD, pattern=BASE64_PATTERN)
    ]
