"""Input-image uploads: only complete images of the declared type are kept; nobody else can use them."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from app.models import Upload
from tests.app.test_api import envelope


def encoded(fmt: str, size=(64, 48), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format=fmt)
    return buf.getvalue()


def upload(api, data: bytes, ctype: str):
    return api.post("/api/v1/uploads/images", data=data, headers={"Content-Type": ctype})


@pytest.mark.parametrize("fmt,ctype", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_an_image_is_stored_with_its_facts(rt, make_api, fmt, ctype):
    api, _ = make_api("a@t.test")
    data = encoded(fmt)
    resp = upload(api, data, ctype)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["content_type"], body["width"], body["height"], body["bytes"]) == (ctype, 64, 48, len(data))
    with rt.db.transaction() as s:
        row = s.get(Upload, body["id"])
        assert rt.storage.path(row.key).read_bytes() == data


@pytest.mark.parametrize("data,ctype,status,code", [
    (b"GIF89a....", "image/gif", 415, "unsupported_media_type"),
    (b"", "image/png", 422, "empty_upload"),
    (b"definitely not an image", "image/jpeg", 422, "not_an_image"),
    (encoded("PNG"), "image/jpeg", 422, "not_an_image"),          # says JPEG, is PNG
    (encoded("JPEG")[:200], "image/jpeg", 422, "not_an_image"),   # truncated
    (encoded("PNG", size=(8, 8)), "image/png", 422, "not_an_image"),
    (encoded("PNG", size=(10000, 10000), mode="1"), "image/png", 422, "image_too_large"),  # a tiny file, 100 MP
])
def test_bad_images_are_refused_and_nothing_is_kept(rt, make_api, data, ctype, status, code):
    api, _ = make_api("a@t.test")
    envelope(upload(api, data, ctype), status, code)
    with rt.db.transaction() as s:
        assert s.scalars(select(Upload)).all() == []
    assert not (rt.config.media_dir / "uploads").exists() or not any((rt.config.media_dir / "uploads").iterdir())
    assert not [p for p in rt.config.instance_dir.iterdir() if p.suffix in {".jpg", ".png", ".webp"}]


def test_oversize_uploads_are_refused(make_api, monkeypatch):
    api, _ = make_api("a@t.test")
    monkeypatch.setenv("GL_MAX_IMAGE_BYTES", "1000")
    envelope(upload(api, encoded("PNG", size=(300, 300), mode="RGB") + b"\0" * 2000, "image/png"), 413,
             "payload_too_large")


def test_another_users_upload_cannot_be_used(make_api):
    alice, _ = make_api("alice@t.test")
    eve, _ = make_api("eve@t.test")
    upload_id = upload(alice, encoded("PNG"), "image/png").get_json()["id"]
    envelope(eve.post("/api/v1/generations", json={"prompt": "a tree", "input_image_id": upload_id}), 404,
             "upload_not_found")
    envelope(eve.post("/api/v1/generations", json={"prompt": "a tree", "input_image_id": "nope"}), 404,
             "upload_not_found")
    resp = alice.post("/api/v1/generations", json={"prompt": "a tree", "input_image_id": upload_id})
    assert resp.status_code == 201 and resp.get_json()["input_image_id"] == upload_id
    faces = next(v for v in resp.get_json()["verdicts"] if v["stage"] == "likeness.input_faces")
    assert faces["decision"] == "allow"  # a grey square shows nobody
