"""Statements of reasons as the EU DSA Transparency Database takes them (schema v2, in force since
1 July 2025): the rules read from its source (app/data/dsa_rules.json), the validator that applies
them (app/dsa.py), and every statement the demo world and the case workflows issue, exported with
`--format dsa`, passing it without personal data."""

from __future__ import annotations

import json

import pytest

from app import dsa, statements
from app.models import Role, StatementOfReasons, User
from tests.conftest import drain
from tests.copyright.test_registry_api import claim_and_verify
from tests.likeness.enrolled import enrolled_cameo


def valid_record() -> dict:
    return {
        "puid": "3f2b8c1e-0000-4000-8000-000000000001",
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "decision_ground_reference_url": "https://greenlight.example/terms",
        "incompatible_content_ground": "https://greenlight.example/terms",
        "incompatible_content_explanation": "breaks the terms of service cited: safety_violence_gore",
        "incompatible_content_illegal": "No", "content_type": ["CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_VIDEO"],
        "category": "STATEMENT_CATEGORY_VIOLENCE", "category_specification": [], "territorial_scope": ["AT", "NO"],
        "content_date": "2026-11-30", "application_date": "2026-12-01", "decision_facts": "safety.prompt: x",
        "source_type": "SOURCE_VOLUNTARY", "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_FULLY",
    }


def test_the_rules_name_the_source_they_were_read_from():
    source = dsa.rules()["_source"]
    assert len(source["commit"]) == 40 and "StatementStoreRequest.php" in " ".join(source["files"])
    assert "app/Models/Statement.php" in source["files"]
    # The taxonomy pairs every keyword the database accepts with one category (or none: the catch-alls).
    paired = {k for ks in dsa.rules()["keywords_by_category"].values() for k in ks}
    assert paired | set(dsa.rules()["keywords_any_category"]) == set(dsa.keywords())
    assert not set(dsa.rules()["retired_v1"]["categories"]) & set(dsa.categories())
    assert dsa.label("STATEMENT_CATEGORY_OTHER_VIOLATION_TC") == "Other violation of provider’s terms and conditions"


def test_pages_show_categories_in_the_databases_words():
    from review_ui.web import dsa_label

    assert dsa_label("STATEMENT_CATEGORY_CYBER_VIOLENCE") == "Cyber violence"
    assert dsa_label("KEYWORD_ADULT_SEXUAL_MATERIAL") == "Adult sexual material"
    assert dsa_label("DECISION_VISIBILITY_CONTENT_REMOVED") == "Content removed"


