"""Deciding cases: the rules every decision follows (a policy code, the claim lock, the senior
rank for escalated cases, a different person for an appeal), what a decision does to a held or
appealed generation, bulk decisions, and the deadline sweep.

Every decision writes a case event and an audit row, issues a statement of reasons where it
restricts or lifts a restriction (superseding the contested one, which is kept), and notifies
every party. Quality-check cases (app/case_quality.py) record the answer and act on nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, case_quality, cases, domains, mail, notifications, orchestrator, statements
from app.config import setting
from app.db import as_utc, new_id, on_commit, utcnow
from app.errors import Conflict, Forbidden, GreenlightError, ValidationFailed
from app.models import (
    Case, CaseEvent, CaseKind, CaseState, Generation, Phase, Role, StatementOfReasons, Status, User, VerdictRecord,
)
from app.queues import RENDER
from app.runtime import Runtime
from app.states import transition

log = logging.getLogger(__name__)
K, S = CaseKind, CaseState


def _check_decision(case: Case, decision: str, policy_code: str | None) -> None:
    allowed = cases.decisions_for(case.kind)
    if decision not in allowed:
        raise ValidationFailed(f"a {case.kind} case is decided with one of {sorted(allowed)} or escalate",
                               code="decision_not_for_kind", details={"allowed": sorted(allowed | {"escalate"})})
    if not policy_code:
        raise ValidationFailed("every decision cites a policy code", code="policy_code_required")
    if policy_code not in cases.policy_codes():
        raise ValidationFailed("unknown policy code", code="unknown_policy_code",
                               details={"policy_code": policy_code})


def decide(rt: Runtime, session: Session, user: User, case_id: str, decision: str, policy_code: str | None,
           note: str = "", *, bulk_id: str | None = None) -> Case:
    case = cases.workable(session, user, case_id)
    cases._check_open(case)
    if case.assignee_id not in (None, user.id):
        raise Conflict("another reviewer holds this case", code="case_claimed")
    if decision == cases.ESCALATE:
        return cases.escalate(session, user, case, note)
    _check_decision(case, decision, policy_code)
    if case.first_decider_id == user.id:
        raise Forbidden("this case is decided by someone other than whoever made the first decision",
                        code="same_decider")
    # Decided before its effects run, so the generation leaving review does not close it as moot.
    case.state, case.decision, case.policy_code, case.decision_note = S.DECIDED.value, decision, policy_code, note
    statement_id = None
    if case.qa is None:
        statement_id = _apply(rt, session, case, decision, user, note, policy_code)
    now = utcnow()
    case.state = S.DECIDED.value
    case.decided_by_id, case.decided_at, case.updated_at = user.id, now, now
    case.assignee_id = case.assignee_id or user.id
    case.outcome_statement_id = statement_id
    if bulk_id:
        case.details = dict(case.details or {}, bulk_id=bulk_id)
    cases.record_event(session, case, "decided", user.id, note, decision=decision, policy_code=policy_code,
                       statement_id=statement_id, bulk_id=bulk_id)
    audit.record(session, actor=user.id, action="case.decided", object_type="case", object_id=case.id,
                 after={"decision": decision, "policy_code": policy_code, "kind": case.kind,
                        "generation_id": case.generation_id, "statement_id": statement_id, "bulk_id": bulk_id})
    if case.qa is not None:
        case_quality.record_answer(session, case)
        return case
    if case.appeal_of_id:
        first = session.get(Case, case.appeal_of_id)
        if first is not None and first.state == S.REOPENED:
            first.state = S.DECIDED.value
            cases.record_event(session, first, "appeal_decided", user.id, decision=decision, appeal_id=case.id)
    _tell_parties(session, case, statement_id)
    case_quality.maybe_second_review(session, case)
    return case


def _tell_parties(session: Session, case: Case, statement_id: str | None) -> None:
    payload = {"case_id": case.id, "case_kind": case.kind, "decision": case.decision, "statement_id": statement_id,
               "generation_id": case.generation_id}
    for user_id in cases.parties(session, case):
        notifications.notify(session, user_id, "case_decided", **payload)
    if case.contact_email:
        mail.send(session, case.contact_email, "Your complaint has been decided",
                  f"Your complaint {case.id} was decided: {case.decision}.\n"
                  f"The statement of reasons is on your case page (use the private link you were sent).")


def _apply(rt: Runtime, session: Session, case: Case, decision: str, actor: User, note: str,
           policy_code: str) -> str | None:
    if case.kind == K.REVIEW:
        return _decide_held(rt, session, case, decision, actor, note, policy_code)
    if case.kind == K.APPEAL:
        return _decide_appeal(rt, session, case, decision, actor, note, policy_code)
    handler = domains.case_handler(case.kind)
    if handler is None:
        raise GreenlightError(f"no domain decides {case.kind} cases", code="case_kind_unknown", status=500)
    return handler.decide(session, case, decision, actor, note)


def _human_verdict(session: Session, gen: Generation, decision: str, actor: User, note: str, case: Case,
                   policy_code: str) -> None:
    # Human decisions are verdicts too, so a generation's history reads as one list.
    session.add(VerdictRecord(generation_id=gen.id, phase=Phase.HUMAN.value, stage="human_review", stage_version="1",
                              decision=decision, actor_id=actor.id,
                              reasons=[{"code": f"reviewer_{decision}", "message": note or decision,
                                        "details": {"case_id": case.id, "policy_code": policy_code}}]))


def _decide_held(rt: Runtime, session: Session, case: Case, decision: str, actor: User, note: str,
                 policy_code: str) -> str | None:
    gen = case.generation
    if gen.status != Status.IN_REVIEW:
        raise Conflict("the generation is no longer held", code="generation_not_held", details={"status": gen.status})
    if decision == "allow":
        target = Status.QUEUED if case.phase == Phase.PRE_RENDER else Status.DRAFT
    else:
        target = Status.BLOCKED
    transition(session, gen, target, actor=actor.id, reason=f"human_review:{decision}")
    if target == Status.QUEUED:
        on_commit(session, lambda: orchestrator.enqueue(rt, RENDER, gen.id))
    _human_verdict(session, gen, "allow" if decision == "allow" else "block", actor, note, case, policy_code)
    if target == Status.DRAFT and gen.age_restricted:
        orchestrator.state_age_restriction(session, gen, origin="human_review",
                                           automated_decision=statements.AUTOMATED_PARTIALLY)
    if target != Status.BLOCKED:
        return None
    statement = statements.issue(
        session, gen, origin="human_review", automated_decision=statements.NOT_AUTOMATED, case_id=case.id,
        reasons=[*case.reasons, {"stage": "human_review", "code": policy_code,
                                 "message": note or cases.policy_codes()[policy_code]}])
    return statement.id


def _decide_appeal(rt: Runtime, session: Session, case: Case, decision: str, actor: User, note: str,
                   policy_code: str) -> str | None:
    if case.statement_id is None and case.subject_type == "case":
        return _decide_case_appeal(session, case, decision, actor, note)
    contested = session.get(StatementOfReasons, case.statement_id)
    gen = session.get(Generation, contested.generation_id)
    title = cases.policy_codes()[policy_code]
    if decision == "uphold":
        statement = statements.issue(
            session, gen, origin="appeal_upheld", supersedes=contested, case_id=case.id, appealable=False,
            visibility=contested.decision_visibility[0] if contested.decision_visibility else None,
            monetary=contested.decision_monetary, automated_detection=contested.automated_detection,
            automated_decision=statements.NOT_AUTOMATED, notice=contested.source_type == statements.SOURCE_NOTICE,
            reasons=[*contested.reasons, {"stage": "human_review", "code": policy_code,
                                          "message": note or f"appeal upheld: {title}"}])
        _human_verdict(session, gen, "block", actor, note, case, policy_code)
        return statement.id
    _lift(rt, session, gen, contested, actor)
    _human_verdict(session, gen, "allow", actor, note, case, policy_code)
    statement = statements.issue(
        session, gen, origin="appeal_overturned", supersedes=contested, case_id=case.id, appealable=False,
        visibility=None, automated_detection=contested.automated_detection,
        automated_decision=statements.NOT_AUTOMATED,
        explanation="On appeal, a reviewer who did not take the first decision found it wrong; "
                    "the restriction is lifted.",
        reasons=[*contested.reasons, {"stage": "human_review", "code": policy_code,
                                      "message": note or f"appeal overturned: {title}"}])
    return statement.id


def _decide_case_appeal(session: Session, case: Case, decision: str, actor: User, note: str) -> None:
    """An appeal of a case decision that issued no statement (an enrolment refusal): upheld, nothing
    changes; overturned, the first case's handler reverses what it can (`reverse`)."""
    first = session.get(Case, case.appeal_of_id)
    handler = domains.case_handler(first.kind) if first is not None else None
    if handler is None:
        raise GreenlightError(f"no domain decides {first.kind if first else '?'} cases", code="case_kind_unknown",
                              status=500)
    if decision == "uphold":
        if hasattr(handler, "appeal_upheld"):
            handler.appeal_upheld(session, first, actor)
    else:
        handler.reverse(session, first, actor, note)
    return None


