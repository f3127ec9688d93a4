"""Prompt safety classifier: which harmful categories a prompt (or a transcript) falls into.

Two layers per category:
  (a) terms: the term policy (safety/terms.py + safety/data/terms.toml) over the normalised prompt
      (app/kit/textmatch.py: case, accents, confusables, leetspeak, spaced and stretched letters,
      plurals), with its rule that sexual terms next to a reference to a minor are sexual content
      involving minors;
  (b) meaning: the prompt's views (the whole normalised text, its clauses, 10-word windows of long
      ones) embedded in one call with all-MiniLM-L6-v2 (app/kit/text_embedding.py, loaded from local
      files) and compared, in one matrix product, with labelled exemplar prompts per category and
      with benign look-alikes (safety/data/prompt_exemplars.toml). Per view and category:

          score = s - benign_weight * max(0, b - s)

      where s is the cosine to the category's nearest exemplar and b to the nearest benign one: "a
      boxer training" is nearer "a boxer hitting a heavy bag" than any beating, so its violence
      score falls. A category's score is its best view's;
  (c) learned: the same view embeddings through a small network trained on our labelled prompts
      (safety/prompt_head.py, trained by safety/head_training.py), its best view's probability;
      and for a prompt MiniLM cannot read (another script, or mostly words outside its English
      vocabulary) a second head over multilingual-e5's embeddings of its sentences and clauses
      (app/kit/multilingual_embedding.py), whose block counts alone (`Reading`, `foreign`);
  (d) read: all-MiniLM-L6-v2 itself fine-tuned on our labelled prompts (safety/prompt_reader.py,
      trained by safety/reader_training.py) reads the whole prompt in one pass, each clause in its
      context; and for a `foreign` prompt, multilingual-e5 fine-tuned the same way on prompts in
      17 languages (the multilingual reader, over app/kit/multilingual_encoder.py), whose block,
      like the multilingual head's, counts alone. On an English prompt the multilingual reader is a
      second reader (`Analysis.second`): where the two agree on violence or are all but sure of
      self-harm, it is certain (READERS_AGREE, READERS_SURE); where it reads a category the first
      doubted, the doubt is lifted.

A category found only by meaning or a model (no term of its own) in a prompt that says one of its
`not_when` idioms is judged again without them (`_idioms_aside`): "a teen cuts her hair" is "a teen".

Decision per category: a block term blocks; a review term and a meaning score over the review
cut-off together block (two independent signals agree); a meaning score over the block cut-off
blocks; either signal alone reviews. The learned head's block cut-off (out of fold it blocked at
most 0.3 % of benign prompts) makes a certain finding where a term of the category, meaning at
review or steps back it; its review level only confirms: with a review term it blocks, with steps
or a minor it makes self-harm certain, alone it flags nothing. The reader's block cut-off (chosen on
prompts it never trained on, at most 0.3 % of their benign ones over it) makes a certain finding
where meaning is near its review cut-off or a head leans the same way; over its review cut-off it
makes what another layer found likely certain; and where it can read
the prompt (not `foreign`) and scores a blocked category clearly low (READER_CLEARS), the block is
doubted: a person decides ("a rear naked choke", "three years free of self-harm"). The cut-offs per category and
benign_weight are in safety/data/prompt_thresholds.toml, written by `python bench/safety_calibrate.py` from the
calibration split of safety/data/eval_prompts.jsonl and the exemplars scored leave-one-out:
review where meaning flags at most one benign calibration text, block 0.10 above the highest
benign one (none where no labelled prompt scores that high). MiniLM alone calls unrelated prompts
similar (a train arriving vs jumping onto a moving train: 0.61), so meaning alone mostly reviews.

Categories, labels and DSA categories are the term policy's. An always-block category
(sexual_minors) never goes to review: any finding in it blocks, and its reasons say so
(`always_block`), so no reviewer or appeal may turn it into an allow. A sexual finding from either
layer next to a reference to a minor (a minor term, or an age under 18 in digits) is a
sexual_minors block.

Measured (bench/safety_eval.py, held-out splits, 381 prompts): see docs/benchmarks.md. Exemplar
embeddings are computed once per process, batched, keyed by the model and the exemplar texts
(app/kit/text_embedding.embed_cached); classifying a prompt is one embedding call (its views in one
batch) plus one matrix product.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from app.config import setting
from app.errors import ValidationFailed
from app.stage import Decision, combine
from app.kit.files import sha256_of
from app.kit.multilingual_embedding import MultilingualEmbedder, load_multilingual_embedder
from app.kit.text_embedding import (
    TextEmbedder, embed_cached, load_text_embedder, prompt_views, sentence_views, text_embedder_model_file,
)
from app.kit.textmatch import has_other_script, normalise
from safety.cutoffs import Cutoffs
from safety.prompt_head import PromptHead, head_path, multilingual_head_path
from safety.prompt_reader import PromptReader, load_reader, multilingual_reader_path, reader_path, reader_tag
from safety.terms import Category, PolicyFileError, TermHit, TermPolicy, load_policy, steps_in

DATA = Path(__file__).parent / "data"
DEFAULT_EXEMPLARS = DATA / "prompt_exemplars.toml"
DEFAULT_THRESHOLDS = DATA / "prompt_thresholds.toml"
BENIGN = "benign"
SELF_HARM = "self_harm"  # shown by a minor, certain (decide())

# The API takes prompts of up to 2,000 characters (app/api/schemas.py); transcripts of a few minutes
# of speech come through here too. Longer texts are refused, not truncated: what is not read is
# not checked.
MAX_PROMPT_CHARS = 8000
# How far past its review cut-off meaning alone must be to make a finding certain with other
# evidence (a minor, steps): as far as calibration puts a block cut-off past the highest benign text.
CLEAR_MARGIN = 0.10
# The multilingual head reads only what MiniLM cannot: a prompt in another script, or one where
# more than UNFAMILIAR_SHARE of at least FOREIGN_MIN_WORDS words (of 3+ letters) are not whole
# words of MiniLM's vocabulary (145 translated prompts in Latin letters: 5 % under 0.47; English
# prompts: 4 % over 0.4, mostly names and evasions). e5 costs 3-10x MiniLM's time (~15 ms for a
# short prompt, ~150 ms for 50 words, one thread); reading every English prompt that something
# points at too added 2 blocks per kind of fresh6+fresh7 and put the gate's p95 at 68 ms.
# There its block counts alone: nothing MiniLM reads can back it.
UNFAMILIAR_SHARE = 0.4
FOREIGN_MIN_WORDS = 4
# A learned head's score from which it leans towards a category: enough to second the reader.
HEAD_LEANS = 0.5
# Where the reader and the heads share blind spots it only confirms what another layer found likely:
# both read everyday acts in self-harm's words as self-harm ("he hangs a black jacket on the hook"
# 0.99 / 0.91, "mom takes all the pills out of the bag" 1.00 / 0.99, harmless steps up a ladder),
# and clothing as sexual content ("a woman wearing lingerie" 0.99, a reviewer's question before).
READER_NEEDS_LIKELY = frozenset({SELF_HARM, "sexual"})
# Under this (and its review cut-off) the reader has read a blocked category as clearly absent: the
# block is doubted. At its review cut-off instead, "heil hitler chants at a rally" (hate 0.48) was.
READER_CLEARS = 0.15
# Where the English reader and the multilingual reader (fine-tuned apart, over other base models: MiniLM
# and e5) agree, one past its block cut-off and the other past its review cut-off, violence is certain.
# Each alone reads some look-alikes high, rarely the same ones: on the 4,910 English prompts of the
# measuring splits and written2 the pair blocked 39 harmful prompts more and no benign one ("a litter of
# puppies thrown into a trash compactor and crushed": 0.95 and 0.97, the first under its block
# cut-off, nothing else found it). In self-harm and hate they share blind spots (a boy at a train
# window, a talk on leaving a hate movement: so agreeing, 14 and 5 benign prompts would block).
READERS_AGREE = frozenset({"violence_gore"})
# Self-harm both readers are all but sure of (past their review cut-offs, their mean at least this) is
# likely: "a man setting himself on fire in the town square and burning to death" (1.00 and 0.97;
# meaning 0.55 under its cut-off, no term) was allowed. At a mean of 0.95 the pair blocked 6 benign
# prompts of those 4,910 (trains, a jump into a lake); at 0.98, 31 harmful ones more and no benign one.
READERS_SURE = {SELF_HARM: 0.98}
# The categories the second reader is asked about.
SECOND_READ = READERS_AGREE | frozenset(READERS_SURE)
# Where the reader reads this much self-harm next to a minor and a term or a head (at this much)
# agrees, it is certain (decide()). Chosen on prompts of minors written outside the project (benign
# look-alikes and self-harm: splits fresh19 and fresh21 of eval_prompts.jsonl) and the reader's own
# validation rows: no benign one of them is over both.
MINOR_SURE_READER, MINOR_SURE_HEAD = 0.995, 0.99


class PromptRejected(ValidationFailed):
    """A prompt that cannot be classified: `empty_prompt`, `prompt_too_long`, `prompt_not_utf8`."""


def validate_prompt(prompt: str | bytes) -> str:
    """The prompt as text, or PromptRejected with a stable code. Bytes must be UTF-8; text must
    encode as UTF-8 (no lone surrogates, as `surrogateescape` leaves from undecodable bytes)."""
    if isinstance(prompt, (bytes, bytearray, memoryview)):
        raw = bytes(prompt)
        if len(raw) > 4 * MAX_PROMPT_CHARS:
            raise PromptRejected(f"the prompt is {len(raw)} bytes; at most {MAX_PROMPT_CHARS} characters are read",
                                 code="prompt_too_long", details={"max_chars": MAX_PROMPT_CHARS, "bytes": len(raw)})
        try:
            prompt = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PromptRejected(f"the prompt is not valid UTF-8 (byte {exc.start})", code="prompt_not_utf8",
                                 details={"position": exc.start}) from None
    elif not isinstance(prompt, str):
        raise PromptRejected(f"the prompt must be text, not {type(prompt).__name__}", code="validation_error")
    else:
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PromptRejected(f"the prompt is not valid UTF-8 text (character {exc.start})",
                                 code="prompt_not_utf8", details={"position": exc.start}) from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PromptRejected(f"the prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are read",
                             code="prompt_too_long", details={"max_chars": MAX_PROMPT_CHARS, "chars": len(prompt)})
    if not "".join(c for c in prompt if c.isprintable()).strip():  # nothing but spaces, controls, zero-widths
        raise PromptRejected("the prompt is empty", code="empty_prompt")
    return prompt


# --- data files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exemplars:
    """Labelled exemplar prompts, grouped by category (benign last), as the classifier embeds them."""

    version: str
    sha256: str
    texts: tuple[str, ...]
    labels: tuple[str, ...]          # category name or BENIGN, per text
    categories: tuple[str, ...]      # in order; each one's texts are contiguous

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], known: set[str] | None = None) -> "Exemplars":
        path = Path(path)
        try:
            data = path.read_bytes()
            raw = tomllib.loads(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyFileError(f"cannot read prompt exemplars {path}: {exc}") from exc
        cats = raw.get("categories")
        if "version" not in raw or not isinstance(cats, dict) or not cats:
            raise PolicyFileError(f"{path}: needs `version` and [categories.NAME] tables with `exemplars`")
        texts: list[str] = []
        labels: list[str] = []
        for name, table in [*cats.items(), (BENIGN, raw.get(BENIGN, {}))]:
            if known is not None and name != BENIGN and name not in known:
                raise PolicyFileError(f"{path}: category {name} is not in the term policy")
            items = table.get("exemplars", [])
            if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
                raise PolicyFileError(f"{path}: {name}.exemplars must be a list of non-empty strings")
            if not items and name != BENIGN:
                raise PolicyFileError(f"{path}: category {name} has no exemplars")
            texts += items
            labels += [name] * len(items)
        return cls(str(raw["version"]), hashlib.sha256(data).hexdigest(), tuple(texts), tuple(labels),
                   tuple(cats))


@dataclass(frozen=True)
class Thresholds:
    version: str
    benign_weight: float
    categories: dict[str, Cutoffs]
    model: str = ""                  # the embedder tag they were calibrated with
    exemplars_sha256: str = ""       # ... the exemplar file
    terms_version: str = ""          # ... and the term policy
    notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "Thresholds":
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyFileError(f"cannot read prompt thresholds {path}: {exc}") from exc
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: dict, source: str = "<dict>") -> "Thresholds":
        cats = raw.get("categories")
        if "version" not in raw or not isinstance(cats, dict):
            raise PolicyFileError(f"{source}: needs `version` and [categories.NAME] tables")
        out: dict[str, Cutoffs] = {}
        for name, table in cats.items():
            unknown = set(table) - {"review", "block"}
            if unknown:
                raise PolicyFileError(f"{source}: category {name} has unknown keys {sorted(unknown)}")
            values = {k: table.get(k) for k in ("review", "block")}
            for key, value in values.items():
                if value is not None and (not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0):
                    raise PolicyFileError(f"{source}: {name}.{key} must be a cosine score in [-1, 1]")
            if values["review"] is not None and values["block"] is not None and values["block"] < values["review"]:
                raise PolicyFileError(f"{source}: {name}.block is below its review cut-off")
            out[name] = Cutoffs(values["review"], values["block"])
        weight = raw.get("benign_weight", 1.0)
        if not isinstance(weight, (int, float)) or weight < 0:
            raise PolicyFileError(f"{source}: benign_weight must be a number >= 0")
        notes = {k: str(v) for k, v in raw.items() if k not in {"version", "benign_weight", "categories", "model",
                                                                 "exemplars_sha256", "terms_version"}}
        return cls(str(raw["version"]), float(weight), out, str(raw.get("model", "")),
                   str(raw.get("exemplars_sha256", "")), str(raw.get("terms_version", "")), notes)

    def tag(self) -> str:
        return f"thresholds-{self.version}"


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExemplarMatch:
    text: str
    similarity: float                # cosine of the view to this exemplar
    view: str                        # the part of the prompt that matched
    benign_text: str = ""            # the nearest benign exemplar to that view
    benign_similarity: float = 0.0


@dataclass(frozen=True)
class Finding:
    """One category the prompt falls into, and why."""

    category: Category
    decision: Decision
    score: float                     # 1.0 when a block term matched, else the meaning score
    meaning_score: float
    terms: tuple[str, ...] = ()      # policy terms that matched (minor references included)
    exemplar: ExemplarMatch | None = None   # the nearest exemplar, when meaning reached a cut-off
    via: tuple[str, ...] = ()        # "terms", "meaning", "learned", "minor_reference", "instructions", ...
    # sexual only: the prompt reads like sexual content involving minors but names no minor
    possible_minor: ExemplarMatch | None = None
    learned: tuple[float, str] | None = None   # the learned head's score and the view it scored on
    # the fine-tuned reader read the whole prompt and found nothing of the category: what would have
    # blocked waits for a person (its score), never blocks for an adult on its words alone
    doubted: float | None = None

    @property
    def always_block(self) -> bool:
        return self.category.always_block

    def message(self) -> str:
        parts = []
        if self.terms:
            parts.append("the prompt contains " + ", ".join(f"“{t}”" for t in self.terms))
        if self.exemplar is not None:
            parts.append(f"it reads like “{self.exemplar.text}” (similarity {self.exemplar.similarity:.2f})")
        if ("learned" in self.via or "reader" in self.via) and self.learned is not None:
            parts.append(f"the learned classifier scores “{self.learned[1]}” {self.learned[0]:.2f}")
        if "second_reader" in self.via:
            parts.append("a second reader, over another model, agrees")
        if self.doubted is not None:
            parts.append(f"read whole, the prompt scores {self.doubted:.2f}: a person decides")
        return f"{self.category.label}: " + "; ".join(parts or ["flagged"])

    def details(self) -> dict:
        out: dict = {"category": self.category.name, "dsa_category": self.category.dsa_category,
                     "dsa_keywords": list(getattr(self.category, "dsa_keywords", ())),
                     "score": round(self.score, 4), "meaning_score": round(self.meaning_score, 4),
                     "via": list(self.via)}
        if self.terms:
            out["terms"] = list(self.terms)
            out["term"] = self.terms[0]
        if self.exemplar is not None:
            out["exemplar"] = self.exemplar.text
            out["exemplar_similarity"] = round(self.exemplar.similarity, 4)
            out["matched_text"] = self.exemplar.view
            if self.exemplar.benign_text:
                out["nearest_benign"] = self.exemplar.benign_text
                out["nearest_benign_similarity"] = round(self.exemplar.benign_similarity, 4)
        if self.learned is not None:
            out["learned_score"], out["learned_text"] = self.learned
        if self.possible_minor is not None:
            out["possible_minor"] = {"exemplar": self.possible_minor.text,
                                     "similarity": round(self.possible_minor.similarity, 4)}
        if self.always_block:
            out["always_block"] = True   # never reviewable to allow
        if self.doubted is not None:
            out["doubted"] = True
            out["reader_score"] = round(self.doubted, 4)
        return out


@dataclass(frozen=True)
class PromptResult:
    decision: Decision
    findings: tuple[Finding, ...]    # flagged categories, most severe first
    scores: dict[str, float]         # every category: its score (see Finding.score)
    meaning_scores: dict[str, float]
    version: str

    def finding(self, category: str) -> Finding | None:
        return next((f for f in self.findings if f.category.name == category), None)

    @property
    def categories(self) -> set[str]:
        return {f.category.name for f in self.findings}


_SEVERITY = {Decision.ALLOW: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}


# --- the classifier --------------------------------------------------------------------------------


# The version of decide()'s rules, which no data file's tag records: bump it when a rule changes what
# the same scores decide, so that a verdict says which rules gave it (tests/safety/test_prompt_classifier.py
# fails on a change to decide(), its helpers or their constants under a version it has not recorded).
# prompt-3: self-harm told as steps that the reader and a head read (2026-12-07). prompt-4: sexual content involving minors that
# both learned models read, next to a minor the text names; steps told by bare numbers, ordinals,
# labelled parts or a list's items (safety/terms.py steps_in) (2026-12-07). prompt-5: violence the two
# readers agree on (READERS_AGREE), self-harm both are all but sure of (READERS_SURE); no doubt where the
# second reader reads the category (2026-12-07).
DECISION_RULES = "prompt-5"


def _version(embedder_tag: str, exemplars_sha256: str, thresholds_tag: str, terms_version: str,
             *head_tags: str) -> str:
    heads = "".join(f":{t}" for t in head_tags if t)
    return f"{DECISION_RULES}:{embedder_tag}:exemplars-{exemplars_sha256[:8]}:{thresholds_tag}:terms-{terms_version}{heads}"


class PromptClassifier:
    def __init__(self, embedder: TextEmbedder, exemplars: Exemplars, thresholds: Thresholds, terms: TermPolicy,
                 head: PromptHead | None = None, multilingual_head: PromptHead | None = None,
                 multilingual: MultilingualEmbedder | None = None, reader: PromptReader | None = None,
                 multilingual_reader: PromptReader | None = None):
        missing = [c for c in exemplars.categories if c not in thresholds.categories]
        if missing:
            raise PolicyFileError(f"thresholds {thresholds.version} lack categories {missing}")
        if multilingual is None and (multilingual_head is not None or multilingual_reader is not None):
            raise PolicyFileError("a multilingual head or reader needs the multilingual embedder")
        for h, e in ((head, embedder), (multilingual_head, multilingual), (reader, embedder),
                     (multilingual_reader, multilingual)):
            if h is not None and h.embedder != e.tag:
                raise PolicyFileError(f"the prompt head {h.version} was trained on {h.embedder}, not {e.tag}")
            if h is not None and set(h.categories) - set(terms.categories):
                raise PolicyFileError(f"the prompt head {h.version} has categories the term policy lacks: "
                                      f"{sorted(set(h.categories) - set(terms.categories))}")
        self.embedder, self.exemplars, self.thresholds, self.terms = embedder, exemplars, thresholds, terms
        self.head, self.multilingual_head, self.multilingual = head, multilingual_head, multilingual
        self.reader, self.multilingual_reader = reader, multilingual_reader
        self.categories: tuple[str, ...] = exemplars.categories
        # Embedded as the prompt's views are: normalised (app/kit/textmatch.py). (exemplars, dim), unit rows.
        self._matrix = embed_cached(embedder, [normalise(t) for t in exemplars.texts])
        labels = exemplars.labels
        groups = [*self.categories, BENIGN]
        self._starts = np.array([labels.index(c) for c in groups if c in labels], dtype=np.intp)
        self._slices = {c: slice(labels.index(c), len(labels) - labels[::-1].index(c)) for c in groups if c in labels}
        self._has_benign = BENIGN in self._slices

    @property
    def version(self) -> str:
        """Recorded on verdicts: the model weights, the exemplar file, the cut-offs and the terms."""
        return _version(self.embedder.tag, self.exemplars.sha256, self.thresholds.tag(), self.terms.version,
                        *(h.tag() for h in (self.head, self.multilingual_head, self.reader, self.multilingual_reader)
                          if h is not None))

    def _with(self, **changes) -> "PromptClassifier":
        parts = dict(embedder=self.embedder, exemplars=self.exemplars, thresholds=self.thresholds, terms=self.terms,
                     head=self.head, multilingual_head=self.multilingual_head, multilingual=self.multilingual,
                     reader=self.reader, multilingual_reader=self.multilingual_reader)
        return PromptClassifier(**{**parts, **changes})

    def with_thresholds(self, thresholds: Thresholds) -> "PromptClassifier":
        """The same model and exemplar matrix under other cut-offs (calibration)."""
        return self._with(thresholds=thresholds)

    def with_head(self, head: PromptHead | None) -> "PromptClassifier":
        """The same model, exemplars and cut-offs with another learned head (or none)."""
        return self._with(head=head)

    def with_multilingual_head(self, head: PromptHead | None,
                               embedder: MultilingualEmbedder | None = None) -> "PromptClassifier":
        """The same classifier with another multilingual head over `embedder` (or none)."""
        return self._with(multilingual_head=head, multilingual=embedder or self.multilingual)

    def with_reader(self, reader: PromptReader | None) -> "PromptClassifier":
        """The same classifier with another fine-tuned reader (or none)."""
        return self._with(reader=reader)

    def with_multilingual_reader(self, reader: PromptReader | None) -> "PromptClassifier":
        """The same classifier with another reader over the multilingual embedder (or none)."""
        return self._with(multilingual_reader=reader)

    # -- meaning --------------------------------------------------------------------------------

    def views(self, prompt: str) -> list[str]:
        """The whole prompt, its clauses and 10-word windows; a long text (a transcript) its
        windows only (app.kit.text_embedding.prompt_views, the views the IP gate reads too)."""
        return prompt_views(prompt)

    def similarities(self, prompt: str, leave_out: int | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The views, and per view the cosine to every exemplar (views x exemplars) and to the
        nearest exemplar of each category, benign last (views x categories+1). One embedding call.
        `leave_out`: an exemplar index that is not compared (calibration scores every exemplar
        against the others, leave-one-out)."""
        views = self.views(prompt)
        return (views, *self._compare(self.embedder.embed(views), leave_out))

    def _compare(self, vectors: np.ndarray, leave_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        sims = vectors @ self._matrix.T
        if leave_out is not None:
            sims[:, leave_out] = -1.0
        return sims, np.maximum.reduceat(sims, self._starts, axis=1)

    def meaning_scores(self, nearest: np.ndarray, benign_weight: float | None = None) -> np.ndarray:
        """Per view and category, from `similarities`' nearest: s - w * max(0, b - s)."""
        weight = self.thresholds.benign_weight if benign_weight is None else benign_weight
        cats = nearest[:, :len(self.categories)]
        if not self._has_benign:
            return cats
        benign = nearest[:, -1:]
        return cats - weight * np.maximum(0.0, benign - cats)

    def _exemplar(self, category: str, view: int, views: list[str], sims: np.ndarray) -> ExemplarMatch:
        part = self._slices[category]
        j = part.start + int(np.argmax(sims[view, part]))
        benign_text, benign_sim = "", 0.0
        if self._has_benign:
            b = self._slices[BENIGN]
            k = b.start + int(np.argmax(sims[view, b]))
            benign_text, benign_sim = self.exemplars.texts[k], float(sims[view, k])
        return ExemplarMatch(self.exemplars.texts[j], float(sims[view, j]), views[view], benign_text, benign_sim)

    # -- all together ---------------------------------------------------------------------------

    def analyse(self, prompt: str | bytes, leave_out: int | None = None, read: bool = True) -> "Analysis":
        """What the prompt is, independent of the cut-offs: one embedding call (its views in one
        batch), one matrix product, the term policy, any reference to a minor and the learned
        readings (the fine-tuned reader's only when `read`: see `classify`). Raises PromptRejected
        for an empty, too long or non-UTF-8 prompt."""
        prompt = validate_prompt(prompt)
        views = self.views(prompt)
        vectors = self.embedder.embed(views)
        sims, nearest = self._compare(vectors, leave_out)
        readings = [Reading(self.head, views, self.head.view_scores(vectors))] if self.head is not None else []
        hits: dict[str, list[TermHit]] = {}
        for hit in self.terms.evaluate(prompt):
            hits.setdefault(hit.category.name, []).append(hit)
        if self.reader is not None and read:
            readings.append(self._read(prompt))
        foreign = self.foreign(prompt)
        if self.multilingual_head is not None and foreign:
            second = sentence_views(prompt)
            readings.append(Reading(self.multilingual_head, second,
                                    self.multilingual_head.view_scores(self.multilingual.embed(second))))
        if self.multilingual_reader is not None and foreign:
            readings.append(self._read_second(prompt))
        second = self._read_second(prompt) if self.multilingual_reader is not None and read and not foreign else None
        return Analysis(prompt, views, sims, nearest, {k: tuple(v) for k, v in hits.items()},
                        self.terms.minor_reference(prompt), steps_in(prompt), tuple(readings), foreign, second)

    def foreign(self, prompt: str) -> bool:
        """Written in what MiniLM cannot read: another script, or mostly words it does not know."""
        if has_other_script(prompt):
            return True
        words = [w for w in normalise(prompt).split() if w.isalpha() and len(w) > 2]
        known = self.embedder.vocabulary()
        return len(words) >= FOREIGN_MIN_WORDS and sum(w not in known for w in words) / len(words) > UNFAMILIAR_SHARE

    def _read(self, prompt: str) -> "Reading":
        return Reading(self.reader, [prompt], self.reader.scores([prompt]))

    def _read_second(self, prompt: str) -> "Reading":
        return Reading(self.multilingual_reader, [prompt], self.multilingual_reader.scores([prompt]))

    def classify(self, prompt: str | bytes) -> PromptResult:
        """Every category's score and the flagged ones with their reasons.

        The reader (the costliest layer: 12 ms on a short prompt, 58 ms on 180 words) is asked only
        where its reading can change the decision. It acts only on what another layer saw (decide():
        a finding to confirm or doubt, meaning near a cut-off, a head leaning), so a prompt in which
        no other layer sees anything is decided the same without it (tests/safety/test_prompt_reader.py
        checks the two agree on every labelled prompt)."""
        prompt = validate_prompt(prompt)
        return self._idioms_aside(prompt, self._classify(prompt))

    def _classify(self, prompt: str) -> PromptResult:
        analysis = self.analyse(prompt, read=False)
        if self.reader is None:
            return self.decide(analysis)
        unread = self.decide(analysis)
        if not self._reader_may_act(analysis, unread):
            return unread
        analysis = replace(analysis, readings=analysis.readings + (self._read(analysis.prompt),))
        read = self.decide(analysis)
        if self.multilingual_reader is None or analysis.foreign or not self._second_may_act(analysis, read):
            return read
        return self.decide(replace(analysis, second=self._read_second(analysis.prompt)))

    def _idioms_aside(self, prompt: str, result: PromptResult) -> PromptResult:
        """A category that only meaning or a learned reading found (no term of its own) is judged
        again on the text without its `not_when` idioms, the everyday things said in its words: the
        models read "a teen cuts her hair" as a minor's self-harm (meaning 0.75, head 0.88, reader
        0.98), what is left ("a teen") as nothing. What else the text says is still read: "a teen
        cuts her hair, then slices her arm" keeps its finding. Content involving minors follows
        the category it was derived from (sexual content, self-harm)."""
        unsure = {f.category.name for f in result.findings if "terms" not in f.via}
        rest, judged = self.terms.without_idioms(prompt, unsure) if unsure else (None, set())
        if rest is None:
            return result
        again = self._classify(rest) if rest.strip() else None
        minors = self.terms.minors_category
        if minors is not None and minors.name in unsure and "sexual" in judged:
            judged.add(minors.name)
        kept = [f for f in result.findings if f.category.name not in judged]
        redone = [f for f in (again.findings if again else ()) if f.category.name in judged]
        findings = tuple(sorted(kept + redone, key=lambda f: (-_SEVERITY[f.decision], -f.score)))
        scores = {**result.scores, **{n: (again.scores.get(n, 0.0) if again else 0.0) for n in judged}}
        return replace(result, decision=combine([f.decision for f in findings]), findings=findings, scores=scores)

    def _reader_may_act(self, analysis: "Analysis", unread: PromptResult) -> bool:
        """Whether the reader's reading could change `unread` (decide() without it): only where a
        category was found (to confirm or doubt), meaning is near a category, or a head leans one way."""
        if unread.findings:
            return True
        per_view = self.meaning_scores(analysis.nearest)
        meaning = {c: float(per_view[:, i].max()) for i, c in enumerate(self.categories)}
        return any(self._meaning_near(name, meaning) or any(
            (b := r.best(name)) is not None and b[0] >= HEAD_LEANS for r in analysis.readings)
            for name in self.terms.categories)

    def _second_may_act(self, analysis: "Analysis", read: PromptResult) -> bool:
        """Whether the second reader's reading could change `read` (decide() without it): only where
        the reader doubted a finding, or read a category of READERS_AGREE or READERS_SURE past its
        review cut-off that is not already a certain block."""
        if any(f.doubted is not None for f in read.findings):
            return True
        reading = analysis.reading_of(self.reader)
        for name in SECOND_READ & self.terms.categories.keys():
            found = read.finding(name)
            certain = found is not None and found.decision == Decision.BLOCK and found.score == 1.0
            if not certain and self._reader_decision(name, reading)[0] != Decision.ALLOW:
                return True
        return False

    def decide(self, analysis: "Analysis") -> PromptResult:
        """The cut-offs applied to an analysis (calibration re-decides one analysis many times)."""
        per_view = self.meaning_scores(analysis.nearest)
        best_view = per_view.argmax(axis=0)
        meaning = {c: float(per_view[best_view[i], i]) for i, c in enumerate(self.categories)}
        term_hits = analysis.term_hits

        decisions: dict[str, Decision] = {}
        by_meaning: dict[str, Decision] = {}
        by_head: dict[str, Decision] = {}
        learned_part: dict[str, tuple[float, str] | None] = {}
        by_reader: dict[str, Decision] = {}
        read_certain: set[str] = set()
        via_second: set[str] = set()
        reading = analysis.reading_of(self.reader)
        heads = tuple(r for r in analysis.readings if r is not reading)
        for name in self.terms.categories:
            cut = self.thresholds.categories.get(name)
            by_meaning[name] = cut.decision(meaning[name]) if cut is not None and name in meaning else Decision.ALLOW
            by_terms = combine([h.decision for h in term_hits.get(name, ())])
            by_head[name], learned_part[name] = self._head_decision(name, heads, by_terms,
                                                                    by_meaning[name], meaning, analysis.steps)
            # The head's review level alone flags nothing (out of fold it would review more benign
            # prompts than it adds harmful ones); it only confirms another signal.
            alone = Decision.BLOCK if by_head[name] == Decision.BLOCK else Decision.ALLOW
            decisions[name] = combine([by_meaning[name], by_terms, alone])
            if by_terms == Decision.REVIEW and Decision.REVIEW in (by_meaning[name], by_head[name]):
                decisions[name] = Decision.BLOCK   # two independent signals agree
            # The reader read the whole prompt in context: past its block cut-off (chosen on prompts
            # it never trained on) it is certain where meaning is near or a head leans the same way
            # (alone it read "a little girl in a red hood" as sexual, 0.98); past its review cut-off
            # it makes what another layer found likely certain (not what a review term alone found:
            # "a man holding a gun" reads 0.84).
            by_reader[name], found = self._reader_decision(name, reading)
            if name in READER_NEEDS_LIKELY:
                confirms = by_reader[name] != Decision.ALLOW and decisions[name] == Decision.BLOCK
            else:
                seconded = decisions[name] != Decision.ALLOW or self._meaning_near(name, meaning) or any(
                    (b := r.best(name)) is not None and b[0] >= HEAD_LEANS for r in heads)
                confirms = (by_reader[name] == Decision.BLOCK and seconded) or \
                    (by_reader[name] == Decision.REVIEW and decisions[name] == Decision.BLOCK)
            if confirms:
                decisions[name] = Decision.BLOCK
                read_certain.add(name)
            if name in read_certain and by_head[name] != Decision.BLOCK:
                learned_part[name] = found   # the reader's score, unless a head was sure itself

        # sexual_minors needs a minor in the text: what only reads like its exemplars ("a porn
        # video" is near "young children in a porn video") is sexual content, blocked, not a
        # report of child abuse material.
        minors = self.terms.minors_category
        possible_minor = None
        if minors is not None and analysis.minor_reference is None and not term_hits.get(minors.name) \
                and by_meaning.get(minors.name, Decision.ALLOW) != Decision.ALLOW and "sexual" in decisions:
            i = self.categories.index(minors.name)
            possible_minor = self._exemplar(minors.name, int(best_view[i]), analysis.views, analysis.sims)
            by_meaning[minors.name] = decisions[minors.name] = Decision.ALLOW
            decisions["sexual"] = Decision.BLOCK

        # Sexual content next to a reference to a minor is sexual content involving minors (the
        # term policy applies this to its own sexual terms; here: a sexual finding by meaning too).
        minor_ref = None
        if minors is not None and analysis.minor_reference is not None and not term_hits.get(minors.name) \
                and decisions.get("sexual", Decision.ALLOW) != Decision.ALLOW:
            minor_ref = analysis.minor_reference
            decisions[minors.name] = Decision.BLOCK

        # Sexual content involving minors that no term names, read so by both learned models of the
        # prompt's language past their block cut-offs, next to a minor the text names: "sexual
        # pictures of a kindergartner" (meaning 0.65, head 1.00, reader 1.00) was allowed. Sexual
        # content alone is not enough: both read "two 16 year olds on a first date" as sexual (0.98,
        # 0.90), neither as involving minors past 0.8.
        read_minors = self._both_read_minors_abuse(analysis, reading)
        if minors is not None and analysis.minor_reference is not None and minor_ref is None \
                and not term_hits.get(minors.name) and read_minors is not None:
            minor_ref = analysis.minor_reference
            decisions[minors.name] = Decision.BLOCK
            read_certain.add(minors.name)
            learned_part[minors.name] = read_minors

        # Self-harm by a minor (issue 15: "a teenager cutting her wrists" went to review) and self-harm
        # told as steps are certain: the policy blocks them for everyone. Meaning alone must be
        # clearly past its review cut-off for that ("step 1: throw the rope over the branch ... kids
        # swing" read 0.60); next to a minor, a review term needs meaning to agree ("a kid fills his
        # pockets with stones"), unless the text is in a script the English model cannot read.
        clearly_meant = self._clearly_meant(SELF_HARM, meaning) or by_head.get(SELF_HARM) != Decision.ALLOW
        self_harm_hits = term_hits.get(SELF_HARM, ())
        meaning_agrees = by_meaning.get(SELF_HARM, Decision.ALLOW) != Decision.ALLOW or has_other_script(analysis.prompt)
        self_harm_likely = clearly_meant or any(h.decision == Decision.BLOCK for h in self_harm_hits) or \
            (bool(self_harm_hits) and meaning_agrees)
        # The reader read the whole prompt and found no self-harm in it: "a teenager brushing her
        # teeth in the bathroom" (meaning 0.68, head 0.79, reader 0.61) is no minor's self-harm,
        # whatever exemplars it sits near. Not in a script the reader cannot read.
        read_level, read = self._reader_decision(SELF_HARM, reading)
        if not self_harm_hits and read is not None and not analysis.foreign and read_level == Decision.ALLOW:
            self_harm_likely = False
        minor_self_harm = None
        if analysis.minor_reference is not None and self_harm_likely \
                and decisions.get(SELF_HARM, Decision.ALLOW) != Decision.ALLOW:
            minor_self_harm = analysis.minor_reference
            decisions[SELF_HARM] = Decision.BLOCK
        elif analysis.minor_reference is not None and read is not None and read[0] >= MINOR_SURE_READER and (
                self_harm_hits or any((b := r.best(SELF_HARM)) is not None and b[0] >= MINOR_SURE_HEAD
                                      for r in heads)):
            # A minor harming themselves where the reader is all but certain and a term or a head
            # agrees: "ties her jump rope to the top bunk and loops it around her neck" (a loose
            # frame, meaning 0.4), "lets himself sink through the ice" (no term, head 0.99). Each
            # alone reads everyday acts of a teen that way; with the reader past this, none of the
            # labelled look-alikes.
            minor_self_harm = analysis.minor_reference
            decisions[SELF_HARM] = Decision.BLOCK
            read_certain.add(SELF_HARM)

        # Self-harm told as steps is instructions for it (issue 15: a suicide in numbered steps went
        # to review): certain on any self-harm term, or on meaning clearly past its cut-off; or, where
        # none of those found it, on the reader past its block cut-off with a head leaning the same
        # way, the steps a third signal ("1. hide the blade under the mattress 2. wait until everyone
        # sleeps 3. cut deeper than last time": no term, meaning low, head 0.92, reader 0.975).
        self_harm_steps = None
        read_as_steps = bool(analysis.steps) and read_level == Decision.BLOCK and any(
            (b := r.best(SELF_HARM)) is not None and b[0] >= HEAD_LEANS for r in heads)
        found_otherwise = bool(self_harm_hits or clearly_meant) and decisions.get(SELF_HARM, Decision.ALLOW) \
            != Decision.ALLOW
        if analysis.steps and (found_otherwise or read_as_steps):
            self_harm_steps = f"told as {analysis.steps} steps"
            decisions[SELF_HARM] = Decision.BLOCK
            if not found_otherwise:
                read_certain.add(SELF_HARM)

        # Certain (1.0) only on what makes a finding likely by itself: a block term, or a sexual
        # term next to a minor. A review term alone is possible evidence and scores what meaning
        # found, so the score never reads as more than the level (the policy's likely_from
        # compares it: safety/data/policy.toml).
        def by_minor(name: str) -> bool:
            return (minor_ref is not None and minors is not None and name == minors.name) or \
                (minor_self_harm is not None and name == SELF_HARM)

        def certain_by(name: str) -> bool:
            return (by_minor(name) or (self_harm_steps is not None and name == SELF_HARM) or
                    by_head[name] == Decision.BLOCK or name in read_certain or
                    any(h.decision == Decision.BLOCK for h in term_hits.get(name, ())))

        # The two readers agreeing (READERS_AGREE, READERS_SURE) makes certain what nothing else did.
        for name in sorted(SECOND_READ & self.terms.categories.keys()):
            if not (decisions[name] == Decision.BLOCK and certain_by(name)) and \
                    self._readers_agree(name, reading, analysis.second):
                decisions[name] = Decision.BLOCK
                read_certain.add(name)
                via_second.add(name)
                if by_head[name] != Decision.BLOCK:
                    learned_part[name] = self._reader_decision(name, reading)[1]

        doubted = self._doubted(analysis, reading, decisions)

        findings = []
        scores: dict[str, float] = {}
        for name, category in self.terms.categories.items():
            decision = decisions[name]
            if name in doubted:
                decision = Decision.REVIEW
            if category.always_block and decision != Decision.ALLOW:
                decision = Decision.BLOCK   # never review: nobody may turn it into an allow
            hits = term_hits.get(name, ())
            as_steps = self_harm_steps is not None and name == SELF_HARM
            certain = certain_by(name) and name not in doubted
            score = 1.0 if certain else max(meaning.get(name, 0.0), 0.0)
            scores[name] = round(score, 4)
            if decision == Decision.ALLOW:
                continue
            via = ["terms"] if hits else []
            exemplar = None
            if by_meaning[name] != Decision.ALLOW:
                via.append("meaning")
                exemplar = self._exemplar(name, int(best_view[self.categories.index(name)]), analysis.views,
                                          analysis.sims)
            if by_head[name] != Decision.ALLOW:
                via.append("learned")
            if name in read_certain:
                via.append("reader")
            if name in via_second:
                via.append("second_reader")
            terms = tuple(dict.fromkeys(h.term for h in hits))
            if by_minor(name):
                via.append("minor_reference")
                terms += (minor_ref if name != SELF_HARM else minor_self_harm,)
            if as_steps:
                via.append("instructions")
                terms += (self_harm_steps,)
            possible = possible_minor if name == "sexual" else None
            if possible is not None:
                via.append("meaning_sexual_minors")
                exemplar = exemplar or possible
            if name in doubted:
                via.append("doubted")
            findings.append(Finding(category, decision, score, meaning.get(name, 0.0), terms, exemplar, tuple(via),
                                    possible, learned_part[name], doubted.get(name)))
        findings.sort(key=lambda f: (-_SEVERITY[f.decision], -f.score))
        return PromptResult(combine([f.decision for f in findings]), tuple(findings), scores,
                            {c: round(s, 4) for c, s in meaning.items()}, self.version)

    def _reader_decision(self, name: str, reading: "Reading | None") -> tuple[Decision, tuple[float, str] | None]:
        """A reader's level for a category by its own cut-offs, and its score on the prompt. Never
        in an always-block category: there any finding blocks, and one needs what the term policy
        requires ("a little girl in a red hood" read 0.98 as sexual content involving minors)."""
        if self.terms.categories[name].always_block:
            return Decision.ALLOW, None
        cut = reading.head.cutoffs.get(name) if reading is not None else None
        found = reading.best(name) if reading is not None else None
        if cut is None or found is None:
            return Decision.ALLOW, None
        return cut.decision(round(found[0], 4)), (round(found[0], 4), found[1])

    def _readers_agree(self, name: str, reading: "Reading | None", second: "Reading | None") -> bool:
        """The two readers both read `name` past their review cut-offs and, in READERS_AGREE, one of
        them past its block cut-off, in READERS_SURE, their mean at least its level."""
        (first_level, first), (second_level, other) = (self._reader_decision(name, reading),
                                                        self._reader_decision(name, second))
        if Decision.ALLOW in (first_level, second_level):
            return False
        if name in READERS_AGREE:
            return Decision.BLOCK in (first_level, second_level)
        return name in READERS_SURE and (first[0] + other[0]) / 2 >= READERS_SURE[name]

    def _both_read_minors_abuse(self, analysis: "Analysis", reading: "Reading | None") -> tuple[float, str] | None:
        """The reader's score and view where a reader and a head of one language (the English pair,
        or the multilingual pair on a `foreign` prompt) both read sexual content involving minors
        past their own block cut-offs; else None."""
        minors = self.terms.minors_category

        def over(read: "Reading | None") -> tuple[float, str] | None:
            cut = read.head.cutoffs.get(minors.name) if read is not None and minors is not None else None
            best = read.best(minors.name) if cut is not None else None
            if cut is None or cut.block is None or best is None or best[0] < cut.block:
                return None
            return round(best[0], 4), best[1]

        pairs = [(reading, analysis.reading_of(self.head))]
        if analysis.foreign:
            pairs.append((analysis.reading_of(self.multilingual_reader), analysis.reading_of(self.multilingual_head)))
        for read, head in pairs:
            if read is not None and head is not None and (found := over(read)) is not None and over(head) is not None:
                return found
        return None

    def _doubted(self, analysis: "Analysis", reading: "Reading | None",
                 decisions: dict[str, Decision]) -> dict[str, float]:
        """Blocked categories the reader scores under its review cut-off and READER_CLEARS, with its score: it read
        the whole prompt in context ("a rear naked choke", "three years free of self-harm") where a
        term reads words. Only where the reader can read the prompt (not `foreign`), never in an
        always-block category, and not where the second reader (`Analysis.second`) reads the category
        past its own review cut-off (the reader knows little of cruelty to animals: "teenagers drowning
        a bag of kittens in a river" 0.02, the second reader 0.94)."""
        if reading is None or analysis.foreign:
            return {}
        out = {}
        for name, decision in decisions.items():
            if decision != Decision.BLOCK or self.terms.categories[name].always_block:
                continue
            level, found = self._reader_decision(name, reading)
            if level == Decision.ALLOW and found is not None and found[0] < READER_CLEARS and \
                    self._reader_decision(name, analysis.second)[0] == Decision.ALLOW:
                out[name] = found[0]
        return out

    def _head_decision(self, name: str, readings: tuple["Reading", ...], by_terms: Decision, by_meaning: Decision,
                       meaning: dict[str, float], steps: int) -> tuple[Decision, tuple[float, str] | None]:
        """The learned heads' level for a category, as far as other signals back it, and the
        score and view of the head that gave it. A block needs some other sign of the category (a
        term of any level, meaning at review, or steps): alone MiniLM's head blocked everyday acts
        in harm's words ("mom takes all the pills out of the bag"); backed, it lost a few harmful
        prompts and no benign ones. Below its block cut-off a head counts only where meaning does
        not contradict it ("a kid fills his pockets with stones at the beach" scored 0.89 on
        MiniLM's head and 0.06 on meaning)."""
        best, part = Decision.ALLOW, None
        for reading in readings:
            cut, found = reading.head.cutoffs.get(name), reading.best(name)
            if cut is None or found is None:
                continue
            level = cut.decision(found[0])
            # The multilingual head and reader read only foreign prompts, where nothing MiniLM reads
            # can back or contradict them: their block needs no backing, their review no agreeing meaning.
            alone = reading.head is self.multilingual_head or reading.head is self.multilingual_reader
            if level == Decision.BLOCK and by_terms == by_meaning == Decision.ALLOW and not steps and not alone:
                level = Decision.REVIEW
            if level == Decision.REVIEW and not alone and not self._meaning_near(name, meaning):
                level = Decision.ALLOW
            if part is None or _SEVERITY[level] > _SEVERITY[best]:
                best, part = level, (round(found[0], 4), found[1])
        return best, part

    def _meaning_near(self, category: str, meaning: dict[str, float]) -> bool:
        """Meaning no more than CLEAR_MARGIN under the category's review cut-off."""
        cut = self.thresholds.categories.get(category)
        return cut is None or cut.review is None or meaning.get(category, 0.0) >= cut.review - CLEAR_MARGIN

    def _clearly_meant(self, category: str, meaning: dict[str, float]) -> bool:
        """Meaning at least CLEAR_MARGIN over the category's review cut-off."""
        cut = self.thresholds.categories.get(category)
        return cut is not None and cut.review is not None and meaning.get(category, 0.0) >= cut.review + CLEAR_MARGIN


@dataclass(frozen=True)
class Analysis:
    prompt: str
    views: list[str]
    sims: np.ndarray                 # views x exemplars: cosine
    nearest: np.ndarray              # views x (categories, benign): cosine to the nearest exemplar of each
    term_hits: dict[str, tuple[TermHit, ...]]
    minor_reference: str | None
    steps: int = 0                   # told as this many steps (safety/terms.py steps_in); 0: not a list
    readings: tuple["Reading", ...] = ()   # the learned heads that read the prompt
    foreign: bool = False            # written in what MiniLM cannot read (PromptClassifier.foreign)
    # The multilingual reader's reading of a prompt MiniLM reads: a second reader, asked where it can
    # change the decision (PromptClassifier._second_may_act); None where it did not read.
    second: "Reading | None" = None

    def reading_of(self, model: "PromptHead | PromptReader | None") -> "Reading | None":
        """`model`'s reading of the prompt, or None where it did not read it."""
        return next((r for r in self.readings if model is not None and r.head is model), None)


@dataclass(frozen=True)
class Reading:
    """One learned head's (or the reader's) reading: the views it read and, per view and category,
    its probability."""

    head: PromptHead | PromptReader
    views: list[str]
    scores: np.ndarray               # views x head categories

    def best(self, category: str) -> tuple[float, str] | None:
        """The category's score (its best view's) and that view."""
        if category not in self.head.categories or not len(self.views):
            return None
        column = self.scores[:, self.head.categories.index(category)]
        i = int(column.argmax())
        return float(column[i]), self.views[i]


def _exemplars_path(path: str | None) -> str:
    return os.fspath(path or setting("GL_SAFETY_EXEMPLARS") or DEFAULT_EXEMPLARS)


def _thresholds_path(path: str | None) -> str:
    return os.fspath(path or setting("GL_SAFETY_THRESHOLDS") or DEFAULT_THRESHOLDS)


@lru_cache(maxsize=4)
def load_prompt_classifier(exemplars_path: str | None = None, thresholds_path: str | None = None,
                           terms_path: str | None = None, embedder_path: str | None = None,
                           head: str | None = None, multilingual_head: str | None = None,
                           reader: str | None = None, multilingual_reader: str | None = None) -> PromptClassifier:
    """The shipped data files (or GL_SAFETY_EXEMPLARS / GL_SAFETY_THRESHOLDS / GL_SAFETY_TERMS /
    GL_SAFETY_HEAD / GL_SAFETY_MULTILINGUAL_HEAD / GL_SAFETY_READER / GL_SAFETY_MULTILINGUAL_READER)
    with the shared text embedder and the multilingual one; cached per process. A missing model
    raises TextEmbedderError or MultilingualEmbedderError; a missing or unreadable head or reader
    PolicyFileError."""
    return with_heads(classifier_without_head(exemplars_path, thresholds_path, terms_path, embedder_path),
                      head, multilingual_head, reader, multilingual_reader)


def with_heads(classifier: PromptClassifier, head: str | None = None, multilingual_head: str | None = None,
               reader: str | None = None, multilingual_reader: str | None = None) -> PromptClassifier:
    """`classifier` with both learned heads and both fine-tuned readers from their files (default:
    GL_SAFETY_HEAD, GL_SAFETY_MULTILINGUAL_HEAD, GL_SAFETY_READER and GL_SAFETY_MULTILINGUAL_READER,
    else the shipped ones) and the multilingual embedder."""
    multilingual = load_multilingual_embedder()
    return classifier.with_head(PromptHead.load(head_path(head))).with_multilingual_head(
        PromptHead.load(multilingual_head_path(multilingual_head)), multilingual).with_reader(
        load_reader(reader_path(reader), classifier.embedder)).with_multilingual_reader(
        load_reader(multilingual_reader_path(multilingual_reader), multilingual))


def classifier_without_head(exemplars_path: str | None = None, thresholds_path: str | None = None,
                            terms_path: str | None = None, embedder_path: str | None = None) -> PromptClassifier:
    """The classifier from its files without the learned head: what the head is trained over."""
    terms = load_policy(terms_path)
    exemplars = Exemplars.from_file(_exemplars_path(exemplars_path), known=set(terms.categories))
    thresholds = Thresholds.from_file(_thresholds_path(thresholds_path))
    return PromptClassifier(load_text_embedder(embedder_path), exemplars, thresholds, terms)


@lru_cache(maxsize=8)
def _data_version(exemplars_path: str, thresholds_path: str, terms_path: str | None,
                  head: str, multilingual_head: str, reader: str, multilingual_reader: str) -> tuple[str, ...]:
    """The data files' part of the version, read once per process like the classifier's files."""
    try:
        exemplars_sha256 = sha256_of(exemplars_path)
    except OSError as exc:
        raise PolicyFileError(f"cannot read prompt exemplars {exemplars_path}: {exc}") from exc
    return (exemplars_sha256, Thresholds.from_file(thresholds_path).tag(), load_policy(terms_path).version,
            PromptHead.load(head).tag(), PromptHead.load(multilingual_head).tag(), reader_tag(reader),
            reader_tag(multilingual_reader))


def prompt_classifier_version(exemplars_path: str | None = None, thresholds_path: str | None = None,
                              terms_path: str | None = None, embedder_path: str | None = None,
                              head: str | None = None, multilingual_head: str | None = None,
                              reader: str | None = None, multilingual_reader: str | None = None) -> str:
    """``load_prompt_classifier(...).version`` without loading the model (from its record)."""
    data = _data_version(_exemplars_path(exemplars_path), _thresholds_path(thresholds_path), terms_path,
                         head_path(head), multilingual_head_path(multilingual_head), reader_path(reader),
                         multilingual_reader_path(multilingual_reader))
    return _version(text_embedder_model_file(embedder_path).tag, *data)
