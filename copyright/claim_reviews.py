"""How a `claim_review` case is decided: a claim on a video not recorded as using the claimed work
(or filed by a flagged organisation) waits here before anything happens to the video.

`uphold`: the claim is about the video after all; it takes effect as if just filed (a takedown
unpublishes, a monetisation redirects revenue from now) under a statement of reasons, and the
creator may dispute it. `overturn`: it is not; the claim is rejected, nothing happened to the
video, and it counts towards flagging its organisation. A review nobody decides in time waits
on (the video is untouched meanwhile): the sweep alerts senior reviewers instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import cases
from app.db import as_utc
from app.errors import Conflict
from app.models import Case, Generation, User
from copyright import claims
from copyright.disputes import _title
from copyright.models import RightsholderOrg, VideoClaim

UPHOLD, OVERTURN = "uphold", "overturn"  # the words the case API already takes


class ClaimReviewHandler:
    decisions = frozenset({UPHOLD, OVERTURN})

    def decide(self, session: Session, case: Case, decision: str, actor: User, note: str) -> str | None:
        claim = session.get(VideoClaim, case.subject_id)
        if claim is None:
            raise Conflict("the claim is gone", code="claim_not_pending")
        title = cases.policy_codes().get(case.policy_code or "", case.policy_code or "")
        reason = note or f"claim {'upheld' if decision == UPHOLD else 'rejected'} on review: {title}"
        statement = claims.review(session, claim, actor, uphold=decision == UPHOLD, reason=reason)
        return statement.id if statement is not None else None

    def overdue(self, session: Session, case: Case, actor: User) -> bool:
        return False  # nothing was done to the video: the claim waits for a reviewer, seniors are alerted

    def describe(self, session: Session, case: Case) -> dict[str, Any]:
        claim = session.get(VideoClaim, case.subject_id)
        if claim is None:
            return {}
        org = session.get(RightsholderOrg, claim.org_id)
        gen = session.get(Generation, claim.generation_id)
        used = claims.recorded_works(session, gen) if gen is not None else []
        return {"claim": {"id": claim.id, "action": claim.action, "reason": claim.reason, "status": claim.status,
                          "created_at": as_utc(claim.created_at).isoformat()},
                "work": {"id": claim.work_id, "title": _title(session, claim.work_id)},
                "recorded_works": [{"id": w, "title": _title(session, w)} for w in used],
                "matched": claim.work_id in used,
                "claimant": {"org_id": claim.org_id, "name": org.name if org else None,
                             "flagged": bool(org and org.flagged_at), "flag_reason": org.flag_reason if org else None,
                             "overturned_recently": claims.overturned_recently(session, claim.org_id)}}
