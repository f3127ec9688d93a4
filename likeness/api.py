"""Cameo endpoints (enrolment with a face and liveness comes with the face models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from flask import Blueprint
from pydantic import BaseModel, Field, StringConstraints

from app.api.raw_body import save_raw_body
from app import runtime, uploads
from app.api.schemas import Body, Id, Query
from app.api.spec import current_user, endpoint, optional_user, session
from app.config import setting
from app.errors import GreenlightError, ValidationFailed
from app.kit.speech import SpeechModelError
from likeness import enrolment, services
from likeness.models import Cameo, Permission
from likeness.names import matched_by_name

bp = Blueprint("likeness", __name__)

Handle = Annotated[str, StringConstraints(min_length=3, max_length=33)]


class CameoIn(Body):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    permission: Permission = Permission.ONLY_ME
    approved_handles: Annotated[list[Handle], Field(max_length=500)] = []
    blocked_handles: Annotated[list[Handle], Field(max_length=5000, description="never these users, "
                                                   "whatever the permission says")] = []


class CameoPatch(Body):
    permission: Permission | None = None
    approved_handles: Annotated[list[Handle], Field(max_length=500)] | None = None
    blocked_handles: Annotated[list[Handle], Field(max_length=5000)] | None = None


class CameoOut(BaseModel):
    id: str
    display_name: str
    permission: str
    status: str = Field(description="`unenrolled` until a face passes the liveness check (then `active`, or "
                                    "`pending_review` when it matches another account's face), or `revoked`")
    name_matched: bool = Field(description="whether a prompt naming this display name needs the cameo (a name of "
                                           "2-4 words, not all ordinary words); the @handle always does")
    approved_user_ids: list[str]
    blocked_user_ids: list[str]
    created_at: datetime
    revoked_at: datetime | None


class CameoList(BaseModel):
    items: list[CameoOut]


def cameo_out(c: Cameo) -> CameoOut:
    return CameoOut(id=c.id, display_name=c.display_name, permission=c.permission, status=c.status,
                    name_matched=matched_by_name(c.display_name),
                    approved_user_ids=sorted(c.approved_user_ids), blocked_user_ids=sorted(c.blocked_user_ids),
                    created_at=c.created_at, revoked_at=c.revoked_at)


_ERRORS = ("cameo_not_found", "unknown_handle", "teen_permission_not_allowed", "cannot_block_self")


@endpoint(bp, "/cameos", "POST", summary="Create a cameo and choose who may use it; it stays `unenrolled` (nobody "
          "may use it, its name protects nothing) until its owner enrols a face with `POST /cameos/<id>/enrol`",
          tag="cameos",
          body=CameoIn, response=CameoOut, status=201, errors=_ERRORS)
def create(body: CameoIn):
    return cameo_out(services.create_cameo(session(), current_user(), body.display_name, body.permission,
                                           body.approved_handles, body.blocked_handles))


@endpoint(bp, "/cameos", "GET", summary="My cameos", tag="cameos", response=CameoList)
def list_mine():
    return CameoList(items=[cameo_out(c) for c in services.list_own(session(), current_user())])


@endpoint(bp, "/cameos/<cameo_id>", "GET", summary="One of my cameos", tag="cameos", response=CameoOut,
          errors=_ERRORS)
def get_one(cameo_id: str):
    return cameo_out(services.get_own_cameo(session(), current_user(), cameo_id))


@endpoint(bp, "/cameos/<cameo_id>", "PATCH", summary="Change who may use my cameo", tag="cameos",
          body=CameoPatch, response=CameoOut, errors=_ERRORS)
def update(cameo_id: str, body: CameoPatch):
    return cameo_out(services.update_permission(session(), current_user(), cameo_id, body.permission,
                                                body.approved_handles, body.blocked_handles))


@endpoint(bp, "/cameos/<cameo_id>/revoke", "POST",
          summary="Revoke my cameo: queued and held videos with it are blocked, drafts deleted, published "
                  "ones unpublished, and their creators notified", tag="cameos", response=CameoOut, errors=_ERRORS)
def revoke(cameo_id: str):
    return cameo_out(services.revoke(session(), current_user(), cameo_id))


@endpoint(bp, "/cameos/<cameo_id>", "DELETE", summary="Delete my cameo: revoke it and erase its face template",
          tag="cameos", status=204, errors=_ERRORS)
def delete(cameo_id: str):
    services.delete_cameo(session(), current_user(), cameo_id)
    return "", 204


class AppearanceOut(BaseModel):
    generation_id: str
    status: str
    prompt: str
    creator_handle: str
    source: str
    media_url: str | None
    created_at: datetime


class AppearanceList(BaseModel):
    items: list[AppearanceOut]


@endpoint(bp, "/cameos/<cameo_id>/appearances", "GET",
          summary="Drafts and published videos featuring my cameo (I co-own them and may delete them)",
          tag="cameos", response=AppearanceList, errors=_ERRORS)
def appearances(cameo_id: str):
    rows = services.appearances(session(), current_user(), cameo_id)
    return AppearanceList(items=[AppearanceOut(
        generation_id=g.id, status=g.status, prompt=g.prompt, creator_handle=g.owner.handle, source=a.source,
        media_url=f"/api/v1/generations/{g.id}/media" if g.media_key else None, created_at=g.created_at)
        for g, a in rows])



# -- enrolment ------------------------------------------------------------------------------------------

VIDEO_TYPES = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov"}


class ChallengeOut(BaseModel):
    challenge_id: str
    phrase: str = Field(description="say these digits aloud while recording")
    digits: list[int]
    direction: str = Field(description="turn your head to your left or right during the video")
    expires_at: datetime
    upload_url: str


class EnrolmentOut(BaseModel):
    cameo: CameoOut
    review_pending: bool = Field(description="the face matches another account's cameo, or the public figure your "
                                             "account is verified as: the cameo waits for a reviewer (an "
                                             "`enrolment` case you follow at /me/cases; its summary says why)")
    case_id: str | None = None
    frames_used: int
    transcript: list[int]


@endpoint(bp, "/cameos/enrol", "POST", summary="Start enrolling my face: returns a liveness challenge",
          tag="cameos", body=CameoIn, response=ChallengeOut, status=201, errors=_ERRORS)
def start_enrolment(body: CameoIn):
    row, challenge = enrolment.start(session(), current_user(), body.display_name, body.permission,
                                     body.approved_handles, body.blocked_handles)
    return ChallengeOut(challenge_id=row.id, phrase=challenge.phrase, digits=list(challenge.digits),
                        direction=challenge.direction, expires_at=row.expires_at,
                        upload_url=f"/api/v1/cameos/enrol/{row.id}/video")


@endpoint(bp, "/cameos/<cameo_id>/enrol", "POST",
          summary="Start enrolling my face into my unenrolled cameo: returns a liveness challenge; the cameo becomes "
                  "active once the video passes", tag="cameos", response=ChallengeOut, status=201,
          errors=("cameo_not_found", "cameo_already_enrolled"))
def start_enrolment_for(cameo_id: str):
    row, challenge = enrolment.start_for(session(), current_user(), cameo_id)
    return ChallengeOut(challenge_id=row.id, phrase=challenge.phrase, digits=list(challenge.digits),
                        direction=challenge.direction, expires_at=row.expires_at,
                        upload_url=f"/api/v1/cameos/enrol/{row.id}/video")


@endpoint(bp, "/cameos/enrol/<challenge_id>/video", "POST",
          summary="Answer the challenge with a selfie video (raw body, video/mp4|webm|quicktime, ≤ 50 MB)",
          tag="cameos", response=EnrolmentOut, status=201, raw_body=tuple(VIDEO_TYPES),
          errors=("challenge_not_found", "challenge_expired", "challenge_used", "cameo_already_enrolled",
                  "liveness_failed", "enrolment_public_figure", "face_index_incomplete",
                  "payload_too_large", "unsupported_media_type", "empty_upload", "speech_model_unavailable"))
def upload_enrolment_video(challenge_id: str):
    from likeness.faces import load_face_models

    enrolment.open_challenge(session(), current_user(), challenge_id)  # 404/409 before reading the upload
    path, _ = save_raw_body(VIDEO_TYPES, setting("GL_MAX_UPLOAD_BYTES"))
    try:
        outcome = enrolment.enrol(session(), current_user(), challenge_id, path, load_face_models())
    except SpeechModelError as exc:  # an operator's GL_SPEECH_MODEL is wrong: not the user's fault
        raise GreenlightError("speech recognition is unavailable; try again later", code="speech_model_unavailable",
                              status=503, details={"cause": exc.code}) from exc
    finally:
        path.unlink(missing_ok=True)  # the raw upload never outlives the request
    result = outcome.liveness
    if outcome.refusal is not None:
        session().commit()  # the closed challenge, the audit row and the person's notification
        raise ValidationFailed(enrolment.REFUSAL_MESSAGE, code=enrolment.PUBLIC_FIGURE, details=outcome.refusal)
    if outcome.cameo is None:
        session().commit()  # the failed attempt counts
        raise ValidationFailed("the video did not pass the liveness check", code="liveness_failed", details={
            "reasons": [{"code": c, "message": m} for c, m in result.reasons], "transcript": result.transcript,
            "frames_used": result.good_frames})
    return EnrolmentOut(cameo=cameo_out(outcome.cameo), review_pending=outcome.case is not None,
                        case_id=outcome.case.id if outcome.case else None,
                        frames_used=result.good_frames, transcript=result.transcript)


# -- likeness complaints ("this video shows me") -----------------------------------------------------------

class ComplaintQuery(Query):
    generation_id: Id
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)] | None = Field(
        None, description="without an account: the address verified through POST /email-verifications")
    code: Annotated[str, StringConstraints(min_length=4, max_length=12)] | None = None
    statement: Annotated[str, StringConstraints(max_length=5000)] = ""


class ComplaintOut(BaseModel):
    case_id: str
    due_at: datetime
    score: float = Field(description="how closely your face matches the face in the video")
    link: str = Field(description="your private link to the complaint: shown once, keep it")
    api_url: str


@endpoint(bp, "/complaints/likeness", "POST",
          summary="This video shows me: a selfie (raw body, image/jpeg|png|webp) matched against the video's "
                  "faces; a match hides the video at once and opens a case (with a token, or a verified email "
                  "and its code)", tag="cases", query=ComplaintQuery, response=ComplaintOut, status=201, auth=False,
          raw_body=tuple(uploads.IMAGE_TYPES),
          errors=("generation_not_found", "email_not_verified", "email_code_wrong", "authentication_required",
                  "not_an_image", "no_face", "multiple_faces", "face_too_small", "face_pose_extreme",
                  "face_too_blurry", "complaint_no_match", "unsupported_media_type", "payload_too_large",
                  "empty_upload"))
def complain(query: ComplaintQuery):
    from likeness import complaints

    # The same path as the complaint page (likeness.complaints.Complaints): one code path.
    out = complaints.submit(runtime.current(), session(), generation_id=query.generation_id,
                            read_selfie=lambda: save_raw_body(uploads.IMAGE_TYPES, uploads.max_image_bytes())[0],
                            user=optional_user(), email=query.email, code=query.code, statement=query.statement)
    return ComplaintOut(**out, api_url=f"/api/v1{out['link']}")
