"""Cameo enrolment with liveness: a challenge (spoken digits + a head turn) answered on video.

verify_liveness() is pure (a file and a challenge in, a result out); enrol() stores the outcome:
the sealed template and the sealed aligned face crops it was made from (likeness/crops.py).

Whose face it is, once the liveness check passed: first the public-figure gallery (a match refuses
the enrolment, storing nothing, unless the account is verified as that figure: then a reviewer
confirms it), then other accounts' cameos (a match holds the cameo for a reviewer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, notifications
from app.config import setting
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.kit.media import MediaError, load_audio, sample_frames
from app.models import Case, User
from likeness import crops, templates
from likeness.enrolment_cases import allowed_matches, open_enrolment_case
from likeness.faces import FaceModels, FaceQualityError, check_quality, estimate_yaw
from likeness.liveness.audio import check_spoken_phrase
from likeness.liveness.challenge import Challenge, new_challenge
from likeness.liveness.lips import LipsReport, lips_report, mouth_opening
from likeness.liveness.motion import motion_report
from likeness.liveness.recognisers import DigitRecogniser, load_recogniser
from likeness.liveness.replay import ReplayReport, replay_report
from likeness.liveness.surface import SurfaceReport, surface_report
from likeness.matching import figure_matcher, matcher
from likeness.models import (
    Cameo, CameoApproval, CameoBlock, CameoStatus, EnrolmentChallenge, Permission,
)
from likeness.services import blockable_users, check_permission_for, get_own_cameo, users_by_handle

CHALLENGE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 3
MIN_GOOD_FRAMES = 5
# Frames looked at per second: lip movement needs about 12 (a syllable lasts ~200 ms); faces are
# embedded in every EMBED_EVERY-th of them, 3 a second (identity needs fewer; an SFace embedding
# costs ~65 ms here, three times a detection: bench/liveness_pad.py times the whole check).
FRAMES_PER_SECOND = 12.0
EMBED_EVERY = 4
# Degrees the head must turn, from its starting pose, in the asked direction, as read off five
# landmarks (estimate_yaw). A person asked to turn turns 30 degrees or more, but the reading is
# noisy (a pixel of landmark jitter is ~4 degrees on a small face) and under-reads large turns.
# So the starting pose is the median of the first TURN_BASELINE_FRAMES readings and the turn the
# largest of the readings each taken as the median of itself and its two neighbours: one stray
# reading is neither the start nor the turn. On the tuned parts of bench/liveness_pad.py seeds
# 0-2 (96 bona fide heads turning 20-35 degrees) that reads 9.6 at least, and the same videos
# answering the other direction (a recorded turn replayed to a new challenge) 7.2 at most; the
# reading before (first three frames, single readings) gave 10.8 and 14.2: it could not tell the
# directions apart.
MIN_TURN_DEGREES = 8.4
TURN_BASELINE_FRAMES = 6
EXEMPLARS = 4
# The code of an enrolment refused because the face is a public figure's (docs/errors.md).
PUBLIC_FIGURE = "enrolment_public_figure"


LIPS_MESSAGES = {
    "liveness_lips_not_speaking": "we heard the digits but your lips did not say them: say them yourself, on camera",
    "liveness_lips_out_of_sync": "the sound is out of step with your lips: record again in one take",
}


@dataclass
class LivenessResult:
    reasons: list[tuple[str, str]] = field(default_factory=list)
    embeddings: np.ndarray | None = None
    yaws: list[float] = field(default_factory=list)
    face_times: list[float] = field(default_factory=list)
    transcript: list[int] = field(default_factory=list)
    phrase_match: float = 0.0
    good_frames: int = 0
    recogniser: str = ""
    # The aligned face of each embedded frame: kept (sealed) so a new model can re-embed them.
    crops: list[np.ndarray] = field(default_factory=list)
    surface: SurfaceReport | None = None
    lips: LipsReport | None = None
    replay: ReplayReport | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass
class _Seen:
    """One sampled frame's face: its landmarks, yaw and how open its mouth is (None: no usable face)."""
    time: float
    landmarks: np.ndarray | None = None
    yaw: float | None = None
    mouth: float | None = None


