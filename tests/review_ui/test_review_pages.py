"""The reviewers' pages (review_ui/review.py): the dashboard, a case decided with the keyboard, a
held video revealed and blocked, an escalation a senior reviewer takes, the metrics charts and
the decision log; in Chromium on the live server, and with Flask's test client where a browser
adds nothing (refusals shown as messages, bulk decisions, "start next case")."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from app import audit, case_decisions, cases
from app.models import Case, Generation, Role, User
from review_ui import web
from tests.app.test_cases import HoldAfterRender
from tests.conftest import PASSWORD, create_user, plug_stage
from tests.review_ui.conftest import check_accessibility, log_in, screenshot
from tests.review_ui.test_auth_pages import _token
from tests.review_ui.test_creator_pages import submit

HELD = "a man holding a gun"  # the prompt classifier holds it for a human (tests/app/test_cases.py)


def case_of(rt, gen_id: str) -> str:
    with rt.db.transaction() as s:
        [case] = cases.for_subject(s, "generation", gen_id)
        return case.id


def held(rt, creator: User, prompt: str = HELD) -> tuple[str, str]:
    gen = submit(rt, creator, prompt)
    assert gen.status == "in_review", gen.status
    return gen.id, case_of(rt, gen.id)


def status_of(rt, gen_id: str) -> str:
    with rt.db.transaction() as s:
        return s.get(Generation, gen_id).status


def wait_for_status(rt, live_server, gen_id: str, wanted: set[str], timeout: float = 90.0) -> str:
    """The embedded worker works on its own thread; on Redis the test works the queues itself."""
    deadline = time.monotonic() + timeout
    while True:
        live_server.run_jobs()
        status = status_of(rt, gen_id)
        if status in wanted:
            return status
        assert time.monotonic() < deadline, f"generation still {status}, waiting for {wanted}"
        time.sleep(0.2)


def path_of(page) -> str:
    return urlsplit(page.url).path


def wait_until(page, expression: str, wanted, timeout: float = 15.0) -> None:
    """Poll with page.evaluate: page.wait_for_function re-evaluates a string with eval(), which the
    pages' CSP (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + timeout
    while (value := page.evaluate(expression)) != wanted:
        assert time.monotonic() < deadline, f"{expression} is {value!r}, not {wanted!r}"
        time.sleep(0.1)


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")


# -- in the browser -----------------------------------------------------------------------------------


def test_a_reviewer_allows_a_held_request_with_the_keyboard_and_the_video_renders(page, rt, live_server):
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    gen_id, case_id = held(rt, alice)

    log_in(page, "rev@t.test", PASSWORD, next_path="/review")
    assert path_of(page) == "/review"
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Review").get_attribute("aria-current") == "page"
    queues = page.locator("table.queues")
    assert "Safety" in queues.inner_text() and "Review" in queues.inner_text()
    row = page.locator(f"#case-{case_id}")
    assert HELD in row.inner_text() and "Unassigned" in row.inner_text()
    assert re.fullmatch(r"due in \d+ (h \d+ min|min|d \d+ h)", row.locator("time.sla").inner_text())
    assert "0 of 60" in page.locator(".exposure-count").inner_text()
    check_accessibility(page)
    screenshot(page, "review-dashboard")

    # New work shows up without a reload: htmx swaps in fresh queue counts (every 30 s; here on demand).
    assert page.locator("#queue-counts td.num").first.inner_text() == "1"
    held(rt, alice)
    page.evaluate("htmx.trigger('#queue-counts', 'refresh')")
    page.locator("#queue-counts td.num", has_text="2").wait_for(timeout=10_000)
    assert page.locator(f"#case-{case_id}").count() == 1  # the rest of the page stayed as it was

    row.get_by_role("link", name=HELD).click()
    page.wait_for_url(f"**/review/cases/{case_id}")
    assert page.locator(".case-prompt").inner_text() == HELD
    assert page.locator(".case-state").inner_text() == "Open"
    verdicts = page.locator("table.verdicts")
    assert "safety.prompt" in verdicts.inner_text() and "Review" in verdicts.inner_text()
    assert page.get_by_role("heading", name="Keyboard shortcuts").is_visible()
    assert page.locator("video").count() == 0  # held before rendering: there is nothing to watch
    check_accessibility(page)
    screenshot(page, "review-case")

    page.keyboard.press("a")
    assert page.get_by_label("Allow", exact=True).is_checked()
    # While typing in a text field the letters are text, not shortcuts.
    page.get_by_label("Note", exact=True).press_sequentially("a toy, no harm")
    assert page.get_by_label("Allow", exact=True).is_checked()
    assert not page.get_by_label("Block", exact=True).is_checked()
    page.get_by_label("Policy").select_option("GL-NO-VIOLATION")
    page.get_by_role("button", name="Decide", exact=True).click()
    page.wait_for_load_state()
    assert "Decided: Allow (GL-NO-VIOLATION)" in page.get_by_role("status").first.inner_text()
    assert page.locator(".case-decision").inner_text() == "Allow"
    assert status_of(rt, gen_id) in {"queued", "rendering", "scanning", "draft"}
    assert wait_for_status(rt, live_server, gen_id, {"draft", "blocked", "in_review", "failed"}) == "draft"
    with rt.db.transaction() as s:
        verdicts = s.get(Generation, gen_id).verdicts
        assert any(v.stage == "human_review" and v.decision == "allow" for v in verdicts)
        transitions = [e.after.get("status") for e in audit.history(s, "generation", gen_id) if e.after]
        assert "queued" in transitions and "draft" in transitions
    # Decided: off the dashboard's open list.
    page.goto("/review")
    assert page.locator(f"#case-{case_id}").count() == 0
    assert page.console_errors == []


