"""Logging in and out of the pages (email + password); the API keeps its bearer tokens."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from app import accounts
from app.errors import ServiceBusy, TooManyRequests, Unauthenticated
from review_ui import web

bp = web.page_blueprint("auth", __name__)

HOME = "/me/generations"


@bp.get("/login")
def login():
    with web.transaction() as s:
        if web.session_user(s) is not None:
            return redirect(web.safe_next(request.args.get("next"), HOME))
    return render_template("auth/login.html", next=web.safe_next(request.args.get("next"), ""), error=None,
                           email="")


@bp.post("/login")
def login_submit():
    email = request.form.get("email", "")
    target = web.safe_next(request.form.get("next"), HOME)
    again = target if target != HOME else ""
    try:
        with web.transaction() as s:
            user = accounts.check_credentials(s, email, request.form.get("password", ""),
                                              address=request.remote_addr, via="web")
            web.log_in(user)
    except Unauthenticated:
        # One message for an unknown email and a wrong password: which accounts exist stays private.
        return render_template("auth/login.html", next=again, email=email,
                               error="The email or password is wrong."), 401
    except TooManyRequests as exc:
        if isinstance(exc, ServiceBusy):
            error = "Too many people are logging in right now. Please try again in a moment."
        else:
            error = (f"Too many failed attempts. For your account's safety, logging in is paused: "
                     f"try again in {_wait_words(exc.retry_after_s)}.")
        return render_template("auth/login.html", next=again, email=email, error=error), exc.status, exc.headers
    return redirect(target)


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@bp.post("/logout")
def logout():
    web.log_out()
    return redirect(url_for("auth.login"))
