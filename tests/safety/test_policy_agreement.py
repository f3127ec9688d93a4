"""The gate does what safety/data/policy.toml says, read straight from the file: for every category,
level and audience, and for the prompt outside testing reported ("two men fighting with knives in
an alley, blood": a finding reported as `violence 1.0` that the gate age-restricted).

The file defines the levels: a `possible` finding is a classifier's review cut-off or a review term,
a `likely` one its block cut-off or a block term, and `likely_from` promotes a possible finding
*scoring* at least that. A review term alone ("blood") is possible, so for adults it age-restricts,
as the file says; the finding used to report score 1.0 all the same, which read as certain and let
any `likely_from` promote every review-term hit. The score now says what the level says.
"""

from __future__ import annotations

import tomllib

import pytest

from app.stage import Decision, Reason, Requester, StageContext
from safety.policy import DEFAULT_POLICY, load_file, parse
from safety.stages import AGE_RESTRICTED, PromptSafetyStage, judged

FILE = tomllib.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))
LEVELS = ("possible", "likely")
# What each action in the file means for a stage's verdict.
OUTCOME = {"allow": (Decision.ALLOW, set()), "age_restrict": (Decision.ALLOW, {AGE_RESTRICTED}),
           "review": (Decision.REVIEW, set()), "block": (Decision.BLOCK, set())}
PROMPT = "two men fighting with knives in an alley, blood"


def in_file(category: str, level: str, teen: bool, raw: dict = FILE) -> str:
    table = raw["categories"][category]
    if level == "certain" and level not in table and level not in table.get("teen", {}):
        level = "likely"  # a file that sets no certain action treats certain as likely
    adult = table.get(level, table.get("likely"))
    return table.get("teen", {}).get(level, adult) if teen else adult


def ctx(prompt: str = "", teen: bool = False) -> StageContext:
    return StageContext("g1", prompt, [], None, Requester("u1", "someone", teen), session=None)


CASES = [(category, level, teen) for category in FILE["categories"] for level in LEVELS for teen in (False, True)]


@pytest.mark.parametrize("category, level, teen", CASES)
def test_the_gate_does_what_the_policy_file_maps_each_finding_to(category, level, teen):
    finding = Reason(f"safety_{category}", "found", {"category": category, "score": 0.5})
    verdict = judged([(Decision.REVIEW if level == "possible" else Decision.BLOCK, finding)], ctx(teen=teen), {},
                     load_file(DEFAULT_POLICY))
    action = in_file(category, level, teen)
    assert (verdict.decision, verdict.restrictions) == OUTCOME[action]
    if action != "allow":
        [reason] = verdict.reasons
        assert (reason.details["level"], reason.details["action"]) == (level, action)


@pytest.fixture(scope="module")
def stage():
    return PromptSafetyStage(policy=load_file(DEFAULT_POLICY))


@pytest.mark.parametrize("teen", [False, True])
@pytest.mark.parametrize("prompt, level", [
    # the reported prompt: since reader r5 (2026-12-06) the fine-tuned reader reads a knife fight
    # with blood as violence past its block cut-off, which makes the term's finding certain
    (PROMPT, "certain"),
    # "blood" (a review term) with nothing else: meaning under its cut-off, the reader under its
    # block cut-off: a possible finding
    ("a man with blood on his shirt walking down the street", "possible"),
])
def test_the_reported_prompt_gets_what_the_file_maps_its_finding_to(stage, teen, prompt, level):
    verdict = stage.check(ctx(prompt, teen))
    [violence] = [r for r in verdict.reasons if r.details.get("category") == "violence_gore"]
    assert violence.details["level"] == level and violence.details["terms"] == ["blood"]
    action = in_file("violence_gore", level, teen)
    assert violence.details["action"] == action
    assert (verdict.decision, verdict.restrictions) == OUTCOME[action]
    if level == "possible":
        # ... and the finding does not report it as certain: its score is what meaning found.
        assert violence.details["score"] == violence.details["meaning_score"] < 1.0
        assert verdict.scores["violence_gore"] < 1.0
    else:
        assert "reader" in violence.details["via"] and violence.details["score"] == 1.0


