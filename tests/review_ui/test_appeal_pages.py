"""Appeals and cases in the browser: a creator appeals a block from /me/generations, follows the
case at /appeals/<id> and /me/cases, and reads the outcome; the refusals (someone else's decision,
twice, after an appeal) and the login wall. Both backends."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from app import appeals, case_decisions
from app.models import Case, Generation, Role, StatementOfReasons, User
from review_ui.appeals import countdown
from tests.conftest import PASSWORD, create_user
from tests.review_ui.conftest import check_accessibility, log_in, screenshot
from tests.review_ui.test_creator_pages import BLOCKED_PROMPT, submit
from tests.review_ui.test_auth_pages import _token


def statement_of(rt, gen: Generation) -> StatementOfReasons:
    with rt.db.transaction() as s:
        [statement] = s.query(StatementOfReasons).filter_by(generation_id=gen.id).all()
        return statement


def file_appeal(rt, user: User, statement_id: str, reason: str = "It is a marble statue.") -> str:
    with rt.db.transaction() as s:
        return appeals.file(s, s.get(User, user.id), reason, statement_id=statement_id).id


def decide(rt, reviewer: User, case_id: str, decision: str, policy_code: str, note: str = "") -> str | None:
    """Through the service the reviewers' decision endpoint calls; the id of the statement it issued."""
    with rt.db.transaction() as s:
        case = case_decisions.decide(rt, s, s.get(User, reviewer.id), case_id, decision, policy_code, note)
        s.flush()
        return case.outcome_statement_id


def generation_status(page, gen_id: str) -> str:
    return page.locator(f"#generation-{gen_id} .status").first.inner_text()


