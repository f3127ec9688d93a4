"""The parties' side of cases: appealing a statement of reasons (EU DSA Art. 20), following any case
one is a party to (an appeal, a held generation, a dispute, a complaint), adding information to it,
and reading its outcome.

The rules (who may appeal what, once, before whom) are app.appeals' and app.cases'; these pages show
their answers in words. A party reads what the API's `case_out(..., your_role=<party>)` shows: never
the queue, the reasons' internals or who reviewed. A case or statement that is not the user's is a
404 page, as a missing one is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import redirect, render_template, request, url_for

from app import appeals, cases, statements
from app.config import setting
from app.errors import GreenlightError, NotFound
from app.models import Case, CaseKind, CaseState, Generation, StatementOfReasons, User
from review_ui import web

bp = web.page_blueprint("appeals", __name__)

# Wording for a party: what each state, kind and decision means to them.
STATE_WORDS = {CaseState.OPEN: "Open", CaseState.ASSIGNED: "Being reviewed",
               CaseState.ESCALATED: "With a senior reviewer", CaseState.DECIDED: "Decided",
               CaseState.REOPENED: "Decision under appeal"}
KIND_WORDS = {CaseKind.APPEAL: "Appeal", CaseKind.REVIEW: "Held for review",
              CaseKind.DISPUTE: "Copyright dispute", CaseKind.LIKENESS_COMPLAINT: "Likeness complaint",
              CaseKind.ENROLMENT: "Cameo enrolment", CaseKind.CLAIM_REVIEW: "Copyright claim review"}
DECISION_WORDS = {"overturn": "Overturned", "uphold": "Upheld", "allow": "Allowed", "block": "Blocked"}
ROLE_WORDS = {"appellant": "You appealed", "creator": "Your video", "co_owner": "Co-owner",
              "rightsholder": "Rightsholder", "complainant": "You complained",
              "enrollee": "Your cameo"}

# What each refusal of app.appeals.file means, said to the person filing. `form`: the form stays
# usable (the words need fixing); otherwise the decision itself cannot be appealed (now).
APPEAL_ERRORS: dict[str, tuple[str, bool]] = {
    "appeal_reason_missing": ("Say why the decision is wrong: the reviewer reads your words.", True),
    "appeal_reason_too_long": (f"Your reason is too long: at most {appeals.MAX_REASON} characters.", True),
    "already_appealed": ("This decision is already under appeal; a decision is appealed once.", False),
    "appeal_exhausted": ("This decision was taken on appeal, so internal appeal is exhausted. You may still "
                         "refer it to a certified out-of-court dispute settlement body, or go to court.", False),
    "statement_superseded": ("A later decision replaced this one; appeal the later decision instead.", False),
    "not_appealable": ("This decision lifted a restriction: there is nothing to appeal.", False),
    "case_not_decided": ("This case has no decision yet: there is nothing to appeal.", False),
    "use_dispute": ("This decision follows a rightsholder's claim: contest it by disputing the claim.", False),
    "generation_deleted": ("The video was deleted, so nothing can be restored.", False),
}


# -- wording helpers (templates) ------------------------------------------------------------------------

def countdown(case: Case, now: datetime | None = None) -> str:
    """web.deadline's words for an undecided case ('due in 2 d 23 h', 'overdue by 5 min'); '' once decided."""
    if case.state not in {s.value for s in cases.OPEN_STATES}:
        return ""
    return web.deadline(case.due_at, now)["text"]


def sla_words(kind: str) -> str:
    seconds = int(setting("GL_CASE_SLA").get(kind, 86400))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} seconds"


def statement_appeal(statement: StatementOfReasons) -> dict[str, Any]:
    """What /me/generations shows beside one statement: its appeal, the decision that replaced it,
    the one it replaced, and whether it may be appealed now."""
    s, user = web.db(), web.current_user()
    newer = statements.superseded_by(s, statement.id)
    case = appeals.appeal_of_statement(s, statement.id)
    restricts = statements.restricts(statement)
    internal = bool((statement.redress or {}).get("internal_complaint"))
    origin_case = s.get(Case, statement.case_id) if statement.case_id else None
    if origin_case is not None and (user is None or cases.party_role(s, user, origin_case) is None):
        origin_case = None
    return {"appeal": case, "superseded_by": newer, "supersedes_id": statement.supersedes_id,
            "appealable": restricts and newer is None and internal and case is None,
            "final": restricts and newer is None and not internal, "lifts": not restricts,
            "origin_case": origin_case}


@bp.app_context_processor
def _context() -> dict[str, Any]:
    return {"statement_appeal": statement_appeal, "case_state_words": _state_words,
            "case_kind_words": _kind_words, "decision_words": _decision_words, "countdown": countdown}


def _state_words(state: str) -> str:
    return STATE_WORDS.get(state, web.label(state))


def _kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, web.label(kind))


def _decision_words(decision: str | None) -> str:
    return DECISION_WORDS.get(decision or "", web.label(decision or ""))


# -- filing an appeal ---------------------------------------------------------------------------------------

def _own_statement(statement_id: str | None) -> StatementOfReasons | None:
    statement = web.db().get(StatementOfReasons, statement_id) if statement_id else None
    if statement is None or statement.user_id != web.current_user().id:
        return None
    return statement


def _not_found(what: str = "decision"):
    return web.error_page(404, f"No such {what}",
                          f"There is no {what} of yours at this address. Check the link you followed.")


