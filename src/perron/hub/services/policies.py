"""Study policies at the hub: made on approval, signed by approvers, fetched by stations.

When a holder's track becomes approved the hub makes the policy
(:func:`perron.governance.policy.policy_from_request`) and stores it unsigned, and
adds the holder organisation to the study so its stations receive the study's tasks.
If the track is sent back or stopped after that, the policy is withdrawn and the
organisation leaves the study (unless it is the applicant's, or another current
policy keeps it in); a re-approval makes a new policy.

The hub checks a signature before storing it (the signer is the caller, of the
holder, holding a signing role, with their registered key, and it verifies), so the
list a station gets holds no garbage. It does not decide for the station: a station
trusts the keys its holder configured (:func:`perron.governance.policy.verify_policy`),
not the hub, so a hub that forged or widened a policy would not get it enforced.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Select, delete, exists, select
from sqlalchemy.orm import Session

from perron.crypto.envelope import canonical
from perron.governance.policy import (
    Signature,
    SignedPolicy,
    StudyPolicy,
    policy_from_request,
)
from perron.governance.request import DataRequest
from perron.governance.roles import Role
from perron.governance.route import SIGNING_ROLES
from perron.hub.db.models import (
    PolicyRecord,
    PolicySignature,
    RequestRecord,
    Station,
    StudyOrganisation,
    User,
    utcnow,
)
from perron.hub.errors import Conflict
from perron.hub.services.parties import Holder, holder_named, load_record, require_party
from perron.protocol.errors import InputError, NotAuthorized, TamperedMessage


def issue(
    session: Session,
    record: RequestRecord,
    request: DataRequest,
    holder: Holder,
    *,
    disclosure: dict[str, object],
    now: datetime,
) -> StudyPolicy:
    """Store the policy an approved track gives ``holder`` and add it to the study (no commit)."""
    policy = policy_from_request(
        request,
        study=record.study.name,
        holder=holder.name,
        granted_at=now,
        disclosure=disclosure,
    )
    session.add(
        PolicyRecord(
            policy_id=policy.policy_id,
            request_id=record.id,
            organisation_id=holder.organisation_id,
            policy=canonical(policy.to_wire()).decode("ascii"),
            created_at=now,
        )
    )
    if session.get(StudyOrganisation, (record.study_id, holder.organisation_id)) is None:
        session.add(
            StudyOrganisation(study_id=record.study_id, organisation_id=holder.organisation_id)
        )
    return policy


def withdraw(session: Session, record: RequestRecord, holder: Holder, *, now: datetime) -> None:
    """Withdraw ``holder``'s current policy of the request; it leaves the study (no commit).

    The organisation stays in the study if it applied for it (the applicant's side
    of any request of the study), or if another current policy of the study is its.
    """
    for current in session.scalars(_current(record.id, holder.organisation_id)):
        current.withdrawn_at = now
    session.flush()
    org = holder.organisation_id
    applies = exists().where(
        RequestRecord.study_id == record.study_id, RequestRecord.organisation_id == org
    )
    other_policy = (
        exists()
        .where(
            PolicyRecord.request_id == RequestRecord.id,
            PolicyRecord.organisation_id == org,
            PolicyRecord.withdrawn_at.is_(None),
        )
        .where(RequestRecord.study_id == record.study_id)
    )
    if not session.scalar(select(applies | other_policy)):
        session.execute(
            delete(StudyOrganisation).where(
                StudyOrganisation.study_id == record.study_id,
                StudyOrganisation.organisation_id == org,
            )
        )


def _current(request_id: str, organisation_id: int) -> Select[PolicyRecord]:
    return select(PolicyRecord).where(
        PolicyRecord.request_id == request_id,
        PolicyRecord.organisation_id == organisation_id,
        PolicyRecord.withdrawn_at.is_(None),
    )


def signed(session: Session, record: PolicyRecord) -> SignedPolicy:
    """The stored policy with its signatures, in the order of the signing roles."""
    policy = StudyPolicy.from_wire(json.loads(record.policy))
    rows = {
        row.role: row
        for row in session.scalars(
            select(PolicySignature).where(PolicySignature.policy_id == record.policy_id)
        )
    }
    order = [*SIGNING_ROLES, *(role for role in Role if role not in SIGNING_ROLES)]
    return SignedPolicy(
        policy,
        tuple(
            Signature(role, row.signer, row.verify_key, row.signature)
            for role in order
            if (row := rows.get(role.value)) is not None
        ),
    )


def _current_record(session: Session, request_id: str, holder: Holder) -> PolicyRecord:
    found = session.scalars(_current(request_id, holder.organisation_id)).first()
    if found is None:
        raise Conflict(
            f"the track of {holder.name!r} of data request {request_id!r} is not approved, "
            "so it has no policy; it gets one when every step before the analysis is 'go'."
        )
    return found


def read(session: Session, user: User, request_id: str, holder: str) -> SignedPolicy:
    """``holder``'s current policy of the request, for its users and the applicant's side.

    Raises
    ------
    NotAuthorized
        The caller may not see ``holder``'s track.
    NotFound
        No such request or holder.
    Conflict
        The track is not approved (there is no policy).
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    found = holder_named(session, record, holder)
    if not party.may_see(holder):
        raise NotAuthorized(
            f"the policy of {holder!r} is for the users of {holder!r} and the applicant's side."
        )
    return signed(session, _current_record(session, record.id, found))


