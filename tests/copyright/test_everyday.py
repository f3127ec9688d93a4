"""Everyday counterparts (copyright/everyday.py): what a prompt in a work's words means when it does
not mean the work, and how the text IP classifier weighs them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from app.stage import Decision
from copyright.everyday import DEFAULT_COUNTERPARTS, CounterpartsError, read_counterparts
from copyright.work_head import NEVER, WorkHead

DATA = Path(DEFAULT_COUNTERPARTS).parent


def test_a_counterparts_file_is_read_with_its_digest_and_a_bad_line_is_named(tmp_path):
    good = tmp_path / "c.jsonl"
    good.write_text('{"work_id": "a", "text": " a panda at a zoo "}\n\n{"work_id": "b", "text": "a panda at a zoo"}\n'
                    '{"work_id": "b", "text": "a shark documentary"}\n', encoding="utf-8")
    read = read_counterparts(good)
    assert read.texts == ("a panda at a zoo", "a shark documentary")          # stripped, once each
    assert read.tag.startswith("everyday-") and len(read.sha256) == 64
    other = tmp_path / "d.jsonl"
    other.write_text('{"work_id": "a", "text": "a cat on a windowsill"}\n', encoding="utf-8")
    assert read_counterparts(other).tag != read.tag
    for bad, why in (('{"work_id": "a"}', "not a counterpart row"), ("not json", "not JSON"),
                     ('{"work_id": "a", "text": "  "}', "empty text"), ('["a"]', "not a JSON object")):
        path = tmp_path / "bad.jsonl"
        path.write_text('{"work_id": "a", "text": "fine"}\n' + bad + "\n", encoding="utf-8")
        with pytest.raises(CounterpartsError, match=rf"bad.jsonl:2: {why}"):
            read_counterparts(path)


def test_the_shipped_counterparts_cover_every_shipped_work_and_name_none():
    from copyright.catalogue import load_catalogue

    catalogue = load_catalogue()
    rows = [json.loads(line) for line in DEFAULT_COUNTERPARTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    per_work: dict[str, int] = {}
    for row in rows:
        per_work[row["work_id"]] = per_work.get(row["work_id"], 0) + 1
    assert set(per_work) == {w.id for w in catalogue.works} and min(per_work.values()) >= 3
    # never its own work's name; another work's ambiguous name at most ("a car" is reviewed as Cars)
    own = [row["text"] for row in rows if row["work_id"] in {m.work.id for m in catalogue.find(row["text"])}]
    blocked = [row["text"] for row in rows if any(m.decision == Decision.BLOCK for m in catalogue.find(row["text"]))]
    assert not own and not blocked, own[:3] + blocked[:3]
    # never a prompt any bench measures
    measured = {json.loads(line)["prompt"].strip().lower()
                for name in ("ip_prompts.jsonl", "ip_everyday_lookalikes.jsonl")
                for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()}
    assert not measured & {row["text"].strip().lower() for row in rows}


def _head(**kw) -> WorkHead:
    import numpy as np

    from copyright.work_head import WorkHeadCutoffs

    weight = np.zeros((3, 3), np.float32)
    return WorkHead("base:1", "t", ("a", "b"), weight, np.zeros(3, np.float32), WorkHeadCutoffs(0.5, 0.9, 0.3), **kw)


def test_a_head_keeps_centroids_and_counterparts_and_weighs_a_prompt_between_them(tmp_path):
    import numpy as np

    from copyright.work_head import WorkHeadError, read_head, save_head

    centroids = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    everyday = np.array([[0.6, 0.8, 0], [0, 0, 1]], np.float32)
    head = _head(centroids=centroids, everyday=everyday, everyday_texts=("a panda at a zoo", "a shark documentary"))
    loaded = read_head(save_head(tmp_path / "h.safetensors", head))
    assert np.array_equal(loaded.centroids, centroids) and np.array_equal(loaded.everyday, everyday)
    assert loaded.everyday_texts == head.everyday_texts
    view = np.array([[0.6, 0.8, 0]], np.float32)          # the first counterpart itself
    lead, text = loaded.everyday_lead("a", view, description=-1.0)
    assert text == "a panda at a zoo" and lead == pytest.approx(1.0 - 0.6)   # centroid of "a": 0.6
    lead, _ = loaded.everyday_lead("a", view, description=0.95)              # a description nearer still
    assert lead == pytest.approx(0.05)
    assert _head().everyday_lead("a", view, 0.5) is None                     # a head without counterparts
    assert loaded.everyday_lead("a", np.zeros((0, 3), np.float32), 0.5) is None
    bad = _head(centroids=centroids, everyday=everyday, everyday_texts=("only one",))
    with pytest.raises(WorkHeadError, match="do not fit 1 texts"):
        read_head(save_head(tmp_path / "bad.safetensors", bad))


@pytest.fixture(scope="module")
def clf():
    from copyright.ip_text import load_ip_text_classifier

    return load_ip_text_classifier()


def _without_everyday(clf):
    cut = replace(clf.head.cutoffs, everyday_unpins=NEVER, everyday_clears=NEVER)
    return clf.with_head(replace(clf.head, cutoffs=cut))


@pytest.mark.slow
def test_the_shipped_head_keeps_the_shipped_counterparts_and_its_version_says_how_it_weighs_them(clf):
    assert set(clf.head.everyday_texts) == set(read_counterparts().texts)
    assert clf.head.centroids is not None and clf.head.centroids.shape[0] == len(clf.head.works)
    assert "/e" in clf.head.cutoffs.tag() and clf.head.cutoffs.tag() in clf.version
    assert _without_everyday(clf).version != clf.version


@pytest.mark.slow
def test_an_everyday_scene_in_a_works_words_is_not_the_work_but_the_described_work_still_is(clf):
    everyday = {"a great white shark breaching off the coast, slow motion nature documentary": "jaws",
                "a bunch of bananas ripening on the kitchen counter": "peely"}
    for prompt, work in everyday.items():
        decision, matches = _without_everyday(clf).decide(prompt)   # the head alone reads the work
        assert decision != Decision.ALLOW and matches[0].work_id == work, (prompt, matches)
        assert clf.decide(prompt) == (Decision.ALLOW, []), prompt
        lead, counterpart = clf.everyday_lead(work, clf.view_vectors(prompt))
        assert lead >= clf.head.cutoffs.everyday_clears and counterpart
    described = "the masked dark lord with the rasping respirator swinging a red laser sword"
    decision, matches = clf.decide(described)
    assert decision == Decision.BLOCK and (matches[0].work_id, matches[0].via) == ("darth-vader", "learned")
    assert clf.everyday_lead("darth-vader", clf.view_vectors(described))[0] < clf.head.cutoffs.everyday_unpins
    # names are names: a title is never weighed against the counterparts
    decision, matches = clf.decide("Garfield asleep next to a plate of pasta")
    assert decision == Decision.BLOCK and matches[0].via == "title"


@pytest.mark.slow
def test_a_block_the_counterparts_unpin_goes_to_review_and_says_which_counterpart(clf):
    from copyright.catalogue import load_catalogue
    from copyright.ip_text import IpMatch

    prompt = "a great white shark breaching off the coast, slow motion nature documentary"
    work = next(w for w in load_catalogue().works if w.id == "jaws")
    vectors = clf.view_vectors(prompt)
    lead, counterpart = clf.everyday_lead(work.id, vectors)
    block = IpMatch(work, Decision.BLOCK, 0.9, "learned", prompt)

    def cut(unpins, clears):
        return clf.with_head(replace(clf.head, cutoffs=replace(clf.head.cutoffs, everyday_unpins=unpins,
                                                                everyday_clears=clears)))

    [judged] = cut(lead - 0.01, NEVER).everyday_judged([block], vectors)
    assert judged.decision == Decision.REVIEW and judged.details()["everyday_counterpart"] == counterpart
    assert cut(NEVER, lead - 0.01).everyday_judged([block], vectors) == []
    assert cut(lead + 0.01, lead + 0.02).everyday_judged([block], vectors) == [block]
    assert "everyday_counterpart" not in block.details()
