"""Appeals (EU DSA Art. 20 internal complaint handling): the recipient of a statement of reasons
contests it, free of charge; a human who did not take the first decision decides within the
appeal deadline (GL_CASE_SLA), and the outcome is a new statement that supersedes the contested
one. A decision is appealed once: the statement an appeal issues points to out-of-court bodies.

A case decision that issued no statement (an enrolment refusal: not content, so no DSA statement)
is appealed through the case itself (`case_id`), where its kind's handler says that decision may be
appealed (`appealable_decisions`); the appeal's decision is then applied by that handler
(app.case_decisions._decide_case_appeal).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import cases, domains, statements
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Case, CaseKind, CaseState, Generation, StatementOfReasons, Status, User

MAX_REASON = 5000


def _contested(session: Session, user: User, statement_id: str | None, generation_id: str | None) -> StatementOfReasons:
    if statement_id:
        statement = session.get(StatementOfReasons, statement_id)
    elif generation_id:
        # The decision in force on that generation: the newest restricting statement not yet replaced.
        candidates = [s for s in statements.for_generation(session, generation_id)
                      if s.user_id == user.id and statements.restricts(s)]
        replaced = {s.supersedes_id for s in statements.for_generation(session, generation_id)}
        statement = next((s for s in reversed(candidates) if s.id not in replaced), None)
    else:
        raise ValidationFailed("name the statement_id or the generation_id you appeal", code="appeal_subject_missing")
    if statement is None or statement.user_id != user.id:
        raise NotFound("no decision of yours with that id", code="statement_not_found")
    return statement


def file(session: Session, user: User, reason: str, *, statement_id: str | None = None,
         generation_id: str | None = None, case_id: str | None = None) -> Case:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("say why the decision is wrong", code="appeal_reason_missing")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"at most {MAX_REASON} characters", code="appeal_reason_too_long")
    if case_id:
        return _file_against_case(session, user, reason, case_id)
    contested = _contested(session, user, statement_id, generation_id)
    if not statements.restricts(contested):
        raise Conflict("this statement lifts a restriction; there is nothing to appeal", code="not_appealable")
    if statements.superseded_by(session, contested.id) is not None:
        raise Conflict("a later decision replaced this one: appeal that", code="statement_superseded",
                       details={"superseded_by": statements.superseded_by(session, contested.id).id})
    if not (contested.redress or {}).get("internal_complaint"):
        raise Conflict("this decision was taken on appeal; out-of-court settlement and the courts remain",
                       code="appeal_exhausted")
    handler_kind = _routed_elsewhere(contested)
    if handler_kind:
        raise Conflict("a claim by a rightsholder is contested by disputing the claim", code="use_dispute",
                       details=handler_kind)
    existing = session.scalar(select(Case.id).where(Case.kind == CaseKind.APPEAL.value,
                                                    Case.statement_id == contested.id))
    if existing:
        raise Conflict("this decision is already under appeal", code="already_appealed", details={"case_id": existing})
    gen = session.get(Generation, contested.generation_id)
    if gen is None or gen.status == Status.DELETED:
        raise Conflict("the video was deleted; nothing can be restored", code="generation_deleted")
    first = session.scalar(select(Case).where(Case.outcome_statement_id == contested.id))
    if first is not None:
        if first.reopened_count >= 1:
            raise Conflict("this decision was reopened once already", code="already_appealed")
        first.reopened_count += 1
        first.state = CaseState.REOPENED.value
        cases.record_event(session, first, "reopened", user.id, "appealed by its recipient")
    return cases.open_case(
        session, kind=CaseKind.APPEAL, subject_type="statement", subject_id=contested.id, generation=gen,
        reasons=list(contested.reasons), parties={user.id: "appellant"}, opened_by=user, summary=reason,
        statement_id=contested.id, appeal_of=first, first_decider_id=first.decided_by_id if first else None)


def _file_against_case(session: Session, user: User, reason: str, case_id: str) -> Case:
    """Appeal a case decision that issued no statement of reasons (an enrolment refusal)."""
    first = session.get(Case, case_id)
    if first is None or first.qa is not None or cases.party_role(session, user, first) is None:
        raise cases.CaseNotFound("case not found")
    existing = session.scalar(select(Case.id).where(Case.kind == CaseKind.APPEAL.value, Case.appeal_of_id == first.id))
    if existing or first.reopened_count >= 1:
        raise Conflict("this decision is already under appeal", code="already_appealed",
                       details={"case_id": existing} if existing else {})
    if first.state != CaseState.DECIDED:
        raise Conflict("the case has no decision yet", code="case_not_decided")
    if first.outcome_statement_id:
        raise Conflict("this decision issued a statement of reasons: appeal the statement", code="not_appealable",
                       details={"statement_id": first.outcome_statement_id})
    handler = domains.case_handler(first.kind)
    if first.decision not in getattr(handler, "appealable_decisions", frozenset()):
        raise Conflict("this decision cannot be appealed", code="not_appealable",
                       details={"kind": first.kind, "decision": first.decision})
    first.reopened_count += 1
    first.state = CaseState.REOPENED.value
    cases.record_event(session, first, "reopened", user.id, "appealed by its party")
    return cases.open_case(
        session, kind=CaseKind.APPEAL, subject_type="case", subject_id=first.id, generation=first.generation,
        reasons=list(first.reasons), parties={user.id: "appellant"}, opened_by=user, summary=reason,
        appeal_of=first, first_decider_id=first.decided_by_id)


def _routed_elsewhere(contested: StatementOfReasons) -> dict | None:
    for reason in contested.reasons or []:
        claim_id = (reason.get("details") or {}).get("claim_id")
        if contested.origin == "video_claim" and claim_id:
            return {"claim_id": claim_id}
    return None


def appeal_of_statement(session: Session, statement_id: str) -> Case | None:
    return session.scalar(select(Case).where(Case.kind == CaseKind.APPEAL.value, Case.statement_id == statement_id))

