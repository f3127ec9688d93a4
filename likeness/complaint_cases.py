"""How a reviewer decides a likeness complaint (registered as the `likeness_complaint` case kind).

block: the complaint stands. The video is blocked, not deleted: its creator may still appeal,
and an overturned appeal returns it to their drafts (app.case_decisions._lift).
allow: the complaint is rejected. The video may be published again, and is, if it was published
when the complaint hid it (and every other publish check still passes).
Either way a statement superseding the complaint's own tells the creator.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import cases, domains, statements
from app.errors import Conflict
from app.models import Case, CaseKind, Generation, StatementOfReasons, Status, User
from app.states import transition
from likeness.models import Cameo

STAGE = "likeness.complaint"  # the `stage` its reasons name: a DSA category in likeness/plugin.py
KIND = CaseKind.LIKENESS_COMPLAINT.value


def open_complaint(session: Session, generation_id: str) -> Case | None:
    """The undecided complaint on a generation, if any (a decision being applied counts as decided)."""
    return session.scalar(select(Case).where(Case.kind == KIND, Case.subject_type == "generation",
                                             Case.subject_id == generation_id, Case.decision.is_(None), Case.qa.is_(None),
                                             Case.state.in_([s.value for s in cases.OPEN_STATES]))
                          .limit(1))


def refuse_publishing_under_complaint(session: Session, gen: Generation) -> None:
    """Publish check: a video hidden by a likeness complaint stays down until a reviewer decides."""
    case = open_complaint(session, gen.id)
    if case is not None:
        raise Conflict("a person who says this video shows them has complained; it cannot be published until "
                       "the complaint is decided", code="likeness_complaint_open", details={"case_id": case.id})


class LikenessComplaintHandler:
    decisions = frozenset({"block", "allow"})

    def decide(self, session: Session, case: Case, decision: str, actor: User, note: str) -> str | None:
        gen = session.get(Generation, case.generation_id)
        contested = session.get(StatementOfReasons, case.statement_id)
        title = cases.policy_codes().get(case.policy_code or "", decision)
        reason = {"stage": STAGE, "code": case.policy_code, "message": note or title}
        if decision == "block":
            if gen.status in (Status.DRAFT, Status.PUBLISHED):
                transition(session, gen, Status.BLOCKED, actor=actor.id, reason="likeness_complaint_upheld")
            statement = statements.issue(
                session, gen, origin="likeness_complaint_upheld", supersedes=contested, case_id=case.id, notice=True,
                visibility=statements.VISIBILITY_REMOVED, automated_detection=True,
                automated_decision=statements.NOT_AUTOMATED, reasons=[*contested.reasons, reason])
            return statement.id
        self._restore(session, case, gen, actor)
        statement = statements.issue(
            session, gen, origin="likeness_complaint_rejected", supersedes=contested, case_id=case.id, notice=True,
            visibility=None, automated_detection=True, automated_decision=statements.NOT_AUTOMATED,
            appealable=False, reasons=[*contested.reasons, reason],
            explanation="A reviewer found that the video does not show the person who complained; the "
                        "restriction is lifted.")
        return statement.id

    @staticmethod
    def _restore(session: Session, case: Case, gen: Generation, actor: User) -> None:
        if not (case.details or {}).get("was_published") or gen.status != Status.DRAFT:
            return  # it was a draft, or its creator deleted it meanwhile: nothing to put back
        try:
            # case.decision is set by now, so this complaint no longer counts as open; a consent
            # withdrawn or a takedown meanwhile still keeps the video down.
            domains.check_publishable(session, gen)
        except Conflict:
            return
        transition(session, gen, Status.PUBLISHED, actor=actor.id, reason="likeness_complaint_rejected")

    def overdue(self, session: Session, case: Case, actor: User) -> bool:
        return False  # a person's likeness is never decided by a clock: the sweep alerts the seniors

    def describe(self, session: Session, case: Case) -> dict[str, Any]:
        details = case.details or {}
        cameo = session.get(Cameo, details["cameo_id"]) if details.get("cameo_id") else None
        return {"score": details.get("score"), "at_s": details.get("at_s"),
                "cameo": {"id": cameo.id, "display_name": cameo.display_name, "owner_id": cameo.owner_id}
                if cameo else None,
                "was_published": details.get("was_published"), "statement": case.summary,
                "complainant": "email" if case.contact_email else "account"}