@pytest.mark.parametrize("change, complaint", [
    ({"category": "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR"},
     "category: 'STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR' is a retired"),
    ({"category": "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"}, "is a retired v1 value"),
    ({"category": "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE"}, "is a retired v1 value"),  # the v1 fallback
    ({"decision_visibility": [], "decision_monetary": "DECISION_MONETARY_OTHER"}, "decision_monetary_other: required"),
    # a v2 keyword next to a v1 category: the category is refused, and the keyword misplaced
    ({"category": "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
      "category_specification": ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"]},
     "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE specifies STATEMENT_CATEGORY_CYBER_VIOLENCE"),
    ({"category_specification": ["KEYWORD_ADULT_SEXUAL_MATERIAL"]}, "specifies STATEMENT_CATEGORY_OTHER_VIOLATION_TC"),
    ({"category_specification": ["KEYWORD_DANGEROUS_TOYS"]}, "retired v1 value"),
    ({"decision_visibility": []}, "one restriction is required"),
    ({"territorial_scope": ["AT", "US"]}, "territorial_scope: 'US'"),
    ({"content_date": "30/11/2026"}, "content_date: not a YYYY-MM-DD"),
    ({"application_date": "2019-12-31"}, "application_date: before 2020-01-01"),
    ({"puid": "has spaces in it"}, "puid: does not match"),
    ({"decision_facts": "x" * 5001}, "decision_facts: longer than 5000"),
    ({"decision_facts": ""}, "decision_facts: required"),
    ({"automated_detection": True}, "automated_detection"),
    ({"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT"}, "illegal_content_legal_ground: required"),
    ({"decision_ground_reference_url": "terms page"}, "not a URL"),
    ({"gl_user_id": "u-1"}, "gl_user_id: not a field of the database"),
])
def test_the_validator_refuses_what_the_database_refuses(change, complaint):
    assert dsa.validate(valid_record()) == []
    problems = dsa.validate({**valid_record(), **change})
    assert any(complaint in p for p in problems), problems


def test_stored_v1_values_are_submitted_as_their_successors():
    deepfake = ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"]
    assert dsa.current("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR", deepfake) == (
        "STATEMENT_CATEGORY_CYBER_VIOLENCE", [], deepfake)
    assert dsa.current("STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT", []) == (
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", [], ["KEYWORD_ADULT_SEXUAL_MATERIAL"])
    # a keyword of another category brings its category in as an addition
    assert dsa.current("STATEMENT_CATEGORY_VIOLENCE", ["KEYWORD_HATE_SPEECH"]) == (
        "STATEMENT_CATEGORY_VIOLENCE", ["STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"], ["KEYWORD_HATE_SPEECH"])


def test_the_safety_data_files_speak_the_current_schema():
    from safety.frames import FramePolicy, FramePolicyError
    from safety.terms import PolicyFileError, TermPolicy, load_policy

    for category in load_policy().categories.values():
        assert category.dsa_category in dsa.categories(), category.name
        assert all(dsa.keyword_fits(k, category.dsa_category) for k in category.dsa_keywords), category.name
    retired = {"version": "x", "categories": {
        "sexual": {"dsa_category": "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"}}}
    with pytest.raises(PolicyFileError, match="current schema"):
        TermPolicy.from_dict(retired)
    with pytest.raises(FramePolicyError, match="do not specify"):
        FramePolicy.from_dict({"version": "x", "labels": {}, "categories": {"sexual": {
            "dsa_category": "STATEMENT_CATEGORY_VIOLENCE", "dsa_keywords": ["KEYWORD_NUDITY"]}}})


def test_a_hash_bank_cannot_be_given_a_retired_category(make_api):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    refused = admin.post("/api/v1/hash-banks", json={
        "name": "old-bank", "category": "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"})
    assert refused.status_code == 422, refused.get_json()
    ok = admin.post("/api/v1/hash-banks", json={"name": "new-bank",
                                                "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"})
    assert ok.status_code == 201, ok.get_json()


# -- every statement the world issues --------------------------------------------------------------

NAME = "Zanzibar Quillfeather"  # planted: a display name, in prompts, notes and claims
HANDLE, EMAIL = "zanquill", "zanzibar.quill@t.test"


def _decide(api, case_id, decision, code, note):
    done = api.post(f"/api/v1/cases/{case_id}/decision",
                    json={"decision": decision, "policy_code": code, "note": note})
    assert done.status_code == 200, done.get_json()
    return done.get_json()


def _case_for(api, gid):
    return next(c for c in api.get("/api/v1/cases").get_json()["items"] if c["generation_id"] == gid)["id"]


def workflows(rt, make_api) -> dict[str, str]:
    """The decisions people and gates take, each issuing statements; returns planted strings."""
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="wf_admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="wf_paws")
    rev, _ = make_api("rev@t.test", role=Role.REVIEWER, handle="wf_rev")
    rev2, _ = make_api("rev2@t.test", role=Role.REVIEWER, handle="wf_rev2")
    zed, zed_user = make_api(EMAIL, handle=HANDLE)
    alice, alice_user = make_api("alice@t.test", handle="wf_alice")
    admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["wf_paws"]})
    claim_and_verify(admin, paws)
    paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_attribution"})

    def gen(api, prompt, **extra):
        body = api.post("/api/v1/generations", json={"prompt": prompt, **extra}).get_json()
        assert "id" in body, body
        return body

    # Gates: blocks of each kind (sexual, minors: illegal, hate, self-harm, elections), an age restriction.
    prompts = [f"{NAME} in a porn video", "child porn", f"{NAME} shouting racial slurs nigger",
               "suicide method tutorial", "ballot stuffing caught on camera",
               "zombies covered in blood in a horror movie"]
    for prompt in prompts:
        gen(zed, prompt)
    # A held request a reviewer blocks, an appeal upheld; another held, blocked and overturned on appeal.
    held = [gen(zed, "a man holding a gun") for _ in range(2)]  # the classifier holds it for a person
    for body, outcome in zip(held, ("uphold", "overturn")):
        assert body["status"] == "in_review", body
        blocked = _decide(rev, _case_for(rev, body["id"]), "block", "SAFETY-VIOLENCE",
                          f"{NAME} ({EMAIL}) is threatening @{HANDLE}")
        appeal = zed.post("/api/v1/appeals", json={"statement_id": blocked["outcome_statement"]["id"],
                                                   "reason": f"I am {NAME}, it is a toy"}).get_json()
        _decide(rev2, appeal["id"], outcome, "SAFETY-VIOLENCE" if outcome == "uphold" else "GL-AUTOMATION-ERROR",
                f"{NAME}: looked again")
    # A blocked request overturned on appeal (its lifting statement is not exported).
    nude = gen(zed, "a nude portrait")
    appeal = zed.post("/api/v1/appeals", json={"generation_id": nude["id"], "reason": f"{NAME} says: art"}).get_json()
    _decide(rev, appeal["id"], "overturn", "GL-AUTOMATION-ERROR", "a statue")
    # Copyright: a takedown, a monetisation (with its decision_monetary_other), a dispute upheld.
    videos = [gen(zed, "Garfield napping")["id"] for _ in range(3)]
    drain(rt)
    for gid in videos:
        assert zed.post(f"/api/v1/generations/{gid}/publish").get_json()["status"] == "published"
    for gid, action in zip(videos, ("takedown", "monetise", "monetise")):
        filed = paws.post(f"/api/v1/generations/{gid}/claims", json={
            "work_id": "garfield", "action": action, "reason": f"{NAME} copied our cat, see @{HANDLE}"})
        assert filed.status_code == 201, filed.get_json()
    disputed = zed.post(f"/api/v1/video-claims/{filed.get_json()['id']}/dispute",
                        json={"reason": f"{NAME} drew it"}).get_json()
    _decide(rev, disputed["case_id"], "uphold", "COPYRIGHT-INFRINGEMENT", f"{NAME}'s video uses Garfield")
    # Likeness: a cameo's owner deletes a video they are in, and revokes consent for another.
    cameo = enrolled_cameo(rt, alice, NAME, "everyone")
    deleted, revoked = (gen(zed, p, cameo_ids=[cameo])["id"] for p in ("a person juggling", "a person dancing"))
    drain(rt)
    zed.post(f"/api/v1/generations/{revoked}/publish")
    assert alice.delete(f"/api/v1/generations/{deleted}").status_code == 204
    alice.post(f"/api/v1/cameos/{cameo}/revoke")
    return {"name": NAME, "first name": "Zanzibar", "handle": HANDLE, "email": EMAIL, "user id": zed_user.id,
            "cameo owner id": alice_user.id, "cameo owner": "alice@t.test", "prompt": "holding a gun",
            "prompt words": "porn video", "term": "nigger", "claim text": "copied our cat"}


