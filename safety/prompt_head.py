"""The prompt classifier's learned head: harm categories read from the same view embeddings.

Nearest-exemplar meaning (safety/prompt_classifier.py) calls any two texts about one topic similar,
so alone it mostly reviews; the term policy blocks what its phrases say and misses what they do
not. Prompts written by people who never saw either (issue 15's fresh splits) were blocked half the
time. The head is a small network trained on our labelled prompts (safety/head_training.py,
`greenlight policy train-head`) over the frozen all-MiniLM-L6-v2 view embeddings the classifier
computes anyway: per view, a 384 -> hidden -> categories MLP (an ensemble of a few, averaged); a
prompt scores, per category, its highest view (multiple-instance: one clause of an idyllic scene
can be the harm). No extra model call; about 0.1 ms per prompt.

The same kind of head, trained over multilingual-e5's vectors of a prompt's sentence views
(`greenlight policy train-head --reader multilingual`), reads the prompts MiniLM cannot
(safety/prompt_classifier.py `foreign`): the file names its embedder, so either head is refused
under the other's.

Its cut-offs were chosen at training time on out-of-fold scores (each labelled prompt scored by
members that never saw it) and are stored with the weights, in one safetensors file whose metadata
also names the embedder it was trained on: a head is refused under another embedder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.config import setting
from app.kit.files import sha256_of
from safety.cutoffs import Cutoffs
from safety.terms import PolicyFileError

DEFAULT_HEAD = Path(__file__).parent / "data" / "prompt_head.safetensors"
DEFAULT_MULTILINGUAL_HEAD = Path(__file__).parent / "data" / "prompt_head_multilingual.safetensors"
HEAD_ENV = "GL_SAFETY_HEAD"
MULTILINGUAL_HEAD_ENV = "GL_SAFETY_MULTILINGUAL_HEAD"
FORMAT = "greenlight-prompt-head-1"
_ARRAYS = ("w1", "b1", "w2", "b2")


@dataclass(frozen=True)
class PromptHead:
    """An ensemble of `members` MLPs: w1 (members, dim, hidden), b1 (members, hidden), w2 (members,
    hidden, categories), b2 (members, categories)."""

    categories: tuple[str, ...]
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    cutoffs: dict[str, Cutoffs]
    embedder: str                    # the text embedder's tag it was trained on
    version: str
    training: dict = field(default_factory=dict)   # what it was trained on, and its out-of-fold figures
    sha256: str = ""

    def __post_init__(self) -> None:
        members, dim, hidden = self.w1.shape
        if self.b1.shape != (members, hidden) or self.w2.shape != (members, hidden, len(self.categories)) \
                or self.b2.shape != (members, len(self.categories)):
            raise PolicyFileError(f"prompt head {self.version}: array shapes do not agree "
                                  f"({self.w1.shape}, {self.b1.shape}, {self.w2.shape}, {self.b2.shape})")
        unknown = set(self.cutoffs) - set(self.categories)
        if unknown:
            raise PolicyFileError(f"prompt head {self.version}: cut-offs for unknown categories {sorted(unknown)}")

    @property
    def dim(self) -> int:
        return int(self.w1.shape[1])

    def view_scores(self, vectors: np.ndarray) -> np.ndarray:
        """Per view (rows of `vectors`, unit embeddings) and category: the members' mean probability."""
        x = np.asarray(vectors, dtype=np.float32)
        members, dim, hidden_size = self.w1.shape
        # All members' first layers as one matrix product; the sigmoid as tanh (no overflow).
        first = self.w1.transpose(1, 0, 2).reshape(dim, members * hidden_size)
        hidden = np.maximum(x @ first + self.b1.reshape(-1), 0.0).reshape(len(x), members, hidden_size)
        logits = np.einsum("vmh,mhc->vmc", hidden, self.w2) + self.b2
        return (0.5 + 0.5 * np.tanh(0.5 * logits)).mean(axis=1)

    def tag(self) -> str:
        return f"head-{self.version}-{self.sha256[:8]}"

    def save(self, path: str | os.PathLike[str]) -> Path:
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "version": self.version, "embedder": self.embedder,
                "categories": list(self.categories),
                "cutoffs": {c: {"review": k.review, "block": k.block} for c, k in self.cutoffs.items()},
                "training": self.training}
        arrays = {name: np.ascontiguousarray(getattr(self, name), dtype=np.float32) for name in _ARRAYS}
        save_file(arrays, str(path), metadata={"greenlight": json.dumps(meta, sort_keys=True)})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "PromptHead":
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = json.loads((f.metadata() or {}).get("greenlight", "null"))
                arrays = {name: f.get_tensor(name) for name in _ARRAYS if name in f.keys()}
        except (OSError, SafetensorError, ValueError, json.JSONDecodeError) as exc:
            raise PolicyFileError(f"cannot read the prompt head {path}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or len(arrays) != len(_ARRAYS):
            raise PolicyFileError(f"{path} is not a prompt head ({FORMAT} with {', '.join(_ARRAYS)})")
        try:
            cutoffs = {str(c): Cutoffs(v.get("review"), v.get("block")) for c, v in meta["cutoffs"].items()}
            return cls(tuple(meta["categories"]), *(arrays[n] for n in _ARRAYS), cutoffs=cutoffs,
                       embedder=str(meta["embedder"]), version=str(meta["version"]),
                       training=dict(meta.get("training", {})), sha256=sha256_of(path))
        except (KeyError, TypeError, AttributeError) as exc:
            raise PolicyFileError(f"{path}: incomplete prompt head metadata ({exc})") from exc


def head_path(path: str | os.PathLike[str] | None = None) -> str:
    """``path``, else GL_SAFETY_HEAD, else the shipped head."""
    return os.fspath(path or setting(HEAD_ENV) or DEFAULT_HEAD)


def multilingual_head_path(path: str | os.PathLike[str] | None = None) -> str:
    """``path``, else GL_SAFETY_MULTILINGUAL_HEAD, else the shipped multilingual head."""
    return os.fspath(path or setting(MULTILINGUAL_HEAD_ENV) or DEFAULT_MULTILINGUAL_HEAD)


def prompt_head_model_file(path: str | os.PathLike[str] | None = None):
    """The head's record in the model registry: trained here, so its hash is read from the file."""
    return learned_record("prompt-head", "learned prompt classifier head", DEFAULT_HEAD, HEAD_ENV, path,
                          "ours: `greenlight policy train-head` on safety/data/eval_prompts.jsonl")


def multilingual_head_model_file(path: str | os.PathLike[str] | None = None):
    """The multilingual head's record, like prompt_head_model_file's."""
    return learned_record("prompt-head-multilingual", "learned prompt classifier head (multilingual)",
                          DEFAULT_MULTILINGUAL_HEAD, MULTILINGUAL_HEAD_ENV, path,
                          "ours: `greenlight policy train-head --reader multilingual` on safety/data/eval_prompts.jsonl")


def learned_record(name: str, role: str, default: Path, variable: str, path: str | os.PathLike[str] | None,
                   note: str, load=None):
    """A model-registry record for weights we train (a head, the reader); `load` (default
    PromptHead.load) reads a file to check it."""
    from app.model_files import trained_here

    return trained_here(name, role, default, variable=variable, chosen=path, load=load or PromptHead.load,
                        licence_note=note)
