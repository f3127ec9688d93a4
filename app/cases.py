"""Cases: the one object behind every human decision after the gates (a held generation, an
appeal, a copyright dispute, a likeness complaint). This module is their life until the decision:
opening and routing into queues, deadlines, who may see and work them, the claim lock, hand-off,
escalation, notes, and what a reviewer works on next. Decisions and their effects live in
app/case_decisions.py; filing an appeal in app/appeals.py.

Kinds owned by a domain (disputes, likeness complaints) are decided by the handler the domain
registers (app.domains.case_handler); review and appeal cases act on generations, which app/ owns.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from app import audit, domains, notifications
from app.config import setting
from app.db import as_utc, utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.models import (
    REVIEW_ROLES, Case, CaseEvent, CaseKind, CaseParty, CaseState, Generation, Role, User,
)

K, S = CaseKind, CaseState
OPEN_STATES = frozenset({S.OPEN, S.ASSIGNED, S.ESCALATED})
ESCALATE = "escalate"
# Decisions a reviewer may take on the kinds app/ decides itself; domain kinds declare theirs.
CORE_DECISIONS: dict[str, frozenset[str]] = {K.REVIEW: frozenset({"allow", "block"}),
                                             K.APPEAL: frozenset({"uphold", "overturn"})}
# Policy codes that belong to no domain: a decision that finds nothing wrong, or a wrong automated call.
CORE_POLICY_CODES = {"GL-NO-VIOLATION": "No violation: the content is allowed",
                     "GL-AUTOMATION-ERROR": "The automated decision was wrong",
                     "GL-INSUFFICIENT-CONTEXT": "Not enough context to find a violation"}
_RANK = {Role.REVIEWER.value: 1, Role.SENIOR_REVIEWER.value: 2, Role.ADMIN.value: 3}
SENIOR = frozenset({Role.SENIOR_REVIEWER.value, Role.ADMIN.value})


class CaseHandler(Protocol):
    """What a domain registers for a case kind it owns (app.domains.Domain.case_kinds)."""

    decisions: frozenset[str]

    def decide(self, session: Session, case: Case, decision: str, actor: User, note: str) -> str | None:
        """Apply the decision; return the id of the statement of reasons it issued, if any."""

    def overdue(self, session: Session, case: Case, actor: User) -> bool:
        """The deadline passed undecided: act as the rules say (a dispute lapses); True if it decided
        (then it sets case.decision and case.outcome_statement_id)."""

    def describe(self, session: Session, case: Case) -> dict[str, Any]:
        """What a reviewer needs besides the generation: the claim and work, the match score, ..."""

    # Optional, for decisions that issue no statement of reasons yet may be appealed through the
    # case (app.appeals.file(case_id=...)): `appealable_decisions: frozenset[str]` (absent: none),
    # `reverse(session, case, actor, note)` when such an appeal is overturned, and
    # `appeal_upheld(session, case, actor)` when it is upheld (absent: nothing happens).


class CaseNotFound(NotFound):
    code = "case_not_found"


def describe(session: Session, case: Case) -> dict[str, Any]:
    if case.kind == K.APPEAL and case.subject_type == "case" and case.appeal_of_id:
        first = session.get(Case, case.appeal_of_id)  # an appeal of a statement-less decision: what it decided
        return {"appeal_of": {"kind": first.kind, "decision": first.decision, "policy_code": first.policy_code,
                              **describe(session, first)}} if first is not None else {}
    handler = domains.case_handler(case.kind)
    return handler.describe(session, case) if handler is not None else {}


def decisions_for(kind: str) -> frozenset[str]:
    if kind in CORE_DECISIONS:
        return CORE_DECISIONS[kind]
    handler = domains.case_handler(kind)
    return frozenset(handler.decisions) if handler is not None else frozenset()


def policy_codes() -> dict[str, str]:
    return CORE_POLICY_CODES | domains.policy_codes()


# -- opening ----------------------------------------------------------------------------------------

def deadline(kind: str, start: datetime) -> datetime:
    sla: Mapping[str, int] = setting("GL_CASE_SLA")
    return as_utc(start) + timedelta(seconds=sla.get(kind, 86400))


def route(reasons: Iterable[Mapping[str, Any]]) -> str:
    """The queue for a case resting on `reasons`: the first routing rule that a reason's stage or
    code matches (GL_REVIEW_ROUTES), else `general`."""
    rules: Mapping[str, str] = setting("GL_REVIEW_ROUTES")
    reasons = list(reasons)
    for pattern, queue in rules.items():
        for reason in reasons:
            if any(fnmatch.fnmatchcase(str(reason.get(key) or ""), pattern) for key in ("stage", "code")):
                return queue
    return "general"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def record_event(session: Session, case: Case, kind: str, actor_id: str | None = None, body: str = "",
                 **data: Any) -> CaseEvent:
    event = CaseEvent(case_id=case.id, actor_id=actor_id, kind=kind, body=body, data=data)
    session.add(event)
    return event


def open_case(session: Session, *, kind: str, subject_type: str, subject_id: str,
              generation: Generation | None = None, reasons: list[dict[str, Any]] | None = None,
              parties: Mapping[str, str] | None = None, opened_by: User | None = None, summary: str = "",
              queue: str | None = None, phase: str | None = None, priority: int = 0,
              statement_id: str | None = None, appeal_of: Case | None = None, first_decider_id: str | None = None,
              contact_email: str | None = None, access_key: str | None = None, qa: str | None = None,
              qa_of: Case | None = None, expected_decision: str | None = None,
              details: dict[str, Any] | None = None) -> Case:
    now = utcnow()
    reasons = list(reasons or [])
    case = Case(kind=kind, state=S.OPEN.value, queue=queue or route(reasons), priority=priority,
                subject_type=subject_type, subject_id=subject_id, generation_id=generation.id if generation else None,
                phase=phase, reasons=reasons, summary=summary, opened_by_id=opened_by.id if opened_by else None,
                contact_email=contact_email, access_key_hash=key_hash(access_key) if access_key else None,
                appeal_of_id=appeal_of.id if appeal_of else None, statement_id=statement_id,
                first_decider_id=first_decider_id, due_at=deadline(kind, now), qa=qa,
                qa_of_id=qa_of.id if qa_of else None, expected_decision=expected_decision, details=details or {},
                created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    for user_id, role in (parties or {}).items():
        session.add(CaseParty(case_id=case.id, user_id=user_id, role=role))
    record_event(session, case, "opened", opened_by.id if opened_by else None, summary, queue=case.queue)
    audit.record(session, actor=opened_by.id if opened_by else "system:cases", action="case.opened",
                 object_type="case", object_id=case.id,
                 after={"kind": kind, "subject": f"{subject_type}:{subject_id}", "queue": case.queue, "qa": qa})
    if qa is None:
        for user_id in (parties or {}):
            notifications.notify(session, user_id, "case_opened", case_id=case.id, case_kind=kind,
                                 generation_id=case.generation_id,
                                 due_at=as_utc(case.due_at).isoformat())
    return case


def open_review(session: Session, gen: Generation, phase: str, reasons: list[dict[str, Any]]) -> Case:
    """A generation the gates held: its creator is a party (told it waits, never shown the case's queue)."""
    return open_case(session, kind=K.REVIEW, subject_type="generation", subject_id=gen.id, generation=gen,
                     reasons=reasons, phase=phase, parties={gen.owner_id: "creator"})


def close_moot(session: Session, gen: Generation, target: str, actor: str) -> list[Case]:
    """A held generation that left review some other way (its creator deleted it, a cameo's consent
    was revoked) leaves nothing to decide: its open cases close, recorded as moot. So do appeals of
    a generation that is gone."""
    kinds = [K.REVIEW.value] + ([K.APPEAL.value] if target == "deleted" else [])
    return _close_moot(session, select(Case).where(Case.generation_id == gen.id, Case.kind.in_(kinds)),
                       f"the generation became {target}", actor, generation_status=target)


def close_moot_subject(session: Session, subject_type: str, subject_id: str, why: str, actor: str) -> list[Case]:
    """The same for a case's subject that went away (a pending cameo its owner revoked or deleted)."""
    return _close_moot(session, select(Case).where(Case.subject_type == subject_type, Case.subject_id == subject_id),
                       why, actor)


def _close_moot(session: Session, stmt, why: str, actor: str, **after: Any) -> list[Case]:
    open_cases = session.scalars(stmt.where(Case.state.in_([s.value for s in OPEN_STATES]))).all()
    now = utcnow()
    for case in open_cases:
        case.state, case.decision, case.decided_at, case.updated_at = S.DECIDED.value, "moot", now, now
        case.decision_note = why
        record_event(session, case, "closed", None, why, by=actor)
        audit.record(session, actor=actor, action="case.closed_moot", object_type="case", object_id=case.id,
                     after={"why": why, **after})
    return list(open_cases)


# -- who sees and works a case -----------------------------------------------------------------------

def queue_role(queue: str) -> str:
    return setting("GL_QUEUE_ROLES").get(queue, Role.REVIEWER.value)


def can_work(user: User, case: Case) -> bool:
    """Reviewers with the rank the queue asks for; escalated cases need a senior reviewer."""
    rank = _RANK.get(user.role, 0)
    if rank == 0:
        return False
    needed = Role.SENIOR_REVIEWER.value if case.state == S.ESCALATED else queue_role(case.queue)
    return rank >= _RANK.get(needed, 1)


def party_role(session: Session, user: User, case: Case) -> str | None:
    return session.scalar(select(CaseParty.role).where(CaseParty.case_id == case.id, CaseParty.user_id == user.id))


def visible(session: Session, user: User, case_id: str) -> Case:
    """A case its reviewers or its parties may read; anyone else is told it does not exist."""
    case = session.get(Case, case_id)
    if case is None or not (can_work(user, case) or party_role(session, user, case)):
        raise CaseNotFound("case not found")
    return case


def workable(session: Session, user: User, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None or _RANK.get(user.role, 0) == 0:
        raise CaseNotFound("case not found")
    if not can_work(user, case):
        if case.state == S.ESCALATED:
            raise Forbidden("an escalated case waits for a senior reviewer", code="senior_reviewer_required")
        raise Forbidden("your role may not work this queue", code="queue_not_allowed",
                        details={"queue": case.queue, "needs": queue_role(case.queue)})
    return case


def by_key(session: Session, case_id: str, key: str) -> Case:
    """A complainant without an account follows their case through its private link."""
    case = session.get(Case, case_id)
    if case is None or not case.access_key_hash or case.access_key_hash != key_hash(key):
        raise CaseNotFound("case not found")
    return case


def parties(session: Session, case: Case) -> dict[str, str]:
    return dict(session.execute(select(CaseParty.user_id, CaseParty.role).where(CaseParty.case_id == case.id)).all())


def _check_open(case: Case) -> None:
    if case.state == S.DECIDED:
        raise Conflict("the case is decided", code="case_decided")
    if case.state == S.REOPENED:
        raise Conflict("the case's decision is under appeal", code="case_under_appeal")


# -- the claim lock, hand-off, escalation, notes -----------------------------------------------------------

def _touch(case: Case, **values: Any) -> dict[str, Any]:
    return {"updated_at": utcnow(), **values}


def claim(session: Session, user: User, case_id: str) -> Case:
    """Take the case; compare-and-set, so two reviewers never hold one case."""
    case = workable(session, user, case_id)
    _check_open(case)
    if case.assignee_id == user.id:
        return case
    if case.first_decider_id == user.id and case.kind == K.APPEAL:
        raise Forbidden("an appeal is decided by someone other than whoever made the first decision",
                        code="same_decider")
    state = case.state if case.state == S.ESCALATED else S.ASSIGNED.value
    now = utcnow()
    won = session.execute(update(Case).where(Case.id == case.id, Case.assignee_id.is_(None),
                                             Case.state.in_([s.value for s in OPEN_STATES]))
                          .values(assignee_id=user.id, assigned_at=now, state=state, updated_at=now)
                          .execution_options(synchronize_session=False)).rowcount
    session.refresh(case)
    if won != 1:
        raise Conflict("another reviewer holds this case", code="case_claimed",
                       details={"assigned": case.assignee_id is not None})
    record_event(session, case, "claimed", user.id)
    audit.record(session, actor=user.id, action="case.claimed", object_type="case", object_id=case.id)
    return case


def release(session: Session, user: User, case_id: str) -> Case:
    case = workable(session, user, case_id)
    _check_open(case)
    if case.assignee_id is None:
        return case
    if case.assignee_id != user.id and user.role not in SENIOR:
        raise Conflict("another reviewer holds this case", code="case_claimed")
    previous = case.assignee_id
    case.assignee_id, case.assigned_at = None, None
    if case.state == S.ASSIGNED:
        case.state = S.OPEN.value
    case.updated_at = utcnow()
    record_event(session, case, "released", user.id, released=previous)
    audit.record(session, actor=user.id, action="case.released", object_type="case", object_id=case.id,
                 before={"assignee": previous})
    return case


def handoff(session: Session, user: User, case_id: str, to_handle: str, note: str = "") -> Case:
    """Give the case to a named reviewer (the holder, or a senior reviewer for anyone's case)."""
    case = workable(session, user, case_id)
    _check_open(case)
    if case.assignee_id not in (None, user.id) and user.role not in SENIOR:
        raise Conflict("another reviewer holds this case", code="case_claimed")
    target = session.scalar(select(User).where(User.handle == to_handle.lower().lstrip("@")))
    if target is None or not can_work(target, case):
        raise NotFound("no reviewer with that handle may work this case", code="reviewer_not_found")
    if case.kind == K.APPEAL and target.id == case.first_decider_id:
        raise Forbidden("an appeal is decided by someone other than whoever made the first decision",
                        code="same_decider")
    before = case.assignee_id
    case.assignee_id, case.assigned_at, case.updated_at = target.id, utcnow(), utcnow()
    if case.state == S.OPEN:
        case.state = S.ASSIGNED.value
    record_event(session, case, "handed_off", user.id, note, to=target.id)
    audit.record(session, actor=user.id, action="case.handed_off", object_type="case", object_id=case.id,
                 before={"assignee": before}, after={"assignee": target.id})
    notifications.notify(session, target.id, "case_handed_to_you", case_id=case.id, by=user.handle, note=note)
    return case


def escalate(session: Session, user: User, case: Case, note: str) -> Case:
    if case.state == S.ESCALATED:
        raise Conflict("the case is already with the senior reviewers", code="case_escalated")
    case.state, case.assignee_id, case.assigned_at, case.updated_at = S.ESCALATED.value, None, None, utcnow()
    record_event(session, case, "escalated", user.id, note)
    audit.record(session, actor=user.id, action="case.escalated", object_type="case", object_id=case.id,
                 after={"note": note})
    for senior_id in session.scalars(select(User.id).where(User.role == Role.SENIOR_REVIEWER.value)):
        notifications.notify(session, senior_id, "case_escalated", case_id=case.id, by=user.handle)
    return case


def add_note(session: Session, user: User, case: Case, body: str, *, internal: bool) -> CaseEvent:
    """Reviewers' notes are internal unless said otherwise; a party's note is read by everyone on the case."""
    event = record_event(session, case, "note", user.id, body, internal=internal)
    case.updated_at = utcnow()
    return event


def thread(session: Session, case: Case, *, for_reviewer: bool) -> list[CaseEvent]:
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    if for_reviewer:
        return events
    # Parties read the public notes and the milestones; never who reviewed, revealed or handed off.
    shown = {"opened", "note", "decided", "reopened"}
    return [e for e in events if e.kind in shown and not (e.data or {}).get("internal")]


# -- lists ---------------------------------------------------------------------------------------------

def _workable_filter(user: User):
    """SQL for 'this user may work it': queues below their rank, escalated only for seniors."""
    rank = _RANK.get(user.role, 0)
    closed = [q for q, role in setting("GL_QUEUE_ROLES").items() if _RANK.get(role, 1) > rank]
    cond = Case.queue.notin_(closed) if closed else true()
    if rank < _RANK[Role.SENIOR_REVIEWER.value]:
        cond = and_(cond, Case.state != S.ESCALATED.value)
    return cond


def listing(session: Session, user: User, *, kind: str | None = None, state: str | None = None,
            queue: str | None = None, assigned_to_me: bool = False, limit: int = 100) -> list[Case]:
    """Oldest deadline first (higher priority before), the queues this reviewer may work."""
    stmt = select(Case).where(_workable_filter(user))
    if kind:
        stmt = stmt.where(Case.kind == kind)
    if state:
        stmt = stmt.where(Case.state == state)
    else:
        stmt = stmt.where(Case.state.in_([s.value for s in OPEN_STATES]))
    if queue:
        stmt = stmt.where(Case.queue == queue)
    if assigned_to_me:
        stmt = stmt.where(Case.assignee_id == user.id)
    return list(session.scalars(stmt.order_by(Case.priority.desc(), Case.due_at, Case.id).limit(limit)))


def queue_counts(session: Session, user: User) -> list[dict[str, Any]]:
    """Open cases per queue and kind, with the earliest deadline in each."""
    rows = session.execute(select(Case.queue, Case.kind, func.count(), func.min(Case.due_at))
                           .where(_workable_filter(user), Case.state.in_([s.value for s in OPEN_STATES]))
                           .group_by(Case.queue, Case.kind).order_by(func.min(Case.due_at))).all()
    return [{"queue": q, "kind": k, "count": n, "oldest_due_at": as_utc(due)} for q, k, n, due in rows]


def next_for(session: Session, user: User, *, queue: str | None = None, after: str | None = None) -> Case | None:
    """'Decide and next': the most urgent case this reviewer may take (unheld, or held by them)."""
    stmt = select(Case).where(_workable_filter(user), Case.state.in_([s.value for s in OPEN_STATES]),
                              or_(Case.assignee_id.is_(None), Case.assignee_id == user.id),
                              or_(Case.first_decider_id.is_(None), Case.first_decider_id != user.id))
    if queue:
        stmt = stmt.where(Case.queue == queue)
    if after:
        stmt = stmt.where(Case.id != after)
    return session.scalar(stmt.order_by(Case.priority.desc(), Case.due_at, Case.id).limit(1))


def of_party(session: Session, user: User) -> list[Case]:
    return list(session.scalars(select(Case).join(CaseParty, CaseParty.case_id == Case.id)
                                .where(CaseParty.user_id == user.id, Case.qa.is_(None))
                                .order_by(Case.created_at.desc())))


def for_subject(session: Session, subject_type: str, subject_id: str) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.subject_type == subject_type, Case.subject_id == subject_id)
                                .order_by(Case.created_at)))


def is_reviewer(user: User) -> bool:
    return user.role in {r.value for r in REVIEW_ROLES}
