"""1:N face index: which enrolled cameo (if any) does a face embedding belong to.

Embeddings are float32, unit-norm, dimension ``dim`` (128 for SFace, 512 for ArcFace);
similarity is cosine = inner product. A key (a cameo id) owns several vectors (a mean template
and a few exemplars); a search answers per key: the key's best vector scores for the key.

Two implementations of one protocol (:class:`FaceIndex`), built with :func:`make_index`:

* :class:`ExactIndex` — a float32 numpy matrix scanned by brute force. The embedded default:
  exact, no training, fine up to a few hundred thousand vectors.
* :class:`FaissIndex` — the scalable one, chosen by measurement (``bench/face_search.py``,
  ``docs/benchmarks.md`` "1:N index"): an inverted file with 4-bit PQ fast-scan codes
  (FAISS ``IVF{nlist},PQ{dim/4}x4fs``, spherical k-means) proposes ``rerank`` candidate
  vectors, and those are re-scored exactly from the float32 rows this class keeps. Before
  ``train_min`` vectors exist there is nothing worth training on and it scans the rows exactly
  (the same answers as ExactIndex). On 1M random unit 128-d vectors, 2 cores: 0.9 ms p50 and
  recall@1 0.995 on planted same-person queries (IVF4096, nprobe 512, rerank 64), against
  51 ms for FAISS IndexFlatIP; HNSW32 reached 0.93 at 3.1 ms (efSearch 512), IVF-Flat 0.993
  at 4.3 ms (nprobe 512).

Removal is by tombstone: ``remove``/``add`` (which replaces a key's vectors) mark the rows dead
and a dead row is never returned by either class (every candidate is checked against the live
flags before it is scored). The FAISS structure keeps dead entries until a rebuild; a rebuild
(re-train + re-add of the live rows) runs when dead rows pass ``compact_ratio`` of all rows, when
the index has grown ``retrain_growth`` times since it was trained, or on :meth:`FaissIndex.rebuild`.
It builds outside the write lock from a snapshot, then replays what changed meanwhile and swaps
under the write lock, so searches keep running while it trains. An automatic rebuild runs in
the thread whose ``add``/``remove`` crossed the threshold (about 40 s at 1M x 128-d on 2 cores);
a bulk load is cheaper as ``add_many`` (one training) or with ``auto_rebuild=False`` and one
``rebuild()`` at the end. (FAISS HNSW has no
``remove_ids``; IVF has, but it walks every inverted list under the lock: tombstones avoid both.)

Thread safety: a readers-writer lock per index. Searches share it; mutations take it alone
(FAISS inverted lists must not grow under a running search).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import math
import numbers
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Literal, Mapping, Protocol, runtime_checkable

import numpy as np

__all__ = ["Hit", "FaceIndex", "ExactIndex", "FaissIndex", "make_index"]


@dataclass(frozen=True)
class Hit:
    key: str
    score: float


@runtime_checkable
class FaceIndex(Protocol):
    dim: int

    def add(self, key: str, vectors: np.ndarray) -> None:
        """Store ``vectors`` ((n, dim) or (dim,)) under ``key``, replacing what the key had."""

    def remove(self, key: str) -> bool:
        """Forget ``key``; True if it was there. Its vectors never match again."""

    def search(self, vector: np.ndarray, k: int = 5, min_score: float = -1.0) -> list[Hit]:
        """Best score per key, descending, at most ``k`` keys, each with score >= ``min_score``."""

    def search_many(self, vectors: np.ndarray, k: int = 5, min_score: float = -1.0) -> list[list[Hit]]:
        """:meth:`search` for each row of ``vectors``."""

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...


# --------------------------------------------------------------------------- validation

def _check_dim(dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    return int(dim)


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty str, got {key!r}")
    return key


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _check_min_score(min_score: Any) -> float:
    if isinstance(min_score, bool) or not isinstance(min_score, numbers.Real) or math.isnan(min_score):
        raise ValueError(f"min_score must be a number, got {min_score!r}")
    return float(min_score)


def _unit_rows(vectors: Any, dim: int, what: str, allow_empty: bool = False) -> np.ndarray:
    """A fresh C-contiguous float32 (n, dim) array of unit rows, or ValueError saying what is wrong."""
    try:
        x = np.asarray(vectors)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{what} must be an array of numbers: {exc}") from None
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{what} must be real numbers, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{what} must have shape (n, {dim}) or ({dim},) for this {dim}-d index, "
                         f"got shape {np.shape(vectors)}")
    if x.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{what} is empty: give at least one vector")
    with np.errstate(over="ignore"):   # beyond float32 range becomes inf, reported below
        x = x.astype(np.float32)       # always a copy: the index never aliases the caller's memory
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"{what} has non-finite values (NaN/inf, or beyond float32 range) in "
                         f"row(s) {bad[:5].tolist()}")
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    if x.shape[0] and not (norms > 0).all():
        raise ValueError(f"{what} has zero-length row(s) {np.flatnonzero(norms <= 0)[:5].tolist()}: "
                         "cannot normalise")
    x /= norms[:, None].astype(np.float32)
    return np.ascontiguousarray(x)


# --------------------------------------------------------------------------- locking

class _RWLock:
    """Many readers or one writer. A waiting writer holds back new readers, so a stream of
    searches cannot starve the worker's adds. Not re-entrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


