"""Cameos on screen: a cameo generation renders its owner's enrolled face onto a figure in the
scene, and the post-render face scan finds exactly that cameo; an enrolled person forced into a
render that did not declare them is blocked."""

from __future__ import annotations

import pytest

from tests.conftest import drain
from tests.likeness.enrolled import enrolled_cameo
from tests.likeness.test_face_scan import generate
from tests.likeness.test_face_scan import scan_verdict as scan


@pytest.fixture
def alice_cameo(rt, make_api, models, photos):
    """Alice's cameo enrolled from a real photo: the template and the aligned crop an enrolment keeps."""
    alice, _ = make_api("alice@t.test", handle="alice")
    face = models.detect(photos["astronaut"])[0]
    crop = models.align(photos["astronaut"], face)
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone", face=models.embed_aligned(crop), crops=[crop])
    return alice, cameo, crop


@pytest.mark.slow
def test_a_cameo_generation_shows_the_cameo_and_the_scan_finds_exactly_it(rt, alice_cameo, make_api, models, photos):
    alice, cameo, _ = alice_cameo
    body = generate(alice, rt, "a red ball bounces off the backboard", [cameo])
    verdict = scan(body)
    assert verdict["decision"] == "allow" and verdict["reasons"] == [], verdict
    # the test videos last 1 s and the scan looks twice a second: the face is in both frames
    assert verdict["scores"]["faces_seen"] == 2 and verdict["scores"]["cameos_matched"] == 1
    assert body["status"] == "draft", body
    listed = alice.get(f"/api/v1/cameos/{cameo}/appearances").get_json()["items"]
    assert [a["generation_id"] for a in listed] == [body["id"]]


@pytest.mark.slow
def test_an_enrolled_person_forced_into_an_undeclared_render_is_blocked(rt, alice_cameo, make_api, monkeypatch):
    _, cameo, crop = alice_cameo
    bob, _ = make_api("bob@t.test", handle="bob")
    from likeness.render_inputs import Faces
    # the test-only input: whatever the request declared, the render puts Alice on screen
    monkeypatch.setattr(Faces, "faces", lambda self, session, cameo_ids: [crop])
    body = generate(bob, rt, "two blue cubes fall")
    assert body["status"] == "blocked"
    verdict = scan(body)
    assert [(r["code"], r["details"]["cameo_id"]) for r in verdict["reasons"]] == [("undeclared_cameo_face", cameo)]


def test_a_render_without_cameos_shows_no_face(rt, make_api):
    bob, _ = make_api("bob@t.test", handle="bob")
    body = generate(bob, rt, "three yellow balls fall")
    assert scan(body)["scores"]["faces_seen"] == 0


@pytest.mark.slow
def test_the_demo_cameo_generation_shows_alices_face_and_the_scan_matches_it(rt):
    """The demo world (README command 1): Bob's "me and alice dancing" declares both cameos; Alice's
    is enrolled from a real photo, so her face is on screen and the scan names her cameo."""
    from app.demo import seed
    from app.models import Generation, VerdictRecord
    from likeness.models import Cameo

    seed(rt, echo=lambda *_: None)
    drain(rt)
    with rt.db.transaction() as s:
        alice_cameo = s.query(Cameo).filter_by(display_name="Alice").one()
        assert alice_cameo.status == "active"
        gen = s.query(Generation).filter_by(prompt="me and alice dancing on the beach at sunset").one()
        verdict = s.query(VerdictRecord).filter_by(generation_id=gen.id, stage="likeness.face_scan").one()
        assert (gen.status, verdict.decision, verdict.reasons) == ("draft", "allow", []), verdict.reasons
        assert verdict.scores["faces_seen"] >= 1 and verdict.scores["cameos_matched"] == 1