def _lift(rt: Runtime, session: Session, gen: Generation, contested: StatementOfReasons, actor: User) -> None:
    """Undo what the contested statement did: a blocked request renders (or a blocked video returns
    to its creator's drafts); an age restriction goes."""
    if statements.VISIBILITY_AGE_RESTRICTED in (contested.decision_visibility or []):
        gen.age_restricted = False
        audit.record(session, actor=actor.id, action="generation.age_restriction_lifted", object_type="generation",
                     object_id=gen.id)
    if gen.status == Status.BLOCKED:
        target = Status.DRAFT if gen.media_key else Status.QUEUED
        transition(session, gen, target, actor=actor.id, reason="appeal_overturned")
        if target == Status.QUEUED:
            on_commit(session, lambda: orchestrator.enqueue(rt, RENDER, gen.id))


# -- many at once, and deadlines ------------------------------------------------------------------

def bulk_decide(rt: Runtime, session: Session, user: User, case_ids: Iterable[str], decision: str,
                policy_code: str | None, note: str = "") -> dict[str, Any]:
    """Decide several cases the same way; each is decided on its own (a savepoint each), and the
    batch is one audit row listing every outcome."""
    bulk_id = new_id()
    results: dict[str, str] = {}
    for case_id in dict.fromkeys(case_ids):
        try:
            with session.begin_nested():
                decide(rt, session, user, case_id, decision, policy_code, note, bulk_id=bulk_id)
            results[case_id] = "decided"
        except GreenlightError as exc:
            results[case_id] = exc.code
    audit.record(session, actor=user.id, action="case.bulk_decided", object_type="case_batch", object_id=bulk_id,
                 after={"decision": decision, "policy_code": policy_code, "results": results})
    return {"bulk_id": bulk_id, "results": results}