# --------------------------------------------------------------------------- row store

class _Rows:
    """Append-only rows: unit vectors, the key id owning each row, a live flag per row.

    A key's live rows are always those of its last ``put``. Row numbers are stable until the
    store is rebuilt into a new object (compaction), so FAISS can use them as ids.
    Not locked itself: the owning index holds its lock around every call.
    """

    def __init__(self, dim: int, capacity: int = 256) -> None:
        self.dim = dim
        self.vecs = np.empty((capacity, dim), np.float32)
        self.owner = np.empty(capacity, np.int64)
        self.alive = np.zeros(capacity, bool)
        self.n = 0        # rows used
        self.n_dead = 0
        self.key_id: dict[str, int] = {}
        self.key_name: list[str] = []
        self.key_rows: dict[str, np.ndarray] = {}   # live keys only

    def __len__(self) -> int:
        return len(self.key_rows)

    @property
    def n_alive(self) -> int:
        return self.n - self.n_dead

    @property
    def nbytes(self) -> int:
        return self.vecs.nbytes + self.owner.nbytes + self.alive.nbytes

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self.alive):
            return
        cap = max(need, 2 * len(self.alive))
        vecs = np.empty((cap, self.dim), np.float32)
        owner = np.empty(cap, np.int64)
        alive = np.zeros(cap, bool)
        vecs[:self.n], owner[:self.n], alive[:self.n] = self.vecs[:self.n], self.owner[:self.n], self.alive[:self.n]
        self.vecs, self.owner, self.alive = vecs, owner, alive

    def drop(self, key: str) -> np.ndarray | None:
        rows = self.key_rows.pop(key, None)
        if rows is not None:
            self.alive[rows] = False
            self.n_dead += len(rows)
        return rows

    def put(self, key: str, x: np.ndarray) -> np.ndarray:
        """Replace ``key``'s vectors with the unit rows ``x``; returns the new row numbers."""
        self.drop(key)
        kid = self.key_id.get(key)
        if kid is None:
            kid = self.key_id[key] = len(self.key_name)
            self.key_name.append(key)
        self._reserve(len(x))
        rows = np.arange(self.n, self.n + len(x), dtype=np.int64)
        self.vecs[rows] = x
        self.owner[rows] = kid
        self.alive[rows] = True
        self.n += len(x)
        self.key_rows[key] = rows
        return rows

    def compacted(self) -> tuple[_Rows, np.ndarray]:
        """A new store holding only the live rows, renumbered from 0 and grouped per key, and
        for each new row the old row it came from."""
        keys = list(self.key_rows)
        parts = [self.key_rows[k] for k in keys]
        order = np.concatenate(parts) if parts else np.empty(0, np.int64)
        lens = np.fromiter((len(p) for p in parts), np.int64, len(parts))
        starts = np.concatenate([[0], np.cumsum(lens)])
        m = len(order)
        new = _Rows(self.dim, capacity=max(256, m))
        new.vecs[:m] = self.vecs[order]
        new.owner[:m] = np.repeat(np.arange(len(keys), dtype=np.int64), lens)
        new.alive[:m] = True
        new.n = m
        new.key_name = keys
        new.key_id = {k: i for i, k in enumerate(keys)}
        new.key_rows = {k: np.arange(starts[i], starts[i + 1], dtype=np.int64) for i, k in enumerate(keys)}
        return new, order

    # ---- answers

    def best_per_key(self, rows: np.ndarray, scores: np.ndarray, k: int, min_score: float) -> list[Hit]:
        """Top ``k`` live keys among candidate ``rows`` scored ``scores`` (best row per key)."""
        keep = self.alive[rows] & (scores >= min_score)
        if not keep.all():
            rows, scores = rows[keep], scores[keep]
        if rows.size == 0:
            return []
        order = np.argsort(-scores, kind="stable")
        owners = self.owner[rows[order]]
        _, first = np.unique(owners, return_index=True)
        first = np.sort(first)[:k]
        best = scores[order][first]
        names = self.key_name
        return [Hit(names[o], float(min(1.0, max(-1.0, s)))) for o, s in zip(owners[first].tolist(), best.tolist())]

    def top_keys_dense(self, scores: np.ndarray, k: int, min_score: float) -> list[Hit]:
        """Top ``k`` keys given the scores of all ``n`` rows (exact search)."""
        n = scores.shape[0]
        m = min(n, max(4 * k, 32))
        while True:
            if m >= n:
                return self.best_per_key(np.arange(n), scores, k, min_score)
            top = np.argpartition(scores, n - m)[n - m:]
            hits = self.best_per_key(top, scores[top], k, min_score)
            # Enough keys, or the m-th best row is already below the cut: nothing further qualifies.
            if len(hits) >= k or scores[top].min() < min_score:
                return hits
            m = min(n, 4 * m)

    def exact_search(self, q: np.ndarray, k: int, min_score: float) -> list[list[Hit]]:
        n = self.n
        if not self.key_rows:
            return [[] for _ in range(len(q))]
        base = self.vecs[:n]
        out: list[list[Hit]] = []
        if len(q) == 1:
            return [self.top_keys_dense(base @ q[0], k, min_score)]
        chunk = max(1, (1 << 24) // max(n, 1))   # at most 64 MiB of scores at a time
        for s in range(0, len(q), chunk):
            scores = q[s:s + chunk] @ base.T
            out.extend(self.top_keys_dense(row, k, min_score) for row in scores)
        return out


# --------------------------------------------------------------------------- exact

class _Searches(ABC):
    """search / search_many over an index's own `_search(unit rows, k, min_score)`, and the size
    and membership both indexes answer from their rows."""

    dim: int
    _rows: "_Rows"

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows.key_rows

    def search(self, vector: np.ndarray, k: int = 5, min_score: float = -1.0) -> list[Hit]:
        q = _unit_rows(vector, self.dim, "query vector")
        if len(q) != 1:
            raise ValueError(f"search takes one vector, got {len(q)}: use search_many")
        return self._search(q, k, min_score)[0]

    def search_many(self, vectors: np.ndarray, k: int = 5, min_score: float = -1.0) -> list[list[Hit]]:
        return self._search(_unit_rows(vectors, self.dim, "query vectors", allow_empty=True), k, min_score)

    @abstractmethod
    def _search(self, q: np.ndarray, k: int, min_score: float) -> list[list[Hit]]:
        """Top-k hits at or above min_score for each row of q (unit rows, checked)."""


class ExactIndex(_Searches):
    """Brute-force inner product over a float32 matrix. Exact; the embedded default."""

    def __init__(self, dim: int, *, compact_ratio: float = 0.25) -> None:
        self.dim = _check_dim(dim)
        if not 0 < compact_ratio <= 1:
            raise ValueError(f"compact_ratio must be in (0, 1], got {compact_ratio!r}")
        self.compact_ratio = float(compact_ratio)
        self._rows = _Rows(self.dim)
        self._lock = _RWLock()

    def __repr__(self) -> str:
        return f"ExactIndex(dim={self.dim}, keys={len(self)}, vectors={self._rows.n_alive})"

    def add(self, key: str, vectors: np.ndarray) -> None:
        key = _check_key(key)
        x = _unit_rows(vectors, self.dim, f"vectors for {key!r}")
        with self._lock.write():
            self._rows.put(key, x)
            self._maybe_compact()

    def add_many(self, items: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]) -> None:
        """Bulk :meth:`add` (e.g. loading every enrolled cameo at start-up); all-or-nothing validation."""
        pairs = items.items() if isinstance(items, Mapping) else items
        checked = [(k, _unit_rows(v, self.dim, f"vectors for {k!r}")) for k, v in
                   ((_check_key(k), v) for k, v in pairs)]
        with self._lock.write():
            for key, x in checked:
                self._rows.put(key, x)
            self._maybe_compact()

    def remove(self, key: str) -> bool:
        key = _check_key(key)
        with self._lock.write():
            found = self._rows.drop(key) is not None
            self._maybe_compact()
        return found

    def _maybe_compact(self) -> None:
        r = self._rows
        if r.n_dead >= 64 and r.n_dead > self.compact_ratio * r.n:
            self._rows = r.compacted()[0]

    def _search(self, q: np.ndarray, k: int, min_score: float) -> list[list[Hit]]:
        k, min_score = _check_k(k), _check_min_score(min_score)
        if len(q) == 0:
            return []
        with self._lock.read():
            return self._rows.exact_search(q, k, min_score)

    @property
    def nbytes(self) -> int:
        return self._rows.nbytes


