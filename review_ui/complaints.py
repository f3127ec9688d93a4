"""Public complaint pages: "this video shows me" (a likeness complaint, with a selfie), and the
complainant's own page, reached through the private link the complaint hands back once.

No login needed: someone without an account verifies their email with a one-time code
(app.mail). The forms still carry the session's CSRF token (anonymous visitors have a session
too). The matching and its consequences belong to the likeness domain, reached through
app.interfaces.LikenessComplaints."""

from __future__ import annotations

from flask import flash, g, get_flashed_messages, redirect, render_template, request, url_for

from app import cases, domains, mail, uploads
from app.errors import GreenlightError
from app.interfaces import LikenessComplaints
from app.models import StatementOfReasons
from review_ui import web

bp = web.page_blueprint("complaints", __name__)

# The page's own wording for the errors a complaint can meet (the service's message otherwise).
MESSAGES = {
    "generation_not_found": "We could not find a published video with that id. Check the link you followed.",
    "authentication_required": "Enter your email address and the code we sent to it (or log in first).",
    "email_not_verified": "There is no live code for this address: send yourself a new code.",
    "email_code_wrong": "The code is wrong. Check the email we sent and try again.",
    "invalid_email": "That is not an email address.",
    "not_an_image": "The photo could not be read: send a JPEG, PNG or WebP picture.",
    "no_face": "We could not find a face in your photo. Use a clear, well-lit photo of your face.",
    "multiple_faces": "Your photo shows more than one face. Use a photo of you alone.",
    "face_too_small": "Your face is too small in the photo. Use a closer photo.",
    "face_pose_extreme": "Your face is turned too far from the camera. Use a photo facing the camera.",
    "face_too_blurry": "Your photo is too blurry. Use a sharper photo.",
    "complaint_no_match": "Your face does not match any face in this video, so the video stays up. "
                          "If you think this is wrong, try a clearer photo of your face.",
    "empty_upload": "Choose a photo of your face to upload.",
    "payload_too_large": "The photo is too large.",
}
# What the complainant reads about a decided complaint.
DECISIONS = {
    "block": "Your complaint was upheld: the video is blocked.",
    "allow": "Your complaint was not upheld: a reviewer found the video does not show you, and it may be "
             "published again.",
}
NEW_CASE_FLASH = "new_complaint_link"


def _form(status: int = 200, *, error: GreenlightError | None = None, sent_to: str | None = None, **values):
    fields = {"generation_id": request.values.get("generation_id", ""), "email": request.values.get("email", ""),
              "statement": request.form.get("statement", "")} | values
    message = (MESSAGES.get(error.code, error.message) if error else None)
    return render_template("complaints/likeness.html", error=message, error_code=error.code if error else None,
                           sent_to=sent_to, **fields), status


@bp.get("/complaints/likeness")
def likeness_form():
    with web.transaction() as s:
        g.user = web.session_user(s)
        return _form()


@bp.post("/complaints/likeness/code")
def send_code():
    try:
        with web.transaction() as s:
            g.user = web.session_user(s)
            email = mail.normalise(request.form.get("email", ""))
            mail.start_verification(s, email)
    except GreenlightError as exc:
        return _form(exc.status, error=exc)
    return _form(sent_to=email, email=email)


@bp.post("/complaints/likeness")
def likeness_submit():
    selfie = request.files.get("selfie")
    image = selfie.read(uploads.max_image_bytes() + 1) if selfie else b""
    try:
        with web.transaction() as s:
            user = g.user = web.session_user(s)
            out = domains.service(LikenessComplaints).file(
                s, generation_id=request.form.get("generation_id", ""), image_bytes=image, user=user,
                email=None if user else request.form.get("email", ""),
                code=None if user else request.form.get("code", ""),
                statement=request.form.get("statement", "")[:5000])
    except GreenlightError as exc:
        with web.transaction() as s:
            g.user = web.session_user(s)
            return _form(exc.status, error=exc)
    # Redirect-after-POST to the private link; it is shown there once, prominently.
    flash(out["case_id"], NEW_CASE_FLASH)  # the id only: the key never sits in the session cookie
    return redirect(out["link"], 303)


@bp.get("/complaints/<case_id>")
def complaint(case_id: str):
    key = request.args.get("key", "")
    with web.transaction() as s:
        g.user = web.session_user(s)
        try:
            case = cases.by_key(s, case_id, key)
        except GreenlightError:
            return web.error_page(404, "Complaint not found",
                                  "No complaint matches this link. Check that you copied the whole private link.")
        statement = s.get(StatementOfReasons, case.statement_id) if case.statement_id else None
        outcome = s.get(StatementOfReasons, case.outcome_statement_id) if case.outcome_statement_id else None
        events = cases.thread(s, case, for_reviewer=False)
        just_filed = case.id in get_flashed_messages(category_filter=[NEW_CASE_FLASH])
        return render_template("complaints/case.html", case=case, statement=statement, outcome=outcome,
                               events=events, decision_text=DECISIONS.get(case.decision or ""),
                               open=case.state in cases.OPEN_STATES,
                               new_link=request.url if just_filed else None,
                               form_url=url_for("complaints.likeness_form"))