def _faces_in(frames, models: FaceModels, result: LivenessResult) -> tuple[list[np.ndarray], list[str], list[_Seen]]:
    """Every frame is looked at (the turn, the surface and the lips need the motion); every
    EMBED_EVERY-th good one is also embedded (identity needs fewer)."""
    embeddings, problems, seen = [], [], []
    for t, frame in frames:
        faces = models.detect(frame)
        try:
            report = check_quality(frame, faces)
        except FaceQualityError as exc:
            problems.append(exc.code)
            seen.append(_Seen(t))
            continue
        crop = models.align(frame, report.face)
        yaw = estimate_yaw(report.face.landmarks)
        seen.append(_Seen(t, report.face.landmarks, yaw, mouth_opening(crop)))
        result.yaws.append(yaw)
        result.face_times.append(t)
        # Counted over good frames, not all: frames that failed the quality check at the wrong
        # indexes must not leave a video with too few embeddings.
        if (len(result.face_times) - 1) % EMBED_EVERY == 0:
            embeddings.append(models.embed_aligned(crop))
            result.crops.append(crop)
    return embeddings, problems, seen


def turn_degrees(yaws: list[float], direction: str) -> float:
    """How far the head turned in `direction` from its starting pose (see MIN_TURN_DEGREES)."""
    if not yaws:
        return 0.0
    start = float(np.median(yaws[:TURN_BASELINE_FRAMES]))
    steady = [float(np.median(yaws[max(0, i - 1):i + 2])) for i in range(len(yaws))]
    sign = 1.0 if direction == "left" else -1.0
    return max(sign * (y - start) for y in steady)


def _turned(yaws: list[float], direction: str) -> bool:
    return turn_degrees(yaws, direction) >= MIN_TURN_DEGREES


def verify_liveness(video: Path, challenge: Challenge, models: FaceModels,
                    recogniser: DigitRecogniser | None = None) -> LivenessResult:
    """Same live person throughout, turning their head as asked and saying the digits asked."""
    recogniser = recogniser or load_recogniser()
    result = LivenessResult(recogniser=recogniser.name)
    try:
        frames = sample_frames(video, per_second=FRAMES_PER_SECOND)
    except MediaError as exc:
        result.reasons.append((exc.code, str(exc)))
        return result
    motion = motion_report([f for _, f in frames])
    if motion.is_still:
        result.reasons.append(("liveness_still_image", "the video does not move: hold the camera to your face, "
                                                       "not a photo"))
    if motion.loop_period:
        result.reasons.append(("liveness_looped_video", "the video repeats itself"))

    embeddings, problems, seen = _faces_in(frames, models, result)
    result.good_frames = len(embeddings)
    if len(embeddings) < MIN_GOOD_FRAMES:
        code = max(set(problems), key=problems.count) if problems else "no_face"
        result.reasons.append((code, f"only {len(embeddings)} frames show one clear face; need {MIN_GOOD_FRAMES}"))
        return result
    vectors = np.stack(embeddings)
    # Against the opening frames, not the mean: a mean of two people resembles both of them.
    reference = vectors[:3].mean(axis=0)
    reference /= np.linalg.norm(reference)
    if float((vectors @ reference).min()) < models.same_person_threshold:
        result.reasons.append(("liveness_identity_changed", "the face changes during the video"))
    if not _turned(result.yaws, challenge.direction):
        result.reasons.append(("liveness_no_head_turn", f"turn your head to your {challenge.direction}"))
    images = [f for _, f in frames]
    result.surface = surface_report(images, [s.landmarks for s in seen], [s.yaw for s in seen])
    if result.surface.is_flat:
        result.reasons.append(("liveness_flat_surface", "the face turned like a flat picture, not a head: "
                                                        "record yourself, not a photo or a screen"))
    result.replay = replay_report(images, [s.landmarks for s in seen])
    if result.replay.suspected:
        result.reasons.append(("liveness_replay_suspected", "the face looks like it is shown on a screen (its pixels "
                                                            "or its edges are visible): record yourself with the "
                                                            "camera, not a video played on a display"))

    try:
        # The digits must be spoken while the face is on camera, not dubbed before or after it.
        window = (result.face_times[0], result.face_times[-1] + 1.0 / FRAMES_PER_SECOND)
        track = load_audio(video)
        audio = check_spoken_phrase(track, challenge, window=window, recognise=recogniser.digits)
        result.transcript, result.phrase_match = list(audio.transcript), audio.match
        messages = {"no_speech": "we could not hear you speak", "phrase_mismatch": "say the digits shown",
                    "speech_outside_window": "speak while you are on camera"}
        result.reasons += [(f"liveness_{code}", messages.get(code, code)) for code in audio.reasons]
        if audio.segments:
            speech = (audio.segments[0].start_s, audio.segments[-1].end_s)
            result.lips = lips_report([s.time for s in seen], [s.mouth for s in seen], track.samples, speech)
            if not result.lips.ok:
                result.reasons.append((result.lips.reason, LIPS_MESSAGES[result.lips.reason]))
    except MediaError as exc:
        result.reasons.append(("liveness_no_audio" if exc.code == "media_no_audio" else exc.code, str(exc)))
    result.embeddings = vectors
    return result


