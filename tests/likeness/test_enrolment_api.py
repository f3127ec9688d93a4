"""Enrolment through the JSON API: challenge, upload, 1:N duplicate check, review, deletion."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from app.models import Role
from likeness import crops, enrolment, templates
from likeness.faces import load_face_models
from likeness.liveness.challenge import Challenge
from likeness.matching import matcher
from likeness.models import Cameo, EnrolmentChallenge, FaceCrop, FaceTemplate
from tests.app.test_api import envelope
from tests.likeness.face_videos import head_turn_frames, write_selfie

LEFT = Challenge.from_digits("73914", "left")


@pytest.fixture(scope="module")
def selfie_bytes(tmp_path_factory, models, photos) -> bytes:
    path = tmp_path_factory.mktemp("selfie") / "selfie.mp4"
    return write_selfie(path, head_turn_frames(models, photos["astronaut"], "left", seconds=3.0)).read_bytes()


@pytest.fixture(autouse=True)
def fixed_challenge(monkeypatch):
    monkeypatch.setattr(enrolment, "new_challenge", lambda: LEFT)


def start(api, **body):
    resp = api.post("/api/v1/cameos/enrol", json={"display_name": "Me", "permission": "everyone", **body})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def upload(api, url, data, content_type="video/mp4"):
    return api.post(url, data=data, headers={"Content-Type": content_type})


def identify(rt, embedding):
    with rt.db.transaction() as s:
        return [h.key for h in matcher().identify(s, load_face_models(), embedding)]


@pytest.mark.slow
def test_enrol_then_find_then_delete(rt, make_api, selfie_bytes, models, photos):
    alice, _ = make_api("alice@t.test", handle="alice")
    challenge = start(alice, display_name="Alice")
    assert challenge["phrase"] == "seven three nine one four" and challenge["direction"] == "left"
    resp = upload(alice, challenge["upload_url"], selfie_bytes)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    cameo_id = body["cameo"]["id"]
    assert body["cameo"]["status"] == "active" and body["review_pending"] is False
    assert body["transcript"] == [7, 3, 9, 1, 4] and body["frames_used"] >= enrolment.MIN_GOOD_FRAMES
    # The raw upload is gone; the template is sealed, not the raw floats.
    assert not [p for p in rt.config.instance_dir.iterdir() if p.suffix in {".mp4", ".webm", ".mov"}]
    with rt.db.transaction() as s:
        row = s.get(FaceTemplate, cameo_id)
        assert row is not None and row.key_id
        template = templates.load(templates.keyring(), row)
        # The aligned faces it was made from are kept, sealed: the first and last good frames are
        # also the template's first and last exemplars.
        sealed = s.scalars(select(FaceCrop).where(FaceCrop.cameo_id == cameo_id)).all()
        faces = crops.load(s, templates.keyring(), row)
    assert len(faces) == len(sealed) == min(crops.MAX_CROPS, body["frames_used"])
    assert not any(b"\x89PNG" in crop.ciphertext for crop in sealed)  # sealed, not a PNG
    assert np.allclose(models.embed_aligned(faces[0]), template[1], atol=1e-6)
    assert np.allclose(models.embed_aligned(faces[-1]), template[-1], atol=1e-6)
    # A challenge answers once.
    envelope(upload(alice, challenge["upload_url"], selfie_bytes), 409, "challenge_used")
    # The face in a photo of the same person now finds the cameo.
    photo = models.analyze(photos["astronaut"])[0].embedding
    assert identify(rt, photo) == [cameo_id]
    assert identify(rt, models.analyze(photos["hopper"])[0].embedding) == []
    # Deleting the cameo erases the template from the database and from the index.
    assert alice.delete(f"/api/v1/cameos/{cameo_id}").status_code in (200, 204)
    with rt.db.transaction() as s:
        assert s.get(FaceTemplate, cameo_id) is None
        assert s.scalars(select(FaceCrop)).all() == []
    assert identify(rt, photo) == []


@pytest.mark.slow
def test_a_face_enrolled_by_another_account_goes_to_review(rt, make_api, selfie_bytes):
    alice, _ = make_api("alice@t.test", handle="alice")
    mallory, _ = make_api("mallory@t.test", handle="mallory")
    carol, _ = make_api("carol@t.test", role=Role.REVIEWER, handle="carol")
    dave, _ = make_api("dave@t.test", role=Role.REVIEWER, handle="dave")
    first = upload(alice, start(alice)["upload_url"], selfie_bytes).get_json()["cameo"]["id"]
    resp = upload(mallory, start(mallory)["upload_url"], selfie_bytes)
    assert resp.status_code == 201
    second = resp.get_json()
    cameo_id = second["cameo"]["id"]
    assert second["review_pending"] is True and second["cameo"]["status"] == "pending_review"
    # A cameo waiting for review cannot be used.
    gen = alice.post("/api/v1/generations", json={"prompt": "a walk", "cameo_ids": [cameo_id]})
    assert gen.get_json()["status"] == "blocked"
    # The review is an `enrolment` case in the likeness queue; only reviewers list cases.
    envelope(mallory.get("/api/v1/cases?kind=enrolment"), 403)
    items = carol.get("/api/v1/cases?kind=enrolment").get_json()["items"]
    assert [(i["id"], i["subject_type"], i["subject_id"], i["queue"]) for i in items] == [
        (second["case_id"], "cameo", cameo_id, "likeness")]
    subject = items[0]["subject"]
    assert subject["score"] > 0.9 and subject["matched_cameo"]["id"] == first
    assert subject["cameo"]["id"] == cameo_id and subject["cameo"]["enrolled_at"]
    case_id = items[0]["id"]
    # The enrollee follows the case; the matched cameo's owner is not told it exists.
    assert mallory.get(f"/api/v1/cases/{case_id}").get_json()["your_role"] == "enrollee"
    envelope(alice.get(f"/api/v1/cases/{case_id}"), 404, "case_not_found")
    envelope(mallory.post("/api/v1/appeals", json={"case_id": case_id, "reason": "it is me"}), 409,
             "case_not_decided")
    decided = carol.post(f"/api/v1/cases/{case_id}/decision",
                         json={"decision": "block", "policy_code": "LIKENESS-IMPERSONATION"})
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["decision"] == "block" and decided.get_json()["outcome_statement"] is None
    envelope(carol.post(f"/api/v1/cases/{case_id}/decision",
                        json={"decision": "allow", "policy_code": "LIKENESS-CONSENTED"}), 409, "case_decided")
    assert mallory.get(f"/api/v1/cameos/{cameo_id}").get_json()["status"] == "revoked"
    with rt.db.transaction() as s:
        assert s.get(FaceTemplate, cameo_id) is None
        assert s.get(FaceTemplate, first) is not None
        owners = {c.cameo_id for c in s.scalars(select(FaceCrop))}
    assert owners == {first}  # the blocked enrolment's face crops went with its template

    # The enrollee appeals the refusal (it issued no statement of reasons: the case is appealed).
    envelope(alice.post("/api/v1/appeals", json={"case_id": case_id, "reason": "mine"}), 404, "case_not_found")
    filed = mallory.post("/api/v1/appeals", json={"case_id": case_id, "reason": "this is my own face"})
    assert filed.status_code == 201, filed.get_json()
    appeal = filed.get_json()
    assert (appeal["kind"], appeal["subject_type"], appeal["subject_id"]) == ("appeal", "case", case_id)
    envelope(mallory.post("/api/v1/appeals", json={"case_id": case_id, "reason": "again"}), 409, "already_appealed")
    assert carol.get(f"/api/v1/cases/{case_id}").get_json()["state"] == "reopened"
    # Whoever refused cannot decide the appeal; another reviewer overturns it.
    envelope(carol.post(f"/api/v1/cases/{appeal['id']}/decision",
                        json={"decision": "overturn", "policy_code": "LIKENESS-CONSENTED"}), 403, "same_decider")
    seen = dave.get(f"/api/v1/cases/{appeal['id']}").get_json()
    assert seen["subject"]["appeal_of"]["decision"] == "block" and seen["subject"]["appeal_of"]["matched_cameo"]["id"] == first
    overturned = dave.post(f"/api/v1/cases/{appeal['id']}/decision",
                           json={"decision": "overturn", "policy_code": "LIKENESS-CONSENTED"})
    assert overturned.status_code == 200, overturned.get_json()
    assert carol.get(f"/api/v1/cases/{case_id}").get_json()["state"] == "decided"
    kinds = [n["kind"] for n in mallory.get("/api/v1/notifications").get_json()["items"]]
    assert "enrolment_allowed" in kinds
    # The refused cameo stays revoked (its face was erased), but the same face now enrols unheld.
    assert mallory.get(f"/api/v1/cameos/{cameo_id}").get_json()["status"] == "revoked"
    again = upload(mallory, start(mallory)["upload_url"], selfie_bytes)
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["review_pending"] is False and again.get_json()["cameo"]["status"] == "active"
    assert again.get_json()["case_id"] is None


def test_bad_uploads_get_clear_errors_and_store_nothing(rt, make_api, monkeypatch):
    alice, _ = make_api("alice@t.test", handle="alice")
    url = start(alice)["upload_url"]
    envelope(upload(alice, url, b"GIF89a", content_type="image/gif"), 415, "unsupported_media_type")
    envelope(upload(alice, url, b""), 422, "empty_upload")
    monkeypatch.setenv("GL_MAX_UPLOAD_BYTES", "1000")
    envelope(upload(alice, url, b"\0" * 5000), 413, "payload_too_large")
    monkeypatch.undo()
    monkeypatch.setattr(enrolment, "new_challenge", lambda: LEFT)
    error = envelope(upload(alice, url, b"not a video at all" * 50), 422, "liveness_failed")
    assert [r["code"] for r in error["details"]["reasons"]] == ["media_unreadable"]
    with rt.db.transaction() as s:
        assert s.scalars(select(Cameo)).all() == []
        assert s.scalars(select(FaceTemplate)).all() == []
        assert s.scalars(select(EnrolmentChallenge)).one().attempts == 1
    assert not [p for p in rt.config.instance_dir.iterdir() if p.suffix in {".mp4", ".webm", ".mov"}]
    # The challenge closes after MAX_ATTEMPTS failures.
    for _ in range(enrolment.MAX_ATTEMPTS - 1):
        envelope(upload(alice, url, b"still not a video" * 50), 422, "liveness_failed")
    envelope(upload(alice, url, b"x" * 100), 409, "challenge_used")


def test_challenges_belong_to_their_user_and_expire(rt, make_api):
    alice, _ = make_api("alice@t.test", handle="alice")
    eve, _ = make_api("eve@t.test", handle="eve")
    challenge = start(alice)
    envelope(upload(eve, challenge["upload_url"], b"x" * 100), 404, "challenge_not_found")
    envelope(upload(alice, "/api/v1/cameos/enrol/nope/video", b"x" * 100), 404, "challenge_not_found")
    with rt.db.transaction() as s:
        row = s.get(EnrolmentChallenge, challenge["challenge_id"])
        row.expires_at = row.expires_at - enrolment.CHALLENGE_TTL - timedelta(seconds=1)
    envelope(upload(alice, challenge["upload_url"], b"x" * 100), 409, "challenge_expired")


def test_teens_cannot_enrol_for_everyone(make_api):
    teen, _ = make_api("teen@t.test", handle="teen", birthdate=date.today() - timedelta(days=15 * 365))
    envelope(teen.post("/api/v1/cameos/enrol", json={"display_name": "T", "permission": "everyone"}), 422,
             "teen_permission_not_allowed")
    assert teen.post("/api/v1/cameos/enrol", json={"display_name": "T", "permission": "only_me"}).status_code == 201


def test_a_broken_speech_model_setting_is_a_503_and_costs_no_attempt(rt, make_api, monkeypatch, tmp_path):
    from likeness.liveness import recognisers

    recognisers._load.cache_clear()
    monkeypatch.setenv("GL_SPEECH_MODEL", str(tmp_path / "missing.pt"))
    alice, _ = make_api("alice@t.test", handle="alice")
    challenge = start(alice)
    error = envelope(upload(alice, challenge["upload_url"], b"x" * 100), 503, "speech_model_unavailable")
    assert error["details"] == {"cause": "speech_model_missing"}
    with rt.db.transaction() as s:
        assert s.get(EnrolmentChallenge, challenge["challenge_id"]).attempts == 0
    recognisers._load.cache_clear()


def test_a_pending_enrolment_deleted_by_its_owner_closes_its_case(rt, make_api, selfie_bytes):
    alice, _ = make_api("alice@t.test", handle="alice")
    mallory, _ = make_api("mallory@t.test", handle="mallory")
    carol, _ = make_api("carol@t.test", role=Role.REVIEWER, handle="carol")
    upload(alice, start(alice)["upload_url"], selfie_bytes)
    pending = upload(mallory, start(mallory)["upload_url"], selfie_bytes).get_json()
    assert pending["review_pending"] is True
    assert mallory.delete(f"/api/v1/cameos/{pending['cameo']['id']}").status_code in (200, 204)
    case = mallory.get(f"/api/v1/cases/{pending['case_id']}").get_json()
    assert (case["state"], case["decision"]) == ("decided", "moot")
    assert carol.get("/api/v1/cases?kind=enrolment").get_json()["items"] == []


@pytest.mark.slow
def test_a_cameo_made_without_a_face_is_unusable_until_its_face_is_enrolled(rt, make_api, selfie_bytes):
    """Issue 13, point 7: POST /cameos alone (no face, no liveness) makes nothing anyone can use."""
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    made = alice.post("/api/v1/cameos", json={"display_name": "Alice Liddell", "permission": "everyone"})
    assert made.status_code == 201
    cameo = made.get_json()
    assert (cameo["status"], cameo["name_matched"]) == ("unenrolled", True)
    for api in (alice, bob):
        gen = api.post("/api/v1/generations", json={"prompt": "a walk", "cameo_ids": [cameo["id"]]}).get_json()
        consent = next(v for v in gen["verdicts"] if v["stage"] == "likeness.cameo_consent")
        assert gen["status"] == "blocked" and [r["code"] for r in consent["reasons"]] == ["cameo_not_enrolled"]
    # Its name protects nothing yet: a prompt naming it is not stopped by the named-cameo gate.
    named = bob.post("/api/v1/generations", json={"prompt": "alice liddell in a garden"}).get_json()
    assert not [r for v in named["verdicts"] if v["stage"] == "likeness.named_cameos" for r in v["reasons"]]
    envelope(bob.post(f"/api/v1/cameos/{cameo['id']}/enrol"), 404, "cameo_not_found")

    challenge = alice.post(f"/api/v1/cameos/{cameo['id']}/enrol")
    assert challenge.status_code == 201, challenge.get_json()
    body = upload(alice, challenge.get_json()["upload_url"], selfie_bytes).get_json()
    assert body["cameo"]["id"] == cameo["id"] and body["cameo"]["status"] == "active"
    assert alice.get("/api/v1/cameos").get_json()["items"] == [body["cameo"]]  # enrolled into, not a second one
    assert bob.post("/api/v1/generations", json={"prompt": "a walk", "cameo_ids": [cameo["id"]]}).get_json()[
        "status"] == "queued"
    named = bob.post("/api/v1/generations", json={"prompt": "alice liddell in a garden"}).get_json()
    assert named["status"] == "blocked"
    envelope(alice.post(f"/api/v1/cameos/{cameo['id']}/enrol"), 409, "cameo_already_enrolled")


# -- issue 14: the attacks that got an active cameo of another person ---------------------------------

@pytest.fixture(scope="module")
def attack_videos(tmp_path_factory, models, photos) -> dict[str, bytes]:
    """Someone else's photo (the astronaut) tilted 40 degrees near the lens while the attacker reads
    the digits; and a head whose mouth says other digits than the ones heard (a dubbed mouth)."""
    from tests.likeness import heads
    from tests.likeness.face_videos import FPS
    from tests.likeness.liveness.fixtures.builders import pad, read_pcm
    folder = tmp_path_factory.mktemp("attacks")
    head = heads.prepare(photos["astronaut"], models.analyze(photos["astronaut"])[0].face.landmarks.reshape(5, 2))
    n = int(3 * FPS)
    tilt = heads.turn_ramp(n, 40, "left")
    printed = [heads.render(head, a, 0.0, surface="plane", camera=3.0, jitter=i) for i, a in enumerate(tilt)]
    other = heads.mouth_track(pad(read_pcm("digits_28056.flac"), before_s=0.4), FPS, n)
    dubbed = [heads.render(head, a, m, jitter=i) for i, (a, m) in enumerate(zip(heads.turn_ramp(n, 28, "left"), other))]
    return {"print": write_selfie(folder / "print.mp4", printed).read_bytes(),
            "dubbed": write_selfie(folder / "dubbed.mp4", dubbed).read_bytes()}


@pytest.mark.slow
@pytest.mark.parametrize("attack,code", [("print", "liveness_flat_surface"),
                                         ("dubbed", "liveness_lips_not_speaking")])
def test_a_photo_attack_never_becomes_a_cameo_however_often_it_asks(rt, make_api, attack_videos, attack, code):
    """The attacker from outside asked for new challenges until one passed (six): every attempt of
    every challenge is refused with its code, and no cameo, template or face crop is ever stored."""
    mallory, _ = make_api("mallory@t.test", handle="mallory")
    for _ in range(2):  # two challenges, three attempts each: the six the attacker needed
        challenge = start(mallory, display_name="Not me")
        for _ in range(enrolment.MAX_ATTEMPTS):
            error = envelope(upload(mallory, challenge["upload_url"], attack_videos[attack]), 422, "liveness_failed")
            codes = [r["code"] for r in error["details"]["reasons"]]
            assert code in codes or (attack == "dubbed" and "liveness_lips_out_of_sync" in codes), codes
    with rt.db.transaction() as s:
        assert s.scalars(select(Cameo)).all() == []
        assert s.scalars(select(FaceTemplate)).all() == [] and s.scalars(select(FaceCrop)).all() == []
        failures = {row.failure for row in s.scalars(select(EnrolmentChallenge))}
    assert failures and all(f.startswith("liveness_") for f in failures)
