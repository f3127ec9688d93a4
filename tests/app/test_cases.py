"""Cases over the API: held generations, appeals, escalation, the claim lock, exposure limits,
quality checks, bulk decisions, deadlines, the decision log and metrics."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app import audit, case_decisions
from app.db import utcnow
from app.models import Case, Notification, Role, StatementOfReasons, Status, User
from app.stage import Reason, Stage, Verdict
from tests.app.test_api import envelope
from tests.conftest import drain, plug_stage

HELD = "a man holding a gun"  # the prompt classifier holds it for a human
BLOCKED = "a nude portrait"


@pytest.fixture
def people(make_api):
    alice, alice_user = make_api("alice@t.test", handle="alice")
    rev, rev_user = make_api("rev@t.test", role=Role.REVIEWER, handle="rev")
    rev2, rev2_user = make_api("rev2@t.test", role=Role.REVIEWER, handle="rev2")
    senior, senior_user = make_api("senior@t.test", role=Role.SENIOR_REVIEWER, handle="senior")
    mallory, _ = make_api("mallory@t.test", handle="mallory")
    return {"alice": alice, "rev": rev, "rev2": rev2, "senior": senior, "mallory": mallory,
            "users": {"alice": alice_user, "rev": rev_user, "rev2": rev2_user, "senior": senior_user}}


def held_case(people) -> tuple[str, str]:
    gen = people["alice"].post("/api/v1/generations", json={"prompt": HELD}).get_json()
    assert gen["status"] == "in_review", gen
    [case] = [c for c in people["rev"].get("/api/v1/cases").get_json()["items"] if c["generation_id"] == gen["id"]]
    return gen["id"], case["id"]


def decide(api, case_id, decision, policy_code="GL-NO-VIOLATION", note="", **extra):
    return api.post(f"/api/v1/cases/{case_id}/decision",
                    json={"decision": decision, "policy_code": policy_code, "note": note, **extra})


def test_a_held_generation_is_a_case_a_reviewer_decides_and_it_renders(rt, people):
    gid, case_id = held_case(people)
    rev, rev2, alice = people["rev"], people["rev2"], people["alice"]
    # Reviewers read held generations through the case, never through the generation routes.
    envelope(rev.get(f"/api/v1/generations/{gid}"), 404, "generation_not_found")
    seen = rev.get(f"/api/v1/cases/{case_id}").get_json()
    assert seen["generation"]["prompt"] == HELD and seen["queue"] == "safety"
    assert seen["reasons"][0]["stage"] == "safety.prompt" and "allow" in seen["decisions"]
    assert any(v["stage"] == "safety.prompt" and v["decision"] == "review" for v in seen["generation"]["verdicts"])
    # The creator is a party: they see the case and its deadline, not the queue, reasons or reviewer.
    mine = alice.get(f"/api/v1/cases/{case_id}").get_json()
    assert mine["your_role"] == "creator" and mine["queue"] is None and mine["generation"] is None
    assert mine["due_at"] and mine["assignee"] is None
    envelope(people["mallory"].get(f"/api/v1/cases/{case_id}"), 404, "case_not_found")

    assert rev.post(f"/api/v1/cases/{case_id}/claim").get_json()["assignee"] == "rev"
    envelope(rev2.post(f"/api/v1/cases/{case_id}/claim"), 409, "case_claimed")
    envelope(decide(rev2, case_id, "block"), 409, "case_claimed")
    envelope(decide(rev, case_id, "allow", policy_code=None), 422, "policy_code_required")
    envelope(decide(rev, case_id, "allow", policy_code="MADE-UP"), 422, "unknown_policy_code")
    envelope(decide(rev, case_id, "overturn"), 422, "decision_not_for_kind")
    done = decide(rev, case_id, "allow", note="a toy").get_json()
    assert (done["state"], done["decision"], done["policy_code"]) == ("decided", "allow", "GL-NO-VIOLATION")
    envelope(decide(rev, case_id, "block"), 409, "case_decided")
    drain(rt)
    assert alice.get(f"/api/v1/generations/{gid}").get_json()["status"] == "draft"
    with rt.db.transaction() as s:
        kinds = [n.payload.get("decision") for n in s.query(Notification).filter_by(
            user_id=people["users"]["alice"].id, kind="case_decided")]
        assert kinds == ["allow"]
        assert any(e.action == "case.decided" for e in audit.history(s, "case", case_id))


def test_escalated_cases_wait_for_a_senior_reviewer(rt, people):
    gid, case_id = held_case(people)
    rev, senior = people["rev"], people["senior"]
    assert decide(rev, case_id, "escalate", note="not sure").get_json()["state"] == "escalated"
    envelope(decide(rev, case_id, "escalate"), 403, "senior_reviewer_required")
    envelope(rev.post(f"/api/v1/cases/{case_id}/claim"), 403, "senior_reviewer_required")
    assert case_id not in [c["id"] for c in rev.get("/api/v1/cases").get_json()["items"]]
    assert senior.post(f"/api/v1/cases/{case_id}/claim").get_json()["state"] == "escalated"
    done = decide(senior, case_id, "block", policy_code="SAFETY-VIOLENCE", note="real weapon").get_json()
    assert done["state"] == "decided" and done["outcome_statement"]["origin"] == "human_review"
    assert people["alice"].get(f"/api/v1/generations/{gid}").get_json()["status"] == "blocked"


def test_a_creator_appeals_a_block_and_a_reviewer_overturns_it(rt, people):
    alice, rev = people["alice"], people["rev"]
    gen = alice.post("/api/v1/generations", json={"prompt": BLOCKED}).get_json()
    assert gen["status"] == "blocked"
    [first] = alice.get(f"/api/v1/generations/{gen['id']}/statements").get_json()["items"]
    assert first["gl_redress"]["internal_complaint"].endswith(f"/appeals/new?statement_id={first['puid']}")
    envelope(alice.post("/api/v1/appeals", json={"generation_id": gen["id"], "reason": ""}), 422)
    envelope(people["mallory"].post("/api/v1/appeals", json={"statement_id": first["puid"], "reason": "x"}), 404,
             "statement_not_found")
    appeal = alice.post("/api/v1/appeals", json={"generation_id": gen["id"], "reason": "It is a marble statue."})
    assert appeal.status_code == 201, appeal.get_json()
    case = appeal.get_json()
    assert case["kind"] == "appeal" and case["state"] == "open" and case["statement"]["id"] == first["puid"]
    envelope(alice.post("/api/v1/appeals", json={"statement_id": first["puid"], "reason": "again"}), 409,
             "already_appealed")
    assert [c["id"] for c in alice.get("/api/v1/me/cases").get_json()["items"]] == [case["id"]]

    done = decide(rev, case["id"], "overturn", policy_code="GL-AUTOMATION-ERROR", note="art").get_json()
    outcome = done["outcome_statement"]
    assert outcome["supersedes"] == first["puid"] and outcome["decision_visibility"] == []
    assert outcome["redress"]["internal_complaint"] is None  # decided on appeal: out of court next
    statements = alice.get(f"/api/v1/generations/{gen['id']}/statements").get_json()["items"]
    assert [s["puid"] for s in statements] == [first["puid"], outcome["id"]]  # the old one is kept
    envelope(alice.post("/api/v1/appeals", json={"statement_id": outcome["id"], "reason": "x"}), 409,
             "not_appealable")
    # The generation proceeds: rendered, scanned, a draft.
    assert alice.get(f"/api/v1/generations/{gen['id']}").get_json()["status"] == "queued"
    drain(rt)
    assert alice.get(f"/api/v1/generations/{gen['id']}").get_json()["status"] in ("draft", "in_review", "blocked")
    with rt.db.transaction() as s:
        assert s.get(StatementOfReasons, first["puid"]) is not None


def test_whoever_took_the_first_decision_cannot_decide_its_appeal(rt, people):
    gid, case_id = held_case(people)
    rev, rev2, alice = people["rev"], people["rev2"], people["alice"]
    blocked = decide(rev, case_id, "block", policy_code="SAFETY-VIOLENCE", note="weapon").get_json()
    appeal = alice.post("/api/v1/appeals", json={"statement_id": blocked["outcome_statement"]["id"],
                                                 "reason": "It was a water pistol."}).get_json()
    assert rev.get(f"/api/v1/cases/{case_id}").get_json()["state"] == "reopened"
    envelope(rev.post(f"/api/v1/cases/{appeal['id']}/claim"), 403, "same_decider")
    envelope(decide(rev, appeal["id"], "overturn"), 403, "same_decider")
    upheld = decide(rev2, appeal["id"], "uphold", policy_code="SAFETY-VIOLENCE", note="looks real").get_json()
    assert upheld["outcome_statement"]["supersedes"] == blocked["outcome_statement"]["id"]
    assert upheld["outcome_statement"]["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert rev.get(f"/api/v1/cases/{case_id}").get_json()["state"] == "decided"
    assert alice.get(f"/api/v1/generations/{gid}").get_json()["status"] == "blocked"
    envelope(alice.post("/api/v1/appeals", json={"statement_id": upheld["outcome_statement"]["id"], "reason": "x"}),
             409, "appeal_exhausted")


class HoldAfterRender(Stage):
    name, version = "test.hold", "1"

    def check(self, ctx):
        return Verdict.review(Reason("looks_odd", "a human should look"))


@pytest.fixture
def post_render_case(rt, people, monkeypatch):
    plug_stage(monkeypatch, HoldAfterRender(), append_to="POST_RENDER")
    gid = people["alice"].post("/api/v1/generations", json={"prompt": "a blue ring spinning"}).get_json()["id"]
    drain(rt)
    [case] = [c for c in people["rev"].get("/api/v1/cases").get_json()["items"] if c["generation_id"] == gid]
    assert case["generation"]["status"] == "in_review"
    return gid, case["id"]


@pytest.mark.slow
def test_held_video_is_blurred_until_revealed_and_each_view_is_audited(rt, people, post_render_case, monkeypatch):
    gid, case_id = post_render_case
    rev = people["rev"]
    envelope(people["alice"].get(f"/api/v1/generations/{gid}/media"), 404, "media_not_found")
    envelope(rev.get(f"/api/v1/generations/{gid}/media"), 404)
    preview = rev.get(f"/api/v1/cases/{case_id}/preview")
    assert preview.status_code == 200 and preview.mimetype == "image/png"
    envelope(rev.get(f"/api/v1/cases/{case_id}/media"), 403, "reveal_first")
    envelope(people["alice"].post(f"/api/v1/cases/{case_id}/reveal"), 403, "role_not_allowed")
    revealed = rev.post(f"/api/v1/cases/{case_id}/reveal").get_json()
    assert revealed["revealed_today"] == 1 and revealed["media_url"] == f"/api/v1/cases/{case_id}/media"
    video = rev.get(f"/api/v1/cases/{case_id}/media")
    assert video.status_code == 200 and video.data[4:8] == b"ftyp"
    with rt.db.transaction() as s:
        actions = [e.action for e in audit.history(s, "case", case_id)]
        assert "case.media_revealed" in actions and "case.media_viewed" in actions
    # The daily budget, then the enforced break.
    monkeypatch.setenv("GL_EXPOSURE_DAILY_BUDGET", "1")
    envelope(rev.post(f"/api/v1/cases/{case_id}/reveal"), 429, "exposure_budget_spent")
    monkeypatch.setenv("GL_EXPOSURE_DAILY_BUDGET", "50")
    monkeypatch.setenv("GL_EXPOSURE_BREAK_AFTER", "2")
    assert rev.post(f"/api/v1/cases/{case_id}/reveal").status_code == 200
    err = envelope(rev.post(f"/api/v1/cases/{case_id}/reveal"), 429, "exposure_break")
    assert err["details"]["until"]
    done = decide(rev, case_id, "block", policy_code="SAFETY-VIOLENCE").get_json()
    assert done["state"] == "decided"
    assert people["alice"].get(f"/api/v1/generations/{gid}").get_json()["status"] == "blocked"


def test_bulk_decisions_are_one_log_entry_and_each_case_on_its_own(rt, people):
    ids = [held_case(people)[1] for _ in range(2)]
    rev = people["rev"]
    people["rev2"].post(f"/api/v1/cases/{ids[1]}/claim")
    out = rev.post("/api/v1/cases/bulk", json={"case_ids": [*ids, "nope"], "decision": "block",
                                               "policy_code": "SAFETY-VIOLENCE"}).get_json()
    assert out["results"] == {ids[0]: "decided", ids[1]: "case_claimed", "nope": "case_not_found"}
    with rt.db.transaction() as s:
        [batch] = audit.history(s, "case_batch", out["bulk_id"])
        assert batch.after["results"] == out["results"]
    log = rev.get("/api/v1/cases/decisions").get_json()["items"]
    assert [(r["case_id"], r["bulk_id"]) for r in log] == [(ids[0], out["bulk_id"])]
    text = rev.get("/api/v1/cases/decisions", query_string={"format": "csv"}).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["case_id"] == ids[0] and rows[0]["decided_by"] == "rev" and rows[0]["policy_code"] == "SAFETY-VIOLENCE"


def test_decide_and_next_hand_off_and_release(rt, people):
    first, second = held_case(people)[1], held_case(people)[1]
    rev, rev2 = people["rev"], people["rev2"]
    nxt = decide(rev, first, "allow", next=True).get_json()
    assert nxt["next_case_id"] == second
    rev.post(f"/api/v1/cases/{second}/claim")
    envelope(rev.post(f"/api/v1/cases/{second}/handoff", json={"to": "alice"}), 404, "reviewer_not_found")
    assert rev.post(f"/api/v1/cases/{second}/handoff", json={"to": "rev2", "note": "yours"}).get_json()["assignee"] == "rev2"
    envelope(rev.post(f"/api/v1/cases/{second}/release"), 409, "case_claimed")
    assert rev2.post(f"/api/v1/cases/{second}/release").get_json()["state"] == "open"
    assert [c["id"] for c in rev2.get("/api/v1/cases", query_string={"assigned": "me"}).get_json()["items"]] == []


def test_quality_checks_measure_agreement(rt, people, monkeypatch):
    monkeypatch.setenv("GL_QA_SECOND_REVIEW_RATE", "1.0")
    gid, case_id = held_case(people)
    decide(people["rev"], case_id, "block", policy_code="SAFETY-VIOLENCE")
    with rt.db.transaction() as s:
        [second] = s.query(Case).filter_by(qa_of_id=case_id, qa="second_review").all()
        second_id = second.id
    # Blind: it reads like any case, and its first decider cannot take it.
    seen = people["rev2"].get(f"/api/v1/cases/{second_id}").get_json()
    assert "qa" not in seen and seen["decision"] is None
    envelope(decide(people["rev"], second_id, "block", policy_code="SAFETY-VIOLENCE"), 403, "same_decider")
    decide(people["rev2"], second_id, "allow")
    known = people["senior"].post("/api/v1/cases/known-answers", json={"case_id": case_id}).get_json()
    decide(people["rev2"], known["id"], "block", policy_code="SAFETY-VIOLENCE")
    assert people["alice"].get(f"/api/v1/generations/{gid}").get_json()["status"] == "blocked"  # acted on nothing
    metrics = people["rev"].get("/api/v1/cases/metrics").get_json()
    assert metrics["agreement"] == [{"reviewer": "rev2", "answered": 2, "agreed": 1, "agreement": 0.5}]
    assert sum(metrics["decisions_per_day"]) == 1  # quality checks are not decisions on content


def test_metrics_count_queues_and_appeal_overturns(rt, people):
    held_case(people)
    gen = people["alice"].post("/api/v1/generations", json={"prompt": BLOCKED}).get_json()
    appeal = people["alice"].post("/api/v1/appeals", json={"generation_id": gen["id"], "reason": "art"}).get_json()
    decide(people["rev"], appeal["id"], "overturn", policy_code="GL-AUTOMATION-ERROR")
    m = people["rev"].get("/api/v1/cases/metrics").get_json()
    assert m["appeal_overturn_rate"] == 1.0 and m["appeals_decided"] == 1
    assert m["queue_depth"]["safety"][-1] == 1 and len(m["labels"]) == 14
    dash = people["rev"].get("/api/v1/cases/dashboard").get_json()
    assert dash["queues"] == [{"queue": "safety", "kind": "review", "count": 1, "oldest_due_at": dash["queues"][0]["oldest_due_at"]}]
    assert "SAFETY-VIOLENCE" in dash["policy_codes"] and dash["exposure"]["budget"] == 60


def test_stale_cases_alert_the_senior_reviewers_once(rt, people):
    _, case_id = held_case(people)
    senior_id = people["users"]["senior"].id
    with rt.db.transaction() as s:
        admin = s.get(User, senior_id)
        assert case_decisions.sweep(s, admin, now=utcnow()) == {"lapsed": 0, "alerted": 0}
        assert case_decisions.sweep(s, admin, now=utcnow() + timedelta(days=2)) == {"lapsed": 0, "alerted": 1}
        assert case_decisions.sweep(s, admin, now=utcnow() + timedelta(days=2)) == {"lapsed": 0, "alerted": 0}
        notes = s.query(Notification).filter_by(user_id=senior_id, kind="case_stale").all()
        assert [n.payload["level"] for n in notes] == ["overdue"]


def test_queue_roles_keep_reviewers_out_of_restricted_queues(rt, people, monkeypatch):
    monkeypatch.setenv("GL_QUEUE_ROLES", "safety=senior_reviewer")
    gen = people["alice"].post("/api/v1/generations", json={"prompt": HELD}).get_json()
    assert people["rev"].get("/api/v1/cases").get_json()["items"] == []
    [case] = people["senior"].get("/api/v1/cases").get_json()["items"]
    assert case["generation_id"] == gen["id"]
    envelope(people["rev"].post(f"/api/v1/cases/{case['id']}/claim"), 403, "queue_not_allowed")
    envelope(people["rev"].get(f"/api/v1/cases/{case['id']}"), 404, "case_not_found")


def test_cases_are_recorded_in_the_hash_chain(rt, people):
    held_case(people)
    with rt.db.transaction() as s:
        assert audit.verify(s).ok


def test_generation_statuses_after_appeal_of_a_post_render_block(rt, people, post_render_case):
    gid, case_id = post_render_case
    blocked = decide(people["rev"], case_id, "block", policy_code="SAFETY-VIOLENCE").get_json()
    appeal = people["alice"].post("/api/v1/appeals", json={"statement_id": blocked["outcome_statement"]["id"],
                                                           "reason": "harmless"}).get_json()
    decide(people["rev2"], appeal["id"], "overturn", policy_code="GL-NO-VIOLATION")
    # The video was rendered already: it returns to its creator's drafts, nothing renders again.
    with rt.db.transaction() as s:
        from app.models import Generation
        assert s.get(Generation, gid).status == Status.DRAFT


def test_a_held_generation_deleted_by_its_creator_closes_its_case(rt, people):
    gid, case_id = held_case(people)
    assert people["alice"].delete(f"/api/v1/generations/{gid}").status_code == 204
    seen = people["alice"].get(f"/api/v1/cases/{case_id}").get_json()
    assert (seen["state"], seen["decision"]) == ("decided", "moot")
    assert case_id not in [c["id"] for c in people["rev"].get("/api/v1/cases").get_json()["items"]]
