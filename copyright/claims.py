"""Claims on published videos and their disputes.

A rightsholder whose verified work a published video uses can claim it: `takedown` unpublishes
it at once; `monetise` keeps it up and sends the creator's share of its revenue, from the claim
date, to the claimant (the ledger reads `monetising_claim`).

A claim must be about the video. Only a claim on a work the video is recorded as using (by the
gates or the frame scan, in `generation_works`, its own or a video it remixes) acts at once. Any
other claim, and every claim of a flagged organisation, waits as `pending_review` in a
`claim_review` case (copyright/claim_reviews.py): a reviewer upholds it (then it takes effect as
if just filed) or rejects it (nothing happened to the video; the claim counts as overturned).
An organisation with GL_CLAIM_OVERTURN_LIMIT claims overturned (rejected on review, or released
by a reviewer on dispute) within GL_CLAIM_OVERTURN_WINDOW is flagged. A monetise claim on a work
that already earns a licensed revenue share from the video is refused (`work_already_licensed`):
the rightsholder is paid through its policy, and the creator's remaining share is not its to take. The creator may dispute an open
claim with a reason: that opens a `dispute` case (app/cases.py) with both sides as parties, and
copyright/disputes.py decides it: upheld, or released (a takedown is republished, a monetisation
stops). A dispute nobody decides by its deadline (GL_CASE_SLA) lapses in the creator's favour
(`case_decisions.sweep`): a backlog must not keep a video down or its revenue in escrow. Every
step carries a statement of reasons, is audited and notifies the other side.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit, cases, notifications, statements
from app.config import setting
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.models import Case, CaseKind, Generation, StatementOfReasons, Status, User
from app.states import transition
from copyright.claims_in_force import IN_EFFECT, takedown_in_force
from copyright.models import ClaimAction, GenerationWork, OrgMember, RightsholderOrg, VideoClaim, VideoClaimStatus
from copyright.services import org_of, owned_work

SUBJECT = "video_claim"  # the subject_type of a dispute or claim-review case; its subject_id is the claim's id
_MAX_CHAIN = 20  # remix ancestors looked at for the works a video carries (chains are short; no cycles)


def _record(session: Session, claim: VideoClaim, actor: str, step: str, before: str | None, **extra) -> None:
    audit.record(session, actor=actor, action=f"video_claim.{step}", object_type="video_claim", object_id=claim.id,
                 before={"status": before} if before else None,
                 after={"status": claim.status, "generation_id": claim.generation_id, **extra})


def _lineage(session: Session, gen: Generation) -> list[Generation]:
    chain = [gen]
    while chain[-1].remix_of_id and len(chain) < _MAX_CHAIN:
        parent = session.get(Generation, chain[-1].remix_of_id)
        if parent is None:
            break
        chain.append(parent)
    return chain


def recorded_works(session: Session, gen: Generation) -> list[str]:
    """The works the gates or the frame scan recorded the video, or a video it remixes, as using."""
    ids = [g.id for g in _lineage(session, gen)]
    return sorted(set(session.scalars(select(GenerationWork.work_id).where(GenerationWork.generation_id.in_(ids)))))


def _refuse_double_share(session: Session, gen: Generation, work_id: str) -> None:
    from copyright.revenue import licensed_share_works, video_node  # the ledger's own view of who is paid

    if work_id in licensed_share_works(video_node(session, gen)):
        raise Conflict("the work already earns its licensed revenue share from this video: a monetise claim would "
                       "take the creator's share a second time", code="work_already_licensed",
                       details={"work_id": work_id, "generation_id": gen.id})


def _refuse_overlap(session: Session, generation_id: str) -> None:
    overlapping = session.scalar(select(VideoClaim).where(VideoClaim.generation_id == generation_id,
                                                          VideoClaim.status.in_(IN_EFFECT)))
    if overlapping is not None:
        raise Conflict("the video already has a claim in effect", code="claim_overlaps",
                       details={"claim_id": overlapping.id})


def file(session: Session, user: User, generation_id: str, work_id: str, action: ClaimAction,
         reason: str) -> VideoClaim:
    """File a claim: in effect at once when the video is recorded as using the work (and the
    organisation is not flagged), otherwise `pending_review` with a claim-review case."""
    org = org_of(session, user)
    gen = session.get(Generation, generation_id)
    if gen is None or gen.status != Status.PUBLISHED:
        # Only published videos are public; anything else is not the claimant's to see.
        raise NotFound("no published video with that id", code="generation_not_found")
    owned_work(session, user, work_id)
    if action == ClaimAction.MONETISE:
        _refuse_double_share(session, gen, work_id)
    _refuse_overlap(session, generation_id)
    used = recorded_works(session, gen)
    matched, flagged = work_id in used, org.flagged_at is not None
    claim = VideoClaim(generation_id=generation_id, org_id=org.id, work_id=work_id, action=action.value,
                       reason=reason, filed_by_id=user.id,
                       status=(VideoClaimStatus.OPEN if matched and not flagged
                               else VideoClaimStatus.PENDING_REVIEW).value)
    session.add(claim)
    session.flush()
    _record(session, claim, user.id, "filed", None, action=action.value, work_id=work_id, reason=reason,
            matched=matched, org_flagged=flagged)
    if claim.status == VideoClaimStatus.OPEN:
        take_effect(session, claim, gen, user.id)
    else:
        _open_review(session, claim, gen, user, matched, used, flagged)
    return claim


def _open_review(session: Session, claim: VideoClaim, gen: Generation, user: User, matched: bool,
                 used: list[str], flagged: bool) -> Case:
    why = ("the claimant organisation is flagged for overturned claims: its claims are reviewed first" if flagged
           else "the video is not recorded as using the claimed work")
    members = session.scalars(select(OrgMember.user_id).where(OrgMember.org_id == claim.org_id))
    return cases.open_case(
        session, kind=CaseKind.CLAIM_REVIEW.value, subject_type=SUBJECT, subject_id=claim.id, generation=gen,
        reasons=[{"stage": "copyright.claim",
                  "code": "copyright_claim_org_flagged" if flagged else "copyright_claim_unmatched",
                  "message": why, "details": {"claim_id": claim.id, "work_id": claim.work_id, "action": claim.action,
                                              "recorded_works": used, "matched": matched}}],
        parties={member: "rightsholder" for member in members} | {user.id: "rightsholder"}, opened_by=user,
        summary=claim.reason)


def take_effect(session: Session, claim: VideoClaim, gen: Generation, actor: str) -> StatementOfReasons:
    """The claim acts: a statement of reasons, a takedown unpublishes, the creator is told."""
    claim.status, claim.effective_at = VideoClaimStatus.OPEN.value, utcnow()
    action = ClaimAction(claim.action)
    statement = statements.issue(
        session, gen, origin="video_claim", notice=True, automated_detection=False,
        visibility=statements.VISIBILITY_REMOVED if action == ClaimAction.TAKEDOWN else None,
        monetary=statements.MONETARY_OTHER if action == ClaimAction.MONETISE else None,
        reasons=[{"stage": "copyright.claim", "code": f"copyright_claim_{action.value}", "message": claim.reason,
                  "details": {"claim_id": claim.id, "work_id": claim.work_id, "org_id": claim.org_id}}])
    if action == ClaimAction.TAKEDOWN and gen.status == Status.PUBLISHED:
        transition(session, gen, Status.DRAFT, actor=actor, reason="copyright_takedown")
    notifications.notify(session, gen.owner_id, "video_claimed", generation_id=gen.id, claim_id=claim.id,
                         action=action.value, work_id=claim.work_id, reason=claim.reason)
    return statement


def review(session: Session, claim: VideoClaim, actor: User, uphold: bool, reason: str) -> StatementOfReasons | None:
    """A reviewer's decision on a claim that waited for review (copyright/claim_reviews.py)."""
    if claim.status != VideoClaimStatus.PENDING_REVIEW:
        raise Conflict("only a claim waiting for review is decided this way", code="claim_not_pending",
                       details={"status": claim.status})
    gen = session.get(Generation, claim.generation_id)
    if uphold:
        _refuse_overlap(session, claim.generation_id)
        statement = take_effect(session, claim, gen, actor.id)
        _record(session, claim, actor.id, "review_upheld", VideoClaimStatus.PENDING_REVIEW.value, reason=reason)
        return statement
    claim.status, claim.overturned = VideoClaimStatus.REJECTED.value, True
    claim.decision_reason, claim.decided_by_id, claim.decided_at = reason, actor.id, utcnow()
    _record(session, claim, actor.id, "review_rejected", VideoClaimStatus.PENDING_REVIEW.value, reason=reason)
    flag_if_overturned_too_often(session, claim.org_id, actor.id)
    return None


