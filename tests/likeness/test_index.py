"""1:N face index: ExactIndex and FaissIndex behave the same; FaissIndex finds what exact search finds.

Real computations on random unit vectors, no mocks. Three implementations run every behaviour test:
``exact``; ``faiss`` below its training size (it scans exactly); ``faiss-ivf``: the trained
IVF-PQ fast-scan path, built on filler vectors that are then removed, so every search also has
to step over tombstones.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from likeness.index import ExactIndex, FaceIndex, FaissIndex, Hit, make_index

DIM = 32


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def rand_unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    return unit(rng.standard_normal((n, dim)).astype(np.float32))


def near(rng: np.random.Generator, v: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector at cosine exactly ``cos`` from the unit vector ``v``."""
    u = rng.standard_normal(v.shape[-1]).astype(np.float32)
    u -= (u @ v) * v
    u /= np.linalg.norm(u)
    return unit(cos * v + np.sqrt(1 - cos * cos) * u)


def build(impl: str, dim: int = DIM) -> FaceIndex:
    if impl == "exact":
        return make_index("exact", dim)
    if impl == "faiss":
        return make_index("faiss", dim)
    # Trained IVF path: train on fillers, then tombstone them all (no auto rebuild, so the IVF stays).
    index = FaissIndex(dim, nlist=4, nprobe=4, rerank=16, train_min=64, auto_rebuild=False)
    fill = rand_unit(np.random.default_rng(99), 256, dim)
    index.add_many((f"fill-{i}", fill[i]) for i in range(len(fill)))
    index.rebuild()
    assert index.structure.startswith("IVF")
    for i in range(len(fill)):
        assert index.remove(f"fill-{i}")
    assert len(index) == 0
    return index


IMPLS = ["exact", "faiss", "faiss-ivf"]


@pytest.fixture(params=IMPLS)
def impl(request) -> str:
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def index(impl) -> FaceIndex:
    return build(impl)


def keys(hits: list[Hit]) -> list[str]:
    return [h.key for h in hits]


# --------------------------------------------------------------------------- behaviour

def test_is_a_face_index(index):
    assert isinstance(index, FaceIndex) and index.dim == DIM


def test_add_then_search_finds_the_key_first(index, rng):
    vecs = rand_unit(rng, 20)
    for i, v in enumerate(vecs):
        index.add(f"cameo-{i}", v)
    assert len(index) == 20 and "cameo-3" in index and "cameo-99" not in index
    for i in (0, 7, 19):
        hits = index.search(near(rng, vecs[i], 0.8), k=3)
        assert hits[0].key == f"cameo-{i}" and hits[0].score == pytest.approx(0.8, abs=1e-4)
        assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    same = index.search(vecs[5], k=1)
    assert same == [Hit("cameo-5", pytest.approx(1.0, abs=1e-5))]
    assert isinstance(same[0].score, float)


def test_vectors_are_renormalised_and_any_real_dtype_is_accepted(index, rng):
    v = rand_unit(rng, 1)[0]
    index.add("a", (v * 7.5).astype(np.float64))        # not unit length, float64
    index.add("b", list(rand_unit(rng, 1)[0] * 0.01))   # a plain list
    hit = index.search(v * 123.0, k=1)[0]
    assert hit.key == "a" and hit.score == pytest.approx(1.0, abs=1e-5)


def test_best_score_per_key_and_many_vectors_per_key(index, rng):
    target = rand_unit(rng, 1)[0]
    # "many" owns 40 vectors: one at 0.9 from the target, 39 unrelated; it must appear once, at 0.9.
    many = np.vstack([near(rng, target, 0.9), rand_unit(rng, 39)])
    index.add("many", many)
    index.add("b", near(rng, target, 0.6))
    index.add("c", near(rng, target, 0.3))
    index.add("d", near(rng, target, -0.5))
    hits = index.search(target, k=10)
    assert keys(hits) == ["many", "b", "c", "d"]
    assert [h.score for h in hits] == pytest.approx([0.9, 0.6, 0.3, -0.5], abs=1e-4)


def test_k_limits_the_number_of_keys(index, rng):
    target = rand_unit(rng, 1)[0]
    for i, cos in enumerate([0.95, 0.85, 0.75, 0.65, 0.55, 0.45]):
        index.add(f"k{i}", np.vstack([near(rng, target, cos), near(rng, target, cos - 0.02)]))
    assert keys(index.search(target, k=1)) == ["k0"]
    assert keys(index.search(target, k=4)) == ["k0", "k1", "k2", "k3"]
    assert keys(index.search(target)) == ["k0", "k1", "k2", "k3", "k4"]   # default k=5
    assert len(index.search(target, k=100)) == 6
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="k must be"):
            index.search(target, k=bad)


