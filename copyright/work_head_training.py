"""Training the IP classifier's work head (copyright/work_head.py): `greenlight works train-head`.

The rows (copyright/data/ip_training.jsonl) are prompts written outside the project: five per
catalogued work that describe it without naming it (by look, quote, maker, story, casually), and
look-alikes that describe none ("a plumber fixing a sink", "a dark lord in black armour"). The
labelled sets the benches report on (copyright/data/ip_prompts.jsonl) are never trained on.

A softmax over the works and "none" is fitted on the frozen sentence vectors of the training rows
and of every catalogue description (so a work no row describes still has its own). A share of the
rows is kept back (split_validation); the cut-offs are chosen on it and on the labelled set's
calibration negatives (short tropes such as "a yellow mouse", which the written look-alikes lack),
through the classifier itself (its views of each prompt, best view per work, the meaning layer's
nearest work), so they hold for the path prompts take. With them, how far the everyday counterparts
(copyright/everyday.py) weigh: the head keeps each work's centroid (of its training rows and
descriptions, never of a kept-back row) and the counterparts' vectors, and a match whose prompt is
nearer a counterpart than to its work by the chosen lead is reviewed, not blocked, or cleared.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.kit import class_head
from app.kit.class_head import Progress
from copyright.work_head import NEVER, WorkHead, WorkHeadCutoffs

TRAINING_ROWS = Path(__file__).parent / "data" / "ip_training.jsonl"
LABELLED = Path(__file__).parent / "data" / "ip_prompts.jsonl"
EVERYDAY_LOOKALIKES = Path(__file__).parent / "data" / "ip_everyday_lookalikes.jsonl"
CHOSEN_ON_LOOKALIKES = ("fresh2",)   # the everyday look-alike splits cut-offs are chosen on; fresh3 is only measured
STEPS = 1500
LEARNING_RATE = 0.02
WEIGHT_DECAY = 1e-2
VALIDATION_SHARE = 0.15
NEGATIVE_BLOCKS = 1          # look-alikes (kept back and checked: 450) a chosen block rule may block
EVERYDAY_UNPINS = (NEVER, 0.15, 0.10, 0.05, 0.0, -0.05, -0.10)   # everyday leads tried
CLEARS_LOSS = 0.01           # the share of flagged described prompts clearing may drop
NEGATIVE_FLAGS = 0.03        # ... and the share of them it may flag at all (review or block)


@dataclass(frozen=True)
class TrainingRow:
    prompt: str
    work_id: str | None      # None: a look-alike that describes no catalogued work
    kind: str = ""           # how it describes (look, quote, maker, story, casual) or the look-alike's group


def read_rows(path: str | Path = TRAINING_ROWS) -> list[TrainingRow]:
    return [TrainingRow(*row) for row in class_head.read_rows(path, "work_id")]


def calibration_rows(path: str | Path = LABELLED, everyday: str | Path | None = EVERYDAY_LOOKALIKES) -> list[TrainingRow]:
    """The negatives of the labelled set's calibration split (hard negatives, generic prompts and
    tropes such as "a yellow mouse": short, where look-alikes written for training are long) and the
    everyday look-alikes of CHOSEN_ON_LOOKALIKES (a giant panda eating bamboo, a shark documentary)
    to choose cut-offs on; the `fresh` and `holdout` splits and fresh3 stay unread."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            if raw.get("split", "calibration") == "calibration" and not raw.get("work_id"):
                rows.append(TrainingRow(raw["prompt"], None, f"calibration-{raw.get('category', '')}"))
    if everyday is not None:
        for line in Path(everyday).read_text(encoding="utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                if raw.get("split") in CHOSEN_ON_LOOKALIKES and not raw.get("work_id"):
                    rows.append(TrainingRow(raw["prompt"], None, f"everyday-{raw['split']}"))
    return rows


def split_validation(rows: Sequence[TrainingRow], seed: int = 0) -> tuple[list[TrainingRow], list[TrainingRow]]:
    """(train, validation): VALIDATION_SHARE of each work's rows and of the look-alikes kept back."""
    return class_head.split_validation(rows, lambda row: row.work_id, VALIDATION_SHARE, seed)


def fit(vectors: np.ndarray, targets: np.ndarray, classes: int, *, steps: int = STEPS, lr: float = LEARNING_RATE,
        seed: int = 0, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Weight (dim, classes + 1) and bias of a softmax over `classes` and "none" (target -1)."""
    return class_head.fit(vectors, targets, classes, steps=steps, lr=lr, weight_decay=WEIGHT_DECAY, seed=seed,
                          progress=progress)


# a validation row, the head's ranked works, the meaning layer's nearest work, the head's view's content
# words, and the everyday lead of the head's top work (None: nothing to weigh)
Scored = tuple[TrainingRow, list[tuple[str, float, int]], "tuple[str, float] | None", int, "float | None"]


def choose_cutoffs(scored: Sequence[Scored]) -> tuple[WorkHeadCutoffs, dict]:
    """Cut-offs from validation rows, each with the head's ranked works (work id, probability, view),
    the meaning layer's nearest work (id, cosine) and the everyday lead of the top work. A rule's
    score: the described prompts it blocks as their own work, less twice those it blocks as another's
    (that still stops an infringing prompt but names the wrong rightsholder), with at most
    NEGATIVE_BLOCKS look-alikes blocked and none of the labelled set's calibration negatives; ties go
    to the rule that blocks fewer look-alikes.
    For each everyday lead tried (EVERYDAY_UNPINS): block/margin (the head alone) first, then
    agree/agree_meaning (the head and the meaning layer on the same work) on top of it. Then
    everyday_clears: the lowest lead tried (not under the unpinning one) that drops at most
    CLEARS_LOSS of the described prompts flagged as their work, under the review cut-off chosen as if
    nothing were cleared; and review: the lowest probability at which at most NEGATIVE_FLAGS of the
    look-alikes are still flagged at all, with that clearing."""
    grid = [round(x, 2) for x in np.arange(0.20, 0.99, 0.01)]
    negatives = [(ranked, lead) for row, ranked, _n, _d, lead in scored if row.work_id is None]

    def score(cutoffs: WorkHeadCutoffs) -> tuple[int, int]:
        right = wrong = 0
        for row, ranked, nearest, details, lead in scored:
            if cutoffs.weighed(cutoffs.blocks(ranked, nearest, details), lead) != "block":
                continue
            if row.work_id is None:
                # the labelled set's own negatives ("a wise old wizard with a long beard") never
                wrong += NEGATIVE_BLOCKS + 1 if row.kind.startswith("calibration-") else 1
            else:
                right += 1 if ranked[0][0] == row.work_id else -2
        return right, wrong

    best: tuple[tuple[int, int], WorkHeadCutoffs] = ((0, 0), WorkHeadCutoffs(0.0, 1.0, 0.0))

    def consider(candidate: WorkHeadCutoffs) -> None:
        nonlocal best
        right, wrong = score(candidate)
        if wrong <= NEGATIVE_BLOCKS and (right, -wrong) > best[0]:
            best = ((right, -wrong), candidate)

    for unpins in EVERYDAY_UNPINS:
        start = best
        best = ((0, 0), WorkHeadCutoffs(0.0, 1.0, 0.0, everyday_unpins=unpins))
        for block in grid:
            for margin in (0.0, 0.1, 0.2, 0.3):
                consider(WorkHeadCutoffs(0.0, block, margin, everyday_unpins=unpins))
        head_alone = best[1]
        for agree in grid[::5]:
            for meaning in (0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70):
                for details in (0, 3, 4, 5, 6, 7):
                    consider(replace(head_alone, agree=agree, agree_meaning=meaning, agree_details=details))
        if start[0] >= best[0]:
            best = start
    (right, _), chosen = best

    def flagged(review: float, clears: float, ranked, lead) -> bool:
        return bool(ranked) and ranked[0][1] >= review and (lead is None or lead < clears)

    def lowest_review(clears: float) -> float:
        return min(chosen.block, next((cut for cut in grid if sum(flagged(cut, clears, r, lead) for r, lead in negatives)
                                       <= NEGATIVE_FLAGS * len(negatives)), chosen.block))

    def found(review: float, clears: float) -> int:
        return sum(1 for row, ranked, _n, _d, lead in scored
                   if row.work_id and flagged(review, clears, ranked, lead) and ranked[0][0] == row.work_id)

    plain = lowest_review(NEVER)
    kept = found(plain, NEVER)
    clears = min((c for c in EVERYDAY_UNPINS
                  if c >= chosen.everyday_unpins and kept - found(plain, c) <= CLEARS_LOSS * kept), default=NEVER)
    review = lowest_review(clears)
    return replace(chosen, review=review, everyday_clears=clears), {"validation_score": right,
                                                                   "validation_flagged_right": found(review, clears)}


def train(classifier, rows: Sequence[TrainingRow], *, version: str, seed: int = 0, steps: int = STEPS,
          checked: Sequence[TrainingRow] = (), counterparts: Sequence[str] = (),
          progress: Progress | None = None) -> WorkHead:
    """A head over `classifier`'s (copyright.ip_text.IpTextClassifier) embedder and catalogue,
    trained on `rows` and the catalogue's descriptions, keeping the works' centroids and the
    everyday `counterparts` (copyright/everyday.py), its cut-offs chosen on the validation share
    and on `checked` (labelled rows never trained on: calibration_rows()); its `training` holds
    the validation figures."""
    works = tuple(sorted({ref.work.id for ref in classifier.descriptions}))
    index = {w: i for i, w in enumerate(works)}
    unknown = sorted({r.work_id for r in rows if r.work_id and r.work_id not in index})
    if unknown:
        raise ValueError(f"training rows name works without descriptions in the catalogue: {unknown[:5]}")
    train_rows, validation = split_validation(rows, seed)
    vectors = np.concatenate([classifier.embedder.embed([r.prompt for r in train_rows]),
                              classifier.description_vectors])
    targets = np.array([index[r.work_id] if r.work_id else -1 for r in train_rows] +
                       [index[ref.work.id] for ref in classifier.descriptions])
    weight, bias, figures = fit(vectors, targets, len(works), steps=steps, seed=seed, progress=progress)
    everyday = classifier.embedder.embed_many(list(counterparts)) if counterparts else None
    provisional = WorkHead(classifier.embedder.tag, version, works, weight, bias, WorkHeadCutoffs(0.0, 1.0, 0.0),
                           centroids=class_head.centroids(vectors, targets, len(works)), everyday=everyday,
                           everyday_texts=tuple(counterparts))
    judging = classifier.with_head(provisional)
    scored = []
    for row in [*validation, *checked]:
        vectors = classifier.view_vectors(row.prompt)
        ranked = provisional.ranked(vectors)
        lead = judging.everyday_lead(ranked[0][0], vectors) if ranked else None
        scored.append((row, ranked, classifier.nearest_work(row.prompt, vectors),
                       classifier.view_details(row.prompt, ranked[0][2]), lead[0] if lead else None))
    cutoffs, chosen = choose_cutoffs(scored)
    blocked = [(row, ranked) for row, ranked, nearest, details, lead in scored
               if cutoffs.weighed(cutoffs.blocks(ranked, nearest, details), lead) == "block"]
    described = [row for row, *_ in scored if row.work_id]
    training = {**figures, **chosen, "seed": seed, "steps": steps, "rows": len(train_rows),
                "everyday_counterparts": len(counterparts),
                "descriptions": len(classifier.descriptions), "validation_rows": len(validation),
                "validation_described": len(described),
                "validation_blocked_right": sum(1 for row, ranked in blocked if ranked[0][0] == row.work_id),
                "validation_blocked_other_work": sum(1 for row, ranked in blocked
                                                     if row.work_id and ranked[0][0] != row.work_id),
                "validation_lookalikes": sum(1 for row, *_ in scored if row.work_id is None),
                "validation_lookalikes_blocked": sum(1 for row, _ in blocked if row.work_id is None)}
    return replace(provisional, cutoffs=cutoffs, training=training)
