"""Claims on published videos through the API; disputes as cases decided through the case API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app import case_decisions
from app.models import Case, Role, StatementOfReasons, User
from tests.app.test_api import envelope
from tests.conftest import drain
from tests.copyright.test_registry_api import claim_and_verify

REASON = "This video reproduces our character Garfield without a licence."


@pytest.fixture
def world(rt, make_api):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    tabby, _ = make_api("tabby@t.test", role=Role.RIGHTSHOLDER, handle="tabby")  # paws' colleague
    carol, _ = make_api("carol@t.test", role=Role.REVIEWER, handle="carol")
    bob, _ = make_api("bob@t.test", handle="bob")
    eve, _ = make_api("eve@t.test", handle="eve")
    admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["paws", "tabby"]})
    claim_and_verify(admin, paws)
    paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_attribution"})
    gid = bob.post("/api/v1/generations", json={"prompt": "Garfield napping"}).get_json()["id"]
    drain(rt)
    assert bob.post(f"/api/v1/generations/{gid}/publish").get_json()["status"] == "published"
    return paws, carol, bob, eve, gid, tabby


def status(api, gid):
    return api.get(f"/api/v1/generations/{gid}").get_json()["status"]


def claim(paws, gid, action):
    filed = paws.post(f"/api/v1/generations/{gid}/claims", json={"work_id": "garfield", "action": action,
                                                                  "reason": REASON})
    assert filed.status_code == 201, filed.get_json()
    return filed.get_json()


def dispute(bob, claim_id):
    disputed = bob.post(f"/api/v1/video-claims/{claim_id}/dispute",
                        json={"reason": "The policy in force allowed it with attribution."})
    assert disputed.status_code == 200, disputed.get_json()
    assert disputed.get_json()["status"] == "disputed" and disputed.get_json()["case_id"]
    return disputed.get_json()["case_id"]


def decide(reviewer, case_id, decision, code="COPYRIGHT-LICENSED", note="The work was licensed for this use."):
    return reviewer.post(f"/api/v1/cases/{case_id}/decision",
                         json={"decision": decision, "policy_code": code, "note": note})


def kinds(api):
    return [n["kind"] for n in api.get("/api/v1/notifications").get_json()["items"]]


@pytest.mark.slow
def test_a_dispute_opens_a_case_both_sides_read_until_its_deadline(world):
    paws, carol, bob, eve, gid, tabby = world
    filed = claim(paws, gid, "takedown")
    assert status(bob, gid) == "draft"
    envelope(bob.post(f"/api/v1/generations/{gid}/publish"), 409, "copyright_takedown")
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "garfield", "action": "monetise", "reason": REASON}), 404,
             "generation_not_found")  # no longer published
    notes = bob.get("/api/v1/notifications").get_json()["items"]
    assert [(n["kind"], n["payload"]["reason"]) for n in notes] == [("video_claimed", REASON)]
    assert [c["id"] for c in bob.get(f"/api/v1/generations/{gid}/claims").get_json()["items"]] == [filed["id"]]
    envelope(eve.get(f"/api/v1/generations/{gid}/claims"), 404)
    envelope(eve.post(f"/api/v1/video-claims/{filed['id']}/dispute", json={"reason": "not mine to dispute"}), 404,
             "video_claim_not_found")

    before = datetime.now().astimezone()
    case_id = dispute(bob, filed["id"])
    envelope(bob.post(f"/api/v1/video-claims/{filed['id']}/dispute", json={"reason": "again and again"}), 409,
             "claim_not_disputable")
    # Both sides (every member of the claimant's organisation) read the case and its deadline.
    seen = {}
    for who, api in (("creator", bob), ("rightsholder", paws), ("rightsholder", tabby)):
        case = api.get(f"/api/v1/cases/{case_id}").get_json()
        assert (case["kind"], case["your_role"], case["state"]) == ("dispute", who, "open")
        assert case["queue"] is None and case["subject"] is None  # reviewers' fields stay hidden
        assert [c["id"] for c in api.get("/api/v1/me/cases").get_json()["items"]] == [case_id]
        seen[api] = case
    due = datetime.fromisoformat(seen[bob]["due_at"])
    assert timedelta(days=29, hours=23) < due - before <= timedelta(days=30, minutes=1)
    assert seen[paws]["statement"]["origin"] == "video_claim"  # the claim's statement, contested
    assert "case_opened" in kinds(paws) and "case_opened" in kinds(bob)
    envelope(eve.get(f"/api/v1/cases/{case_id}"), 404, "case_not_found")
    # The reviewer sees what the dispute is about.
    work = carol.get(f"/api/v1/cases/{case_id}").get_json()
    assert work["queue"] == "copyright" and sorted(work["decisions"]) == ["escalate", "overturn", "uphold"]
    assert work["subject"]["claim"]["action"] == "takedown" and work["subject"]["work"]["title"] == "Garfield"
    assert work["subject"]["claimant"]["name"] == "Paws, Inc."
    assert work["subject"]["claim"]["dispute_reason"] == "The policy in force allowed it with attribution."
    envelope(decide(carol, case_id, "allow"), 422, "decision_not_for_kind")
    envelope(decide(carol, case_id, "uphold", code=None), 422, "policy_code_required")
    envelope(decide(carol, case_id, "uphold", code="SAFETY-NOPE"), 422, "unknown_policy_code")


@pytest.mark.slow
def test_overturning_a_takedown_republishes_the_video_with_a_lifting_statement(world):
    paws, carol, bob, _, gid, _ = world
    filed = claim(paws, gid, "takedown")
    case_id = dispute(bob, filed["id"])
    decided = decide(carol, case_id, "overturn")
    assert decided.status_code == 200, decided.get_json()
    decided = decided.get_json()
    assert (decided["state"], decided["decision"], decided["policy_code"]) == ("decided", "overturn",
                                                                                "COPYRIGHT-LICENSED")
    outcome = decided["outcome_statement"]
    assert outcome["supersedes"] == decided["statement"]["id"] and outcome["decision_visibility"] == []
    assert outcome["redress"]["internal_complaint"] is None  # final inside the platform
    assert status(bob, gid) == "published"
    [listed] = bob.get(f"/api/v1/generations/{gid}/claims").get_json()["items"]
    assert (listed["status"], listed["decision_reason"]) == ("released", "The work was licensed for this use.")
    assert "case_decided" in kinds(paws) and "case_decided" in kinds(bob)
    envelope(decide(carol, case_id, "uphold"), 409, "case_decided")
    org = paws.get("/api/v1/rightsholders/me").get_json()["id"]
    assert carol.get(f"/api/v1/rightsholders/orgs/{org}").get_json()["overturned_recently"] == 1


@pytest.mark.slow
def test_an_upheld_claim_stands_under_a_statement_that_supersedes_the_claims(rt, world):
    paws, carol, bob, _, gid, _ = world
    filed = claim(paws, gid, "takedown")
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "garfield", "action": "monetise", "reason": REASON}), 404)
    case_id = dispute(bob, filed["id"])
    upheld = decide(carol, case_id, "uphold", code="COPYRIGHT-INFRINGEMENT",
                    note="The character is clearly Garfield.").get_json()
    assert upheld["decision"] == "uphold"
    [listed] = bob.get(f"/api/v1/generations/{gid}/claims").get_json()["items"]
    assert (listed["status"], listed["decision_reason"]) == ("upheld", "The character is clearly Garfield.")
    assert status(bob, gid) == "draft"
    envelope(bob.post(f"/api/v1/generations/{gid}/publish"), 409, "copyright_takedown")
    with rt.db.transaction() as s:
        new = s.get(StatementOfReasons, upheld["outcome_statement"]["id"])
        old = s.get(StatementOfReasons, new.supersedes_id)
        assert old is not None and old.origin == "video_claim"  # kept
        assert (new.origin, new.case_id, new.decision_visibility) == ("dispute_upheld", case_id,
                                                                      old.decision_visibility)
    for api in (bob, paws):
        assert "case_decided" in kinds(api)
        assert api.get(f"/api/v1/cases/{case_id}").get_json()["outcome_statement"]["id"] == new.id


@pytest.mark.slow
def test_a_dispute_nobody_decides_lapses_for_the_creator_at_its_deadline(rt, world):
    paws, carol, bob, _, gid, _ = world
    filed = claim(paws, gid, "takedown")
    case_id = dispute(bob, filed["id"])
    with rt.db.transaction() as s:
        admin = s.scalar(select(User).where(User.email == "admin@t.test"))
        due = s.get(Case, case_id).due_at
        assert case_decisions.sweep(s, admin, now=due - timedelta(hours=1))["lapsed"] == 0
    assert status(bob, gid) == "draft"
    with rt.db.transaction() as s:
        assert case_decisions.sweep(s, s.get(User, admin.id), now=due + timedelta(seconds=1))["lapsed"] == 1
    case = bob.get(f"/api/v1/cases/{case_id}").get_json()
    assert (case["state"], case["decision"]) == ("decided", "overturn")
    assert case["outcome_statement"]["decision_visibility"] == []
    assert case["outcome_statement"]["supersedes"] == case["statement"]["id"]
    [listed] = bob.get(f"/api/v1/generations/{gid}/claims").get_json()["items"]
    assert listed["status"] == "released" and "not decided within 30 days" in listed["decision_reason"]
    assert status(bob, gid) == "published"
    assert "case_decided" in kinds(paws)
    org = paws.get("/api/v1/rightsholders/me").get_json()["id"]
    assert carol.get(f"/api/v1/rightsholders/orgs/{org}").get_json()["overturned_recently"] == 0  # our delay


@pytest.mark.slow
def test_only_holders_of_the_work_may_claim(world, make_api):
    paws, _, bob, _, gid, _ = world
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "odie", "action": "takedown", "reason": REASON}), 404, "work_not_owned")
    envelope(paws.post(f"/api/v1/generations/{gid}/claims",
                       json={"work_id": "garfield", "action": "delete", "reason": REASON}), 422, "validation_error")
    envelope(bob.post(f"/api/v1/generations/{gid}/claims",
                      json={"work_id": "garfield", "action": "takedown", "reason": REASON}), 403, "role_not_allowed")
    envelope(paws.post("/api/v1/generations/nope/claims",
                       json={"work_id": "garfield", "action": "takedown", "reason": REASON}), 404,
             "generation_not_found")


# -- a claim must be about the video --------------------------------------------------------------------

from tests.copyright.test_registry_api import EVIDENCE  # noqa: E402


@pytest.fixture
def balloon(rt, world, make_api):
    """Paws also holds Zorblax (a registered work); Bob published a purple balloon video using no work."""
    paws, _, bob, *_ = world
    admin, _ = make_api("admin2@t.test", role=Role.ADMIN, handle="admin2")
    registered = paws.post("/api/v1/works", json={"title": "Zorblax", "kind": "character", "aliases": [],
                                                   "descriptions": ["a green three-eyed alien"], **EVIDENCE}).get_json()
    admin.post(f"/api/v1/claims/{registered['claim']['id']}/decision",
               json={"decision": "verify", "reason": "trademark filing"})
    gid = bob.post("/api/v1/generations", json={"prompt": "a purple balloon floating over a field"}).get_json()["id"]
    drain(rt)
    assert bob.post(f"/api/v1/generations/{gid}/publish").get_json()["status"] == "published"
    org = paws.get("/api/v1/rightsholders/me").get_json()["id"]
    return {"admin": admin, "zorblax": registered["work"]["id"], "gid": gid, "org": org}


def file_claim(paws, gid, work_id, action="takedown"):
    return paws.post(f"/api/v1/generations/{gid}/claims", json={"work_id": work_id, "action": action,
                                                                 "reason": REASON})


def pending(paws, gid, work_id, action="takedown"):
    filed = file_claim(paws, gid, work_id, action)
    assert filed.status_code == 202, filed.get_json()
    assert filed.get_json()["status"] == "pending_review" and filed.get_json()["case_id"]
    return filed.get_json()


def test_a_claim_with_a_work_the_video_does_not_use_waits_for_review_and_can_be_rejected(rt, world, balloon):
    paws, carol, bob, *_ = world
    gid = balloon["gid"]
    filed = pending(paws, gid, balloon["zorblax"])
    # Nothing happened to the video: still published, no statement, the creator not told of a claim.
    assert status(bob, gid) == "published"
    assert "video_claimed" not in kinds(bob)
    assert bob.get(f"/api/v1/generations/{gid}").get_json().get("statements", []) == []
    envelope(bob.post(f"/api/v1/video-claims/{filed['id']}/dispute", json={"reason": "this is not my video's"}),
             409, "claim_not_disputable")
    case = carol.get(f"/api/v1/cases/{filed['case_id']}").get_json()
    assert (case["kind"], case["queue"], sorted(case["decisions"])) == ("claim_review", "copyright",
                                                                        ["escalate", "overturn", "uphold"])
    assert case["subject"]["matched"] is False and case["subject"]["recorded_works"] == []
    assert case["subject"]["work"]["title"] == "Zorblax" and case["subject"]["claimant"]["flagged"] is False
    assert paws.get(f"/api/v1/cases/{filed['case_id']}").get_json()["your_role"] == "rightsholder"
    decided = decide(carol, filed["case_id"], "overturn", code="COPYRIGHT-NO-MATCH",
                     note="The video shows a balloon, not Zorblax.")
    assert decided.status_code == 200, decided.get_json()
    assert status(bob, gid) == "published"
    [listed] = bob.get(f"/api/v1/generations/{gid}/claims").get_json()["items"]
    assert (listed["status"], listed["decision_reason"]) == ("rejected", "The video shows a balloon, not Zorblax.")
    assert "case_decided" in kinds(paws) and "video_claimed" not in kinds(bob)
    org = carol.get(f"/api/v1/rightsholders/orgs/{balloon['org']}").get_json()
    assert (org["flagged"], org["overturned_recently"]) == (False, 1)
    envelope(bob.get(f"/api/v1/rightsholders/orgs/{balloon['org']}"), 403, "role_not_allowed")
    with rt.db.transaction() as s:
        from app.models import AuditEvent
        steps = s.scalars(select(AuditEvent.action).where(AuditEvent.object_id == filed["id"])
                          .order_by(AuditEvent.id)).all()
        assert steps == ["video_claim.filed", "video_claim.review_rejected"]


def test_an_upheld_review_acts_then_and_the_creator_may_dispute(world, balloon):
    paws, carol, bob, *_ = world
    gid = balloon["gid"]
    filed = pending(paws, gid, "garfield")  # Paws' work, but the video is not recorded as using it
    upheld = decide(carol, filed["case_id"], "uphold", code="COPYRIGHT-INFRINGEMENT",
                    note="Garfield is painted on the balloon.")
    assert upheld.status_code == 200, upheld.get_json()
    assert upheld.get_json()["outcome_statement"]["decision_visibility"]  # the takedown's restriction
    assert status(bob, gid) == "draft"
    envelope(bob.post(f"/api/v1/generations/{gid}/publish"), 409, "copyright_takedown")
    assert "video_claimed" in kinds(bob)
    [listed] = bob.get(f"/api/v1/generations/{gid}/claims").get_json()["items"]
    assert listed["status"] == "open"
    case_id = dispute(bob, filed["id"])
    assert case_id != filed["case_id"]


def test_an_organisation_overturned_again_and_again_is_flagged_and_reviewed_first(rt, world, balloon):
    paws, carol, bob, eve, gid, _ = world
    admin = balloon["admin"]
    for n in range(3):  # GL_CLAIM_OVERTURN_LIMIT
        filed = pending(paws, balloon["gid"], balloon["zorblax"])
        assert decide(carol, filed["case_id"], "overturn", code="COPYRIGHT-NO-MATCH").status_code == 200
        assert carol.get(f"/api/v1/rightsholders/orgs/{balloon['org']}").get_json()["flagged"] is (n == 2)
    org = admin.get(f"/api/v1/rightsholders/orgs/{balloon['org']}").get_json()
    assert org["flag_reason"] == "3 video claims overturned within 90 days" and org["overturned_recently"] == 3
    assert [o["id"] for o in carol.get("/api/v1/rightsholders/orgs?flagged=true").get_json()["items"]] == \
        [balloon["org"]]
    # Even a claim on a work the video does use now waits for review.
    flagged = pending(paws, gid, "garfield")
    assert status(bob, gid) == "published"
    case = carol.get(f"/api/v1/cases/{flagged['case_id']}").get_json()
    assert case["subject"]["matched"] is True and case["subject"]["claimant"]["flagged"] is True
    assert case["reasons"][0]["code"] == "copyright_claim_org_flagged"
    # An admin lifts the flag with a reason (audited): matching claims act at once again.
    envelope(carol.post(f"/api/v1/rightsholders/orgs/{balloon['org']}/unflag", json={"reason": "talked to them"}),
             403, "role_not_allowed")
    assert admin.post(f"/api/v1/rightsholders/orgs/{balloon['org']}/unflag",
                      json={"reason": "they fixed their matching tool"}).get_json()["flagged"] is False
    envelope(admin.post(f"/api/v1/rightsholders/orgs/{balloon['org']}/unflag", json={"reason": "again"}), 409,
             "org_not_flagged")
    assert file_claim(paws, gid, "garfield").status_code == 201 and status(bob, gid) == "draft"
    with rt.db.transaction() as s:
        from app.models import AuditEvent
        assert s.scalars(select(AuditEvent.action).where(AuditEvent.object_id == balloon["org"],
                                                         AuditEvent.action.like("rightsholder_org.%flagged"))
                         .order_by(AuditEvent.id)).all() == ["rightsholder_org.flagged", "rightsholder_org.unflagged"]
