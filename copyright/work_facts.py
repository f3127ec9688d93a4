"""Work facts: what fans know about a work, so that a prompt listing it is read as that work.

The meaning layer and the work head read how a character looks; a prompt that names none of a
work's names but lists its world ("a round shield ricocheting off walls, a frozen warplane found in
arctic ice") or its lines and sounds reads to them as nothing in particular (issue 15: of 3,168
described prompts written by outside writers, those describing a work's world were flagged at 0.17,
its sounds at 0.34). `copyright/data/work_facts.jsonl` holds, for each shipped work, 14 short
descriptions of one distinctive thing each (signature objects and powers, places, companions and
rivals, lines and sounds, scenes), written without names by helpers shown only the works' titles and
catalogue entries, never the bench's sets.

A view of a prompt (app/kit/text_embedding.prompt_views, the vectors the other layers already made)
recalls a fact when its cosine reaches the fact's cut-off: `FactCutoffs.recall`, or the fact's benign
ceiling plus `FactCutoffs.margin`, whichever is higher. The ceiling is the highest cosine any view of
a benign prompt reached: the prompts labelled as no work (everyday counterparts, look-alikes,
calibration negatives), and the safety set's benign prompts less those the other layers block as
the fact's own franchise. A fact that ordinary prompts come near ("a water-squirting turtle" against
firefighters with a hose) has to be met more closely.

Facts count when each is the best fact of its work in a different view, and the works of one
franchise count together (a cursed crew of skeletons is the films', a compass that does not point
north is their captain's: one rightsholder); two recalled facts nearer each other than `same` are
one thing said twice and count once. Three facts pin the work; two pin it when the work head
leans to it (`agree_head` in some view: firefighting in a forest recalls two facts of a water-type
pokemon, and the head gives that pokemon nothing); one fact met at `single` with the head at
`single_head` pins it too. The facts layer only blocks (IpTextClassifier.recalled_facts); what it
recalls without pinning it leaves to the other layers.

The facts' vectors and ceilings live in `work_facts.safetensors`, built by `greenlight works
build-facts` (about 12 minutes on 2 cores); the file is refused under another base model, or when
the facts file changed since it was built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from app.config import setting
from app.kit.files import json_lines, sha256_of
from app.kit.text_embedding import TextEmbedder, prompt_views

DEFAULT_FACTS = Path(__file__).parent / "data" / "work_facts.jsonl"
DEFAULT_INDEX = Path(__file__).parent / "data" / "work_facts.safetensors"
INDEX_ENV = "GL_IP_WORK_FACTS"
FORMAT = "greenlight-work-facts-1"
META_KEY = "greenlight"


class WorkFactsError(ValueError):
    """A facts file or index that cannot be read, or an index built from other facts or another model."""


@dataclass(frozen=True)
class FactBook:
    """The facts file: per fact its text and its work, in file order."""

    texts: tuple[str, ...]
    works: tuple[str, ...]
    sha256: str


def read_facts(path: str | os.PathLike[str] = DEFAULT_FACTS) -> FactBook:
    texts: list[str] = []
    works: list[str] = []
    for n, row in json_lines(path, WorkFactsError):
        work_id, facts = row.get("work_id"), row.get("facts")
        if not isinstance(work_id, str) or not work_id or not isinstance(facts, list):
            raise WorkFactsError(f"{path}:{n}: a row is {{\"work_id\": str, \"facts\": [str, ...]}}")
        for fact in facts:
            if not isinstance(fact, str) or not fact.strip():
                raise WorkFactsError(f"{path}:{n}: an empty fact")
            texts.append(fact.strip())
            works.append(work_id)
    return FactBook(tuple(texts), tuple(works), sha256_of(Path(path)))


@dataclass(frozen=True)
class FactCutoffs:
    """Chosen with `python bench/work_facts.py`: the cut-offs' ceilings built without one half of the
    safety set's benign prompts, then judged on that half and on the described sets (docs/benchmarks.md)."""

    recall: float = 0.55        # the least cosine at which a view recalls a fact
    margin: float = 0.05        # ... and this much over the fact's benign ceiling
    alone: int = 3              # this many facts pin the work on their own
    agree_head: float = 0.05    # two pin it with the work head at this probability in some view
    single: float = 0.70        # one fact at this cosine pins it ...
    single_head: float = 0.30   # ... with the head at this probability
    same: float = 0.70          # two recalled facts this near each other are one thing, counted once

    def tag(self) -> str:
        return (f"c{self.recall:.2f}+{self.margin:.2f}/{self.alone}/2h{self.agree_head:.2f}"
                f"/1c{self.single:.2f}h{self.single_head:.2f}/s{self.same:.2f}")