@pytest.mark.slow
def test_every_exported_statement_is_one_the_dsa_database_accepts(rt, make_api, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.cli import main
    from app.demo import seed

    seed(rt, echo=lambda *_: None)
    drain(rt)
    planted = workflows(rt, make_api)
    with rt.db.transaction() as s:
        stored = s.query(StatementOfReasons).all()
        demo_ids = {u.id for u in s.query(User).all()}
        origins = {x.origin for x in stored}
    assert {"pre_render", "human_review", "appeal_upheld", "appeal_overturned", "video_claim", "dispute_upheld",
            "co_owner_deletion", "cameo_consent_revoked"} <= origins, origins

    monkeypatch.setattr("app.runtime.current", lambda: rt)
    out = tmp_path / "sor.jsonl"
    result = CliRunner().invoke(main, ["transparency", "export", "--since", "2000-01-01", "--format", "dsa",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == sum(1 for x in stored if statements.restricts(x)) >= 20
    assert dsa.validate_batch(records) == {}
    assert {r["category"] for r in records} >= {
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "STATEMENT_CATEGORY_VIOLENCE",
        "STATEMENT_CATEGORY_CYBER_VIOLENCE", "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", "STATEMENT_CATEGORY_SELF_HARM"}
    monetised = [r for r in records if r.get("decision_monetary") == "DECISION_MONETARY_OTHER"]
    assert monetised and all(r["decision_monetary_other"] for r in monetised)
    assert any(r["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT" for r in records)
    # Only the database's fields, and nothing that identifies a person or repeats what they wrote.
    assert all(set(r) <= set(dsa.rules()["fields"]) for r in records)
    for what, value in planted.items():
        assert value.lower() not in text.lower(), f"the {what} {value!r} is in the submission"
    for user_id in demo_ids:
        assert user_id not in text

    # Our own export (with gl_* fields, for the creator and our records) states the same in the current schema.
    ours = [json.loads(line) for line in statements.export(stored, "json").splitlines()]
    assert dsa.validate_batch([{k: v for k, v in r.items() if not k.startswith("gl_")} for r in ours]) == {}


def test_an_export_of_stored_v1_statements_is_refused_or_mapped(rt, make_api, monkeypatch, tmp_path):
    """A statement stored before the schema change is submitted under the successor category; one
    the rules still refuse is reported and left out, and the command fails."""
    from click.testing import CliRunner

    from app.cli import main

    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="wf_admin")
    zed, _ = make_api(EMAIL, handle=HANDLE)
    gid = zed.post("/api/v1/generations", json={"prompt": "a nude portrait"}).get_json()["id"]
    zed.post("/api/v1/generations", json={"prompt": "child porn"})
    with rt.db.transaction() as s:
        old, other = s.query(StatementOfReasons).order_by(StatementOfReasons.created_at).all()
        assert old.generation_id == gid
        old.category, old.keywords = "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT", ["KEYWORD_NUDITY"]
        other.territorial_scope = ["AT", "US"]  # configured wrongly
        old_id, other_id = old.id, other.id
    monkeypatch.setattr("app.runtime.current", lambda: rt)
    out = tmp_path / "sor.jsonl"
    result = CliRunner().invoke(main, ["transparency", "export", "--since", "2000-01-01", "--format", "dsa",
                                       "--output", str(out)])
    assert result.exit_code == 1 and f"{other_id}: territorial_scope: 'US'" in result.output, result.output
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (record["puid"], record["category"]) == (old_id, "STATEMENT_CATEGORY_OTHER_VIOLATION_TC")
    assert record["category_specification"] == ["KEYWORD_ADULT_SEXUAL_MATERIAL", "KEYWORD_NUDITY"]
    # The API's export leaves out the same, and counts it.
    got = admin.get("/api/v1/transparency/statements", query_string={"since": "2000-01-01T00:00:00Z", "format": "dsa"})
    assert got.status_code == 200 and got.headers["X-Refused-Statements"] == "1"
    assert got.get_data(as_text=True) == out.read_text()
