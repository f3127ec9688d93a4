"""Claims on published videos and their disputes.

A rightsholder whose verified work a published video uses can claim it: `takedown` unpublishes
it at once; `monetise` keeps it up and sends the creator's share of its revenue, from the claim
date, to the claimant (the ledger reads `monetising_claim`). The creator may dispute an open
claim with a reason: that opens a `dispute` case (app/cases.py) with both sides as parties, and
copyright/disputes.py decides it: upheld, or released (a takedown is republished, a monetisation
stops). A dispute nobody decides by its deadline (GL_CASE_SLA) lapses in the creator's favour
(`case_decisions.sweep`): a backlog must not keep a video down or its revenue in escrow. Every
step carries a statement of reasons, is audited and notifies the other side.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, cases, notifications, statements
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.models import Case, CaseKind, Generation, StatementOfReasons, Status, User
from app.states import transition
from copyright.claims_in_force import IN_EFFECT, takedown_in_force
from copyright.models import ClaimAction, OrgMember, VideoClaim, VideoClaimStatus
from copyright.services import org_of, owned_work

SUBJECT = "video_claim"  # the subject_type of a dispute case; its subject_id is the claim's id


def _record(session: Session, claim: VideoClaim, actor: str, step: str, before: str | None, **extra) -> None:
    audit.record(session, actor=actor, action=f"video_claim.{step}", object_type="video_claim", object_id=claim.id,
                 before={"status": before} if before else None,
                 after={"status": claim.status, "generation_id": claim.generation_id, **extra})


def file(session: Session, user: User, generation_id: str, work_id: str, action: ClaimAction,
         reason: str) -> VideoClaim:
    org = org_of(session, user)
    gen = session.get(Generation, generation_id)
    if gen is None or gen.status != Status.PUBLISHED:
        # Only published videos are public; anything else is not the claimant's to see.
        raise NotFound("no published video with that id", code="generation_not_found")
    owned_work(session, user, work_id)
    overlapping = session.scalar(select(VideoClaim).where(VideoClaim.generation_id == generation_id,
                                                          VideoClaim.status.in_(IN_EFFECT)))
    if overlapping is not None:
        raise Conflict("the video already has a claim in effect", code="claim_overlaps",
                       details={"claim_id": overlapping.id})
    claim = VideoClaim(generation_id=generation_id, org_id=org.id, work_id=work_id, action=action.value,
                       reason=reason, filed_by_id=user.id)
    session.add(claim)
    session.flush()
    statements.issue(
        session, gen, origin="video_claim", notice=True, automated_detection=False,
        visibility=statements.VISIBILITY_REMOVED if action == ClaimAction.TAKEDOWN else None,
        monetary=statements.MONETARY_OTHER if action == ClaimAction.MONETISE else None,
        reasons=[{"stage": "copyright.claim", "code": f"copyright_claim_{action.value}", "message": reason,
                  "details": {"claim_id": claim.id, "work_id": work_id, "org_id": org.id}}])
    if action == ClaimAction.TAKEDOWN:
        transition(session, gen, Status.DRAFT, actor=user.id, reason="copyright_takedown")
    _record(session, claim, user.id, "filed", None, action=action.value, work_id=work_id, reason=reason)
    notifications.notify(session, gen.owner_id, "video_claimed", generation_id=gen.id, claim_id=claim.id,
                         action=action.value, work_id=work_id, reason=reason)
    return claim


def _claim_on_own_video(session: Session, user: User, claim_id: str) -> tuple[VideoClaim, Generation]:
    claim = session.get(VideoClaim, claim_id)
    gen = session.get(Generation, claim.generation_id) if claim else None
    if claim is None or gen.owner_id != user.id:
        raise NotFound("claim not found", code="video_claim_not_found")
    return claim, gen


def dispute(session: Session, user: User, claim_id: str, reason: str) -> VideoClaim:
    claim, gen = _claim_on_own_video(session, user, claim_id)
    if claim.status != VideoClaimStatus.OPEN:
        raise Conflict("only an open claim can be disputed", code="claim_not_disputable")
    claim.status, claim.dispute_reason, claim.disputed_at = VideoClaimStatus.DISPUTED.value, reason, utcnow()
    _record(session, claim, user.id, "disputed", VideoClaimStatus.OPEN.value, reason=reason)
    # Every member of the claimant's organisation answers for the claim, not only whoever filed it;
    # the creator last, so a creator who is also a member reads the case as its creator.
    members = session.scalars(select(OrgMember.user_id).where(OrgMember.org_id == claim.org_id))
    parties = {member: "rightsholder" for member in members} | {claim.filed_by_id: "rightsholder",
                                                                  user.id: "creator"}
    statement = claim_statement(session, claim)
    cases.open_case(session, kind=CaseKind.DISPUTE.value, subject_type=SUBJECT, subject_id=claim.id, generation=gen,
                    reasons=[{"stage": "copyright.claim", "code": f"copyright_claim_{claim.action}",
                              "message": claim.reason, "details": {"claim_id": claim.id, "work_id": claim.work_id}}],
                    parties=parties, opened_by=user, summary=reason,
                    statement_id=statement.id if statement else None)
    return claim


def claim_statement(session: Session, claim: VideoClaim) -> StatementOfReasons | None:
    """The statement of reasons `file` issued for the claim (its reasons name the claim)."""
    for statement in statements.for_generation(session, claim.generation_id):
        if statement.origin == "video_claim" and any(
                (r.get("details") or {}).get("claim_id") == claim.id for r in statement.reasons or []):
            return statement
    return None


def dispute_case(session: Session, claim_id: str) -> Case | None:
    return session.scalar(select(Case).where(Case.kind == CaseKind.DISPUTE.value, Case.subject_type == SUBJECT,
                                             Case.subject_id == claim_id).order_by(Case.created_at.desc()).limit(1))


def rule(session: Session, claim: VideoClaim, actor: User, uphold: bool, reason: str, step: str) -> VideoClaim:
    """The outcome of a dispute (copyright/disputes.py): the parties hear of it through the case."""
    claim.status = (VideoClaimStatus.UPHELD if uphold else VideoClaimStatus.RELEASED).value
    claim.decision_reason, claim.decided_by_id, claim.decided_at = reason, actor.id, utcnow()
    gen = session.get(Generation, claim.generation_id)
    if not uphold and claim.action == ClaimAction.TAKEDOWN and gen.status == Status.DRAFT:
        transition(session, gen, Status.PUBLISHED, actor=actor.id, reason="copyright_claim_released")
    if claim.action == ClaimAction.MONETISE:
        from copyright.revenue import settle_claim  # the ledger reads claims; settle after the ruling
        settle_claim(session, actor, claim)
    _record(session, claim, actor.id, step, VideoClaimStatus.DISPUTED.value, reason=reason)
    return claim


def on_video(session: Session, generation_id: str) -> list[VideoClaim]:
    return list(session.scalars(select(VideoClaim).where(VideoClaim.generation_id == generation_id)
                                .order_by(VideoClaim.created_at)))


def refuse_publishing_under_takedown(session: Session, gen: Generation) -> None:
    """Publish check: a takedown in effect or upheld keeps the video unpublished."""
    takedown = takedown_in_force(session, gen.id)
    if takedown is not None and gen.status == Status.DRAFT:
        raise Conflict("a copyright takedown keeps this video unpublished", code="copyright_takedown",
                       details={"claim_id": takedown.id, "status": takedown.status})