@dataclass(frozen=True)
class Recalled:
    """The facts of one work (or of one franchise's works) a prompt's views recalled: (fact, cosine)
    best first, one per view at most; `work_id` is the work most of them are of."""

    work_id: str
    facts: tuple[tuple[str, float], ...]

    @property
    def best(self) -> float:
        return self.facts[0][1]


@dataclass(frozen=True)
class WorkFacts:
    embedder: str                # the base model's tag
    version: str
    book: FactBook
    vectors: np.ndarray          # (facts, dim), unit rows
    ceilings: np.ndarray         # (facts,): the best cosine of any benign view
    cutoffs: FactCutoffs = FactCutoffs()
    building: dict = field(default_factory=dict)
    sha256: str = ""

    def tag(self) -> str:
        return f"facts-{self.version}-{self.sha256[:8]}:{self.cutoffs.tag()}"

    @cached_property
    def limits(self) -> np.ndarray:
        """Per fact, the cosine from which a view recalls it."""
        return np.maximum(self.cutoffs.recall, self.ceilings + self.cutoffs.margin)

    def recalled(self, vectors: np.ndarray, group: Mapping[str, str] | None = None) -> list[Recalled]:
        """Per work, or per `group` of works (work id -> its franchise), the facts the views (views,
        dim) recall: each view's best fact of that work or group."""
        if not len(vectors) or not len(self.vectors):
            return []
        sims = vectors @ self.vectors.T
        views, facts = np.nonzero(sims >= self.limits)
        best: dict[str, dict[int, tuple[int, float]]] = {}   # group -> view -> (fact, cosine)
        for v, f in zip(views.tolist(), facts.tolist()):
            work_id = self.book.works[f]
            per_view = best.setdefault(group.get(work_id, work_id) if group else work_id, {})
            cosine = float(sims[v, f])
            if v not in per_view or cosine > per_view[v][1]:
                per_view[v] = (f, cosine)
        out = []
        for per_view in best.values():
            top: dict[int, float] = {}
            for f, cosine in per_view.values():
                top[f] = max(top.get(f, -1.0), cosine)
            ranked: list[tuple[int, float]] = []
            for f, cosine in sorted(top.items(), key=lambda kv: -kv[1]):
                # "a golden ring forged in a volcano" and "the volcano where the ring was forged",
                # written for two works of one franchise, are one thing
                if all(float(self.vectors[f] @ self.vectors[k]) < self.cutoffs.same for k, _c in ranked):
                    ranked.append((f, cosine))
            # the work most of the facts are of, the one with the best fact among equals
            counts: dict[str, int] = {}
            first: dict[str, int] = {}
            for rank, (f, _cosine) in enumerate(ranked):
                counts[self.book.works[f]] = counts.get(self.book.works[f], 0) + 1
                first.setdefault(self.book.works[f], rank)
            work_id = max(counts, key=lambda w: (counts[w], -first[w]))
            out.append(Recalled(work_id, tuple((self.book.texts[f], c) for f, c in ranked)))
        return sorted(out, key=lambda r: (-len(r.facts), -r.best))

    def pins(self, recalled: Recalled, head_probability: float) -> bool:
        """Whether what a prompt recalls of a work, with the work head's best probability for it in
        any view, pins the work."""
        cut, facts = self.cutoffs, len(recalled.facts)
        return facts >= cut.alone or (facts >= 2 and head_probability >= cut.agree_head) or (
            recalled.best >= cut.single and head_probability >= cut.single_head)


