"""Claims on published videos, disputes and rulings, through the API."""

from __future__ import annotations

import pytest

from app.models import Role
from tests.app.test_api import envelope
from tests.conftest import drain
from tests.copyright.test_registry_api import claim_and_verify

REASON = "This video reproduces our character Garfield without a licence."


@pytest.fixture
def world(rt, make_api):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    carol, _ = make_api("carol@t.test", role=Role.REVIEWER, handle="carol")
    bob, _ = make_api("bob@t.test", handle="bob")
    eve, _ = make_api("eve@t.test", handle="eve")
    admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["paws"]})
    claim_and_verify(admin, paws)
    paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_attribution"})
    gid = bob.post("/api/v1/generations", json={"prompt": "Garfield napping"}).get_json()["id"]
    drain(rt)
    assert bob.post(f"/api/v1/generations/{gid}/publish").get_json()["status"] == "published"
    return paws, carol, bob, eve, gid


def status(api, gid):
    return api.get(f"/api/v1/generations/{gid}").get_json()["status"]


@pytest.mark.slow
def test_takedown_dispute_and_release_republishes(world):
    paws, carol, bob, eve, gid = world
    claim = paws.post(f"/api/v1/generations/{gid}/claims",
                      json={"work_id": "garfield", "action": "takedown", "reason": REASON})
    assert claim.status_code == 201, claim.get_json()
    claim = claim.get_json()
    assert status(bob, gid) == "draft"
    envelope(bob.post(f"/api/v1/generations/{gid}/publish"), 409, "copyright_takedown")
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "garfield", "action": "monetise", "reason": REASON}), 404,
             "generation_not_found")  # no longer published
    notes = bob.get("/api/v1/notifications").get_json()["items"]
    assert [(n["kind"], n["payload"]["reason"]) for n in notes] == [("video_claimed", REASON)]
    assert [c["id"] for c in bob.get(f"/api/v1/generations/{gid}/claims").get_json()["items"]] == [claim["id"]]
    envelope(eve.get(f"/api/v1/generations/{gid}/claims"), 404)

    envelope(eve.post(f"/api/v1/video-claims/{claim['id']}/dispute", json={"reason": "not mine to dispute"}), 404,
             "video_claim_not_found")
    envelope(carol.post(f"/api/v1/video-claims/{claim['id']}/decision",
                        json={"decision": "release", "reason": "nothing disputed yet"}), 409, "claim_not_disputed")
    disputed = bob.post(f"/api/v1/video-claims/{claim['id']}/dispute",
                        json={"reason": "The policy in force allowed it with attribution."})
    assert disputed.get_json()["status"] == "disputed"
    envelope(bob.post(f"/api/v1/video-claims/{claim['id']}/dispute", json={"reason": "again and again"}), 409,
             "claim_not_disputable")
    envelope(bob.get("/api/v1/video-claims/disputed"), 403, "role_not_allowed")
    assert [c["id"] for c in carol.get("/api/v1/video-claims/disputed").get_json()["items"]] == [claim["id"]]
    ruled = carol.post(f"/api/v1/video-claims/{claim['id']}/decision",
                       json={"decision": "release", "reason": "The work was licensed for this use."})
    assert ruled.get_json()["status"] == "released"
    assert status(bob, gid) == "published"
    kinds = [n["kind"] for n in paws.get("/api/v1/notifications").get_json()["items"]]
    assert kinds == ["video_claim_decided"]


@pytest.mark.slow
def test_an_upheld_takedown_keeps_the_video_down_and_claims_do_not_overlap(world):
    paws, carol, bob, _, gid = world
    claim = paws.post(f"/api/v1/generations/{gid}/claims",
                      json={"work_id": "garfield", "action": "monetise", "reason": REASON}).get_json()
    assert status(bob, gid) == "published"  # monetise keeps it up
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "garfield", "action": "takedown", "reason": REASON}), 409, "claim_overlaps")
    bob.post(f"/api/v1/video-claims/{claim['id']}/dispute", json={"reason": "I made this myself entirely."})
    upheld = carol.post(f"/api/v1/video-claims/{claim['id']}/decision",
                        json={"decision": "uphold", "reason": "The character is clearly Garfield."}).get_json()
    assert (upheld["status"], upheld["decision_reason"]) == ("upheld", "The character is clearly Garfield.")


@pytest.mark.slow
def test_only_holders_of_the_work_may_claim(world, make_api):
    paws, _, bob, _, gid = world
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "odie", "action": "takedown", "reason": REASON}), 404, "work_not_owned")
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "garfield", "action": "delete", "reason": REASON}), 422, "validation_error")
    envelope(bob.post(f"/api/v1/generations/{gid}/claims",
                      json={"work_id": "garfield", "action": "takedown", "reason": REASON}), 403, "role_not_allowed")
    envelope(paws.post("/api/v1/generations/nope/claims",
                       json={"work_id": "garfield", "action": "takedown", "reason": REASON}), 404,
             "generation_not_found")
