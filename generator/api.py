"""The generator's API: trace a copy of a video back to the generation that rendered it (admin)."""

from __future__ import annotations

from flask import Blueprint
from pydantic import BaseModel

from app import audit
from app.api.raw_body import save_raw_body
from app.api.spec import current_user, endpoint, session
from app.config import setting
from app.errors import ValidationFailed
from app.kit.media import MediaError
from app.models import Role
from generator import services
from generator.fingerprints import MATCH_DISTANCE, TraceMatch

bp = Blueprint("generator", __name__)

ADMIN = {Role.ADMIN.value}
VIDEO_TYPES = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov"}


class CandidateOut(BaseModel):
    generation_id: str
    distance: float
    frames_within: int
    frames: int

    @classmethod
    def of(cls, m: TraceMatch) -> "CandidateOut":
        return cls(generation_id=m.generation_id, distance=m.distance, frames_within=m.frames_within,
                   frames=m.frames)


class TraceOut(BaseModel):
    match: str | None  # the generation that rendered it, when the nearest is within max_distance
    max_distance: int
    candidates: list[CandidateOut]


@endpoint(bp, "/admin/trace", "POST",
          summary="Which generation rendered this video (raw body, video/mp4|webm|quicktime): the platform's "
                  "bank of its outputs, nearest first (admin)",
          tag="provenance", response=TraceOut, roles=ADMIN, raw_body=tuple(VIDEO_TYPES),
          errors=("payload_too_large", "unsupported_media_type", "empty_upload", "media_unreadable",
                  "media_no_video", "media_too_long"))
def trace_video():
    path, _ = save_raw_body(VIDEO_TYPES, setting("GL_MAX_UPLOAD_BYTES"))
    try:
        matches = services.trace(session(), path)
    except MediaError as exc:
        raise ValidationFailed(exc.message, code=exc.code) from exc
    finally:
        path.unlink(missing_ok=True)  # the copy is evidence for the caller, not for us to keep
    match = matches[0].generation_id if matches and matches[0].distance <= MATCH_DISTANCE else None
    audit.record(session(), actor=current_user().id, action="generation.traced", object_type="generation",
                 object_id=match or "", after={"candidates": [m.generation_id for m in matches]})
    session().commit()
    return TraceOut(match=match, max_distance=MATCH_DISTANCE, candidates=[CandidateOut.of(m) for m in matches])