def overturned_recently(session: Session, org_id: str) -> int:
    since = utcnow() - timedelta(seconds=setting("GL_CLAIM_OVERTURN_WINDOW"))
    return session.scalar(select(func.count(VideoClaim.id)).where(
        VideoClaim.org_id == org_id, VideoClaim.overturned.is_(True), VideoClaim.decided_at >= since))


def flag_if_overturned_too_often(session: Session, org_id: str, actor: str) -> bool:
    """Flag the organisation once its overturned claims in the window reach the limit."""
    org = session.get(RightsholderOrg, org_id)
    if org is None or org.flagged_at is not None:
        return False
    count, limit = overturned_recently(session, org_id), setting("GL_CLAIM_OVERTURN_LIMIT")
    if count < limit:
        return False
    days = setting("GL_CLAIM_OVERTURN_WINDOW") // 86400
    org.flagged_at, org.flag_reason = utcnow(), f"{count} video claims overturned within {days} days"
    audit.record(session, actor=actor, action="rightsholder_org.flagged", object_type="rightsholder_org",
                 object_id=org.id, before={"flagged": False},
                 after={"flagged": True, "reason": org.flag_reason, "overturned": count, "limit": limit})
    return True


def unflag(session: Session, admin: User, org_id: str, reason: str) -> RightsholderOrg:
    org = session.get(RightsholderOrg, org_id)
    if org is None:
        raise NotFound("no such organisation", code="org_not_found")
    if org.flagged_at is None:
        raise Conflict("the organisation is not flagged", code="org_not_flagged")
    before = org.flag_reason
    org.flagged_at = org.flag_reason = None
    audit.record(session, actor=admin.id, action="rightsholder_org.unflagged", object_type="rightsholder_org",
                 object_id=org.id, before={"flagged": True, "reason": before}, after={"flagged": False,
                                                                                     "reason": reason})
    return org


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


def latest_case(session: Session, claim_id: str) -> Case | None:
    """The claim's newest case: its dispute, else the review it waited for."""
    return session.scalar(select(Case).where(Case.subject_type == SUBJECT, Case.subject_id == claim_id)
                          .order_by(Case.created_at.desc()).limit(1))


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
    if not uphold and step == "decided":  # a reviewer found against the claimant (a lapse is not its fault)
        claim.overturned = True
        flag_if_overturned_too_often(session, claim.org_id, actor.id)
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