def _form(statement: StatementOfReasons, *, reason: str = "", error: str | None = None,
          usable: bool = True, case_id: str | None = None, newer_id: str | None = None, status: int = 200):
    gen = web.db().get(Generation, statement.generation_id)
    return render_template("appeals/new.html", statement=statement, generation=gen, reason=reason, error=error,
                           usable=usable, existing_case_id=case_id, newer_id=newer_id,
                           sla=sla_words(CaseKind.APPEAL), max_reason=appeals.MAX_REASON), status


def _error_page(statement: StatementOfReasons, exc: GreenlightError, reason: str = ""):
    message, usable = APPEAL_ERRORS.get(exc.code, (exc.message, False))
    return _form(statement, reason=reason, error=message, usable=usable,
                 case_id=(exc.details or {}).get("case_id"), newer_id=(exc.details or {}).get("superseded_by"),
                 status=exc.status if 400 <= exc.status < 500 else 409)


@bp.get("/appeals/new")
@web.login_required()
def new():
    statement = _own_statement(request.args.get("statement_id"))
    if statement is None:
        return _not_found()
    # What the page can tell before anyone types: the same facts /me/generations shows. Filing
    # (app.appeals.file) has the last word on POST.
    info = statement_appeal(statement)
    code = ("already_appealed" if info["appeal"] is not None else
            "statement_superseded" if info["superseded_by"] is not None else
            "not_appealable" if info["lifts"] else "appeal_exhausted" if info["final"] else None)
    if code:
        return _form(statement, error=APPEAL_ERRORS[code][0], usable=False, status=409,
                     case_id=info["appeal"].id if info["appeal"] is not None else None,
                     newer_id=info["superseded_by"].id if info["superseded_by"] is not None else None)
    return _form(statement)


@bp.post("/appeals")
@web.login_required()
def submit():
    s = web.db()
    statement = _own_statement(request.form.get("statement_id"))
    if statement is None:
        return _not_found()
    reason = request.form.get("reason", "")
    try:
        with s.begin_nested():  # a refusal leaves nothing behind in the request's transaction
            case = appeals.file(s, web.current_user(), reason, statement_id=statement.id)
    except NotFound:
        return _not_found()
    except GreenlightError as exc:
        return _error_page(statement, exc, reason)
    return redirect(url_for("appeals.case", case_id=case.id), code=303)


# -- one case, as its parties see it -----------------------------------------------------------------------

def _party_case(case_id: str) -> tuple[Case | None, str | None]:
    s, user = web.db(), web.current_user()
    try:
        case = cases.visible(s, user, case_id)
    except cases.CaseNotFound:
        return None, None
    role = cases.party_role(s, user, case)
    # Reviewers work cases under /review; this page is the parties' view.
    return (case, role) if role else (None, None)


def _actor_words(event, user: User, party_roles: dict[str, str]) -> str:
    if event.actor_id is None:
        return "Greenlight"
    if event.actor_id == user.id:
        return "You"
    if event.actor_id in party_roles:
        return web.label(party_roles[event.actor_id])
    return "A Greenlight reviewer"  # never who


@bp.get("/cases/<case_id>")
@bp.get("/appeals/<case_id>")  # registered first (decorators apply bottom-up): url_for builds this one
@web.login_required()
def case(case_id: str):
    return _render_case(case_id)


def _render_case(case_id: str, *, note: str = "", note_error: str | None = None, status: int = 200):
    s, user = web.db(), web.current_user()
    found, role = _party_case(case_id)
    if found is None:
        return _not_found("case")
    party_roles = cases.parties(s, found)
    thread = [{"event": e, "who": _actor_words(e, user, party_roles)}
              for e in cases.thread(s, found, for_reviewer=False)]
    contested = s.get(StatementOfReasons, found.statement_id) if found.statement_id else None
    outcome = s.get(StatementOfReasons, found.outcome_statement_id) if found.outcome_statement_id else None
    gen = found.generation
    return render_template(
        "appeals/case.html", case=found, role=role, role_words=ROLE_WORDS.get(role, web.label(role)),
        thread=thread, contested=contested, outcome=outcome,
        generation=gen if gen is not None and gen.owner_id == user.id else None,
        policy_title=cases.policy_codes().get(found.policy_code or "", ""),
        open=found.state in {st.value for st in cases.OPEN_STATES}, note=note, note_error=note_error,
        max_note=appeals.MAX_REASON), status


@bp.post("/cases/<case_id>/notes")
@bp.post("/appeals/<case_id>/notes")
@web.login_required()
def add_note(case_id: str):
    s, user = web.db(), web.current_user()
    found, _ = _party_case(case_id)
    if found is None:
        return _not_found("case")
    body = (request.form.get("body") or "").strip()
    if not body:
        return _render_case(case_id, note_error="Write the information you want to add.", status=422)
    if len(body) > appeals.MAX_REASON:
        return _render_case(case_id, note=body, status=422,
                            note_error=f"At most {appeals.MAX_REASON} characters.")
    cases.add_note(s, user, found, body, internal=False)  # a party's note: everyone on the case reads it
    return redirect(url_for("appeals.case", case_id=found.id) + "#thread", code=303)


# -- every case I am a party to ---------------------------------------------------------------------------

@bp.get("/me/cases")
@web.login_required()
def my_cases():
    s, user = web.db(), web.current_user()
    rows = []
    for c in cases.of_party(s, user):
        gen = c.generation
        rows.append({"case": c, "role": cases.party_role(s, user, c),
                     "prompt": gen.prompt if gen is not None and gen.owner_id == user.id else None})
    return render_template("appeals/my_cases.html", rows=rows, role_words=ROLE_WORDS)

