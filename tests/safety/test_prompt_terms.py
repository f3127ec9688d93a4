import pytest

from app.stage import Decision, Requester, StageContext
from safety.stages import PromptTermStage
from safety.terms import PolicyFileError, TermPolicy, load_policy


def ctx(prompt: str) -> StageContext:
    return StageContext("g1", prompt, [], None, Requester("u1", "someone", False), session=None)


@pytest.fixture(scope="module")
def stage():
    return PromptTermStage()


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
def test_block_terms(stage, prompt, category):
    v = stage.check(ctx(prompt))
    assert v.decision == Decision.BLOCK
    assert any(r.details["category"] == category for r in v.reasons)
    assert v.scores[category] == 1.0


@pytest.mark.parametrize("prompt", ["a knight covered in blood after a sword fight", "a man holding a gun"])
def test_review_terms(stage, prompt):
    v = stage.check(ctx(prompt))
    assert v.decision == Decision.REVIEW
    assert v.reasons and v.reasons[0].code.startswith("safety_")


def test_sexual_content_with_a_minor_is_always_blocked_as_minors(stage):
    v = stage.check(ctx("sexy schoolgirl in lingerie"))
    assert v.decision == Decision.BLOCK
    assert "sexual_minors" in {r.details["category"] for r in v.reasons}
    assert v.reasons[0].details["dsa_category"]


def test_always_block_category_never_reviews():
    policy = TermPolicy.from_dict({"version": "t", "categories": {
        "csam": {"always_block": True, "review": ["borderline phrase"], "block": []}}})
    v = PromptTermStage(policy).check(ctx("a borderline phrase"))
    assert v.decision == Decision.BLOCK


def test_version_names_the_policy_file(stage):
    assert stage.version == f"terms-{load_policy().version}"


@pytest.mark.parametrize("raw", [{}, {"version": "1"}, {"version": "1", "categories": {"x": {"blok": []}}}])
def test_bad_policy_is_rejected(raw):
    with pytest.raises(PolicyFileError):
        TermPolicy.from_dict(raw)


def test_unreadable_policy_file_names_the_path(tmp_path):
    bad = tmp_path / "terms.toml"
    bad.write_text("version = [unterminated")
    with pytest.raises(PolicyFileError, match=str(bad)):
        TermPolicy.from_file(bad)
