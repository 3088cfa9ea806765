"""Station-to-station messages through the coordinator, for multi-party protocols.

The coordinator of a protocol such as PSI only relays: each station seals (signs
and encrypts) what it sends to another with session keys the stations make for
that protocol, returns the sealed messages in its payload as ``{"to", "sealed"}``
items, and the coordinator hands each station its inbox in the next round's
parameters. The coordinator and the hub see who sends to whom and the lengths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.algorithms.core.base import Payload, StationOutput
from perron.crypto.envelope import seal, unseal
from perron.crypto.keys import KeyPair, PublicKeys, b64, unb64
from perron.linkage.psi_messages import PsiMessage, seal_message
from perron.protocol.errors import TamperedMessage


def inboxes(
    partials: Mapping[str, Payload], parties: Iterable[str]
) -> dict[str, list[dict[str, str]]]:
    """Per recipient, the sealed messages the stations of this round addressed to it.

    Examples
    --------
    >>> partials = {"a": {"messages": [{"to": "b", "sealed": "x"}]}, "b": {}}
    >>> inboxes(partials, ["a", "b"])
    {'a': [], 'b': [{'from': 'a', 'sealed': 'x'}]}
    """
    inbox: dict[str, list[dict[str, str]]] = {name: [] for name in parties}
    for sender, payload in partials.items():
        for message in payload.get("messages", ()):
            recipient = str(message["to"])
            if recipient not in inbox:
                inbox[recipient] = []
            inbox[recipient].append({"from": sender, "sealed": str(message["sealed"])})
    return inbox


def my_inbox(params: Payload, station: str) -> list[Mapping[str, Any]]:
    """The messages relayed to ``station`` in this round's parameters."""
    return list(params.get("inbox", {}).get(station, ()))


def send_psi(
    messages: Sequence[PsiMessage], peers: Mapping[str, PublicKeys], own: KeyPair, done: bool
) -> StationOutput:
    """PSI messages sealed for their recipients, and whether this party is done."""
    sealed = [
        {"to": m.recipient, "sealed": seal_message(m, peers[m.recipient], own)} for m in messages
    ]
    return StationOutput({"messages": sealed, "done": done}, [])


def seal_for(
    body: Mapping[str, Any],
    *,
    kind: str,
    session: str,
    sender: str,
    recipient: str,
    peer: PublicKeys,
    own: KeyPair,
) -> dict[str, str]:
    """A ``{"to", "sealed"}`` item: ``body`` signed by ``own`` and encrypted for ``peer``.

    The sealed header names kind, session, sender and recipient, so a relayed
    message cannot be replayed into another session or step, or misrouted.
    """
    header = {"kind": kind, "session": session, "from": sender, "to": recipient}
    return {"to": recipient, "sealed": seal({**header, "body": dict(body)}, peer, own)}


def open_from(
    item: Mapping[str, Any],
    *,
    kind: str,
    session: str,
    recipient: str,
    own: KeyPair,
    peers: Mapping[str, PublicKeys],
) -> dict[str, Any]:
    """The body of a relayed item, after checking signature, kind, session and route.

    Raises
    ------
    TamperedMessage
        The message does not open with these keys, or it was sealed for another
        step, session, sender or recipient.
    """
    sender = str(item.get("from"))
    if sender not in peers:
        raise TamperedMessage(
            f"a relayed message claims to come from {sender!r}, who is not a party of this "
            "session; it was rejected."
        )
    envelope = unseal(str(item["sealed"]), own, peers[sender])
    expected = {"kind": kind, "session": session, "from": sender, "to": recipient}
    for key, value in expected.items():
        if envelope.get(key) != value:
            raise TamperedMessage(
                f"a relayed message has {key}={envelope.get(key)!r} where {value!r} was "
                "expected (replayed or misrouted); it was rejected."
            )
    body = envelope.get("body")
    if not isinstance(body, dict):
        raise TamperedMessage("a relayed message carries no body; it was rejected.")
    return body


def pack_array(array: npt.NDArray[Any]) -> dict[str, Any]:
    """A JSON-ready ``{"dtype", "shape", "data"}`` of an integer array (base64 once)."""
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": b64(array.tobytes())}


def unpack_array(packed: Mapping[str, Any], dtype: str) -> npt.NDArray[Any]:
    """The array of :func:`pack_array`; ``TamperedMessage`` if it is not a ``dtype`` array."""
    try:
        shape = tuple(int(d) for d in packed["shape"])
        if packed["dtype"] != np.dtype(dtype).str:
            raise ValueError("dtype")
        return np.frombuffer(unb64(str(packed["data"])), dtype=dtype).reshape(shape)
    except (KeyError, ValueError, TypeError) as exc:
        raise TamperedMessage(
            f"a relayed array is malformed (expected {dtype}); it was rejected."
        ) from exc
