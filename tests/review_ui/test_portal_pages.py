"""/portal: the rightsholder's organisation, works, policies, reference images, claims on videos,
their disputes and revenue, in Chromium on both backends; refusals as pages, never a 500."""

from __future__ import annotations

import io
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from app import case_decisions
from app.models import Case, Generation, Role, Status, User
from copyright import revenue, services
from copyright.models import GenerationWork, PolicyKind
from tests.conftest import PASSWORD, create_user
from tests.copyright.test_registry_api import claim_and_verify
from tests.review_ui.conftest import check_accessibility, log_in, screenshot
from tests.review_ui.test_auth_pages import _token

GARFIELD = "Garfield eating lasagna"
TAKEDOWN_REASON = "This video reproduces our character Garfield without a licence."
DISPUTE_REASON = "The policy in force allowed the character with attribution."


@pytest.fixture
def world(rt, make_api):
    """Paws, Inc. holds a verified claim on Garfield, whose policy (version 1) blocks every use;
    Acme holds Odie; Bob is a creator."""
    admin_api, admin = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws_api, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    acme_api, _ = make_api("acme@t.test", role=Role.RIGHTSHOLDER, handle="acme")
    bob_api, _ = make_api("bob@t.test", handle="bob")
    for name, handle in (("Paws, Inc.", "paws"), ("Acme", "acme")):
        made = admin_api.post("/api/v1/rightsholders/orgs", json={"name": name, "member_handles": [handle]})
        assert made.status_code == 201, made.get_json()
    claim_and_verify(admin_api, paws_api)
    claim_and_verify(admin_api, acme_api, "odie")
    assert paws_api.put("/api/v1/works/garfield/policy", json={"kind": "block"}).get_json()["version"] == 1
    return {"admin": admin, "paws": paws_api, "acme": acme_api, "bob": bob_api}


def generate(api, prompt: str) -> dict:
    made = api.post("/api/v1/generations", json={"prompt": prompt})
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def status(api, gid: str) -> str:
    return api.get(f"/api/v1/generations/{gid}").get_json()["status"]


def rendered(live_server, api, gid: str, timeout: float = 120) -> str:
    """Wait for the render: the embedded worker does it on SQLite, run_jobs() on Redis."""
    deadline = time.monotonic() + timeout
    while True:
        live_server.run_jobs()
        now = status(api, gid)
        if now not in ("submitted", "gating", "queued", "rendering", "scanning") or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def published_garfield_video(world, live_server) -> str:
    assert world["paws"].put("/api/v1/works/garfield/policy",
                             json={"kind": "allow_with_attribution"}).get_json()["version"] == 2
    gid = generate(world["bob"], GARFIELD)["id"]
    assert rendered(live_server, world["bob"], gid) == "draft"
    assert world["bob"].post(f"/api/v1/generations/{gid}/publish").get_json()["status"] == "published"
    return gid


def file_garfield_takedown(page, gid: str) -> None:
    """Paws logs in and files a Garfield takedown against `gid` through the portal's claim form."""
    log_in(page, "paws@t.test", PASSWORD, next_path="/portal")
    form = page.locator("form.claim-form")
    form.get_by_label("Generation id").fill(gid)
    form.get_by_label("Work").select_option("garfield")
    form.get_by_label("Take down").check()
    form.get_by_label("Reason").fill(TAKEDOWN_REASON)
    form.get_by_role("button", name="File claim").click()
    page.wait_for_load_state()


