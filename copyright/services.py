"""The rightsholder registry: organisations, claims an admin verifies, versioned work policies.

Pure functions over a session (no Flask). A work is identified by its catalogue id or by the id
of a work an organisation registered; until an admin verifies a claim on it, nobody can opt it
in, so it stays default-deny.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.kit.cache import RebuiltOnChange
from app.db import as_utc, utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.models import Role, User
from copyright.catalogue import Catalogue, load_catalogue
from copyright.models import (
    ClaimStatus, OrgMember, PolicyKind, RegisteredWork, Restriction, RightsholderOrg, WorkClaim, WorkPolicy,
)

MAX_SHARE_BP = 10_000


# -- organisations --------------------------------------------------------------------------------

def create_org(session: Session, admin: User, name: str, members: list[User]) -> RightsholderOrg:
    if session.scalar(select(RightsholderOrg).where(RightsholderOrg.name == name)) is not None:
        raise Conflict("an organisation with that name exists", code="org_name_taken")
    org = RightsholderOrg(name=name)
    session.add(org)
    session.flush()
    for user in members:
        add_member(session, admin, org, user)
    audit.record(session, actor=admin.id, action="rightsholder_org.created", object_type="rightsholder_org",
                 object_id=org.id, after={"name": name, "members": [u.id for u in members]})
    return org


def add_member(session: Session, admin: User, org: RightsholderOrg, user: User) -> None:
    if user.role != Role.RIGHTSHOLDER:
        raise ValidationFailed(f"@{user.handle} does not have the rightsholder role", code="not_a_rightsholder",
                               details={"handle": user.handle})
    if session.get(OrgMember, user.id) is not None:
        raise Conflict(f"@{user.handle} already belongs to an organisation", code="already_in_org")
    session.add(OrgMember(user_id=user.id, org_id=org.id))
    session.flush()


def org_of(session: Session, user: User) -> RightsholderOrg:
    member = session.get(OrgMember, user.id)
    if member is None:
        raise Forbidden("you do not belong to a rightsholder organisation", code="not_in_org")
    return session.get(RightsholderOrg, member.org_id)


# -- works ----------------------------------------------------------------------------------------

def work_title(session: Session, work_id: str) -> str:
    """The title of a catalogue or registered work; work_not_found otherwise."""
    work = load_catalogue().by_id(work_id)
    if work is not None:
        return work.title
    registered = session.get(RegisteredWork, work_id)
    if registered is None:
        raise NotFound("no such work", code="work_not_found", details={"work_id": work_id})
    return registered.title


def register_work(session: Session, user: User, title: str, kind: str, aliases: list[str],
                  descriptions: list[str], evidence_text: str, evidence_url: str | None) -> tuple[RegisteredWork,
                                                                                              WorkClaim]:
    """A work the catalogue does not know, with the organisation's claim on it (pending)."""
    org = org_of(session, user)
    work = RegisteredWork(org_id=org.id, title=title, kind=kind, aliases=aliases, descriptions=descriptions)
    session.add(work)
    session.flush()
    audit.record(session, actor=user.id, action="work.registered", object_type="work", object_id=work.id,
                 after={"title": title, "kind": kind, "aliases": aliases, "descriptions": descriptions})
    return work, file_claim(session, user, work.id, evidence_text, evidence_url)


# -- claims ---------------------------------------------------------------------------------------

def verified_claim(session: Session, work_id: str) -> WorkClaim | None:
    return session.scalar(select(WorkClaim).where(WorkClaim.work_id == work_id,
                                                  WorkClaim.status == ClaimStatus.VERIFIED.value))


def file_claim(session: Session, user: User, work_id: str, evidence_text: str,
               evidence_url: str | None) -> WorkClaim:
    org = org_of(session, user)
    work_title(session, work_id)  # 404 for unknown works
    held = verified_claim(session, work_id)
    if held is not None:
        raise Conflict("the work is already claimed", code="work_already_claimed",
                       details={"work_id": work_id, "mine": held.org_id == org.id})
    pending = session.scalar(select(WorkClaim).where(WorkClaim.work_id == work_id, WorkClaim.org_id == org.id,
                                                     WorkClaim.status == ClaimStatus.PENDING.value))
    if pending is not None:
        raise Conflict("your organisation already has a claim on this work waiting", code="claim_pending",
                       details={"claim_id": pending.id})
    claim = WorkClaim(work_id=work_id, org_id=org.id, evidence_text=evidence_text, evidence_url=evidence_url)
    session.add(claim)
    session.flush()
    audit.record(session, actor=user.id, action="work_claim.filed", object_type="work_claim", object_id=claim.id,
                 after={"work_id": work_id, "org_id": org.id, "evidence_url": evidence_url})
    return claim


def decide_claim(session: Session, admin: User, claim_id: str, verify: bool, reason: str) -> WorkClaim:
    claim = session.get(WorkClaim, claim_id)
    if claim is None:
        raise NotFound("claim not found", code="claim_not_found")
    if claim.status != ClaimStatus.PENDING:
        raise Conflict("the claim was already decided", code="claim_decided")
    if verify and verified_claim(session, claim.work_id) is not None:
        raise Conflict("another organisation's claim on this work is verified", code="work_already_claimed")
    claim.status = (ClaimStatus.VERIFIED if verify else ClaimStatus.REJECTED).value
    claim.decided_by_id, claim.decision_reason, claim.decided_at = admin.id, reason, utcnow()
    audit.record(session, actor=admin.id, action="work_claim.decided", object_type="work_claim", object_id=claim.id,
                 before={"status": ClaimStatus.PENDING.value}, after={"status": claim.status, "reason": reason})
    return claim


