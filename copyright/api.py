"""Rightsholder registry endpoints: organisations, works, claims (admin-verified), policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import select

from app import runtime, uploads
from app.accounts import users_by_handle
from app.api.raw_body import save_raw_body
from app.api.schemas import FREE_TEXT, Body
from app.api.spec import current_user, endpoint, session
from app.db import utcnow
from app.generations import get_owned
from app.models import REVIEW_ROLES, Role
from app.errors import NotFound, ValidationFailed
from copyright import claims, images, revenue, services
from copyright.catalogue import load_catalogue
from copyright.models import (
    ClaimAction, LedgerEntry, PolicyKind, Restriction, RightsholderOrg, VideoClaim, VideoClaimStatus, WorkClaim,
    WorkPolicy,
)

bp = Blueprint("copyright", __name__)

ADMIN = {Role.ADMIN.value}
ADMIN_OR_SERVICE = {Role.ADMIN.value, Role.SERVICE.value}
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


class OrgReviewOut(OrgOut):
    flagged: bool = Field(description="too many of its video claims were overturned: its claims are reviewed first")
    flagged_at: datetime | None
    flag_reason: str | None
    overturned_recently: int = Field(description="its claims overturned within GL_CLAIM_OVERTURN_WINDOW")


class OrgReviewList(BaseModel):
    items: list[OrgReviewOut]


class OrgsQuery(BaseModel):
    flagged: bool | None = None


def org_review_out(o: RightsholderOrg) -> OrgReviewOut:
    return OrgReviewOut(id=o.id, name=o.name, created_at=o.created_at, flagged=o.flagged_at is not None,
                        flagged_at=o.flagged_at, flag_reason=o.flag_reason,
                        overturned_recently=claims.overturned_recently(session(), o.id))


STAFF = {role.value for role in REVIEW_ROLES}


@endpoint(bp, "/rightsholders/orgs", "GET", summary="Rightsholder organisations and their flags (reviewers, admins)",
          tag="copyright", query=OrgsQuery, response=OrgReviewList, roles=STAFF)
def list_orgs(query: OrgsQuery):
    stmt = select(RightsholderOrg).order_by(RightsholderOrg.name)
    if query.flagged is not None:
        stmt = stmt.where(RightsholderOrg.flagged_at.is_not(None) if query.flagged
                          else RightsholderOrg.flagged_at.is_(None))
    return OrgReviewList(items=[org_review_out(o) for o in session().scalars(stmt)])


@endpoint(bp, "/rightsholders/orgs/<org_id>", "GET", summary="A rightsholder organisation and its flag "
          "(reviewers, admins)", tag="copyright", response=OrgReviewOut, roles=STAFF, errors=("org_not_found",))
def get_org(org_id: str):
    org = session().get(RightsholderOrg, org_id)
    if org is None:
        raise NotFound("no such organisation", code="org_not_found")
    return org_review_out(org)


class UnflagIn(Body):
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000)]


@endpoint(bp, "/rightsholders/orgs/<org_id>/unflag", "POST", summary="Lift an organisation's flag, with a reason "
          "(admin, audited): its matching claims act at once again", tag="copyright", body=UnflagIn,
          response=OrgReviewOut, roles=ADMIN, errors=("org_not_found", "org_not_flagged"))
def unflag_org(org_id: str, body: UnflagIn):
    return org_review_out(claims.unflag(session(), current_user(), org_id, body.reason))


@endpoint(bp, "/rightsholders/me", "GET", summary="My rightsholder organisation", tag="copyright",
          response=OrgOut, roles=RIGHTSHOLDER, errors=("not_in_org",))
def my_org():
    return org_out(services.org_of(session(), current_user()))


# -- claims ---------------------------------------------------------------------------------------

class Evidence(Body):
    evidence_text: Annotated[str, StringConstraints(min_length=10, max_length=10_000), FREE_TEXT]
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
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000), FREE_TEXT]


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


# -- claims on published videos ---------------------------------------------------------------------

Reason = Annotated[str, StringConstraints(min_length=10, max_length=5000), FREE_TEXT]


class VideoClaimIn(Body):
    work_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    action: ClaimAction
    reason: Reason


class VideoClaimOut(BaseModel):
    id: str
    generation_id: str
    work_id: str
    action: str
    status: str
    reason: str = Field(description="the claimant's statement of reasons")
    dispute_reason: str | None
    decision_reason: str | None
    case_id: str | None = Field(description="the claim's case (GET /api/v1/cases/<id>): its dispute, or the review a "
                                            "claim waits for (`pending_review`); its deadline and outcome")
    created_at: datetime
    decided_at: datetime | None


class VideoClaimList(BaseModel):
    items: list[VideoClaimOut]


def video_claim_out(c: VideoClaim) -> VideoClaimOut:
    case = claims.latest_case(session(), c.id)
    return VideoClaimOut(id=c.id, generation_id=c.generation_id, work_id=c.work_id, action=c.action, status=c.status,
                         reason=c.reason, dispute_reason=c.dispute_reason, decision_reason=c.decision_reason,
                         case_id=case.id if case else None, created_at=c.created_at, decided_at=c.decided_at)


@endpoint(bp, "/generations/<generation_id>/claims", "POST",
          summary="Claim a published video that uses a work you hold: take it down or take its revenue. 201: in "
                  "effect; 202: `pending_review`, the video is not recorded as using the work (or your "
                  "organisation is flagged): a reviewer decides, nothing happens to the video meanwhile",
          tag="copyright", body=VideoClaimIn, response=VideoClaimOut, status=201, roles=RIGHTSHOLDER,
          errors=("not_in_org", "generation_not_found", "work_not_found", "work_not_owned", "claim_overlaps",
                  "work_already_licensed"))
def claim_video(generation_id: str, body: VideoClaimIn):
    claim = claims.file(session(), current_user(), generation_id, body.work_id, body.action, body.reason)
    resp = jsonify(video_claim_out(claim).model_dump(mode="json"))
    resp.status_code = 202 if claim.status == VideoClaimStatus.PENDING_REVIEW else 201
    return resp


@endpoint(bp, "/generations/<generation_id>/claims", "GET", summary="Claims on my video", tag="copyright",
          response=VideoClaimList, errors=("generation_not_found",))
def claims_on_my_video(generation_id: str):
    get_owned(session(), current_user(), generation_id)
    return VideoClaimList(items=[video_claim_out(c) for c in claims.on_video(session(), generation_id)])


class DisputeIn(Body):
    reason: Reason


@endpoint(bp, "/video-claims/<claim_id>/dispute", "POST",
          summary="Dispute a claim on my video, with a reason: opens a case a reviewer decides by its deadline",
          tag="copyright", body=DisputeIn, response=VideoClaimOut,
          errors=("video_claim_not_found", "claim_not_disputable"))
def dispute_claim(claim_id: str, body: DisputeIn):
    return video_claim_out(claims.dispute(session(), current_user(), claim_id, body.reason))


# -- revenue ledger -----------------------------------------------------------------------------------

EventId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class RevenueEventIn(Body):
    event_id: EventId = Field(description="the payment provider's id: a redelivery with the same id is a no-op")
    generation_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount: Annotated[int, Field(gt=0, le=10**15, description="minor units (cents)")]
    currency: Currency
    occurred_at: datetime


class LineOut(BaseModel):
    account: str
    amount: int


class EntryOut(BaseModel):
    event_id: str
    kind: str
    currency: str
    period: str
    generation_id: str | None
    gross: int
    reverses: str | None
    occurred_at: datetime
    adjusts_period: str | None = Field(description="the closed month a late event or correction belongs to; it is "
                                                   "booked in `period`, the open month")
    lines: list[LineOut]


def entry_out(entry: LedgerEntry) -> EntryOut:
    posting = revenue.posting_of(session(), entry)
    return EntryOut(event_id=entry.event_id, kind=entry.kind, currency=entry.currency, period=entry.period,
                    generation_id=entry.generation_id, gross=entry.gross, reverses=entry.reverses,
                    occurred_at=entry.occurred_at, adjusts_period=entry.adjusts_period,
                    lines=[LineOut(account=line.account, amount=line.amount) for line in posting.lines])


@endpoint(bp, "/revenue-events", "POST",
          summary="Record revenue of a published video (admin or service token); 200 when redelivered",
          tag="ledger", body=RevenueEventIn, response=EntryOut, status=201, roles=ADMIN_OR_SERVICE,
          errors=("generation_not_found", "video_not_published", "event_id_conflict", "period_closed",
                  "occurred_in_future", "occurred_before_video", "invalid_currency", "shares_exceed_total"))
def record_revenue(body: RevenueEventIn):
    entry, created = revenue.record_revenue(session(), current_user(), body.event_id, body.generation_id,
                                            body.amount, body.currency, body.occurred_at)
    resp = jsonify(entry_out(entry).model_dump(mode="json"))
    resp.status_code = 201 if created else 200
    return resp


class ReversalIn(Body):
    reversal_event_id: EventId


@endpoint(bp, "/revenue-events/<event_id>/reversal", "POST",
          summary="Correct a posting by its exact reversal, in the current period (admin)", tag="ledger",
          body=ReversalIn, response=EntryOut, status=201, roles=ADMIN,
          errors=("ledger_event_not_found", "already_reversed", "event_id_conflict", "period_closed"))
def reverse_event(event_id: str, body: ReversalIn):
    return entry_out(revenue.reverse(session(), current_user(), event_id, body.reversal_event_id))


class BalancesQuery(BaseModel):
    currency: Currency
    prefix: Annotated[str, StringConstraints(max_length=120)] | None = None


class BalancesOut(BaseModel):
    currency: str
    balances: dict[str, int]
    total: int = Field(description="always 0: every posting balances")


@endpoint(bp, "/ledger/balances", "GET", summary="Account balances in one currency (admin)", tag="ledger",
          query=BalancesQuery, response=BalancesOut, roles=ADMIN)
def ledger_balances(query: BalancesQuery):
    found = revenue.balances(session(), query.currency, query.prefix)
    return BalancesOut(currency=query.currency, balances=found, total=sum(found.values()))


class StatementQuery(BaseModel):
    format: Literal["json", "csv"] = "json"


class StatementOut(BaseModel):
    period: str
    closed: bool = Field(description="a closed period's statement is final")
    totals: dict[str, int]
    lines: list[revenue.StatementLine]


@endpoint(bp, "/rightsholders/me/statements/<period>", "GET",
          summary="My organisation's revenue statement for a month (YYYY-MM), JSON or CSV", tag="ledger",
          query=StatementQuery, response=StatementOut, roles=RIGHTSHOLDER, errors=("not_in_org", "invalid_period"))
def my_statement(period: str, query: StatementQuery):
    period = _period(period)
    found = revenue.statement(session(), services.org_of(session(), current_user()).id, period)
    if query.format == "csv":
        return Response(found.to_csv(), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="statement-{period}.csv"'})
    return StatementOut(period=period, closed=found.closed, totals=found.totals,
                        lines=found.lines)


class PeriodChangeOut(BaseModel):
    action: Literal["close", "reopen"]
    reason: str | None
    actor_id: str
    at: datetime


class PeriodOut(BaseModel):
    period: str
    closed: bool
    closed_at: datetime | None = Field(description="when it was last closed; null while open")
    changes: list[PeriodChangeOut] = Field(description="every close and reopen, oldest first")


def period_out(period: str) -> PeriodOut:
    changes = revenue.period_changes(session(), period)
    closed = bool(changes) and changes[-1].action == "close"
    return PeriodOut(period=period, closed=closed, closed_at=changes[-1].created_at if closed else None,
                     changes=[PeriodChangeOut(action=c.action, reason=c.reason, actor_id=c.actor_id, at=c.created_at)
                              for c in changes])


def _period(value: str) -> str:
    try:
        return TypeAdapter(Period).validate_python(value)
    except ValidationError:
        raise ValidationFailed("a period is YYYY-MM", code="invalid_period") from None


@endpoint(bp, "/ledger/periods/<period>/close", "POST",
          summary="Close a month that has ended: its postings are final, later events become adjustments (admin)",
          tag="ledger", response=PeriodOut, status=201, roles=ADMIN,
          errors=("invalid_period", "period_closed", "period_running", "period_in_future"))
def close_period(period: str):
    row = revenue.close_period(session(), current_user(), _period(period))
    return period_out(row.period)


class ReopenIn(Body):
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000)]


@endpoint(bp, "/ledger/periods/<period>/reopen", "POST",
          summary="Reopen a closed month, with a reason (admin, audited): its events land in it again",
          tag="ledger", body=ReopenIn, response=PeriodOut, status=201, roles=ADMIN,
          errors=("invalid_period", "period_not_closed", "reason_required"))
def reopen_period(period: str, body: ReopenIn):
    row = revenue.reopen_period(session(), current_user(), _period(period), body.reason)
    return period_out(row.period)


@endpoint(bp, "/ledger/periods/<period>", "GET", summary="A month: closed or open, and every close and reopen (admin)",
          tag="ledger", response=PeriodOut, roles=ADMIN, errors=("invalid_period",))
def get_period(period: str):
    return period_out(_period(period))


class ReferenceImageOut(BaseModel):
    id: str
    work_id: str
    phash: str
    pdq: str | None = Field(description="64 hex digits (ThreatExchange form); null for references added before PDQ")
    pdq_quality: int | None
    sha256: str
    embedding_model: str | None = Field(description="the image-embedding model the reference is indexed under")
    created_at: datetime

    @classmethod
    def of(cls, row) -> "ReferenceImageOut":
        return cls(id=row.id, work_id=row.work_id, phash=row.phash, pdq=row.pdq, pdq_quality=row.pdq_quality,
                   sha256=row.sha256, embedding_model=row.embedding_model, created_at=row.created_at)


class ReferenceImageList(BaseModel):
    items: list[ReferenceImageOut]


REFERENCE_ROLES = {Role.ADMIN.value, Role.RIGHTSHOLDER.value}


@endpoint(bp, "/works/<work_id>/reference-images", "POST",
          summary="Add a reference image of a work (raw body, image/jpeg|png|webp); matched against input "
                  "images and rendered frames", tag="copyright", response=ReferenceImageOut, status=201,
          roles=REFERENCE_ROLES, raw_body=tuple(uploads.IMAGE_TYPES),
          errors=("work_not_found", "work_not_owned", "not_in_org", "not_an_image", "unsupported_media_type",
                  "payload_too_large", "empty_upload"))
def add_reference_image(work_id: str):
    path, ctype = save_raw_body(uploads.IMAGE_TYPES, uploads.max_image_bytes())
    try:
        uploads.inspect_image(path, ctype)
        row = images.add_reference_image(session(), runtime.current().storage, current_user(), work_id, path, ctype)
    finally:
        path.unlink(missing_ok=True)
    return ReferenceImageOut.of(row)


@endpoint(bp, "/works/<work_id>/reference-images", "GET", summary="A work's reference images (its rightsholder "
          "or an admin)", tag="copyright", response=ReferenceImageList, roles=REFERENCE_ROLES,
          errors=("work_not_found", "work_not_owned", "not_in_org"))
def list_reference_images(work_id: str):
    return ReferenceImageList(items=[ReferenceImageOut.of(row) for row in
                                     images.list_reference_images(session(), current_user(), work_id)])


@endpoint(bp, "/works/<work_id>/reference-images/<reference_id>", "DELETE",
          summary="Remove a reference image (its rightsholder or an admin)", tag="copyright",
          roles=REFERENCE_ROLES, status=204,
          errors=("work_not_found", "work_not_owned", "not_in_org", "reference_image_not_found"))
def delete_reference_image(work_id: str, reference_id: str):
    images.delete_reference_image(session(), runtime.current().storage, current_user(), work_id, reference_id)
    return Response(status=204)
