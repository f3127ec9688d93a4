"""Uploads: input images for image-to-video, sent as the raw body."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint
from pydantic import BaseModel

from app import runtime, uploads
from app.api.raw_body import save_raw_body
from app.api.spec import current_user, endpoint, session

bp = Blueprint("uploads", __name__)


class UploadOut(BaseModel):
    id: str
    content_type: str
    bytes: int
    sha256: str
    width: int
    height: int
    created_at: datetime


@endpoint(bp, "/uploads/images", "POST",
          summary="Upload an input image (raw body, image/jpeg|png|webp, ≤ 10 MB); use its id as input_image_id",
          tag="generations", response=UploadOut, status=201, raw_body=tuple(uploads.IMAGE_TYPES),
          errors=("unsupported_media_type", "payload_too_large", "empty_upload", "not_an_image", "image_too_large"))
def upload_image():
    path, ctype = save_raw_body(uploads.IMAGE_TYPES, uploads.max_image_bytes())
    try:
        up = uploads.store_image(session(), runtime.current().storage, current_user(), path, ctype)
    finally:
        path.unlink(missing_ok=True)
    return UploadOut(id=up.id, content_type=up.content_type, bytes=up.bytes, sha256=up.sha256, width=up.width,
                     height=up.height, created_at=up.created_at)
