"""Post-render face scan: every face on screen must be a declared cameo that allows this creator."""

from __future__ import annotations

import numpy as np
import pytest

from app.models import Generation
from likeness import templates
from likeness.faces import load_face_models
from tests.conftest import drain


@pytest.fixture
def alice_cameo(rt, make_api, models, photos):
    """Alice's cameo with her face enrolled (the template an enrolment would store)."""
    alice, _ = make_api("alice@t.test", handle="alice")
    cameo = alice.post("/api/v1/cameos", json={"display_name": "Alice", "permission": "everyone"}).get_json()["id"]
    face = models.analyze(photos["astronaut"])[0].embedding
    with rt.db.transaction() as s:
        templates.store(s, templates.keyring(), cameo, np.stack([face, face]), load_face_models().version)
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