def test_a_creator_appeals_a_block_and_reads_the_overturn(page, browser, rt, live_server):
    alice = create_user(rt, "alice@t.test", handle="alice")
    rev = create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    blocked = submit(rt, alice, BLOCKED_PROMPT)
    assert blocked.status == "blocked"
    first = statement_of(rt, blocked)

    log_in(page, "alice@t.test", PASSWORD, next_path="/me/generations")
    statement = page.locator(f"#statement-{first.id}")
    assert statement.locator(".statement-category").inner_text() == "Other violation of provider’s terms and conditions"
    check_accessibility(page)
    screenshot(page, "appeals-generations-appealable")
    statement.get_by_role("link", name="Appeal this decision").click()
    page.wait_for_load_state()

    # The form: the contested decision, free of charge, who decides, the deadline.
    assert urlsplit(page.url).path == "/appeals/new" and f"statement_id={first.id}" in page.url
    contested = page.locator(".statement")
    assert "Other violation of provider’s terms and conditions" in contested.inner_text()
    assert "breaks the terms of service" in contested.inner_text()
    assert "safety_sexual" in contested.locator(".facts-text").inner_text()
    assert contested.locator("time").count() >= 1
    assert "free of charge" in page.locator(".free").inner_text()
    assert "did not take the first decision" in page.locator(".decider").inner_text()
    assert "within 3 days" in page.locator(".deadline").inner_text()
    check_accessibility(page)
    screenshot(page, "appeals-new")
    page.get_by_label("Why is this decision wrong?").fill("It is a marble statue in a museum, not a nude photo.")
    page.get_by_role("button", name="Send the appeal").click()
    page.wait_for_load_state()

    # The case page: open, due in 3 days, my words, the contested statement.
    match = re.fullmatch(r"/appeals/([0-9A-Za-z-]+)", urlsplit(page.url).path)
    assert match, page.url
    case_id = match.group(1)
    assert page.locator("#case-state").inner_text() == "Open"
    assert re.match(r"Due in (2 d 23 h|3 d 0 h)", page.locator("#case-due").inner_text())
    assert "marble statue in a museum" in page.locator(".summary").inner_text()
    assert first.id in page.locator(".contested-statement").inner_text()
    assert "Reviewer" not in page.locator("#thread").inner_text()  # nobody's identity but yours
    page.get_by_label("Information for the reviewers").fill("The statue is in the Louvre.")
    page.get_by_role("button", name="Add information").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == f"/appeals/{case_id}"
    assert "The statue is in the Louvre." in page.locator("#thread").inner_text()
    check_accessibility(page)
    screenshot(page, "appeals-case-open")
    assert page.console_errors == []

    # My cases lists it, with its state and due time; the navigation has the entry.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My cases").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/me/cases"
    row = page.locator(f"#case-{case_id}")
    assert "Appeal" in row.inner_text() and "Open" in row.inner_text()
    assert re.search(r"Due in (2 d 23 h|3 d 0 h)", row.inner_text())
    assert BLOCKED_PROMPT in row.inner_text()
    assert row.get_by_role("link").get_attribute("href") == f"/appeals/{case_id}"
    assert page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My cases").get_attribute("aria-current") == "page"
    check_accessibility(page)
    screenshot(page, "appeals-my-cases")

    # /me/generations now shows the appeal in place of the link.
    page.goto("/me/generations")
    statement = page.locator(f"#statement-{first.id}")
    assert statement.get_by_role("link", name="Appeal this decision").count() == 0
    assert "Appeal: Open" in statement.inner_text()
    assert statement.get_by_role("link", name="View your appeal").get_attribute("href") == f"/appeals/{case_id}"

    # A second person decides, on the reviewers' page, in a browser profile of their own.
    reviewer_context = browser.new_context(base_url=live_server.url)
    reviewer = reviewer_context.new_page()
    log_in(reviewer, "rev@t.test", PASSWORD, next_path="/review")
    reviewer.locator(f"a[href='/review/cases/{case_id}']").first.click()
    reviewer.wait_for_load_state()
    assert "marble statue in a museum" in reviewer.content() and first.id in reviewer.content()
    reviewer.get_by_label("Overturn", exact=True).check()
    reviewer.get_by_label("Policy").select_option("GL-AUTOMATION-ERROR")
    reviewer.get_by_label("Note", exact=True).fill("A statue, not a person.")
    reviewer.get_by_role("button", name="Decide", exact=True).click()
    reviewer.wait_for_load_state()
    reviewer_context.close()
    with rt.db.transaction() as s:
        decided = s.get(Case, case_id)
        assert (decided.state, decided.decision, decided.decided_by_id) == ("decided", "overturn", rev.id)
        outcome_id = decided.outcome_statement_id

    page.goto(f"/appeals/{case_id}")
    assert page.locator("#case-state").inner_text() == "Decided"
    assert page.locator("#case-due").count() == 0
    decision = page.locator(".decision")
    assert "Overturned" in decision.inner_text() and "The automated decision was wrong" in decision.inner_text()
    outcome = page.locator(f"#statement-{outcome_id}")
    assert "a reviewer who did not take the first decision found it wrong" in outcome.inner_text()
    assert "restriction is lifted" in outcome.inner_text()
    assert "out-of-court dispute settlement body" in page.locator(".redress").inner_text()
    assert page.get_by_label("Information for the reviewers").count() == 0
    check_accessibility(page)
    screenshot(page, "appeals-case-overturned")

    # /me/generations: the new statement replaces the old, linked both ways; nothing left to appeal.
    page.goto("/me/generations")
    old, new = page.locator(f"#statement-{first.id}"), page.locator(f"#statement-{outcome_id}")
    assert old.get_by_role("link", name="Replaced by a later decision").get_attribute("href") == f"#statement-{outcome_id}"
    assert new.get_by_role("link", name="an earlier decision").get_attribute("href") == f"#statement-{first.id}"
    assert new.get_by_role("link", name="your appeal").get_attribute("href") == f"/appeals/{case_id}"
    assert page.get_by_role("link", name="Appeal this decision").count() == 0
    assert generation_status(page, blocked.id) in ("Queued", "Rendering", "Scanning", "Draft")
    check_accessibility(page)
    screenshot(page, "appeals-generations-replaced")

    # The generation proceeds: rendered (by the embedded worker, or here on Redis).
    live_server.run_jobs()
    deadline = time.monotonic() + 120
    while generation_status(page, blocked.id) in ("Queued", "Rendering", "Scanning") and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    assert generation_status(page, blocked.id) not in ("Queued", "Rendering", "Scanning", "Blocked", "Failed")
    with rt.db.transaction() as s:
        assert s.get(Generation, blocked.id).media_key
    assert page.console_errors == []


