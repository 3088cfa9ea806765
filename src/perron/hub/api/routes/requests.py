"""``/api/requests``: data requests, their tracks, documents, drafts, policies and results.

Every endpoint here is for users (a station token gets 403) and for the parties of
the request only: its applicant's side and the users of its holder organisations
(docs/hub-governance.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from perron.governance.policy import Signature, SignedPolicy
from perron.governance.route import Track
from perron.hub.api.deps import CurrentUser, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.api.schemas import (
    REQUEST_ID_PATTERN,
    SHA256_PATTERN,
    DecisionIn,
    DocumentCreated,
    DocumentIn,
    DocumentPublic,
    RequestCreate,
    RequestCreated,
    RequestPublic,
    RequestSummaryPublic,
    ResultsIn,
    SendBackIn,
    SignatureIn,
    SignedPolicyPublic,
    TrackPublic,
)
from perron.hub.db.models import NAME_PATTERN
from perron.hub.services import documents, policies, requests, tracks

router = APIRouter(prefix="/api/requests", tags=["governance"], responses=ERROR_RESPONSES)

RequestId = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, description="The request's id.")]
HolderName = Annotated[str, Path(pattern=NAME_PATTERN, description="A holder organisation.")]
Digest = Annotated[str, Path(pattern=SHA256_PATTERN, description="The document's SHA-256.")]
DraftKind = Annotated[
    Literal["dpia", "privacy-matrix", "term-sheet"], Path(description="The kind of draft.")
]
_MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}
_DRAFT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The draft, as Markdown or as a standalone HTML page.",
        "content": {
            "text/markdown": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
}


def _track(track: Track) -> TrackPublic:
    return TrackPublic.model_validate(track.to_wire())


def _signed(signed: SignedPolicy) -> SignedPolicyPublic:
    return SignedPolicyPublic.model_validate(signed.to_wire())


@router.post("", status_code=201)
def create_request(body: RequestCreate, user: CurrentUser, session: SessionDep) -> RequestCreated:
    """Apply for data: one request to every holder it names (researchers, as the applicant).

    The study is created if it is new, with the applicant's organisation and the
    applicant as members; each holder's organisation joins it when its track is
    approved.
    """
    raw: object = body.request  # the JSON as sent; the service validates it
    request_id = requests.create_request(session, user, body.study, raw)
    return RequestCreated(request_id=request_id)


@router.get("")
def list_requests(user: CurrentUser, session: SessionDep) -> list[RequestSummaryPublic]:
    """The requests the caller is a party of (a holder's user sees only its own holder)."""
    return [
        RequestSummaryPublic.model_validate(summary, from_attributes=True)
        for summary in requests.visible_requests(session, user)
    ]


@router.get("/{request_id}")
def read_request(request_id: RequestId, user: CurrentUser, session: SessionDep) -> RequestPublic:
    """The request and its tracks; a holder's user gets only its own part and track."""
    view = requests.request_view(session, user, request_id)
    return RequestPublic(
        request_id=view.request_id,
        study=view.study,
        request=view.request,
        tracks={name: _track(track) for name, track in view.tracks.items()},
    )


@router.post("/{request_id}/tracks/{holder}/decisions")
def decide(
    request_id: RequestId,
    holder: HolderName,
    body: DecisionIn,
    user: CurrentUser,
    session: SessionDep,
) -> TrackPublic:
    """Decide the current step of a holder's track, go or no-go (the step's lead).

    Holder-side steps are decided by users of the holder, the research question and
    the analysis by the applicant. A decision out of order, or on a closed track,
    gets 409.
    """
    track = tracks.decide_step(
        session,
        user,
        request_id,
        holder,
        step=body.step,
        outcome=body.outcome,
        comment=body.comment,
        attachments=body.attachments,
        disclosure=body.disclosure,
    )
    return _track(track)


@router.post("/{request_id}/tracks/{holder}/send-back")
def send_back(
    request_id: RequestId,
    holder: HolderName,
    body: SendBackIn,
    user: CurrentUser,
    session: SessionDep,
) -> TrackPublic:
    """Send a holder's track back to an earlier step (the current step's lead)."""
    track = tracks.send_track_back(
        session, user, request_id, holder, to=body.to, comment=body.comment
    )
    return _track(track)


@router.get("/{request_id}/tracks/{holder}/policy")
def read_policy(
    request_id: RequestId, holder: HolderName, user: CurrentUser, session: SessionDep
) -> SignedPolicyPublic:
    """The policy of an approved track, with its signatures so far (409 if not approved)."""
    return _signed(policies.read(session, user, request_id, holder))


@router.post("/{request_id}/tracks/{holder}/policy/signatures")
def sign_policy(
    request_id: RequestId,
    holder: HolderName,
    body: SignatureIn,
    user: CurrentUser,
    session: SessionDep,
) -> SignedPolicyPublic:
    """Add the caller's signature to the holder's policy (a holder's approver, own key).

    The signature must verify over the policy with the caller's registered verify
    key (400 otherwise); it replaces an earlier signature of the same role.
    """
    signature = Signature(body.role, body.signer, body.verify_key, body.signature)
    return _signed(policies.add_signature(session, user, request_id, holder, signature))


@router.post("/{request_id}/documents", status_code=201)
def upload_document(
    request_id: RequestId, body: DocumentIn, user: CurrentUser, session: SessionDep
) -> DocumentCreated:
    """Store a text document of the request (at most 1 MB); cite its SHA-256 in decisions."""
    digest = documents.upload(
        session,
        user,
        request_id,
        name=body.name,
        media_type=body.media_type,
        content=body.content,
        holder=body.holder,
    )
    return DocumentCreated(sha256=digest)


@router.get("/{request_id}/documents/{sha256}")
def read_document(
    request_id: RequestId, sha256: Digest, user: CurrentUser, session: SessionDep
) -> DocumentPublic:
    """A document of the request (a holder reads shared documents and its own)."""
    document = documents.read(session, user, request_id, sha256)
    return DocumentPublic(
        name=document.name, media_type=document.media_type, content=document.content
    )


@router.get("/{request_id}/drafts/{kind}", response_class=Response, responses=_DRAFT_RESPONSES)
def read_draft(
    request_id: RequestId,
    kind: DraftKind,
    user: CurrentUser,
    session: SessionDep,
    holder: Annotated[
        str | None, Query(pattern=NAME_PATTERN, description="Only this holder's part.")
    ] = None,
    format_: Annotated[Literal["md", "html"], Query(alias="format")] = "md",
) -> Response:
    """A draft DPIA, privacy matrix or term sheet of the request (a holder gets its own part)."""
    text = requests.draft(session, user, request_id, kind, holder=holder, html=format_ == "html")
    return Response(content=text, media_type=_MEDIA_TYPES[format_])


@router.post("/{request_id}/results", status_code=204)
def report_results(
    request_id: RequestId, body: ResultsIn, user: CurrentUser, session: SessionDep
) -> None:
    """Report results and publications of the request (the applicant); shown in the register."""
    requests.report_results(session, user, request_id, body.summary, body.publications)