def test_min_score_filters(index, rng):
    target = rand_unit(rng, 1)[0]
    for i, cos in enumerate([0.9, 0.7, 0.5, 0.2]):
        index.add(f"k{i}", near(rng, target, cos))
    assert keys(index.search(target, k=5, min_score=0.6)) == ["k0", "k1"]
    assert keys(index.search(target, k=5, min_score=0.95)) == []
    assert keys(index.search(target, k=1, min_score=0.6)) == ["k0"]
    assert [keys(h) for h in index.search_many(np.vstack([target, -target]), k=5, min_score=0.45)] == [
        ["k0", "k1", "k2"], []]
    with pytest.raises(ValueError, match="min_score"):
        index.search(target, min_score=float("nan"))


def test_remove(index, rng):
    vecs = rand_unit(rng, 5)
    for i, v in enumerate(vecs):
        index.add(f"k{i}", np.vstack([v, near(rng, v, 0.9)]))
    assert index.remove("k2") is True
    assert index.remove("k2") is False
    assert index.remove("never-added") is False
    assert "k2" not in index and len(index) == 4
    hits = index.search(vecs[2], k=10)
    assert "k2" not in keys(hits) and len(hits) == 4
    index.add("k2", vecs[2])                       # re-enrol after removal
    assert index.search(vecs[2], k=1)[0].key == "k2"


def test_add_replaces_the_keys_vectors(index, rng):
    old, new = rand_unit(rng, 2)
    index.add("cameo", np.vstack([old, near(rng, old, 0.95)]))
    index.add("other", near(rng, old, 0.5))
    index.add("cameo", new)                        # re-enrolment: the old template is gone
    assert len(index) == 2
    hits = index.search(old, k=5)
    assert hits[0].key == "other" and hits[0].score == pytest.approx(0.5, abs=1e-4)
    cameo = [h for h in hits if h.key == "cameo"]
    assert cameo and cameo[0].score == pytest.approx(float(old @ new), abs=1e-4)
    assert index.search(new, k=1)[0] == Hit("cameo", pytest.approx(1.0, abs=1e-5))


def test_dimension_errors(index, rng):
    with pytest.raises(ValueError, match=f"shape \\(n, {DIM}\\)"):
        index.add("k", rand_unit(rng, 2, DIM + 1))
    with pytest.raises(ValueError, match=f"{DIM}-d index"):
        index.search(np.ones(DIM - 1, np.float32))
    with pytest.raises(ValueError, match="shape"):
        index.search_many(np.ones((2, 2, DIM), np.float32))
    with pytest.raises(ValueError, match="one vector"):
        index.search(rand_unit(rng, 2))
    with pytest.raises(ValueError, match="empty"):
        index.add("k", np.empty((0, DIM), np.float32))
    with pytest.raises(ValueError, match="key"):
        index.add("", rand_unit(rng, 1))
    with pytest.raises(ValueError, match="real numbers"):
        index.add("k", np.array(["a"] * DIM))
    assert len(index) == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])
def test_non_finite_values_are_refused(index, rng, bad):
    v = rand_unit(rng, 3).astype(np.float64)
    v[1, 4] = bad
    with pytest.raises(ValueError, match="non-finite"):
        index.add("k", v)
    assert "k" not in index
    with pytest.raises(ValueError, match="non-finite"):
        index.search(v[1])
    with pytest.raises(ValueError, match="non-finite"):
        index.search_many(v)
    with pytest.raises(ValueError, match="zero-length"):
        index.add("k", np.zeros(DIM))


def test_a_refused_add_keeps_the_previous_vectors(index, rng):
    v = rand_unit(rng, 1)[0]
    index.add("k", v)
    bad = np.vstack([v, v])
    bad[1, 0] = np.nan
    with pytest.raises(ValueError):
        index.add("k", bad)
    assert index.search(v, k=1) == [Hit("k", pytest.approx(1.0, abs=1e-5))]


def test_empty_index(index, rng):
    q = rand_unit(rng, 3)
    assert len(index) == 0 and "x" not in index
    assert index.search(q[0]) == []
    assert index.search_many(q) == [[], [], []]
    assert index.search_many(np.empty((0, DIM), np.float32)) == []
    assert index.remove("x") is False
    index.add("x", q[0])
    index.remove("x")
    assert index.search(q[0]) == [] and len(index) == 0