def test_a_held_video_is_revealed_watched_and_blocked(page, rt, live_server, monkeypatch):
    plug_stage(monkeypatch, HoldAfterRender(), append_to="POST_RENDER")
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    gen = submit(rt, alice, "a blue ring spinning")
    assert wait_for_status(rt, live_server, gen.id, {"in_review", "draft", "blocked", "failed"}) == "in_review"
    case_id = case_of(rt, gen.id)

    log_in(page, "rev@t.test", PASSWORD, next_path=f"/review/cases/{case_id}")
    assert path_of(page) == f"/review/cases/{case_id}"
    preview = page.locator("img.preview")
    preview.wait_for()
    wait_until(page, "document.querySelector('img.preview').complete", True)
    assert page.evaluate("document.querySelector('img.preview').naturalWidth") > 0
    assert page.locator("video").count() == 0
    assert "test.hold" in page.locator("table.verdicts").inner_text()
    check_accessibility(page)
    screenshot(page, "review-case-preview")

    page.get_by_role("button", name="Reveal video").click()
    page.wait_for_load_state()
    video = page.locator("video#case-video")
    assert video.count() == 1 and page.locator("img.preview").count() == 0
    assert video.evaluate("v => v.muted") and video.get_attribute("controls") is not None
    assert "greyscale" in video.get_attribute("class")
    answer = page.request.get(video.get_attribute("src"))
    assert answer.status == 200 and answer.headers["content-type"] == "video/mp4" and answer.body()[4:8] == b"ftyp"
    page.get_by_label("Show colour").check()
    assert "greyscale" not in video.get_attribute("class")
    assert "1 of 60" in page.get_by_role("status").first.inner_text()
    check_accessibility(page)
    screenshot(page, "review-case-revealed")

    page.get_by_label("Block", exact=True).check()
    page.get_by_label("Policy").select_option("SAFETY-VIOLENCE")
    page.get_by_role("button", name="Decide", exact=True).click()
    page.wait_for_load_state()
    assert page.locator(".case-decision").inner_text() == "Block"
    assert status_of(rt, gen.id) == "blocked"
    with rt.db.transaction() as s:
        actions = [e.action for e in audit.history(s, "case", case_id)]
    assert "case.media_revealed" in actions and "case.media_viewed" in actions and "case.decided" in actions
    # A decided case's video needs no more watching, and never plays without a reveal.
    assert page.request.get(f"/review/cases/{case_id}/media").status in (200, 403)
    assert page.console_errors == []