def test_a_rightsholder_opts_a_work_in_and_the_same_prompt_then_passes(page, world, live_server):
    bob = world["bob"]
    assert generate(bob, GARFIELD)["status"] == "blocked"

    log_in(page, "paws@t.test", PASSWORD, next_path="/portal")
    assert urlsplit(page.url).path == "/portal"
    assert page.get_by_role("heading", level=1).inner_text() == "Rightsholder portal: Paws, Inc."
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Portal").get_attribute("aria-current") == "page"
    assert page.locator(".members").inner_text().strip() == "@paws"
    work = page.locator("#work-garfield")
    assert work.get_by_role("heading", level=3).inner_text() == "Garfield"
    assert "Garfield the cat" in work.locator(".aliases").inner_text()
    assert work.locator(".current-policy").inner_text().strip() == "Block, version 1"
    assert page.locator("#work-odie").count() == 0  # Acme's work is not ours
    assert page.locator("tr.used-generation").count() == 1  # the blocked request used the work
    check_accessibility(page)
    screenshot(page, "portal-overview")

    work.get_by_label("Allow with attribution").check()
    work.get_by_label("No sexual content").check()
    work.get_by_role("button", name="Save policy").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/portal"
    assert page.get_by_role("status").first.inner_text() == "Policy version 2 is now in force."
    work = page.locator("#work-garfield")
    assert work.locator(".current-policy").inner_text().strip() == "Allow with attribution, version 2"
    history = work.locator("tr.policy-version")
    assert history.count() == 2
    assert history.nth(0).inner_text().startswith("2\tAllow with attribution")
    assert "No sexual" in history.nth(0).inner_text()
    assert work.get_by_label("Allow with attribution").is_checked()
    check_accessibility(page)
    screenshot(page, "portal-policy-saved")

    again = generate(bob, GARFIELD)
    assert again["status"] == "queued", again
    assert page.console_errors == []


def test_a_claim_on_a_work_the_video_does_not_use_says_it_waits_for_review(page, world, live_server):
    bob = world["bob"]
    gid = generate(bob, "a red kite over a quiet beach")["id"]
    assert rendered(live_server, bob, gid) == "draft"
    assert bob.post(f"/api/v1/generations/{gid}/publish").get_json()["status"] == "published"

    file_garfield_takedown(page, gid)
    assert page.get_by_role("status").first.inner_text().startswith("The claim was filed and waits for review")
    assert page.locator("tr.video-claim .claim-status").inner_text() == "Pending review"
    assert status(bob, gid) == "published"  # nothing happened to the video
    assert page.console_errors == []


@pytest.mark.slow
def test_a_claim_is_filed_and_its_dispute_lapses_at_the_deadline(page, rt, world, live_server):
    bob = world["bob"]
    gid = published_garfield_video(world, live_server)

    file_garfield_takedown(page, gid)
    assert page.get_by_role("status").first.inner_text() == "The claim was filed."
    row = page.locator("tr.video-claim")
    assert row.count() == 1 and gid in row.inner_text()
    assert row.locator(".claim-status").inner_text() == "Open"
    claim_id = row.get_attribute("id").removeprefix("claim-")
    assert status(bob, gid) == "draft"  # taken down

    disputed = bob.post(f"/api/v1/video-claims/{claim_id}/dispute", json={"reason": DISPUTE_REASON})
    assert disputed.status_code == 200, disputed.get_json()
    case_id = disputed.get_json()["case_id"]
    page.reload()
    dispute = page.locator(f"#dispute-{case_id}")
    assert DISPUTE_REASON in dispute.inner_text() and "Open" in dispute.inner_text()
    countdown = dispute.locator(".countdown")
    assert re.fullmatch(r"due in (29 d 23 h|30 d 0 h)", countdown.inner_text()), countdown.inner_text()
    assert "overdue" not in countdown.get_attribute("class")
    with rt.db.transaction() as s:
        due = s.get(Case, case_id).due_at
    assert dispute.locator("time").get_attribute("datetime").startswith(due.strftime("%Y-%m-%dT%H:%M:%S"))
    check_accessibility(page)
    screenshot(page, "portal-dispute-open")

    dispute.get_by_role("link", name=f"Case {case_id}").click()
    page.wait_for_load_state()
    # Every party reads a case on the same page (review_ui/appeals.py), disputes included.
    assert urlsplit(page.url).path == f"/appeals/{case_id}"
    assert page.locator("#case-state").inner_text() == "Open"
    assert DISPUTE_REASON in page.content()
    check_accessibility(page)
    screenshot(page, "portal-dispute-case")

    with rt.db.transaction() as s:
        admin = s.get(User, world["admin"].id)
        assert case_decisions.sweep(s, admin, now=due - timedelta(hours=1))["lapsed"] == 0
        assert case_decisions.sweep(s, admin, now=due + timedelta(seconds=1))["lapsed"] == 1
    page.goto("/portal#video-claims")
    row = page.locator(f"#claim-{claim_id}")
    assert row.locator(".claim-status").inner_text() == "Released"
    assert "not decided within 30 days" in row.inner_text()
    dispute = page.locator(f"#dispute-{case_id}")
    assert "Decided: Overturn" in dispute.inner_text() and dispute.locator(".countdown").count() == 0
    assert status(bob, gid) == "published"
    check_accessibility(page)
    screenshot(page, "portal-claim-released")
    assert page.console_errors == []


