"""One template that does not open (sealed under a key this keyring lacks) is reported and left
out of the index; it never takes every other person out with it."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from likeness import templates
from likeness.crypto import Keyring
from likeness.matching import matcher
from tests.conftest import drain
from tests.likeness.enrolled import enrolled_cameo


@pytest.fixture
def world(rt, make_api, models, photos, tmp_path):
    """Alice's template opens; Carol's was sealed by a key file of another instance folder."""
    alice, _ = make_api("alice@t.test", handle="alice")
    carol, _ = make_api("carol@t.test", handle="carol")
    bob, _ = make_api("bob@t.test", handle="bob")
    ids = {}
    foreign = Keyring.load_file(tmp_path / "other-instance" / "template_keys.json")
    for name, api, photo, ring in (("alice", alice, "astronaut", templates.keyring()),
                                   ("carol", carol, "hopper", foreign)):
        face = models.analyze(photos[photo])[0].embedding
        ids[name] = enrolled_cameo(rt, api, name, "everyone", face=face)
        # Then sealed again under `ring`: Carol's under a key this instance does not hold.
        with rt.db.transaction() as s:
            templates.store(s, ring, ids[name], np.stack([face, face]), models.version)
    return bob, ids, foreign


def identify(rt, models, face):
    with rt.db.transaction() as s:
        return [h.key for h in matcher().identify(s, models, face)]


def test_the_index_skips_it_names_it_in_the_log_and_counts_it(rt, world, models, photos, caplog):
    _, ids, foreign = world
    with caplog.at_level(logging.WARNING, logger="likeness.matching"):
        assert identify(rt, models, models.analyze(photos["astronaut"])[0].embedding) == [ids["alice"]]
        with rt.db.transaction() as s:
            gallery = matcher().gallery(s, models)
    assert gallery.unreadable == (ids["carol"],) and gallery.missing == 1 and len(gallery.index) == 1
    [record] = [r for r in caplog.records if ids["carol"] in r.getMessage()]
    message = record.getMessage()
    assert foreign.active in message and "greenlight likeness check" in message
    assert ids["alice"] not in message  # the one that opened is not reported


def test_putting_the_missing_key_in_the_key_file_brings_it_back(rt, world, models, photos):
    _, ids, foreign = world
    hopper = models.analyze(photos["hopper"])[0].embedding
    assert identify(rt, models, hopper) == []
    ring = Keyring.load_file(templates.key_file())
    ring.keys |= foreign.keys
    ring.save()
    with rt.db.transaction() as s:
        assert matcher().gallery(s, models).unreadable == ()
    assert identify(rt, models, hopper) == [ids["carol"]]


@pytest.mark.slow
def test_an_input_image_goes_to_review_instead_of_failing(rt, world, photos):
    bob, ids, _ = world
    ok, data = cv2.imencode(".jpg", photos["astronaut"], [cv2.IMWRITE_JPEG_QUALITY, 90])
    upload = bob.post("/api/v1/uploads/images", data=data.tobytes(), headers={"Content-Type": "image/jpeg"})
    resp = bob.post("/api/v1/generations", json={"prompt": "the person waves", "input_image_id":
                                                 upload.get_json()["id"]})
    assert resp.status_code == 201, resp.get_json()
    drain(rt)
    body = bob.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()
    assert body["status"] == "in_review", body
    verdict = next(v for v in body["verdicts"] if v["stage"] == "likeness.input_faces")
    [reason] = verdict["reasons"]
    assert reason["code"] == "face_index_incomplete"
    assert reason["details"] | {"model": None} == {"model": None, "cameos_missing": 0, "figures_missing": 0,
                                                    "unreadable": 1}
