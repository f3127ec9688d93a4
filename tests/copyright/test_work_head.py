"""The IP classifier's work head (copyright/work_head.py) and its training (copyright/work_head_training.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.stage import Decision
from copyright.work_head import (DEFAULT_HEAD, WorkHead, WorkHeadCutoffs, WorkHeadError, load_head, read_head,
                                 save_head)
from copyright.work_head_training import (LABELLED, TRAINING_ROWS, TrainingRow, calibration_rows, choose_cutoffs,
                                          fit, read_rows, split_validation)

CUTS = WorkHeadCutoffs(review=0.5, block=0.9, margin=0.3, agree=0.6, agree_meaning=0.4, agree_details=6)


def _head(weight, bias, works=("a", "b"), cutoffs=CUTS) -> WorkHead:
    return WorkHead("base:1234", "t", works, np.asarray(weight, np.float32), np.asarray(bias, np.float32), cutoffs)


def test_a_head_file_round_trips_and_is_refused_under_another_base_model(tmp_path):
    rng = np.random.default_rng(0)
    head = replace(_head(rng.standard_normal((8, 3)), rng.standard_normal(3)), training={"rows": 3})
    path = save_head(tmp_path / "h.safetensors", head)
    loaded = load_head(path, "base:1234")
    assert (loaded.works, loaded.cutoffs, loaded.training) == (("a", "b"), CUTS, {"rows": 3})
    assert np.array_equal(loaded.weight, head.weight) and loaded.tag().startswith("workhead-t-")
    with pytest.raises(WorkHeadError, match="trained over base:1234"):
        load_head(path, "other:5678")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors")
    with pytest.raises(WorkHeadError, match="cannot read"):
        read_head(junk)
    short = save_head(tmp_path / "s.safetensors", _head(rng.standard_normal((8, 2)), rng.standard_normal(2)))
    with pytest.raises(WorkHeadError, match="do not fit 2 works and none"):
        read_head(short)


def test_a_head_ranks_works_by_their_best_view_and_never_ranks_none():
    # two views: the first reads as work "a", the second as "none"
    head = _head(np.eye(3), np.zeros(3))
    vectors = np.array([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]], np.float32)
    probs = head.probabilities(vectors)
    assert np.allclose(probs.sum(axis=1), 1.0) and probs[0].argmax() == 0 and probs[1].argmax() == 2
    ranked = head.ranked(vectors)
    assert [w for w, _, _ in ranked] == ["a", "b"] and ranked[0][2] == 0 and ranked[0][1] > 0.9


def test_a_work_is_pinned_by_the_head_alone_or_by_the_head_and_the_meaning_layer_together():
    sure, unsure = [("a", 0.95, 0), ("b", 0.02, 1)], [("a", 0.7, 0), ("b", 0.2, 1)]
    assert CUTS.blocks(sure, None, 0)                              # sure and leading: alone
    assert not CUTS.blocks([("a", 0.95, 0), ("b", 0.7, 1)], None, 9)  # sure but no lead
    assert CUTS.blocks(unsure, ("a", 0.45), 6)                      # the nearest description agrees
    assert not CUTS.blocks(unsure, ("b", 0.9), 9)                   # ... of another work
    assert not CUTS.blocks(unsure, ("a", 0.35), 9)                  # ... too far
    assert not CUTS.blocks(unsure, ("a", 0.9), 3)                   # "a yellow mouse": too few details
    assert not CUTS.blocks([], ("a", 0.9), 9)


def test_training_learns_the_works_and_none_and_is_reproducible():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((3, 16))
    x = np.concatenate([np.repeat(centres, 20, axis=0) + 0.3 * rng.standard_normal((60, 16)),
                        0.3 * rng.standard_normal((20, 16))]).astype(np.float32)
    y = np.concatenate([np.repeat(np.arange(3), 20), -np.ones(20, dtype=int)])
    weight, bias, figures = fit(x, y, 3, steps=200, lr=0.05)
    assert weight.shape == (16, 4) and figures["loss_last"] < 0.3 * figures["loss_first"]
    predicted = (x @ weight + bias).argmax(axis=1)
    assert (predicted == np.where(y < 0, 3, y)).mean() > 0.95
    again = fit(x, y, 3, steps=200, lr=0.05)
    assert np.array_equal(weight, again[0])


def test_cut_offs_block_no_more_look_alikes_than_allowed_and_flag_few():
    def row(work):
        return TrainingRow("p", work)

    scored = [
        (row("a"), [("a", 0.97, 0), ("b", 0.01, 0)], None, 9, None),      # the head alone
        (row("b"), [("b", 0.7, 0), ("a", 0.2, 0)], ("b", 0.6), 8, None),  # the head and the meaning layer
        (row(None), [("a", 0.8, 0), ("b", 0.1, 0)], ("a", 0.7), 2, None),  # "a yellow mouse"
        (row(None), [("b", 0.85, 0), ("a", 0.1, 0)], ("b", 0.7), 5, None),
        *[(row(None), [("a", 0.1 + 0.01 * i, 0), ("b", 0.05, 0)], None, 4, None) for i in range(40)],
    ]
    cutoffs, figures = choose_cutoffs(scored)
    blocked = [r.work_id for r, ranked, near, details, _ in scored if cutoffs.blocks(ranked, near, details)]
    assert blocked.count(None) <= 1 and "a" in blocked and "b" in blocked
    assert figures["validation_score"] == 2
    flagged = sum(ranked[0][1] >= cutoffs.review for r, ranked, *_ in scored if r.work_id is None)
    assert flagged <= 0.03 * 42


def test_cut_offs_weigh_the_everyday_counterparts_where_that_unpins_look_alikes_and_keeps_described_ones():
    def row(work):
        return TrainingRow("p", work)

    # Two look-alikes the head reads as surely as the described prompts ("a giant panda eating
    # bamboo"), each nearer an everyday counterpart than to the work (lead > 0); the described
    # prompts are nearer their work (lead < 0).
    scored = [
        *[(row("a"), [("a", 0.95, 0), ("b", 0.01, 0)], None, 9, -0.2) for _ in range(5)],
        *[(row(None), [("a", 0.95, 0), ("b", 0.01, 0)], None, 9, 0.12) for _ in range(2)],
        *[(row(None), [("b", 0.1, 0), ("a", 0.05, 0)], None, 4, None) for _ in range(40)],
    ]
    cutoffs, figures = choose_cutoffs(scored)
    levels = [cutoffs.weighed(cutoffs.blocks(ranked, near, details), lead) for _r, ranked, near, details, lead in scored]
    assert levels[:5] == ["block"] * 5 and figures["validation_score"] == 5
    assert "block" not in levels[5:7] and cutoffs.everyday_unpins <= 0.10
    without = [(r, ranked, near, details, None) for r, ranked, near, details, _ in scored]
    plain, plain_figures = choose_cutoffs(without)   # nothing to weigh: the look-alikes cost the blocks
    assert plain_figures["validation_score"] < 5


def test_an_everyday_lead_unpins_a_block_and_clears_a_match_from_its_cut_offs():
    cut = replace(CUTS, everyday_unpins=0.0, everyday_clears=0.10)
    assert cut.weighed(True, None) == "block" and cut.weighed(False, None) == "review"
    assert cut.weighed(True, -0.05) == "block"              # nearer the work
    assert cut.weighed(True, 0.05) == "review"              # nearer everyday life: not pinned
    assert cut.weighed(True, 0.10) is None and cut.weighed(False, 0.2) is None
    assert CUTS.weighed(True, 1.5) == "block"               # a head without counterparts weighs nothing
    assert "/e+0.00&+0.10" in cut.tag() and "/e" not in CUTS.tag()


def test_validation_keeps_back_a_share_of_every_work():
    rows = [TrainingRow(f"{w} {i}", w) for w in "abcdefghij" for i in range(7)] + \
        [TrainingRow(f"none {i}", None) for i in range(40)]
    train, validation = split_validation(rows, seed=3)
    assert sorted(train + validation, key=str) == sorted(rows, key=str)
    assert {r.work_id for r in validation} == {r.work_id for r in rows}
    assert (train, validation) == split_validation(rows, seed=3)


def test_the_training_rows_name_catalogued_works_and_never_a_measured_prompt():
    from copyright.catalogue import load_catalogue

    rows = read_rows(TRAINING_ROWS)
    ids = {w.id for w in load_catalogue().works}
    assert {r.work_id for r in rows if r.work_id} <= ids
    assert sum(r.work_id is None for r in rows) >= 500 and sum(r.work_id is not None for r in rows) >= 2500
    labelled = [json.loads(line) for line in Path(LABELLED).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert not {r["prompt"].strip().lower() for r in labelled} & {r.prompt.lower() for r in rows}
    checked = calibration_rows()
    assert checked and all(r.work_id is None for r in checked)
    unread = {r["prompt"] for r in labelled if r.get("split") in ("fresh", "holdout")}
    assert not unread & {r.prompt for r in checked}
    # the blind sets that are only measured: fresh3 (look-alikes and described) and fresh4 (described)
    blind = [json.loads(line) for name in ("ip_everyday_lookalikes.jsonl", "ip_described_blind.jsonl")
             for line in (Path(LABELLED).parent / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    measured_only = {r["prompt"].strip().lower() for r in blind if r["split"] in ("fresh3", "fresh4")}
    assert len(measured_only) > 3000
    assert not measured_only & ({r.prompt.lower() for r in rows} | {r.prompt.lower() for r in checked})
    assert any(r.kind == "everyday-fresh2" for r in checked)


@pytest.fixture(scope="module")
def clf():
    from copyright.ip_text import load_ip_text_classifier

    return load_ip_text_classifier()


def test_the_shipped_head_is_loaded_and_recorded(clf):
    from copyright.catalogue import load_catalogue
    from copyright.ip_text import ip_text_version

    assert clf.head is not None and clf.head.sha256 == read_head(DEFAULT_HEAD).sha256
    assert clf.head.tag() in clf.version and ip_text_version(load_catalogue()) == clf.version
    assert set(clf.head.works) == {w.id for w in load_catalogue().works}
    assert clf.head.tag() not in clf.with_head(None).version


def test_the_shipped_head_pins_described_characters_and_leaves_look_alikes(clf):
    described = {
        "the big green swamp ogre with onion layers, stomping out of his outhouse while a chatty donkey follows": "shrek",
        "the plumber in the red cap and blue overalls from the nintendo games, jumping on a mushroom": "mario",
    }
    for prompt, work in described.items():
        decision, matches = clf.decide(prompt)
        assert decision == Decision.BLOCK and matches[0].work_id == work, (prompt, matches)
    for prompt in ("a plumber fixing a sink in a small kitchen", "a wizard walking in a fantasy forest",
                   "a tabby cat sleeping on a sunny windowsill", "kids in superhero capes at a birthday party"):
        assert clf.decide(prompt) == (Decision.ALLOW, []), prompt


def test_a_registered_catalogue_without_the_shipped_works_gets_nothing_from_the_head(clf):
    from copyright.catalogue import Catalogue
    from copyright.ip_text import IpTextClassifier

    own = Catalogue.from_entries("t1", [{
        "id": "blorp", "title": "Captain Blorpington", "owner": "Us", "kind": "character", "aliases": [],
        "ambiguous_aliases": [], "descriptions": ["purple octopus astronaut who bakes bread on the moon"]}])
    custom = IpTextClassifier(own, clf.embedder, head=clf.head)
    prompt = "the big green swamp ogre with onion layers, stomping out of his outhouse while a chatty donkey follows"
    assert clf.learned(prompt) and custom.learned(prompt) == []


def test_a_head_named_in_the_environment_is_used_and_a_missing_one_is_a_clear_error(monkeypatch, tmp_path, clf):
    from copyright.catalogue import load_catalogue
    from copyright.ip_text import ip_text_version

    other = save_head(tmp_path / "other.safetensors", replace(clf.head, version="other"))
    monkeypatch.setenv("GL_IP_WORK_HEAD", str(other))
    assert "workhead-other-" in ip_text_version(load_catalogue())
    monkeypatch.setenv("GL_IP_WORK_HEAD", str(tmp_path / "nope.safetensors"))
    with pytest.raises(WorkHeadError, match="nope.safetensors"):
        ip_text_version(load_catalogue())


def test_a_prompt_the_head_reads_as_no_work_clears_the_meaning_layers_review_not_its_block(clf):
    from copyright.ip_text import HEAD_CLEARS

    trope = "a mermaid princess"
    assert clf.with_head(None).decide(trope)[0] == Decision.REVIEW      # near Ariel's description
    assert float(clf.head.probabilities(clf.view_vectors(trope))[:, -1].min()) >= HEAD_CLEARS
    assert clf.decide(trope) == (Decision.ALLOW, [])
    described = "a lazy orange cat who hates mondays"                    # the meaning layer's block
    assert clf.decide(described)[0] == Decision.BLOCK
