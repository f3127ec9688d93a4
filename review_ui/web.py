"""What every page group shares: the login session, role checks, CSRF, one database transaction
per request, security headers, and the shell blueprint that carries the templates and static files.

A page group is one module with its own blueprint made by `page_blueprint`, so each group gets the
same CSRF check and headers without registering anything app-wide, and groups never edit each
other's files. The JSON API keeps its bearer tokens (app/api/spec.py); pages use a signed session
cookie instead, which is why they need CSRF protection and the API does not.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound as HttpNotFound
from werkzeug.exceptions import MethodNotAllowed

from app import inputs, runtime
from app.config import setting
from app.db import as_utc, utcnow
from app.models import REVIEW_ROLES, Role, User

SESSION_USER = "uid"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Self only: no inline script or style, so an injected <script> or on* attribute cannot run.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "media-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

# The shell: templates (base.html and every group's), static files, and the app-wide cookie settings.
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/ui/static")


@bp.record_once
def _configure_session_cookie(state) -> None:
    """Configured where the pages are registered, so an app without pages keeps Flask's defaults.
    Read when the app is built: a changed setting takes effect at the next start."""
    state.app.config.update(
        SESSION_COOKIE_HTTPONLY=True,  # page scripts never need it; stolen by XSS it would be a login
        SESSION_COOKIE_SAMESITE="Lax",  # not sent on cross-site POSTs: a second line behind CSRF tokens
        SESSION_COOKIE_SECURE=setting("GL_SESSION_COOKIE_SECURE"),
        SESSION_COOKIE_NAME="gl_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=setting("GL_SESSION_LIFETIME_H")),
    )


def page_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A page group's blueprint: form text checked (app/inputs.py) and CSRF-checked on every unsafe
    method, security headers on every answer. A group that caps its uploads inserts that hook first."""
    group = Blueprint(name, import_name, **kwargs)
    group.before_request(inputs.check_form)
    group.before_request(check_csrf)
    group.after_request(add_security_headers)
    group.register_error_handler(inputs.InvalidCharacters, refuse_characters)
    return group


def refuse_characters(exc: inputs.InvalidCharacters):
    """Control characters in a path, query or form field: a page saying so, never the API's JSON or a 500."""
    return error_page(422, "This could not be accepted", exc.message + ". Remove it and try again.")


def add_security_headers(response):
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    return response


bp.after_request(add_security_headers)


# -- CSRF ---------------------------------------------------------------------------------------------

def csrf_token() -> str:
    """The session's token, made on first use; every form carries it in a hidden `csrf_token` input,
    htmx requests in the X-CSRF-Token header (static/js/csrf.js reads it from a <meta> tag)."""
    token = session.get(SESSION_CSRF)
    if not token:
        token = session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return token


def check_csrf():
    if request.method not in _UNSAFE_METHODS:
        return None
    expected = session.get(SESSION_CSRF)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, which was a 500).
    if not expected or not hmac.compare_digest(str(expected).encode(), str(sent).encode()):
        return error_page(403, "This form could not be accepted",
                          "The request carried no valid security (CSRF) token: the page may have expired, "
                          "or the form was sent from another site. Reload the page and try again.")
    return None


# -- the login session ----------------------------------------------------------------------------------

def log_in(user: User) -> None:
    """A fresh session for `user`: whatever the anonymous session held (a token an attacker planted
    before login included) is dropped, so a session cannot be fixed in advance."""
    session.clear()
    session.permanent = True
    session[SESSION_USER] = user.id
    session[SESSION_CSRF] = secrets.token_urlsafe(32)


def log_out() -> None:
    session.clear()


def current_user() -> User | None:
    return g.get("user")


def db() -> Session:
    """The request's database session (opened by `transaction` or `login_required`)."""
    return g.db_session


@contextmanager
def transaction() -> Iterator[Session]:
    """One transaction per request, committed when the view returns, rolled back if it raises."""
    with runtime.current().db.transaction() as s:
        g.db_session = s
        try:
            yield s
        finally:
            g.pop("db_session", None)


def session_user(s: Session) -> User | None:
    user_id = session.get(SESSION_USER)
    user = s.get(User, user_id) if user_id else None
    if user_id and user is None:
        session.clear()  # the account is gone: its cookie is worth nothing
    return user