def sweep(session: Session, actor: User, now: datetime | None = None) -> dict[str, int]:
    """Run daily (or more often): cases past their deadline are handled as their kind's rules say
    (a dispute lapses in the creator's favour); stale ones alert their assignee and the seniors."""
    now = now or utcnow()
    alert_before = timedelta(seconds=setting("GL_CASE_ALERT_BEFORE"))
    counts = {"lapsed": 0, "alerted": 0}
    open_cases = session.scalars(select(Case).where(Case.state.in_([s.value for s in cases.OPEN_STATES]),
                                                    Case.qa.is_(None), Case.due_at <= now + alert_before)
                                 .order_by(Case.due_at)).all()
    seniors = list(session.scalars(select(User.id).where(User.role == Role.SENIOR_REVIEWER.value)))
    for case in open_cases:
        overdue = as_utc(case.due_at) <= now
        handler = domains.case_handler(case.kind)
        if overdue and handler is not None and handler.overdue(session, case, actor):
            now_ = utcnow()
            case.state, case.decided_at, case.decided_by_id, case.updated_at = S.DECIDED.value, now_, actor.id, now_
            cases.record_event(session, case, "decided", actor.id, "the deadline passed", decision=case.decision,
                               lapsed=True)
            audit.record(session, actor=actor.id, action="case.lapsed", object_type="case", object_id=case.id,
                         after={"decision": case.decision})
            _tell_parties(session, case, case.outcome_statement_id)
            counts["lapsed"] += 1
            continue
        level = "overdue" if overdue else "due_soon"
        already = session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case.id, CaseEvent.kind == "alert",
                                                            CaseEvent.body == level))
        if already:
            continue
        cases.record_event(session, case, "alert", None, level)
        for user_id in {*seniors, *([case.assignee_id] if case.assignee_id else [])}:
            notifications.notify(session, user_id, "case_stale", case_id=case.id, case_kind=case.kind, level=level,
                                 due_at=as_utc(case.due_at).isoformat())
        counts["alerted"] += 1
    return counts
