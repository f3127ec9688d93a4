"""Co-ownership and revocation, through the API: the cameo owner sees, deletes and revokes."""

import pytest

from app import orchestrator
from app.models import Generation, Status
from tests.app.test_api import envelope
from tests.conftest import drain


@pytest.fixture
def world(make_api):
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    eve, _ = make_api("eve@t.test", handle="eve")
    cameo = alice.post("/api/v1/cameos", json={"display_name": "Alice", "permission": "everyone"}).get_json()
    return alice, bob, eve, cameo["id"]


def make(api, prompt, cameo_id):
    resp = api.post("/api/v1/generations", json={"prompt": prompt, "cameo_ids": [cameo_id]})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def status(api, gid):
    return api.get(f"/api/v1/generations/{gid}").get_json()["status"]


@pytest.mark.slow
def test_cameo_owner_is_co_owner_of_drafts_featuring_them(rt, world):
    alice, bob, eve, cameo = world
    gid = make(bob, "a person juggling oranges", cameo)
    drain(rt)
    assert status(bob, gid) == "draft"
    listed = alice.get(f"/api/v1/cameos/{cameo}/appearances").get_json()["items"]
    assert [(a["generation_id"], a["status"], a["creator_handle"], a["source"]) for a in listed] == \
        [(gid, "draft", "bob", "declared")]
    assert alice.get(f"/api/v1/generations/{gid}").status_code == 200
    assert alice.get(f"/api/v1/generations/{gid}/media").status_code == 200
    envelope(eve.get(f"/api/v1/generations/{gid}"), 404)
    envelope(eve.get(f"/api/v1/cameos/{cameo}/appearances"), 404, "cameo_not_found")
    # A co-owner may delete it; they may not publish it.
    envelope(alice.post(f"/api/v1/generations/{gid}/publish"), 404)
    assert alice.delete(f"/api/v1/generations/{gid}").status_code == 204
    envelope(bob.get(f"/api/v1/generations/{gid}"), 404)
    assert not rt.storage.path(f"generations/{gid}.mp4").exists()


@pytest.mark.slow
def test_revocation_cascades_and_notifies_creators(rt, world):
    alice, bob, _, cameo = world
    draft = make(bob, "a person walking a dog", cameo)
    published = make(bob, "a person riding a bike", cameo)
    drain(rt)
    assert bob.post(f"/api/v1/generations/{published}/publish").get_json()["status"] == "published"
    queued = make(bob, "a person reading", cameo)
    held = make(bob, "a person holding a gun", cameo)
    assert (status(bob, queued), status(bob, held)) == ("queued", "in_review")
    draft_media = rt.storage.path(f"generations/{draft}.mp4")
    assert draft_media.exists()

    revoked = alice.post(f"/api/v1/cameos/{cameo}/revoke").get_json()
    assert revoked["status"] == "revoked"

    envelope(bob.get(f"/api/v1/generations/{draft}"), 404)
    assert not draft_media.exists()
    assert status(bob, published) == "draft"          # unpublished
    assert status(bob, queued) == "blocked"
    assert status(bob, held) == "blocked"
    notes = [n for n in bob.get("/api/v1/notifications").get_json()["items"] if n["kind"] != "case_opened"]
    assert sorted((n["payload"]["generation_id"], n["payload"]["action"]) for n in notes) == sorted([
        (draft, "deleted"), (published, "unpublished"), (queued, "blocked"), (held, "blocked")])
    assert all(n["kind"] == "cameo_consent_revoked" and not n["read"] for n in notes)
    assert bob.post(f"/api/v1/notifications/{notes[0]['id']}/read").status_code == 204
    envelope(alice.post(f"/api/v1/notifications/{notes[0]['id']}/read"), 404, "notification_not_found")
    # The unpublished video cannot go back up while consent is withdrawn.
    err = envelope(bob.post(f"/api/v1/generations/{published}/publish"), 409, "consent_revoked")
    assert err["details"]["cameos"] == [{"cameo_id": cameo, "code": "cameo_revoked"}]
    # The queued render job finds nothing to do.
    drain(rt)
    assert status(bob, queued) == "blocked"


@pytest.mark.slow
def test_revocation_while_rendering_is_caught_by_the_post_render_consent_check(rt, world):
    alice, bob, _, cameo = world
    gid = make(bob, "a person dancing", cameo)
    rt.queues.run_burst(("render",))
    with rt.db.transaction() as s:
        assert s.get(Generation, gid).status == Status.SCANNING
    alice.post(f"/api/v1/cameos/{cameo}/revoke")
    assert orchestrator.scan(rt, gid) == Status.BLOCKED
    verdicts = bob.get(f"/api/v1/generations/{gid}").get_json()["verdicts"]
    post = [v for v in verdicts if v["phase"] == "post_render" and v["decision"] == "block"]
    assert [(v["stage"], v["reasons"][0]["code"]) for v in post] == [("likeness.cameo_consent", "cameo_revoked")]


def test_deleting_a_cameo_revokes_it(world):
    alice, bob, _, cameo = world
    queued = make(bob, "a person reading", cameo)
    assert alice.delete(f"/api/v1/cameos/{cameo}").status_code == 204
    assert status(bob, queued) == "blocked"
    assert alice.get(f"/api/v1/cameos/{cameo}").get_json()["status"] == "revoked"
    envelope(bob.delete(f"/api/v1/cameos/{cameo}"), 404, "cameo_not_found")
