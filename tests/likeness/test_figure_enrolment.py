"""Whose face is enrolled: the public-figure gallery is searched before other accounts' cameos. A
public figure's face is refused (nothing of it kept, the person told why) unless the account is
verified as that figure, whose enrolment waits for a reviewer.

The rule's tests give `enrol` a passed liveness check carrying a photo's face (the liveness video
itself is tested in test_enrolment.py); the API tests upload a selfie video made from the photo."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from app.errors import Conflict, NotFound, ValidationFailed
from app.models import AuditEvent, Case, Notification, Role, User
from likeness import enrolment, services, templates
from likeness.enrolment_cases import EnrolmentHandler
from likeness.figure_gallery import enrol_gallery
from likeness.figures import load_figures
from likeness.liveness.challenge import Challenge
from likeness.models import Cameo, CameoStatus, EnrolmentChallenge, FaceCrop, FaceTemplate, Permission
from tests.app.test_api import envelope
from tests.conftest import create_user
from tests.likeness.enrolled import enrol as complete_with
from tests.likeness.face_videos import head_turn_frames, write_selfie

LEFT = Challenge.from_digits("73914", "left")
FIGURE = "grace-hopper"


@pytest.fixture
def figure_gallery(rt, models, photos, tmp_path):
    """The public-figure gallery holds Grace Hopper's face, from her photo."""
    folder = tmp_path / "gallery" / FIGURE
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "portrait.jpg"), photos["hopper"])
    with rt.db.transaction() as s:
        report = enrol_gallery(s, folder.parent, models, load_figures(), actor="test")
    assert [(f.figure_id, f.used) for f in report.figures] == [(FIGURE, 1)]


def face_of(models, photo) -> np.ndarray:
    return models.analyze(photo)[0].embedding


@pytest.fixture
def passed_liveness(monkeypatch, models, photos):
    """Call it with a photo's name: the next liveness check passes with that photo's face."""
    def shows(name: str) -> None:
        photo = photos[name]
        face = models.analyze(photo)[0]
        crop = models.align(photo, face.face)

        def verified(*_args, **_kwargs):
            return enrolment.LivenessResult(embeddings=np.stack([face.embedding] * 6), good_frames=6,
                                            recogniser="test", crops=[crop] * 6)

        monkeypatch.setattr(enrolment, "verify_liveness", verified)
    return shows


def new_enrolment(rt, user: User, cameo_id: str | None = None) -> str:
    """A challenge for a new cameo (POST /cameos/enrol), or for an unenrolled one (POST /cameos/<id>/enrol)."""
    with rt.db.transaction() as s:
        owner = s.get(User, user.id)
        if cameo_id:
            row, _ = enrolment.start_for(s, owner, cameo_id)
        else:
            row, _ = enrolment.start(s, owner, "Grace", Permission.EVERYONE, [])
        return row.id


def answer(rt, user: User, challenge_id: str, models, tmp_path) -> tuple[enrolment.EnrolmentOutcome, dict]:
    """enrol() as the API runs it (committing a refusal too); returns the outcome and what it made."""
    video = tmp_path / "unused.mp4"  # the liveness check is replaced; no file is read
    with rt.db.transaction() as s:
        outcome = enrolment.enrol(s, s.get(User, user.id), challenge_id, video, models)
        made = {"cameo": outcome.cameo.id if outcome.cameo else None, "status": outcome.cameo.status
                if outcome.cameo else None, "case": outcome.case.id if outcome.case else None}
    return outcome, made


def unmarked_cameo(rt, user: User, public_figure_id: str | None = None) -> str:
    """POST /cameos (unenrolled); `public_figure_id`: an admin verified the account as that figure's."""
    with rt.db.transaction() as s:
        cameo = services.create_cameo(s, s.get(User, user.id), "Grace", Permission.EVERYONE, [])
        if public_figure_id:
            s.flush()
            enrolment.verify_figure_account(s, cameo.id, public_figure_id, actor="admin:test", reason="id checked")
        return cameo.id


def biometrics_of_cameos(rt) -> tuple[list, list]:
    """Every cameo template and every cameo face crop (the gallery's own crops are the figures')."""
    with rt.db.transaction() as s:
        return (s.scalars(select(FaceTemplate.cameo_id)).all(),
                s.scalars(select(FaceCrop.id).where(FaceCrop.cameo_id.is_not(None))).all())


