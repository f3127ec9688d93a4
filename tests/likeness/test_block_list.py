"""The block list beats every permission, and narrowing a permission revokes consent for those who lost it."""

from __future__ import annotations

import pytest

from tests.app.test_api import envelope
from tests.conftest import drain
from tests.likeness.enrolled import enrolled_cameo


def status(api, gid):
    resp = api.get(f"/api/v1/generations/{gid}")
    return resp.get_json()["status"] if resp.status_code == 200 else resp.status_code


def make(api, cameo_id, prompt="a person on a bench"):
    resp = api.post("/api/v1/generations", json={"prompt": prompt, "cameo_ids": [cameo_id]})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


@pytest.fixture
def people(make_api):
    return {h: make_api(f"{h}@t.test", handle=h)[0] for h in ("alice", "bob", "carol")}


def test_a_blocked_user_cannot_use_a_cameo_open_to_everyone(rt, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    cameo = alice.get(f"/api/v1/cameos/{enrolled_cameo(rt, alice, 'Alice', 'everyone', blocked_handles=['bob'])}")\
        .get_json()
    assert cameo["blocked_user_ids"] and cameo["permission"] == "everyone"
    refused = make(bob, cameo["id"])
    assert refused["status"] == "blocked"
    assert [r["code"] for v in refused["verdicts"] for r in v["reasons"]] == ["cameo_not_permitted"]
    assert make(carol, cameo["id"])["status"] == "queued"
    # Even an explicit approval does not beat the block list.
    alice.patch(f"/api/v1/cameos/{cameo['id']}", json={"permission": "approved", "approved_handles": ["bob"]})
    assert make(bob, cameo["id"])["status"] == "blocked"
    envelope(alice.patch(f"/api/v1/cameos/{cameo['id']}", json={"blocked_handles": ["alice"]}), 422,
             "cannot_block_self")
    envelope(alice.patch(f"/api/v1/cameos/{cameo['id']}", json={"blocked_handles": ["nobody_here"]}), 422,
             "unknown_handle")


@pytest.mark.slow
def test_blocking_someone_later_pulls_their_videos_and_only_theirs(rt, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone")
    bob_draft, bob_public, carol_draft = make(bob, cameo)["id"], make(bob, cameo)["id"], make(carol, cameo)["id"]
    drain(rt)
    assert bob.post(f"/api/v1/generations/{bob_public}/publish").get_json()["status"] == "published"
    bob_queued = make(bob, cameo)["id"]

    assert alice.patch(f"/api/v1/cameos/{cameo}", json={"blocked_handles": ["bob"]}).status_code == 200
    assert status(bob, bob_draft) == 404            # deleted
    assert status(bob, bob_public) == "draft"       # unpublished
    assert status(bob, bob_queued) == "blocked"
    assert status(carol, carol_draft) == "draft"    # Carol still has consent
    kinds = sorted(n["payload"]["action"] for n in bob.get("/api/v1/notifications").get_json()["items"])
    assert kinds == ["blocked", "deleted", "unpublished"]
    assert carol.get("/api/v1/notifications").get_json()["items"] == []


@pytest.mark.slow
def test_narrowing_the_permission_revokes_consent_for_those_who_lost_it(rt, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone")
    bob_draft, carol_draft, own_draft = make(bob, cameo)["id"], make(carol, cameo)["id"], make(alice, cameo)["id"]
    drain(rt)
    assert alice.patch(f"/api/v1/cameos/{cameo}", json={"permission": "approved",
                                                        "approved_handles": ["carol"]}).status_code == 200
    assert (status(bob, bob_draft), status(carol, carol_draft), status(alice, own_draft)) == (404, "draft", "draft")
