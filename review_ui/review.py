"""The reviewers' pages: the dashboard (queues, exposure today, the case list, bulk decisions,
"start next case"), one case (what the gates found, the thread, claim / release / hand-off, notes,
the decision form with keyboard shortcuts, the held video behind a logged reveal), the metrics
charts and the decision log.

Every rule is the services' (app/cases.py, app/case_decisions.py, app/exposure.py,
app/case_metrics.py); a refusal they raise (GreenlightError) is shown on the page with its status,
never as a server error. Each action runs in a savepoint, so a refused one leaves nothing behind
while the page is re-rendered in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (Response, flash, get_flashed_messages, jsonify, redirect, render_template, request, send_file,
                   url_for)
from sqlalchemy import select

from app import case_decisions, case_metrics, cases, exposure, runtime
from app.db import utcnow
from app.errors import GreenlightError
from app.models import REVIEW_ROLES, Case, CaseEvent, CaseKind, CaseState, Role, StatementOfReasons, User
from review_ui import web

bp = web.page_blueprint("review", __name__)
ROLES = frozenset(r.value for r in REVIEW_ROLES)
SENIOR_ROLES = frozenset({Role.SENIOR_REVIEWER.value, Role.ADMIN.value})
DECISION_LABELS = {"allow": "Allow", "block": "Block", "uphold": "Uphold", "overturn": "Overturn",
                   "escalate": "Escalate"}
# One key per decision (static/js/review.js reads data-shortcut on each radio).
SHORTCUTS = {"allow": "a", "block": "b", "uphold": "u", "overturn": "o", "escalate": "e"}
BULK_DECISIONS = ("allow", "block", "uphold", "overturn")
STATES = tuple(s.value for s in CaseState)
KINDS = tuple(k.value for k in CaseKind)
LIST_LIMIT = 100
LOG_LIMIT = 500

# What a reviewer reads for each refusal; any other code shows the service's own message.
MESSAGES = {
    "case_claimed": "Another reviewer holds this case.",
    "case_decided": "This case is already decided.",
    "case_under_appeal": "This case's decision is under appeal.",
    "case_escalated": "This case is already with the senior reviewers.",
    "same_decider": "Whoever took the first decision may not decide its appeal: another reviewer must.",
    "policy_code_required": "Choose the policy the decision rests on.",
    "unknown_policy_code": "That policy code is not one of ours.",
    "decision_not_for_kind": "That decision does not apply to this kind of case.",
    "senior_reviewer_required": "An escalated case waits for a senior reviewer.",
    "queue_not_allowed": "Your role may not work this queue.",
    "reviewer_not_found": "No reviewer with that handle may work this case.",
    "generation_not_held": "The generation is no longer held.",
    "exposure_break": "Take a break before revealing another video.",
    "exposure_budget_spent": "Today's budget of revealed videos is spent.",
    "reveal_first": "Reveal the video first.",
    "media_not_found": "This case has no video.",
    "case_not_found": "There is no such case, or it is not one you may work.",
}


def message_for(exc: GreenlightError) -> str:
    text = MESSAGES.get(exc.code, exc.message[:1].upper() + exc.message[1:])
    until = (exc.details or {}).get("until")
    if exc.code == "exposure_break" and until:
        text += f" You may reveal again at {datetime.fromisoformat(until).strftime('%H:%M UTC')}."
    return text


# -- helpers -------------------------------------------------------------------------------------------

def _handles(s, ids) -> dict[str, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(s.execute(select(User.id, User.handle).where(User.id.in_(ids))).all())


def _attempt(fn, *args, **kwargs):
    """Run one service call in a savepoint: (result, None), or (None, the refusal) with nothing written."""
    s = web.db()
    try:
        with s.begin_nested():
            return fn(*args, **kwargs), None
    except GreenlightError as exc:
        return None, exc


def _refused(exc: GreenlightError, case_id: str | None = None, **form):
    """The case page again with the refusal (or an error page when the case is gone)."""
    if case_id is not None and exc.code not in ("case_not_found",):
        try:
            return _case_page(case_id, error=message_for(exc), status=exc.status, form=form)
        except GreenlightError:
            pass
    return web.error_page(exc.status, "This could not be done", message_for(exc))


def _open_next(s, user: User, queue: str | None = None, after: str | None = None):
    """Claim the most urgent case this reviewer may take and go to it (or back to the dashboard)."""
    for _ in range(3):  # another reviewer may claim the same one first: take the one after it
        following = None
        if queue:
            following = cases.next_for(s, user, queue=queue, after=after)
        following = following or cases.next_for(s, user, after=after)
        if following is None:
            flash("No case is waiting for you now.", "info")
            return redirect(url_for("review.dashboard"), 303)
        _, exc = _attempt(cases.claim, s, user, following.id)
        if exc is None:
            return redirect(url_for("review.case_page", case_id=following.id), 303)
        after = following.id
    return redirect(url_for("review.dashboard"), 303)


def _flashes() -> list[tuple[str, str]]:
    return get_flashed_messages(with_categories=True)


# -- the dashboard ----------------------------------------------------------------------------------------

def _filters() -> dict[str, Any]:
    args = request.args
    return {"queue": (args.get("queue") or "").strip()[:48] or None,
            "kind": args.get("kind") if args.get("kind") in KINDS else None,
            "state": args.get("state") if args.get("state") in STATES else None,
            "mine": args.get("assigned") == "me"}


def _dashboard(status: int = 200, *, bulk: dict[str, Any] | None = None, error: str | None = None,
               bulk_form: dict[str, Any] | None = None):
    s, user = web.db(), web.current_user()
    filters = _filters()
    rows = cases.listing(s, user, kind=filters["kind"], state=filters["state"], queue=filters["queue"],
                         assigned_to_me=filters["mine"], limit=LIST_LIMIT)
    counts = cases.queue_counts(s, user)
    handles = _handles(s, [c.assignee_id for c in rows])
    bulk_rows = []
    if bulk:
        by_id = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_(list(bulk["results"]))))}
        bulk_rows = [{"case": by_id.get(cid), "id": cid, "result": result}
                     for cid, result in bulk["results"].items()]
    queues = sorted({c["queue"] for c in counts} | ({filters["queue"]} if filters["queue"] else set()))
    return render_template(
        "review/dashboard.html", rows=rows, counts=counts, handles=handles, filters=filters, queues=queues,
        kinds=KINDS, states=STATES, exposure=exposure.exposure(s, user), policy_codes=cases.policy_codes(),
        bulk_decisions=BULK_DECISIONS, labels=DECISION_LABELS, bulk=bulk, bulk_rows=bulk_rows, error=error,
        bulk_form=bulk_form or {}, flashes=_flashes(), now=utcnow()), status


@bp.get("/review")
@web.login_required(roles=ROLES)
def dashboard():
    return _dashboard()


@bp.get("/review/queues")
@web.login_required(roles=ROLES)
def queue_counts():
    """The dashboard's queue counts alone, for htmx to swap in (a partial update, no full reload)."""
    return render_template("review/_queues.html", counts=cases.queue_counts(web.db(), web.current_user()))


