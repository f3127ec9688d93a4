"""Post-render: works on screen in the rendered frames, judged by their policy in force."""

from __future__ import annotations

from datetime import datetime, timezone

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from app.models import Role
from tests.conftest import drain
from tests.copyright.test_reference_images import add_reference
from tests.copyright.test_registry_api import claim_and_verify


@pytest.fixture(scope="module")
def cat_photo():
    return cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR)


@pytest.fixture
def render_still(monkeypatch):
    """Make the renderer fill every frame with one picture (a generated video that reproduces a
    work's still)."""
    import generator.render as render

    original = render.draw_frame
    chosen = {}

    def draw(clip, index, size):
        if "still" in chosen:
            rgb = np.ascontiguousarray(chosen["still"][:, :, ::-1])
            return Image.fromarray(rgb).resize((size, size))
        return original(clip, index, size)

    monkeypatch.setattr(render, "draw_frame", draw)
    return lambda image: chosen.__setitem__("still", image)


@pytest.fixture
def world(make_api):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    bob, _ = make_api("bob@t.test", handle="bob")
    admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["paws"]})
    return admin, paws, bob


def generate(api, rt, prompt):
    resp = api.post("/api/v1/generations", json={"prompt": prompt})
    assert resp.status_code == 201, resp.get_json()
    drain(rt)
    return api.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()


def frames_verdict(body):
    return next(v for v in reversed(body["verdicts"]) if v["stage"] == "copyright.frames")


@pytest.mark.slow
def test_a_video_reproducing_an_unlicensed_work_is_blocked_after_rendering(rt, world, cat_photo, render_still):
    admin, _, bob = world
    add_reference(admin, "garfield", cat_photo)
    render_still(cat_photo)
    body = generate(bob, rt, "a cat on a sofa")  # the prompt names nothing: only the frames show it
    assert [v["decision"] for v in body["verdicts"] if v["stage"] == "copyright.rights"] == ["allow"]
    assert body["status"] == "blocked"
    verdict = frames_verdict(body)
    [reason] = verdict["reasons"]
    assert (reason["code"], reason["details"]["work_id"], reason["details"]["matched_by"]) == \
        ("copyright_default_deny", "garfield", "rendered_frame")
    assert verdict["scores"]["frames_scanned"] >= 2


@pytest.mark.slow
def test_a_licensed_work_found_only_on_screen_is_recorded_and_earns_its_share(rt, world, cat_photo, render_still):
    admin, paws, bob = world
    claim_and_verify(admin, paws)
    add_reference(paws, "garfield", cat_photo)
    paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_revenue_share", "share_bp": 1500})
    render_still(cat_photo)
    body = generate(bob, rt, "a cat on a sofa")
    assert body["status"] == "draft", body
    assert [r["code"] for r in frames_verdict(body)["reasons"]] == ["copyright_licensed"]
    assert bob.post(f"/api/v1/generations/{body['id']}/publish").get_json()["status"] == "published"
    paid = admin.post("/api/v1/revenue-events", json={
        "event_id": "ev-1", "generation_id": body["id"], "amount": 10_000, "currency": "USD",
        "occurred_at": datetime.now(timezone.utc).isoformat()}).get_json()  # not before the video existed
    shares = {line["account"]: line["amount"] for line in paid["lines"]}
    # 15 % of what is left after the platform's 20 % (copyright/ledger.py's rule)
    assert [amount for account, amount in shares.items() if account.startswith("rightsholder:")] == [1200]


@pytest.mark.slow
def test_a_video_without_any_work_passes_the_frame_scan(rt, world, cat_photo, monkeypatch):
    import app.kit.perceptual

    admin, _, bob = world
    add_reference(admin, "garfield", cat_photo)
    bank = admin.post("/api/v1/hash-banks", json={"name": "known-bad"}).get_json()["id"]
    admin.post(f"/api/v1/hash-banks/{bank}/media", data=cv2.imencode(".png", cat_photo)[1].tobytes(),
               headers={"Content-Type": "image/png"})
    hashed = []
    real = app.kit.perceptual.fingerprint
    monkeypatch.setattr(app.kit.perceptual, "fingerprint", lambda image: hashed.append(1) or real(image))
    body = generate(bob, rt, "a blue circle and a yellow star")
    # Each frame is hashed once for both the works scan and the hash banks.
    frame_hashes = next(v for v in body["verdicts"] if v["stage"] == "safety.frame_hashes")
    assert len(hashed) == frames_verdict(body)["scores"]["frames_scanned"] == frame_hashes["scores"]["images"]
    assert body["status"] == "draft"
    verdict = frames_verdict(body)
    assert verdict["decision"] == "allow" and verdict["reasons"] == [] and verdict["scores"]["frames_scanned"] >= 2