def build_template(embeddings: np.ndarray) -> np.ndarray:
    """Row 0: the normalised mean; then up to EXEMPLARS frames spread over the video."""
    mean = embeddings.mean(axis=0)
    picks = np.linspace(0, len(embeddings) - 1, num=min(EXEMPLARS, len(embeddings))).round().astype(int)
    return np.vstack([mean / np.linalg.norm(mean), embeddings[picks]]).astype(np.float32)


# -- the stored side ------------------------------------------------------------------------------------

def start(session: Session, user: User, display_name: str, permission: Permission,
          approved_handles: list[str], blocked_handles: list[str] = ()) -> tuple[EnrolmentChallenge, Challenge]:
    check_permission_for(user, permission)
    approved = users_by_handle(session, approved_handles)
    blocked = blockable_users(session, user, list(blocked_handles))
    return _challenge(session, user, display_name=display_name, permission=permission.value,
                      approved_user_ids=",".join(u.id for u in approved),
                      blocked_user_ids=",".join(u.id for u in blocked))


def start_for(session: Session, user: User, cameo_id: str) -> tuple[EnrolmentChallenge, Challenge]:
    """A challenge that enrols a face into the user's cameo made by POST /cameos (unenrolled)."""
    cameo = _unenrolled(session, user, cameo_id)
    return _challenge(session, user, display_name=cameo.display_name, permission=cameo.permission, cameo_id=cameo.id)


def _unenrolled(session: Session, user: User, cameo_id: str) -> Cameo:
    cameo = get_own_cameo(session, user, cameo_id)
    if cameo.status != CameoStatus.UNENROLLED:
        raise Conflict("this cameo already has an enrolled face (or was revoked)", code="cameo_already_enrolled",
                       details={"status": cameo.status})
    return cameo


def _challenge(session: Session, user: User, **fields) -> tuple[EnrolmentChallenge, Challenge]:
    challenge = new_challenge()
    row = EnrolmentChallenge(user_id=user.id, digits="".join(map(str, challenge.digits)), direction=challenge.direction,
                             expires_at=utcnow() + CHALLENGE_TTL, **fields)
    session.add(row)
    session.flush()
    return row, challenge


def challenge_of(row: EnrolmentChallenge) -> Challenge:
    return Challenge.from_digits(row.digits, row.direction)


def open_challenge(session: Session, user: User, challenge_id: str) -> EnrolmentChallenge:
    row = session.get(EnrolmentChallenge, challenge_id)
    if row is None or row.user_id != user.id:
        raise NotFound("enrolment challenge not found", code="challenge_not_found")
    if row.status != "open":
        raise Conflict("this challenge was already used; start a new enrolment", code="challenge_used")
    if row.expires_at < utcnow():
        raise Conflict("this challenge expired; start a new enrolment", code="challenge_expired")
    return row


@dataclass
class EnrolmentOutcome:
    cameo: Cameo | None
    liveness: LivenessResult
    case: Case | None = None  # the `enrolment` case a held enrolment opened (likeness/enrolment_cases.py)
    # A refused enrolment (a public figure's face): the reasons the person is given; cameo is None.
    refusal: dict[str, Any] | None = None