def login_required(roles: Iterable[str] | None = None) -> Callable:
    """Run the view in a transaction with `g.user` set. Before login: a redirect to /login that
    comes back here. With `roles`: a 403 page for any other role. Service (machine) accounts have
    no pages, as they reach only the API endpoints made for them."""
    allowed = frozenset(roles) if roles else None

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs):
            with transaction() as s:
                user = session_user(s)
                if user is None:
                    login = url_for("auth.login", next=request.full_path.rstrip("?"))
                    if request.headers.get("HX-Request"):
                        # htmx would swap the login page into a fragment: have it load the page instead.
                        return "", 401, {"HX-Redirect": login}
                    return redirect(login)
                g.user = user  # also for the 403 page, whose navigation and log-out button need it
                if (allowed and user.role not in allowed) or (not allowed and user.role == Role.SERVICE):
                    return error_page(403, "Not for your role",
                                      "Your account's role does not give access to this page.")
                return view(**kwargs)
        return wrapper
    return decorator


def safe_next(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`: a login link must not send the user
    to another site (an open redirect), including via `//host`, `/\\host` or a scheme."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\t"):
        return default
    return target


# -- rendering ------------------------------------------------------------------------------------------

def error_page(status: int, title: str, message: str):
    return render_template("error.html", title=title, message=message, status=status), status


# Navigation: (label, path, roles or None for everyone). Shown only once some group serves the path,
# so the shell never links to a page that does not exist yet.
NAV = (
    ("My generations", "/me/generations", None),
    ("My cameo", "/me/cameo", None),
    ("My cases", "/me/cases", None),
    ("Review", "/review", REVIEW_ROLES),
    ("Portal", "/portal", frozenset({Role.RIGHTSHOLDER})),
)


def _served(app: Flask, path: str) -> bool:
    try:
        app.url_map.bind("localhost").match(path, method="GET")
    except (HttpNotFound, MethodNotAllowed):
        return False
    except Exception:  # a redirect (trailing slash) still means the page exists
        return True
    return True


def nav_items(user: User | None) -> list[dict[str, object]]:
    if user is None:
        return []
    return [{"label": label, "path": path, "current": request.path == path}
            for label, path, roles in NAV
            if (roles is None or user.role in roles) and _served(current_app, path)]


@bp.app_context_processor
def _page_context() -> dict[str, object]:
    return {"csrf_token": csrf_token, "current_user": current_user, "nav_items": nav_items}


# -- presentation filters (wording only: what a value means is the services' business) -----------------

@bp.app_template_filter("label")
def label(value: str) -> str:
    """`in_review` -> `In review`."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@bp.app_template_filter("dsa_label")
def dsa_label(value: str) -> str:
    """A DSA code as people read it: `STATEMENT_CATEGORY_VIOLENCE` -> `Violence` (categories and
    keywords in the database's own words)."""
    from app import dsa

    text = str(value)
    if dsa.label(text):
        return dsa.label(text)
    for prefix in ("STATEMENT_CATEGORY_", "KEYWORD_", "DECISION_VISIBILITY_", "DECISION_GROUND_"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return label(text.lower())


@bp.app_template_filter("when")
def when(moment) -> Markup:
    """A <time> element in UTC (the platform's one time zone), machine-readable in `datetime`."""
    moment = as_utc(moment)
    if moment is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), moment.strftime("%d %b %Y, %H:%M UTC"))


# -- deadlines: one wording on every page (static/js/review.js keeps it live on the reviewers' pages) -----

def _span(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


@bp.app_template_global("deadline")
def deadline(due: datetime | None, now: datetime | None = None) -> dict[str, Any]:
    """`due in 3 h 5 min` or `overdue by 12 min`, with the ISO time a script can count from."""
    due = as_utc(due)
    if due is None:
        return {"text": "", "overdue": False, "iso": ""}
    left = (due - (now or utcnow())).total_seconds()
    if left < 0:
        return {"text": f"overdue by {_span(-left)}", "overdue": True, "iso": due.isoformat()}
    return {"text": f"due in {_span(left)}", "overdue": False, "iso": due.isoformat()}
