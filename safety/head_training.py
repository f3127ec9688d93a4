"""Training the prompt classifier's learned head (safety/prompt_head.py) on our labelled prompts.

Examples: the labelled rows of safety/data/eval_prompts.jsonl in TRAIN_SPLITS (never the measuring
splits: holdout, fresh6..fresh18, fresh20, fresh22, fresh23, fresh24, fresh25, fresh26), every
exemplar of safety/data/prompt_exemplars.toml as a one-view prompt, and buried scenes made from them
(a harmful training prompt set among benign ones, so the head learns that one harmful clause is
enough). Each prompt is its views' embeddings (the
classifier's own `views` and embedder); a prompt's score per category is its highest view's, and
the loss is binary cross-entropy on that (multiple-instance learning), full batch, AdamW, fp32 on
the CPU. Everything is seeded: the same data, seed and torch build give the same weights.

Cut-offs come from out-of-fold scores: the labelled rows are split in FOLDS, a member trained
without each fold scores it, and per category review starts where at most REVIEW_BENIGN of the
benign rows score, block where at most BLOCK_BENIGN do (and never below BLOCK_FLOOR); then the
block cut-offs are raised until at most BLOCK_BENIGN of the benign rows are over any of them, each
time where the raise unblocks the fewest harmful rows (choose_cutoffs with labels, as the reader's).
The multilingual head's are chosen on the rows it will read, those MiniLM cannot (`train_for`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from app.kit.text_embedding import sentence_views
from app.kit.textmatch import normalise
from safety.cutoffs import Cutoffs
from safety.prompt_head import PromptHead

LABELLED = Path(__file__).parent / "data" / "eval_prompts.jsonl"
TRAIN_SPLITS = ("calibration", "eval", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "lookalike")
# 5,500 prompts of every kind, written by helpers who never saw the project (2026-12-05): they train
# the fine-tuned reader (safety/reader_training.py) and, with --with-written, a head.
# written2: 1,512 more (2026-12-07, four more such helpers): graphic violence and cruelty to animals,
# self-harm told as steps and shown, buried scenes, slangy harm of every category, and as many
# look-alikes; none within a trigram Dice of 0.6 of a measuring prompt. Not trained on: a reader trained
# with it (r6) blocked 4 more benign prompts and fewer steps and buried ones (docs/benchmarks.md).
WRITTEN_SPLITS = ("written",)
# 2,667 prompts in 17 other languages than English (graphic, buried, steps and slangy harm, and their
# look-alikes), written on 2026-12-07 by six helpers who never saw the project: they train the
# multilingual head only, which alone reads such prompts (safety/prompt_classifier.py `foreign`).
FOREIGN_SPLITS = ("written_foreign",)
# The splits the figures are measured on: nothing is ever trained on them.
MEASURING_SPLITS = ("holdout", "fresh6", "fresh7", "fresh8", "fresh9", "fresh10", "fresh11", "fresh12", "fresh13",
                    "fresh14", "fresh15", "fresh16", "fresh17", "fresh18", "fresh20", "fresh22", "fresh23", "fresh24", "fresh25",
                    "fresh26")
HIDDEN, MEMBERS, EPOCHS, LR, WEIGHT_DECAY, DROPOUT = 128, 3, 300, 3e-3, 1e-2, 0.2
POS_WEIGHT_MAX = 10.0   # rare categories weigh their positives up to this much
SYNTHETIC_BURIED = 400
FOLDS = 5
REVIEW_BENIGN, BLOCK_BENIGN, BLOCK_FLOOR = 0.02, 0.003, 0.9
# A flag in the second is not wrong for a prompt labelled with the first.
IMPLIED = {"sexual_minors": ("sexual",)}
# What buried scenes are made of: harm a single clause can carry.
BURIABLE = ("violence_gore", "self_harm", "hate")
# Benign prompts written to sound harmful ("a boxer hitting a heavy bag", "a butcher's bloody apron"):
# what calm scenes carry, so a model does not learn that one dark word in a long scene is harm.
LOOKALIKE_KINDS = ("tricky", "benign_lookalike")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Labelled:
    prompt: str
    labels: tuple[str, ...]
    kind: str
    split: str
    lang: str = ""   # ISO 639-1 code where the row says which language it is written in (not English)


def read_labelled(path: str | Path = LABELLED) -> list[Labelled]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                raw = json.loads(line)
                rows.append(Labelled(raw["prompt"], tuple(raw["labels"]), raw["kind"], raw["split"],
                                     str(raw.get("lang", ""))))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a labelled prompt ({exc})") from exc
    return rows


def synthetic_buried(rows: list[Labelled], count: int, seed: int) -> list[Labelled]:
    """`count` scenes of 1-3 benign training prompts with one short harmful one among them."""
    rng = random.Random(seed)
    harm = [r for r in rows if set(r.labels) & set(BURIABLE) and len(r.prompt.split()) < 30 and r.kind != "translated"]
    calm = [r for r in rows if not r.labels and len(r.prompt.split()) >= 8]
    if not harm or len(calm) < 3:
        return []
    out = []
    for _ in range(count):
        bad = rng.choice(harm)
        out.append(Labelled(_set_among(rng, bad, calm), bad.labels, "synthetic_buried", "synthetic"))
    return out


def _set_among(rng: random.Random, odd: Labelled, calm: list[Labelled]) -> str:
    """One scene: 1-3 of `calm` (never `odd` itself) with `odd` at a random place among them."""
    parts = [r.prompt.rstrip(". ") for r in rng.sample(calm, rng.randint(1, 3)) if r is not odd]
    parts.insert(rng.randint(0, len(parts)), odd.prompt.rstrip(". "))
    return rng.choice([". ", ", and ", "; ", ", then "]).join(parts) + "."


def synthetic_calm(rows: list[Labelled], count: int, seed: int) -> list[Labelled]:
    """`count` benign scenes of 1-3 benign training prompts (look-alikes among them too) with one
    look-alike more: the counterpart of `synthetic_buried`. Trained on buried scenes alone, the
    reader helped block 12-16 % of the long benign prompts of fresh16-fresh18, which tell of harm
    or use its words harmlessly."""
    rng = random.Random(seed + 1)
    alike = [r for r in rows if not r.labels and r.kind in LOOKALIKE_KINDS and len(r.prompt.split()) < 30]
    calm = [r for r in rows if not r.labels and len(r.prompt.split()) >= 8]
    if not alike or len(calm) < 3:
        return []
    return [Labelled(_set_among(rng, rng.choice(alike), calm), (), "synthetic_calm", "synthetic")
            for _ in range(count)]


def targets(labels: Iterable[str], categories: tuple[str, ...]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    y = np.zeros(len(categories), dtype=np.float32)
    for label in labels:
        for c in (label, *IMPLIED.get(label, ())):
            if c in index:
                y[index[c]] = 1.0
    return y


def train_member(views: list[np.ndarray], y: np.ndarray, seed: int, hidden: int = HIDDEN,
                 epochs: int = EPOCHS) -> tuple[np.ndarray, ...]:
    """One MLP over views, trained on each prompt's highest view per category: (w1, b1, w2, b2)."""
    import torch

    torch.manual_seed(seed)
    x = torch.from_numpy(np.concatenate(views).astype(np.float32))
    owner = torch.from_numpy(np.concatenate([np.full(len(v), k) for k, v in enumerate(views)]).astype(np.int64))
    target = torch.from_numpy(y)
    n, categories = target.shape
    first = torch.nn.Linear(x.shape[1], hidden)
    second = torch.nn.Linear(hidden, categories)
    dropout = torch.nn.Dropout(DROPOUT)
    params = [*first.parameters(), *second.parameters()]
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=WEIGHT_DECAY)
    positives = target.sum(0)
    pos_weight = ((n - positives) / positives.clamp(min=1)).clamp(max=POS_WEIGHT_MAX)
    index = owner[:, None].expand(-1, categories)
    for _ in range(epochs):
        opt.zero_grad()
        logits = second(dropout(torch.relu(first(x))))
        per_prompt = torch.full((n, categories), -1e9).scatter_reduce(0, index, logits, reduce="amax")
        loss = torch.nn.functional.binary_cross_entropy_with_logits(per_prompt, target, pos_weight=pos_weight)
        loss.backward()
        opt.step()
    return tuple(t.detach().numpy().copy() for t in (first.weight.T, first.bias, second.weight.T, second.bias))


