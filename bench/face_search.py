"""1:N face search: FAISS IndexFlatIP (the library's exact search), ExactIndex and FaissIndex,
side by side in the same run, on the same vectors and queries.

    python bench/face_search.py                       # 1M random + clustered, 128-d (minutes)
    python bench/face_search.py --n 20000             # quick (< 1 minute)
    python bench/face_search.py --dim 512 --n 250000  # ArcFace-sized vectors
    python bench/face_search.py --candidates          # also raw FAISS HNSW / IVF-Flat (long)

Data: ``--n`` unit vectors in keys of ``--per-key`` vectors, plus ``--queries`` planted keys
(same distribution). A planted query is one vector of a planted key moved to cosine
U(0.7, 0.9) from it, like a second photo of the same person; recall@1 = the planted key comes
first. "Strangers" are fresh vectors with no enrolled match: for them the column is agreement
with the exact top-1 key. Two datasets: ``random`` (i.i.d. on the sphere: the worst case for
any index) and ``clustered`` ("face-like": vectors around ``--clusters`` centres, cosine ~0.4
between members of a cluster, ~0.63 to the centre).

Latency: one query per call (batch of 1), ``search(q, k=5)`` through each class's public API,
p50/p95 over ``--timed`` queries (``--timed-exact`` for the brute-force ones), FAISS OpenMP at
``--threads`` (2). Memory: each structure's own bytes, and the process RSS growth while building it.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faiss  # noqa: E402

from likeness.index import DEFAULT_NLIST, DEFAULT_NPROBE, DEFAULT_RERANK, ExactIndex, FaissIndex  # noqa: E402

CHUNK = 100_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


class Dataset:
    def __init__(self, kind: str, n: int, dim: int, per_key: int, n_queries: int, clusters: int, seed: int):
        rng = np.random.default_rng(seed)
        self.kind, self.dim, self.per_key = kind, dim, per_key
        centres = unit(rng.standard_normal((clusters, dim), dtype=np.float32)) if kind == "clustered" else None

        def draw(m: int) -> np.ndarray:
            x = unit(rng.standard_normal((m, dim), dtype=np.float32))
            if centres is None:
                return x
            return unit(np.sqrt(0.4, dtype=np.float32) * centres[rng.integers(0, clusters, m)]
                        + np.sqrt(0.6, dtype=np.float32) * x)

        n_bg = n // per_key * per_key
        total = n_bg + n_queries * per_key
        self.vecs = np.empty((total, dim), np.float32)
        started = time.perf_counter()
        for s in range(0, total, CHUNK):
            e = min(total, s + CHUNK)
            self.vecs[s:e] = draw(e - s)
            if (s // CHUNK) % 5 == 4 or e == total:
                log(f"{kind}: generated {e:,}/{total:,} vectors ({time.perf_counter() - started:.0f} s)")
        self.n_keys = total // per_key
        self.keys = [f"bg-{i}" for i in range(n_bg // per_key)] + [f"planted-{j}" for j in range(n_queries)]
        self.row_key = np.repeat(np.arange(self.n_keys), per_key)  # row -> key number

        # Planted queries: a random vector of each planted key, moved to cosine U(0.7, 0.9).
        first = n_bg // per_key
        self.truth = np.arange(first, first + n_queries)
        rows = self.truth * per_key + rng.integers(0, per_key, n_queries)
        p = self.vecs[rows]
        u = rng.standard_normal((n_queries, dim), dtype=np.float32)
        u = unit(u - (u * p).sum(1, keepdims=True) * p)
        c = rng.uniform(0.7, 0.9, n_queries).astype(np.float32)[:, None]
        self.planted = np.ascontiguousarray(unit(c * p + np.sqrt(1 - c * c) * u))
        self.strangers = np.ascontiguousarray(draw(n_queries))

    def items(self, start: int = 0, stop: int | None = None):
        stop = self.n_keys if stop is None else stop
        pk = self.per_key
        return ((self.keys[i], self.vecs[i * pk:(i + 1) * pk]) for i in range(start, stop))


def percentiles(fn, queries: np.ndarray) -> tuple[float, float]:
    for q in queries[:5]:   # warm-up
        fn(q)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
    p50, p95 = np.percentile(np.array(times) * 1e3, [50, 95])
    return float(p50), float(p95)


def key_recall(found: list[str], expected: list[str]) -> float:
    return float(np.mean([a == b for a, b in zip(found, expected)]))


def top1(results) -> list[str]:
    return [hits[0].key if hits else "" for hits in results]


def run_dataset(ds: Dataset, args) -> list[dict]:
    rows: list[dict] = []
    total = len(ds.vecs)
    n_timed = min(args.timed, len(ds.planted))
    n_timed_exact = min(args.timed_exact, len(ds.planted))
    planted_keys = [ds.keys[i] for i in ds.truth]

    # ---- FAISS IndexFlatIP: the raw library exact search, and the ground truth.
    log(f"{ds.kind}: IndexFlatIP add {total:,}")
    before, t0 = rss_mb(), time.perf_counter()
    flat = faiss.IndexFlatIP(ds.dim)
    flat.add(ds.vecs)
    build = time.perf_counter() - t0
    grew = rss_mb() - before
    _, gp = flat.search(ds.planted, 1)
    _, gs = flat.search(ds.strangers, 1)
    exact_planted = [ds.keys[ds.row_key[i]] for i in gp[:, 0]]
    exact_strangers = [ds.keys[ds.row_key[i]] for i in gs[:, 0]]
    log(f"{ds.kind}: IndexFlatIP timing {n_timed_exact} single queries")
    p50, p95 = percentiles(lambda q: flat.search(q[None, :], 5), ds.planted[:n_timed_exact])
    rows.append(dict(method="FAISS IndexFlatIP (exact)", build=build, mem=flat.ntotal * ds.dim * 4 / 2**20,
                     rss=grew, p50=p50, p95=p95, planted=key_recall(exact_planted, planted_keys),
                     strangers=1.0))
    del flat
    gc.collect()

    # ---- ExactIndex
    log(f"{ds.kind}: ExactIndex add_many {ds.n_keys:,} keys")
    before, t0 = rss_mb(), time.perf_counter()
    exact = ExactIndex(ds.dim)
    step = max(1, ds.n_keys // 5)
    for s in range(0, ds.n_keys, step):
        exact.add_many(ds.items(s, min(ds.n_keys, s + step)))
    build = time.perf_counter() - t0
    grew = rss_mb() - before
    log(f"{ds.kind}: ExactIndex timing {n_timed_exact} single queries")
    p50, p95 = percentiles(lambda q: exact.search(q, k=5), ds.planted[:n_timed_exact])
    rows.append(dict(method="ExactIndex (numpy)", build=build, mem=exact.nbytes / 2**20, rss=grew, p50=p50,
                     p95=p95, planted=key_recall(top1(exact.search_many(ds.planted, k=5)), planted_keys),
                     strangers=key_recall(top1(exact.search_many(ds.strangers, k=5)), exact_strangers)))
    del exact
    gc.collect()

    # ---- FaissIndex (bulk load as at start-up, then one training)
    log(f"{ds.kind}: FaissIndex add_many {ds.n_keys:,} keys")
    before, t0 = rss_mb(), time.perf_counter()
    ann = FaissIndex(ds.dim, nlist=args.nlist, nprobe=args.nprobe, rerank=args.rerank, auto_rebuild=False)
    for s in range(0, ds.n_keys, step):
        ann.add_many(ds.items(s, min(ds.n_keys, s + step)))
        log(f"{ds.kind}: FaissIndex {min(ds.n_keys, s + step):,}/{ds.n_keys:,} keys")
    log(f"{ds.kind}: FaissIndex training (k-means {args.nlist} lists, PQ) and encoding")
    ann.rebuild()
    build = time.perf_counter() - t0
    grew = rss_mb() - before
    log(f"{ds.kind}: FaissIndex {ann.structure} built in {build:.0f} s; timing {n_timed} single queries")

    def measure_ann(label: str) -> dict:
        p50, p95 = percentiles(lambda q: ann.search(q, k=5), ds.planted[:n_timed])
        return dict(method=label, build=build, mem=ann.nbytes / 2**20, rss=grew, p50=p50, p95=p95,
                    planted=key_recall(top1(ann.search_many(ds.planted, k=5)), planted_keys),
                    strangers=key_recall(top1(ann.search_many(ds.strangers, k=5)), exact_strangers))

    rows.append(measure_ann(f"FaissIndex ({ann.structure})"))
    if args.sweep:
        seen = {ann.structure}
        for nprobe in args.sweep:
            ann.tune(nprobe=nprobe)
            if ann.structure in seen:     # more lists than a small index has
                continue
            seen.add(ann.structure)
            log(f"{ds.kind}: FaissIndex sweep {ann.structure}")
            rows.append(measure_ann(f"  sweep: {ann.structure}") | dict(build=None, mem=None, rss=None))
        ann.tune(nprobe=args.nprobe)
        for rerank in args.sweep_rerank:
            ann.tune(rerank=rerank)
            log(f"{ds.kind}: FaissIndex sweep {ann.structure}")
            rows.append(measure_ann(f"  sweep: {ann.structure}") | dict(build=None, mem=None, rss=None))
        ann.tune(rerank=args.rerank)
    del ann
    gc.collect()

    if args.candidates:
        rows.extend(candidates(ds, args, planted_keys, exact_strangers))
    return rows


def candidates(ds: Dataset, args, planted_keys, exact_strangers) -> list[dict]:
    """Raw FAISS structures the choice was made among (ids = rows, top-1 row -> key)."""
    out = []
    n_timed = min(args.timed, len(ds.planted))

    def evaluate(label, index, build, mem, search):
        _, ip = search(ds.planted, 1)
        _, is_ = search(ds.strangers, 1)
        p50, p95 = percentiles(lambda q: search(q[None, :], 5), ds.planted[:n_timed])
        out.append(dict(method=label, build=build, mem=mem, rss=None, p50=p50, p95=p95,
                        planted=key_recall([ds.keys[ds.row_key[i]] for i in ip[:, 0]], planted_keys),
                        strangers=key_recall([ds.keys[ds.row_key[i]] for i in is_[:, 0]], exact_strangers)))

    log(f"{ds.kind}: candidate HNSW32 (efConstruction 40) add {len(ds.vecs):,} (slow)")
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(ds.dim, 32, faiss.METRIC_INNER_PRODUCT)
    for s in range(0, len(ds.vecs), 4 * CHUNK):
        hnsw.add(ds.vecs[s:s + 4 * CHUNK])
        log(f"{ds.kind}: HNSW32 {hnsw.ntotal:,}/{len(ds.vecs):,} ({time.perf_counter() - t0:.0f} s)")
    build = time.perf_counter() - t0
    mem = (len(ds.vecs) * ds.dim * 4 + len(ds.vecs) * 32 * 2 * 4 * 1.05) / 2**20
    for ef in (64, 128, 256, 512):
        params = faiss.SearchParametersHNSW(efSearch=ef)
        evaluate(f"  raw HNSW32 efSearch={ef}", hnsw, build, mem,
                 lambda x, k, p=params: hnsw.search(x, k, params=p))
    del hnsw
    gc.collect()

    log(f"{ds.kind}: candidate IVF{args.nlist},Flat (train + add)")
    t0 = time.perf_counter()
    ivf = faiss.index_factory(ds.dim, f"IVF{args.nlist},Flat", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(ivf).cp.spherical = True
    sample = np.random.default_rng(0).choice(len(ds.vecs), min(len(ds.vecs), 64 * args.nlist), replace=False)
    ivf.train(ds.vecs[np.sort(sample)])
    ivf.add(ds.vecs)
    build = time.perf_counter() - t0
    mem = (len(ds.vecs) * (ds.dim * 4 + 8)) / 2**20
    for nprobe in (128, 256, 512):
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        evaluate(f"  raw IVF{args.nlist},Flat nprobe={nprobe}", ivf, build, mem,
                 lambda x, k, p=params: ivf.search(x, k, params=p))
    del ivf
    gc.collect()
    return out


def print_table(ds: Dataset, rows: list[dict], args) -> None:
    print(f"\n### {ds.kind}: {len(ds.vecs):,} unit {ds.dim}-d vectors, {ds.n_keys:,} keys x {ds.per_key}; "
          f"{len(ds.planted):,} planted queries (cos 0.7-0.9), {len(ds.strangers):,} strangers; "
          f"{args.threads} FAISS threads; p50/p95 over {min(args.timed, len(ds.planted))} single queries "
          f"({min(args.timed_exact, len(ds.planted))} for the exact ones)\n")
    print("| method | build s | memory MB (own / RSS growth) | p50 ms | p95 ms | recall@1 planted "
          "| strangers: top-1 = exact |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def num(v, fmt):
        return "" if v is None else format(v, fmt)

    for r in rows:
        mem = "" if r["mem"] is None else f"{r['mem']:,.0f}" + ("" if r["rss"] is None else f" / {r['rss']:,.0f}")
        print(f"| {r['method']} | {num(r['build'], '.1f')} | {mem} | {r['p50']:.3f} | {r['p95']:.3f} "
              f"| {r['planted']:.3f} | {r['strangers']:.3f} |")
    flat, ann = rows[0], next(r for r in rows if r["method"].startswith("FaissIndex"))
    exact = rows[1]
    print(f"\nFaissIndex vs IndexFlatIP: {flat['p50'] / ann['p50']:.1f}x faster at p50, "
          f"{flat['p95'] / ann['p95']:.1f}x at p95; ExactIndex vs IndexFlatIP: "
          f"{flat['p50'] / exact['p50']:.2f}x at p50.", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="background vectors (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=128, help="128 (SFace) or 512 (ArcFace)")
    ap.add_argument("--per-key", type=int, default=4, help="vectors per key (template + exemplars)")
    ap.add_argument("--queries", type=int, default=1000, help="planted keys/queries, and as many strangers")
    ap.add_argument("--datasets", default="random,clustered")
    ap.add_argument("--clusters", type=int, default=4000)
    ap.add_argument("--nlist", type=int, default=DEFAULT_NLIST)
    ap.add_argument("--nprobe", type=int, default=DEFAULT_NPROBE)
    ap.add_argument("--rerank", type=int, default=DEFAULT_RERANK)
    ap.add_argument("--sweep", default="128,256,1024", help="other nprobe values to time ('' for none)")
    ap.add_argument("--sweep-rerank", default="16,256", help="other rerank values to time ('' for none)")
    ap.add_argument("--timed", type=int, default=1000, help="single queries timed for FaissIndex")
    ap.add_argument("--timed-exact", type=int, default=200, help="single queries timed for the exact ones")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--candidates", action="store_true", help="also raw HNSW32 and IVF-Flat (random only)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.sweep = [int(x) for x in args.sweep.split(",") if x.strip()]
    args.sweep_rerank = [int(x) for x in args.sweep_rerank.split(",") if x.strip()]

    faiss.omp_set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"face_search: faiss {faiss.__version__}, numpy {np.__version__}, {args.threads} threads, "
          f"{time.strftime('%Y-%m-%d')}; argv: {' '.join(sys.argv[1:]) or '(defaults)'}")
    for i, kind in enumerate(args.datasets.split(",")):
        ds = Dataset(kind, args.n, args.dim, args.per_key, args.queries, args.clusters, args.seed + i)
        cand = args.candidates
        args.candidates = cand and kind == "random"
        rows = run_dataset(ds, args)
        args.candidates = cand
        print_table(ds, rows, args)
        del ds
        gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:,.0f} MB; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
