"""The cameo owner's page service (app.interfaces.CameoOwnerPage), without Flask: what the page
shows, and that the revocation preview is what the revocation does."""

from __future__ import annotations

import pytest

from app import domains
from app.errors import NotFound, ValidationFailed
from app.interfaces import CameoOwnerPage
from app.models import Generation, Status, User
from likeness import services
from likeness.models import CameoAppearance, FaceTemplate, Permission
from tests.conftest import create_user
from tests.likeness.enrolled import enrol


@pytest.fixture
def page():
    return domains.service(CameoOwnerPage)


@pytest.fixture
def world(rt):
    """Alice's cameo in Bob's videos in every state; Eve's cameo in one of Bob's videos."""
    alice, bob, eve = (create_user(rt, f"{h}@t.test", handle=h) for h in ("alice", "bob", "eve"))
    with rt.db.transaction() as s:
        cameo = services.create_cameo(s, s.get(User, alice.id), "Alice", Permission.EVERYONE, [], ["eve"]).id
        eves = services.create_cameo(s, s.get(User, eve.id), "Eve", Permission.EVERYONE, []).id
        gens = {}
        for name, status in [("published", Status.PUBLISHED), ("draft", Status.DRAFT), ("held", Status.IN_REVIEW),
                             ("queued", Status.QUEUED), ("rendering", Status.RENDERING),
                             ("old", Status.DELETED), ("named", Status.BLOCKED), ("eves", Status.PUBLISHED)]:
            gen = Generation(owner_id=bob.id, prompt=f"a {name} video " + "with a long prompt " * 6,
                             cameo_ids=[eves if name == "eves" else cameo], status=status.value)
            s.add(gen)
            s.flush()
            gens[name] = gen.id
            if name != "named":  # a refused request records no appearance: it only named the cameo
                s.add(CameoAppearance(generation_id=gen.id, cameo_id=eves if name == "eves" else cameo,
                                      source="declared"))
    enrol(rt, cameo)
    enrol(rt, eves)
    return alice, bob, eve, cameo, gens


def ids(group):
    return [g["id"] for g in group]


def test_the_overview_groups_every_appearance(rt, page, world):
    alice, bob, _, cameo, gens = world
    with rt.db.transaction() as s:
        out = page.overview(s, s.get(User, alice.id))
        assert page.overview(s, s.get(User, bob.id)) is None  # no cameo, no page
    assert out["cameo"] | {"created_at": None} == {
        "id": cameo, "display_name": "Alice", "status": "active", "permission": "everyone", "approved_handles": [],
        "blocked_handles": ["eve"], "created_at": None, "revoked_at": None}
    groups = out["appearances"]
    assert {k: sorted(ids(v)) for k, v in groups.items()} == {
        "published": [gens["published"]], "drafts": [gens["draft"]], "held": [gens["held"]],
        "blocked": [gens["named"]], "in_flight": sorted([gens["rendering"], gens["queued"]])}
    [published] = groups["published"]
    assert (published["creator_handle"], published["status"], published["may_delete"]) == ("bob", "published", True)
    assert published["prompt"].startswith("a published video") and len(published["prompt"]) == 80
    # Named in a refused request, not on screen: Alice learns of it but is no co-owner of it.
    assert groups["blocked"][0]["may_delete"] is False


def test_the_revocation_preview_names_exactly_what_the_revocation_changes(rt, page, world):
    alice, _, _, _, gens = world
    with rt.db.transaction() as s:
        preview = page.revocation_preview(s, s.get(User, alice.id))
    assert preview | {"blocked": sorted(preview["blocked"])} == {
        "unpublished": [gens["published"]], "deleted": [gens["draft"]], "blocked": sorted([gens["held"], gens["queued"]]),
        "rendering": [gens["rendering"]], "counts": {"unpublished": 1, "deleted": 1, "blocked": 2, "rendering": 1}}
    with rt.db.transaction() as s:
        assert page.revoke(s, s.get(User, alice.id)) == preview
    with rt.db.transaction() as s:
        status = {name: s.get(Generation, gid).status for name, gid in gens.items()}
        assert page.revocation_preview(s, s.get(User, alice.id))["counts"] == dict.fromkeys(preview["counts"], 0)
    assert status == {"published": "draft", "draft": "deleted", "held": "blocked", "queued": "blocked",
                      "rendering": "rendering", "old": "deleted", "named": "blocked", "eves": "published"}


def test_another_users_cameo_is_never_shown(rt, page, world):
    alice, bob, eve, cameo, gens = world
    with rt.db.transaction() as s:
        theirs = page.overview(s, s.get(User, eve.id))
        assert theirs["cameo"]["id"] != cameo
        assert [g["id"] for group in theirs["appearances"].values() for g in group] == [gens["eves"]]
        with pytest.raises(NotFound):  # Alice is in no way part of Eve's video
            page.delete_video(s, s.get(User, alice.id), gens["eves"])


def test_actions_on_my_own_cameo(rt, page, world):
    alice, _, _, cameo, gens = world
    with rt.db.transaction() as s:
        me = s.get(User, alice.id)
        assert page.delete_video(s, me, gens["draft"]) == {"id": gens["draft"], "status": "deleted"}
        assert page.set_permission(s, me, "only_me")["permission"] == "only_me"
        with pytest.raises(ValidationFailed):
            page.set_permission(s, me, "anyone at all")
    with rt.db.transaction() as s:
        assert s.get(Generation, gens["published"]).status == "draft"  # Bob lost consent: unpublished
        done = page.delete_cameo(s, s.get(User, alice.id))
    assert done["erased"] == {"template": True, "crops": 0}
    with rt.db.transaction() as s:
        assert s.get(FaceTemplate, cameo) is None
        assert page.overview(s, s.get(User, alice.id))["cameo"]["status"] == "revoked"