def build(book: FactBook, embedder: TextEmbedder, negatives: Sequence[str], *, version: str,
          unlabelled: Sequence[str] = (), read_as: Callable[[str], Iterable[str]] | None = None,
          cutoffs: FactCutoffs = FactCutoffs(), sources: dict | None = None,
          progress: Callable[..., None] | None = None) -> WorkFacts:
    """The facts' vectors and benign ceilings, read from `negatives` (prompts labelled as no work: every
    fact counts them) and from `unlabelled` benign prompts, less the works `read_as(text)` says the
    other layers block them as (the safety set's "a cartoon coyote chases a roadrunner off a cliff" is
    benign for safety and is the work; a prompt they only review is an ordinary one here)."""
    report = progress or (lambda *a, **k: None)
    benign = [(text, False) for text in negatives] + [(text, True) for text in unlabelled]
    steps = len(book.texts) + len(benign)
    vectors = embedder.embed_many(list(book.texts), threads=None).astype(np.float32) if book.texts else \
        np.zeros((0, 384), np.float32)
    report(len(book.texts), steps, label="embedding the facts, then reading benign prompts")
    ceilings = np.full(len(book.texts), -1.0, dtype=np.float32)
    rows: dict[str, list[int]] = {}
    for i, work_id in enumerate(book.works):
        rows.setdefault(work_id, []).append(i)
    fact_rows = {work_id: np.array(ix) for work_id, ix in rows.items()}
    for n, (text, maybe_a_work) in enumerate(benign, 1):
        views = embedder.embed(prompt_views(text))
        if len(views):
            sims = (views @ vectors.T).max(axis=0)
            for work_id in (read_as(text) if read_as and maybe_a_work else ()):
                if work_id in fact_rows:
                    sims[fact_rows[work_id]] = -1.0
            np.maximum(ceilings, sims, out=ceilings)
        if n % 50 == 0 or n == len(benign):
            report(len(book.texts) + n, steps)
    building = {"facts": len(book.texts), "works": len(set(book.works)), "facts_sha256": book.sha256,
                "benign": len(benign), "negatives": len(negatives), **({"sources": sources} if sources else {})}
    return WorkFacts(embedder.tag, version, book, vectors, ceilings, cutoffs, building)


def benign_texts(extra: Iterable[str | os.PathLike[str]] = ()) -> tuple[list[str], list[str], dict[str, str]]:
    """The prompts the ceilings are read from: (negatives, unlabelled, their sources by sha256). The
    negatives are labelled as no work: the everyday counterparts, the training look-alikes, the
    labelled set's calibration negatives and the chosen-on everyday look-alikes
    (work_head_training.calibration_rows). The unlabelled ones come from `extra` files of JSON lines
    ("prompt" or "text"; rows with a work_id or safety labels skipped). The measured splits (fresh3,
    the labelled set's `fresh` and `holdout`) are never read."""
    from copyright.everyday import DEFAULT_COUNTERPARTS, read_counterparts
    from copyright.work_head_training import (
        EVERYDAY_LOOKALIKES, LABELLED, TRAINING_ROWS, calibration_rows, read_rows,
    )

    counterparts = read_counterparts(DEFAULT_COUNTERPARTS)
    texts = list(counterparts.texts)
    texts += [row.prompt for row in read_rows(TRAINING_ROWS) if row.work_id is None]
    texts += [row.prompt for row in calibration_rows()]
    sources = {str(p.name): sha256_of(p) for p in (DEFAULT_COUNTERPARTS, TRAINING_ROWS, LABELLED, EVERYDAY_LOOKALIKES)}
    unlabelled: list[str] = []
    for path in map(Path, extra):
        for _n, row in json_lines(path, WorkFactsError):
            text = row.get("prompt", row.get("text"))
            if isinstance(text, str) and text.strip() and not row.get("work_id") and not row.get("labels"):
                unlabelled.append(text.strip())
        sources[path.name] = sha256_of(path)
    negatives = list(dict.fromkeys(texts))
    return negatives, [t for t in dict.fromkeys(unlabelled) if t not in set(negatives)], sources