def test_search_many_equals_search(index, rng):
    vecs = rand_unit(rng, 30)
    for i in range(0, 30, 3):
        index.add(f"k{i}", vecs[i:i + 3])
    queries = np.vstack([near(rng, vecs[i], 0.8) for i in range(0, 30, 4)])
    many = index.search_many(queries, k=3, min_score=0.1)
    single = [index.search(q, k=3, min_score=0.1) for q in queries]
    assert [keys(h) for h in many] == [keys(h) for h in single]
    assert [h.score for hits in many for h in hits] == pytest.approx([h.score for hits in single for h in hits])
    assert [h[0].key for h in many] == [f"k{i - i % 3}" for i in range(0, 30, 4)]
    assert [keys(h) for h in index.search_many(queries[0])] == [keys(index.search(queries[0]))]


def test_many_removals_compact_and_keep_answers(index, rng):
    vecs = rand_unit(rng, 200)
    index.add_many({f"k{i}": vecs[i] for i in range(200)})
    for i in range(150):
        assert index.remove(f"k{i}")
    assert len(index) == 50
    for i in range(0, 200, 10):
        hits = index.search(vecs[i], k=5)
        assert len(hits) == 5 and all(int(h.key[1:]) >= 150 for h in hits)
        if i >= 150:
            assert hits[0].key == f"k{i}"
    if not isinstance(index, FaissIndex) or index.auto_rebuild:
        assert index._rows.n_dead < 100           # compacted on the way (more than 25 % dead)


def test_add_many_is_all_or_nothing(index, rng):
    vecs = rand_unit(rng, 3)
    with pytest.raises(ValueError, match="'b'"):
        index.add_many([("a", vecs[0]), ("b", np.full(DIM, np.nan)), ("c", vecs[2])])
    assert len(index) == 0
    index.add_many([("a", vecs[0]), ("b", vecs[1])])
    assert keys(index.search(vecs[1], k=2)) == ["b", "a"]


def test_hits_are_frozen():
    hit = Hit("a", 0.5)
    with pytest.raises(AttributeError):
        hit.key = "b"


def test_construction_errors():
    for dim in (0, -3, 1.5, True, "128"):
        with pytest.raises(ValueError, match="dim"):
            make_index("exact", dim)
    with pytest.raises(ValueError, match="unknown index kind"):
        make_index("hnsw", 128)
    with pytest.raises(ValueError, match="pq_m"):
        FaissIndex(10, pq_m=4)
    with pytest.raises(ValueError, match="nprobe"):
        make_index("faiss", 128, nprobe=0)
    with pytest.raises(TypeError):
        make_index("exact", 128, nlist=4)


@pytest.mark.parametrize("impl", IMPLS + ["faiss-auto"])
def test_reads_run_while_a_writer_adds_and_removes(impl, rng):
    """API threads search while the worker mutates; removed keys never come back after remove().
    "faiss-auto" trains, re-trains and compacts on its own (rebuilds swap under the readers)."""
    index = FaissIndex(DIM, train_min=256, retrain_growth=1.5) if impl == "faiss-auto" else build(impl)
    base = rand_unit(rng, 300)
    index.add_many((f"base-{i}", base[i]) for i in range(300))
    churn = rand_unit(rng, 60)
    removed: set[str] = set()   # never re-added: each round enrols under new names
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        r = np.random.default_rng(threading.get_ident() % 1000)
        try:
            while not stop.is_set():
                i = int(r.integers(60))
                snapshot = set(removed)            # removed before this search started
                for h in index.search(churn[i], k=8):
                    assert h.key not in snapshot, h
                assert index.search(base[i], k=1)[0].key == f"base-{i}"
        except BaseException as exc:  # noqa: BLE001 - reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for round_ in range(3):
            for i in range(60):
                index.add(f"churn{round_}-{i}", churn[i])
            for i in range(60):
                index.remove(f"churn{round_}-{i}")
                removed.add(f"churn{round_}-{i}")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert len(index) == 300 and not removed & {h.key for q in churn for h in index.search(q, k=10)}
    if impl == "faiss-auto":
        assert index.structure.startswith("IVF") and index.rebuilds >= 2   # trained, then compacted


# --------------------------------------------------------------------------- FaissIndex vs exact

@pytest.fixture(scope="module")
def planted():
    """3,000 keys of random unit 64-d vectors (3 each), 300 queries = a planted vector + noise."""
    r = np.random.default_rng(2024)
    dim, n_keys = 64, 3000
    vecs = rand_unit(r, n_keys * 3, dim)
    items = [(f"cameo-{i}", vecs[3 * i:3 * i + 3]) for i in range(n_keys)]
    truth = r.choice(n_keys, 300, replace=False)
    queries = np.vstack([near(r, vecs[3 * i + int(r.integers(3))], float(r.uniform(0.7, 0.9)))
                         for i in truth])
    return dim, items, [f"cameo-{i}" for i in truth], queries


