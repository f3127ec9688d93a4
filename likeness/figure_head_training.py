"""Training the public-figure gate's figure head (likeness/figure_head.py): `greenlight figures
train-head`.

The rows (likeness/data/figure_training.jsonl, each saying where it comes from in `from`) are:
- prompts written outside the project that describe a listed person without naming them (by role,
  by work, by look, casually), a few per person;
- look-alikes written beside them that fit many people or none ("a former prime minister giving a
  speech", "a tech billionaire launching a rocket");
- everyday prompts taken from the other gates' training prompts (never from a split any bench
  measures), kept only where the list's names and descriptions find nobody, so the head learns what
  a prompt about nobody in particular reads like.
The list's own descriptions are trained on too, so a person no written row describes still has
their own. The labelled set the bench reports on (likeness/data/figure_prompts.jsonl) is never
trained on. A share of the rows is kept back (split_validation); the cut-offs are chosen on it,
through the views a prompt is read by in the gate (app/kit/text_embedding.prompt_views).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.kit import class_head
from app.kit.class_head import Progress
from app.kit.text_embedding import prompt_views
from app.stage import Decision
from likeness.figure_head import FigureHead, FigureHeadCutoffs

TRAINING_ROWS = Path(__file__).parent / "data" / "figure_training.jsonl"
STEPS = 400
LEARNING_RATE = 0.05
WEIGHT_DECAY = 1e-3
VALIDATION_SHARE = 0.15
NEGATIVE_BLOCKS = 0.003      # the share of kept-back look-alikes and everyday prompts a block rule may block
NEGATIVE_FLAGS = 0.01        # ... and the share it may flag at all (review or block)
WRONG_PERSON_COST = 2        # a block naming the wrong person still stops the prompt, but misstates why


@dataclass(frozen=True)
class TrainingRow:
    prompt: str
    figure_id: str | None    # None: a prompt that describes no listed person
    kind: str = ""


def read_rows(path: str | Path = TRAINING_ROWS) -> list[TrainingRow]:
    return [TrainingRow(*row) for row in class_head.read_rows(path, "figure_id")]


def split_validation(rows: Sequence[TrainingRow], seed: int = 0) -> tuple[list[TrainingRow], list[TrainingRow]]:
    """(train, validation): VALIDATION_SHARE of each person's rows and of the others kept back."""
    return class_head.split_validation(rows, lambda row: row.figure_id, VALIDATION_SHARE, seed)


# a kept-back row, the head's ranked people for its views, and their nearest view's cosine to the
# top person's centroid
Scored = tuple[TrainingRow, list[tuple[str, float, int]], float]