def save(path: str | os.PathLike[str], facts: WorkFacts) -> Path:
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "embedder": facts.embedder, "version": facts.version,
            "cutoffs": asdict(facts.cutoffs), "building": facts.building,
            "facts_sha256": facts.book.sha256, "works": list(facts.book.works)}
    # float16 halves the file; cosines move by under 1e-3
    save_file({"vectors": np.ascontiguousarray(facts.vectors, dtype=np.float16),
               "ceilings": np.ascontiguousarray(facts.ceilings, dtype=np.float32)},
              str(path), metadata={META_KEY: json.dumps(meta, sort_keys=True)})
    return path


def read(path: str | os.PathLike[str], book: FactBook) -> WorkFacts:
    """The index in `path` for the facts in `book`; WorkFactsError for another file or other facts."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get(META_KEY, "null"))
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, SafetensorError, ValueError) as exc:
        raise WorkFactsError(f"cannot read the work facts index {path}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or {"vectors", "ceilings"} - set(arrays):
        raise WorkFactsError(f"{path} is not a work facts index ({FORMAT})")
    if meta.get("facts_sha256") != book.sha256 or tuple(meta.get("works", ())) != book.works:
        raise WorkFactsError(f"{path} was built from other facts than the facts file: run `greenlight works build-facts`")
    vectors, ceilings = arrays["vectors"].astype(np.float32), arrays["ceilings"].astype(np.float32)
    if vectors.shape[0] != len(book.texts) or ceilings.shape != (len(book.texts),):
        raise WorkFactsError(f"{path}: vectors {vectors.shape} do not fit {len(book.texts)} facts")
    try:
        cutoffs = FactCutoffs(**{k: (int if k == "alone" else float)(v) for k, v in meta["cutoffs"].items()})
        return WorkFacts(str(meta["embedder"]), str(meta["version"]), book, vectors, ceilings, cutoffs,
                         dict(meta.get("building", {})), sha256_of(Path(path)))
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkFactsError(f"{path}: incomplete work facts metadata ({exc})") from exc


def load(path: str | os.PathLike[str], embedder_tag: str, facts: str | os.PathLike[str] = DEFAULT_FACTS) -> WorkFacts:
    """The index for vectors of the embedder tagged `embedder_tag`; WorkFactsError for another."""
    index = read(path, read_facts(facts))
    if index.embedder != embedder_tag:
        raise WorkFactsError(f"the work facts index {path} was built over {index.embedder}, not {embedder_tag}: "
                             "run `greenlight works build-facts`")
    return index


def index_path(path: str | os.PathLike[str] | None = None) -> str:
    """``path``, else GL_IP_WORK_FACTS, else the shipped index."""
    return os.fspath(path or setting(INDEX_ENV) or DEFAULT_INDEX)


def work_facts_model_file(path: str | os.PathLike[str] | None = None):
    """The index's record in the model registry (checked by reading it against the facts file)."""
    from app.model_files import trained_here

    return trained_here("ip-work-facts", "fact vectors and benign ceilings over the text embedder (what fans know "
                        "about each work)", DEFAULT_INDEX, variable=INDEX_ENV, chosen=path,
                        load=lambda p: read(p, read_facts()),
                        licence_note="ours: `greenlight works build-facts` on copyright/data/work_facts.jsonl")
