"""A face-model swap: until every template is re-embedded under the new model, faces are held
for review (never passed); `greenlight likeness re-embed` moves the templates from the stored
face crops, and the undeclared enrolled face is blocked again."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from app.models import Notification
from likeness import crops, enrolment, templates
from likeness.faces import load_face_models
from likeness.figure_gallery import enrol_gallery
from likeness.figures import load_figures
from likeness.liveness.challenge import Challenge
from likeness.models import FaceTemplate, FigureFaceTemplate
from tests.conftest import drain
from tests.likeness.face_videos import warped_turn_frames, write_selfie
from tests.likeness.faces.test_models import tiny_arcface

LEFT = Challenge.from_digits("73914", "left")
# The tiny ArcFace-shaped model (4x4 colour pools, random projection) scores the same photo
# 0.99 and different people ~0.5 against each other.
TINY_THRESHOLD = "0.85"


@pytest.fixture
def swap_model(monkeypatch, tmp_path):
    """Call it to swap the embedder for a tiny ArcFace model, as an operator does with the
    environment; the process-wide models and the environment are restored after the test."""
    def swap():
        tiny = tiny_arcface(tmp_path / "w600k_tiny.onnx")
        monkeypatch.setenv("GL_FACE_EMBEDDER", str(tiny))
        monkeypatch.setenv("GL_FACE_EMBEDDER_KIND", "arcface")
        monkeypatch.setenv("GL_FACE_SAME_PERSON_THRESHOLD", TINY_THRESHOLD)
        load_face_models.cache_clear()
        return load_face_models()

    yield swap
    monkeypatch.undo()
    load_face_models.cache_clear()


def gl(rt, *args):
    env = dict(os.environ, DATABASE_URL=rt.config.database_url, GL_INSTANCE_DIR=str(rt.config.instance_dir))
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def generate(api, rt, prompt, **extra):
    resp = api.post("/api/v1/generations", json={"prompt": prompt, "cameo_ids": [], **extra})
    assert resp.status_code == 201, resp.get_json()
    drain(rt)
    return api.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()


def verdict(body, stage):
    return next(v for v in reversed(body["verdicts"]) if v["stage"] == stage)


def codes(body, stage):
    return [r["code"] for r in verdict(body, stage)["reasons"]]


@pytest.fixture
def enrolled(rt, make_api, models, photos, tmp_path, monkeypatch):
    """Alice enrolled through the API (liveness video) and Grace Hopper's gallery, both under SFace."""
    monkeypatch.setattr(enrolment, "new_challenge", lambda: LEFT)
    alice, _ = make_api("alice@t.test", handle="alice")
    challenge = alice.post("/api/v1/cameos/enrol", json={"display_name": "Alice", "permission": "everyone"})
    selfie = write_selfie(tmp_path / "selfie.mp4", warped_turn_frames(models, photos["astronaut"], "left", seconds=3.0))
    resp = alice.post(challenge.get_json()["upload_url"], data=selfie.read_bytes(),
                      headers={"Content-Type": "video/mp4"})
    assert resp.status_code == 201, resp.get_json()
    gallery = tmp_path / "gallery" / "grace-hopper"
    gallery.mkdir(parents=True)
    cv2.imwrite(str(gallery / "portrait.jpg"), photos["hopper"])
    with rt.db.transaction() as s:
        assert enrol_gallery(s, gallery.parent, models, load_figures(), actor="test").enrolled == 1
    return resp.get_json()["cameo"]["id"]