def test_faiss_recall_at_1_matches_exact_on_planted_queries(planted):
    dim, items, truth, queries = planted
    # 9,000 vectors train 128 lists; by default all would be probed at this size, so visit 32.
    exact, ann = ExactIndex(dim), FaissIndex(dim, train_min=2000, nprobe=32)
    exact.add_many(items)
    ann.add_many(items)
    assert ann.structure.startswith("IVF128,PQ16x4fs nprobe=32") and len(ann) == len(exact) == 3000

    top_exact = [h[0].key for h in exact.search_many(queries, k=5)]
    top_ann = [h[0].key for h in ann.search_many(queries, k=5)]
    assert np.mean([a == b for a, b in zip(top_exact, truth)]) == 1.0
    recall = np.mean([a == b for a, b in zip(top_ann, top_exact)])
    assert recall >= 0.99, recall
    assert [ann.search(q, k=5)[0].key for q in queries[:20]] == top_ann[:20]

    # Removed keys never come back, from either index; the planted ones left are still found.
    gone = set(truth[::3])
    for key in gone:
        assert exact.remove(key) and ann.remove(key)
    for idx in (exact, ann):
        results = idx.search_many(queries, k=5)
        assert not {h.key for hits in results for h in hits} & gone
        kept = [hits[0].key == t for hits, t in zip(results, truth) if t not in gone]
        assert np.mean(kept) >= 0.99


def test_faiss_tune_changes_search_knobs_without_rebuilding(planted):
    dim, items, truth, queries = planted
    ann = FaissIndex(dim, train_min=2000)
    ann.add_many(items[:1000])
    assert ann.structure == "IVF64,PQ16x4fs nprobe=64 +rerank64" and ann.nbytes > 3000 * dim * 4
    ann.tune(nprobe=8, rerank=32)
    assert ann.structure == "IVF64,PQ16x4fs nprobe=8 +rerank32" and ann.rebuilds == 1
    hits = ann.search(items[5][1][0], k=5)
    assert hits[0] == Hit("cameo-5", pytest.approx(1.0, abs=1e-5)) and len(hits) == 5
    with pytest.raises(ValueError, match="nprobe"):
        ann.tune(nprobe=0)


def test_faiss_grows_from_exact_to_ivf_and_rebuilds_after_removals():
    r = np.random.default_rng(5)
    dim = 32
    vecs = rand_unit(r, 1200, dim)
    ann = FaissIndex(dim, train_min=400, retrain_growth=2.0, compact_ratio=0.25)
    for i in range(0, 300, 2):
        ann.add(f"k{i}", vecs[i:i + 2])
    assert ann.structure == "exact" and ann.rebuilds == 0
    for i in range(300, 1200, 2):
        ann.add(f"k{i}", vecs[i:i + 2])
    assert ann.structure.startswith("IVF") and ann.rebuilds >= 2   # trained at 400, re-trained at 800
    for i in range(0, 1200, 2):
        assert ann.search(vecs[i], k=1)[0].key == f"k{i}"
    before = ann.rebuilds
    for i in range(0, 400, 2):                                      # a third of the rows die
        ann.remove(f"k{i}")
    assert ann.rebuilds == before + 1                               # compacted once past 25 %
    assert len(ann) == 400
    for i in range(0, 1200, 2):
        hits = ann.search(vecs[i], k=3)
        if i < 400:
            assert all(int(h.key[1:]) >= 400 for h in hits)
        else:
            assert hits[0].key == f"k{i}"


def test_rebuild_replays_changes_made_while_it_trains():
    """A rebuild trains without the write lock; adds/removes made meanwhile survive the swap."""
    r = np.random.default_rng(11)
    dim = 32
    vecs = rand_unit(r, 2000, dim)
    ann = FaissIndex(dim, train_min=500, auto_rebuild=False)
    ann.add_many((f"k{i}", vecs[i]) for i in range(1500))
    ann.rebuild()
    original_train = ann._train
    during = threading.Event()

    def slow_train(rows):
        out = original_train(rows)
        # Mutations while the new structure is being built (the snapshot is already taken).
        ann.remove("k0")
        ann.add("k1", vecs[1999])            # replaced
        ann.add("late", vecs[1500:1502])     # new key
        during.set()
        return out

    ann._train = slow_train
    assert ann.rebuild()
    assert during.is_set()
    assert "k0" not in ann and "late" in ann and len(ann) == 1500
    assert all(h.key != "k0" for h in ann.search(vecs[0], k=5))
    assert ann.search(vecs[1999], k=1)[0].key == "k1"
    assert ann.search(vecs[1], k=3)[0].key != "k1"
    assert ann.search(vecs[1501], k=1)[0].key == "late"