# -- the rule -----------------------------------------------------------------------------------------------

def test_a_public_figures_face_is_refused_and_nothing_of_it_is_kept(rt, figure_gallery, passed_liveness, models,
                                                                     tmp_path):
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    passed_liveness("hopper")
    challenge_id = new_enrolment(rt, mallory)
    outcome, made = answer(rt, mallory, challenge_id, models, tmp_path)
    assert outcome.cameo is None and outcome.case is None and made["cameo"] is None
    refusal = outcome.refusal
    assert refusal["code"] == "enrolment_public_figure" and refusal["decision"] == "enrolment_refused"
    assert refusal["redress"]["if_you_are_that_person"] and refusal["kept"].startswith("nothing of your face")
    # Whose face it is and how close it came stay with us: a refusal is not a face-identification service.
    assert "hopper" not in json.dumps(refusal).lower() and "score" not in json.dumps(refusal)
    with rt.db.transaction() as s:
        assert s.scalars(select(Cameo)).all() == []
        row = s.get(EnrolmentChallenge, challenge_id)
        assert (row.status, row.attempts, row.failure, row.cameo_id) == ("refused", 1, "enrolment_public_figure", None)
        [audited] = s.scalars(select(AuditEvent).where(AuditEvent.action == "cameo.enrolment_refused")).all()
        [told] = s.scalars(select(Notification).where(Notification.user_id == mallory.id)).all()
        assert s.scalars(select(Case)).all() == []
    assert biometrics_of_cameos(rt) == ([], [])
    # The audit row says which figure matched and how closely, and nothing of the face.
    assert (audited.actor, audited.object_type, audited.object_id) == (mallory.id, "enrolment_challenge", challenge_id)
    assert set(audited.after) == {"code", "figure_id", "score", "model", "cameo_id"}
    assert audited.after["figure_id"] == FIGURE and audited.after["score"] > models.same_person_threshold
    # The person reads why in their notifications, as the refusal said it.
    assert told.kind == "enrolment_refused"
    assert told.payload == {**refusal, "challenge_id": challenge_id, "cameo_id": None}
    # The challenge is spent: one face per challenge.
    with rt.db.transaction() as s, pytest.raises(Conflict) as used:
        enrolment.open_challenge(s, s.get(User, mallory.id), challenge_id)
    assert used.value.code == "challenge_used"


def test_a_cameo_made_by_post_cameos_stays_unenrolled_when_refused(rt, figure_gallery, passed_liveness, models,
                                                                   tmp_path):
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    cameo_id = unmarked_cameo(rt, mallory)
    passed_liveness("hopper")
    outcome, _ = answer(rt, mallory, new_enrolment(rt, mallory, cameo_id), models, tmp_path)
    assert outcome.refusal["code"] == "enrolment_public_figure"
    with rt.db.transaction() as s:
        cameo = s.get(Cameo, cameo_id)
        assert (cameo.status, cameo.enrolled_at) == (CameoStatus.UNENROLLED.value, None)
        assert s.scalars(select(Notification.payload).where(Notification.kind == "enrolment_refused")).one()[
            "cameo_id"] == cameo_id
    assert biometrics_of_cameos(rt) == ([], [])


def test_the_verified_figures_own_enrolment_waits_for_a_reviewer(rt, figure_gallery, passed_liveness, models,
                                                                  tmp_path):
    grace = create_user(rt, "grace@t.test", handle="amazinggrace")
    cameo_id = unmarked_cameo(rt, grace, public_figure_id=FIGURE)
    passed_liveness("hopper")
    outcome, made = answer(rt, grace, new_enrolment(rt, grace, cameo_id), models, tmp_path)
    assert outcome.refusal is None
    assert made["cameo"] == cameo_id and made["status"] == CameoStatus.PENDING_REVIEW.value
    with rt.db.transaction() as s:
        case = s.get(Case, made["case"])
        assert (case.kind, case.subject_type, case.subject_id, case.queue) == ("enrolment", "cameo", cameo_id,
                                                                              "likeness")
        assert [r["code"] for r in case.reasons] == ["face_matches_public_figure"]
        assert case.details["matched_figure_id"] == FIGURE and case.details["figure_score"] > 0.9
        assert "matched_cameo_id" not in case.details
        # The enrollee reads why in the case's summary (parties do not see the reasons).
        assert "public figure your account is verified as" in case.summary
    assert biometrics_of_cameos(rt)[0] == [cameo_id]  # stored, for the reviewer's decision


