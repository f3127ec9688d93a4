"""Generations: submit (gated at once), read, list, media, publish, delete."""

from __future__ import annotations

from flask import Blueprint, send_file
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import generations, orchestrator, runtime
from app.api.pagination import paginate
from app.api.schemas import (
    GenerationIn, GenerationListQuery, GenerationOut, GenerationPage, ReasonOut, VerdictOut,
)
from app.api.spec import current_user, endpoint, session
from app.errors import GreenlightError, NotFound, ValidationFailed
from app.models import Generation, Status

bp = Blueprint("generations", __name__)

# Held media (in review, blocked) is not served, not even to its creator.
_MEDIA_VISIBLE = {Status.DRAFT, Status.PUBLISHED}


def generation_out(gen: Generation) -> GenerationOut:
    has_media = gen.media_key is not None and gen.status in _MEDIA_VISIBLE
    return GenerationOut(
        id=gen.id, status=gen.status, prompt=gen.prompt, cameo_ids=list(gen.cameo_ids or []),
        remix_of=gen.remix_of_id, input_image_id=gen.input_image_id, error=gen.error,
        age_restricted=bool(gen.age_restricted), created_at=gen.created_at, updated_at=gen.updated_at,
        media_url=f"/api/v1/generations/{gen.id}/media" if has_media else None,
        media_sha256=gen.media_sha256 if has_media else None,
        media_withheld=gen.media_withheld,
        verdicts=[VerdictOut(stage=v.stage, version=v.stage_version, phase=v.phase, decision=v.decision,
                             reasons=[ReasonOut(**r) for r in v.reasons], scores=v.scores, latency_ms=v.latency_ms,
                             created_at=v.created_at) for v in gen.verdicts])


def _visible(generation_id: str, *options) -> Generation:
    gen = session().get(Generation, generation_id, options=options)
    if gen is None or not generations.can_view(session(), gen, current_user()):
        raise NotFound("generation not found", code="generation_not_found")
    return gen


@endpoint(bp, "/generations", "POST", summary="Request a generation; the pre-render gates answer at once",
          tag="generations", body=GenerationIn, response=GenerationOut, status=201,
          errors=("validation_error", "empty_prompt", "invalid_characters", "prompt_not_utf8", "remix_parent_not_found",
                  "upload_not_found", "invalid_json", "quota_exceeded"))
def create(body: GenerationIn):
    generations.check_quota(session(), current_user())
    gen_id = orchestrator.submit_and_gate(runtime.current(), session(), current_user(), body.prompt,
                                         body.cameo_ids, body.remix_of, body.input_image_id)
    return generation_out(session().get(Generation, gen_id, options=[joinedload(Generation.verdicts)],
                                        populate_existing=True))


@endpoint(bp, "/generations", "GET", summary="My generations, newest first", tag="generations",
          query=GenerationListQuery, response=GenerationPage)
def list_mine(query: GenerationListQuery):
    stmt = select(Generation).where(Generation.owner_id == current_user().id)
    if query.status:
        if query.status not in Status.__members__.values():
            raise ValidationFailed("unknown status", code="unknown_status", details={"status": query.status})
        stmt = stmt.where(Generation.status == query.status)
    else:
        stmt = stmt.where(Generation.status != Status.DELETED)
    rows, cursor = paginate(session(), stmt, Generation, query.limit, query.cursor)
    return GenerationPage(items=[generation_out(g) for g in rows], next_cursor=cursor)


@endpoint(bp, "/generations/<generation_id>", "GET", summary="One generation with its verdicts",
          tag="generations", response=GenerationOut, errors=("generation_not_found",))
def get_one(generation_id: str):
    # The verdicts in the same statement as their generation: one round trip, not two.
    return generation_out(_visible(generation_id, joinedload(Generation.verdicts)))


@endpoint(bp, "/generations/<generation_id>/media", "GET", summary="Download the rendered MP4",
          tag="generations", errors=("generation_not_found", "media_not_found", "media_withheld"))
def media(generation_id: str):
    gen = _visible(generation_id)
    if gen.media_withheld:
        raise GreenlightError("this video was withdrawn from everyone: a person in it revoked their consent or "
                              "deleted it", code="media_withheld", status=410, details={"reason": gen.media_withheld})
    if gen.media_key is None or gen.status not in _MEDIA_VISIBLE:
        raise NotFound("this generation has no media", code="media_not_found")
    path = runtime.current().storage.path(gen.media_key)
    if not path.is_file():
        raise NotFound("this generation has no media", code="media_not_found")
    return send_file(path, mimetype="video/mp4", conditional=True, etag=gen.media_sha256 or True,
                     download_name=f"{gen.id}.mp4")


@endpoint(bp, "/generations/<generation_id>/publish", "POST", summary="Publish a draft to the feed",
          tag="generations", response=GenerationOut,
          errors=("generation_not_found", "illegal_transition", "consent_revoked", "media_withheld"))
def publish(generation_id: str):
    return generation_out(generations.publish(session(), current_user(), generation_id))


@endpoint(bp, "/generations/<generation_id>", "DELETE", summary="Delete a generation and its media",
          tag="generations", status=204, errors=("generation_not_found", "illegal_transition"))
def delete(generation_id: str):
    generations.delete(session(), current_user(), generation_id)
    return "", 204
