"""Key pairs of researchers and stations: Ed25519 for signing, X25519 for sealed boxes.

Keys are generated on the machine that uses them (``perron station init``, or by
``perron.connect`` for a researcher session) and never leave it; only the public
halves go to the hub.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from perron.protocol.errors import InputError

_SIGNING_FILE = "signing.key"
_BOX_FILE = "box.key"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class PublicKeys:
    """The public halves, base64-encoded, as the hub stores and hands them out."""

    verify_key: str
    box_key: str

    def to_dict(self) -> dict[str, str]:
        return {"verify_key": self.verify_key, "box_key": self.box_key}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> PublicKeys:
        return cls(verify_key=str(data["verify_key"]), box_key=str(data["box_key"]))


@dataclass(frozen=True)
class KeyPair:
    """A signing key and a box (encryption) key."""

    signing: SigningKey
    box: PrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(SigningKey.generate(), PrivateKey.generate())

    def public(self) -> PublicKeys:
        return PublicKeys(b64(bytes(self.signing.verify_key)), b64(bytes(self.box.public_key)))

    def save(self, directory: str | Path) -> None:
        """Write both private keys (mode 0600); refuse to overwrite existing keys."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        for name, key in ((_SIGNING_FILE, bytes(self.signing)), (_BOX_FILE, bytes(self.box))):
            path = folder / name
            if path.exists():
                raise InputError(f"{path} exists; keys are never overwritten. Move it away first.")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(b64(key))

    @classmethod
    def load(cls, directory: str | Path) -> KeyPair:
        folder = Path(directory)
        try:
            signing = unb64((folder / _SIGNING_FILE).read_text().strip())
            box = unb64((folder / _BOX_FILE).read_text().strip())
        except FileNotFoundError as exc:
            raise InputError(
                f"no keys in {folder}; create them with `perron station init`."
            ) from exc
        return cls(SigningKey(signing), PrivateKey(box))