# --------------------------------------------------------------------------- faiss

# Measured defaults (docs/benchmarks.md "1:N index"; 1M random unit 128-d vectors, 2 cores).
DEFAULT_NLIST = 4096
DEFAULT_NPROBE = 512
DEFAULT_RERANK = 64
DEFAULT_TRAIN_MIN = 20_000


class FaissIndex(_Searches):
    """IVF + 4-bit PQ fast-scan candidates (FAISS), exact re-rank from float32 rows, tombstones.

    Parameters (defaults measured, see the module docstring):
      nlist           inverted lists at full size; a smaller index trains fewer, ``n // 39``
                      rounded down to a power of two (k-means wants >= 39 points per list).
      nprobe          lists visited per query (all of them while there are fewer than nprobe):
                      a smaller index scans at most as many codes as a full-size one.
      pq_m            PQ sub-quantisers (4 bits each); default ``dim // 4`` (16 B per 128-d vector).
      rerank          candidate vectors re-scored exactly per query (at least ``8 * k``).
      train_min       below this many live vectors, scan exactly (no FAISS structure at all);
                      at least 64 (each 4-bit PQ sub-quantiser trains 16 centroids).
      retrain_growth  rebuild (re-train) once the live vectors reach this multiple of the
                      count the structure was trained on.
      compact_ratio   rebuild once dead rows exceed this fraction of all rows.
      auto_rebuild    False: never rebuild on its own; call :meth:`rebuild`.
      train_sample    at most this many vectors per list feed k-means (FAISS caps at 256).
      seed            k-means / sampling seed.
    """

    def __init__(self, dim: int, *, nlist: int = DEFAULT_NLIST, nprobe: int = DEFAULT_NPROBE,
                 pq_m: int | None = None, rerank: int = DEFAULT_RERANK, train_min: int = DEFAULT_TRAIN_MIN,
                 retrain_growth: float = 4.0, compact_ratio: float = 0.25, auto_rebuild: bool = True,
                 train_sample: int = 64, seed: int = 1234) -> None:
        import faiss  # lazy: the embedded default (ExactIndex) does not load FAISS/OpenMP

        self._faiss = faiss
        self.dim = _check_dim(dim)
        self.pq_m = self.dim // 4 if pq_m is None else int(pq_m)
        for name, value, low in (("nlist", nlist, 1), ("nprobe", nprobe, 1), ("pq_m", self.pq_m, 1),
                                 ("rerank", rerank, 1), ("train_min", train_min, 64),
                                 ("train_sample", train_sample, 39)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.dim % self.pq_m:
            raise ValueError(f"pq_m={self.pq_m} must divide dim={self.dim}")
        if not retrain_growth > 1:
            raise ValueError(f"retrain_growth must be > 1, got {retrain_growth!r}")
        if not 0 < compact_ratio <= 1:
            raise ValueError(f"compact_ratio must be in (0, 1], got {compact_ratio!r}")
        self.nlist, self.nprobe, self.rerank = int(nlist), int(nprobe), int(rerank)
        self.train_min, self.train_sample, self.seed = int(train_min), int(train_sample), int(seed)
        self.retrain_growth, self.compact_ratio = float(retrain_growth), float(compact_ratio)
        self.auto_rebuild = bool(auto_rebuild)

        self._rows = _Rows(self.dim)
        self._ivf: Any = None          # None: exact scan over the rows
        self._params: Any = None       # SearchParametersIVF for the trained structure
        self._trained_on = 0           # live vectors when the structure was trained
        self._lock = _RWLock()
        self._rebuild_mutex = threading.Lock()
        self.rebuilds = 0

    def __repr__(self) -> str:
        return (f"FaissIndex(dim={self.dim}, keys={len(self)}, vectors={self._rows.n_alive}, "
                f"structure={self.structure!r})")

    @property
    def structure(self) -> str:
        """What answers searches now, e.g. ``"IVF4096,PQ32x4fs nprobe=512 +rerank64"`` or ``"exact"``."""
        ivf = self._ivf
        if ivf is None:
            return "exact"
        return f"IVF{ivf.nlist},PQ{self.pq_m}x4fs nprobe={self._params.nprobe} +rerank{self.rerank}"

    # ---- mutations

    def add(self, key: str, vectors: np.ndarray) -> None:
        key = _check_key(key)
        self._put([(key, _unit_rows(vectors, self.dim, f"vectors for {key!r}"))])

    def add_many(self, items: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]) -> None:
        """Bulk :meth:`add` (e.g. loading every enrolled cameo at start-up): one lock, one FAISS
        add, at most one training; all-or-nothing validation."""
        pairs = items.items() if isinstance(items, Mapping) else items
        self._put([(k, _unit_rows(v, self.dim, f"vectors for {k!r}")) for k, v in
                   ((_check_key(k), v) for k, v in pairs)])

    def _put(self, checked: list[tuple[str, np.ndarray]]) -> None:
        with self._lock.write():
            new_rows = [self._rows.put(key, x) for key, x in checked]
            if self._ivf is not None and new_rows:
                ids = np.concatenate(new_rows)
                self._ivf.add_with_ids(self._rows.vecs[ids], ids)
        self._maybe_rebuild()

    def remove(self, key: str) -> bool:
        key = _check_key(key)
        with self._lock.write():
            found = self._rows.drop(key) is not None   # tombstone; FAISS drops it at the next rebuild
        if found:
            self._maybe_rebuild()
        return found

    def _rebuild_due(self) -> bool:
        r = self._rows
        if r.n_dead >= 64 and r.n_dead > self.compact_ratio * r.n:
            return True
        if self._ivf is None:
            return r.n_alive >= self.train_min
        return r.n_alive >= self.retrain_growth * self._trained_on or r.n_alive < self.train_min // 2

    def _maybe_rebuild(self) -> None:
        if self.auto_rebuild and self._rebuild_due():
            self.rebuild(wait=False)

    def rebuild(self, wait: bool = True) -> bool:
        """Re-train the FAISS structure on the live vectors and drop the dead ones.

        Builds from a snapshot without holding the write lock (searches and adds go on), then
        replays the changes made meanwhile and swaps under the write lock. Returns False if
        ``wait`` is False and another rebuild is running."""
        if not self._rebuild_mutex.acquire(blocking=wait):
            return False
        try:
            with self._lock.read():
                old = self._rows
                n0 = old.n
                fresh, order0 = old.compacted()   # fresh row j is old row order0[j]
            ivf, params = self._train(fresh)

            with self._lock.write():
                # Replay: keys dropped or replaced since the snapshot, then keys put since.
                now = self._rows
                died = order0[~now.alive[order0]]
                for kid in np.unique(now.owner[died]).tolist():
                    fresh.drop(now.key_name[kid])
                later = np.arange(n0, now.n)
                later = later[now.alive[later]]
                added = []
                for kid in np.unique(now.owner[later]).tolist():
                    key = now.key_name[kid]
                    added.append(fresh.put(key, now.vecs[now.key_rows[key]]))
                if ivf is not None and added:
                    ids = np.concatenate(added)
                    ivf.add_with_ids(fresh.vecs[ids], ids)
                self._rows, self._ivf, self._params = fresh, ivf, params
                self._trained_on = fresh.n_alive if ivf is not None else 0
                self.rebuilds += 1
            return True
        finally:
            self._rebuild_mutex.release()

    def _train(self, rows: _Rows) -> tuple[Any, Any]:
        """A trained IVF-PQ fast-scan structure holding ``rows`` (ids = row numbers), or
        (None, None) when there are too few vectors to be worth it."""
        faiss = self._faiss
        n = rows.n_alive
        if n < self.train_min:
            return None, None
        nlist = min(self.nlist, 1 << max(0, int(math.log2(max(1, n // 39)))))
        nprobe = min(nlist, self.nprobe)
        index = faiss.index_factory(self.dim, f"IVF{nlist},PQ{self.pq_m}x4fs", faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.spherical = True          # unit vectors: centroids on the sphere suit inner product
        ivf.cp.seed = self.seed
        ivf.cp.max_points_per_centroid = self.train_sample
        live = np.flatnonzero(rows.alive[:rows.n])
        cap = self.train_sample * nlist
        if len(live) > cap:
            live = np.sort(np.random.default_rng(self.seed).choice(live, cap, replace=False))
        index.train(rows.vecs[live])
        ids = np.flatnonzero(rows.alive[:rows.n]).astype(np.int64)
        for s in range(0, len(ids), 262_144):     # bounded temporary copies
            chunk = ids[s:s + 262_144]
            index.add_with_ids(rows.vecs[chunk], chunk)
        return index, faiss.SearchParametersIVF(nprobe=nprobe)

    def tune(self, *, nprobe: int | None = None, rerank: int | None = None) -> None:
        """Change the search-time knobs without a rebuild (the trained structure is kept)."""
        for name, value in (("nprobe", nprobe), ("rerank", rerank)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                                      or value < 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        with self._lock.write():
            if nprobe is not None:
                self.nprobe = int(nprobe)
                if self._ivf is not None:
                    nlist = self._faiss.extract_index_ivf(self._ivf).nlist
                    self._params = self._faiss.SearchParametersIVF(nprobe=min(nlist, self.nprobe))
            if rerank is not None:
                self.rerank = int(rerank)

    # ---- searches

    def _search(self, q: np.ndarray, k: int, min_score: float) -> list[list[Hit]]:
        k, min_score = _check_k(k), _check_min_score(min_score)
        if len(q) == 0:
            return []
        with self._lock.read():
            rows, ivf = self._rows, self._ivf
            if ivf is None:
                return rows.exact_search(q, k, min_score)
            want = max(self.rerank, 8 * k)
            _, ids = ivf.search(q, min(want, ivf.ntotal), params=self._params)
            out = []
            for i in range(len(q)):
                got = min(want, ivf.ntotal)
                cand = ids[i][ids[i] >= 0]
                while True:
                    scores = rows.vecs[cand] @ q[i]
                    hits = rows.best_per_key(cand, scores, k, min_score)
                    # Too few distinct live keys among the candidates (tombstones, keys with many
                    # vectors): ask FAISS for more, unless the probed lists are exhausted or the
                    # candidates already reach below min_score.
                    if (len(hits) >= k or len(hits) >= len(rows) or len(cand) < got
                            or got >= ivf.ntotal or (scores[rows.alive[cand]] < min_score).any()):
                        break
                    got = min(ivf.ntotal, got * 4)
                    _, more = ivf.search(q[i:i + 1], got, params=self._params)
                    cand = more[0][more[0] >= 0]
                out.append(hits)
            return out

    @property
    def nbytes(self) -> int:
        """Float32 rows + bookkeeping + the FAISS structure (codes, ids, centroids)."""
        with self._lock.read():
            total = self._rows.nbytes
            ivf = self._ivf
            if ivf is not None:
                inner = self._faiss.extract_index_ivf(ivf)
                total += inner.ntotal * (inner.code_size + 8) + inner.nlist * self.dim * 4
            return total


def make_index(kind: Literal["exact", "faiss"], dim: int, **params: Any) -> FaceIndex:
    """``make_index("exact", 128)`` or ``make_index("faiss", 512, nprobe=256)``."""
    if kind == "exact":
        return ExactIndex(dim, **params)
    if kind == "faiss":
        return FaissIndex(dim, **params)
    raise ValueError(f"unknown index kind {kind!r}: expected 'exact' or 'faiss'")