def claims_of(session: Session, user: User) -> list[WorkClaim]:
    org = org_of(session, user)
    return list(session.scalars(select(WorkClaim).where(WorkClaim.org_id == org.id)
                                .order_by(WorkClaim.created_at.desc())))


def pending_claims(session: Session) -> list[WorkClaim]:
    return list(session.scalars(select(WorkClaim).where(WorkClaim.status == ClaimStatus.PENDING.value)
                                .order_by(WorkClaim.created_at)))


# -- policies -------------------------------------------------------------------------------------

def owned_work(session: Session, user: User, work_id: str) -> RightsholderOrg:
    """The user's organisation, if it holds a verified claim on the work; work_not_owned otherwise."""
    org = org_of(session, user)
    work_title(session, work_id)
    claim = verified_claim(session, work_id)
    if claim is None or claim.org_id != org.id:
        # Existence of other organisations' rights is not disclosed through this path.
        raise NotFound("your organisation holds no verified claim on this work", code="work_not_owned")
    return org


def set_policy(session: Session, user: User, work_id: str, kind: PolicyKind, share_bp: int,
               restrictions: list[Restriction], valid_from: datetime | None,
               valid_until: datetime | None) -> WorkPolicy:
    org = owned_work(session, user, work_id)
    if not 0 <= share_bp <= MAX_SHARE_BP:
        raise ValidationFailed("share_bp is basis points: 0 to 10000", code="share_out_of_range")
    if (kind == PolicyKind.ALLOW_WITH_REVENUE_SHARE) != (share_bp > 0):
        raise ValidationFailed("a revenue share needs share_bp > 0, and only allow_with_revenue_share takes one",
                               code="share_mismatch")
    valid_from, valid_until = as_utc(valid_from) or utcnow(), as_utc(valid_until)
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationFailed("valid_until must be after valid_from", code="invalid_validity")
    current = latest_policy(session, work_id)
    policy = WorkPolicy(work_id=work_id, version=(current.version + 1) if current else 1, org_id=org.id,
                        kind=kind.value, share_bp=share_bp, restrictions=sorted({r.value for r in restrictions}),
                        valid_from=valid_from, valid_until=valid_until, created_by_id=user.id)
    session.add(policy)
    session.flush()
    audit.record(session, actor=user.id, action="work_policy.set", object_type="work", object_id=work_id,
                 before=policy_record(current) if current else None, after=policy_record(policy))
    return policy


def policy_record(p: WorkPolicy) -> dict:
    return {"version": p.version, "kind": p.kind, "share_bp": p.share_bp, "restrictions": p.restrictions,
            "valid_from": p.valid_from.isoformat(), "valid_until": p.valid_until.isoformat() if p.valid_until else None}


def latest_policy(session: Session, work_id: str) -> WorkPolicy | None:
    return session.scalar(select(WorkPolicy).where(WorkPolicy.work_id == work_id)
                          .order_by(WorkPolicy.version.desc()).limit(1))


def policy_history(session: Session, user: User, work_id: str) -> list[WorkPolicy]:
    owned_work(session, user, work_id)
    return list(session.scalars(select(WorkPolicy).where(WorkPolicy.work_id == work_id)
                                .order_by(WorkPolicy.version.desc())))


def policy_in_force(session: Session, work_id: str, at: datetime) -> WorkPolicy | None:
    """The newest version valid at `at`, set by the organisation whose claim is verified now.
    None: default-deny."""
    claim = verified_claim(session, work_id)
    if claim is None:
        return None
    for policy in session.scalars(select(WorkPolicy).where(WorkPolicy.work_id == work_id,
                                                           WorkPolicy.org_id == claim.org_id)
                                  .order_by(WorkPolicy.version.desc())):
        if policy.valid_from <= at and (policy.valid_until is None or at < policy.valid_until):
            return policy
    return None


# -- registered works as a matchable catalogue ----------------------------------------------------

def _registered_stamp(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(RegisteredWork.id), func.max(RegisteredWork.created_at))).one())


def _build_registered(session: Session) -> Catalogue:
    orgs = {o.id: o.name for o in session.scalars(select(RightsholderOrg))}
    entries = [{"id": w.id, "title": w.title, "kind": w.kind, "owner": orgs.get(w.org_id, "unknown"),
                "aliases": list(w.aliases), "descriptions": list(w.descriptions)}
               for w in session.scalars(select(RegisteredWork).order_by(RegisteredWork.id))]
    return Catalogue.from_entries("registry", entries)


_registered: RebuiltOnChange[Catalogue] = RebuiltOnChange(_registered_stamp, _build_registered)


def registered_catalogue(session: Session) -> Catalogue:
    """The works organisations registered, matched like the shipped ones; rebuilt when they change."""
    return _registered.get(session)
