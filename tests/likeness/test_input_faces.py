"""Image-to-video: the people in the input image must be consenting cameos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import drain
from tests.likeness.enrolled import enrolled_cameo


@pytest.fixture
def world(rt, make_api, models, photos):
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone", face=models.analyze(photos["astronaut"])[0].embedding)
    return alice, bob, cameo


def upload_photo(api, image) -> str:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    resp = api.post("/api/v1/uploads/images", data=data.tobytes(), headers={"Content-Type": "image/jpeg"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def request(api, upload_id, cameo_ids=()):
    resp = api.post("/api/v1/generations", json={"prompt": "the person waves", "cameo_ids": list(cameo_ids),
                                                 "input_image_id": upload_id})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def input_verdict(body):
    return next(v for v in body["verdicts"] if v["stage"] == "likeness.input_faces")


@pytest.mark.slow
def test_a_consenting_cameo_in_the_input_image_passes_and_co_owns(rt, world, photos):
    alice, bob, cameo = world
    body = request(bob, upload_photo(bob, photos["astronaut"]))
    assert body["status"] == "queued" and input_verdict(body)["decision"] == "allow"
    # The video is a camera move over the input: it shows her, and the scan counts her as asked for.
    drain(rt)
    done = bob.get(f"/api/v1/generations/{body['id']}").get_json()
    assert done["status"] == "draft"
    scan = next(v for v in reversed(done["verdicts"]) if v["stage"] == "likeness.face_scan")
    assert scan["scores"]["faces_seen"] >= 2 and scan["scores"]["cameos_matched"] == 1
    listed = alice.get(f"/api/v1/cameos/{cameo}/appearances").get_json()["items"]
    assert [(a["generation_id"], a["source"]) for a in listed] == [(body["id"], "input")]


@pytest.mark.slow
def test_a_cameo_that_does_not_allow_the_requester_blocks(world, photos):
    alice, bob, cameo = world
    assert alice.patch(f"/api/v1/cameos/{cameo}", json={"permission": "only_me"}).status_code == 200
    body = request(bob, upload_photo(bob, photos["astronaut"]))
    assert body["status"] == "blocked"
    assert [(r["code"], r["details"]["via"]) for r in input_verdict(body)["reasons"]] == \
        [("cameo_not_permitted", "input_image")]


@pytest.mark.slow
def test_a_face_without_a_cameo_cannot_have_consented(world, photos):
    _, bob, _ = world
    body = request(bob, upload_photo(bob, photos["hopper"]))
    assert body["status"] == "blocked"
    [reason] = input_verdict(body)["reasons"]
    assert reason["code"] == "unconsented_face" and len(reason["details"]["box"]) == 4


@pytest.mark.slow
def test_every_face_counts_not_only_the_largest(world, photos):
    _, bob, cameo = world
    hopper = cv2.resize(photos["hopper"], (photos["astronaut"].shape[1], photos["astronaut"].shape[0]))
    pair = np.hstack([photos["astronaut"], hopper])
    body = request(bob, upload_photo(bob, pair), [cameo])
    assert body["status"] == "blocked"
    assert [r["code"] for r in input_verdict(body)["reasons"]] == ["unconsented_face"]


@pytest.mark.slow
def test_a_minors_face_in_an_input_image_is_refused_to_an_adult(rt, make_api, models, photos):
    """Issue 13, point 8: whatever the minor's cameo allows, an adult's input image may not show them."""
    from datetime import date

    teen, _ = make_api("teen@t.test", handle="teen", birthdate=date(date.today().year - 15, 1, 1))
    friend, _ = make_api("friend@t.test", handle="friend", birthdate=date(date.today().year - 14, 1, 1))
    adult, _ = make_api("adult@t.test", handle="adult")
    cameo = enrolled_cameo(rt, teen, "Teen", "approved", approved_handles=["friend", "adult"],
                           face=models.analyze(photos["astronaut"])[0].embedding)
    refused = request(adult, upload_photo(adult, photos["astronaut"]))
    assert refused["status"] == "blocked"
    assert [(r["code"], r["details"]) for r in input_verdict(refused)["reasons"]] == \
        [("cameo_owner_minor", {"cameo_id": cameo, "via": "input_image"})]
    # Another teen it allows may.
    assert input_verdict(request(friend, upload_photo(friend, photos["astronaut"])))["decision"] == "allow"
