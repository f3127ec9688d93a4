"""Hash-bank lookups: our BankIndex (FAISS binary index, 32 bytes a PDQ hash, exact Hamming range
search) against python-threatexchange's PDQIndex2 (what hasher-matcher-actioner uses: a float
IndexFlatL2 over the 256 bits) on the same random bank, measured in the same run: query latency
p50/p95, build time and the index's memory.

    python bench/hashbank.py [--size 1000000] [--queries 200]

Queries are banked hashes with 0-20 bits flipped (should match) and fresh random hashes (should not).
Latencies include hashing nothing: both sides get the same 256-bit query.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2  # noqa: E402

from safety.hashbanks import BankIndex, _BankRow  # noqa: E402


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None, help="FAISS OpenMP threads (default: FAISS's own)")
    args = ap.parse_args()
    if args.threads:
        import faiss
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    bank = np.unpackbits(rng.integers(0, 256, (args.size, 32), dtype=np.uint8), axis=1)
    hexes = ["".join(f"{b:02x}" for b in np.packbits(row)) for row in bank] if args.size <= 20_000 else None
    if hexes is None:  # faster hex for big banks
        packed = np.packbits(bank, axis=1)
        hexes = [row.tobytes().hex() for row in packed]
    print(f"bank of {args.size:,} random PDQ hashes", file=sys.stderr)

    started = time.perf_counter()
    ours = BankIndex([_BankRow("b", "bench", "block", "c", False, 31, 8)],
                     ((f"s{i}", "b", "pdq", h) for i, h in enumerate(hexes)))
    ours_build = time.perf_counter() - started
    started = time.perf_counter()
    theirs = PDQIndex2(entries=((h, i) for i, h in enumerate(hexes)))
    theirs_build = time.perf_counter() - started

    queries, expect = [], []
    for i in range(args.queries):
        if i % 2 == 0:
            row = bank[rng.integers(args.size)].copy()
            flips = rng.choice(256, size=int(rng.integers(0, 21)), replace=False)
            row[flips] ^= 1
            expect.append(True)
        else:
            row = rng.integers(0, 2, 256, dtype=np.uint8)
            expect.append(False)
        queries.append(np.packbits(row).tobytes().hex())

    # One side after the other: interleaved, each one's idle BLAS/OpenMP threads spin against the other's.
    ours_ms, ours_found = [], []
    for q in queries:
        query = np.frombuffer(bytes.fromhex(q), np.uint8).reshape(1, -1)
        started = time.perf_counter()
        lims, dist, ids = ours.pdq.range_search(query, ours.pdq_radius + 1)
        ours_ms.append((time.perf_counter() - started) * 1000)
        ours_found.append(bool(lims[1] > lims[0]))
    theirs_ms, theirs_found = [], []
    for q in queries:
        started = time.perf_counter()
        found = theirs.query(q)
        theirs_ms.append((time.perf_counter() - started) * 1000)
        theirs_found.append(bool(found))
    agree = sum(a == b == should for a, b, should in zip(ours_found, theirs_found, expect))
    ours_mb = ours.pdq.ntotal * ours.pdq.code_size / 2**20
    theirs_mb = theirs._index.faiss_index.ntotal * theirs._index.faiss_index.d * 4 / 2**20
    print(f"{'':24} {'p50 ms':>8} {'p95 ms':>8} {'build s':>8} {'index MB':>9}")
    print(f"{'BankIndex (binary)':24} {pct(ours_ms, 50):8.2f} {pct(ours_ms, 95):8.2f} {ours_build:8.1f} {ours_mb:9.0f}")
    print(f"{'PDQIndex2 (threatexch.)':24} {pct(theirs_ms, 50):8.2f} {pct(theirs_ms, 95):8.2f} "
          f"{theirs_build:8.1f} {theirs_mb:9.0f}")
    print(f"ratio ours/theirs: p50 {pct(ours_ms, 50) / pct(theirs_ms, 50):.2f}x, "
          f"p95 {pct(ours_ms, 95) / pct(theirs_ms, 95):.2f}x, memory {ours_mb / theirs_mb:.3f}x; "
          f"both right on {agree}/{len(queries)} queries (half near a banked hash, half random)")


if __name__ == "__main__":
    main()