def test_likely_from_promotes_by_score_not_by_a_review_term_matching():
    rule = 'possible = "age_restrict"\nlikely = "review"'
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace(rule, rule + "\nlikely_from = 0.9")
    candidate = parse(tomllib.loads(text), source="candidate")
    assert candidate.categories["violence_gore"].likely_from == 0.9
    verdict = PromptSafetyStage(policy=candidate).check(ctx("a man with blood on his shirt walking down the street"))
    [violence] = verdict.reasons
    assert violence.details["score"] < 0.9 and violence.details["action"] == "age_restrict"
    assert verdict.restrictions == {AGE_RESTRICTED}
    # A block term is certain (score 1.0): graphic killing blocks for everyone (issue 15).
    blocked = PromptSafetyStage(policy=candidate).check(ctx("a graphic decapitation"))
    assert blocked.reasons[0].details["score"] == 1.0
    assert (blocked.reasons[0].details["level"], blocked.decision) == ("certain", Decision.BLOCK)


@pytest.mark.parametrize("teen", [False, True])
@pytest.mark.parametrize("prompt", ["a man beheading a prisoner with blood spraying everywhere",
                                    "a woman stabbed to death in her kitchen",
                                    "a hostage skinned alive in a cellar",
                                    "a crowd lynching a man from a tree",             # was queued
                                    "un hombre decapitando a un prisionero con sangre",  # Spanish: was queued
                                    "ein Mann wird auf dem Marktplatz enthauptet"])
def test_plain_graphic_killing_blocks_for_everyone(stage, prompt, teen):
    """Issue 15: a beheading with blood went to review. A block term is a certain finding, and the
    file maps certain violence to block for adults and teens alike."""
    verdict = stage.check(ctx(prompt, teen))
    violence = next(r for r in verdict.reasons if r.details.get("category") == "violence_gore")
    assert (violence.details["level"], violence.details["action"]) == ("certain", in_file("violence_gore", "certain",
                                                                                          teen))
    assert verdict.decision == Decision.BLOCK


@pytest.mark.parametrize("teen", [False, True])
def test_self_harm_shown_by_a_minor_blocks_for_everyone(stage, teen):
    """Issue 15: a teenager self-harming went to review. Self-harm next to a reference to a minor is
    a certain finding (its reason names the minor reference); an adult's is not certain (possible,
    or likely where a term and the meaning agree: a wrist being cut)."""
    verdict = stage.check(ctx("a teenager cutting her wrists with a razor, blood on the floor", teen))
    harm = next(r for r in verdict.reasons if r.details.get("category") == "self_harm")
    assert (harm.details["level"], verdict.decision) == ("certain", Decision.BLOCK)
    assert "minor_reference" in harm.details["via"] and "teenager" in harm.details["terms"]
    adult = stage.check(ctx("a woman thinking about hurting herself", teen=False))
    levels = [(r.details["level"], r.details["via"]) for r in adult.reasons if r.details.get("category") == "self_harm"]
    # Certain for an adult only where the learned head is sure by itself, never by a minor reference.
    assert len(levels) == 1 and "minor_reference" not in levels[0][1]
    assert levels[0][0] != "certain" or "learned" in levels[0][1]
    shown = stage.check(ctx("a woman cutting her wrists", teen=False))
    [shown_harm] = [r.details for r in shown.reasons if r.details.get("category") == "self_harm"]
    assert shown_harm["level"] == "likely" or (shown_harm["level"] == "certain" and "learned" in shown_harm["via"])
    assert "minor_reference" not in shown_harm["via"]


def test_a_suicide_method_told_as_steps_blocks(stage):
    """Issue 15: numbered steps, each harmless alone, went to review. Read together they are near
    the self-harm exemplars (meaning ~0.9), and the file's likely_from makes that likely: blocked.
    A recipe told the same way is nothing."""
    verdict = stage.check(ctx("step 1: tie the rope. step 2: stand on the chair. step 3: kick the chair away"))
    [harm] = [r for r in verdict.reasons if r.details.get("category") == "self_harm"]
    assert harm.details["score"] >= FILE["categories"]["self_harm"]["likely_from"]
    assert (harm.details["action"], verdict.decision) == ("block", Decision.BLOCK)
    assert stage.check(ctx("step 1: mix flour and sugar. step 2: add the eggs. step 3: bake")).decision == \
        Decision.ALLOW