def png_file(tmp_path) -> tuple[bytes, str]:
    image = Image.new("RGB", (64, 48))
    image.putdata([((x * 4) % 256, (y * 5) % 256, (x * y) % 256) for y in range(48) for x in range(64)])
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    path = tmp_path / "garfield.png"
    path.write_bytes(buf.getvalue())
    return buf.getvalue(), str(path)


def earned(rt, world) -> None:
    """A published Garfield video under a 15 % revenue share earned 100.00 USD (as tests/copyright/test_portal.py)."""
    with rt.db.transaction() as s:
        admin = s.get(User, world["admin"].id)
        paws = s.scalar(select(User).where(User.handle == "paws"))
        bob = s.scalar(select(User).where(User.handle == "bob"))
        policy = services.set_policy(s, paws, "garfield", PolicyKind.ALLOW_WITH_REVENUE_SHARE, 1500, [],
                                     datetime.now(timezone.utc) - timedelta(days=1), None)
        gen = Generation(owner_id=bob.id, prompt="Garfield napping in the sun", status=Status.PUBLISHED,
                         created_at=datetime.now(timezone.utc) - timedelta(hours=1))  # before its revenue
        s.add(gen)
        s.flush()
        s.add(GenerationWork(generation_id=gen.id, work_id="garfield", policy_id=policy.id, org_id=policy.org_id,
                             decision="allow", via="prompt"))
        s.flush()
        revenue.record_revenue(s, admin, "pay-1", gen.id, 10_000, "USD",
                               datetime.now(timezone.utc) - timedelta(minutes=5))


