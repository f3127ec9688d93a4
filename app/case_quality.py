"""Quality checks on human review: known-answer items mixed into the queues and a sampled, blind
second review of decided cases. A quality-check case looks like any other to the reviewer, acts
on nothing when decided, and counts towards that reviewer's agreement on the metrics page."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, cases
from app.config import setting
from app.errors import Conflict
from app.models import Case, CaseKind, CaseState, User

KNOWN_ANSWER = "known_answer"
SECOND_REVIEW = "second_review"
_rng = random.SystemRandom()


def _copy(session: Session, source: Case, qa: str) -> Case:
    return cases.open_case(
        session, kind=source.kind, subject_type=source.subject_type, subject_id=source.subject_id,
        generation=source.generation, reasons=list(source.reasons), queue=source.queue, phase=source.phase,
        statement_id=source.statement_id, summary=source.summary, qa=qa, qa_of=source,
        expected_decision=source.decision, first_decider_id=source.decided_by_id)


def maybe_second_review(session: Session, case: Case, rate: float | None = None) -> Case | None:
    """Send a share of decided review cases, blind, to another reviewer."""
    rate = setting("GL_QA_SECOND_REVIEW_RATE") if rate is None else rate
    if case.kind != CaseKind.REVIEW or case.qa is not None or _rng.random() >= rate:
        return None
    return _copy(session, case, SECOND_REVIEW)


def add_known_answer(session: Session, admin: User, case_id: str) -> Case:
    """Turn a decided case into a known-answer item: its decision is the expected answer."""
    source = session.get(Case, case_id)
    if source is None or source.qa is not None:
        raise cases.CaseNotFound("case not found")
    if source.state != CaseState.DECIDED or not source.decision:
        raise Conflict("only a decided case can become a known-answer item", code="case_not_decided")
    qa_case = _copy(session, source, KNOWN_ANSWER)
    qa_case.first_decider_id = None  # a known answer tests everyone, its first decider too
    audit.record(session, actor=admin.id, action="case.known_answer_added", object_type="case",
                 object_id=qa_case.id, after={"source": source.id, "expected": source.decision})
    return qa_case


def record_answer(session: Session, case: Case) -> None:
    agree = case.decision == case.expected_decision
    case.details = dict(case.details or {}, agrees=agree)
    cases.record_event(session, case, "qa_answer", case.decided_by_id, agrees=agree, qa=case.qa)


def agreement(session: Session) -> list[dict[str, Any]]:
    """Per reviewer: quality-check cases answered and how many agreed with the expected answer."""
    rows = session.execute(select(User.handle, Case.decision, Case.expected_decision, Case.qa)
                           .join(User, User.id == Case.decided_by_id)
                           .where(Case.qa.is_not(None), Case.state == CaseState.DECIDED.value)).all()
    tally: dict[str, dict[str, int]] = defaultdict(lambda: {"answered": 0, "agreed": 0})
    for handle, decision, expected, _qa in rows:
        tally[handle]["answered"] += 1
        tally[handle]["agreed"] += int(decision == expected)
    return [{"reviewer": h, **t, "agreement": round(t["agreed"] / t["answered"], 3)} for h, t in sorted(tally.items())]
