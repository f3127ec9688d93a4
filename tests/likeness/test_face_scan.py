"""Post-render face scan: every face on screen must be a declared cameo that allows this creator."""

from __future__ import annotations

import numpy as np
import pytest

from likeness import templates
from tests.conftest import drain
from tests.likeness.enrolled import enrolled_cameo


@pytest.fixture
def alice_cameo(rt, make_api, models, photos):
    """Alice's cameo with her face enrolled (the template an enrolment would store)."""
    alice, _ = make_api("alice@t.test", handle="alice")
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone", face=models.analyze(photos["astronaut"])[0].embedding)
    return alice, cameo


def generate(api, rt, prompt, cameo_ids=()):
    resp = api.post("/api/v1/generations", json={"prompt": prompt, "cameo_ids": list(cameo_ids)})
    assert resp.status_code == 201, resp.get_json()
    drain(rt)
    return api.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()


def scan_verdict(body):
    return next(v for v in reversed(body["verdicts"]) if v["stage"] == "likeness.face_scan")


@pytest.mark.slow
def test_an_undeclared_enrolled_face_blocks_and_makes_its_owner_a_co_owner(rt, make_api, alice_cameo, paste_face):
    alice, cameo = alice_cameo
    bob, _ = make_api("bob@t.test", handle="bob")
    paste_face("astronaut")
    body = generate(bob, rt, "a person standing on a red square")
    assert body["status"] == "blocked"
    verdict = scan_verdict(body)
    assert verdict["decision"] == "block"
    assert [(r["code"], r["details"]["cameo_id"]) for r in verdict["reasons"]] == [("undeclared_cameo_face", cameo)]
    listed = alice.get(f"/api/v1/cameos/{cameo}/appearances").get_json()["items"]
    assert [(a["generation_id"], a["source"]) for a in listed] == [(body["id"], "detected")]


@pytest.mark.slow
def test_a_declared_cameo_on_screen_passes(rt, make_api, alice_cameo, paste_face):
    _, cameo = alice_cameo
    bob, _ = make_api("bob@t.test", handle="bob")
    paste_face("astronaut")
    body = generate(bob, rt, "a person standing on a red square", [cameo])
    assert body["status"] == "draft", body
    verdict = scan_verdict(body)
    assert verdict["decision"] == "allow" and verdict["reasons"] == []


@pytest.mark.slow
def test_a_stranger_instead_of_the_declared_cameo_goes_to_review(rt, make_api, alice_cameo, paste_face):
    _, cameo = alice_cameo
    bob, _ = make_api("bob@t.test", handle="bob")
    paste_face("hopper")
    body = generate(bob, rt, "a person standing on a red square", [cameo])
    assert body["status"] == "in_review"
    assert [r["code"] for r in scan_verdict(body)["reasons"]] == ["unidentified_face"]


@pytest.mark.slow
def test_a_video_without_faces_passes_the_scan(rt, make_api, alice_cameo):
    bob, _ = make_api("bob@t.test", handle="bob")
    body = generate(bob, rt, "a blue circle and a yellow star")
    assert body["status"] == "draft"
    assert scan_verdict(body)["decision"] == "allow"


# -- policy -------------------------------------------------------------------------------------------

def test_policy_comes_from_the_environment_and_refuses_nonsense():
    from app.stage import Decision
    from likeness.stages import FaceScanPolicy

    assert FaceScanPolicy.from_env({}) == FaceScanPolicy(Decision.BLOCK, Decision.BLOCK, 0.05)
    relaxed = FaceScanPolicy.from_env({"GL_FACE_SCAN_UNDECLARED": "review", "GL_FACE_SCAN_NEAR_MARGIN": "0.1"})
    assert (relaxed.undeclared_cameo, relaxed.public_figure, relaxed.near_margin) == \
        (Decision.REVIEW, Decision.BLOCK, 0.1)
    with pytest.raises(ValueError, match="GL_FACE_SCAN_PUBLIC_FIGURE"):
        FaceScanPolicy.from_env({"GL_FACE_SCAN_PUBLIC_FIGURE": "allow"})


@pytest.mark.slow
def test_a_review_policy_holds_instead_of_blocking(rt, make_api, alice_cameo, paste_face, monkeypatch):
    from app.stage import Decision
    from likeness.stages import FaceScanPolicy, FaceScanStage
    from tests.conftest import plug_stage

    plug_stage(monkeypatch, FaceScanStage(policy=FaceScanPolicy(undeclared_cameo=Decision.REVIEW)))
    bob, _ = make_api("bob@t.test", handle="bob")
    paste_face("astronaut")
    body = generate(bob, rt, "a person standing on a red square")
    assert body["status"] == "in_review"
    assert [(r["code"]) for r in scan_verdict(body)["reasons"]] == ["undeclared_cameo_face"]


@pytest.mark.slow
def test_a_face_just_under_the_threshold_goes_to_review(rt, make_api, models, photos, tmp_path):
    """A template built to score exactly 0.02 under the cut-off against the face in the video."""
    from app.kit.media import sample_frames
    from app.stage import Requester, StageContext
    from likeness.stages import FaceScanStage
    from tests.likeness.face_videos import write_selfie

    video = write_selfie(tmp_path / "still.mp4", [photos["astronaut"]] * 12, audio=None)
    [face] = models.analyze(sample_frames(video, per_second=2.0)[0][1])
    e = face.embedding / np.linalg.norm(face.embedding)
    other = np.random.default_rng(0).normal(size=e.shape).astype(np.float32)
    other -= (other @ e) * e
    other /= np.linalg.norm(other)

    alice, _ = make_api("alice@t.test", handle="alice")
    bob, bob_user = make_api("bob@t.test", handle="bob")
    stage = FaceScanStage(models)
    cut = models.same_person_threshold

    def scan_with(score: float):
        cameo = alice.post("/api/v1/cameos", json={"display_name": "A", "permission": "everyone"}).get_json()["id"]
        vector = score * e + np.sqrt(1 - score ** 2) * other
        with rt.db.transaction() as s:
            templates.store(s, templates.keyring(), cameo, vector[None, :], models.version)
        with rt.db.transaction() as s:
            ctx = StageContext(generation_id="g", prompt="p", cameo_ids=[], remix_of=None,
                               requester=Requester(bob_user.id, "bob", False), session=s, media_path=video)
            verdict = stage.check(ctx)
        alice.delete(f"/api/v1/cameos/{cameo}")
        return verdict.decision.value, [(r.code, r.details["cameo_id"] == cameo) for r in verdict.reasons]

    assert scan_with(cut - 0.02) == ("review", [("possible_cameo_face", True)])
    assert scan_with(cut + 0.02) == ("block", [("undeclared_cameo_face", True)])
    assert scan_with(cut - 0.10) == ("allow", [])