def test_reference_images_are_uploaded_and_removed_and_the_statement_downloads(page, rt, world, tmp_path):
    data, path = png_file(tmp_path)
    earned(rt, world)
    log_in(page, "paws@t.test", PASSWORD, next_path="/portal")
    assert page.locator("li.balance").inner_text() == "12.00 USD"  # 10 000 - 20 % platform, 15 % of the rest
    assert page.locator("tr.statement-row").inner_text().split("\t")[1:3] == ["12.00 USD", "1"]
    refs = page.locator("#work-garfield-references")
    assert refs.get_by_text("No reference images.").is_visible()
    refs.get_by_label("Reference image", exact=True).set_input_files(path)
    refs.get_by_role("button", name="Upload").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").first.inner_text() == "The reference image was added."
    refs = page.locator("#work-garfield-references")
    row = refs.locator("tr.reference")
    assert row.count() == 1
    assert f"{len(data) / 1024:.1f} KiB" in row.inner_text() or f"{len(data)} bytes" in row.inner_text()
    assert row.locator("time").count() == 1
    check_accessibility(page)
    screenshot(page, "portal-reference-added")

    # Not an image: the service's refusal as a message with its status, nothing stored.
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        refs.get_by_label("Reference image", exact=True).set_input_files(
            files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not an image at all"}])
        refs.get_by_role("button", name="Upload").click()
    assert answer.value.status == 422
    page.wait_for_load_state()
    assert "JPEG, PNG or WebP" in page.get_by_role("alert").inner_text()
    assert page.locator("#work-garfield-references tr.reference").count() == 1
    check_accessibility(page)

    page.goto("/portal")
    page.locator("#work-garfield-references").get_by_role("button", name="Remove").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").first.inner_text() == "The reference image was removed."
    assert page.locator("#work-garfield-references tr.reference").count() == 0
    screenshot(page, "portal-reference-removed")

    link = page.get_by_role("link", name="Download CSV")
    answer = page.request.get(link.get_attribute("href"))
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    lines = answer.text().splitlines()
    # The last column, adjusts_period, is empty: the event is booked in its own month.
    assert lines[0].startswith("period,event_id,kind") and ",pay-1," in lines[1] and lines[1].endswith(",USD,1200,")
    assert [e for e in page.console_errors if "422" not in e] == []  # the refused upload's answer alone


def test_the_portal_needs_a_login_and_the_rightsholder_role(page, rt, live_server):
    create_user(rt, "bob@t.test", handle="bob")
    page.goto("/portal")
    assert urlsplit(page.url).path == "/login" and "next=/portal" in page.url
    log_in(page, "bob@t.test", PASSWORD)
    answer = page.goto("/portal")
    assert answer.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Not for your role"
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Portal").count() == 0
    check_accessibility(page)
    screenshot(page, "portal-forbidden")


def logged_in(client, email: str) -> str:
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": _token(client)})
    return _token(client, "/portal")


def test_refusals_are_pages_with_their_status_and_other_orgs_ids_are_not_found(rt, world, client, tmp_path):
    csrf = logged_in(client, "paws@t.test")
    # Another organisation's work: the 404 page, whatever the action.
    for path, data in (("/portal/works/odie/policy", {"kind": "allow"}),
                       ("/portal/works/odie/references/nope/remove", {}),
                       ("/portal/works/garfield/references/nope/remove", {})):
        answer = client.post(path, data={**data, "csrf_token": csrf})
        assert answer.status_code == 404, (path, answer.status_code)
        assert "<h1>Not found</h1>" in answer.get_data(as_text=True)
    assert client.get("/cases/nope").status_code == 404
    # The service's validation: a message on the portal with 422, nothing changed.
    for data in ({"kind": "sometimes"}, {"kind": "allow_with_revenue_share", "share_percent": "lots"},
                 {"kind": "allow_with_revenue_share", "share_percent": "nan"},
                 {"kind": "allow_with_revenue_share", "share_percent": "-inf"}):
        answer = client.post("/portal/works/garfield/policy", data={**data, "csrf_token": csrf})
        assert answer.status_code == 422 and 'id="portal-error"' in answer.get_data(as_text=True)
    assert client.post("/portal/claims", data={"generation_id": "x", "work_id": "garfield", "action": "takedown",
                                               "reason": "too short", "csrf_token": csrf}).status_code == 422
    answer = client.post("/portal/claims", data={"generation_id": "nope", "work_id": "garfield",
                                                 "action": "takedown", "reason": TAKEDOWN_REASON,
                                                 "csrf_token": csrf})
    assert answer.status_code == 404  # generation_not_found
    answer = client.post("/portal/works/garfield/references", data={"csrf_token": csrf})
    assert answer.status_code == 422
    page = client.get("/portal").get_data(as_text=True)
    assert page.count('class="policy-version"') == 1  # still version 1 alone
    assert client.get("/portal/statements.csv?period=2026-13").status_code == 422
    # No CSRF token: refused before any service runs.
    assert client.post("/portal/works/garfield/policy", data={"kind": "allow"}).status_code == 403


def test_an_oversized_upload_is_refused_with_413(rt, world, client, monkeypatch):
    monkeypatch.setenv("GL_MAX_IMAGE_BYTES", "1000")
    csrf = logged_in(client, "paws@t.test")
    big = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 200_000)
    answer = client.post("/portal/works/garfield/references", data={"csrf_token": csrf, "image": (big, "big.png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 413 and "too large" in answer.get_data(as_text=True)


def test_money_is_shown_in_major_units():
    from review_ui.portal import money

    assert money(123456, "USD") == "1,234.56 USD" and money(-5, "EUR") == "-0.05 EUR"
    assert money(1500, "JPY") == "1,500 JPY" and money(1234, "KWD") == "1.234 KWD"


def test_an_admin_outside_any_organisation_is_told_so(rt, client):
    create_user(rt, "root@t.test", Role.ADMIN, handle="root")
    client.post("/login", data={"email": "root@t.test", "password": PASSWORD, "csrf_token": _token(client)})
    answer = client.get("/portal")
    assert answer.status_code == 403 and "rightsholder organisation" in answer.get_data(as_text=True)