def test_an_account_verified_as_the_figure_through_another_cameo_is_held_too(rt, figure_gallery, passed_liveness,
                                                                               models, tmp_path):
    grace = create_user(rt, "grace@t.test", handle="amazinggrace")
    unmarked_cameo(rt, grace, public_figure_id=FIGURE)  # the cameo an admin marked, not (yet) enrolled
    passed_liveness("hopper")
    outcome, made = answer(rt, grace, new_enrolment(rt, grace), models, tmp_path)  # a new cameo
    assert outcome.refusal is None and made["status"] == CameoStatus.PENDING_REVIEW.value
    # A reviewer who allows it makes the new cameo hers too: the one her videos may declare.
    carol = create_user(rt, "carol@t.test", role=Role.REVIEWER, handle="carol")
    with rt.db.transaction() as s:
        EnrolmentHandler().decide(s, s.get(Case, made["case"]), "allow", s.get(User, carol.id), "")
    with rt.db.transaction() as s:
        cameo = s.get(Cameo, made["cameo"])
        assert (cameo.status, cameo.public_figure_id) == (CameoStatus.ACTIVE.value, FIGURE)
    # An account verified as some other figure is refused like anyone else.
    ada = create_user(rt, "ada@t.test", handle="ada")
    unmarked_cameo(rt, ada, public_figure_id="barack-obama")
    outcome, _ = answer(rt, ada, new_enrolment(rt, ada), models, tmp_path)
    assert outcome.refusal["code"] == "enrolment_public_figure"


def test_a_face_of_no_public_figure_enrols_active(rt, figure_gallery, passed_liveness, models, tmp_path):
    alice = create_user(rt, "alice@t.test", handle="alice")
    passed_liveness("astronaut")
    outcome, made = answer(rt, alice, new_enrolment(rt, alice), models, tmp_path)
    assert outcome.refusal is None and made["status"] == CameoStatus.ACTIVE.value and made["case"] is None
    assert biometrics_of_cameos(rt)[0] == [made["cameo"]]


def test_a_face_another_account_enrolled_still_waits_for_a_reviewer(rt, figure_gallery, passed_liveness, models,
                                                                     tmp_path):
    alice = create_user(rt, "alice@t.test", handle="alice")
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    passed_liveness("astronaut")
    _, first = answer(rt, alice, new_enrolment(rt, alice), models, tmp_path)
    outcome, made = answer(rt, mallory, new_enrolment(rt, mallory), models, tmp_path)
    assert outcome.refusal is None and made["status"] == CameoStatus.PENDING_REVIEW.value
    with rt.db.transaction() as s:
        case = s.get(Case, made["case"])
        assert [r["code"] for r in case.reasons] == ["face_matches_other_cameo"]
        assert case.details["matched_cameo_id"] == first["cameo"] and case.details["score"] > 0.9
        assert "matched_figure_id" not in case.details
        assert "another account" in case.summary


def test_the_public_figure_check_comes_before_the_other_cameo_check(rt, figure_gallery, passed_liveness, models,
                                                                     photos, tmp_path):
    """Grace's own cameo is enrolled (verified, reviewed): someone else enrolling her face is refused
    as a public figure's, not held as a duplicate of her cameo."""
    grace = create_user(rt, "grace@t.test", handle="amazinggrace")
    cameo_id = unmarked_cameo(rt, grace, public_figure_id=FIGURE)
    assert complete_with(rt, cameo_id, face_of(models, photos["hopper"])) == "pending_review"
    with rt.db.transaction() as s:
        s.get(Cameo, cameo_id).status = CameoStatus.ACTIVE.value  # a reviewer allowed it
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    passed_liveness("hopper")
    outcome, _ = answer(rt, mallory, new_enrolment(rt, mallory), models, tmp_path)
    assert outcome.refusal["code"] == "enrolment_public_figure" and outcome.case is None
    with rt.db.transaction() as s:
        assert s.scalars(select(Case).where(Case.opened_by_id == mallory.id)).all() == []
    assert biometrics_of_cameos(rt)[0] == [cameo_id]


