"""Reference images of works: input images that reproduce one are judged by the work's policy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from sqlalchemy import text

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


def test_references_are_listed_and_removed_by_their_holder_only(rt, world, cat_photo, make_api):
    admin, paws, bob = world
    claim_and_verify(admin, paws)
    other, _ = make_api("other@t.test", role=Role.RIGHTSHOLDER, handle="other")
    admin.post("/api/v1/rightsholders/orgs", json={"name": "Other Co", "member_handles": ["other"]})
    added = add_reference(paws, "garfield", cat_photo).get_json()
    assert len(added["pdq"]) == 64 and added["pdq_quality"] >= 50 and added["embedding_model"] is None
    [stored] = (rt.config.media_dir / "references").iterdir()
    assert cv2.imread(str(stored)).shape == cat_photo.shape  # kept, so it can be re-indexed
    assert [r["id"] for r in paws.get("/api/v1/works/garfield/reference-images").get_json()["items"]] == [added["id"]]
    envelope(other.get("/api/v1/works/garfield/reference-images"), 404, "work_not_owned")
    envelope(other.delete(f"/api/v1/works/garfield/reference-images/{added['id']}"), 404, "work_not_owned")
    envelope(bob.get("/api/v1/works/garfield/reference-images"), 403, "role_not_allowed")
    envelope(paws.delete("/api/v1/works/garfield/reference-images/nope"), 404, "reference_image_not_found")
    assert paws.delete(f"/api/v1/works/garfield/reference-images/{added['id']}").status_code == 204
    assert paws.get("/api/v1/works/garfield/reference-images").get_json()["items"] == []
    assert not stored.exists()
    # With the reference gone, the same picture is no longer recognised.
    body, rights = generate_from(bob, cat_photo)
    assert rights["decision"] == "allow"


def test_an_image_embedding_model_finds_a_crop_the_hashes_miss(rt, world, cat_photo, monkeypatch, tmp_path):
    import warnings

    from app.kit.perceptual import distance, pdq, phash
    from copyright.images import match_images
    from tests.app.kit.tiny_vit import build_tiny_vit

    admin, paws, bob = world
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_tiny_vit(tmp_path / "vit.onnx")
    monkeypatch.setenv("GL_IMAGE_EMBED_MODEL", str(model))
    added = add_reference(admin, "garfield", cat_photo).get_json()
    assert added["embedding_model"] is not None
    crop = np.ascontiguousarray(cat_photo[cat_photo.shape[0] // 4:, cat_photo.shape[1] // 4:])
    assert distance(phash(crop), phash(cat_photo)) > 16 and distance(pdq(crop)[0], pdq(cat_photo)[0]) > 48
    coffee = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    with rt.db.transaction() as s:
        found = match_images(s, [coffee, crop])
    evidence = found["garfield"]
    assert (evidence.decision.value, evidence.method, evidence.image_index) == ("review", "embedding", 1)
    assert evidence.score >= 0.9
    body, rights = generate_from(bob, crop)
    assert body["status"] == "in_review"
    assert [(r["code"], r["details"]["matched_by"]) for r in rights["reasons"]] == \
        [("possible_copyrighted_work", "reference_image")]


def test_reindexing_recomputes_from_the_stored_images(rt, world, cat_photo, monkeypatch, tmp_path):
    import warnings

    from click.testing import CliRunner

    from app.cli import main
    from tests.app.kit.tiny_vit import build_tiny_vit

    admin, paws, bob = world
    added = add_reference(admin, "garfield", cat_photo).get_json()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_tiny_vit(tmp_path / "vit.onnx", seed=3)
    monkeypatch.setenv("GL_IMAGE_EMBED_MODEL", str(model))
    monkeypatch.setattr("app.runtime.current", lambda: rt)
    result = CliRunner().invoke(main, ["works", "reindex-references"])
    assert result.exit_code == 0, result.output
    assert "1 reference images re-indexed" in result.output and "0 without a stored image" in result.output
    [row] = admin.get("/api/v1/works/garfield/reference-images").get_json()["items"]
    assert row["embedding_model"] is not None and (row["phash"], row["pdq"]) == (added["phash"], added["pdq"])


def test_a_loose_phash_match_needs_pdq_to_agree(rt, world, cat_photo):
    """pHash within 16 bits happens by chance among many references; PDQ must not contradict it."""
    from app.kit.perceptual import PDQ_BITS, pdq, phash, to_hex
    from copyright.images import match_images
    from copyright.models import WorkReferenceImage

    with rt.db.transaction() as s:
        admin_user = s.execute(text("SELECT id FROM users WHERE handle = 'admin'")).scalar()
    near_phash = to_hex(phash(cat_photo) ^ 0b11111111111111)  # 14 bits away: the review band
    value, quality = pdq(cat_photo)
    far_pdq = to_hex(value ^ ((1 << 128) - 1), PDQ_BITS)  # 128 bits away: a different picture
    with rt.db.transaction() as s:
        s.add_all([
            WorkReferenceImage(work_id="garfield", phash=near_phash, pdq=far_pdq, pdq_quality=quality,
                               sha256="0" * 64, uploaded_by_id=admin_user),
            WorkReferenceImage(work_id="snoopy", phash=near_phash, pdq=None, pdq_quality=None,
                               sha256="0" * 64, uploaded_by_id=admin_user)])
    with rt.db.transaction() as s:
        found = match_images(s, [cat_photo])
    assert "garfield" not in found  # PDQ says it is another picture
    assert (found["snoopy"].decision.value, found["snoopy"].method, found["snoopy"].score) == ("review", "phash", 14)
