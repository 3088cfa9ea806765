"""Documents of a data request (a DPIA, an agreement, minutes), named by their SHA-256.

A document is text (at most :data:`MAX_DOCUMENT_BYTES` of UTF-8). The applicant's
side may share a document with every holder or address it to one holder; a holder's
users always address their documents to their own organisation. A holder reads the
shared documents and its own, never another holder's. A decision may attach only
documents of its request that its track's holder may read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from perron.governance.route import Attachment
from perron.hub.db.models import RequestDocument, RequestRecord, User
from perron.hub.errors import NotFound
from perron.hub.services.parties import Holder, Party, holder_named, load_record, require_party
from perron.protocol.errors import InputError, NotAuthorized

#: The largest document accepted (bytes of UTF-8).
MAX_DOCUMENT_BYTES = 1_000_000


def upload(
    session: Session,
    user: User,
    request_id: str,
    *,
    name: str,
    media_type: str,
    content: str,
    holder: str | None = None,
) -> str:
    """Store a document of the request; its SHA-256 (hex). Idempotent per content and scope.

    Parameters
    ----------
    holder
        The holder the document is for; ``None`` shares it with every holder (the
        applicant's side only). A holder's users may leave it out.

    Raises
    ------
    NotAuthorized
        The caller is not a party, or a holder's user addresses another holder.
    NotFound
        ``holder`` is not a holder of the request.
    InputError
        The document is larger than :data:`MAX_DOCUMENT_BYTES`.
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    raw = content.encode("utf-8")
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"document {name!r} has {len(raw)} bytes; the hub keeps documents of at most "
            f"{MAX_DOCUMENT_BYTES} bytes. Split it, or attach a summary."
        )
    scope = _scope(session, record, party, holder)
    digest = hashlib.sha256(raw).hexdigest()
    same = select(RequestDocument.id).where(
        RequestDocument.request_id == record.id,
        RequestDocument.sha256 == digest,
        RequestDocument.holder_id.is_(None)
        if scope is None
        else RequestDocument.holder_id == scope.organisation_id,
    )
    if session.scalar(same) is None:
        session.add(
            RequestDocument(
                request_id=record.id,
                holder_id=None if scope is None else scope.organisation_id,
                sha256=digest,
                name=name,
                media_type=media_type,
                content=content,
                uploader_id=user.id,
            )
        )
        session.commit()
    return digest


def _scope(
    session: Session, record: RequestRecord, party: Party, holder: str | None
) -> Holder | None:
    if party.applicant_side:
        return None if holder is None else holder_named(session, record, holder)
    assert party.holder is not None  # a party not on the applicant's side is a holder
    if holder is not None and holder != party.holder.name:
        raise NotAuthorized(
            f"{party.user.username!r} of {party.holder.name!r} cannot address documents to "
            f"{holder!r}."
        )
    return party.holder


def _readable(
    session: Session,
    record: RequestRecord,
    party: Party,
    digest: str,
    holder: Holder | None = None,
) -> RequestDocument | None:
    """The document, if the caller (and ``holder``, if given) may read it."""
    query = select(RequestDocument).where(
        RequestDocument.request_id == record.id, RequestDocument.sha256 == digest
    )
    for reader in (None if party.applicant_side else party.holder, holder):
        if reader is not None:
            query = query.where(
                or_(
                    RequestDocument.holder_id.is_(None),
                    RequestDocument.holder_id == reader.organisation_id,
                )
            )
    return session.scalars(query.order_by(RequestDocument.id)).first()


def read(session: Session, user: User, request_id: str, digest: str) -> RequestDocument:
    """The document ``digest`` of the request, if the caller may read it.

    Raises
    ------
    NotAuthorized
        The caller is not a party of the request.
    NotFound
        No such document that the caller may read.
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    document = _readable(session, record, party, digest)
    if document is None:
        raise NotFound(f"data request {request_id!r} has no document {digest!r} for you.")
    return document


def attachments(
    session: Session,
    record: RequestRecord,
    party: Party,
    holder: Holder,
    digests: Sequence[str],
) -> tuple[Attachment, ...]:
    """The attachments of a decision on ``holder``'s track.

    Raises
    ------
    InputError
        A digest is not a document of this request that both the caller and
        ``holder`` may read (upload it first: ``POST .../documents``).
    """
    found = []
    for digest in dict.fromkeys(digests):
        document = _readable(session, record, party, digest, holder)
        if document is None:
            raise InputError(
                f"attachment {digest!r} is not a document of data request {record.id!r} for "
                f"{holder.name!r}; upload it first (POST /api/requests/{record.id}/documents)."
            )
        found.append(Attachment(document.name, document.sha256, document.media_type))
    return tuple(found)