@pytest.mark.slow
def test_a_swap_holds_faces_until_re_embedded_then_blocks_again(rt, make_api, enrolled, paste_face, swap_model,
                                                               photos):
    cameo_id = enrolled
    bob, _ = make_api("bob@t.test", handle="bob")
    paste_face("astronaut")
    before = generate(bob, rt, "a person standing on a red square")
    assert before["status"] == "blocked" and codes(before, "likeness.face_scan") == ["undeclared_cameo_face"]

    new = swap_model()
    paste_face("astronaut")
    held = generate(bob, rt, "a person standing on a red square")
    assert held["status"] == "in_review", held
    [reason] = verdict(held, "likeness.face_scan")["reasons"]
    assert (reason["code"], reason["details"]) == ("face_index_incomplete", {
        "model": new.version, "cameos_missing": 1, "figures_missing": 1, "unreadable": 0})
    # An input image with a face is held before rendering too, not blocked as a stranger's face.
    ok, jpeg = cv2.imencode(".jpg", photos["astronaut"])
    upload = bob.post("/api/v1/uploads/images", data=jpeg.tobytes(), headers={"Content-Type": "image/jpeg"})
    from_image = generate(bob, rt, "the person waves", input_image_id=upload.get_json()["id"])
    assert from_image["status"] == "in_review"
    assert codes(from_image, "likeness.input_faces") == ["face_index_incomplete"]

    check = gl(rt, "likeness", "check")
    assert check.returncode == 1 and "2 templates are under another face model" in check.stderr

    moved = gl(rt, "likeness", "re-embed")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert f"moved 1 cameo and 1 figure templates to {new.version}" in moved.stdout
    with rt.db.transaction() as s:
        row = s.get(FaceTemplate, cameo_id)
        assert (row.model_version, row.dim, row.vectors) == (new.version, new.dim, 1 + enrolment.EXEMPLARS)
        assert s.get(FigureFaceTemplate, "grace-hopper").model_version == new.version
        # Made from the stored crops, the way enrolment makes a template.
        faces = crops.load(s, templates.keyring(), row)
        stored = templates.load(templates.keyring(), row)
    expected = enrolment.build_template(np.stack([new.embed_aligned(f) for f in faces]))
    assert np.allclose(stored, expected, atol=1e-5)

    paste_face("astronaut")
    after = generate(bob, rt, "a person standing on a red square")
    assert after["status"] == "blocked", after
    assert [(r["code"], r["details"].get("cameo_id")) for r in verdict(after, "likeness.face_scan")["reasons"]] == \
        [("undeclared_cameo_face", cameo_id)]

    again = gl(rt, "likeness", "re-embed")
    assert again.returncode == 0
    assert "moved 0 cameo and 0 figure templates" in again.stdout
    assert "1 cameo and 1 figure templates were already under it" in again.stdout
    assert gl(rt, "likeness", "check").returncode == 0


@pytest.mark.slow
def test_a_video_without_faces_still_passes_during_a_swap(rt, make_api, enrolled, swap_model):
    swap_model()
    bob, _ = make_api("bob@t.test", handle="bob")
    body = generate(bob, rt, "a blue circle and a yellow star")
    assert body["status"] == "draft", body
    assert verdict(body, "likeness.face_scan")["decision"] == "allow"


@pytest.mark.slow
def test_templates_without_crops_are_reported_and_their_owners_told_once(rt, make_api, models, photos, swap_model):
    """A cameo enrolled before crops were kept cannot be moved: the run says so, exits 1, and
    its owner gets one notification to enrol again, however often the command runs."""
    alice, alice_user = make_api("alice@t.test", handle="alice")
    old = alice.post("/api/v1/cameos", json={"display_name": "Alice", "permission": "everyone"}).get_json()["id"]
    face = models.analyze(photos["astronaut"])[0].embedding
    with rt.db.transaction() as s:
        templates.store(s, templates.keyring(), old, np.stack([face, face]), models.version)
    new = swap_model()
    for _ in range(2):
        out = gl(rt, "likeness", "re-embed")
        assert out.returncode == 1
        assert f"not moved: cameo {old}: enrolled before face crops were kept" in out.stderr
        assert "1 templates are still under another model" in out.stderr
    with rt.db.transaction() as s:
        notes = s.scalars(select(Notification).where(Notification.user_id == alice_user.id)).all()
        assert s.get(FaceTemplate, old).model_version == models.version  # left as it was
    assert [(n.kind, n.payload) for n in notes] == [
        ("cameo_re_enrol_needed", {"cameo_id": old, "model": new.version})]


@pytest.mark.slow
def test_enrolment_waits_while_enrolled_faces_cannot_be_searched(rt, make_api, enrolled, models, photos, swap_model,
                                                                tmp_path, monkeypatch):
    """Someone else's face must not enrol unnoticed while the duplicate check cannot see every
    enrolled face: after a swap, enrolment answers 503 until the re-embed, then works again."""
    selfie = write_selfie(tmp_path / "mallory.mp4", warped_turn_frames(models, photos["astronaut"], "left", seconds=3.0))
    new = swap_model()
    mallory, _ = make_api("mallory@t.test", handle="mallory")

    def attempt():
        challenge = mallory.post("/api/v1/cameos/enrol", json={"display_name": "Al", "permission": "everyone"})
        return mallory.post(challenge.get_json()["upload_url"], data=selfie.read_bytes(),
                            headers={"Content-Type": "video/mp4"})

    paused = attempt()
    assert paused.status_code == 503, paused.get_json()
    error = paused.get_json()["error"]
    assert error["code"] == "face_index_incomplete" and error["details"]["model"] == new.version
    with rt.db.transaction() as s:
        assert s.scalar(select(FaceTemplate).where(FaceTemplate.model_version == new.version)) is None

    assert gl(rt, "likeness", "re-embed").returncode == 0
    held = attempt()  # the same face as Alice's: now seen, and held for a reviewer
    assert held.status_code == 201, held.get_json()
    assert held.get_json()["cameo"]["status"] == "pending_review"