@bp.post("/review/next")
@web.login_required(roles=ROLES)
def start_next():
    return _open_next(web.db(), web.current_user(), queue=(request.form.get("queue") or None))


@bp.post("/review/bulk")
@web.login_required(roles=ROLES)
def bulk():
    s, user = web.db(), web.current_user()
    ids = [i for i in request.form.getlist("case_ids") if i][:100]
    decision, policy = request.form.get("decision", ""), request.form.get("policy_code") or None
    note = request.form.get("note", "")[:5000]
    form = {"decision": decision, "policy_code": policy, "note": note}
    if not ids:
        return _dashboard(422, error="Select at least one case for the bulk decision.", bulk_form=form)
    if decision not in BULK_DECISIONS:
        return _dashboard(422, error="Choose the decision to take on the selected cases.", bulk_form=form)
    if not policy:
        return _dashboard(422, error=MESSAGES["policy_code_required"], bulk_form=form)
    result = case_decisions.bulk_decide(runtime.current(), s, user, ids, decision, policy, note)
    return _dashboard(bulk=result)


# -- one case ------------------------------------------------------------------------------------------

def _case_page(case_id: str, *, error: str | None = None, status: int = 200, form: dict[str, Any] | None = None):
    s, user = web.db(), web.current_user()
    case = cases.visible(s, user, case_id)
    if not cases.can_work(user, case):  # a reviewer who is also a party to it reads it on their own pages
        raise cases.CaseNotFound("case not found")
    events = cases.thread(s, case, for_reviewer=True)
    handles = _handles(s, [e.actor_id for e in events] + [case.assignee_id, case.decided_by_id]
                       + [(e.data or {}).get("to") for e in events])
    gen = case.generation
    contested = s.get(StatementOfReasons, case.statement_id) if case.statement_id else None
    outcome = s.get(StatementOfReasons, case.outcome_statement_id) if case.outcome_statement_id else None
    open_ = case.state in cases.OPEN_STATES
    decisions = [d for d in ("allow", "block", "uphold", "overturn") if d in cases.decisions_for(case.kind)]
    if open_ and case.state != CaseState.ESCALATED:
        decisions.append("escalate")
    revealed = False
    if gen is not None and gen.media_key:
        # The same test exposure.media_for applies: a reveal by this reviewer within the hour.
        revealed = s.scalar(select(CaseEvent.id).where(
            CaseEvent.case_id == case.id, CaseEvent.actor_id == user.id, CaseEvent.kind == exposure.REVEALED,
            CaseEvent.created_at >= utcnow() - exposure.REVEAL_VALID).limit(1)) is not None
    return render_template(
        "review/case.html", case=case, gen=gen, events=events, handles=handles, contested=contested,
        outcome=outcome, subject=cases.describe(s, case), decisions=decisions, labels=DECISION_LABELS,
        shortcuts=SHORTCUTS, policy_codes=cases.policy_codes(), open_=open_, held_by_me=case.assignee_id == user.id,
        held_by_other=case.assignee_id not in (None, user.id), revealed=revealed,
        has_media=bool(gen is not None and gen.media_key), exposure=exposure.exposure(s, user),
        error=error, form=form or {}, flashes=_flashes(), senior=user.role in SENIOR_ROLES), status


