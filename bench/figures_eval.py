"""The public-figure gate on its labelled prompt set, by kind of prompt: block recall for prompts
that name or describe a person, false blocks and reviews for benign ones, tuned and held-out parts
apart, with the gate's time per prompt against the raw phrase lookup measured in the same run.

    python bench/figures_eval.py [--labels likeness/data/figure_prompts.jsonl] [--show-misses] [--everyday] [--no-head]

Kinds (issue 15): plain names; shouted ("OBAMA!!!"); other scripts (Cyrillic, Chinese, Japanese,
Korean, Arabic, Hebrew, Hindi); evasions (leetspeak, spaced letters, zero-width characters,
homoglyphs, fullwidth, misspellings, possessives); people described, not named; everyday words
that are also names ("a trump card"); benign prompts (in several languages too). Within each
kind, every third prompt (index 0, 3, 6, ...) is held out: aliases, context words and rules were
written looking at the others. One person wrote both the set and the aliases, so those rows measure
the kinds' coverage, not other people's prompts. Rows with a `split` were written outside the
project by someone who saw neither the list nor the rules, and are reported as their own parts:
`fresh` (its misses were read), `fresh_holdout` (only ever counted), and `fresh2` (written after
the figure head was trained, by another writer: 100 people described and 60 look-alikes; only
counted), and `fresh3` (90 people named in Russian, Chinese, Japanese, Korean, Arabic and Hindi,
with the languages' inflections, and 36 benign prompts in those languages in words that are also
names; by a writer blind to the list's other-script names; its flagged benign rows were read). Their `figure` may be a person's name as the writer spelled it; it is looked up in the
list, and a person the list lacks is a miss of the list. `--no-head`: the list's names and
descriptions as written only (no figure head, no respelling).

`--everyday` also runs the gate over the other gates' labelled prompts that the figure head never
trained on (the safety set's measured splits and its `eval` split, the IP set): prompts about
anything, a few of which do name a listed person. It counts what is blocked and reviewed, and by
which layer; with --show-misses it prints the flagged ones of the safety `eval` split and the IP
set's untagged rows, never a measured split's.

The decision is the stage's (likeness.public_figures) without the consent lookup: block when a
listed figure is named (or written as a name in context), or pinned down by a description or by
the figure head; review for an ambiguous name, a description that fits several people, or the
head's likely person; allow otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.stage import Decision  # noqa: E402
from likeness.figures import load_figures  # noqa: E402

LABELS = ROOT / "likeness" / "data" / "figure_prompts.jsonl"
UNREAD = ("fresh_holdout", "fresh2", "fresh3")
SAFETY_LABELS = ROOT / "safety" / "data" / "eval_prompts.jsonl"
IP_LABELS = ROOT / "copyright" / "data" / "ip_prompts.jsonl"
KINDS = ("plain", "shouted", "other_script", "evasion", "described", "nickname_or_other_script", "common_word",
         "lookalike", "benign")
PARTS = ("tuned", "held out", "fresh", "fresh_holdout", "fresh2", "fresh3")


def figure_id(figures, named: str | None) -> str | None:
    """A row's person as the list's id: an id already, or a name the list knows (as written)."""
    if named is None or any(f.id == named for f in figures.figures):
        return named
    found = [r.figure.id for r in figures.find(named) if r.via in ("name", "transliterated_name")]
    return found[0] if len(found) == 1 else f"unlisted:{named}"


def decide(figures, prompt: str) -> tuple[str, set[str]]:
    refs = figures.find(prompt)
    if any(r.decision == Decision.BLOCK for r in refs):
        return "block", {r.figure.id for r in refs if r.decision == Decision.BLOCK}
    return ("review", {r.figure.id for r in refs}) if refs else ("allow", set())


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.0f} % ({n}/{d})" if d else "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--everyday", action="store_true")
    ap.add_argument("--no-head", action="store_true", help="names and descriptions only, without the figure head")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    figures = load_figures().with_head(None, None) if args.no_head else load_figures()
    seen: dict[str, int] = defaultdict(int)
    results = {part: defaultdict(list) for part in PARTS}
    misses = []
    for row in rows:
        index = seen[row["kind"]]
        seen[row["kind"]] += 1
        part = row.get("split") or ("held out" if index % 3 == 0 else "tuned")
        decision, ids = decide(figures, row["prompt"])
        right_person = figure_id(figures, row.get("figure")) in ids if row["label"] == "block" else True
        results[part][row["kind"]].append((row["label"], decision, right_person))
        if (row["label"] == "block" and (decision != "block" or not right_person)) or \
                (row["label"] == "benign" and decision != "allow"):
            misses.append((part, row["kind"], decision, sorted(ids), row["prompt"]))

    print(f"{len(rows)} prompts, figure list {figures.version}\n")
    print("| kind | part | prompts | block recall (the right person) | review | benign blocked | benign reviewed |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind in KINDS:
        for part in PARTS:
            got = results[part].get(kind, [])
            if not got:
                continue
            harmful = [(d, ok) for label, d, ok in got if label == "block"]
            benign = [d for label, d, _ in got if label == "benign"]
            recall = pct(sum(d == "block" and ok for d, ok in harmful), len(harmful)) if harmful else "-"
            review = pct(sum(d == "review" for d, _ in harmful), len(harmful)) if harmful else "-"
            blocked = pct(sum(d == "block" for d in benign), len(benign)) if benign else "-"
            reviewed = pct(sum(d == "review" for d in benign), len(benign)) if benign else "-"
            print(f"| {kind} | {part} | {len(got)} | {recall} | {review} | {blocked} | {reviewed} |")
    for part in PARTS:
        if not results[part]:
            continue
        harmful = [(d, ok) for got in results[part].values() for label, d, ok in got if label == "block"]
        benign = [d for got in results[part].values() for label, d, _ in got if label == "benign"]
        print(f"\n{part}: block recall {pct(sum(d == 'block' and ok for d, ok in harmful), len(harmful))}, "
              f"benign blocked {pct(sum(d == 'block' for d in benign), len(benign))}, "
              f"benign reviewed {pct(sum(d == 'review' for d in benign), len(benign))}")

    # Time: the whole find() against the bare phrase lookup it starts with, same prompts, same run.
    prompts = [row["prompt"] for row in rows]
    for prompt in prompts:  # warm caches, as a running server would have them
        figures.find(prompt)
    whole, raw = [], []
    for _ in range(5):
        for prompt in prompts:
            t = time.perf_counter()
            figures.find(prompt)
            whole.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            figures._index.find(prompt)
            raw.append((time.perf_counter() - t) * 1000)
    w50, r50 = statistics.median(whole), statistics.median(raw)
    w95 = sorted(whole)[int(0.95 * (len(whole) - 1))]
    print(f"\ntime per prompt, the views already embedded (as in the gate, where the safety stage embedded "
          f"them first): find() p50 {w50:.3f} ms, p95 {w95:.3f} ms; bare phrase lookup p50 {r50:.3f} ms "
          f"({w50 / r50:.2f}x)")
    if figures.head is not None:
        # ... and with nothing embedded yet: find() against the raw embedding call of the same views
        from app.kit.text_embedding import load_text_embedder, prompt_views

        embedder = load_text_embedder()
        cold, embed = [], []
        for prompt in prompts:
            embedder.forget_recent()
            t = time.perf_counter()
            figures.find(prompt)
            cold.append((time.perf_counter() - t) * 1000)
            embedder.forget_recent()
            t = time.perf_counter()
            embedder.embed(prompt_views(prompt))
            embed.append((time.perf_counter() - t) * 1000)
        c50, e50 = statistics.median(cold), statistics.median(embed)
        c95, e95 = (sorted(x)[int(0.95 * (len(x) - 1))] for x in (cold, embed))
        print(f"time per prompt, nothing embedded yet: find() p50 {c50:.2f} ms, p95 {c95:.2f} ms; the raw "
              f"embedding call of its views p50 {e50:.2f} ms, p95 {e95:.2f} ms ({c50 / e50:.2f}x at p50)")
    if args.show_misses:
        print("\nmisses:")
        for miss in misses:
            if miss[0] not in UNREAD:   # counted, never read
                print("  ", *miss)
    if args.everyday:
        everyday(figures, args.show_misses)


def everyday_prompts() -> list[tuple[str, str, bool]]:
    """(prompt, where from, may be printed) for the other gates' labelled prompts the figure head
    never trained on (likeness/figure_head_training.py takes only their training splits)."""
    from safety.head_training import MEASURING_SPLITS

    out = []
    for line in SAFETY_LABELS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if row and row.get("split") in (*MEASURING_SPLITS, "eval"):
            out.append((row["prompt"], f"safety:{row['split']}", row["split"] == "eval"))
    for line in IP_LABELS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if row:
            out.append((row["prompt"], f"ip:{row.get('split') or 'calibration'}", not row.get("split")))
    return out


def everyday(figures, show: bool) -> None:
    prompts = everyday_prompts()
    flagged: dict[str, list[tuple[str, str, str]]] = {"block": [], "review": []}
    by_layer: dict[tuple[str, str], int] = defaultdict(int)
    for prompt, source, printable in prompts:
        refs = figures.find(prompt)
        decision, _ = decide(figures, prompt)
        if decision == "allow":
            continue
        top = [r for r in refs if r.decision == Decision.BLOCK] or refs
        by_layer[(decision, top[0].via)] += 1
        flagged[decision].append((source, top[0].figure.id, prompt if printable and show else ""))
    print(f"\nthe other gates' labelled prompts never trained on: {len(prompts)}; "
          f"blocked {len(flagged['block'])}, reviewed {len(flagged['review'])}")
    for (decision, via), n in sorted(by_layer.items()):
        print(f"   {decision} by {via}: {n}")
    if show:
        for decision, rows in flagged.items():
            for source, figure, prompt in rows:
                print(f"   {decision} {figure} [{source}] {prompt}")


if __name__ == "__main__":
    main()