# -- whose face is it -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FigureMatch:
    """The public figure of the reference gallery whose face a new template matches best."""

    figure_id: str
    score: float
    verified: bool  # the enrolling account is verified as this figure


def verified_figures(session: Session, user_id: str) -> set[str]:
    """The public figures an account is verified as. There is no account-level flag: the admin who
    verified that a public figure's own account is theirs sets `Cameo.public_figure_id` on a cameo
    of that account, so any cameo of the account carrying it (enrolled or not) makes it theirs."""
    return set(session.scalars(select(Cameo.public_figure_id).where(Cameo.owner_id == user_id,
                                                                    Cameo.public_figure_id.is_not(None))))


def verify_figure_account(session: Session, cameo_id: str, figure_id: str | None, *, actor: str,
                          reason: str) -> Cameo:
    """An administrator's finding that the account owning `cameo_id` is public figure `figure_id`'s
    own (None: the finding withdrawn). The cameo may still be unenrolled: that is how a figure
    enrols at all (their face would otherwise be refused as a public figure's). One account per
    figure; a revoked cameo cannot carry it. Audited with the reason; the owner is told."""
    from likeness.figures import load_figures

    if not reason.strip():
        raise ValidationFailed("say why (the evidence the account is that person's)", code="reason_required")
    cameo = session.get(Cameo, cameo_id)
    if cameo is None:
        raise NotFound("no such cameo", code="cameo_not_found")
    if figure_id is not None:
        if figure_id not in {f.id for f in load_figures().figures}:
            raise NotFound("no such public figure in the list", code="figure_not_found", details={"figure_id": figure_id})
        if cameo.status == CameoStatus.REVOKED:
            raise Conflict("the cameo is revoked", code="cameo_revoked")
        other = session.scalars(select(Cameo).where(Cameo.public_figure_id == figure_id,
                                                    Cameo.owner_id != cameo.owner_id)).first()
        if other is not None:
            raise Conflict("another account is already verified as this public figure", code="figure_already_verified",
                           details={"cameo_id": other.id})
    before = cameo.public_figure_id
    cameo.public_figure_id = figure_id
    audit.record(session, actor=actor, action="cameo.figure_verified" if figure_id else "cameo.figure_unverified",
                 object_type="cameo", object_id=cameo.id,
                 before={"public_figure_id": before}, after={"public_figure_id": figure_id, "reason": reason})
    message = ("Your account is verified as a public figure: enrol your face into this cameo and a reviewer confirms it."
               if figure_id else "Your account is no longer verified as a public figure.")
    notifications.notify(session, cameo.owner_id, "figure_verification", cameo_id=cameo.id, message=message)
    return cameo


def match_public_figure(session: Session, user: User, template: np.ndarray, models: FaceModels) -> FigureMatch | None:
    """The best public-figure match of the template's mean (row 0) at or above the face model's
    same-person threshold (the face scan's cut-off), or None."""
    hits = figure_matcher().identify(session, models, template[0], k=1)
    if not hits:
        return None
    return FigureMatch(hits[0].key, float(hits[0].score), hits[0].key in verified_figures(session, user.id))


def _require_searchable(session: Session, models: FaceModels) -> None:
    """Whose face it is needs every enrolled face searchable, cameos' and public figures': after a
    face-model swap, enrolment waits for the re-embed."""
    cameos, figures = matcher().gallery(session, models), figure_matcher().gallery(session, models)
    if cameos.missing or figures.missing:
        raise Conflict("enrolment is paused until every enrolled face can be searched with the current face "
                       "model (an operator runs `greenlight likeness re-embed`); try again later",
                       code="face_index_incomplete", status=503,
                       details={"model": models.version, "cameos_missing": cameos.other_model,
                                "figures_missing": figures.other_model,
                                "unreadable": len(cameos.unreadable) + len(figures.unreadable)})


REFUSAL_MESSAGE = ("the face in the video matches a public figure: only that person's own account, verified by us, "
                   "may enrol their face; nothing of your face was kept")