def test_a_senior_reviewer_takes_an_escalated_case(page, rt, live_server):
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    create_user(rt, "senior@t.test", role=Role.SENIOR_REVIEWER, handle="senior")
    gen_id, case_id = held(rt, alice)

    log_in(page, "rev@t.test", PASSWORD, next_path=f"/review/cases/{case_id}")
    page.keyboard.press("e")
    assert page.get_by_label("Escalate", exact=True).is_checked()
    page.get_by_label("Note", exact=True).fill("not sure: could be a toy")
    page.get_by_role("button", name="Decide", exact=True).click()  # escalating needs no policy
    page.wait_for_url("**/review")
    assert "went to the senior reviewers" in page.get_by_role("status").first.inner_text()
    assert page.locator(f"#case-{case_id}").count() == 0
    assert page.request.get(f"/review/cases/{case_id}").status == 404
    log_out(page)

    log_in(page, "senior@t.test", PASSWORD, next_path="/review")
    page.get_by_label("State").select_option("escalated")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert parse_qs(urlsplit(page.url).query)["state"] == ["escalated"]
    row = page.locator(f"#case-{case_id}")
    assert "Escalated" in row.inner_text()
    check_accessibility(page)
    screenshot(page, "review-dashboard-senior")
    row.get_by_role("link").click()
    page.wait_for_url(f"**/review/cases/{case_id}")
    assert page.locator(".case-state").inner_text() == "Escalated"
    assert page.get_by_label("Escalate", exact=True).count() == 0
    assert "not sure: could be a toy" in page.locator("#thread").inner_text()
    page.get_by_role("button", name="Claim").click()
    page.wait_for_load_state()
    assert page.locator(".case-assignee").inner_text() == "@senior"
    check_accessibility(page)
    screenshot(page, "review-case-escalated")
    page.keyboard.press("b")
    page.keyboard.press("p")
    assert page.evaluate("document.activeElement.id") == "policy-code"
    page.get_by_label("Policy").select_option("SAFETY-VIOLENCE")
    page.keyboard.press("Enter")  # Enter in the form decides
    page.wait_for_load_state()
    assert page.locator(".case-decision").inner_text() == "Block"
    assert status_of(rt, gen_id) == "blocked"
    assert page.console_errors == []


def test_metrics_draw_charts_and_the_log_downloads(page, rt, live_server):
    alice = create_user(rt, "alice@t.test", handle="alice")
    rev = create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    create_user(rt, "admin@t.test", role=Role.ADMIN, handle="admin")
    _, decided = held(rt, alice)
    held(rt, alice)
    with rt.db.transaction() as s:
        case_decisions.decide(rt, s, s.get(User, rev.id), decided, "block", "SAFETY-VIOLENCE", "=weapon shown")

    log_in(page, "admin@t.test", PASSWORD, next_path="/review/metrics")
    assert path_of(page) == "/review/metrics"
    wait_until(page, "typeof Chart !== 'undefined' ? Object.keys(Chart.instances).length : 0", 3)
    assert page.locator("canvas[role=img][aria-label]").count() == 3
    assert page.locator(".metrics").get_attribute("data-error") is None
    assert page.get_by_role("heading", name="Videos revealed today").is_visible()  # admins see the reveal log
    assert "No appeal was decided" in page.locator(".overturn-rate").inner_text()
    data = page.request.get("/review/metrics.json").json()
    assert data["decisions_per_day"][-1] == 1 and "safety" in data["queue_depth"]
    check_accessibility(page)
    screenshot(page, "review-metrics")

    page.get_by_role("navigation", name="Review").get_by_role("link", name="Decision log").click()
    page.wait_for_url("**/review/log")
    row = page.locator(f"tr.log-row[data-case-id='{decided}']")
    assert "Block" in row.inner_text() and "SAFETY-VIOLENCE" in row.inner_text() and "@rev" in row.inner_text()
    check_accessibility(page)
    screenshot(page, "review-log")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("decisions-") and download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert [(r["case_id"], r["decision"], r["note"]) for r in rows] == [(decided, "block", "'=weapon shown")]
    assert page.console_errors == []


def test_other_roles_get_403_and_visitors_the_login_page(page, rt, live_server):
    create_user(rt, "alice@t.test", handle="alice")
    page.goto("/review")
    parts = urlsplit(page.url)
    assert parts.path == "/login" and parse_qs(parts.query) == {"next": ["/review"]}
    log_in(page, "alice@t.test", PASSWORD)
    for path in ("/review", "/review/metrics", "/review/log", "/review/log.csv", "/review/metrics.json"):
        response = page.goto(path)
        assert response.status == 403, path
    assert page.get_by_role("heading", level=1).inner_text() == "Not for your role"
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Review").count() == 0
    check_accessibility(page)
    screenshot(page, "review-403")


# -- with the test client ------------------------------------------------------------------------------


def _login(client, email: str) -> None:
    client.post("/logout", data={"csrf_token": _token(client)})
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": _token(client)})


