"""Cases over HTTP: appeals, the reviewers' queues, one case with its thread, claim / release /
hand-off, decisions (one or in bulk), media through a reveal, the decision log and metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, send_file
from pydantic import BaseModel, Field, StringConstraints, model_validator

from app import appeals, case_decisions, case_metrics, case_quality, cases, exposure, mail, runtime
from app.api.generation_views import generation_out
from app.api.schemas import FREE_TEXT, Body, GenerationOut, Id, Query
from app.api.spec import current_user, endpoint, session
from app.db import as_utc
from app.errors import NotFound
from app.models import REVIEW_ROLES, Case, Role, StatementOfReasons, User

bp = Blueprint("cases", __name__)
REVIEWERS = {r.value for r in REVIEW_ROLES}
Note = Annotated[str, StringConstraints(max_length=5000), FREE_TEXT]


class AppealIn(Body):
    statement_id: Id | None = None
    generation_id: Id | None = None
    case_id: Id | None = Field(None, description="a case decision that issued no statement of reasons (an "
                                                   "enrolment refusal)")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=5000), FREE_TEXT]

    @model_validator(mode="after")
    def _one_subject(self):
        if sum(bool(x) for x in (self.statement_id, self.generation_id, self.case_id)) != 1:
            raise ValueError("give exactly one of statement_id, generation_id and case_id")
        return self


class EventOut(BaseModel):
    kind: str
    body: str
    actor: str | None = Field(description="the actor's handle; shown to reviewers only")
    data: dict[str, Any]
    created_at: datetime


class StatementOut(BaseModel):
    id: str
    origin: str
    category: str
    explanation: str
    decision_visibility: list[str]
    decision_facts: str
    supersedes: str | None
    redress: dict[str, Any]
    created_at: datetime


class CaseOut(BaseModel):
    id: str
    kind: str
    state: str
    queue: str | None = Field(description="reviewers only")
    priority: int
    subject_type: str
    subject_id: str
    generation_id: str | None
    summary: str
    reasons: list[dict[str, Any]] | None = Field(description="reviewers only")
    due_at: datetime
    overdue: bool
    assignee: str | None = Field(description="reviewers only")
    your_role: str = Field(description="reviewer, or your part in the case (creator, appellant, ...)")
    decision: str | None
    policy_code: str | None
    decided_at: datetime | None
    appeal_of: str | None
    statement: StatementOut | None = Field(description="the decision contested (appeals)")
    outcome_statement: StatementOut | None
    generation: GenerationOut | None = Field(description="reviewers only: prompt, every verdict, reasons, scores")
    subject: dict[str, Any] | None = Field(None, description="reviewers only: what the deciding domain shows "
                                                              "(the claim and work of a dispute, a complaint's match)")
    decisions: list[str] = Field(default_factory=list, description="reviewers only: the decisions this case takes")
    events: list[EventOut]
    created_at: datetime
    next_case_id: str | None = None


class CaseList(BaseModel):
    items: list[CaseOut]


class QueueCount(BaseModel):
    queue: str
    kind: str
    count: int
    oldest_due_at: datetime | None


class DashboardOut(BaseModel):
    queues: list[QueueCount]
    exposure: dict[str, Any]
    policy_codes: dict[str, str]


class CaseQuery(Query):
    kind: str | None = Field(None, max_length=24)
    state: Literal["open", "assigned", "escalated", "decided", "reopened"] | None = None
    queue: str | None = Field(None, max_length=48)
    assigned: Literal["me"] | None = None
    limit: int = Field(50, ge=1, le=200)


class DecisionIn(Body):
    decision: Literal["allow", "block", "uphold", "overturn", "escalate"]
    policy_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    note: Note = ""
    next: bool = Field(False, description="answer with the next case to work ('decide and next')")


class BulkDecisionIn(Body):
    case_ids: list[Id] = Field(min_length=1, max_length=100)
    decision: Literal["allow", "block", "uphold", "overturn"]
    policy_code: Annotated[str, StringConstraints(max_length=64)]
    note: Note = ""


class BulkOut(BaseModel):
    bulk_id: str
    results: dict[str, str]


class HandoffIn(Body):
    to: Annotated[str, StringConstraints(min_length=3, max_length=33)]
    note: Note = ""


class NoteIn(Body):
    body: Annotated[str, StringConstraints(min_length=1, max_length=5000), FREE_TEXT]
    internal: bool = True


class ExposureOut(BaseModel):
    revealed_today: int
    budget: int
    left_today: int
    break_until: datetime | None
    media_url: str | None = None


class LogQuery(Query):
    since: datetime | None = None
    until: datetime | None = None
    format: Literal["json", "csv"] = "json"


class KnownAnswerIn(Body):
    case_id: Id


def statement_out(s: StatementOfReasons | None) -> StatementOut | None:
    if s is None:
        return None
    return StatementOut(id=s.id, origin=s.origin, category=s.category, explanation=s.explanation,
                        decision_visibility=list(s.decision_visibility or []), decision_facts=s.decision_facts,
                        supersedes=s.supersedes_id, redress=dict(s.redress or {}), created_at=s.created_at)


def case_out(case: Case, viewer: User | None, *, your_role: str) -> CaseOut:
    s = session()
    reviewer = your_role == "reviewer"
    handles = {}
    events = cases.thread(s, case, for_reviewer=reviewer)
    if reviewer:
        ids = {e.actor_id for e in events if e.actor_id} | {case.assignee_id} - {None}
        handles = {u.id: u.handle for u in s.query(User).filter(User.id.in_(ids))} if ids else {}
    due = as_utc(case.due_at)
    return CaseOut(
        id=case.id, kind=case.kind, state=case.state, queue=case.queue if reviewer else None, priority=case.priority,
        subject_type=case.subject_type, subject_id=case.subject_id, generation_id=case.generation_id,
        summary=case.summary, reasons=list(case.reasons) if reviewer else None, due_at=due,
        overdue=case.state in cases.OPEN_STATES and due < as_utc(datetime.now(due.tzinfo)),
        assignee=handles.get(case.assignee_id) if reviewer else None, your_role=your_role,
        decision=case.decision, policy_code=case.policy_code, decided_at=case.decided_at,
        appeal_of=case.appeal_of_id if reviewer else None,
        statement=statement_out(s.get(StatementOfReasons, case.statement_id) if case.statement_id else None),
        outcome_statement=statement_out(s.get(StatementOfReasons, case.outcome_statement_id)
                                        if case.outcome_statement_id else None),
        generation=generation_out(case.generation) if reviewer and case.generation is not None else None,
        subject=cases.describe(s, case) if reviewer else None,
        decisions=sorted(cases.decisions_for(case.kind)) + ["escalate"] if reviewer else [],
        events=[EventOut(kind=e.kind, body=e.body, actor=handles.get(e.actor_id) if reviewer else None,
                         data=dict(e.data or {}) if reviewer else {}, created_at=e.created_at) for e in events],
        created_at=case.created_at)


def _read(case_id: str) -> CaseOut:
    user = current_user()
    case = cases.visible(session(), user, case_id)
    role = "reviewer" if cases.can_work(user, case) else cases.party_role(session(), user, case)
    return case_out(case, user, your_role=role)


@endpoint(bp, "/appeals", "POST", summary="Appeal a decision (free; decided by a human who did not take it)",
          tag="cases", body=AppealIn, response=CaseOut, status=201,
          errors=("statement_not_found", "already_appealed", "statement_superseded", "appeal_exhausted",
                  "not_appealable", "use_dispute", "generation_deleted", "case_not_found", "case_not_decided"))
def appeal(body: AppealIn):
    case = appeals.file(session(), current_user(), body.reason, statement_id=body.statement_id,
                        generation_id=body.generation_id, case_id=body.case_id)
    return case_out(case, current_user(), your_role="appellant")


@endpoint(bp, "/me/cases", "GET", summary="Cases I am a party to (appeals, disputes, held generations)",
          tag="cases", response=CaseList)
def my_cases():
    user = current_user()
    return CaseList(items=[case_out(c, user, your_role=cases.party_role(session(), user, c) or "party")
                           for c in cases.of_party(session(), user)])


@endpoint(bp, "/cases", "GET", summary="Cases in the queues I may work, the earliest deadline first",
          tag="cases", query=CaseQuery, response=CaseList, roles=REVIEWERS)
def list_cases(query: CaseQuery):
    rows = cases.listing(session(), current_user(), kind=query.kind, state=query.state, queue=query.queue,
                         assigned_to_me=query.assigned == "me", limit=query.limit)
    return CaseList(items=[case_out(c, current_user(), your_role="reviewer") for c in rows])


@endpoint(bp, "/cases/dashboard", "GET", summary="Queue counts, my exposure today and the policy codes",
          tag="cases", response=DashboardOut, roles=REVIEWERS)
def dashboard():
    state = exposure.exposure(session(), current_user())
    return DashboardOut(queues=[QueueCount(**q) for q in cases.queue_counts(session(), current_user())],
                        exposure={"revealed_today": state.revealed_today, "budget": state.budget,
                                  "left_today": state.left_today, "break_until": state.break_until},
                        policy_codes=cases.policy_codes())


@endpoint(bp, "/cases/<case_id>", "GET", summary="One case: subject, verdicts, reasons, scores, history",
          tag="cases", response=CaseOut, errors=("case_not_found",))
def get_case(case_id: str):
    return _read(case_id)


@endpoint(bp, "/cases/<case_id>/claim", "POST", summary="Take the case (no two reviewers hold one)",
          tag="cases", response=CaseOut, roles=REVIEWERS,
          errors=("case_not_found", "case_claimed", "case_decided", "queue_not_allowed", "senior_reviewer_required",
                  "same_decider"))
def claim(case_id: str):
    return case_out(cases.claim(session(), current_user(), case_id), current_user(), your_role="reviewer")


@endpoint(bp, "/cases/<case_id>/release", "POST", summary="Put the case back in its queue", tag="cases",
          response=CaseOut, roles=REVIEWERS, errors=("case_not_found", "case_claimed", "case_decided"))
def release(case_id: str):
    return case_out(cases.release(session(), current_user(), case_id), current_user(), your_role="reviewer")


@endpoint(bp, "/cases/<case_id>/handoff", "POST", summary="Hand the case to a named reviewer", tag="cases",
          body=HandoffIn, response=CaseOut, roles=REVIEWERS,
          errors=("case_not_found", "case_claimed", "reviewer_not_found", "same_decider"))
def handoff(case_id: str, body: HandoffIn):
    return case_out(cases.handoff(session(), current_user(), case_id, body.to, body.note), current_user(),
                    your_role="reviewer")


@endpoint(bp, "/cases/<case_id>/decision", "POST",
          summary="Decide (allow/block a held generation, uphold/overturn an appeal or dispute) or escalate",
          tag="cases", body=DecisionIn, response=CaseOut, roles=REVIEWERS,
          errors=("case_not_found", "case_claimed", "case_decided", "case_under_appeal", "decision_not_for_kind",
                  "policy_code_required", "unknown_policy_code", "senior_reviewer_required", "same_decider",
                  "generation_not_held", "case_escalated", "claim_not_disputed", "cameo_not_pending"))
def decide(case_id: str, body: DecisionIn):
    user = current_user()
    case = case_decisions.decide(runtime.current(), session(), user, case_id, body.decision, body.policy_code,
                                 body.note)
    out = case_out(case, user, your_role="reviewer")
    if body.next:
        following = cases.next_for(session(), user, queue=case.queue, after=case.id) or cases.next_for(
            session(), user, after=case.id)
        out.next_case_id = following.id if following else None
    return out


@endpoint(bp, "/cases/bulk", "POST", summary="Decide several cases alike; one log entry lists every outcome",
          tag="cases", body=BulkDecisionIn, response=BulkOut, roles=REVIEWERS)
def bulk(body: BulkDecisionIn):
    return BulkOut(**case_decisions.bulk_decide(runtime.current(), session(), current_user(), body.case_ids,
                                                body.decision, body.policy_code, body.note))


@endpoint(bp, "/cases/<case_id>/notes", "POST", summary="Add a note to the case's thread", tag="cases",
          body=NoteIn, response=CaseOut, status=201, errors=("case_not_found",))
def add_note(case_id: str, body: NoteIn):
    user = current_user()
    case = cases.visible(session(), user, case_id)
    reviewer = cases.can_work(user, case)
    cases.add_note(session(), user, case, body.body, internal=body.internal and reviewer)
    return case_out(case, user, your_role="reviewer" if reviewer else cases.party_role(session(), user, case))


@endpoint(bp, "/cases/<case_id>/reveal", "POST",
          summary="Reveal the held video (logged; counts against the daily exposure budget)", tag="cases",
          response=ExposureOut, roles=REVIEWERS,
          errors=("case_not_found", "media_not_found", "exposure_break", "exposure_budget_spent"))
def reveal(case_id: str):
    state = exposure.reveal(session(), current_user(), case_id)
    return ExposureOut(revealed_today=state.revealed_today, budget=state.budget, left_today=state.left_today,
                       break_until=state.break_until, media_url=f"/api/v1/cases/{case_id}/media")


@endpoint(bp, "/cases/<case_id>/media", "GET", summary="Stream the case's video after a reveal (each view audited)",
          tag="cases", roles=REVIEWERS, errors=("case_not_found", "media_not_found", "reveal_first"))
def media(case_id: str):
    case = exposure.media_for(session(), current_user(), case_id)
    path = runtime.current().storage.path(case.generation.media_key)
    if not path.is_file():
        raise NotFound("this case has no video", code="media_not_found")
    return send_file(path, mimetype="video/mp4", conditional=True, etag=case.generation.media_sha256 or True)


@endpoint(bp, "/cases/<case_id>/preview", "GET", summary="A blurred greyscale still of the case's video",
          tag="cases", roles=REVIEWERS, errors=("case_not_found", "media_not_found"))
def preview(case_id: str):
    case = cases.workable(session(), current_user(), case_id)
    if case.generation is None or not case.generation.media_key:
        raise NotFound("this case has no video", code="media_not_found")
    png = exposure.blurred_still(runtime.current().storage.path(case.generation.media_key))
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@endpoint(bp, "/cases/decisions", "GET", summary="The decision log (JSON or CSV)", tag="cases", query=LogQuery,
          roles=REVIEWERS)
def decision_log(query: LogQuery):
    rows = case_metrics.decision_log(session(), query.since, query.until)
    if query.format == "csv":
        return Response(case_metrics.decision_log_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=decisions.csv"})
    return {"items": rows}


@endpoint(bp, "/cases/metrics", "GET", summary="Queue depth and age over time, decisions per day, appeal "
          "overturn rate, reviewer agreement", tag="cases", roles=REVIEWERS)
def metrics():
    return case_metrics.metrics(session())


@endpoint(bp, "/cases/known-answers", "POST", summary="Mix a decided case back into the queues as a known-answer "
          "item (admin)", tag="cases", body=KnownAnswerIn, response=CaseOut, status=201,
          roles={Role.ADMIN.value, Role.SENIOR_REVIEWER.value}, errors=("case_not_found", "case_not_decided"))
def known_answer(body: KnownAnswerIn):
    case = case_quality.add_known_answer(session(), current_user(), body.case_id)
    return case_out(case, current_user(), your_role="reviewer")



class VerificationIn(Body):
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]


@endpoint(bp, "/email-verifications", "POST", summary="Send a one-time code to an address (to complain without "
          "an account)", tag="cases", body=VerificationIn, status=202, auth=False, errors=("invalid_email",))
def verify_email(body: VerificationIn):
    mail.start_verification(session(), body.email)
    return {"sent": True}


class KeyQuery(Query):
    key: str = Field(min_length=16, max_length=128, description="the key from the private link")


@endpoint(bp, "/complaints/<case_id>", "GET", summary="A complaint, read through its private link (no account)",
          tag="cases", query=KeyQuery, response=CaseOut, auth=False, errors=("case_not_found",))
def complaint(case_id: str, query: KeyQuery):
    return case_out(cases.by_key(session(), case_id, query.key), None, your_role="complainant")
