"""Statements of reasons: one for every block, removal and restriction, in the DSA database's
fields, readable by the creator and exported for regulators."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from app import statements
from app.models import Role
from tests.app.test_api import envelope
from tests.conftest import drain
from tests.copyright.test_registry_api import claim_and_verify
from tests.likeness.enrolled import enrolled_cameo

DSA_FIELDS = {"puid", "decision_visibility", "decision_ground", "content_type", "category", "territorial_scope",
              "decision_facts", "source_type", "automated_detection", "automated_decision", "application_date",
              "content_date", "decision_ground_reference_url"}


def test_categories_follow_the_reasons_and_the_gravest_wins():
    reasons = [{"stage": "copyright.rights", "code": "copyright_default_deny"},
               {"stage": "safety.prompt", "code": "safety_sexual_minors",
                "details": {"dsa_category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"}},
               {"stage": "likeness.cameo_consent", "code": "cameo_not_permitted"}]
    assert statements.categorise(reasons) == ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS", [])
    assert statements.categorise(reasons[2:]) == ("STATEMENT_CATEGORY_CYBER_VIOLENCE",
                                                  ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"])
    assert statements.categorise(reasons[:1])[0] == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"


def test_a_blocked_prompt_gets_a_statement_its_creator_can_read(make_api):
    bob, _ = make_api("bob@t.test", handle="bob")
    eve, _ = make_api("eve@t.test", handle="eve")
    body = bob.post("/api/v1/generations", json={"prompt": "a nude portrait"}).get_json()
    assert body["status"] == "blocked"
    [record] = bob.get(f"/api/v1/generations/{body['id']}/statements").get_json()["items"]
    assert DSA_FIELDS <= set(record)
    assert record["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert record["category"] == "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    assert "KEYWORD_ADULT_SEXUAL_MATERIAL" in record["category_specification"]
    assert record["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert (record["automated_detection"], record["automated_decision"]) == ("Yes", "AUTOMATED_DECISION_FULLY")
    assert record["source_type"] == "SOURCE_VOLUNTARY" and record["content_type"] == statements.CONTENT_TYPES
    assert len(record["territorial_scope"]) == 30 and "NO" in record["territorial_scope"]
    assert "safety_sexual" in record["decision_facts"] and record["gl_origin"] == "pre_render"
    assert record["gl_redress"]["internal_complaint"] == f"http://127.0.0.1:5000/appeals/new?statement_id={record['puid']}"
    envelope(eve.get(f"/api/v1/generations/{body['id']}/statements"), 404, "generation_not_found")
    allowed = bob.post("/api/v1/generations", json={"prompt": "a boxer training"}).get_json()
    assert bob.get(f"/api/v1/generations/{allowed['id']}/statements").get_json()["items"] == []


@pytest.mark.slow
def test_a_takedown_notice_and_a_reviewers_block_are_stated(rt, make_api):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    carol, _ = make_api("carol@t.test", role=Role.REVIEWER, handle="carol")
    bob, _ = make_api("bob@t.test", handle="bob")
    admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["paws"]})
    claim_and_verify(admin, paws)
    paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_attribution"})
    gid = bob.post("/api/v1/generations", json={"prompt": "Garfield napping"}).get_json()["id"]
    drain(rt)
    bob.post(f"/api/v1/generations/{gid}/publish")
    paws.post(f"/api/v1/generations/{gid}/claims", json={"work_id": "garfield", "action": "takedown",
                                                         "reason": "Our character, used without a licence."})
    [notice] = bob.get(f"/api/v1/generations/{gid}/statements").get_json()["items"]
    assert notice["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert (notice["source_type"], notice["decision_ground"]) == ("SOURCE_ARTICLE_16", "DECISION_GROUND_ILLEGAL_CONTENT")
    assert "copyright" in notice["illegal_content_legal_ground"] and notice["automated_detection"] == "No"

    # a review term alone ("lingerie"): a possible sexual finding, which the policy sends to a person
    held = bob.post("/api/v1/generations", json={"prompt": "a model walking the runway in lingerie"}).get_json()
    assert held["status"] == "in_review", held
    item = next(i for i in carol.get("/api/v1/cases").get_json()["items"] if i["generation_id"] == held["id"])
    carol.post(f"/api/v1/cases/{item['id']}/decision",
               json={"decision": "block", "note": "sexualised", "policy_code": "SAFETY-SEXUAL"})
    [ruling] = bob.get(f"/api/v1/generations/{held['id']}/statements").get_json()["items"]
    assert (ruling["automated_detection"], ruling["automated_decision"], ruling["gl_origin"]) == \
        ("Yes", "AUTOMATED_DECISION_NOT_AUTOMATED", "human_review")


def test_statements_are_exported_for_a_period(rt, make_api, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.cli import main

    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    bob, _ = make_api("bob@t.test", handle="bob")
    for prompt in ("a nude portrait", "porn of a celebrity", "a cat"):
        bob.post("/api/v1/generations", json={"prompt": prompt})
    now = datetime.now(timezone.utc)
    since = (now - timedelta(hours=1)).isoformat()
    lines = admin.get("/api/v1/transparency/statements", query_string={"since": since}).get_data(as_text=True)
    records = [json.loads(line) for line in lines.splitlines()]
    assert len(records) == 2 and all(DSA_FIELDS <= set(r) for r in records)
    later = (now + timedelta(hours=1)).isoformat()
    assert admin.get("/api/v1/transparency/statements", query_string={"since": later}).get_data(as_text=True) == ""
    envelope(admin.get("/api/v1/transparency/statements", query_string={"since": later, "until": since}), 422,
             "invalid_period")
    envelope(admin.get("/api/v1/transparency/statements", query_string={"since": "yesterday"}), 422,
             "validation_error")
    envelope(bob.get("/api/v1/transparency/statements", query_string={"since": since}), 403, "role_not_allowed")

    monkeypatch.setattr("app.runtime.current", lambda: rt)
    out = tmp_path / "sor.csv"
    result = CliRunner().invoke(main, ["transparency", "export", "--since", now.date().isoformat(),
                                       "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2 and json.loads(rows[0]["territorial_scope"])[0] == "AT"
    assert {r["puid"] for r in rows} == {r["puid"] for r in records}
    assert CliRunner().invoke(main, ["transparency", "export", "--since", "not-a-date"]).exit_code != 0


@pytest.mark.slow
def test_a_person_in_the_video_removing_it_is_stated_to_its_creator(rt, make_api):
    alice, _ = make_api("alice@t.test", handle="alice")
    bob, _ = make_api("bob@t.test", handle="bob")
    cameo = enrolled_cameo(rt, alice, "Alice", "everyone")
    deleted, published = (bob.post("/api/v1/generations", json={"prompt": p, "cameo_ids": [cameo]}).get_json()["id"]
                          for p in ("a person juggling", "a person dancing"))
    drain(rt)
    bob.post(f"/api/v1/generations/{published}/publish")
    assert alice.delete(f"/api/v1/generations/{deleted}").status_code == 204
    [removal] = bob.get(f"/api/v1/generations/{deleted}/statements").get_json()["items"]
    assert (removal["gl_origin"], removal["source_type"], removal["category"]) == \
        ("co_owner_deletion", "SOURCE_ARTICLE_16", "STATEMENT_CATEGORY_CYBER_VIOLENCE")
    alice.post(f"/api/v1/cameos/{cameo}/revoke")
    [revoked] = bob.get(f"/api/v1/generations/{published}/statements").get_json()["items"]
    assert revoked["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert revoked["gl_origin"] == "cameo_consent_revoked"
    assert bob.delete(f"/api/v1/generations/{published}").status_code == 204  # the creator's own: no statement
    assert len(bob.get(f"/api/v1/generations/{published}/statements").get_json()["items"]) == 1


@pytest.mark.slow
def test_an_age_restricted_video_is_stated_and_hidden_from_teens(rt, make_api):
    from datetime import date

    bob, _ = make_api("bob@t.test", handle="bob")
    teen, _ = make_api("kim@t.test", handle="kim", birthdate=date.today().replace(year=date.today().year - 15))
    adult, _ = make_api("ann@t.test", handle="ann")
    gid = bob.post("/api/v1/generations", json={"prompt": "zombies covered in blood in a horror movie"}).get_json()["id"]
    drain(rt)
    body = bob.get(f"/api/v1/generations/{gid}").get_json()
    assert (body["status"], body["age_restricted"]) == ("draft", True)
    [record] = bob.get(f"/api/v1/generations/{gid}/statements").get_json()["items"]
    assert record["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED"]
    assert record["category"] == "STATEMENT_CATEGORY_VIOLENCE"
    assert [r["details"]["action"] for r in record["gl_reasons"]] == ["age_restrict"]
    bob.post(f"/api/v1/generations/{gid}/publish")
    assert adult.get(f"/api/v1/generations/{gid}").status_code == 200
    envelope(teen.get(f"/api/v1/generations/{gid}"), 404, "generation_not_found")
    # A teen asking for the same gets it held for review instead.
    held = teen.post("/api/v1/generations", json={"prompt": "zombies covered in blood in a horror movie"}).get_json()
    assert held["status"] == "in_review"