def stack(members: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    return tuple(np.stack([m[i] for m in members]).astype(np.float32) for i in range(4))


def choose_cutoffs(scores: np.ndarray, benign: np.ndarray, categories: tuple[str, ...],
                   labels: np.ndarray | None = None) -> dict[str, Cutoffs]:
    """Per category, from out-of-fold prompt scores (prompts x categories) and which prompts are
    benign. With `labels` (prompts x categories, 1 where a prompt is of the category) the union
    budget is met at the least cost: see `_within_union_budget`."""
    out = {}
    ben = scores[benign]
    for i, c in enumerate(categories):
        ranked = np.sort(ben[:, i])[::-1]

        def cut(rate: float) -> float:
            allowed = int(np.floor(rate * len(ranked)))   # benign prompts allowed at or over the cut
            return float(ranked[allowed]) + 1e-4 if allowed < len(ranked) else 0.0

        review = round(min(max(cut(REVIEW_BENIGN), 0.5), 0.99), 4)
        block = round(min(max(cut(BLOCK_BENIGN), BLOCK_FLOOR, review), 0.999), 4)
        out[c] = Cutoffs(review, block)
    if labels is not None:
        return _within_union_budget(out, scores, benign, labels, categories)
    # Each category alone within the budget can still exceed it together: raise the cut-off that
    # blocks the most benign prompts over the highest of them until the union is within it.
    allowed = int(np.floor(BLOCK_BENIGN * len(ben)))
    while True:
        over = ben >= _block_levels(out, categories)
        if over.any(axis=1).sum() <= allowed:
            return out
        worst = int(over.sum(axis=0).argmax())
        c = categories[worst]
        highest = float(ben[over[:, worst], worst].max())
        if highest + 1e-4 >= 0.999:   # nothing left to raise: this category never blocks alone
            out[c] = Cutoffs(out[c].review, None)
        else:
            out[c] = Cutoffs(out[c].review, round(highest + 1e-4, 4))


def _within_union_budget(out: dict[str, Cutoffs], scores: np.ndarray, benign: np.ndarray, labels: np.ndarray,
                         categories: tuple[str, ...]) -> dict[str, Cutoffs]:
    """Raise block cut-offs until at most BLOCK_BENIGN of the benign prompts are over any of them,
    one benign prompt at a time, each time where the raise unblocks the fewest prompts of that
    category. Raising the category with the most benign prompts over it past all of them put the
    reader's violence cut-off at 0.9966 over one stray benign prompt, and unblocked 36 harmful
    measuring prompts where a raise of the hate cut-off past one prompt did the same job."""
    ben = scores[benign]
    allowed = int(np.floor(BLOCK_BENIGN * len(ben)))
    while True:
        levels = _block_levels(out, categories)
        over = ben >= levels
        if over.any(axis=1).sum() <= allowed:
            return out
        best = None
        for i, c in enumerate(categories):
            if not over[:, i].any():
                continue
            lowest = float(ben[over[:, i], i].min())
            raised = lowest + 1e-4
            own = labels[:, i] > 0
            cost = int(((scores[own, i] >= levels[i]) & (scores[own, i] < raised)).sum())
            if best is None or cost < best[0]:
                best = (cost, c, raised)
        _, c, raised = best
        out[c] = Cutoffs(out[c].review, round(raised, 4) if raised < 0.999 else None)


def train_head(view_embeddings: list[np.ndarray], labels: list[tuple[str, ...]], categories: tuple[str, ...],
               *, embedder: str, version: str, seed: int = 0, labelled: int | None = None,
               members: int = MEMBERS, epochs: int = EPOCHS, folds: int = FOLDS,
               progress: Progress | None = None, training: dict | None = None,
               calibrate: Iterable[bool] | None = None) -> PromptHead:
    """A head from prompts' view embeddings and labels. The first `labelled` prompts (default: all)
    are the labelled rows that cut-offs are chosen on (of them, with `calibrate`, only those it marks:
    the prompts the head will be asked about); the rest (exemplars, synthetic scenes) only train."""
    note = progress or (lambda *_: None)
    y = np.stack([targets(lab, categories) for lab in labels]) if labels else np.zeros((0, len(categories)))
    labelled = len(labels) if labelled is None else labelled
    fold_of = np.random.default_rng(seed).permutation(labelled) % folds
    oof = np.zeros((labelled, len(categories)), dtype=np.float32)
    steps = folds + members
    for k in range(folds):
        note("out-of-fold", k, steps)
        keep = [i for i in range(len(labels)) if i >= labelled or fold_of[i] != k]
        held = [i for i in range(labelled) if fold_of[i] == k]
        head = PromptHead(categories, *stack([train_member([view_embeddings[i] for i in keep], y[keep],
                                                          seed * 1000 + 100 + k, epochs=epochs)]),
                          cutoffs={}, embedder=embedder, version="fold")
        for i in held:
            oof[i] = head.view_scores(view_embeddings[i]).max(axis=0)
    on = np.ones(labelled, dtype=bool) if calibrate is None else np.fromiter(calibrate, dtype=bool, count=labelled)
    oof, y_on = oof[on], y[:labelled][on]
    cutoffs = choose_cutoffs(oof, ~y_on.any(axis=1), categories, labels=y_on)
    trained = []
    for m in range(members):
        note("members", folds + m, steps)
        trained.append(train_member(view_embeddings, y, seed * 1000 + m, epochs=epochs))
    note("done", steps, steps)
    summary = dict(training or {})
    summary.update({"seed": seed, "members": members, "hidden": HIDDEN, "epochs": epochs, "folds": folds,
                    "prompts": len(labels), "labelled": labelled,
                    "calibrated_on": int(on.sum()),
                    "out_of_fold": out_of_fold_figures(oof, y_on, cutoffs, categories)})
    return PromptHead(categories, *stack(trained), cutoffs=cutoffs, embedder=embedder, version=version,
                      training=summary)


def _block_levels(cutoffs: dict[str, Cutoffs], categories: tuple[str, ...]) -> np.ndarray:
    return np.array([np.inf if cutoffs[c].block is None else cutoffs[c].block for c in categories])


def out_of_fold_figures(oof: np.ndarray, y: np.ndarray, cutoffs: dict[str, Cutoffs],
                        categories: tuple[str, ...]) -> dict:
    """Benign rows over each level in any category, and harmful rows at block in one of their own."""
    benign = ~y.any(axis=1)
    review = np.array([cutoffs[c].review for c in categories])
    block = _block_levels(cutoffs, categories)
    harmful = ~benign
    caught = ((oof >= block) & (y > 0)).any(axis=1)
    return {"benign": int(benign.sum()), "benign_review": int((oof[benign] >= review).any(axis=1).sum()),
            "benign_block": int((oof[benign] >= block).any(axis=1).sum()),
            "harmful": int(harmful.sum()), "harmful_block": int(caught[harmful].sum())}


def train_for(classifier, rows: list[Labelled], *, version: str, seed: int = 0, members: int = MEMBERS,
              epochs: int = EPOCHS, folds: int = FOLDS, synthetic: int = SYNTHETIC_BURIED,
              multilingual=None, progress: Progress | None = None,
              splits: tuple[str, ...] = TRAIN_SPLITS) -> PromptHead:
    """A head for `classifier` (a PromptClassifier: its views, embedder, categories and exemplars)
    from the `splits` rows of `rows` (default TRAIN_SPLITS), its exemplars and synthetic buried scenes. With
    `multilingual` (app/kit/multilingual_embedding.MultilingualEmbedder) the head reads that
    embedder's vectors of the prompts' sentence views instead (the classifier's multilingual head),
    and its cut-offs are chosen on the prompts it will read: those the classifier finds `foreign`."""
    note = progress or (lambda *_: None)
    chosen = [r for r in rows if r.split in splits]
    exemplars = classifier.exemplars
    extra = [Labelled(t, () if lab == "benign" else (lab,), "exemplar", "exemplars")
             for t, lab in zip(exemplars.texts, exemplars.labels)]
    scenes = synthetic_buried(chosen + extra, synthetic, seed)
    # Exemplars are one view each, as the classifier compares them; prompts are their views.
    texts = [(r.prompt, False) for r in chosen] + [(r.prompt, True) for r in extra] + \
        [(r.prompt, False) for r in scenes]
    if multilingual is None:
        embedder, read = classifier.embedder, (lambda text, single: [normalise(text)] if single else
                                               classifier.views(text))
    else:
        embedder, read = multilingual, (lambda text, single: sentence_views(text)[:1] if single else
                                        sentence_views(text))
    views: list[np.ndarray] = []
    for n, (text, single) in enumerate(texts):
        if n % 50 == 0:
            note("embedding", n, len(texts))
        views.append(embedder.embed(read(text, single)))
    note("embedding", len(texts), len(texts))
    labels = [r.labels for r in chosen] + [r.labels for r in extra] + [r.labels for r in scenes]
    return train_head(views, labels, classifier.categories, embedder=embedder.tag, version=version,
                      seed=seed, labelled=len(chosen), members=members, epochs=epochs, folds=folds,
                      progress=progress,
                      calibrate=None if multilingual is None else _read_by_it(classifier, chosen),
                      training={"splits": list(splits), "rows": len(chosen), "exemplars": len(extra),
                                "views": "sentences" if multilingual is not None else "windows",
                                "synthetic_buried": len(scenes), "exemplars_sha256": exemplars.sha256})


def _read_by_it(classifier, rows: list[Labelled]) -> list[bool] | None:
    """The rows the multilingual head will read (`foreign`), where benign and harmful ones are
    among them to choose its cut-offs on; else None: every row."""
    foreign = [classifier.foreign(r.prompt) for r in rows]
    kinds = {bool(r.labels) for r, f in zip(rows, foreign) if f}
    return foreign if kinds == {True, False} else None