def test_refusals_show_as_messages_never_as_server_errors(rt, app):
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    create_user(rt, "rev2@t.test", role=Role.REVIEWER, handle="rev2")
    _, case_id = held(rt, alice)
    client = app.test_client()
    _login(client, "rev@t.test")
    token = _token(client)
    url = f"/review/cases/{case_id}"

    missing = client.post(f"{url}/decision", data={"decision": "allow", "csrf_token": token})
    assert missing.status_code == 422 and "Choose the policy the decision rests on." in missing.get_data(as_text=True)
    wrong = client.post(f"{url}/decision", data={"decision": "overturn", "policy_code": "GL-NO-VIOLATION",
                                                 "csrf_token": token})
    assert wrong.status_code == 422 and "does not apply to this kind" in wrong.get_data(as_text=True)
    assert client.post(f"{url}/claim", data={"csrf_token": token}).status_code == 303
    nobody = client.post(f"{url}/handoff", data={"to": "nobody", "csrf_token": token})
    assert nobody.status_code == 404 and "No reviewer with that handle" in nobody.get_data(as_text=True)
    no_video = client.post(f"{url}/reveal", data={"csrf_token": token})
    assert no_video.status_code == 404 and "This case has no video." in no_video.get_data(as_text=True)
    assert client.get(f"{url}/media").status_code == 404
    assert client.post(f"{url}/notes", data={"body": "for the team", "csrf_token": token}).status_code == 303
    assert client.post(f"{url}/decision", data={"decision": "allow"}).status_code == 403  # no CSRF token

    _login(client, "rev2@t.test")
    token = _token(client)
    taken = client.post(f"{url}/decision", data={"decision": "block", "policy_code": "SAFETY-VIOLENCE",
                                                 "note": "kept", "csrf_token": token})
    body = taken.get_data(as_text=True)
    assert taken.status_code == 409 and "Another reviewer holds this case." in body
    assert 'value="block" id="decision-block" data-shortcut="b" required checked' in body  # the form is kept
    assert "for the team" in body and 'class="case-assignee">@rev<' in body
    with rt.db.transaction() as s:
        assert s.get(Case, case_id).state == "assigned"
    assert client.get("/review/cases/not-a-case").status_code == 404


def test_bulk_decisions_show_each_outcome_and_start_next_claims(rt, app):
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    create_user(rt, "rev2@t.test", role=Role.REVIEWER, handle="rev2")
    first, second = held(rt, alice)[1], held(rt, alice)[1]
    client = app.test_client()
    _login(client, "rev2@t.test")
    assert client.post(f"/review/cases/{second}/claim", data={"csrf_token": _token(client)}).status_code == 303

    _login(client, "rev@t.test")
    token = _token(client)
    none = client.post("/review/bulk", data={"decision": "block", "policy_code": "SAFETY-VIOLENCE",
                                              "csrf_token": token})
    assert none.status_code == 422 and "Select at least one case" in none.get_data(as_text=True)
    done = client.post("/review/bulk", data={"case_ids": [first, second], "decision": "block",
                                              "policy_code": "SAFETY-VIOLENCE", "csrf_token": token})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Bulk decision results" in html
    results = dict(re.findall(r'data-case-id="([^"]+)">.*?class="result-(?:ok|bad)">([^<]+)<', html, re.S))
    assert results == {first: "Decided", second: "Case claimed"}

    third = held(rt, alice)[1]
    started = client.post("/review/next", data={"csrf_token": token})
    assert started.status_code == 303 and started.headers["Location"] == f"/review/cases/{third}"
    with rt.db.transaction() as s:
        case = s.get(Case, third)
        assert case.state == "assigned" and s.get(User, case.assignee_id).handle == "rev"
    page_html = client.get("/review?assigned=me").get_data(as_text=True)
    assert f'id="case-{third}"' in page_html and f'id="case-{second}"' not in page_html
    # Nothing else waits for rev: "start next" reopens the held case, then says so once it is decided.
    decided = client.post(f"/review/cases/{third}/decision", data={"decision": "allow", "next": "1",
                                                                  "policy_code": "GL-NO-VIOLATION",
                                                                  "csrf_token": token})
    assert decided.status_code == 303 and decided.headers["Location"] == "/review"
    assert "No case is waiting for you now." in client.get("/review").get_data(as_text=True)


def test_deadline_wording():
    # One wording on every page (review_ui/web.py); static/js/review.js keeps it live on these.
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert web.deadline(now + timedelta(hours=3, minutes=5, seconds=30), now)["text"] == "due in 3 h 5 min"
    assert web.deadline(now + timedelta(days=2, hours=1), now)["text"] == "due in 2 d 1 h"
    assert web.deadline(None, now) == {"text": "", "overdue": False, "iso": ""}
    late = web.deadline(now - timedelta(minutes=12), now)
    assert late == {"text": "overdue by 12 min", "overdue": True, "iso": (now - timedelta(minutes=12)).isoformat()}
