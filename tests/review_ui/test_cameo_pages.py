"""/me/cameo (the cameo owner's page: appearances, deleting a video, revoking consent) and the
public likeness complaint pages (/complaints/likeness, the complainant's private link), in Chromium."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from app import mail
from app.models import Generation
from tests.conftest import PASSWORD, drain
from tests.likeness.conftest import photos  # noqa: F401,F811  (the real face photos, a fixture)
from tests.likeness.test_complaints import another_photo, png, video  # noqa: F401  (video is a fixture)
from tests.review_ui.conftest import check_accessibility, log_in, screenshot
from tests.likeness.enrolled import enrolled_cameo


def status(rt, gid: str) -> str | None:
    with rt.db.transaction() as s:
        gen = s.get(Generation, gid)
        return gen.status if gen else None


@pytest.fixture
def world(rt, make_api):
    """Alice's cameo (everyone may use it) in two of Bob's videos: one published, one draft. Built
    (and its jobs worked) before the live server starts, so no embedded worker races the drain."""
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    eve, _ = make_api("eve@t.test", handle="eve")
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone")

    def make(prompt):
        resp = bob.post("/api/v1/generations", json={"prompt": prompt, "cameo_ids": [cameo]})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["id"]

    published, draft = make("a person riding a bike"), make("a person walking a dog")
    drain(rt)
    assert bob.post(f"/api/v1/generations/{published}/publish").get_json()["status"] == "published"
    assert status(rt, draft) == "draft"
    return {"alice": alice, "bob": bob, "eve": eve, "cameo": cameo, "published": published, "draft": draft}


def listed(page, selector: str) -> list[str]:
    return [el.get_attribute("data-generation-id") for el in page.locator(selector).all()]


def test_my_cameo_needs_a_login(page):
    page.goto("/me/cameo")
    assert urlsplit(page.url).path == "/login"
    assert "next=/me/cameo" in page.url.replace("%2F", "/")


def test_someone_without_a_cameo_sees_an_empty_state(page, rt):
    from tests.conftest import create_user
    create_user(rt, "carol@t.test", handle="carol")
    log_in(page, "carol@t.test", PASSWORD, next_path="/me/cameo")
    assert page.get_by_role("heading", name="You have no cameo").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="My cameo").get_attribute("aria-current") == "page"
    check_accessibility(page)
    screenshot(page, "cameo-empty")


def test_a_cameo_owner_revokes_and_the_videos_disappear_for_everyone(world, rt, page, live_server):
    published, draft = world["published"], world["draft"]
    assert world["eve"].get(f"/api/v1/generations/{published}").status_code == 200

    log_in(page, "alice@t.test", PASSWORD, next_path="/me/cameo")
    assert urlsplit(page.url).path == "/me/cameo"
    assert page.locator("#cameo-status").inner_text() == "Active"
    assert page.locator(f"#group-published #appearance-{published}").is_visible()
    assert page.locator(f"#group-drafts #appearance-{draft}").is_visible()
    card = page.locator(f"#appearance-{published}")
    assert "@bob" in card.inner_text() and "a person riding a bike" in card.inner_text()
    assert card.locator(".status").inner_text() == "Published"
    check_accessibility(page)
    screenshot(page, "cameo-overview")

    with page.expect_navigation():  # waits for the load: the lists below are read without waiting
        page.get_by_role("link", name="Revoke consent").click()
    assert urlsplit(page.url).path == "/me/cameo/revoke"
    # Exactly what the revocation will do, video by video.
    assert listed(page, "#outcome-unpublished [data-generation-id]") == [published]
    assert listed(page, "#outcome-deleted [data-generation-id]") == [draft]
    assert listed(page, "#outcome-blocked [data-generation-id]") == []
    assert listed(page, "#outcome-rendering [data-generation-id]") == []
    assert page.locator("#outcome-unpublished .outcome-count").inner_text() == "1"
    assert "a person riding a bike" in page.locator("#outcome-unpublished").inner_text()
    assert "a person walking a dog" in page.locator("#outcome-deleted").inner_text()
    assert status(rt, published) == "published"  # nothing happens before the confirmation
    check_accessibility(page)
    screenshot(page, "cameo-revoke-confirm")

    page.get_by_role("button", name="Revoke consent").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Consent revoked").is_visible()
    assert listed(page, "#outcome-unpublished [data-generation-id]") == [published]
    assert listed(page, "#outcome-deleted [data-generation-id]") == [draft]
    check_accessibility(page)
    screenshot(page, "cameo-revoked")

    # Gone for everyone: not public any more, the draft deleted.
    assert world["eve"].get(f"/api/v1/generations/{published}").status_code == 404
    assert status(rt, published) == "draft"
    assert world["bob"].get(f"/api/v1/generations/{draft}").status_code == 404
    page.goto("/me/cameo")
    assert page.locator("#cameo-status").inner_text() == "Revoked"
    assert page.locator("#revoked-notice").is_visible()
    assert page.get_by_role("link", name="Revoke consent").count() == 0
    check_accessibility(page)
    screenshot(page, "cameo-overview-revoked")
    assert page.console_errors == []


def test_a_cameo_owner_deletes_one_video(world, rt, page):
    published, draft = world["published"], world["draft"]
    log_in(page, "alice@t.test", PASSWORD, next_path="/me/cameo")
    with page.expect_navigation():
        page.locator(f"#appearance-{draft}").get_by_role("link", name=re.compile("Delete this video")).click()
    assert urlsplit(page.url).path == f"/me/cameo/videos/{draft}/delete"
    assert "a person walking a dog" in page.locator("#video").inner_text()
    assert "cannot be undone" in page.locator("#consequences").inner_text()
    assert status(rt, draft) == "draft"
    check_accessibility(page)
    screenshot(page, "cameo-delete-video-confirm")

    page.get_by_role("button", name="Delete this video").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/me/cameo"
    assert "was deleted" in page.get_by_role("status").first.inner_text()
    assert page.locator(f"#appearance-{draft}").count() == 0
    assert page.locator(f"#appearance-{published}").is_visible()  # the other video stays
    assert world["bob"].get(f"/api/v1/generations/{draft}").status_code == 404
    assert status(rt, published) == "published"
    check_accessibility(page)
    screenshot(page, "cameo-video-deleted")

    # A video that is not deletable by her, or not there, gets the 404 page.
    assert page.goto("/me/cameo/videos/nope/delete").status == 404


def _complain(page, rt, tmp_path, gid: str, email: str, image: bytes, name: str) -> None:
    page.goto(f"/complaints/likeness?generation_id={gid}")
    page.get_by_label("Your email", exact=True).fill(email)
    page.get_by_role("button", name="Send code").click()
    page.wait_for_load_state()
    assert email in page.locator("#code-sent").inner_text()
    with rt.db.transaction() as s:
        code = re.search(r"\b(\d{6})\b", mail.outbox(s, email)[0].body).group(1)
    page.get_by_label("The code we sent you").fill(code)
    selfie = tmp_path / f"{name}.png"
    selfie.write_bytes(image)
    page.get_by_label("A photo of your face").set_input_files(str(selfie))
    page.get_by_label("What you want us to know (optional)").fill("that is me, I never agreed")
    page.get_by_role("button", name="Send my complaint").click()
    page.wait_for_load_state()


@pytest.mark.slow
def test_a_likeness_complaint_hides_the_video_only_on_a_match(video, photos, rt, page, browser,  # noqa: F811
                                                                live_server, tmp_path):
    shown, other = video("astronaut"), video("astronaut")

    page.goto(f"/complaints/likeness?generation_id={shown}")
    assert page.get_by_label("Video id").input_value() == shown
    check_accessibility(page)
    screenshot(page, "complaint-form")

    _complain(page, rt, tmp_path, shown, "ann@mail.test", png(another_photo(photos["astronaut"])), "ann")
    assert urlsplit(page.url).path.startswith("/complaints/") and "key=" in page.url
    assert page.locator("#private-link-url").inner_text() == page.url  # shown prominently, once
    assert page.locator("#case-state").inner_text() == "Open"
    assert "hidden from public view" in page.locator("#what-happened").inner_text()
    assert page.locator("#case-due time").count() == 1
    assert status(rt, shown) == "draft"  # hidden at once
    check_accessibility(page)
    screenshot(page, "complaint-filed")
    link = page.url
    page.reload()
    assert page.locator("#private-link").count() == 0  # only once
    assert page.locator("#case-state").inner_text() == "Open"
    assert page.console_errors == []  # (the 404 below is one, on purpose)
    # A wrong key finds nothing.
    assert page.goto(re.sub(r"key=[^&]+", "key=" + "x" * 32, link)).status == 404
    check_accessibility(page)
    screenshot(page, "complaint-not-found")

    # Another visitor, another face: an error, and the video stays up.
    context = browser.new_context(base_url=live_server.url)
    try:
        visitor = context.new_page()
        _complain(visitor, rt, tmp_path, other, "zed@mail.test", png(photos["hopper"]), "zed")
        assert urlsplit(visitor.url).path == "/complaints/likeness"
        error = visitor.locator("#complaint-error")
        assert error.get_attribute("data-code") == "complaint_no_match"
        assert "does not match" in error.inner_text()
        assert status(rt, other) == "published"
        check_accessibility(visitor)
        screenshot(visitor, "complaint-no-match")
    finally:
        context.close()


@pytest.mark.slow
def test_complaint_form_errors_are_4xx_messages(video, rt, page):  # noqa: F811
    gid = video("astronaut")
    page.goto(f"/complaints/likeness?generation_id={gid}")
    page.get_by_label("Your email", exact=True).fill("ann@mail.test")
    page.get_by_role("button", name="Send code").click()
    page.wait_for_load_state()
    page.get_by_label("The code we sent you").fill("000000")
    page.get_by_label("A photo of your face").set_input_files(
        files=[{"name": "me.png", "mimeType": "image/png", "buffer": b"not an image"}])
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Send my complaint").click()
    # A wrong code is refused before the photo is looked at (a right one is a 1 in a million guess).
    assert answer.value.status == 403
    assert page.locator("#complaint-error").get_attribute("data-code") in ("email_code_wrong",)
    assert status(rt, gid) == "published"


def test_a_cameo_owner_deletes_their_cameo(world, rt, page):
    published, draft = world["published"], world["draft"]
    log_in(page, "alice@t.test", PASSWORD, next_path="/me/cameo")
    with page.expect_navigation():
        page.get_by_role("link", name="Delete my cameo").click()
    assert urlsplit(page.url).path == "/me/cameo/delete"
    assert "face template" in page.locator("#to-erase").inner_text()
    assert listed(page, "#outcome-unpublished [data-generation-id]") == [published]
    assert listed(page, "#outcome-deleted [data-generation-id]") == [draft]
    check_accessibility(page)
    screenshot(page, "cameo-delete-confirm")

    page.get_by_role("button", name="Delete my cameo").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Cameo deleted").is_visible()
    assert listed(page, "#outcome-unpublished [data-generation-id]") == [published]
    assert world["eve"].get(f"/api/v1/generations/{published}").status_code == 404
    assert world["alice"].get(f"/api/v1/cameos/{world['cameo']}").get_json()["status"] == "revoked"
    check_accessibility(page)
    screenshot(page, "cameo-deleted")
