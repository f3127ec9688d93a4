"""Likeness complaints: "this video shows me", from the person shown (EU DSA Art. 16 notice).

The complainant sends a selfie; if its face matches a face on screen at the face scan's
same-person threshold, the video is hidden at once (a person's likeness should not stay up while
a reviewer gets round to it), its creator gets a statement of reasons, and a case waits for a
human to decide (likeness/complaint_cases.py). No match: nothing happens but an audit row.

Biometric data: the selfie and its embedding live only in memory during the request. Neither is
stored (no row, no file, no log); the case keeps the match score, the time on screen and, when
the complainant is enrolled, their cameo's id.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app import audit, cases, generations, mail, statements, uploads
from app.db import as_utc
from app.errors import GreenlightError, NotFound, Unauthenticated, ValidationFailed
from app.kit.media import MediaError, sample_frames
from app.models import Case, Generation, Status, User
from app.runtime import Runtime
from app.storage import private_dir
from app.states import transition
from likeness.faces import FaceModels, FaceQualityError, check_quality, decode_image
from likeness.matching import best_on_screen, matcher
from likeness.complaint_cases import KIND, STAGE
from likeness.stages import FaceScanStage

# A draft may be complained about by someone who can see it (a co-owner); a video held, blocked
# or on its way is already out of sight.
COMPLAINABLE = (Status.PUBLISHED, Status.DRAFT)


@dataclass(frozen=True)
class Filed:
    case: Case
    key: str  # the private link's key: handed back once, stored only as a hash
    score: float


def visible_generation(session: Session, generation_id: str, user: User | None) -> Generation:
    """A published video anyone may see, or a draft the signed-in complainant may see; else not found
    (no probing for drafts)."""
    gen = session.get(Generation, generation_id)
    if gen is None or gen.status not in COMPLAINABLE or not gen.media_key:
        gen = None
    elif user is not None:
        gen = gen if generations.can_view(session, gen, user) else None
    elif gen.status != Status.PUBLISHED:
        gen = None
    if gen is None:
        raise NotFound("generation not found", code="generation_not_found")
    return gen


def selfie_embedding(path: Path, models: FaceModels):
    """The embedding of the selfie's one clear face; 422 with the enrolment's quality codes
    (not_an_image, no_face, multiple_faces, face_too_small, face_pose_extreme, face_too_blurry)."""
    try:
        image = decode_image(path.read_bytes())
        analysed = models.analyze(image)
        report = check_quality(image, [a.face for a in analysed])
    except FaceQualityError as exc:
        raise ValidationFailed(f"the selfie cannot be used: {exc.message}", code=exc.code) from None
    return next(a.embedding for a in analysed if a.face is report.face)


def _actor(user: User | None) -> str:
    return user.id if user is not None else "complainant:verified_email"


def file_complaint(rt: Runtime, session: Session, models: FaceModels, *, generation_id: str, selfie: Path,
         user: User | None, email: str | None, statement: str = "") -> Filed:
    """Match the selfie against the video; on a match hide it, state why, and open the case."""
    gen = visible_generation(session, generation_id, user)
    embedding = selfie_embedding(selfie, models)
    try:
        frames = sample_frames(rt.storage.path(gen.media_key), per_second=FaceScanStage.frames_per_second)
    except MediaError as exc:
        raise GreenlightError("the video cannot be read", code=exc.code, status=500) from None
    best = best_on_screen(frames, models, embedding)
    cut = models.same_person_threshold
    if best is None or best.score < cut:
        audit.record(session, actor=_actor(user), action="likeness_complaint.no_match", object_type="generation",
                     object_id=gen.id, after={"score": round(best.score, 3) if best else None, "threshold": cut})
        raise ValidationFailed("no face in the video matches the selfie", code="complaint_no_match")
    hits = matcher().identify(session, models, embedding, k=1)
    cameo_id = hits[0].key if hits else None
    del embedding  # nothing of the face outlives the match
    return _open(session, gen, user=user, email=email, statement=statement, score=round(best.score, 3),
                 at_s=round(best.at_s, 2), cameo_id=cameo_id)


def _open(session: Session, gen: Generation, *, user: User | None, email: str | None, statement: str,
          score: float, at_s: float, cameo_id: str | None) -> Filed:
    was_published = gen.status == Status.PUBLISHED
    if was_published:
        transition(session, gen, Status.DRAFT, actor=_actor(user), reason="likeness_complaint")
    reason = {"stage": STAGE, "code": "likeness_complaint_match",
              "message": "a person who says the video shows them without consent complained, and their face "
                         "matches a face in it",
              "details": {"score": score, "at_s": at_s, "cameo_id": cameo_id}}
    sor = statements.issue(session, gen, origin="likeness_complaint", notice=True, automated_detection=True,
                           automated_decision=statements.AUTOMATED_FULLY,
                           visibility=statements.VISIBILITY_REMOVED, reasons=[reason])
    key = secrets.token_urlsafe(24)
    parties = {user.id: "complainant"} if user is not None else {}
    parties[gen.owner_id] = "creator"
    case = cases.open_case(session, kind=KIND, subject_type="generation", subject_id=gen.id, generation=gen,
                           reasons=[reason], parties=parties, opened_by=user, summary=statement,
                           contact_email=email, access_key=key, statement_id=sor.id,
                           details={"score": score, "at_s": at_s, "cameo_id": cameo_id,
                                    "was_published": was_published})
    sor.case_id = case.id
    return Filed(case=case, key=key, score=score)


def submit(rt: Runtime, session: Session, *, generation_id: str, read_selfie: Callable[[], Path],
           user: User | None, email: str | None, code: str | None, statement: str = "") -> dict[str, Any]:
    """The one path every complaint takes (the API endpoint and the complaint page): who complains
    (an account, or a verified email and its code), which video (not found before the upload is
    read), the match, and the private link. `read_selfie` gives a temp file, deleted here whatever
    happens: the selfie never outlives the request (biometric data)."""
    verified = None
    if user is None:
        if not (email and code):
            raise Unauthenticated("sign in, or verify your email address and send it with its code",
                                  code="authentication_required")
        verified = mail.confirm(session, email, code)
    visible_generation(session, generation_id, user)  # 404 before reading the upload
    path = read_selfie()
    try:
        from likeness.faces import load_face_models
        filed = file_complaint(rt, session, load_face_models(), generation_id=generation_id, selfie=path, user=user,
                               email=verified, statement=statement)
    except ValidationFailed as exc:
        if exc.code == "complaint_no_match":
            session.commit()  # the attempt is on record (an audit row, nothing of the face)
        raise
    finally:
        path.unlink(missing_ok=True)
    case = filed.case
    return {"case_id": case.id, "due_at": as_utc(case.due_at), "score": filed.score,
            "link": f"/complaints/{case.id}?key={filed.key}"}


def selfie_file(rt: Runtime, image_bytes: bytes) -> Path:
    """An uploaded selfie's bytes in a private temp file, with the API's size limits."""
    limit = uploads.max_image_bytes()
    if not image_bytes:
        raise ValidationFailed("the upload is empty", code="empty_upload")
    if len(image_bytes) > limit:
        raise GreenlightError(f"the upload is larger than {limit} bytes", code="payload_too_large", status=413)
    directory = rt.config.instance_dir
    private_dir(directory)
    fd, name = tempfile.mkstemp(suffix=".selfie", dir=directory)  # 0600
    with os.fdopen(fd, "wb") as out:
        out.write(image_bytes)
    return Path(name)


class Complaints:
    """app.interfaces.LikenessComplaints, for the complaint page."""

    def file(self, session: Session, *, generation_id: str, image_bytes: bytes, user: User | None = None,
             email: str | None = None, code: str | None = None, statement: str = "") -> dict[str, Any]:
        from app import runtime
        rt = runtime.current()
        return submit(rt, session, generation_id=generation_id, read_selfie=lambda: selfie_file(rt, image_bytes),
                      user=user, email=email, code=code, statement=statement)