def add_signature(
    session: Session, user: User, request_id: str, holder: str, signature: Signature
) -> SignedPolicy:
    """Store an approver's signature over ``holder``'s current policy; the signed policy.

    A new signature of a role replaces the role's earlier one.

    Raises
    ------
    NotAuthorized
        The caller is not the signer, not of ``holder``, or does not hold the role.
    InputError
        The role does not sign policies, or the caller has no registered keys.
    Conflict
        The track is not approved.
    TamperedMessage
        The verify key is not the caller's registered one, or the signature does not
        verify over the stored policy.
    """
    record = load_record(session, request_id)
    party = require_party(session, record, user)
    found = holder_named(session, record, holder)
    if party.holder is None or party.holder.name != holder:
        raise NotAuthorized(
            f"the policy of {holder!r} is signed by users of {holder!r}; "
            f"{user.username!r} is not one of them."
        )
    if signature.signer != user.username:
        raise NotAuthorized(
            f"a signature is posted by its signer; {user.username!r} posted one of "
            f"{signature.signer!r}."
        )
    if signature.role not in SIGNING_ROLES:
        signing = ", ".join(role.value for role in SIGNING_ROLES)
        raise InputError(
            f"the {signature.role.label} does not sign policies; the signing roles are {signing}."
        )
    if signature.role not in party.roles:
        raise NotAuthorized(
            f"{user.username!r} does not hold the role {signature.role.value!r}; ask an "
            "organisation admin to grant it."
        )
    current = _current_record(session, record.id, found)
    if user.verify_key is None:
        raise InputError("register your public keys first (PUT /api/me/keys), then sign.")
    if signature.verify_key != user.verify_key:
        raise TamperedMessage(
            "the signature names a verify key that is not the one you registered at the hub; "
            "sign with your own key (or register the new one first)."
        )
    stored = signed(session, current)
    if not SignedPolicy(stored.policy, (signature,)).signature_valid(signature):
        raise TamperedMessage(
            f"the signature does not verify over the policy of {holder!r}; sign the policy "
            "exactly as GET .../policy returned it, with your registered key."
        )
    session.execute(
        delete(PolicySignature).where(
            PolicySignature.policy_id == current.policy_id,
            PolicySignature.role == signature.role.value,
        )
    )
    session.add(
        PolicySignature(
            policy_id=current.policy_id,
            role=signature.role.value,
            signer=signature.signer,
            verify_key=signature.verify_key,
            signature=signature.signature,
            signed_at=utcnow(),
        )
    )
    session.commit()
    return signed(session, current)


def of_station(session: Session, station: Station) -> list[SignedPolicy]:
    """Every current policy whose holder is the station's organisation, oldest first."""
    records = session.scalars(
        select(PolicyRecord)
        .where(
            PolicyRecord.organisation_id == station.organisation_id,
            PolicyRecord.withdrawn_at.is_(None),
        )
        .order_by(PolicyRecord.created_at, PolicyRecord.policy_id)
    )
    return [signed(session, record) for record in records]