@bp.get("/review/cases/<case_id>")
@web.login_required(roles=ROLES)
def case_page(case_id: str):
    try:
        return _case_page(case_id)
    except GreenlightError as exc:
        return web.error_page(exc.status, "This case cannot be shown", message_for(exc))


@bp.post("/review/cases/<case_id>/claim")
@web.login_required(roles=ROLES)
def claim(case_id: str):
    _, exc = _attempt(cases.claim, web.db(), web.current_user(), case_id)
    if exc:
        return _refused(exc, case_id)
    flash("You hold this case now.", "ok")
    return redirect(url_for("review.case_page", case_id=case_id), 303)


@bp.post("/review/cases/<case_id>/release")
@web.login_required(roles=ROLES)
def release(case_id: str):
    _, exc = _attempt(cases.release, web.db(), web.current_user(), case_id)
    if exc:
        return _refused(exc, case_id)
    flash("The case is back in its queue.", "ok")
    return redirect(url_for("review.case_page", case_id=case_id), 303)


@bp.post("/review/cases/<case_id>/handoff")
@web.login_required(roles=ROLES)
def handoff(case_id: str):
    to, note = request.form.get("to", "").strip()[:33], request.form.get("handoff_note", "")[:5000]
    if not to:
        return _refused(GreenlightError("name the reviewer", code="reviewer_not_found", status=422), case_id)
    _, exc = _attempt(cases.handoff, web.db(), web.current_user(), case_id, to, note)
    if exc:
        return _refused(exc, case_id)
    flash(f"The case is handed to @{to.lstrip('@').lower()}.", "ok")
    return redirect(url_for("review.case_page", case_id=case_id), 303)


@bp.post("/review/cases/<case_id>/notes")
@web.login_required(roles=ROLES)
def add_note(case_id: str):
    s, user = web.db(), web.current_user()
    body = request.form.get("body", "").strip()[:5000]
    if not body:
        return _refused(GreenlightError("the note is empty", code="empty_note", status=422), case_id)

    def note():
        case = cases.workable(s, user, case_id)
        return cases.add_note(s, user, case, body, internal=request.form.get("visible") != "1")
    _, exc = _attempt(note)
    if exc:
        return _refused(exc, case_id)
    flash("Note added.", "ok")
    return redirect(url_for("review.case_page", case_id=case_id) + "#thread", 303)


