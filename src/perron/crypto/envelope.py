"""Signed and sealed messages.

- A **signed envelope** ``{"body": ..., "signature": ...}`` carries a task: anyone
  with the researcher's verify key can check it, nobody can change it.
- A **sealed** message is a signed envelope encrypted with a libsodium sealed box
  (X25519 + XSalsa20-Poly1305) for one recipient: only the recipient can read it,
  and the inner signature proves which station wrote it. The hub relays sealed
  partials without being able to read them.
"""

from __future__ import annotations

import json
from typing import Any

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PublicKey, SealedBox
from nacl.signing import VerifyKey

from perron.crypto.keys import KeyPair, PublicKeys, b64, unb64
from perron.protocol.errors import TamperedMessage


def canonical(obj: Any) -> bytes:
    """The one byte string a JSON value is signed as (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def sign(body: dict[str, Any], key: KeyPair) -> dict[str, Any]:
    signature = key.signing.sign(canonical(body)).signature
    return {"body": body, "signature": b64(signature)}


def verify(envelope: dict[str, Any], verify_key: str) -> dict[str, Any]:
    """The envelope's body, if its signature verifies with ``verify_key``."""
    try:
        body = envelope["body"]
        VerifyKey(unb64(verify_key)).verify(canonical(body), unb64(envelope["signature"]))
    except (KeyError, TypeError, ValueError, BadSignatureError, CryptoError) as exc:
        raise TamperedMessage(
            "a signature does not verify: the message was changed in transit or was "
            "not signed by who it claims; it was rejected."
        ) from exc
    if not isinstance(body, dict):
        raise TamperedMessage("a signed message has no object body; it was rejected.")
    return body


def seal(body: dict[str, Any], recipient: PublicKeys, signer: KeyPair) -> str:
    plaintext = canonical(sign(body, signer))
    box = SealedBox(PublicKey(unb64(recipient.box_key)))
    return b64(box.encrypt(plaintext))


def unseal(ciphertext: str, recipient: KeyPair, sender: PublicKeys) -> dict[str, Any]:
    """Decrypt a sealed message for ``recipient`` and check ``sender``'s signature."""
    try:
        plaintext = SealedBox(recipient.box).decrypt(unb64(ciphertext))
        envelope = json.loads(plaintext)
    except (ValueError, TypeError, CryptoError) as exc:
        raise TamperedMessage(
            "a sealed message cannot be opened: it was changed in transit or is not "
            "meant for this key; it was rejected."
        ) from exc
    if not isinstance(envelope, dict):
        raise TamperedMessage("a sealed message holds no signed envelope; it was rejected.")
    return verify(envelope, sender.verify_key)
