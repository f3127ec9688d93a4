"""The public-figure gate's learned layer: which listed person a prompt describes without naming
them, from the sentence vectors of the prompt's views (the same views the text gates embed, so
they are usually in the embedder's memory already).

The phrase layer (figures.py) matches the list's descriptions as written and in a few regular
variants; people write the same person many other ways ("the star of the John Wick movies", "the
egyptian king of liverpool", "teh 43rd presidnet"). The head is a softmax over the listed people and
"none", trained on prompts written outside the project that describe each person without naming
them, on the list's own descriptions, and on look-alikes that fit many people or none
(likeness/figure_head_training.py, `greenlight figures train-head`). A view's probabilities are
read per person, best view first; the cut-offs were chosen on a share of the rows kept back.

It knows the people it was trained on; a person added to the list later is matched by names and
descriptions until the head is trained again. Its file (safetensors: weights, the figure ids, the
cut-offs, the base model's tag) is refused under another base model.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from app.config import setting
from app.kit import class_head
from app.kit.files import sha256_of
from app.stage import Decision

DEFAULT_HEAD = Path(__file__).parent / "data" / "figure_head.safetensors"
HEAD_ENV = "GL_FIGURE_HEAD"
FORMAT = "greenlight-figure-head-1"


class FigureHeadError(ValueError):
    """A file that is not a figure head, or one trained over another base model."""


@dataclass(frozen=True)
class FigureHeadCutoffs:
    """The head's probability for a person from which it flags the prompt (`review`), and from which
    it blocks it (`block`) when that person leads the next by `margin`; or from `agree` when the
    prompt's nearest view is also at cosine `agree_cosine` or more from what the person's
    descriptions and training prompts have in common (their centroid): two readings that agree."""

    review: float
    block: float
    margin: float
    agree: float = 1.0
    agree_cosine: float = 1.0

    def tag(self) -> str:
        return f"r{self.review:.2f}/b{self.block:.2f}+{self.margin:.2f}/a{self.agree:.2f}&{self.agree_cosine:.2f}"

    def decision(self, ranked: list[tuple[str, float, int]], cosine: float = 0.0) -> Decision:
        """ALLOW, REVIEW or BLOCK for the head's ranked people (best first) and the cosine of the
        prompt's views to the top person's centroid."""
        if not ranked:
            return Decision.ALLOW
        p = ranked[0][1]
        lead = p - (ranked[1][1] if len(ranked) > 1 else 0.0)
        if (p >= self.block and lead >= self.margin) or (p >= self.agree and cosine >= self.agree_cosine):
            return Decision.BLOCK
        return Decision.REVIEW if p >= self.review else Decision.ALLOW


@dataclass(frozen=True)
class FigureHead:
    embedder: str                  # the base model's tag (app/kit/text_embedding.TextEmbedder.tag)
    version: str
    figures: tuple[str, ...]       # the classes (figure ids), then "none" (the last column)
    weight: np.ndarray             # (dim, figures + 1)
    bias: np.ndarray               # (figures + 1,)
    cutoffs: FigureHeadCutoffs
    training: dict = field(default_factory=dict)
    sha256: str = ""
    centroids: np.ndarray | None = None   # (figures, dim), unit rows: see FigureHeadCutoffs.agree

    def tag(self) -> str:
        return f"figurehead-{self.version}-{self.sha256[:8]}:{self.cutoffs.tag()}"

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return class_head.probabilities(vectors, self.weight, self.bias)

    def ranked(self, vectors: np.ndarray, limit: int = 3) -> list[tuple[str, float, int]]:
        """The likeliest people over all views, best first: (figure id, probability, view index)."""
        if not len(vectors):
            return []
        return class_head.rank(self.probabilities(vectors), self.figures, limit)

    def cosine(self, vectors: np.ndarray, figure: str) -> float:
        """The nearest view's cosine to `figure`'s centroid (0.0 without centroids)."""
        if self.centroids is None or not len(vectors):
            return 0.0
        return float((np.asarray(vectors, np.float32) @ self.centroids[self.figures.index(figure)]).max())


def save_head(path: str | os.PathLike[str], head: FigureHead) -> Path:
    return class_head.save_file(path, head.weight, head.bias, {
        "format": FORMAT, "embedder": head.embedder, "version": head.version, "figures": list(head.figures),
        "cutoffs": asdict(head.cutoffs), "training": head.training},
        {"centroids": head.centroids} if head.centroids is not None else None)


def read_head(path: str | os.PathLike[str]) -> FigureHead:
    """The head in `path`, whichever base model it was trained over. FigureHeadError otherwise."""
    meta, figures, weight, bias, extra = class_head.read_file(path, FORMAT, "figures", "figure head",
                                                              FigureHeadError)
    centroids = extra.get("centroids")
    if centroids is not None and centroids.shape != (len(figures), weight.shape[0]):
        raise FigureHeadError(f"{path}: centroids {centroids.shape} do not fit {len(figures)} figures")
    try:
        cutoffs = FigureHeadCutoffs(**{k: float(v) for k, v in meta["cutoffs"].items()})
        return FigureHead(str(meta["embedder"]), str(meta["version"]), figures, weight, bias, cutoffs,
                          dict(meta.get("training", {})), sha256_of(path), centroids)
    except (KeyError, TypeError, ValueError) as exc:
        raise FigureHeadError(f"{path}: incomplete figure head metadata ({exc})") from exc


def load_head(path: str | os.PathLike[str], embedder_tag: str) -> FigureHead:
    """The head for vectors of the embedder tagged `embedder_tag`; FigureHeadError for another."""
    head = read_head(path)
    class_head.require_base(head.embedder, embedder_tag, f"figure head {head.version}", FigureHeadError)
    return head


def head_path(path: str | os.PathLike[str] | None = None) -> str:
    """``path``, else GL_FIGURE_HEAD, else the shipped head."""
    return os.fspath(path or setting(HEAD_ENV) or DEFAULT_HEAD)


def figure_head_model_file(path: str | os.PathLike[str] | None = None):
    """The head's record in the model registry (the base model whose vectors it reads is the text
    embedder's own record)."""
    from app.model_files import trained_here

    return trained_here("figure-head", "learned head over the text embedder (which listed person a prompt describes)",
                        DEFAULT_HEAD, variable=HEAD_ENV, chosen=path, load=read_head,
                        licence_note="ours: `greenlight figures train-head` on likeness/data/figure_training.jsonl")
