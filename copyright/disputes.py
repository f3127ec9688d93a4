"""How a `dispute` case is decided (the CaseHandler copyright registers for the kind; app/cases.py
opens, routes and times it, app/case_decisions.py checks the decision and calls in here).

`uphold`: the claim stands. `overturn`: it is released (a takedown is republished, a monetisation's
escrow goes to the creator). Either way a new statement of reasons supersedes the claim's, and it
is final inside the platform (appealable=False): a dispute already is the creator's complaint.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import cases, statements
from app.config import setting
from app.db import as_utc
from app.errors import Conflict, NotFound
from app.models import Case, Generation, StatementOfReasons, User
from copyright import claims
from copyright.models import ClaimAction, RightsholderOrg, VideoClaim, VideoClaimStatus
from copyright.services import work_title

UPHOLD, OVERTURN = "uphold", "overturn"


def _disputed_claim(session: Session, case: Case) -> VideoClaim:
    claim = session.get(VideoClaim, case.subject_id)
    if claim is None or claim.status != VideoClaimStatus.DISPUTED:
        raise Conflict("only a disputed claim is decided by a reviewer", code="claim_not_disputed",
                       details={"status": claim.status if claim else None})
    return claim


def _restriction(claim: VideoClaim) -> dict[str, Any]:
    # The same restriction the claim's own statement carried (claims.file).
    if claim.action == ClaimAction.TAKEDOWN:
        return {"visibility": statements.VISIBILITY_REMOVED, "monetary": None}
    return {"visibility": None, "monetary": statements.MONETARY_OTHER}


def _statement(session: Session, case: Case, claim: VideoClaim, uphold: bool, message: str, code: str) -> str:
    contested = session.get(StatementOfReasons, case.statement_id) if case.statement_id else None
    gen = session.get(Generation, claim.generation_id)
    restriction = _restriction(claim) if uphold else {"visibility": None, "monetary": None}
    explanation = None if uphold else ("The creator disputed the rightsholder's claim and it was released; "
                                       "the restriction is lifted.")
    statement = statements.issue(
        session, gen, origin="dispute_upheld" if uphold else "dispute_overturned", supersedes=contested,
        case_id=case.id, appealable=False, notice=True, automated_detection=False,
        automated_decision=statements.NOT_AUTOMATED, explanation=explanation, **restriction,
        reasons=[*(contested.reasons if contested else case.reasons),
                 {"stage": "copyright.claim", "code": code, "message": message,
                  "details": {"claim_id": claim.id, "case_id": case.id}}])
    return statement.id


class DisputeHandler:
    decisions = frozenset({UPHOLD, OVERTURN})

    def decide(self, session: Session, case: Case, decision: str, actor: User, note: str) -> str | None:
        claim = _disputed_claim(session, case)
        uphold = decision == UPHOLD
        title = cases.policy_codes().get(case.policy_code or "", case.policy_code or "")
        reason = note or f"dispute {'upheld' if uphold else 'overturned'}: {title}"
        claims.rule(session, claim, actor, uphold=uphold, reason=reason, step="decided")
        return _statement(session, case, claim, uphold, reason, case.policy_code or f"dispute_{decision}")

    def overdue(self, session: Session, case: Case, actor: User) -> bool:
        """Nobody decided in time: the claim lapses in the creator's favour, so a backlog never keeps
        a video down or its revenue in escrow."""
        claim = session.get(VideoClaim, case.subject_id)
        if claim is None or claim.status != VideoClaimStatus.DISPUTED:
            return False
        days = setting("GL_CASE_SLA").get(case.kind, 0) // 86400
        reason = f"the dispute was not decided within {days} days; the claim lapses in the creator's favour"
        claims.rule(session, claim, actor, uphold=False, reason=reason, step="lapsed")
        case.decision = OVERTURN
        case.outcome_statement_id = _statement(session, case, claim, False, reason, "dispute_lapsed")
        return True

    def describe(self, session: Session, case: Case) -> dict[str, Any]:
        claim = session.get(VideoClaim, case.subject_id)
        if claim is None:
            return {}
        org = session.get(RightsholderOrg, claim.org_id)
        stamp = lambda moment: as_utc(moment).isoformat() if moment else None  # noqa: E731
        return {"claim": {"id": claim.id, "action": claim.action, "reason": claim.reason, "status": claim.status,
                          "dispute_reason": claim.dispute_reason, "created_at": stamp(claim.created_at),
                          "disputed_at": stamp(claim.disputed_at), "decided_at": stamp(claim.decided_at)},
                "work": {"id": claim.work_id, "title": _title(session, claim.work_id)},
                "claimant": {"org_id": claim.org_id, "name": org.name if org else None,
                             "flagged": bool(org and org.flagged_at)}}


def _title(session: Session, work_id: str) -> str | None:
    try:
        return work_title(session, work_id)
    except NotFound:  # a registered work since removed: show the id alone
        return None