def test_complete_refuses_a_public_figures_face_for_every_caller(rt, figure_gallery, models, photos):
    """`complete` is the one way a cameo becomes active: called without enrol() (the demo seed, the
    tests' enrolled cameos), it refuses a public figure's face too, and the transaction rolls back."""
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    cameo_id = unmarked_cameo(rt, mallory)
    with pytest.raises(ValidationFailed) as refused:
        complete_with(rt, cameo_id, face_of(models, photos["hopper"]))
    assert refused.value.code == "enrolment_public_figure" and refused.value.status == 422
    assert "hopper" not in json.dumps(refused.value.details).lower()
    with rt.db.transaction() as s:
        assert s.get(Cameo, cameo_id).status == CameoStatus.UNENROLLED.value
    assert biometrics_of_cameos(rt) == ([], [])
    # The same cameo enrols a face that is no figure's.
    assert complete_with(rt, cameo_id, face_of(models, photos["astronaut"])) == "active"


def test_enrolment_waits_while_a_public_figures_face_cannot_be_searched(rt, passed_liveness, models, tmp_path):
    """A figure template under another face model (not yet re-embedded) might be this face: 503,
    nothing stored, no attempt used (the transaction rolls back, as the API's does)."""
    with rt.db.transaction() as s:
        templates.store_figure(s, templates.keyring(), FIGURE, np.eye(2, 128, dtype=np.float32), "an-old-model",
                               photos=1)
    alice = create_user(rt, "alice@t.test", handle="alice")
    passed_liveness("astronaut")
    challenge_id = new_enrolment(rt, alice)
    with pytest.raises(Conflict) as paused:
        answer(rt, alice, challenge_id, models, tmp_path)
    assert (paused.value.code, paused.value.status) == ("face_index_incomplete", 503)
    assert paused.value.details == {"model": models.version, "cameos_missing": 0, "figures_missing": 1,
                                    "unreadable": 0}
    with rt.db.transaction() as s:
        assert s.scalars(select(Cameo)).all() == []
        assert s.get(EnrolmentChallenge, challenge_id).attempts == 0


# -- through the API, with a selfie video made from the figure's photo --------------------------------------

@pytest.fixture(scope="module")
def hopper_selfie(tmp_path_factory, models, photos) -> bytes:
    """Grace Hopper's photo on the bona fide stand-in (a 3-D head turning left and saying 7 3 9 1 4,
    tests/likeness/heads.py): it passes the liveness check, so the figure check is what refuses it."""
    path = tmp_path_factory.mktemp("hopper") / "hopper.mp4"
    frames = head_turn_frames(models, photos["hopper"], "left", seconds=3.0)
    return write_selfie(path, frames).read_bytes()


@pytest.fixture
def fixed_challenge(monkeypatch):
    monkeypatch.setattr(enrolment, "new_challenge", lambda: LEFT)


def upload(api, url: str, data: bytes):
    return api.post(url, data=data, headers={"Content-Type": "video/mp4"})


@pytest.mark.slow
def test_a_public_figures_photo_is_refused_through_the_api(rt, make_api, figure_gallery, fixed_challenge,
                                                           hopper_selfie):
    mallory, _ = make_api("mallory@t.test", handle="mallory")
    challenge = mallory.post("/api/v1/cameos/enrol", json={"display_name": "Grace", "permission": "everyone"})
    url = challenge.get_json()["upload_url"]
    error = envelope(upload(mallory, url, hopper_selfie), 422, "enrolment_public_figure")
    assert error["details"]["code"] == "enrolment_public_figure" and error["details"]["redress"]
    assert "hopper" not in json.dumps(error).lower()
    # Nothing biometric was kept, no cameo made, the upload is gone.
    assert mallory.get("/api/v1/cameos").get_json()["items"] == []
    assert biometrics_of_cameos(rt) == ([], [])
    assert not [p for p in rt.config.instance_dir.iterdir() if p.suffix in {".mp4", ".webm", ".mov"}]
    # Told why, readable later; the challenge is spent.
    notes = mallory.get("/api/v1/notifications").get_json()["items"]
    assert [(n["kind"], n["payload"]["code"]) for n in notes] == [("enrolment_refused", "enrolment_public_figure")]
    assert notes[0]["payload"]["explanation"] == error["details"]["explanation"]
    envelope(upload(mallory, url, hopper_selfie), 409, "challenge_used")

    # Into a cameo made by POST /cameos: refused the same way, and the cameo stays unenrolled.
    cameo_id = mallory.post("/api/v1/cameos", json={"display_name": "Grace", "permission": "everyone"}).get_json()["id"]
    url = mallory.post(f"/api/v1/cameos/{cameo_id}/enrol").get_json()["upload_url"]
    envelope(upload(mallory, url, hopper_selfie), 422, "enrolment_public_figure")
    assert mallory.get(f"/api/v1/cameos/{cameo_id}").get_json()["status"] == "unenrolled"
    assert biometrics_of_cameos(rt) == ([], [])


