"""The rightsholder registry through the API, and what its policies do to generations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.models import Role
from copyright.models import GenerationWork, WorkPolicy
from tests.app.test_api import envelope

GARFIELD = "Garfield eating lasagna"
EVIDENCE = {"evidence_text": "We publish the Garfield comic strip since 1978.", "evidence_url": "https://example.com/g"}


@pytest.fixture
def world(make_api):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    rival, _ = make_api("rival@t.test", role=Role.RIGHTSHOLDER, handle="rival")
    bob, _ = make_api("bob@t.test", handle="bob")
    org = admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["paws"]})
    assert org.status_code == 201, org.get_json()
    assert admin.post("/api/v1/rightsholders/orgs", json={"name": "Rival", "member_handles": ["rival"]}).status_code == 201
    return admin, paws, rival, bob


def gen(api, prompt, **extra):
    resp = api.post("/api/v1/generations", json={"prompt": prompt, **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def rights(body):
    return next(v for v in body["verdicts"] if v["stage"] == "copyright.rights")


def claim_and_verify(admin, paws, work_id="garfield"):
    claim = paws.post(f"/api/v1/works/{work_id}/claims", json=EVIDENCE)
    assert claim.status_code == 201, claim.get_json()
    decided = admin.post(f"/api/v1/claims/{claim.get_json()['id']}/decision",
                         json={"decision": "verify", "reason": "registration documents checked"})
    assert decided.get_json()["status"] == "verified"


def test_organisations_are_made_by_admins_of_rightsholder_users(world, make_api):
    admin, paws, _, bob = world
    envelope(bob.post("/api/v1/rightsholders/orgs", json={"name": "X"}), 403, "role_not_allowed")
    envelope(admin.post("/api/v1/rightsholders/orgs", json={"name": "Y", "member_handles": ["bob"]}), 422,
             "not_a_rightsholder")
    envelope(admin.post("/api/v1/rightsholders/orgs", json={"name": "Z", "member_handles": ["paws"]}), 409,
             "already_in_org")
    envelope(admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc."}), 409, "org_name_taken")
    assert paws.get("/api/v1/rightsholders/me").get_json()["name"] == "Paws, Inc."


def test_a_claim_counts_only_once_an_admin_verifies_it(world):
    admin, paws, rival, bob = world
    claim = paws.post("/api/v1/works/garfield/claims", json=EVIDENCE).get_json()
    assert claim["status"] == "pending"
    envelope(paws.post("/api/v1/works/garfield/claims", json=EVIDENCE), 409, "claim_pending")
    envelope(paws.put("/api/v1/works/garfield/policy", json={"kind": "allow"}), 404, "work_not_owned")
    assert bob.get("/api/v1/works/garfield").get_json() | {} == {
        "id": "garfield", "title": "Garfield", "source": "catalogue", "claimed_by": None, "policy": None}
    assert [c["id"] for c in admin.get("/api/v1/claims/pending").get_json()["items"]] == [claim["id"]]
    envelope(paws.get("/api/v1/claims/pending"), 403, "role_not_allowed")
    admin.post(f"/api/v1/claims/{claim['id']}/decision", json={"decision": "verify", "reason": "checked"})
    envelope(admin.post(f"/api/v1/claims/{claim['id']}/decision", json={"decision": "reject", "reason": "too late"}),
             409, "claim_decided")
    assert bob.get("/api/v1/works/garfield").get_json()["claimed_by"] == "Paws, Inc."
    # Another organisation cannot claim a work already held.
    envelope(rival.post("/api/v1/works/garfield/claims", json=EVIDENCE), 409, "work_already_claimed")
    envelope(rival.post("/api/v1/works/no-such-work/claims", json=EVIDENCE), 404, "work_not_found")
    envelope(rival.put("/api/v1/works/garfield/policy", json={"kind": "allow"}), 404, "work_not_owned")
    # Still default-deny until the holder sets a policy.
    assert gen(bob, GARFIELD)["status"] == "blocked"


def test_policies_are_versioned_and_decide_generations(rt, world):
    admin, paws, _, bob = world
    claim_and_verify(admin, paws)
    v1 = paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_revenue_share", "share_bp": 1500,
                                                          "restrictions": ["no_remix"]})
    assert v1.status_code == 201 and v1.get_json()["version"] == 1
    licensed = gen(bob, GARFIELD)
    assert licensed["status"] == "queued"
    [reason] = rights(licensed)["reasons"]
    assert reason["code"] == "copyright_licensed" and reason["details"]["share_bp"] == 1500
    assert reason["details"]["attribution"] is True and reason["details"]["policy_version"] == 1
    # The restriction holds: a remix of it is not licensed.
    remix = gen(bob, GARFIELD, remix_of=licensed["id"])
    assert remix["status"] == "blocked"
    assert rights(remix)["reasons"][0]["code"] == "copyright_restricted_use"
    assert rights(remix)["reasons"][0]["details"]["restrictions"] == ["no_remix"]
    # Version 2 blocks; what ran under version 1 stays recorded as such.
    assert paws.put("/api/v1/works/garfield/policy", json={"kind": "block"}).get_json()["version"] == 2
    blocked = gen(bob, GARFIELD)
    assert blocked["status"] == "blocked" and rights(blocked)["reasons"][0]["code"] == "copyright_policy_block"
    with rt.db.transaction() as s:
        used = s.get(GenerationWork, (licensed["id"], "garfield"))
        assert (s.get(WorkPolicy, used.policy_id).version, used.decision) == (1, "allow")
        assert s.get(WorkPolicy, s.get(GenerationWork, (blocked["id"], "garfield")).policy_id).version == 2
    history = paws.get("/api/v1/works/garfield/policies").get_json()["items"]
    assert [(p["version"], p["kind"]) for p in history] == [(2, "block"), (1, "allow_with_revenue_share")]


def test_validity_periods_and_bad_policies(world):
    admin, paws, _, bob = world
    claim_and_verify(admin, paws)
    now = datetime.now(timezone.utc)
    expired = {"kind": "allow", "valid_from": (now - timedelta(days=10)).isoformat(),
               "valid_until": (now - timedelta(days=1)).isoformat()}
    assert paws.put("/api/v1/works/garfield/policy", json=expired).status_code == 201
    assert gen(bob, GARFIELD)["status"] == "blocked"  # nothing in force: default-deny again
    future = {"kind": "allow", "valid_from": (now + timedelta(days=1)).isoformat()}
    assert paws.put("/api/v1/works/garfield/policy", json=future).status_code == 201
    assert gen(bob, GARFIELD)["status"] == "blocked"
    envelope(paws.put("/api/v1/works/garfield/policy", json={"kind": "allow", "share_bp": 500}), 422, "share_mismatch")
    envelope(paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_revenue_share"}), 422,
             "share_mismatch")
    envelope(paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_revenue_share", "share_bp": 10001}),
             422, "validation_error")
    envelope(paws.put("/api/v1/works/garfield/policy", json={"kind": "allow", "restrictions": ["no_cats"]}), 422,
             "validation_error")
    backwards = {"kind": "allow", "valid_from": now.isoformat(), "valid_until": (now - timedelta(hours=1)).isoformat()}
    envelope(paws.put("/api/v1/works/garfield/policy", json=backwards), 422, "invalid_validity")
    assert len(paws.get("/api/v1/works/garfield/policies").get_json()["items"]) == 2  # refused ones left no trace


def test_registered_works_are_matched_and_default_deny(world):
    admin, paws, _, bob = world
    body = {"title": "Captain Blorp", "kind": "character", "aliases": ["Blorpy"],
            "descriptions": ["a purple space octopus captain"], **EVIDENCE}
    registered = paws.post("/api/v1/works", json=body)
    assert registered.status_code == 201, registered.get_json()
    work_id = registered.get_json()["work"]["id"]
    assert registered.get_json()["claim"]["status"] == "pending"
    blocked = gen(bob, "blorpy dancing in the rain")
    assert blocked["status"] == "blocked" and rights(blocked)["reasons"][0]["details"]["work_id"] == work_id
    admin.post(f"/api/v1/claims/{registered.get_json()['claim']['id']}/decision",
               json={"decision": "verify", "reason": "trademark filing"})
    assert paws.put(f"/api/v1/works/{work_id}/policy", json={"kind": "allow"}).status_code == 201
    assert gen(bob, "blorpy dancing in the rain")["status"] == "queued"


def test_shares_over_100_percent_in_total_block(world, make_api):
    admin, paws, _, bob = world
    claim_and_verify(admin, paws, "garfield")
    claim_and_verify(admin, paws, "odie")
    for work in ("garfield", "odie"):
        paws.put(f"/api/v1/works/{work}/policy", json={"kind": "allow_with_revenue_share", "share_bp": 6000})
    body = gen(bob, "Garfield and Odie at the beach")
    assert body["status"] == "blocked"
    assert [r["code"] for r in rights(body)["reasons"]][0] == "revenue_shares_exceed_total"