def test_the_appeal_form_refuses_what_cannot_be_appealed(page, rt):
    alice = create_user(rt, "alice@t.test", handle="alice")
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    rev = create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    others = statement_of(rt, submit(rt, mallory, BLOCKED_PROMPT))
    twice = statement_of(rt, submit(rt, alice, BLOCKED_PROMPT))
    upheld_gen = submit(rt, alice, BLOCKED_PROMPT)
    upheld_case = file_appeal(rt, alice, statement_of(rt, upheld_gen).id)
    upheld = decide(rt, rev, upheld_case, "uphold", "SAFETY-SEXUAL", "It is a photo of a person.")
    log_in(page, "alice@t.test", PASSWORD)

    # Someone else's decision: the 404 page, as for one that does not exist.
    response = page.goto(f"/appeals/new?statement_id={others.id}")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "No such decision"
    assert others.id not in page.content()
    check_accessibility(page)
    screenshot(page, "appeals-new-not-found")
    assert page.goto("/appeals/new?statement_id=nonexistent").status == 404

    # Twice: the form was open when another tab filed the appeal; sending it says so.
    page.goto(f"/appeals/new?statement_id={twice.id}")
    page.get_by_label("Why is this decision wrong?").fill("Again: it is a statue.")
    case_id = file_appeal(rt, alice, twice.id)
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="Send the appeal").click()
    assert sent.value.status == 409
    alert = page.get_by_role("alert")
    assert "already under appeal" in alert.inner_text()
    assert alert.get_by_role("link", name="Follow the appeal").get_attribute("href") == f"/appeals/{case_id}"
    assert page.get_by_label("Why is this decision wrong?").count() == 0
    check_accessibility(page)
    screenshot(page, "appeals-new-already-appealed")
    assert page.goto(f"/appeals/new?statement_id={twice.id}").status == 409
    assert "already under appeal" in page.get_by_role("alert").inner_text()

    # A decision upheld on appeal: internal appeal is exhausted; out of court remains.
    response = page.goto(f"/appeals/new?statement_id={upheld}")
    assert response.status == 409
    assert "internal appeal is exhausted" in page.get_by_role("alert").inner_text()
    assert "out-of-court" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Why is this decision wrong?").count() == 0
    check_accessibility(page)
    screenshot(page, "appeals-new-exhausted")
    # ... and the case page of that appeal says the same in its redress.
    page.goto(f"/appeals/{upheld_case}")
    assert "Upheld" in page.locator(".decision").inner_text()
    assert "internal appeal is exhausted" in page.locator(".redress").inner_text()
    check_accessibility(page)
    screenshot(page, "appeals-case-upheld")
    # The 404 and 409 answers log "Failed to load resource"; nothing else (no CSP refusal) may.
    assert [e for e in page.console_errors if not e.startswith("Failed to load resource")] == []


def test_case_pages_need_a_login_and_a_party(page, rt):
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "mallory@t.test", handle="mallory")
    create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")
    case_id = file_appeal(rt, alice, statement_of(rt, submit(rt, alice, BLOCKED_PROMPT)).id)

    for path in (f"/appeals/{case_id}", "/me/cases", f"/cases/{case_id}"):
        page.goto(path)
        parts = urlsplit(page.url)
        assert parts.path == "/login" and parts.query == f"next={path}"
    check_accessibility(page)

    log_in(page, "mallory@t.test", PASSWORD)
    for path in (f"/appeals/{case_id}", f"/cases/{case_id}", "/appeals/no-such-case"):
        assert page.goto(path).status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "No such case"
    check_accessibility(page)
    screenshot(page, "appeals-case-not-found")
    page.goto("/me/cases")
    assert "You are not a party to any case" in page.locator("main").inner_text()
    check_accessibility(page)
    screenshot(page, "appeals-my-cases-empty")


