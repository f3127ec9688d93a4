"""The IP classifier's learned layer: which catalogued work a prompt describes, from the sentence
vectors of its views that the meaning layer already made.

Nearest-description matching has one or two catalogue descriptions per work to go on, and raw
all-MiniLM-L6-v2 cosines put "a dark lord in black armour" (a trope) nearer a catalogued dark lord
than "the masked dark lord with the rasping respirator" is to Darth Vader (issue 15: 39 of 60
described characters blocked on a set written outside the project). The head is a softmax over
the shipped catalogue's works and "none of them", trained on prompts that describe each work
without naming it (by look, quote, maker, story, casually), on the catalogue's descriptions, and
on look-alikes that describe none (copyright/work_head_training.py, `greenlight works train-head`).
A view's probabilities are read per work, best view first.

It also keeps what weighs a match against everyday life (copyright/everyday.py): each work's centroid
(the normalised mean of its training prompts and descriptions) and the sentence vectors of the
everyday counterparts it was trained with. A prompt nearer an everyday counterpart ("a panda at a
zoo") than to the work (its centroid or nearest description) by `everyday_unpins` is not pinned, by
`everyday_clears` not matched at all ("a giant panda eating bamboo" is not Kung Fu Panda).

It knows the works it was trained on; a work registered later is matched by its names and by the
meaning layer's nearest descriptions, as before. It costs one (views x 384) @ (384 x works+1)
product on vectors the embedder already made. Its file (safetensors: the weights, the work ids, the
cut-offs chosen on its validation share, the base model's tag) is refused under another base model.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from app.config import setting
from app.kit import class_head
from app.kit.files import sha256_of

DEFAULT_HEAD = Path(__file__).parent / "data" / "work_head.safetensors"
HEAD_ENV = "GL_IP_WORK_HEAD"
FORMAT = "greenlight-work-head-1"
NEVER = 2.0   # a cosine lead never reaches it: the everyday counterparts weigh nothing


class WorkHeadError(ValueError):
    """A file that is not a work head, or one trained over another base model."""


@dataclass(frozen=True)
class WorkHeadCutoffs:
    """The head's probability for a work from which it flags the prompt (`review`), and from which it
    blocks it (`block`) when it leads the next work by `margin`; or from `agree` when the meaning
    layer's nearest description is of the same work at cosine `agree_meaning` or more (two readings
    that agree: on the validation share this blocked 242 described prompts, no look-alike)."""

    review: float
    block: float
    margin: float
    agree: float = 1.0
    agree_meaning: float = 1.0
    agree_details: int = 0    # content words the head's view needs ("a yellow mouse" fits many)
    # everyday lead (counterpart cosine minus the work's) from which a match is not pinned (a block
    # becomes a review), and from which it is dropped
    everyday_unpins: float = NEVER
    everyday_clears: float = NEVER

    def tag(self) -> str:
        everyday = "" if self.everyday_unpins >= NEVER and self.everyday_clears >= NEVER else \
            f"/e{self.everyday_unpins:+.2f}&{self.everyday_clears:+.2f}"
        return (f"r{self.review:.2f}/b{self.block:.2f}+{self.margin:.2f}"
                f"/a{self.agree:.2f}&{self.agree_meaning:.2f}d{self.agree_details}{everyday}")

    def weighed(self, pinned: bool, lead: float | None) -> str | None:
        """A match's level once its everyday lead is weighed: "block" (pinned, not unpinned),
        "review", or None (cleared). `lead` None: nothing to weigh."""
        if lead is not None and lead >= self.everyday_clears:
            return None
        if pinned and (lead is None or lead < self.everyday_unpins):
            return "block"
        return "review"

    def blocks(self, ranked: list[tuple[str, float, int]], nearest: tuple[str, float] | None, details: int) -> bool:
        """Whether the head's ranked works (best first), the meaning layer's nearest work (id, cosine)
        and the content words of the head's best view pin the head's top work."""
        if not ranked:
            return False
        work, p = ranked[0][0], ranked[0][1]
        lead = p - (ranked[1][1] if len(ranked) > 1 else 0.0)
        if p >= self.block and lead >= self.margin:
            return True
        return nearest is not None and nearest[0] == work and p >= self.agree and nearest[1] >= self.agree_meaning \
            and details >= self.agree_details


@dataclass(frozen=True)
class WorkHead:
    embedder: str                  # the base model's tag (app/kit/text_embedding.TextEmbedder.tag)
    version: str
    works: tuple[str, ...]         # the classes, then "none" (the last column)
    weight: np.ndarray             # (dim, works + 1)
    bias: np.ndarray               # (works + 1,)
    cutoffs: WorkHeadCutoffs
    training: dict = field(default_factory=dict)
    sha256: str = ""
    centroids: np.ndarray | None = None     # (works, dim), unit rows
    everyday: np.ndarray | None = None      # (counterparts, dim): the everyday counterparts' vectors
    everyday_texts: tuple[str, ...] = ()

    def everyday_nearest(self, vectors: np.ndarray) -> tuple[float, str] | None:
        """The views' best cosine to any everyday counterpart, and that counterpart (one product per
        prompt, whichever works it matched). None where the head keeps none or the views are empty."""
        if self.everyday is None or not len(self.everyday) or not len(vectors):
            return None
        sims = (vectors @ self.everyday.T).max(axis=0)
        j = int(sims.argmax())
        return float(sims[j]), self.everyday_texts[j]

    def everyday_lead(self, work: str, vectors: np.ndarray, description: float,
                      nearest: tuple[float, str] | None = None) -> tuple[float, str] | None:
        """How much nearer the views come to an everyday counterpart than to `work` (its centroid, or
        `description`: the views' best cosine to its catalogue descriptions), and that counterpart.
        `nearest`: everyday_nearest(vectors), when already read. None as everyday_nearest."""
        nearest = self.everyday_nearest(vectors) if nearest is None else nearest
        if nearest is None:
            return None
        own = description
        if self.centroids is not None and work in self.works:
            own = max(own, float((vectors @ self.centroids[self.works.index(work)]).max()))
        return nearest[0] - own, nearest[1]

    def tag(self) -> str:
        return f"workhead-{self.version}-{self.sha256[:8]}"

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(views, works + 1) softmax probabilities of sentence vectors (views, dim)."""
        return class_head.probabilities(vectors, self.weight, self.bias)

    def ranked(self, vectors: np.ndarray, limit: int = 3) -> list[tuple[str, float, int]]:
        """The likeliest works over all views, best first: (work id, probability, the view's index)."""
        return self.rank(self.probabilities(vectors), limit)

    def rank(self, probabilities: np.ndarray, limit: int = 3) -> list[tuple[str, float, int]]:
        """`ranked` from the views' probabilities (`probabilities`)."""
        return class_head.rank(probabilities, self.works, limit)


def save_head(path: str | os.PathLike[str], head: WorkHead) -> Path:
    extra = {name: a for name, a in (("centroids", head.centroids), ("everyday", head.everyday)) if a is not None}
    return class_head.save_file(path, head.weight, head.bias, {
        "format": FORMAT, "embedder": head.embedder, "version": head.version, "works": list(head.works),
        "cutoffs": asdict(head.cutoffs), "training": head.training, "everyday_texts": list(head.everyday_texts)},
        extra)


def read_head(path: str | os.PathLike[str]) -> WorkHead:
    """The head in `path`, whichever base model it was trained over. WorkHeadError otherwise."""
    meta, works, weight, bias, extra = class_head.read_file(path, FORMAT, "works", "work head", WorkHeadError)
    try:
        cutoffs = WorkHeadCutoffs(**{k: (int if k == "agree_details" else float)(v) for k, v in meta["cutoffs"].items()})
        everyday_texts = tuple(str(t) for t in meta.get("everyday_texts", ()))
        head = WorkHead(str(meta["embedder"]), str(meta["version"]), works, weight, bias, cutoffs,
                        dict(meta.get("training", {})), sha256_of(path), extra.get("centroids"), extra.get("everyday"),
                        everyday_texts)
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkHeadError(f"{path}: incomplete work head metadata ({exc})") from exc
    dim = weight.shape[0]
    if head.centroids is not None and head.centroids.shape != (len(works), dim):
        raise WorkHeadError(f"{path}: centroids {head.centroids.shape} do not fit {len(works)} works")
    if head.everyday is not None and head.everyday.shape != (len(everyday_texts), dim):
        raise WorkHeadError(f"{path}: everyday vectors {head.everyday.shape} do not fit {len(everyday_texts)} texts")
    return head


def load_head(path: str | os.PathLike[str], embedder_tag: str) -> WorkHead:
    """The head for vectors of the embedder tagged `embedder_tag`; WorkHeadError for another."""
    head = read_head(path)
    class_head.require_base(head.embedder, embedder_tag, f"work head {head.version}", WorkHeadError)
    return head


def head_path(path: str | os.PathLike[str] | None = None) -> str:
    """``path``, else GL_IP_WORK_HEAD, else the shipped head."""
    return os.fspath(path or setting(HEAD_ENV) or DEFAULT_HEAD)


def work_head_model_file(path: str | os.PathLike[str] | None = None):
    """The head's record in the model registry (checked by reading its file: the base model whose
    vectors it reads is the text embedder's own record)."""
    from app.model_files import trained_here

    return trained_here("ip-work-head", "learned head over the text embedder (which work a prompt describes)",
                        DEFAULT_HEAD, variable=HEAD_ENV, chosen=path, load=read_head,
                        licence_note="ours: `greenlight works train-head` on copyright/data/ip_training.jsonl")
