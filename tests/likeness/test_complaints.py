"""Likeness complaints ("this video shows me"), through the API, with real faces: a selfie that
matches a face on screen hides the video at once and opens a case a reviewer decides."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from app import mail
from app.models import AuditEvent, Case, EmailVerification, Generation, Role, StatementOfReasons, Status, Upload
from likeness.models import FaceCrop, FaceTemplate
from tests.app.test_api import envelope
from tests.conftest import Api
from tests.likeness.face_videos import jitter, write_selfie

URL = "/api/v1/complaints/likeness"


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def another_photo(image: np.ndarray) -> np.ndarray:
    """The same person in another picture: mirrored, cropped, rescaled, brighter."""
    h, w = image.shape[:2]
    out = cv2.convertScaleAbs(cv2.flip(image[20:h - 60, 40:w - 100], 1), alpha=1.1, beta=10)
    return cv2.resize(out, None, fx=0.8, fy=0.8)


@pytest.fixture
def video(rt, make_api, photos):
    """Bob's video showing `who` (a photo's name), written straight to storage, in `status`."""
    bob, bob_user = make_api("bob@t.test", handle="bob")

    def make(who: str = "astronaut", status: Status = Status.PUBLISHED) -> str:
        with rt.db.transaction() as s:
            gen = Generation(owner_id=bob_user.id, prompt="a person on a red square", status=status.value)
            s.add(gen)
            s.flush()
            gen.media_key = f"generations/{gen.id}.mp4"
            gid = gen.id
        write_selfie(rt.storage.staging_path(f"generations/{gid}.mp4"),
                     [jitter(photos[who], i) for i in range(12)], audio=None)
        return gid
    make.bob = bob
    return make


def verified(client, rt, email: str) -> str:
    assert client.post("/api/v1/email-verifications", json={"email": email}).status_code == 202
    with rt.db.transaction() as s:
        body = mail.outbox(s, email)[0].body
    return re.search(r"\b(\d{6})\b", body).group(1)


def complain(api: Api, gid: str, image: bytes, **query):
    return api.post(URL, query_string={"generation_id": gid, **query}, data=image, content_type="image/png")


def status(rt, gid: str) -> str:
    with rt.db.transaction() as s:
        return s.get(Generation, gid).status


@pytest.mark.slow
def test_a_matching_selfie_hides_the_video_at_once_and_opens_a_case(rt, client, video, photos):
    gid = video("astronaut")
    anonymous = Api(client, None)
    code = verified(client, rt, "ann@mail.test")
    selfie = png(another_photo(photos["astronaut"]))
    resp = complain(anonymous, gid, selfie, email="ann@mail.test", code=code, statement="that is me, I never agreed")
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["score"] >= 0.43 and out["link"].startswith(f"/complaints/{out['case_id']}?key=")
    assert status(rt, gid) == "draft"  # hidden at once
    # Not back up while the complaint is open.
    envelope(video.bob.post(f"/api/v1/generations/{gid}/publish"), 409, "likeness_complaint_open")

    # The complainant follows it through the private link; a wrong key finds nothing.
    mine = anonymous.get(out["api_url"]).get_json()
    assert (mine["your_role"], mine["kind"], mine["summary"]) == \
        ("complainant", "likeness_complaint", "that is me, I never agreed")
    envelope(anonymous.get(f"/api/v1/complaints/{out['case_id']}?key={'x' * 32}"), 404, "case_not_found")
    # The creator reads it as a party, with the statement of reasons owed to them.
    theirs = video.bob.get(f"/api/v1/cases/{out['case_id']}").get_json()
    assert theirs["your_role"] == "creator"
    assert theirs["statement"]["origin"] == "likeness_complaint"
    assert theirs["statement"]["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert theirs["statement"]["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]

    with rt.db.transaction() as s:
        case = s.get(Case, out["case_id"])
        assert case.contact_email == "ann@mail.test" and case.generation_id == gid
        assert case.access_key_hash and out["link"].split("key=")[1] not in case.access_key_hash
        sor = s.get(StatementOfReasons, case.statement_id)
        assert sor.source_type == "SOURCE_ARTICLE_16" and sor.case_id == case.id
        # Biometric data: neither the selfie nor its embedding is kept anywhere.
        assert s.scalar(select(func.count()).select_from(FaceTemplate)) == 0
        assert s.scalar(select(func.count()).select_from(FaceCrop)) == 0
        assert s.scalar(select(func.count()).select_from(Upload)) == 0
        assert "embedding" not in repr(case.details) + repr(case.reasons)
    kept = [p for root in (rt.config.instance_dir, rt.config.media_dir) if root.exists()
            for p in root.rglob("*") if p.is_file()]
    assert all(p.suffix not in {".png", ".jpg", ".webp", ".npy"} for p in kept), kept
    assert all(selfie not in p.read_bytes() for p in kept)


@pytest.mark.slow
def test_a_reviewer_upholds_an_account_holders_complaint_and_the_video_is_blocked(rt, make_api, video, photos):
    gid = video("astronaut")
    ann, _ = make_api("ann@t.test", handle="ann")
    reviewer, _ = make_api("rev@t.test", role=Role.REVIEWER)
    out = complain(ann, gid, png(another_photo(photos["astronaut"]))).get_json()
    case = ann.get(f"/api/v1/cases/{out['case_id']}").get_json()
    assert case["your_role"] == "complainant"
    seen = reviewer.get(f"/api/v1/cases/{out['case_id']}").get_json()
    assert seen["decisions"] == ["allow", "block", "escalate"]
    assert seen["subject"]["score"] == out["score"] and seen["subject"]["complainant"] == "account"

    decided = reviewer.post(f"/api/v1/cases/{out['case_id']}/decision",
                            json={"decision": "block", "policy_code": "LIKENESS-NO-CONSENT"}).get_json()
    assert decided["state"] == "decided"
    assert status(rt, gid) == "blocked"
    assert decided["outcome_statement"]["supersedes"] == decided["statement"]["id"]
    assert decided["outcome_statement"]["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    kinds = [n["kind"] for n in ann.get("/api/v1/notifications").get_json()["items"]]
    assert "case_decided" in kinds


@pytest.mark.slow
def test_a_rejected_complaint_puts_the_video_back_up(rt, client, make_api, video, photos):
    gid = video("astronaut")
    reviewer, _ = make_api("rev@t.test", role=Role.REVIEWER)
    code = verified(client, rt, "ann@mail.test")
    out = complain(Api(client, None), gid, png(photos["astronaut"]), email="ann@mail.test", code=code).get_json()
    assert status(rt, gid) == "draft"
    decided = reviewer.post(f"/api/v1/cases/{out['case_id']}/decision",
                            json={"decision": "allow", "policy_code": "LIKENESS-NOT-THE-PERSON"}).get_json()
    assert status(rt, gid) == "published"
    assert decided["outcome_statement"]["decision_visibility"] == []
    assert decided["outcome_statement"]["supersedes"] == decided["statement"]["id"]
    with rt.db.transaction() as s:  # the complainant without an account hears by mail
        assert any("decided: allow" in m.body for m in mail.outbox(s, "ann@mail.test"))


@pytest.mark.slow
def test_someone_else_s_selfie_does_not_hide_the_video(rt, make_api, video, photos):
    gid = video("astronaut")
    ann, ann_user = make_api("ann@t.test", handle="ann")
    envelope(complain(ann, gid, png(photos["hopper"])), 422, "complaint_no_match")
    assert status(rt, gid) == "published"
    with rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        [row] = s.scalars(select(AuditEvent).where(AuditEvent.action == "likeness_complaint.no_match")).all()
        assert (row.actor, row.object_id) == (ann_user.id, gid)


@pytest.mark.slow
def test_selfies_without_one_clear_face_are_refused(rt, make_api, video, photos):
    gid = video("astronaut")
    ann, _ = make_api("ann@t.test", handle="ann")
    envelope(complain(ann, gid, png(np.full((240, 240, 3), 128, np.uint8))), 422, "no_face")
    envelope(complain(ann, gid, b"not an image at all"), 422, "not_an_image")
    two = np.hstack([photos["astronaut"], photos["astronaut"]])
    envelope(complain(ann, gid, png(two)), 422, "multiple_faces")
    assert status(rt, gid) == "published"


def test_who_may_complain_about_what(rt, client, make_api, video, photos):
    gid = video("astronaut")
    draft = video("astronaut", Status.DRAFT)
    anonymous = Api(client, None)
    selfie = png(photos["astronaut"])
    envelope(complain(anonymous, gid, selfie), 401, "authentication_required")
    envelope(complain(anonymous, gid, selfie, email="ann@mail.test", code="123456"), 403, "email_not_verified")
    code = verified(client, rt, "ann@mail.test")
    envelope(complain(anonymous, gid, selfie, email="ann@mail.test", code=f"{(int(code) + 1) % 10**6:06d}"),
             403, "email_code_wrong")
    with rt.db.transaction() as s:  # the wrong guess counts, though its request rolled back
        assert s.scalar(select(EmailVerification.attempts).where(EmailVerification.email == "ann@mail.test")) == 1
    # A draft is not there for anyone who cannot see it; nor is a video that does not exist.
    ann, _ = make_api("ann@t.test", handle="ann")
    envelope(complain(ann, draft, selfie), 404, "generation_not_found")
    envelope(complain(ann, "nope", selfie), 404, "generation_not_found")
    assert status(rt, draft) == "draft" and status(rt, gid) == "published"