def choose_cutoffs(scored: Sequence[Scored]) -> tuple[FigureHeadCutoffs, dict]:
    """Cut-offs from kept-back rows: block/margin blocking the most described rows as their own person
    (less WRONG_PERSON_COST for each blocked as another), with at most NEGATIVE_BLOCKS of the
    others blocked; then agree/agree_cosine (the head and the centroid on the same person) on top of
    it, under the same bound; review: the lowest probability at which at most NEGATIVE_FLAGS of the
    others are flagged at all."""
    grid = [round(x, 2) for x in np.arange(0.10, 0.99, 0.01)]
    negatives = [ranked for row, ranked, _ in scored if row.figure_id is None]
    allowed = int(NEGATIVE_BLOCKS * len(negatives))

    def score(cut: FigureHeadCutoffs) -> tuple[int, int]:
        right = wrong = 0
        for row, ranked, cosine in scored:
            if cut.decision(ranked, cosine) != Decision.BLOCK:
                continue
            if row.figure_id is None:
                wrong += 1
            else:
                right += 1 if ranked[0][0] == row.figure_id else -WRONG_PERSON_COST
        return right, wrong

    best = (0, FigureHeadCutoffs(1.0, 1.0, 0.0))
    for block in grid:
        for margin in (0.0, 0.05, 0.1, 0.2, 0.3):
            right, wrong = score(cut := FigureHeadCutoffs(block, block, margin))
            if wrong <= allowed and right > best[0]:
                best = (right, cut)
    alone = best[1]
    for agree in grid[::5]:
        for cosine in (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
            right, wrong = score(cut := replace(alone, agree=agree, agree_cosine=cosine))
            if wrong <= allowed and right > best[0]:
                best = (right, cut)
    right, chosen = best
    review = next((cut for cut in grid
                   if sum(1 for r in negatives if r and r[0][1] >= cut) <= NEGATIVE_FLAGS * len(negatives)),
                  chosen.block)
    return replace(chosen, review=min(review, chosen.block, chosen.agree)), {"validation_score": right}


def view_vectors(embed_many, prompts: Sequence[str]) -> list[np.ndarray]:
    """Each prompt's views' sentence vectors, embedded together in length-sorted batches."""
    views = [prompt_views(p) for p in prompts]
    flat = embed_many([v for vs in views for v in vs])
    out, at = [], 0
    for vs in views:
        out.append(flat[at:at + len(vs)])
        at += len(vs)
    return out


def train(rows: Sequence[TrainingRow], descriptions: Sequence[tuple[str, str]], embedder, *, version: str,
          seed: int = 0, steps: int = STEPS, progress: Progress | None = None) -> FigureHead:
    """A head over `embedder` (app/kit/text_embedding.TextEmbedder) for the people of `descriptions`
    ((figure id, description) of the list) and of `rows`, trained on both; cut-offs chosen on the
    kept-back share of `rows`; its `training` holds the validation figures."""
    figures = tuple(sorted({fid for fid, _ in descriptions} | {r.figure_id for r in rows if r.figure_id}))
    index = {f: i for i, f in enumerate(figures)}
    train_rows, validation = split_validation(rows, seed)
    texts = [r.prompt for r in train_rows] + [d for _, d in descriptions]
    vectors = embedder.embed_many(texts)
    targets = np.array([index[r.figure_id] if r.figure_id else -1 for r in train_rows] +
                       [index[fid] for fid, _ in descriptions])
    weight, bias, figures_fit = class_head.fit(vectors, targets, len(figures), steps=steps, lr=LEARNING_RATE,
                                               weight_decay=WEIGHT_DECAY, seed=seed, progress=progress)
    provisional = FigureHead(embedder.tag, version, figures, weight, bias, FigureHeadCutoffs(1.0, 1.0, 0.0),
                             centroids=class_head.centroids(vectors, targets, len(figures)))
    scored = []
    for row, v in zip(validation, view_vectors(embedder.embed_many, [r.prompt for r in validation])):
        ranked = provisional.ranked(v)
        scored.append((row, ranked, provisional.cosine(v, ranked[0][0]) if ranked else 0.0))
    cutoffs, chosen = choose_cutoffs(scored)
    decided = [(row, ranked, cutoffs.decision(ranked, cosine)) for row, ranked, cosine in scored]
    described = [d for d in decided if d[0].figure_id]
    others = [d for d in decided if d[0].figure_id is None]
    training = {**figures_fit, **chosen, "seed": seed, "steps": steps, "rows": len(train_rows),
                "descriptions": len(descriptions), "validation_rows": len(validation),
                "validation_described": len(described),
                "validation_blocked_right": sum(1 for row, ranked, d in described
                                                if d == Decision.BLOCK and ranked[0][0] == row.figure_id),
                "validation_blocked_other_person": sum(1 for row, ranked, d in described
                                                       if d == Decision.BLOCK and ranked[0][0] != row.figure_id),
                "validation_reviewed": sum(1 for *_, d in described if d == Decision.REVIEW),
                "validation_others": len(others),
                "validation_others_blocked": sum(1 for *_, d in others if d == Decision.BLOCK),
                "validation_others_reviewed": sum(1 for *_, d in others if d == Decision.REVIEW)}
    return replace(provisional, cutoffs=cutoffs, training=training)
