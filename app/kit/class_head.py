"""A learned head over frozen sentence vectors: a softmax over named classes and "none", its file,
and its training. The IP gate's work head (which catalogued work a prompt describes) and the
likeness gate's figure head (which listed person a prompt describes) are both one of these; each
keeps its own cut-offs and file format name.

A head costs one (views x dim) @ (dim x classes+1) product on vectors the text embedder already
made for the prompt's views. Its file is safetensors: the weights and bias, and a JSON metadata
entry with the class names, the base model's tag, the cut-offs and the training figures.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

Progress = Callable[[int, int], None]
Row = TypeVar("Row")

META_KEY = "greenlight"


def probabilities(vectors: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(views, classes + 1) softmax probabilities of sentence vectors (views, dim)."""
    logits = np.asarray(vectors, dtype=np.float32) @ weight + bias
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def rank(probs: np.ndarray, classes: Sequence[str], limit: int = 3) -> list[tuple[str, float, int]]:
    """The likeliest classes over all views, best first: (class, probability, the view's index).
    "none" (the last column) is never ranked."""
    named = probs[:, :-1]
    best, at = named.max(axis=0), named.argmax(axis=0)
    return [(classes[j], float(best[j]), int(at[j])) for j in np.argsort(-best)[:limit]]


def fit(vectors: np.ndarray, targets: np.ndarray, classes: int, *, steps: int, lr: float, weight_decay: float,
        seed: int = 0, sample_weight: np.ndarray | None = None,
        progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Weight (dim, classes + 1) and bias of a softmax over `classes` and "none" (target -1), full
    batch AdamW; `sample_weight` weighs rows (default 1)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    layer = torch.nn.Linear(vectors.shape[1], classes + 1)
    torch.nn.init.normal_(layer.weight, std=0.01, generator=generator)
    torch.nn.init.zeros_(layer.bias)
    x = torch.from_numpy(vectors.astype(np.float32))
    y = torch.from_numpy(np.where(targets < 0, classes, targets).astype(np.int64))
    w = None if sample_weight is None else torch.from_numpy(sample_weight.astype(np.float32))
    optimiser = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    first = last = 0.0
    for step in range(steps):
        if w is None:
            loss = torch.nn.functional.cross_entropy(layer(x), y)
        else:
            loss = (torch.nn.functional.cross_entropy(layer(x), y, reduction="none") * w).sum() / w.sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        last = loss.item()
        first = first or last
        if progress is not None:
            progress(step + 1, steps)
    return (layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy(),
            {"loss_first": round(first, 4), "loss_last": round(last, 4)})


def centroids(vectors: np.ndarray, targets: np.ndarray, classes: int) -> np.ndarray:
    """(classes, dim): each class's normalised mean of its training vectors (zero for one without;
    target -1, "none", belongs to no class)."""
    out = np.zeros((classes, vectors.shape[1]), dtype=np.float32)
    np.add.at(out, targets[targets >= 0], vectors[targets >= 0])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def split_validation(rows: Sequence[Row], key: Callable[[Row], Hashable], share: float,
                     seed: int = 0) -> tuple[list[Row], list[Row]]:
    """(train, validation): `share` of each class's rows (by `key`; None for "none") kept back."""
    rng = random.Random(seed)
    groups: dict[Hashable, list[Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    train: list[Row] = []
    validation: list[Row] = []
    for k in sorted(groups, key=lambda k: (k is None, str(k or ""))):
        members = groups[k][:]
        rng.shuffle(members)
        kept = round(len(members) * share)
        validation += members[:kept]
        train += members[kept:]
    return train, validation


def read_rows(path: str | os.PathLike[str], class_key: str) -> list[tuple[str, str | None, str]]:
    """(prompt, class or None for "none", kind) of each row of a JSON-lines file of training prompts;
    ValueError naming the line for a row without a prompt or that is not JSON."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc})") from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("prompt"), str) or not raw["prompt"].strip():
            raise ValueError(f"{path}:{n}: a row needs a prompt")
        rows.append((raw["prompt"].strip(), raw.get(class_key) or None, str(raw.get("kind", ""))))
    return rows


def require_base(head_embedder: str, embedder_tag: str, what: str, error: type[ValueError]) -> None:
    """A head reads only the vectors of the base model it was trained over."""
    if head_embedder != embedder_tag:
        raise error(f"the {what} was trained over {head_embedder}, not {embedder_tag}")


def save_file(path: str | os.PathLike[str], weight: np.ndarray, bias: np.ndarray, meta: dict,
              extra: dict[str, np.ndarray] | None = None) -> Path:
    """The head's file; `extra`: more float32 arrays a head keeps beside its weights."""
    from safetensors.numpy import save_file as save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in (extra or {}).items()}
    save({**arrays, "weight": np.ascontiguousarray(weight, dtype=np.float32),
          "bias": np.ascontiguousarray(bias, dtype=np.float32)},
         str(path), metadata={META_KEY: json.dumps(meta, sort_keys=True)})
    return path


def read_file(path: str | os.PathLike[str], file_format: str, classes_key: str, what: str,
              error: type[ValueError]) -> tuple[dict, tuple[str, ...], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(metadata, classes, weight, bias, the other arrays) of a head file of `file_format` whose
    class names are under `classes_key`; `error` (naming `what`) for anything else."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get(META_KEY, "null"))
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, SafetensorError, ValueError, json.JSONDecodeError) as exc:
        raise error(f"cannot read the {what} {path}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != file_format or {"weight", "bias"} - set(arrays):
        raise error(f"{path} is not a {what} ({file_format})")
    try:
        classes = tuple(str(c) for c in meta[classes_key])
    except (KeyError, TypeError) as exc:
        raise error(f"{path}: incomplete {what} metadata ({exc})") from exc
    weight, bias = arrays["weight"].astype(np.float32), arrays["bias"].astype(np.float32)
    if weight.ndim != 2 or weight.shape[1] != len(classes) + 1 or bias.shape != (len(classes) + 1,):
        raise error(f"{path}: weights {weight.shape} and bias {bias.shape} do not fit "
                    f"{len(classes)} {classes_key} and none")
    return meta, classes, weight, bias, {k: v for k, v in arrays.items() if k not in ("weight", "bias")}