@pytest.mark.slow
def test_the_verified_figures_own_video_waits_for_review_through_the_api(rt, make_api, figure_gallery,
                                                                         fixed_challenge, hopper_selfie):
    grace, user = make_api("grace@t.test", handle="amazinggrace")
    cameo_id = grace.post("/api/v1/cameos", json={"display_name": "Grace", "permission": "everyone"}).get_json()["id"]
    with rt.db.transaction() as s:
        s.get(Cameo, cameo_id).public_figure_id = FIGURE  # an admin verified the account as hers
    url = grace.post(f"/api/v1/cameos/{cameo_id}/enrol").get_json()["upload_url"]
    resp = upload(grace, url, hopper_selfie)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["review_pending"] is True and body["cameo"]["status"] == "pending_review"
    case = grace.get(f"/api/v1/cases/{body['case_id']}").get_json()
    assert case["your_role"] == "enrollee" and "public figure your account is verified as" in case["summary"]


def test_an_admin_verifies_one_account_per_figure_with_a_reason_audited_and_the_owner_told(rt):
    grace = create_user(rt, "grace@t.test", handle="amazinggrace")
    mallory = create_user(rt, "mallory@t.test", handle="mallory")
    cameo_id, other_id = unmarked_cameo(rt, grace), unmarked_cameo(rt, mallory)
    with rt.db.transaction() as s:
        with pytest.raises(ValidationFailed) as blank:
            enrolment.verify_figure_account(s, cameo_id, FIGURE, actor="admin:test", reason="  ")
        with pytest.raises(NotFound) as unlisted:
            enrolment.verify_figure_account(s, cameo_id, "nobody-famous", actor="admin:test", reason="x")
        with pytest.raises(NotFound) as missing:
            enrolment.verify_figure_account(s, "no-such-cameo", FIGURE, actor="admin:test", reason="x")
    assert (blank.value.code, unlisted.value.code, missing.value.code) == (
        "reason_required", "figure_not_found", "cameo_not_found")
    with rt.db.transaction() as s:
        assert enrolment.verified_figures(s, grace.id) == set()  # nothing of the refused calls stayed
        enrolment.verify_figure_account(s, cameo_id, FIGURE, actor="admin:test", reason="passport seen")
    with rt.db.transaction() as s:
        assert enrolment.verified_figures(s, grace.id) == {FIGURE}
        # A second account cannot be verified as the same person.
        with pytest.raises(Conflict) as taken:
            enrolment.verify_figure_account(s, other_id, FIGURE, actor="admin:test", reason="says so")
        assert taken.value.code == "figure_already_verified" and taken.value.details == {"cameo_id": cameo_id}
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "cameo.figure_verified")).one()
        assert (event.object_id, event.after) == (cameo_id, {"public_figure_id": FIGURE, "reason": "passport seen"})
        told = s.scalars(select(Notification).where(Notification.kind == "figure_verification")).one()
        assert told.user_id == grace.id and told.payload["cameo_id"] == cameo_id
    # Withdrawn: the account is like any other again; a revoked cameo cannot carry the finding.
    with rt.db.transaction() as s:
        enrolment.verify_figure_account(s, cameo_id, None, actor="admin:test", reason="mistaken identity")
    with rt.db.transaction() as s:
        assert enrolment.verified_figures(s, grace.id) == set()
        s.get(Cameo, other_id).status = CameoStatus.REVOKED.value
    with rt.db.transaction() as s:
        with pytest.raises(Conflict) as revoked:
            enrolment.verify_figure_account(s, other_id, FIGURE, actor="admin:test", reason="x")
        assert revoked.value.code == "cameo_revoked"
