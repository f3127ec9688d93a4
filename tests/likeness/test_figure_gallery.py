"""Public-figure reference faces: enrolled from a folder by the CLI, found by the post-render scan."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from app.models import Role
from likeness import crops, templates
from likeness.models import FigureFaceTemplate
from tests.conftest import drain
from tests.likeness.enrolled import enrol


@pytest.fixture
def gallery(tmp_path, photos):
    root = tmp_path / "gallery"
    (root / "grace-hopper").mkdir(parents=True)
    cv2.imwrite(str(root / "grace-hopper" / "portrait.jpg"), photos["hopper"])
    cv2.imwrite(str(root / "grace-hopper" / "mirrored.png"), cv2.flip(photos["hopper"], 1))
    cv2.imwrite(str(root / "grace-hopper" / "no-face.png"), np.full((200, 200, 3), 127, np.uint8))
    (root / "grace-hopper" / "notes.txt").write_text("ignored: not a photo")
    (root / "someone-unlisted").mkdir()
    cv2.imwrite(str(root / "someone-unlisted" / "a.jpg"), photos["astronaut"])
    return root


def gl_cli(rt, *args: str):
    env = dict(os.environ, DATABASE_URL=rt.config.database_url, GL_INSTANCE_DIR=str(rt.config.instance_dir))
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def enrol_faces(rt, gallery):
    return gl_cli(rt, "figures", "enrol-faces", str(gallery))


@pytest.mark.slow
def test_cli_enrols_listed_figures_and_reports_the_rest(rt, gallery, models, photos):
    out = enrol_faces(rt, gallery)
    assert out.returncode == 0, out.stderr
    assert "grace-hopper: 2/3 photos used (no-face.png: no_face)" in out.stdout
    assert "someone-unlisted: not in the public-figure list, skipped" in out.stderr
    assert "1 figures enrolled" in out.stdout
    with rt.db.transaction() as s:
        row = s.get(FigureFaceTemplate, "grace-hopper")
        assert (row.photos, row.vectors) == (2, 3)
        vectors = templates.load(templates.keyring(), row)
        faces = crops.load(s, templates.keyring(), row)
    # The aligned face of each photo used is kept, sealed, in the exemplars' order.
    assert len(faces) == 2
    assert np.allclose([models.embed_aligned(f) for f in faces], vectors[1:], atol=1e-6)
    face = models.analyze(photos["hopper"])[0].embedding
    # The portrait itself (JPEG re-encoded) is among the sealed exemplars, and so is the mirror image.
    assert float((vectors[1:] @ face).max()) > 0.97 and float((vectors[1:] @ face).min()) > 0.5
    # Nothing listed at all: a non-zero exit, so a script notices.
    empty = gallery.parent / "empty"
    (empty / "nobody").mkdir(parents=True)
    assert enrol_faces(rt, empty).returncode == 1


@pytest.mark.slow
def test_scan_blocks_a_public_figure_on_screen_unless_their_own_cameo_is_used(rt, make_api, gallery, paste_face,
                                                                              models, photos):
    assert enrol_faces(rt, gallery).returncode == 0
    bob, _ = make_api("bob@t.test", handle="bob")
    paste_face("hopper")
    resp = bob.post("/api/v1/generations", json={"prompt": "an admiral at a desk", "cameo_ids": []})
    drain(rt)
    body = bob.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()
    assert body["status"] == "blocked"
    scan = next(v for v in body["verdicts"] if v["stage"] == "likeness.face_scan")
    assert [(r["code"], r["details"]["figure_id"]) for r in scan["reasons"]] == [("public_figure_face", "grace-hopper")]

    # Her own verified cameo, declared and allowing everyone, clears it. An admin verified her account
    # (marked her cameo as hers) before she enrolled: her face then waits for a reviewer, who confirms it.
    hopper, user = make_api("hopper@t.test", handle="amazinggrace")
    carol, _ = make_api("carol@t.test", role=Role.REVIEWER, handle="carol")
    made = hopper.post("/api/v1/cameos", json={"display_name": "Grace", "permission": "everyone"})
    cameo_id = made.get_json()["id"]
    verified = gl_cli(rt, "figures", "verify-account", cameo_id, "grace-hopper", "--reason", "passport seen")
    assert verified.returncode == 0 and "verified as grace-hopper" in verified.stdout, verified.stderr
    assert enrol(rt, cameo_id, models.analyze(photos["hopper"])[0].embedding) == "pending_review"
    [case] = carol.get("/api/v1/cases?kind=enrolment").get_json()["items"]
    assert case["subject"]["matched_figure"] == {"id": "grace-hopper", "name": "Grace Hopper"}
    decided = carol.post(f"/api/v1/cases/{case['id']}/decision",
                         json={"decision": "allow", "policy_code": "LIKENESS-CONSENTED"})
    assert decided.status_code == 200, decided.get_json()
    resp = bob.post("/api/v1/generations", json={"prompt": "an admiral at a desk", "cameo_ids": [cameo_id]})
    drain(rt)
    body = bob.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()
    assert body["status"] == "draft", body["verdicts"]
