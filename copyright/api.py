"""Rightsholder registry endpoints: organisations, works, claims (admin-verified), policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint
from pydantic import BaseModel, Field, StringConstraints

from app.accounts import users_by_handle
from app.api.schemas import Body
from app.api.spec import current_user, endpoint, session
from app.db import utcnow
from app.models import Role
from copyright import services
from copyright.catalogue import load_catalogue
from copyright.models import PolicyKind, Restriction, RightsholderOrg, WorkClaim, WorkPolicy

bp = Blueprint("copyright", __name__)

ADMIN = {Role.ADMIN.value}
RIGHTSHOLDER = {Role.RIGHTSHOLDER.value}
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Phrase = Annotated[str, StringConstraints(min_length=2, max_length=200)]
Handle = Annotated[str, StringConstraints(min_length=3, max_length=33)]


class OrgIn(Body):
    name: Text200
    member_handles: Annotated[list[Handle], Field(max_length=100)] = []


class OrgOut(BaseModel):
    id: str
    name: str
    created_at: datetime


def org_out(o: RightsholderOrg) -> OrgOut:
    return OrgOut(id=o.id, name=o.name, created_at=o.created_at)


@endpoint(bp, "/rightsholders/orgs", "POST", summary="Create a rightsholder organisation (admin)", tag="copyright",
          body=OrgIn, response=OrgOut, status=201, roles=ADMIN,
          errors=("org_name_taken", "unknown_handle", "not_a_rightsholder", "already_in_org"))
def create_org(body: OrgIn):
    members = users_by_handle(session(), body.member_handles)
    return org_out(services.create_org(session(), current_user(), body.name, members))


@endpoint(bp, "/rightsholders/me", "GET", summary="My rightsholder organisation", tag="copyright",
          response=OrgOut, roles=RIGHTSHOLDER, errors=("not_in_org",))
def my_org():
    return org_out(services.org_of(session(), current_user()))


# -- claims ---------------------------------------------------------------------------------------

class Evidence(Body):
    evidence_text: Annotated[str, StringConstraints(min_length=10, max_length=10_000)]
    evidence_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://\S+$")] | None = None


class ClaimOut(BaseModel):
    id: str
    work_id: str
    org_id: str
    status: str
    evidence_text: str
    evidence_url: str | None
    decision_reason: str | None
    decided_at: datetime | None
    created_at: datetime


class ClaimList(BaseModel):
    items: list[ClaimOut]


def claim_out(c: WorkClaim) -> ClaimOut:
    return ClaimOut(id=c.id, work_id=c.work_id, org_id=c.org_id, status=c.status, evidence_text=c.evidence_text,
                    evidence_url=c.evidence_url, decision_reason=c.decision_reason, decided_at=c.decided_at,
                    created_at=c.created_at)


_CLAIM_ERRORS = ("not_in_org", "work_not_found", "work_already_claimed", "claim_pending")


@endpoint(bp, "/works/<work_id>/claims", "POST", summary="Claim the rights to a work (an admin verifies it)",
          tag="copyright", body=Evidence, response=ClaimOut, status=201, roles=RIGHTSHOLDER, errors=_CLAIM_ERRORS)
def file_claim(work_id: str, body: Evidence):
    return claim_out(services.file_claim(session(), current_user(), work_id, body.evidence_text, body.evidence_url))


@endpoint(bp, "/rightsholders/me/claims", "GET", summary="My organisation's claims", tag="copyright",
          response=ClaimList, roles=RIGHTSHOLDER, errors=("not_in_org",))
def my_claims():
    return ClaimList(items=[claim_out(c) for c in services.claims_of(session(), current_user())])


@endpoint(bp, "/claims/pending", "GET", summary="Claims waiting for verification (admin)", tag="copyright",
          response=ClaimList, roles=ADMIN)
def pending_claims():
    return ClaimList(items=[claim_out(c) for c in services.pending_claims(session())])


class ClaimDecisionIn(Body):
    decision: Literal["verify", "reject"]
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000)]


@endpoint(bp, "/claims/<claim_id>/decision", "POST", summary="Verify or reject a claim (admin), with a reason",
          tag="copyright", body=ClaimDecisionIn, response=ClaimOut, roles=ADMIN,
          errors=("claim_not_found", "claim_decided", "work_already_claimed"))
def decide_claim(claim_id: str, body: ClaimDecisionIn):
    return claim_out(services.decide_claim(session(), current_user(), claim_id, body.decision == "verify",
                                           body.reason))


# -- works ----------------------------------------------------------------------------------------

class WorkIn(Evidence):
    title: Text200
    kind: Literal["character", "work", "franchise", "song", "brand"]
    aliases: Annotated[list[Phrase], Field(max_length=50)] = []
    descriptions: Annotated[list[Phrase], Field(max_length=20)] = []


class PolicyOut(BaseModel):
    id: str
    work_id: str
    version: int
    kind: str
    share_bp: int
    restrictions: list[str]
    valid_from: datetime
    valid_until: datetime | None
    created_at: datetime


class WorkOut(BaseModel):
    id: str
    title: str
    source: Literal["catalogue", "registry"]
    claimed_by: str | None = Field(description="the organisation with a verified claim")
    policy: PolicyOut | None = Field(description="the policy in force now; none means default-deny")


class RegisteredOut(BaseModel):
    work: WorkOut
    claim: ClaimOut


def policy_out(p: WorkPolicy) -> PolicyOut:
    return PolicyOut(id=p.id, work_id=p.work_id, version=p.version, kind=p.kind, share_bp=p.share_bp,
                     restrictions=list(p.restrictions), valid_from=p.valid_from, valid_until=p.valid_until,
                     created_at=p.created_at)


def work_out(work_id: str) -> WorkOut:
    s = session()
    title = services.work_title(s, work_id)
    claim = services.verified_claim(s, work_id)
    policy = services.policy_in_force(s, work_id, utcnow())
    return WorkOut(id=work_id, title=title,
                   source="catalogue" if load_catalogue().by_id(work_id) else "registry",
                   claimed_by=s.get(RightsholderOrg, claim.org_id).name if claim else None,
                   policy=policy_out(policy) if policy else None)


@endpoint(bp, "/works", "POST", summary="Register a work the catalogue does not list, with a claim on it",
          tag="copyright", body=WorkIn, response=RegisteredOut, status=201, roles=RIGHTSHOLDER,
          errors=("not_in_org",))
def register_work(body: WorkIn):
    work, claim = services.register_work(session(), current_user(), body.title, body.kind, body.aliases,
                                         body.descriptions, body.evidence_text, body.evidence_url)
    return RegisteredOut(work=work_out(work.id), claim=claim_out(claim))


@endpoint(bp, "/works/<work_id>", "GET", summary="A work: who holds it and the policy in force", tag="copyright",
          response=WorkOut, errors=("work_not_found",))
def get_work(work_id: str):
    return work_out(work_id)


class PolicyIn(Body):
    kind: PolicyKind
    share_bp: Annotated[int, Field(ge=0, le=10_000, description="basis points of revenue")] = 0
    restrictions: Annotated[list[Restriction], Field(max_length=4)] = []
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class PolicyList(BaseModel):
    items: list[PolicyOut]


_POLICY_ERRORS = ("not_in_org", "work_not_found", "work_not_owned", "share_mismatch", "invalid_validity")


@endpoint(bp, "/works/<work_id>/policy", "PUT", summary="Set a new policy version for a work you hold",
          tag="copyright", body=PolicyIn, response=PolicyOut, status=201, roles=RIGHTSHOLDER, errors=_POLICY_ERRORS)
def set_policy(work_id: str, body: PolicyIn):
    return policy_out(services.set_policy(session(), current_user(), work_id, body.kind, body.share_bp,
                                          body.restrictions, body.valid_from, body.valid_until))


@endpoint(bp, "/works/<work_id>/policies", "GET", summary="Every policy version of a work you hold",
          tag="copyright", response=PolicyList, roles=RIGHTSHOLDER, errors=_POLICY_ERRORS)
def policy_history(work_id: str):
    return PolicyList(items=[policy_out(p) for p in services.policy_history(session(), current_user(), work_id)])
