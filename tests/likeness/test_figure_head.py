"""The public-figure gate's figure head (likeness/figure_head.py) and its training
(likeness/figure_head_training.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.stage import Decision
from likeness.figure_head import (
    DEFAULT_HEAD, FigureHead, FigureHeadCutoffs, FigureHeadError, load_head, read_head, save_head,
)
from likeness.figure_head_training import TRAINING_ROWS, TrainingRow, choose_cutoffs, read_rows, split_validation

CUTS = FigureHeadCutoffs(review=0.3, block=0.7, margin=0.2)
LABELLED = Path(__file__).resolve().parents[2] / "likeness" / "data" / "figure_prompts.jsonl"


def _head(weight, bias, figures=("a", "b"), cutoffs=CUTS) -> FigureHead:
    return FigureHead("base:1234", "t", figures, np.asarray(weight, np.float32), np.asarray(bias, np.float32), cutoffs)


def test_a_head_file_round_trips_and_is_refused_under_another_base_model(tmp_path):
    rng = np.random.default_rng(0)
    centroids = rng.standard_normal((2, 8)).astype(np.float32)
    head = replace(_head(rng.standard_normal((8, 3)), rng.standard_normal(3)), training={"rows": 3},
                   centroids=centroids)
    path = save_head(tmp_path / "h.safetensors", head)
    loaded = load_head(path, "base:1234")
    assert (loaded.figures, loaded.cutoffs, loaded.training) == (("a", "b"), CUTS, {"rows": 3})
    assert np.array_equal(loaded.centroids, centroids)
    assert np.array_equal(loaded.weight, head.weight) and loaded.tag().startswith("figurehead-t-")
    with pytest.raises(FigureHeadError, match="trained over base:1234"):
        load_head(path, "other:5678")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors")
    with pytest.raises(FigureHeadError, match="cannot read"):
        read_head(junk)
    short = save_head(tmp_path / "s.safetensors", _head(rng.standard_normal((8, 2)), rng.standard_normal(2)))
    with pytest.raises(FigureHeadError, match="do not fit 2 figures and none"):
        read_head(short)


def test_a_person_is_blocked_when_sure_and_leading_reviewed_when_likely_and_left_otherwise():
    assert CUTS.decision([("a", 0.9, 0), ("b", 0.05, 1)]) == Decision.BLOCK
    assert CUTS.decision([("a", 0.75, 0), ("b", 0.6, 1)]) == Decision.REVIEW      # sure, but no lead
    assert CUTS.decision([("a", 0.4, 0), ("b", 0.1, 1)]) == Decision.REVIEW
    assert CUTS.decision([("a", 0.2, 0), ("b", 0.1, 1)]) == Decision.ALLOW
    assert CUTS.decision([]) == Decision.ALLOW
    agreeing = replace(CUTS, agree=0.4, agree_cosine=0.6)
    assert agreeing.decision([("a", 0.45, 0), ("b", 0.1, 1)], cosine=0.7) == Decision.BLOCK   # two readings agree
    assert agreeing.decision([("a", 0.45, 0), ("b", 0.1, 1)], cosine=0.5) == Decision.REVIEW
    # the best view counts: the second view reads as "b", the first as "none"
    head = _head(np.eye(3), np.zeros(3))
    ranked = head.ranked(np.array([[0.0, 0.0, 5.0], [0.0, 5.0, 0.0]], np.float32))
    assert ranked[0][0] == "b" and ranked[0][2] == 1 and CUTS.decision(ranked) == Decision.BLOCK


def test_cut_offs_block_few_prompts_about_nobody_and_flag_few():
    def row(figure):
        return TrainingRow("p", figure)

    scored = [
        (row("a"), [("a", 0.97, 0), ("b", 0.01, 0)], 0.5),
        (row("b"), [("b", 0.80, 0), ("a", 0.10, 0)], 0.5),
        (row("b"), [("a", 0.95, 0), ("b", 0.02, 0)], 0.5),             # would be blocked as the wrong person
        (row(None), [("a", 0.75, 0), ("b", 0.1, 0)], 0.5),             # a look-alike read as "a"
        *[(row(None), [("a", 0.05 + 0.005 * i, 0), ("b", 0.01, 0)], 0.5) for i in range(100)],
    ]
    cutoffs, figures = choose_cutoffs(scored)
    blocked = [r.figure_id for r, ranked, cos in scored if cutoffs.decision(ranked, cos) == Decision.BLOCK]
    assert blocked == ["a"]
    flagged = sum(cutoffs.decision(ranked, cos) != Decision.ALLOW for r, ranked, cos in scored if r.figure_id is None)
    assert flagged <= 0.01 * 101 and cutoffs.review <= cutoffs.block
    # blocking from 0.76 to 0.80 takes "a" and "b" (2) but also the wrong-person row (-2): from 0.96, "a" alone
    assert cutoffs.block > 0.95 and figures["validation_score"] == 1
    # ... unless the centroid agrees where it does not for the others: then "b" at 0.80 blocks too
    scored[1] = (row("b"), [("b", 0.80, 0), ("a", 0.10, 0)], 0.9)
    cutoffs, figures = choose_cutoffs(scored)
    assert figures["validation_score"] == 2 and cutoffs.agree <= 0.80 and cutoffs.agree_cosine > 0.5


def test_validation_keeps_back_a_share_of_every_person_and_of_the_others():
    rows = [TrainingRow(f"{f} {i}", f) for f in "abcdefghij" for i in range(8)] + \
        [TrainingRow(f"none {i}", None) for i in range(40)]
    train, validation = split_validation(rows, seed=3)
    assert sorted(train + validation, key=str) == sorted(rows, key=str)
    assert {r.figure_id for r in validation} == {r.figure_id for r in rows}
    assert (train, validation) == split_validation(rows, seed=3)


def test_the_training_rows_name_listed_people_and_never_a_measured_prompt():
    from likeness.figures import load_figures
    from safety.head_training import MEASURING_SPLITS

    rows = read_rows(TRAINING_ROWS)
    assert {r.figure_id for r in rows if r.figure_id} <= {f.id for f in load_figures().figures}
    assert sum(r.figure_id is not None for r in rows) >= 3000 and sum(r.kind == "lookalike" for r in rows) >= 300
    assert sum(r.kind == "everyday" for r in rows) >= 3000
    mine = {r.prompt.strip().casefold() for r in rows}
    labelled = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert not mine & {r["prompt"].strip().casefold() for r in labelled}
    root = Path(__file__).resolve().parents[2]
    measured = [json.loads(line) for line in (root / "safety" / "data" / "eval_prompts.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    measured = {r["prompt"].strip().casefold() for r in measured if r.get("split") in (*MEASURING_SPLITS, "eval")}
    ip = [json.loads(line) for line in (root / "copyright" / "data" / "ip_prompts.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    assert not mine & (measured | {r["prompt"].strip().casefold() for r in ip})


@pytest.fixture(scope="module")
def figures():
    from likeness.figures import load_figures

    return load_figures()


def test_the_shipped_head_is_loaded_and_recorded(figures):
    from likeness.figures import FigureList
    from likeness.stages import PublicFigureStage

    assert figures.head is not None and figures.head.sha256 == read_head(DEFAULT_HEAD).sha256
    assert figures.head.tag() in figures.version and figures.head.tag() in PublicFigureStage(figures).version
    assert set(figures.head.figures) <= {f.id for f in figures.figures}
    bare = figures.with_head(None, None)
    assert isinstance(bare, FigureList) and figures.head.tag() not in bare.version and bare.described("x") == []


# Written for this test (not in the training rows, the labelled sets or the list's descriptions).
DESCRIBED = {
    "the guy who started microsoft in a garage, playing bridge with friends": "bill-gates",
    "the rapper who wrote lose yourself freestyling in a detroit parking lot": "eminem",
}
NOBODY = ("a plumber fixing a sink in a small kitchen", "a retired teacher feeding ducks in a park",
          "a young footballer celebrating a goal in the rain", "a president of a chess club shaking hands")


def test_the_shipped_head_pins_described_people_and_leaves_look_alikes(figures):
    for prompt, figure in DESCRIBED.items():
        refs = {r.figure.id: r for r in figures.find(prompt)}
        assert figure in refs and refs[figure].decision == Decision.BLOCK, (prompt, refs)
        assert refs[figure].via == "described_learned" and not figures.with_head(None, None).find(prompt)
    for prompt in NOBODY:
        assert figures.find(prompt) == [], prompt


def test_a_list_without_the_heads_people_gets_nothing_from_it(figures, tmp_path):
    from likeness.figures import FigureList

    own = tmp_path / "figures.json"
    own.write_text(json.dumps({"version": "t1", "figures": [
        {"id": "zed-blorp", "name": "Zed Blorpington", "category": "other", "descriptions": ["the moon baker"]}]}))
    custom = FigureList.from_file(own, None).with_head(figures.head, figures._text_model)
    prompt = next(iter(DESCRIBED))
    assert figures.described(prompt) and custom.described(prompt) == []


def test_a_head_named_in_the_environment_is_used_and_a_missing_one_is_a_clear_error(monkeypatch, tmp_path, figures):
    from likeness.figures import load_figures

    other = save_head(tmp_path / "other.safetensors", replace(figures.head, version="other"))
    monkeypatch.setenv("GL_FIGURE_HEAD", str(other))
    assert "figurehead-other-" in load_figures().version
    monkeypatch.setenv("GL_FIGURE_HEAD", str(tmp_path / "nope.safetensors"))
    with pytest.raises(FigureHeadError, match="nope.safetensors"):
        load_figures()
    monkeypatch.delenv("GL_FIGURE_HEAD")
    assert load_figures() is figures


def test_the_train_head_command_writes_a_head_for_the_configured_list(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app.cli import main

    listed = tmp_path / "figures.json"
    listed.write_text(json.dumps({"version": "t1", "figures": [
        {"id": "ann-baker", "name": "Ann Baker", "category": "other", "descriptions": ["the queen of sourdough"]},
        {"id": "bo-diver", "name": "Bo Diver", "category": "athlete", "descriptions": ["the deepest free diver"]},
    ]}))
    rows = [{"prompt": f"the sourdough queen {scene}", "figure_id": "ann-baker"} for scene in ("baking", "waving")] + \
        [{"prompt": f"the record-breaking free diver {scene}", "figure_id": "bo-diver"} for scene in ("diving", "eating")] + \
        [{"prompt": f"a dog {scene} in the park", "figure_id": None, "kind": "everyday"} for scene in "abcdefgh"]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setenv("GL_PUBLIC_FIGURES", str(listed))
    out = tmp_path / "head.safetensors"
    result = CliRunner().invoke(main, ["figures", "train-head", "--rows", str(path), "--out", str(out),
                                       "--steps", "30", "--version", "test-1"])
    assert result.exit_code == 0, result.output
    head = read_head(out)
    assert head.version == "test-1" and head.figures == ("ann-baker", "bo-diver") and "wrote" in result.output
    assert head.training["descriptions"] == 2 and head.training["rows"] + head.training["validation_rows"] == 12
    path.write_text(json.dumps({"prompt": "someone unlisted", "figure_id": "nobody-here"}) + "\n")
    failed = CliRunner().invoke(main, ["figures", "train-head", "--rows", str(path), "--out", str(out)])
    assert failed.exit_code != 0 and "nobody-here" in failed.output
    path.write_text('{"prompt": "fine"}\n{nope\n')
    failed = CliRunner().invoke(main, ["figures", "train-head", "--rows", str(path), "--out", str(out)])
    assert failed.exit_code != 0 and "rows.jsonl:2: not JSON" in failed.output
