"""Logging in and out of the pages, the session cookie, CSRF and role checks: in Chromium against
the live server, and with Flask's test client where a browser adds nothing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Blueprint

from app.models import Role
from review_ui import web
from tests.conftest import PASSWORD, create_user
from tests.review_ui.conftest import check_accessibility, log_in, screenshot

# -- in the browser ----------------------------------------------------------------------------------


def test_a_page_sends_a_visitor_to_login_and_back(page, rt):
    create_user(rt, "alice@t.test", handle="alice")
    page.goto("/me/generations")
    parts = urlsplit(page.url)
    assert parts.path == "/login" and parse_qs(parts.query) == {"next": ["/me/generations"]}
    check_accessibility(page)
    screenshot(page, "login")

    page.get_by_label("Email").fill("alice@t.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/me/generations")
    assert page.get_by_role("heading", level=1).inner_text() == "My generations"
    assert page.console_errors == []  # nothing refused by the CSP, no script errors


def test_a_wrong_password_shows_an_error_and_logs_nobody_in(page, rt):
    create_user(rt, "alice@t.test", handle="alice")
    log_in(page, "alice@t.test", "not-the-password")
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "The email or password is wrong."
    assert page.get_by_label("Email").input_value() == "alice@t.test"
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"
    check_accessibility(page)
    screenshot(page, "login-error")
    page.goto("/me/generations")
    assert urlsplit(page.url).path == "/login"


def test_the_session_cookie_is_http_only_same_site_lax_and_secure(page, rt):
    create_user(rt, "alice@t.test", handle="alice")
    log_in(page, "alice@t.test", PASSWORD)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "gl_session"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Lax", True)
    # Chromium keeps a Secure cookie on http://127.0.0.1 (a secure context) and sends it back:
    page.goto("/me/generations")
    assert urlsplit(page.url).path == "/me/generations"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: page scripts cannot read it


def test_a_post_without_the_csrf_token_is_refused(page, rt):
    create_user(rt, "alice@t.test", handle="alice")
    log_in(page, "alice@t.test", PASSWORD)
    refused = page.request.post("/logout", form={})
    assert refused.status == 403 and "CSRF" in refused.text()
    assert page.request.post("/logout", form={"csrf_token": "forged"}).status == 403
    page.goto("/me/generations")
    assert urlsplit(page.url).path == "/me/generations"  # still logged in
    # What htmx sends: the token from the page's <meta> in the X-CSRF-Token header.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert page.request.post("/logout", headers={"X-CSRF-Token": token}).status == 200  # the login page


def test_logging_out_ends_the_session(page, rt):
    create_user(rt, "alice@t.test", handle="alice")
    log_in(page, "alice@t.test", PASSWORD)
    page.get_by_role("button", name=re.compile("^Log out")).click()
    page.wait_for_url("**/login")
    page.goto("/me/generations")
    assert urlsplit(page.url).path == "/login"


def test_the_skip_link_comes_first_and_moves_focus_to_main(page, rt):
    create_user(rt, "alice@t.test", handle="alice")
    log_in(page, "alice@t.test", PASSWORD)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


# -- with the test client -----------------------------------------------------------------------------

def _token(client, path="/login") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    static = client.get("/ui/static/js/csrf.js")
    assert static.status_code == 200 and static.headers["X-Frame-Options"] == "DENY"


def test_login_without_a_csrf_token_is_refused_with_a_clear_message(rt, client):
    create_user(rt, "alice@t.test", handle="alice")
    client.get("/login")
    response = client.post("/login", data={"email": "alice@t.test", "password": PASSWORD})
    assert response.status_code == 403
    assert "security (CSRF) token" in response.get_data(as_text=True)
    assert client.get("/me/generations").status_code == 302


def test_login_sets_a_fresh_session_cookie_with_its_flags(rt, client):
    create_user(rt, "alice@t.test", handle="alice")
    token = _token(client)
    response = client.post("/login", data={"email": "ALICE@t.test", "password": PASSWORD,
                                                 "csrf_token": token, "next": "/me/generations"})
    assert response.status_code == 302 and response.headers["Location"] == "/me/generations"
    set_cookie = response.headers["Set-Cookie"]
    assert "gl_session=" in set_cookie and "HttpOnly" in set_cookie and "Secure" in set_cookie
    assert "SameSite=Lax" in set_cookie and "Expires=" in set_cookie
    # The anonymous session's CSRF token does not survive login (fixation).
    assert _token(client, "/me/generations") != token


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)",
                                    "me/generations", "/ok\r\nLocation: https://evil.test"])
def test_next_goes_only_to_a_path_on_this_site(rt, client, target):
    create_user(rt, "alice@t.test", handle="alice")
    response = client.post("/login", data={"email": "alice@t.test", "password": PASSWORD, "next": target,
                                                 "csrf_token": _token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/me/generations"


def test_safe_next_keeps_local_paths_with_their_query():
    assert web.safe_next("/me/generations?cursor=abc", "/") == "/me/generations?cursor=abc"
    assert web.safe_next(None, "/home") == "/home"


def test_a_wrong_role_gets_a_403_page_and_a_service_account_no_pages(rt, app):
    probe = Blueprint("probe", __name__)
    probe.add_url_rule("/probe/review", "review",
                       web.login_required(roles={Role.REVIEWER, Role.ADMIN})(lambda: "reviewers only"))
    app.register_blueprint(probe)
    client = app.test_client()
    create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "carol@t.test", role=Role.REVIEWER, handle="carol")
    create_user(rt, "bot@t.test", role=Role.SERVICE, handle="paybot")

    def login(email):
        client.post("/logout", data={"csrf_token": _token(client)})
        client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": _token(client)})

    assert client.get("/probe/review").headers["Location"] == "/login?next=/probe/review"
    login("alice@t.test")
    refused = client.get("/probe/review")
    assert refused.status_code == 403 and "Not for your role" in refused.get_data(as_text=True)
    assert "Log out" in refused.get_data(as_text=True)  # still signed in, and shown so
    login("carol@t.test")
    assert client.get("/probe/review").get_data(as_text=True) == "reviewers only"
    login("bot@t.test")
    assert client.get("/me/generations").status_code == 403


def test_navigation_follows_the_role_and_links_only_pages_that_exist(rt, app):
    probe = Blueprint("probe_nav", __name__)
    probe.add_url_rule("/review", "review", web.login_required(roles={Role.REVIEWER})(lambda: "queue"))
    app.register_blueprint(probe)
    client = app.test_client()
    create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "carol@t.test", role=Role.REVIEWER, handle="carol")

    def nav_for(email):
        client.post("/logout", data={"csrf_token": _token(client)})
        client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": _token(client)})
        html = client.get("/me/generations").get_data(as_text=True)
        return re.findall(r'<li><a href="([^"]+)"', html)

    assert nav_for("alice@t.test") == ["/me/generations", "/me/cameo", "/me/cases"]
    assert nav_for("carol@t.test") == ["/me/generations", "/me/cameo", "/me/cases", "/review"]


def test_every_page_waits_behind_the_login_then_serves_its_people(rt, app):
    """The pages the issue names: a redirect to /login before login, the page after it."""
    from app import appeals, orchestrator
    from app.models import User

    client = app.test_client()
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "rita@t.test", role=Role.REVIEWER, handle="rita")
    create_user(rt, "rights@t.test", role=Role.RIGHTSHOLDER, handle="rights")
    with rt.db.transaction() as s:
        gid = orchestrator.submit_and_gate(rt, s, s.get(User, alice.id), "a nude portrait", [], None)
    with rt.db.transaction() as s:
        case_id = appeals.file(s, s.get(User, alice.id), "a statue", generation_id=gid).id

    pages = {"/review": "rita@t.test", "/portal": "rights@t.test", "/me/cameo": "alice@t.test",
             "/me/generations": "alice@t.test", "/me/cases": "alice@t.test", f"/appeals/{case_id}": "alice@t.test"}
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 302, path
        target = urlsplit(answer.headers["Location"])
        assert target.path == "/login" and parse_qs(target.query)["next"] == [path]
    for path, email in pages.items():
        client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": _token(client)})
        answer = client.get(path)
        assert answer.status_code == 200 and b"<main" in answer.data, (path, answer.status_code)
        client.post("/logout", data={"csrf_token": _token(client, path)})
