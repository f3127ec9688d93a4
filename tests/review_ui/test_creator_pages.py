"""/me/generations: the creator's own generations, newest first, with the statement of reasons of
every decision against one; nobody else's."""

from __future__ import annotations

from urllib.parse import urlsplit

from app import orchestrator
from app.models import Generation, User
from tests.conftest import PASSWORD, create_user
from tests.review_ui.conftest import check_accessibility, log_in, screenshot

BLOCKED_PROMPT = "a nude portrait"  # the safety gate blocks it before rendering (tests/app/test_statements.py)


def submit(rt, user: User, prompt: str) -> Generation:
    """Through the same service POST /api/v1/generations calls: gated at once."""
    with rt.db.transaction() as s:
        gen_id = orchestrator.submit_and_gate(rt, s, s.get(User, user.id), prompt, [], None)
    with rt.db.transaction() as s:
        return s.get(Generation, gen_id)


def test_a_creator_sees_their_generations_and_why_one_was_blocked(page, rt, live_server):
    alice = create_user(rt, "alice@t.test", handle="alice")
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    blocked = submit(rt, alice, BLOCKED_PROMPT)
    assert blocked.status == "blocked"
    allowed = submit(rt, alice, "a green cube sliding down a ramp")
    others = submit(rt, mallory, "a red kite over the sea")
    live_server.run_jobs()

    log_in(page, "alice@t.test", PASSWORD, next_path="/me/generations")
    assert urlsplit(page.url).path == "/me/generations"
    cards = page.locator("article.generation")
    assert cards.count() == 2
    # Newest first.
    assert cards.nth(0).get_attribute("id") == f"generation-{allowed.id}"
    assert cards.nth(1).get_attribute("id") == f"generation-{blocked.id}"
    assert page.get_by_text(others.prompt).count() == 0

    card = page.locator(f"#generation-{blocked.id}")
    assert card.get_by_role("heading", level=2).inner_text() == BLOCKED_PROMPT
    assert card.locator(".status").inner_text() == "Blocked"
    statement = card.locator(".statement")
    assert statement.count() == 1
    assert statement.locator(".statement-category").inner_text() == "Other violation of provider’s terms and conditions"
    assert "breaks the terms of service" in statement.inner_text()
    assert "safety_sexual" in statement.locator(".facts-text").inner_text()
    assert statement.locator("time").get_attribute("datetime").startswith(str(blocked.created_at.year))
    assert page.locator(f"#generation-{allowed.id} .statement").count() == 0
    # Navigation by role: a creator has no Review or Portal link.
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="My generations").get_attribute("aria-current") == "page"
    assert nav.get_by_role("link", name="Review").count() == 0
    assert nav.get_by_role("link", name="Portal").count() == 0
    check_accessibility(page)
    screenshot(page, "creator-generations")
    assert page.console_errors == []


def test_another_creator_sees_only_their_own(page, rt):
    alice = create_user(rt, "alice@t.test", handle="alice")
    create_user(rt, "mallory@t.test", handle="mallory")
    secret = submit(rt, alice, BLOCKED_PROMPT)
    log_in(page, "mallory@t.test", PASSWORD)
    page.goto("/me/generations")
    assert page.locator("article.generation").count() == 0
    assert page.get_by_text("You have not requested any videos yet.").is_visible()
    assert secret.id not in page.content()
    check_accessibility(page)
    screenshot(page, "creator-generations-empty")


def test_generations_page_through_with_a_cursor(rt, client, monkeypatch):
    from review_ui import creator
    from tests.review_ui.test_auth_pages import _token

    monkeypatch.setattr(creator, "PAGE_SIZE", 1)
    alice = create_user(rt, "alice@t.test", handle="alice")
    first, second = submit(rt, alice, "a blue ball rolling"), submit(rt, alice, "a yellow box spinning")
    client.post("/login", data={"email": "alice@t.test", "password": PASSWORD, "csrf_token": _token(client)})
    page_one = client.get("/me/generations").get_data(as_text=True)
    assert second.prompt in page_one and first.prompt not in page_one and "Older generations" in page_one
    cursor = page_one.split("cursor=")[1].split('"')[0]
    page_two = client.get(f"/me/generations?cursor={cursor}").get_data(as_text=True)
    assert first.prompt in page_two and second.prompt not in page_two
    assert client.get("/me/generations?cursor=garbage").status_code == 400


def test_the_appeals_work_can_fill_each_statements_appeal_action(rt, app, client, tmp_path):
    """The seam the appeals group uses: a template extending the page, overriding one block."""
    import jinja2

    from tests.review_ui.test_auth_pages import _token

    override = tmp_path / "templates" / "appeals"
    override.mkdir(parents=True)
    (override / "creator_generations.html").write_text(
        '{% extends "creator/generations.html" %}{% block appeal_action %}'
        '<p class="probe">appeal {{ statement.id }} of {{ gen.id }}</p>{% endblock %}')
    app.jinja_loader = jinja2.FileSystemLoader(str(tmp_path / "templates"))  # looked up before blueprints'
    alice = create_user(rt, "alice@t.test", handle="alice")
    blocked = submit(rt, alice, BLOCKED_PROMPT)
    client.post("/login", data={"email": "alice@t.test", "password": PASSWORD, "csrf_token": _token(client)})
    html = client.get("/me/generations").get_data(as_text=True)
    assert f"of {blocked.id}</p>" in html and html.count('class="probe"') == 1


def test_an_htmx_request_before_login_is_told_to_load_the_login_page(client):
    response = client.get("/me/generations", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login?next=/me/generations"
