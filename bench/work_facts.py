"""The IP classifier's facts layer (copyright/work_facts.py), measured where it was not built.

    python bench/work_facts.py [--show] [--limit N]

The facts' benign ceilings are built here in memory the way `greenlight works build-facts` builds
the shipped index, but from half of the safety set's benign prompts only (by a hash of the prompt);
the other half is the held-out benign set the new blocks are counted on, with the everyday
look-alikes of fresh3 and the labelled set's `fresh` and `holdout` negatives, none of which any
ceiling reads. The described sets (fresh3, fresh4, the labelled `fresh` split) are written by people
who never saw the facts, and the facts by helpers who never saw them. Each prompt is classified with
and without the facts layer (the same views, embedded once), and the recall step is timed against
the raw embedding call of the same views, measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.stage import Decision  # noqa: E402
from app.kit.text_embedding import load_text_embedder  # noqa: E402
from copyright.catalogue import load_catalogue  # noqa: E402
from copyright.ip_text import IpTextClassifier  # noqa: E402
from copyright.work_facts import benign_texts, build, read_facts  # noqa: E402
from copyright.work_head import head_path, load_head  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAFETY_SET = ROOT / "safety" / "data" / "eval_prompts.jsonl"
DATA = ROOT / "copyright" / "data"


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def half(prompt: str) -> str:
    return "A" if hashlib.sha256(prompt.encode()).digest()[0] % 2 == 0 else "B"


def measured_sets(limit: int | None) -> tuple[dict[str, list[tuple[str, str, str]]], dict[str, list[str]]]:
    """Described sets: (prompt, work id, facet); benign sets: prompts. None of them builds a ceiling."""
    described: dict[str, list[tuple[str, str, str]]] = {
        "fresh4 described (3,168)": [(r["prompt"], r["work_id"], r["category"])
                                     for r in jsonl(DATA / "ip_described_blind.jsonl")],
        "fresh3 described (80)": [(r["prompt"], r["work_id"], r["category"])
                                  for r in jsonl(DATA / "ip_everyday_lookalikes.jsonl")
                                  if r["split"] == "fresh3" and r.get("work_id")],
        "labelled fresh described (60)": [(r["prompt"], r["work_id"], r["category"])
                                          for r in jsonl(DATA / "ip_prompts.jsonl")
                                          if r.get("split") == "fresh" and r.get("work_id")],
    }
    benign = {
        "safety benign, held-out half": [r["prompt"] for r in jsonl(SAFETY_SET)
                                         if not r["labels"] and half(r["prompt"]) == "B"],
        "fresh3 everyday look-alikes": [r["prompt"] for r in jsonl(DATA / "ip_everyday_lookalikes.jsonl")
                                        if r["split"] == "fresh3" and not r.get("work_id")],
        "labelled fresh + holdout negatives": [r["prompt"] for r in jsonl(DATA / "ip_prompts.jsonl")
                                               if r.get("split") in ("fresh", "holdout") and r["decision"] == "allow"],
    }
    if limit:
        described = {k: v[:limit] for k, v in described.items()}
        benign = {k: v[:limit] for k, v in benign.items()}
    return described, benign


def blocked_as(matches, work_id: str | None, franchise: dict[str, str] | None = None) -> bool:
    """Blocked at all (work_id None), as the work, or (with `franchise`) as a work of its franchise."""
    def right(m) -> bool:
        if work_id is None:
            return True
        return m.work_id == work_id if franchise is None else franchise.get(m.work_id) == franchise.get(work_id)
    return any(m.decision == Decision.BLOCK and right(m) for m in matches)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", action="store_true", help="print the benign prompts the facts newly block")
    ap.add_argument("--limit", type=int, default=None, help="at most this many prompts per set (a smoke run)")
    args = ap.parse_args()

    embedder = load_text_embedder()
    reader = IpTextClassifier(load_catalogue(), embedder, head=load_head(head_path(), embedder.tag))
    texts, _unlabelled, _sources = benign_texts()
    chosen_half = [r["prompt"] for r in jsonl(SAFETY_SET) if not r["labels"] and half(r["prompt"]) == "A"]
    if args.limit:
        texts, chosen_half = texts[:args.limit], chosen_half[:args.limit]
    started = time.perf_counter()
    facts = build(read_facts(), embedder, texts, unlabelled=chosen_half, version="bench", read_as=reader.blocked_kin)
    print(f"ceilings built from {len(texts)} copyright benign prompts and {len(chosen_half)} of the safety "
          f"set's benign prompts (half A) in {time.perf_counter() - started:.0f} s; cut-offs {facts.cutoffs.tag()}")
    with_facts = reader.with_facts(facts)
    described, benign = measured_sets(args.limit)

    franchise = {w.id: (w.franchise or w.id).casefold() for w in reader.catalogue.works}
    recall_ms, embed_ms = [], []
    print("\nblocked as the work, and in brackets as the work or a work of its franchise (the same rightsholder's)")
    print(f"{'described set':34} {'before':>22} {'after':>22}")
    for name, rows in described.items():
        before = after = kin_before = kin_after = 0
        facets_before: Counter[str] = Counter()
        facets_after: Counter[str] = Counter()
        facets: Counter[str] = Counter()
        for prompt, work_id, facet in rows:
            views = reader.views(prompt)
            vectors = embedder.embed(views)   # remembered: the two readings below reuse it
            t1 = time.perf_counter()
            with_facts.recalled_facts(prompt, vectors)
            t2 = time.perf_counter()
            embedder.forget_recent()
            t3 = time.perf_counter()
            embedder.embed(views)
            embed_ms.append((time.perf_counter() - t3) * 1000)
            recall_ms.append((t2 - t1) * 1000)
            plain, recalled = reader.classify(prompt), with_facts.classify(prompt)
            b, a = blocked_as(plain, work_id), blocked_as(recalled, work_id)
            kin_before += blocked_as(plain, work_id, franchise)
            kin_after += blocked_as(recalled, work_id, franchise)
            before, after = before + b, after + a
            facets[facet] += 1
            facets_before[facet] += b
            facets_after[facet] += a
        n = len(rows)
        print(f"{name:34} {before / n:>10.3f} ({kin_before / n:.3f}) {after / n:>14.3f} ({kin_after / n:.3f})")
        if len(facets) > 1:
            for facet in sorted(facets):
                n = facets[facet]
                print(f"  {facet:32} {facets_before[facet] / n:>10.3f} {facets_after[facet] / n:>22.3f}")

    print(f"\n{'benign set':34} {'blocked: before':>16} {'after':>8} {'new blocks by facts':>20}")
    for name, prompts in benign.items():
        before = after = 0
        shown = []
        for prompt in prompts:
            plain, recalled = reader.classify(prompt), with_facts.classify(prompt)
            b, a = blocked_as(plain, None), blocked_as(recalled, None)
            before, after = before + b, after + a
            if a and not b:
                shown.append((prompt, [m for m in recalled if m.via == "facts"]))
        print(f"{name:34} {before:>8}/{len(prompts):<7} {after:>8} {len(shown):>8} ({len(shown) / len(prompts):.2%})")
        if args.show:
            for prompt, matches in shown:
                for m in matches:
                    print(f"    {m.work_id}: {prompt[:110]!r}\n      facts: {m.phrase[:160]}")

    print(f"\nrecall step (views x {len(facts.book.texts)} facts, limits, per-view best): p50 {pct(recall_ms, 50):.3f} "
          f"/ p95 {pct(recall_ms, 95):.3f} ms; the raw embedding call of the same views p50 {pct(embed_ms, 50):.2f} / "
          f"p95 {pct(embed_ms, 95):.2f} ms: ratio {pct(recall_ms, 50) / pct(embed_ms, 50):.3f}x (p50), "
          f"{pct(recall_ms, 95) / pct(embed_ms, 95):.3f}x (p95)")


if __name__ == "__main__":
    main()