def public_figure_statement() -> dict[str, Any]:
    """Why an enrolment was refused, for the person refused: the 422's details and their
    `enrolment_refused` notification (GET /api/v1/notifications). It is not a DSA statement of
    reasons (app/statements.py covers content; a refused enrolment is not content, see
    likeness/enrolment_cases.py) and is not exported, but it says what one would: the decision, its
    ground, the facts relied on, that it was automated, what was kept, and the redress. It never
    names the figure or gives the score: a refusal must not tell whoever holds a photo whose face it
    is, nor which listed figures have reference photos (the public list names people, not the
    gallery). There is no internal appeal: nothing was kept for a reviewer to look at, and the way
    for the figure themselves is a verified account, whose enrolment always goes to a reviewer."""
    return {
        "decision": "enrolment_refused",
        "code": PUBLIC_FIGURE,
        "explanation": "The face in your video matches a public figure in our reference gallery. A public figure's "
                       "likeness is theirs alone: only their own account, verified by us as theirs, may enrol it, "
                       "and a reviewer confirms that enrolment. Your account is not verified as that person, so your "
                       "face was not enrolled.",
        "ground": "terms of service",
        "ground_url": setting("GL_TERMS_URL"),
        "facts": "After the liveness check passed, automated face matching found that the face in the video matches "
                 "a public figure of the reference gallery at or above the same-person threshold.",
        "automated": "fully automated: no person looked at the video",
        "kept": "nothing of your face: no face template, no face images, no cameo; the video was deleted when the "
                "request ended",
        "redress": {
            "if_you_are_that_person": "ask us to verify your account as theirs; once an administrator has marked one "
                                      "of your cameos (POST /api/v1/cameos) as theirs, enrol into it "
                                      "(POST /api/v1/cameos/<id>/enrol) and a reviewer confirms the match",
            "internal_appeal": None,
            "judicial_redress": True,
        },
    }


def refuse_public_figure(session: Session, user: User, row: EnrolmentChallenge, match: FigureMatch,
                         models: FaceModels) -> dict[str, Any]:
    """Refuse the enrolment: nothing biometric is stored (the caller made no cameo, template or crop
    yet), the challenge closes (one face per challenge: a refusal is no probe to repeat), an audit
    row says which figure matched (ids and score, nothing of the face), and the person is told why."""
    row.status, row.failure = "refused", PUBLIC_FIGURE
    statement = public_figure_statement()
    audit.record(session, actor=user.id, action="cameo.enrolment_refused", object_type="enrolment_challenge",
                 object_id=row.id, after={"code": PUBLIC_FIGURE, "figure_id": match.figure_id,
                                          "score": round(match.score, 3), "model": models.version,
                                          "cameo_id": row.cameo_id})
    notifications.notify(session, user.id, "enrolment_refused", challenge_id=row.id, cameo_id=row.cameo_id,
                         **statement)
    return statement


def enrol(session: Session, user: User, challenge_id: str, video: Path, models: FaceModels) -> EnrolmentOutcome:
    """Verify the video; on success store the encrypted template into the challenge's cameo (an
    unenrolled one of POST /cameos, or a new one). A failed attempt is counted (the caller commits
    it) and the challenge closes after MAX_ATTEMPTS. A public figure's face closes it at once,
    refused (`outcome.refusal`, which the caller commits too), with nothing of the face stored."""
    row = open_challenge(session, user, challenge_id)
    # Revoked or enrolled since the challenge was issued: nothing to enrol into.
    cameo = _unenrolled(session, user, row.cameo_id) if row.cameo_id else None
    row.attempts += 1
    result = verify_liveness(video, challenge_of(row), models)
    if not result.ok:
        row.failure = result.reasons[0][0]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
        return EnrolmentOutcome(None, result)

    template = build_template(result.embeddings)
    _require_searchable(session, models)
    # A public figure's face, from an account not verified as theirs: refused before anything is made.
    figure = match_public_figure(session, user, template, models)
    if figure is not None and not figure.verified:
        return EnrolmentOutcome(None, result, refusal=refuse_public_figure(session, user, row, figure, models))
    if cameo is None:
        cameo = Cameo(owner_id=user.id, display_name=row.display_name, permission=row.permission,
                      status=CameoStatus.UNENROLLED.value)
        cameo.approvals = [CameoApproval(user_id=uid) for uid in row.approved_user_ids.split(",") if uid]
        cameo.blocks = [CameoBlock(user_id=uid) for uid in row.blocked_user_ids.split(",") if uid]
        session.add(cameo)
        session.flush()
    case = complete(session, user, cameo, template, result.crops, models,
                    frames=result.good_frames, speech=result.recogniser)
    row.status, row.cameo_id = "used", cameo.id
    return EnrolmentOutcome(cameo, result, case)


