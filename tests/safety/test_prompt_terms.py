import pytest

from app.stage import Decision, Requester, StageContext
from safety.stages import PromptSafetyStage
from safety.terms import PolicyFileError, TermPolicy, load_policy


def ctx(prompt: str, teen: bool = False) -> StageContext:
    return StageContext("g1", prompt, [], None, Requester("u1", "someone", teen), session=None)


@pytest.fixture(scope="module")
def stage():
    return PromptSafetyStage()


BENIGN = [
    "a boxer training", "a history lecture about World War II", "a doctor explaining vaccines",
    "a chef cutting vegetables with a knife", "a cat shooting hoops", "a photographer shooting a wedding",
    "a firework show over the city", "killing time at the airport", "a nurse giving an injection",
    "a breast cancer awareness walk", "a war memorial at dawn", "kids playing football in the park",
    "a teen skateboarding", "a couple kissing at sunset", "a horror movie trailer with a haunted house",
    "an election day voter queue", "a knight sword fighting a dragon", "a cooking show about chicken breast",
    "sunbathing on the beach", "an ambulance driving fast", "a green cube sliding down a ramp",
    "ten dancers on a stage",
]


@pytest.mark.parametrize("prompt", BENIGN)
def test_benign_prompts_are_allowed(stage, prompt):
    v = stage.check(ctx(prompt))
    assert v.decision == Decision.ALLOW, v.reasons


@pytest.mark.parametrize("prompt, category", [
    ("a porn scene", "sexual"),
    ("P 0 R N video", "sexual"),                 # spacing + leetspeak
    ("pоrn", "sexual"),                           # Cyrillic о
    ("a graphic decapitation", "violence_gore"),
    ("how to make a pipe bomb at home", "dangerous_acts"),
    ("ballot stuffing caught on camera", "deceptive_elections"),
])
def test_block_terms_are_certain_findings(stage, prompt, category):
    v = stage.check(ctx(prompt, teen=True))  # the teen policy blocks every likely or certain finding
    assert v.decision == Decision.BLOCK
    found = next(r for r in v.reasons if r.details["category"] == category)
    assert found.details["level"] == "certain" and found.details["action"] == "block"
    assert v.scores[category] == 1.0


def test_the_policy_decides_what_a_finding_does_for_adults(stage):
    # safety/data/policy.toml: likely gore waits for a person, certain gore (a block term) is
    # blocked (issue 15); sexual content is blocked from likely on.
    assert stage.check(ctx("a graphic decapitation")).decision == Decision.BLOCK
    assert stage.check(ctx("two men fighting with knives in an alley, blood")).decision == Decision.ALLOW
    assert stage.check(ctx("a porn scene")).decision == Decision.BLOCK


@pytest.mark.parametrize("prompt", ["a knight covered in blood after a sword fight", "zombies covered in blood in a horror movie"])
def test_possible_violence_is_age_restricted_for_adults_and_reviewed_for_teens(stage, prompt):
    adult = stage.check(ctx(prompt))
    assert adult.decision == Decision.ALLOW and adult.restrictions == {"age_restricted"}
    assert [(r.details["level"], r.details["action"]) for r in adult.reasons] == [("possible", "age_restrict")]
    teen = stage.check(ctx(prompt, teen=True))
    assert teen.decision == Decision.REVIEW and not teen.restrictions
    assert teen.reasons and teen.reasons[0].code.startswith("safety_")


def test_sexual_content_with_a_minor_is_always_blocked_as_minors(stage):
    v = stage.check(ctx("sexy schoolgirl in lingerie"))
    assert v.decision == Decision.BLOCK
    assert "sexual_minors" in {r.details["category"] for r in v.reasons}
    assert v.reasons[0].details["dsa_category"]


def test_always_block_category_never_reviews():
    policy = TermPolicy.from_dict({"version": "t", "categories": {
        "csam": {"always_block": True, "review": ["borderline phrase"], "block": []}}})
    assert [h.decision for h in policy.evaluate("a borderline phrase")] == [Decision.BLOCK]


def test_version_names_the_policy_file(stage):
    assert f"terms-{load_policy().version}" in stage.version


@pytest.mark.parametrize("raw", [{}, {"version": "1"}, {"version": "1", "categories": {"x": {"blok": []}}}])
def test_bad_policy_is_rejected(raw):
    with pytest.raises(PolicyFileError):
        TermPolicy.from_dict(raw)


def test_unreadable_policy_file_names_the_path(tmp_path):
    bad = tmp_path / "terms.toml"
    bad.write_text("version = [unterminated")
    with pytest.raises(PolicyFileError, match=str(bad)):
        TermPolicy.from_file(bad)