@bp.post("/review/cases/<case_id>/decision")
@web.login_required(roles=ROLES)
def decide(case_id: str):
    s, user = web.db(), web.current_user()
    decision = request.form.get("decision", "")
    policy = request.form.get("policy_code") or None
    note = request.form.get("note", "")[:5000]
    go_next = request.form.get("next") == "1"
    form = {"decision": decision, "policy_code": policy, "note": note}
    if decision not in DECISION_LABELS:
        return _refused(GreenlightError("choose a decision", code="decision_required", status=422), case_id, **form)
    case, exc = _attempt(case_decisions.decide, runtime.current(), s, user, case_id, decision, policy, note)
    if exc:
        return _refused(exc, case_id, **form)
    if decision == cases.ESCALATE:
        flash("The case went to the senior reviewers.", "ok")
    else:
        flash(f"Decided: {DECISION_LABELS[decision]} ({policy}).", "ok")
    if go_next:
        return _open_next(s, user, queue=case.queue, after=case.id)
    if not cases.can_work(user, case):  # escalated past this reviewer's rank
        return redirect(url_for("review.dashboard"), 303)
    return redirect(url_for("review.case_page", case_id=case_id), 303)


# -- the held video ----------------------------------------------------------------------------------------

def _media_path(case: Case):
    path = runtime.current().storage.path(case.generation.media_key)
    if not path.is_file():
        raise GreenlightError("this case has no video", code="media_not_found", status=404)
    return path


@bp.get("/review/cases/<case_id>/preview.png")
@web.login_required(roles=ROLES)
def preview(case_id: str):
    try:
        case = cases.workable(web.db(), web.current_user(), case_id)
        if case.generation is None or not case.generation.media_key:
            raise GreenlightError("this case has no video", code="media_not_found", status=404)
        png = exposure.blurred_still(_media_path(case))
    except GreenlightError as exc:
        return web.error_page(exc.status, "No preview", message_for(exc))
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@bp.post("/review/cases/<case_id>/reveal")
@web.login_required(roles=ROLES)
def reveal(case_id: str):
    state, exc = _attempt(exposure.reveal, web.db(), web.current_user(), case_id)
    if exc:
        return _refused(exc, case_id)
    flash(f"Video revealed: {state.revealed_today} of {state.budget} today.", "ok")
    return redirect(url_for("review.case_page", case_id=case_id) + "#video", 303)


@bp.get("/review/cases/<case_id>/media")
@web.login_required(roles=ROLES)
def media(case_id: str):
    try:
        case = exposure.media_for(web.db(), web.current_user(), case_id)
        path = _media_path(case)
    except GreenlightError as exc:
        return web.error_page(exc.status, "The video cannot be shown", message_for(exc))
    response = send_file(path, mimetype="video/mp4", conditional=True, etag=case.generation.media_sha256 or True)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- metrics and the decision log ----------------------------------------------------------------------------

@bp.get("/review/metrics")
@web.login_required(roles=ROLES)
def metrics_page():
    s, user = web.db(), web.current_user()
    data = case_metrics.metrics(s)
    reveals, handles = [], {}
    senior = user.role in SENIOR_ROLES
    if senior:
        now = utcnow()
        reveals = exposure.reveal_log(s, now.replace(hour=0, minute=0, second=0, microsecond=0))
        handles = _handles(s, [e.actor_id for e in reveals])
    return render_template("review/metrics.html", m=data, senior=senior, reveals=reveals, handles=handles)


@bp.get("/review/metrics.json")
@web.login_required(roles=ROLES)
def metrics_json():
    return jsonify(case_metrics.metrics(web.db()))


@bp.get("/review/log")
@web.login_required(roles=ROLES)
def log_page():
    rows = case_metrics.decision_log(web.db(), limit=LOG_LIMIT)
    return render_template("review/log.html", rows=rows, limit=LOG_LIMIT, labels=DECISION_LABELS)


@bp.get("/review/log.csv")
@web.login_required(roles=ROLES)
def log_csv():
    rows = case_metrics.decision_log(web.db())
    stamp = utcnow().strftime("%Y%m%d")
    return Response(case_metrics.decision_log_csv(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=decisions-{stamp}.csv",
                             "Cache-Control": "private, no-store"})
