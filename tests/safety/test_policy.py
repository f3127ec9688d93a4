"""The declarative safety policy: validation, what it maps findings to, `policy check` and `dry-run`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from safety.policy import DEFAULT_POLICY, Action, PolicyError, classifier_categories, load_policy, parse

SHIPPED = tomllib.loads(DEFAULT_POLICY.read_text())


def test_the_shipped_policy_covers_every_classifier_category():
    policy = load_policy()
    required, forced = classifier_categories()
    assert required <= set(policy.categories) and forced == {"sexual_minors"}
    assert all(a == Action.BLOCK for a in policy.categories["sexual_minors"].actions.values())


def test_findings_map_to_actions_by_level_audience_and_score():
    policy = parse({"version": "t", "categories": {
        "violence_gore": {"possible": "age_restrict", "likely": "review", "likely_from": 0.8,
                          "teen": {"possible": "review", "likely": "block"}}}})
    assert policy.action("violence_gore", "possible", teen=False, score=0.5) == Action.AGE_RESTRICT
    assert policy.action("violence_gore", "possible", teen=False, score=0.85) == Action.REVIEW  # likely_from
    assert policy.action("violence_gore", "likely", teen=True) == Action.BLOCK
    assert policy.action("unknown", "possible", teen=False) == Action.REVIEW  # never waved through


@pytest.mark.parametrize("change, complaint", [
    ({"sexual_minors": {"possible": "review", "likely": "block"}}, "never reviewable"),
    ({"hate": {"possible": "review", "likely": "block", "teen": {"possible": "allow"}}}, "more lenient than adult"),
    ({"hate": {"possible": "block", "likely": "review"}}, "likely (review) is more lenient"),
    ({"hate": {"possible": "review", "likely": "block", "teen": {"likely": "age_restrict"}}}, "age_restrict hides"),
    ({"hate": {"possible": "review", "likely": "ban"}}, "must be one of"),
    ({"hate": {"possible": "review", "likely": "block", "likely_from": 3}}, "likely_from"),
    ({"hate": {"possible": "review", "likely": "block", "colour": "red"}}, "unknown keys"),
])
def test_invalid_policies_are_refused_with_every_problem(change, complaint):
    raw = {"version": "t", "categories": {**SHIPPED["categories"], **change}}
    required, forced = classifier_categories()
    with pytest.raises(PolicyError) as err:
        parse(raw, required=required, always_block=forced)
    assert any(complaint in p for p in err.value.problems), err.value.problems


def test_a_policy_must_name_every_category_and_a_version():
    required, _ = classifier_categories()
    with pytest.raises(PolicyError) as err:
        parse({"categories": {"sexual": {"possible": "review", "likely": "block"}}}, required=required)
    assert any("version" in p for p in err.value.problems) and any("no rule" in p for p in err.value.problems)


def _cli(*args):
    from click.testing import CliRunner

    from app.cli import main
    return CliRunner().invoke(main, list(args))


def test_policy_check_from_the_command_line(tmp_path):
    ok = _cli("policy", "check", str(DEFAULT_POLICY))
    assert ok.exit_code == 0 and "is valid (9 categories)" in ok.output and "age_restrict" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "x"\n[categories.sexual_minors]\npossible = "review"\nlikely = "block"\n')
    result = _cli("policy", "check", str(bad))
    assert result.exit_code == 1 and "never reviewable" in result.output and "no rule" in result.output
    garbled = tmp_path / "garbled.toml"
    garbled.write_bytes(b"version = \xff")
    assert _cli("policy", "check", str(garbled)).exit_code == 1


def stricter(tmp_path: Path) -> Path:
    text = re.sub(r'version = "[^"]+"', 'version = "candidate"', DEFAULT_POLICY.read_text(), count=1)
    rule = 'possible = "age_restrict"\nlikely = "review"\ncertain = "block"\n'
    assert rule in text
    text = text.replace(rule, 'possible = "block"\nlikely = "block"\ncertain = "block"\n')
    text = text.replace('teen = { possible = "review", likely = "block", certain = "block" }',
                        'teen = { possible = "block", likely = "block", certain = "block" }')
    path = tmp_path / "candidate.toml"
    path.write_text(text)
    return path


def test_a_dry_run_reports_what_a_candidate_policy_would_change(rt, make_api, monkeypatch, tmp_path):
    from safety.dry_run import replay
    from safety.policy import load_file

    bob, _ = make_api("bob@t.test", handle="bob")
    restricted = bob.post("/api/v1/generations", json={"prompt": "zombies covered in blood in a horror movie"})
    calm = bob.post("/api/v1/generations", json={"prompt": "a cat asleep on a sofa"})
    assert restricted.get_json()["status"] == calm.get_json()["status"] == "queued"
    with rt.db.transaction() as s:
        same = replay(s, load_policy())
        assert (same.examined, same.changes) == (2, [])
        report = replay(s, load_file(stricter(tmp_path)))
    [change] = report.changes
    assert change.generation_id == restricted.get_json()["id"] and change.categories == ["violence_gore"]
    assert (str(change.before), str(change.after)) == ("allow (age-restricted)", "block")
    monkeypatch.setattr("app.runtime.current", lambda: rt)
    result = _cli("policy", "dry-run", str(stricter(tmp_path)))
    assert result.exit_code == 0 and "1 of 2 generations would change" in result.output, result.output
    assert bob.get(f"/api/v1/generations/{change.generation_id}").get_json()["status"] == "queued"  # nothing written
