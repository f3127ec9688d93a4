"""Co-ownership and revocation, through the API: the cameo owner sees, deletes and revokes."""

from datetime import timedelta

import pytest

from app import orchestrator
from app.models import Generation, Status
from tests.app.test_api import envelope
from tests.conftest import drain
from tests.likeness.enrolled import enrolled_cameo


@pytest.fixture
def world(rt, make_api):
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    eve, _ = make_api("eve@t.test", handle="eve")
    return alice, bob, eve, enrolled_cameo(rt, alice, "Alice", "everyone")


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


# -- withdrawn media: gone for everyone, held for the retention, then purged (issue 13, point 9) ------------

def media_answer(api, gid):
    resp = api.get(f"/api/v1/generations/{gid}/media")
    return resp.status_code, (resp.get_json() or {}).get("error", {}).get("code")


def held_files(rt):
    from app import media_holds

    return sorted(p.name for p in media_holds.hold_dir().iterdir())


@pytest.mark.slow
def test_revocation_withdraws_the_media_from_everyone_the_creator_included(rt, world):
    alice, bob, eve, cameo = world
    draft, published = make(bob, "a person walking a dog", cameo), make(bob, "a person riding a bike", cameo)
    drain(rt)
    assert bob.post(f"/api/v1/generations/{published}/publish").get_json()["status"] == "published"
    for api in (bob, alice, eve):
        assert media_answer(api, published) == (200, None)
    assert (media_answer(bob, draft), media_answer(alice, draft)) == ((200, None), (200, None))

    assert alice.post(f"/api/v1/cameos/{cameo}/revoke").status_code == 200

    # The unpublished one: its creator and the person in it learn why; anyone else finds nothing.
    assert media_answer(bob, published) == (410, "media_withheld")
    assert media_answer(alice, published) == (410, "media_withheld")
    assert media_answer(eve, published) == (404, "generation_not_found")
    body = bob.get(f"/api/v1/generations/{published}").get_json()
    assert (body["status"], body["media_withheld"], body["media_url"]) == ("draft", "cameo_consent_revoked", None)
    # The deleted draft is gone for all three.
    for api in (bob, alice, eve):
        assert media_answer(api, draft) == (404, "generation_not_found")
    # Neither file is in the media folder any more: both wait in the legal hold, readable by no one else.
    assert not any(rt.storage.path(f"generations/{g}.mp4").exists() for g in (draft, published))
    from app import media_holds
    from app.models import MediaHold

    with rt.db.transaction() as s:
        holds = {h.generation_id: (h.reason, h.id) for h in s.query(MediaHold)}
    assert set(holds) == {draft, published} and {r for r, _ in holds.values()} == {"cameo_consent_revoked"}
    assert held_files(rt) == sorted(f"{hid}.mp4" for _, hid in holds.values())
    assert oct(media_holds.hold_dir().stat().st_mode & 0o777) == "0o700"
    assert all(oct((media_holds.hold_dir() / f).stat().st_mode & 0o777) == "0o600" for f in held_files(rt))
    assert rt.config.media_dir not in media_holds.hold_dir().parents
    # The creator is told, with what happened to the media.
    notes = {n["payload"]["generation_id"]: n for n in bob.get("/api/v1/notifications").get_json()["items"]}
    assert {g: (n["kind"], n["payload"]["action"], n["payload"]["media"]) for g, n in notes.items()} == {
        draft: ("cameo_consent_revoked", "deleted", "withheld"),
        published: ("cameo_consent_revoked", "unpublished", "withheld")}
    envelope(bob.post(f"/api/v1/generations/{published}/publish"), 409, "consent_revoked")


@pytest.mark.slow
def test_consent_given_again_does_not_bring_withdrawn_media_back(rt, make_api):
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone")
    gid = make(bob, "a person riding a bike", cameo)
    drain(rt)
    assert bob.post(f"/api/v1/generations/{gid}/publish").status_code == 200
    # Narrowing the permission withdraws it like a revocation does; widening it again restores nothing.
    assert alice.patch(f"/api/v1/cameos/{cameo}", json={"permission": "only_me"}).status_code == 200
    assert media_answer(bob, gid) == (410, "media_withheld")
    assert alice.patch(f"/api/v1/cameos/{cameo}", json={"permission": "everyone"}).status_code == 200
    assert media_answer(bob, gid) == (410, "media_withheld")
    envelope(bob.post(f"/api/v1/generations/{gid}/publish"), 410, "media_withheld")


@pytest.mark.slow
def test_a_co_owners_deletion_withholds_the_media_and_tells_the_creator(rt, world):
    alice, bob, eve, cameo = world
    published = make(bob, "a person riding a bike", cameo)
    drain(rt)
    assert bob.post(f"/api/v1/generations/{published}/publish").status_code == 200
    assert alice.delete(f"/api/v1/generations/{published}").status_code == 204
    for api in (bob, alice, eve):
        assert media_answer(api, published) == (404, "generation_not_found")
    assert not rt.storage.path(f"generations/{published}.mp4").exists()
    assert len(held_files(rt)) == 1
    notes = [(n["kind"], n["payload"]) for n in bob.get("/api/v1/notifications").get_json()["items"]]
    assert notes == [("deleted_by_co_owner", {"generation_id": published, "media": "withheld"})]
    # The creator's own deletion is not a withdrawal: the file goes at once, nothing is held.
    own = make(bob, "a person reading", cameo)
    drain(rt)
    assert bob.delete(f"/api/v1/generations/{own}").status_code == 204
    assert not rt.storage.path(f"generations/{own}.mp4").exists() and len(held_files(rt)) == 1


@pytest.mark.slow
def test_held_media_is_purged_after_the_retention_with_progress(rt, world, monkeypatch):
    from click.testing import CliRunner

    from app import media_holds
    from app.cli import main
    from app.db import utcnow
    from app.models import MediaHold

    alice, bob, _, cameo = world
    kept = make(bob, "a person walking a dog", cameo)
    drain(rt)
    alice.post(f"/api/v1/cameos/{cameo}/revoke")  # held for the default 30 days
    monkeypatch.setenv("GL_MEDIA_HOLD_DAYS", "0")
    fresh_cameo = enrolled_cameo(rt, alice, "Alice Again", "everyone")
    due = make(bob, "a person reading", fresh_cameo)
    drain(rt)
    alice.delete(f"/api/v1/generations/{due}")  # held for 0 days: due now
    assert len(held_files(rt)) == 2

    out = CliRunner().invoke(main, ["media", "purge"])
    assert out.exit_code == 0, out.output
    with rt.db.transaction() as s:
        holds = {h.generation_id: h for h in s.query(MediaHold)}
        assert holds[due].purged_at is not None and holds[kept].purged_at is None
        due_hold, kept_hold = holds[due].id, holds[kept].id
    assert f"[1/1] purged {due_hold}.mp4 (generation {due}, deleted_by_co_owner" in out.output
    assert "purged 1 held videos past their retention" in out.output
    assert held_files(rt) == [f"{kept_hold}.mp4"]
    # Once its 30 days have passed, the other goes too; a second run finds nothing left to do.
    with rt.db.transaction() as s:
        assert media_holds.purge(s, now=utcnow() + timedelta(days=31)).purged == 1
    assert held_files(rt) == []
    with rt.db.transaction() as s:
        assert media_holds.purge(s, now=utcnow() + timedelta(days=31)).purged == 0
