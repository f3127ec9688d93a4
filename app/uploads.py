"""User uploads kept for later use (input images for image-to-video): validated (format, size,
complete), then stored in media storage under a key of their own."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import Session

from app import audit
from app.config import setting
from app.errors import NotFound, ValidationFailed
from app.models import Upload, User
from app.storage import LocalMediaStorage

IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
_PIL_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 16


def max_image_bytes() -> int:
    """The largest image upload any endpoint takes (GL_MAX_IMAGE_BYTES)."""
    return setting("GL_MAX_IMAGE_BYTES")


def inspect_image(path: Path, declared_type: str) -> tuple[int, int]:
    """(width, height) of a complete, decodable image whose format is the one declared."""
    try:
        with warnings.catch_warnings():
            # Our own pixel cap below is lower than PIL's warning threshold; the warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            fmt, (width, height) = im.format, im.size
            if width * height > MAX_IMAGE_PIXELS:  # read from the header: no bomb is decoded
                raise ValidationFailed(f"{width}x{height} is more than {MAX_IMAGE_PIXELS} pixels",
                                       code="image_too_large")
            im.load()  # a truncated file fails here, not later in a stage
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed(f"not a readable image ({type(exc).__name__})", code="not_an_image") from exc
    if _PIL_FORMATS.get(fmt) != declared_type:
        raise ValidationFailed(f"the file is {fmt or 'unknown'}, not {declared_type}", code="not_an_image")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ValidationFailed(f"{width}x{height} is too small", code="not_an_image")
    return width, height


def store_image(session: Session, storage: LocalMediaStorage, owner: User, path: Path, content_type: str) -> Upload:
    width, height = inspect_image(path, content_type)
    upload = Upload(owner_id=owner.id, key="", content_type=content_type, bytes=path.stat().st_size,
                    sha256=hashlib.sha256(path.read_bytes()).hexdigest(), width=width, height=height)
    session.add(upload)
    session.flush()
    upload.key = f"uploads/{upload.id}{IMAGE_TYPES[content_type]}"
    storage.put_file(upload.key, path)  # 0600 in a 0700 folder
    audit.record(session, actor=owner.id, action="upload.stored", object_type="upload", object_id=upload.id,
                 after={"content_type": content_type, "bytes": upload.bytes, "sha256": upload.sha256})
    return upload


def get_own(session: Session, owner: User, upload_id: str) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None or upload.owner_id != owner.id:
        raise NotFound("upload not found", code="upload_not_found")
    return upload
