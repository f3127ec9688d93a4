"""Reference images of works: input images that reproduce one are judged by the work's policy."""

from __future__ import annotations

import cv2
import pytest
from skimage import data

from app.models import Role
from tests.app.test_api import envelope
from tests.copyright.test_registry_api import claim_and_verify


def encoded(image, ext=".png", **params) -> bytes:
    return cv2.imencode(ext, image, list(params.values()))[1].tobytes()


@pytest.fixture(scope="module")
def cat_photo():
    return cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR)  # stands in for a frame of the work


@pytest.fixture
def world(make_api, cat_photo):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    bob, _ = make_api("bob@t.test", handle="bob")
    admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["paws"]})
    return admin, paws, bob


def add_reference(api, work_id, image):
    return api.post(f"/api/v1/works/{work_id}/reference-images", data=encoded(image),
                    headers={"Content-Type": "image/png"})


def generate_from(api, image, prompt="the cat waves"):
    upload = api.post("/api/v1/uploads/images", data=encoded(image, ".jpg", q=cv2.IMWRITE_JPEG_QUALITY, v=60),
                      headers={"Content-Type": "image/jpeg"}).get_json()["id"]
    body = api.post("/api/v1/generations", json={"prompt": prompt, "input_image_id": upload}).get_json()
    return body, next(v for v in body["verdicts"] if v["stage"] == "copyright.rights")


def test_an_input_image_that_reproduces_a_reference_is_default_deny(world, cat_photo):
    admin, paws, bob = world
    envelope(paws.post("/api/v1/works/garfield/reference-images", data=encoded(cat_photo),
                       headers={"Content-Type": "image/png"}), 404, "work_not_owned")
    envelope(bob.post("/api/v1/works/garfield/reference-images", data=encoded(cat_photo),
                      headers={"Content-Type": "image/png"}), 403, "role_not_allowed")
    envelope(admin.post("/api/v1/works/garfield/reference-images", data=b"not an image",
                        headers={"Content-Type": "image/png"}), 422, "not_an_image")
    added = add_reference(admin, "garfield", cat_photo)
    assert added.status_code == 201 and len(added.get_json()["phash"]) == 16
    # A re-encoded, resized copy is the same picture: blocked though the prompt names nothing.
    small = cv2.resize(cat_photo, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    body, rights = generate_from(bob, small)
    assert body["status"] == "blocked"
    [reason] = rights["reasons"]
    assert (reason["code"], reason["details"]["work_id"], reason["details"]["matched_by"]) == \
        ("copyright_default_deny", "garfield", "reference_image")
    # An unrelated photo passes.
    body, rights = generate_from(bob, cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    assert rights["decision"] == "allow" and rights["reasons"] == []


def test_the_policy_of_the_work_decides_once_opted_in(world, cat_photo):
    admin, paws, bob = world
    claim_and_verify(admin, paws)
    assert add_reference(paws, "garfield", cat_photo).status_code == 201
    paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_attribution"})
    body, rights = generate_from(bob, cat_photo)
    assert body["status"] == "queued"
    assert [r["code"] for r in rights["reasons"]] == ["copyright_licensed"]
