"""A remix shows the parent's people again: it needs their consent, and they co-own it."""

from __future__ import annotations

import pytest

from tests.app.test_api import envelope
from tests.conftest import drain
from tests.likeness.enrolled import enrolled_cameo


def generate(api, rt, prompt, cameo_ids=(), remix_of=None):
    resp = api.post("/api/v1/generations", json={"prompt": prompt, "cameo_ids": list(cameo_ids), "remix_of": remix_of})
    assert resp.status_code == 201, resp.get_json()
    drain(rt)
    return api.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()


@pytest.mark.slow
def test_remixing_a_video_needs_consent_of_everyone_in_it(rt, make_api):
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    carol, _ = make_api("carol@t.test", handle="carol")
    cameo = enrolled_cameo(rt, alice, "Alice", "approved", approved_handles=["bob"])
    parent = generate(bob, rt, "a person on a green hill", [cameo])
    assert parent["status"] == "draft"
    # A draft is not Carol's to remix: it does not exist for her.
    envelope(carol.post("/api/v1/generations", json={"prompt": "x", "remix_of": parent["id"]}), 404,
             "remix_parent_not_found")
    assert bob.post(f"/api/v1/generations/{parent['id']}/publish").get_json()["status"] == "published"

    # Carol may see the published video but may not put Alice in a new one.
    refused = generate(carol, rt, "the same, at night", remix_of=parent["id"])
    assert refused["status"] == "blocked"
    consent = next(v for v in refused["verdicts"] if v["stage"] == "likeness.cameo_consent")
    assert [(r["code"], r["details"]) for r in consent["reasons"]] == \
        [("cameo_not_permitted", {"cameo_id": cameo, "via": "remix_of"})]

    # Once Alice allows everyone, the remix renders, the post-render scan counts her as asked for,
    # and she co-owns the remix.
    assert alice.patch(f"/api/v1/cameos/{cameo}", json={"permission": "everyone"}).status_code == 200
    remix = generate(carol, rt, "the same, at night", remix_of=parent["id"])
    assert remix["status"] == "draft", remix["verdicts"]
    listed = {a["generation_id"]: a["source"] for a in alice.get(f"/api/v1/cameos/{cameo}/appearances").get_json()["items"]}
    # (Carol's refused attempt is listed too: Alice learns who tried to put her on screen.)
    assert listed == {parent["id"]: "declared", refused["id"]: "remixed", remix["id"]: "remixed"}
    assert alice.get(f"/api/v1/generations/{remix['id']}").status_code == 200

    # Revoking reaches the remix too.
    assert alice.post(f"/api/v1/cameos/{cameo}/revoke").status_code == 200
    envelope(carol.get(f"/api/v1/generations/{remix['id']}"), 404)
    notes = carol.get("/api/v1/notifications").get_json()["items"]
    assert [(n["kind"], n["payload"]["generation_id"], n["payload"]["action"]) for n in notes] == \
        [("cameo_consent_revoked", remix["id"], "deleted")]


@pytest.mark.slow
def test_an_adult_may_neither_use_nor_remix_a_minors_cameo(rt, make_api):
    """Issue 13, point 8: mutual follows (or an approval) do not let an adult put a minor on screen."""
    from datetime import date

    teen, _ = make_api("teen@t.test", handle="teen", birthdate=date(date.today().year - 15, 1, 1))
    friend, _ = make_api("friend@t.test", handle="friend", birthdate=date(date.today().year - 14, 1, 1))
    adult, _ = make_api("adult@t.test", handle="adult")
    for a, b in ((teen, "friend"), (friend, "teen"), (teen, "adult"), (adult, "teen")):
        assert a.post("/api/v1/follows", json={"handle": b}).status_code == 204
    cameo = enrolled_cameo(rt, teen, "Teen", "mutuals")
    direct = generate(adult, rt, "a person on a swing", [cameo])
    consent = next(v for v in direct["verdicts"] if v["stage"] == "likeness.cameo_consent")
    assert direct["status"] == "blocked" and [r["code"] for r in consent["reasons"]] == ["cameo_owner_minor"]

    parent = generate(friend, rt, "a person on a swing", [cameo])
    assert parent["status"] == "draft", [(v["stage"], v["decision"], [(r["code"], r["details"]) for r in v["reasons"]])
                                         for v in parent["verdicts"] if v["decision"] != "allow"]
    assert friend.post(f"/api/v1/generations/{parent['id']}/publish").get_json()["status"] == "published"
    remix = generate(adult, rt, "the same, at night", remix_of=parent["id"])
    consent = next(v for v in remix["verdicts"] if v["stage"] == "likeness.cameo_consent")
    assert remix["status"] == "blocked"
    assert [(r["code"], r["details"]) for r in consent["reasons"]] == \
        [("cameo_owner_minor", {"cameo_id": cameo, "via": "remix_of"})]