def complete(session: Session, user: User, cameo: Cameo, template: np.ndarray, face_crops: list[np.ndarray],
             models: FaceModels, *, frames: int, speech: str) -> Case | None:
    """The stored side of a passed liveness check, and the only way a cameo becomes active: whose
    face it is (public figures first, then other accounts' cameos), the sealed template and face
    crops, and the status: active, or pending_review with the `enrolment` case this returns when
    the face matches the public figure the account is verified as, or another account's cameo. A
    public figure's face from any other account raises `enrolment_public_figure` (enrol() refuses
    it before calling this, and tells the person why)."""
    # 1:N at enrolment: a face already enrolled needs a human decision, which needs every enrolled
    # face searchable: after a face-model swap, wait for the re-embed.
    _require_searchable(session, models)
    figure = match_public_figure(session, user, template, models)
    if figure is not None and not figure.verified:
        raise ValidationFailed(REFUSAL_MESSAGE, code="enrolment_public_figure", details=public_figure_statement())
    # A match this user won an appeal against (likeness/enrolment_cases.py) no longer holds them.
    allowed = allowed_matches(session, user.id)
    hits = [h for h in matcher().identify(session, models, template[0], k=5)
            if session.get(Cameo, h.key) is not None and session.get(Cameo, h.key).owner_id != user.id
            and h.key not in allowed]
    held = bool(hits) or figure is not None
    cameo.status = (CameoStatus.PENDING_REVIEW if held else CameoStatus.ACTIVE).value
    cameo.enrolled_at = utcnow()
    session.flush()
    ring = templates.keyring()
    stored = templates.store(session, ring, cameo.id, template, models.version)
    crops.replace(session, ring, stored, face_crops)
    # A reviewer decides in the likeness queue; only the enrollee is a party to that case.
    case = open_enrolment_case(session, user, cameo, matched_cameo=(hits[0].key, hits[0].score) if hits else None,
                               matched_figure=(figure.figure_id, figure.score) if figure else None) if held else None
    audit.record(session, actor=user.id, action="cameo.enrolled", object_type="cameo", object_id=cameo.id,
                 after={"status": cameo.status, "model": models.version, "frames": frames, "speech": speech})
    return case


DEMO_FACE = Path(__file__).parent / "data" / "demo" / "alice.jpg"


def seed_demo_cameos(session: Session, users: Mapping[str, User]) -> dict[str, str]:
    """The demo world's cameos, enrolled through `complete` like any other, without the liveness
    video nobody recorded. Alice's face is a real photo (DEMO_FACE: NASA's portrait of Eileen Collins,
    public domain, as scikit-image ships it), so her cameo appears on screen in a render and the
    post-render scan matches it; Bob's and Tess's show consent rules only, each face a stand-in (a
    random unit vector, a face no camera will match)."""
    import cv2

    from likeness.faces import load_face_models
    from likeness.services import create_cameo

    models = load_face_models()
    rng = np.random.default_rng(2024)
    made = {}
    for handle, name, permission in (("alice", "Alice", Permission.EVERYONE), ("bob", "Bob", Permission.MUTUALS),
                                     ("tess", "Tess", Permission.ONLY_ME)):
        cameo = create_cameo(session, users[handle], name, permission, [])
        if handle == "alice":
            photo = cv2.imread(str(DEMO_FACE))
            crop = models.align(photo, max(models.detect(photo), key=lambda f: f.area))
            face, face_crops = models.embed_aligned(crop), [crop]
        else:
            face, face_crops = rng.standard_normal(models.dim).astype(np.float32), []
        face = face / np.linalg.norm(face)
        complete(session, users[handle], cameo, build_template(np.stack([face, face])), face_crops,
                 models, frames=0, speech="demo")
        made[f"{handle}_cameo"] = cameo.id
    return made
