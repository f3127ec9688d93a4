"""Work facts (copyright/work_facts.py): what fans know about a work, recalled by a prompt's views,
and how the text IP classifier blocks on them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.stage import Decision
from copyright.work_facts import (
    DEFAULT_FACTS, DEFAULT_INDEX, FactBook, FactCutoffs, WorkFacts, WorkFactsError, build, read, read_facts, save,
)

DATA = Path(DEFAULT_FACTS).parent


def _unit(*rows: list[float]) -> np.ndarray:
    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _facts(ceilings=(0.0, 0.0, 0.0, 0.0), **cut) -> WorkFacts:
    # three facts of "shield", one of "turtle", on the axes of a 4-d space
    book = FactBook(("round shield", "frozen in ice", "motorcycle", "water turtle"),
                    ("shield", "shield", "shield", "turtle"), "0" * 64)
    vectors = np.eye(4, dtype=np.float32)
    return WorkFacts("base:1", "t", book, vectors, np.array(ceilings, np.float32),
                     replace(FactCutoffs(), **cut))


def test_a_facts_file_is_read_in_order_and_a_bad_line_is_named(tmp_path):
    good = tmp_path / "f.jsonl"
    good.write_text('{"work_id": "a", "facts": [" one ", "two"]}\n\n{"work_id": "b", "facts": ["three"]}\n',
                    encoding="utf-8")
    book = read_facts(good)
    assert book.texts == ("one", "two", "three") and book.works == ("a", "a", "b") and len(book.sha256) == 64
    for bad, why in (('{"work_id": "a"}', "a row is"), ("not json", "not JSON"), ('["a"]', "not a JSON object"),
                     ('{"work_id": "a", "facts": ["  "]}', "an empty fact"),
                     ('{"work_id": "", "facts": []}', "a row is"), ('{"work_id": "a", "facts": "x"}', "a row is")):
        path = tmp_path / "bad.jsonl"
        path.write_text('{"work_id": "a", "facts": ["fine"]}\n' + bad + "\n", encoding="utf-8")
        with pytest.raises(WorkFactsError, match=rf"bad.jsonl:2: {why}"):
            read_facts(path)


def test_the_shipped_facts_cover_every_shipped_work_and_are_no_measured_prompt():
    from copyright.catalogue import load_catalogue

    book = read_facts()
    per_work: dict[str, int] = {}
    for work_id in book.works:
        per_work[work_id] = per_work.get(work_id, 0) + 1
    assert set(per_work) == {w.id for w in load_catalogue().works}
    assert min(per_work.values()) >= 12
    measured = {json.loads(line)["prompt"].strip().lower()
                for name in ("ip_prompts.jsonl", "ip_everyday_lookalikes.jsonl", "ip_described_blind.jsonl")
                for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()}
    assert not measured & {t.lower() for t in book.texts}


def test_the_shipped_index_was_built_from_the_shipped_facts_over_the_shipped_embedder():
    from app.kit.text_embedding import text_embedder_model_file

    index = read(DEFAULT_INDEX, read_facts())
    assert index.embedder == text_embedder_model_file().tag
    assert index.vectors.shape == (len(index.book.texts), 384)
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-2)
    # every fact has a ceiling read from benign prompts, the safety set's among them
    assert (index.ceilings > 0).all() and "eval_prompts.jsonl" in index.building["sources"]
    assert index.building["benign"] > 9_000


def test_an_index_is_refused_for_other_facts_or_another_base_model(tmp_path):
    from copyright.work_facts import load

    path = save(tmp_path / "i.safetensors", _facts())
    facts = tmp_path / "f.jsonl"
    facts.write_text('{"work_id": "shield", "facts": ["round shield"]}\n', encoding="utf-8")
    with pytest.raises(WorkFactsError, match="build-facts"):
        read(path, read_facts(facts))
    with pytest.raises(WorkFactsError, match="not a work facts index"):
        read(DATA / "work_head.safetensors", read_facts())
    with pytest.raises(WorkFactsError, match="cannot read"):
        read(tmp_path / "missing.safetensors", read_facts())
    with pytest.raises(WorkFactsError, match="built over"):
        load(DEFAULT_INDEX, "other-model:1")


def test_an_index_survives_its_file_with_half_precision_vectors(tmp_path):
    original = _facts(ceilings=(0.31, 0.42, 0.5, 0.2))
    path = save(tmp_path / "i.safetensors", original)
    again = read(path, original.book)
    assert np.allclose(again.vectors, original.vectors, atol=1e-3)
    assert np.array_equal(again.ceilings, original.ceilings) and again.cutoffs == original.cutoffs
    assert again.sha256 and again.tag().startswith("facts-t-")


def test_a_view_recalls_a_fact_from_its_cut_off_or_its_benign_ceiling_whichever_is_higher():
    facts = _facts(ceilings=(0.0, 0.9, 0.0, 0.0), recall=0.55, margin=0.05)
    assert list(facts.limits) == pytest.approx([0.55, 0.95, 0.55, 0.55])
    near_both = _unit([0.6, 0.8, 0, 0])                   # cosines 0.6 and 0.8 with the first two facts
    (recalled,) = facts.recalled(near_both)
    assert recalled.work_id == "shield" and [t for t, _ in recalled.facts] == ["round shield"]


def test_facts_count_once_per_view_and_pin_alone_with_the_head_or_met_closely():
    facts = _facts()
    one_view = _unit([1, 1, 1, 0])                       # near all three shield facts, in one view
    (recalled,) = facts.recalled(one_view)
    assert len(recalled.facts) == 1                      # a view counts its best fact of a work only
    three_views = _unit([1, 0.1, 0, 0], [0, 1, 0.1, 0], [0.1, 0, 1, 0])
    (recalled,) = facts.recalled(three_views)
    assert sorted(t for t, _ in recalled.facts) == ["frozen in ice", "motorcycle", "round shield"]
    assert facts.pins(recalled, 0.0)                     # three facts pin the work alone
    two = facts.recalled(three_views[:2])[0]
    assert not facts.pins(two, 0.0) and facts.pins(two, 0.05)   # two need the head leaning to it
    one = facts.recalled(three_views[:1])[0]
    assert one.best > 0.7 and not facts.pins(one, 0.29) and facts.pins(one, 0.3)
    (shield,) = [r for r in facts.recalled(_unit([0.6, 0, 0, 0.8])) if r.work_id == "shield"]
    assert shield.best == pytest.approx(0.6) and not facts.pins(shield, 1.0)   # one fact at 0.6: never alone


def test_a_franchises_works_count_their_facts_together_and_the_work_most_are_of_is_named():
    facts = _facts()
    views = _unit([1, 0.1, 0, 0], [0, 0, 0.1, 1])         # one shield fact, the turtle fact
    assert sorted(len(r.facts) for r in facts.recalled(views)) == [1, 1]
    (pooled,) = facts.recalled(views, {"shield": "heroes", "turtle": "heroes"})
    assert len(pooled.facts) == 2 and pooled.work_id in ("shield", "turtle")
    three = _unit([1, 0.1, 0, 0], [0, 1, 0.1, 0], [0, 0, 0.1, 1])
    (pooled,) = facts.recalled(three, {"shield": "heroes", "turtle": "heroes"})
    assert len(pooled.facts) == 3 and pooled.work_id == "shield"   # two of the three are the shield's


def test_one_thing_said_twice_counts_once():
    book = FactBook(("a ring forged in a volcano", "the volcano where the ring was forged", "a burning eye"),
                    ("dark-lord", "hobbit", "dark-lord"), "0" * 64)
    vectors = _unit([1, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 0, 1, 0])        # the first two at cosine 0.8
    facts = WorkFacts("base:1", "t", book, vectors, np.zeros(3, np.float32), FactCutoffs())
    franchise = {"dark-lord": "rings", "hobbit": "rings"}
    (twice,) = facts.recalled(_unit([1, 0, 0, 0], [0.8, 0.6, 0, 0]), franchise)
    assert len(twice.facts) == 1 and not facts.pins(twice, 0.29)   # two facts would pin at 0.05
    (two,) = facts.recalled(_unit([1, 0, 0, 0], [0, 0, 1, 0]), franchise)
    assert len(two.facts) == 2 and facts.pins(two, 0.05)
    looser = replace(facts, cutoffs=replace(FactCutoffs(), same=0.9))
    assert len(looser.recalled(_unit([1, 0, 0, 0], [0.8, 0.6, 0, 0]), franchise)[0].facts) == 2


def test_building_reads_each_facts_ceiling_from_benign_prompts_but_not_from_its_own_works_description():
    from app.kit.text_embedding import load_text_embedder

    embedder = load_text_embedder()
    book = FactBook(("a round shield with a star thrown like a frisbee", "a water-squirting turtle"),
                    ("shield", "turtle"), "0" * 64)
    benign = ["firefighters spraying water on a burning house", "a man throws a frisbee to his dog in a park"]
    plain = build(book, embedder, benign, version="t")
    vectors = embedder.embed(list(book.texts))
    views = embedder.embed(benign)
    assert np.allclose(plain.ceilings, (views @ vectors.T).max(axis=0), atol=1e-5)
    assert plain.building["benign"] == 2 and plain.building["facts"] == 2
    # an unlabelled benign prompt the other layers block as the shield's work leaves that work's facts alone
    def read_as(text: str) -> list[str]:
        return ["shield"] if "frisbee" in text else []
    unlabelled = build(book, embedder, benign[:1], unlabelled=benign[1:], version="t", read_as=read_as)
    assert unlabelled.ceilings[0] < plain.ceilings[0] and unlabelled.ceilings[1] == pytest.approx(plain.ceilings[1])
    # a prompt labelled as no work counts for every fact, whatever the other layers read it as
    labelled = build(book, embedder, benign, version="t", read_as=read_as)
    assert np.allclose(labelled.ceilings, plain.ceilings)


@pytest.fixture(scope="module")
def clf():
    from copyright.ip_text import load_ip_text_classifier

    return load_ip_text_classifier()


# Written here, not taken from any measured set: works told by their world, lines and companions.
DESCRIBED = [
    ("captain-america", "a soldier hurls his round red-white-and-blue shield so it bounces off three walls, "
                        "then a bomber plane plunges into polar ice where he sleeps for decades"),
    ("pirates-of-the-caribbean", "a tipsy buccaneer with beaded braids checks a compass that never points north, "
                                 "while cursed sailors turn to skeletons in the moonlight"),
    ("the-lord-of-the-rings", "a small barefoot fellow carries a golden band to a volcano, followed by a "
                              "flaming eye atop a dark tower and a grey pilgrim who bars a bridge to a fire demon"),
]
EVERYDAY = [
    "firefighters hosing down a forest fire from a helicopter at dusk",
    "a grandmother gets her first tattoo, a small bird on her wrist",
    "a barefoot child runs along a beach holding a gold ring she found in the sand",
    "a sailor reads an old brass compass on the deck of a fishing boat",
]


def test_a_work_told_by_its_world_and_lines_blocks_through_its_facts(clf):
    without = clf.with_facts(None)
    found = only_through_facts = 0
    for work_id, prompt in DESCRIBED:
        matches = clf.classify(prompt)
        kin = set(clf.kin(work_id))           # the work, or a work of its franchise (the same rightsholder's)
        if kin & {m.work_id for m in matches if m.decision == Decision.BLOCK}:
            found += 1
            only_through_facts += not kin & {m.work_id for m in without.classify(prompt) if m.decision == Decision.BLOCK}
        facts = [m for m in matches if m.via == "facts"]
        for m in facts:
            assert m.decision == Decision.BLOCK and m.phrase and 0 < m.score <= 1
            assert m.details()["matched_by"] == "facts"
        assert all(m.via != "facts" for m in without.classify(prompt))
    assert found >= 2 and only_through_facts >= 1


def test_everyday_scenes_near_one_fact_are_not_blocked_through_facts(clf):
    for prompt in EVERYDAY:
        assert not [m for m in clf.classify(prompt) if m.via == "facts"], prompt


def test_the_classifiers_version_names_its_facts_index_and_the_stage_records_the_same(clf):
    from copyright.catalogue import load_catalogue
    from copyright.ip_text import ip_text_version

    assert clf.facts is not None and clf.facts.tag() in clf.version
    assert ip_text_version(load_catalogue()) == clf.version
    assert clf.with_facts(None).version != clf.version