def test_forms_without_a_browser(rt, client):
    """The POST paths in detail: CSRF, an empty reason, someone else's statement, a held case's page."""
    alice = create_user(rt, "alice@t.test", handle="alice")
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    mine = statement_of(rt, submit(rt, alice, BLOCKED_PROMPT))
    others = statement_of(rt, submit(rt, mallory, BLOCKED_PROMPT))
    client.post("/login", data={"email": "alice@t.test", "password": PASSWORD, "csrf_token": _token(client)})
    token = _token(client)
    assert client.post("/appeals", data={"statement_id": mine.id, "reason": "x"}).status_code == 403  # no CSRF
    empty = client.post("/appeals", data={"statement_id": mine.id, "reason": "  ", "csrf_token": token})
    assert empty.status_code == 422 and "Say why the decision is wrong" in empty.get_data(as_text=True)
    assert 'aria-invalid="true"' in empty.get_data(as_text=True)
    assert client.post("/appeals", data={"statement_id": others.id, "reason": "x",
                                         "csrf_token": token}).status_code == 404
    filed = client.post("/appeals", data={"statement_id": mine.id, "reason": "a statue", "csrf_token": token})
    assert filed.status_code == 303 and filed.headers["Location"].startswith("/appeals/")
    case_id = filed.headers["Location"].rsplit("/", 1)[1]
    again = client.post("/appeals", data={"statement_id": mine.id, "reason": "again", "csrf_token": token})
    assert again.status_code == 409 and "already under appeal" in again.get_data(as_text=True)
    with rt.db.transaction() as s:
        assert s.query(Case).filter_by(statement_id=mine.id).count() == 1
    blank = client.post(f"/appeals/{case_id}/notes", data={"body": "", "csrf_token": token})
    assert blank.status_code == 422
    assert client.post(f"/cases/{case_id}/notes", data={"body": "more", "csrf_token": token}).status_code == 303
    assert "more" in client.get(f"/cases/{case_id}").get_data(as_text=True)
    # Mallory may not add to Alice's case.
    client.post("/logout", data={"csrf_token": token})
    client.post("/login", data={"email": "mallory@t.test", "password": PASSWORD, "csrf_token": _token(client)})
    assert client.post(f"/appeals/{case_id}/notes", data={"body": "x", "csrf_token": _token(client)}).status_code == 404


def test_a_held_generation_is_a_case_its_creator_follows(rt, client):
    alice = create_user(rt, "alice@t.test", handle="alice")
    held = submit(rt, alice, "a man holding a gun")
    assert held.status == "in_review"
    client.post("/login", data={"email": "alice@t.test", "password": PASSWORD, "csrf_token": _token(client)})
    listing = client.get("/me/cases").get_data(as_text=True)
    assert "Held for review" in listing and "a man holding a gun" in listing
    with rt.db.transaction() as s:
        case = s.query(Case).filter_by(generation_id=held.id).one()
        case_id = case.id
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Held for review" in html and "safety" not in html.lower().split("<main")[1].split("</main>")[0]


def test_countdown_words():
    from datetime import timedelta

    from app.db import utcnow

    now = utcnow()
    case = Case(state="open", due_at=now + timedelta(days=2, hours=1))
    assert countdown(case, now) == "due in 2 d 1 h"
    assert countdown(Case(state="assigned", due_at=now + timedelta(hours=5)), now) == "due in 5 h 0 min"
    assert countdown(Case(state="open", due_at=now + timedelta(minutes=1)), now) == "due in 1 min"
    assert countdown(Case(state="escalated", due_at=now - timedelta(minutes=3)), now) == "overdue by 3 min"
    assert countdown(Case(state="decided", due_at=now), now) == ""  # decided: no deadline left
