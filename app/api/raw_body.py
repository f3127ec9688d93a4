"""Raw-body uploads (a video, an image): streamed to a private temp file with a size cap, so a
large or slow upload never sits in memory and an oversize one is refused before it is kept."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import request

from app import runtime
from app.errors import GreenlightError, ValidationFailed
from app.storage import private_dir


def save_raw_body(types: dict[str, str], max_bytes: int) -> tuple[Path, str]:
    """Write the body to a temp file named with the suffix `types` gives its Content-Type.
    Returns (path, content type); the caller deletes the file."""
    ctype = (request.mimetype or "").lower()
    if ctype not in types:
        raise GreenlightError(f"send the file as the raw body with Content-Type one of {sorted(types)}",
                              code="unsupported_media_type", status=415)
    request.max_content_length = max_bytes
    too_large = GreenlightError(f"the upload is larger than {max_bytes} bytes", code="payload_too_large", status=413)
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    directory = runtime.current().config.instance_dir
    private_dir(directory)
    fd, name = tempfile.mkstemp(suffix=types[ctype], dir=directory)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := request.stream.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise too_large
                out.write(chunk)
        if written == 0:
            raise ValidationFailed("the upload is empty", code="empty_upload")
    except BaseException:
        os.unlink(name)
        raise
    return Path(name), ctype
