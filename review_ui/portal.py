"""The rightsholder portal: the signed-in user's organisation, its works and their policies,
reference images, claims on videos and their disputes, and its revenue statements.

Everything comes from the `RightsPortal` service (app/interfaces.py) that the copyright domain
registers, so this module never imports copyright: the service scopes every read and action to the
user's organisation and raises the same GreenlightErrors as the API. Each action runs in a savepoint,
so a refused one leaves nothing behind and the page shows the refusal as a message with its 4xx
status; another organisation's ids answer the 404 page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from flask import Response, flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from app import domains, uploads
from app.db import utcnow
from app.errors import GreenlightError, NotFound, ValidationFailed
from app.interfaces import RightsPortal
from app.models import Role
from review_ui import web

bp = web.page_blueprint("portal", __name__)

ROLES = frozenset({Role.RIGHTSHOLDER, Role.ADMIN})  # an admin reaches it only as a member of an organisation

# What the service accepts (copyright.models), in the words the page uses.
POLICY_KINDS = (("block", "Block"), ("allow", "Allow"), ("allow_with_attribution", "Allow with attribution"),
                ("allow_with_revenue_share", "Revenue share"))
RESTRICTIONS = (("no_sexual", "No sexual content"), ("no_violence", "No violence"),
                ("no_real_person_cameos", "No real-person cameos"), ("no_remix", "No remixes"))
CLAIM_ACTIONS = (("takedown", "Take down"), ("monetise", "Monetise"))
# Minor units per major unit where it is not 100 (ISO 4217 exponents).
CURRENCY_EXPONENT = {"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
                     "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
                     "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3}
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing and the other fields around the image


def _portal() -> RightsPortal:
    return domains.service(RightsPortal)


# -- presentation ---------------------------------------------------------------------------------------

@bp.app_template_filter("money")
def money(amount_minor: int, currency: str) -> str:
    """Minor units as money: (123456, "USD") -> "1,234.56 USD"."""
    exponent = CURRENCY_EXPONENT.get(currency, 2)
    return f"{amount_minor / 10 ** exponent:,.{exponent}f} {currency}"


@bp.app_template_filter("size")
def size(n: int | None) -> str:
    if n is None:
        return "unknown"
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    parsed = datetime.fromisoformat(moment)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@bp.app_template_filter("at")
def at(moment: str | datetime | None):
    """The service's ISO timestamps as web.when's <time> element."""
    return web.when(_parse(moment) if isinstance(moment, str) else moment)


def _with_deadlines(view: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    for claim in view["video_claims"]:
        case = claim["case"]
        if case and case["due_at"]:
            open_ = case["state"] not in ("decided", "closed")
            found = web.deadline(_parse(case["due_at"]), now)
            text, overdue = found["text"], found["overdue"]
            case["countdown"], case["overdue"] = (text, overdue) if open_ else (None, False)
    return view


def _overview_page(status: int = 200, error: str | None = None, form: dict[str, str] | None = None):
    s, user = web.db(), web.current_user()
    try:
        view = _with_deadlines(_portal().overview(s, user))
    except GreenlightError as exc:  # not_in_org: an admin or rightsholder no organisation holds
        if exc.code == "not_in_org" and user.role == Role.RIGHTSHOLDER:
            return render_template("portal/no_org.html"), 200  # a new rightsholder account: what to do next
        return web.error_page(exc.status if 400 <= exc.status < 500 else 403, "No organisation", exc.message)
    titles = {w["id"]: w["title"] for w in view["works"]}
    return render_template("portal/overview.html", view=view, titles=titles, error=error, form=form or {},
                           messages=get_flashed_messages(), policy_kinds=POLICY_KINDS, restrictions=RESTRICTIONS,
                           claim_actions=CLAIM_ACTIONS, max_image_bytes=uploads.max_image_bytes()), status


def _act(action: Callable[[], Any], done: str | Callable[[Any], str], anchor: str,
         form: dict[str, str] | None = None):
    """Run a service action in a savepoint: on success back to the portal (POST-redirect-GET) with
    `done` (or `done(result)`) as a message; a refusal re-renders the portal with the service's
    message and status."""
    s = web.db()
    try:
        with s.begin_nested():
            result = action()
    except NotFound as exc:
        return web.error_page(404, "Not found", exc.message)
    except GreenlightError as exc:
        return _overview_page(exc.status if 400 <= exc.status < 500 else 400, exc.message, form)
    flash(done(result) if callable(done) else done)
    return redirect(url_for("portal.overview") + anchor, code=303)


# -- pages ------------------------------------------------------------------------------------------------

@bp.get("/portal")
@web.login_required(roles=ROLES)
def overview():
    return _overview_page()


@bp.post("/portal/works/<work_id>/policy")
@web.login_required(roles=ROLES)
def set_policy(work_id: str):
    kind = request.form.get("kind", "")
    raw_share = request.form.get("share_percent", "").strip()
    restrictions = request.form.getlist("restrictions")

    def action():
        try:
            share = float(raw_share) if raw_share else None
            if share is not None and not math.isfinite(share):
                raise ValueError(raw_share)  # float() takes "nan" and "inf"; rounding them was a 500
        except ValueError:
            raise ValidationFailed("the revenue share is a percentage, such as 15 or 12.5") from None
        if kind == "allow_with_revenue_share" and share is None:
            raise ValidationFailed("a revenue share policy needs its percentage")
        return _portal().set_policy(web.db(), web.current_user(), work_id, kind, share, restrictions)

    return _act(action, lambda made: f"Policy version {made['version']} is now in force.", f"#work-{work_id}")


@bp.post("/portal/works/<work_id>/references")
@web.login_required(roles=ROLES)
def upload_reference(work_id: str):
    upload = request.files.get("image")
    data = upload.read(uploads.max_image_bytes() + 1) if upload else b""

    def action():
        if not data:
            raise ValidationFailed("choose a reference image (JPEG, PNG or WebP) to upload")
        _portal().upload_reference(web.db(), web.current_user(), work_id, data)

    return _act(action, "The reference image was added.", f"#work-{work_id}-references")


@bp.post("/portal/works/<work_id>/references/<image_id>/remove")
@web.login_required(roles=ROLES)
def remove_reference(work_id: str, image_id: str):
    return _act(lambda: _portal().remove_reference(web.db(), web.current_user(), work_id, image_id),
                "The reference image was removed.", f"#work-{work_id}-references")


@bp.post("/portal/claims")
@web.login_required(roles=ROLES)
def file_claim():
    form = {k: request.form.get(k, "").strip() for k in ("generation_id", "work_id", "action", "reason")}
    return _act(lambda: _portal().file_claim(web.db(), web.current_user(), form["generation_id"], form["work_id"],
                                             form["action"], form["reason"]),
                _claim_filed, "#video-claims", form)


def _claim_filed(claim: dict[str, Any]) -> str:
    if claim["status"] == "pending_review":
        return ("The claim was filed and waits for review: the video is not recorded as using this work, "
                "so nothing happens to it until a reviewer upholds the claim.")
    return "The claim was filed."


@bp.get("/portal/statements.csv")
@web.login_required(roles=ROLES)
def statements_csv():
    try:
        text = _portal().statement_csv(web.db(), web.current_user(), request.args.get("period") or None)
    except GreenlightError as exc:
        return web.error_page(exc.status if 400 <= exc.status < 500 else 400, "No statement", exc.message)
    name = f"statement-{request.args.get('period') or 'all'}.csv"
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- limits and refusals ------------------------------------------------------------------------------------

def _limit_upload():
    """An upload's body is capped near the image limit before anything reads it (the CSRF check
    parses the form first, so this runs ahead of it)."""
    if request.endpoint == "portal.upload_reference":
        request.max_content_length = uploads.max_image_bytes() + UPLOAD_OVERHEAD


bp.before_request_funcs.setdefault(None, []).insert(0, _limit_upload)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    return web.error_page(413, "The file is too large",
                          f"A reference image may be at most {size(uploads.max_image_bytes())}.")


@bp.errorhandler(GreenlightError)
def _refused(exc: GreenlightError):
    """A refusal no view caught: a page, never the API's JSON envelope or a 500."""
    status = exc.status if 400 <= exc.status < 500 else 400
    return web.error_page(status, "Not found" if status == 404 else "This could not be done", exc.message)
