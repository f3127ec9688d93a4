"""Text IP classifier on the labelled prompt set: precision/recall overall, per category and per
layer, decisions against the labels, and latency against the raw embedding call for one prompt
measured in the same run.

    python bench/ip_text.py [--labels copyright/data/ip_prompts.jsonl] [--rounds 3] [--calibrate]
                            [--calibrate-everyday] [--counts-only] [--head FILE|none] [--facts FILE|none]

Other sets written blind, apart from the labelled one: copyright/data/ip_everyday_lookalikes.jsonl
(fresh2: everyday prompts in famous works' words, among what the work head's cut-offs are chosen
on; fresh3: look-alikes and described prompts of 40 works, only measured) and
copyright/data/ip_described_blind.jsonl (fresh4: 3,168 described prompts, six facets per work, by
four writers; only measured) and copyright/data/ip_other_languages.jsonl (fresh5: 220 prompts naming a
work as ten other languages write it, 22 each in ru, zh, ja, ko, ar, hi, es, fr, de, pt, and 100 benign
prompts in those languages in words that are also part of a local title; a table per language).
Measure those with --counts-only.

A prompt counts as detected when its labelled work is among the matches (review or block); a
false positive is a negative prompt with any match, or a positive one whose labelled work is not
matched but another is. --calibrate sweeps the thresholds (embeddings computed once) and prints the
tables that justify the defaults, with a two-fold check (choose on one half, measure on the other).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.stage import Decision  # noqa: E402
from app.kit.text_embedding import load_text_embedder  # noqa: E402
from app.kit.textmatch import normalise  # noqa: E402
from copyright.catalogue import load_catalogue  # noqa: E402
from copyright.work_facts import index_path, load as load_facts  # noqa: E402
from copyright.work_head import NEVER, head_path, load_head  # noqa: E402
from copyright.ip_text import DEFAULT_THRESHOLDS, IpMatch, IpTextClassifier, Thresholds  # noqa: E402

LABELS = Path(__file__).resolve().parents[1] / "copyright" / "data" / "ip_prompts.jsonl"


@dataclass(frozen=True)
class Row:
    prompt: str
    work_id: str | None
    decision: str
    category: str
    # "holdout": written before the thresholds that read it were chosen, never calibrated on
    # (--calibrate leaves these rows out; the report shows them apart).
    split: str = "calibration"
    language: str = ""   # the language a row is written in, where a set says (ip_other_languages.jsonl)


def load_rows(path: Path) -> list[Row]:
    return [Row(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def progress(label: str, i: int, n: int) -> None:
    if sys.stderr.isatty() or i == n or i % 50 == 0:
        end = "\n" if i == n else "\r" if sys.stderr.isatty() else "\n"
        print(f"  {label} {i}/{n}", end=end, file=sys.stderr, flush=True)


def decided(matches: list[IpMatch]) -> str:
    if any(m.decision == Decision.BLOCK for m in matches):
        return "block"
    return "review" if matches else "allow"


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    positives: int = 0
    negatives: int = 0
    agree: int = 0
    n: int = 0

    def add(self, row: Row, matches: list[IpMatch]) -> None:
        ids = {m.work_id for m in matches}
        self.n += 1
        self.agree += decided(matches) == row.decision
        if row.work_id is None:
            self.negatives += 1
            self.fp += bool(ids)
            return
        self.positives += 1
        if row.work_id in ids:
            self.tp += 1
        else:
            self.fn += 1
            self.fp += bool(ids)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(rows: list[Row], results: list[list[IpMatch]]) -> Scores:
    scores = Scores()
    for row, matches in zip(rows, results):
        scores.add(row, matches)
    return scores


def report(rows: list[Row], results: list[list[IpMatch]], counts_only: bool = False) -> Scores:
    total = evaluate(rows, results)
    print(f"\nlabelled prompts: {len(rows)} ({total.positives} naming or describing a work, {total.negatives} not)")
    print(f"  detection  precision {total.precision:.3f}  recall {total.recall:.3f}  F1 {total.f1:.3f}  "
          f"(tp {total.tp}, fp {total.fp}, fn {total.fn})")
    print(f"  decision agrees with the label: {total.agree}/{total.n} ({total.agree / total.n:.3f})")
    predicted_block = [(r, m) for r, m in zip(rows, results) if decided(m) == "block"]
    good_blocks = sum(r.work_id is not None and r.work_id in {x.work_id for x in m} for r, m in predicted_block)
    print(f"  block precision (blocked prompts that do refer to their labelled work): "
          f"{good_blocks}/{len(predicted_block)}")

    print(f"\n{'category':18} {'n':>4} {'recall':>7} {'flagged neg':>11} {'decision ok':>11}")
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_cat[row.category].append(i)
    for cat, idx in by_cat.items():
        s = evaluate([rows[i] for i in idx], [results[i] for i in idx])
        recall = f"{s.recall:.3f}" if s.positives else "-"
        flagged = f"{s.fp}/{s.negatives}" if s.negatives else "-"
        print(f"{cat:18} {s.n:4d} {recall:>7} {flagged:>11} {s.agree / s.n:11.3f}")

    print(f"\n{'layer (via)':14} {'matches':>7} {'labelled work':>13} {'other work':>10} {'on negative':>11}")
    layers: dict[str, Counter[str]] = defaultdict(Counter)
    for row, matches in zip(rows, results):
        for m in matches:
            kind = "on negative" if row.work_id is None else "labelled" if m.work_id == row.work_id else "other"
            layers[m.via][kind] += 1
    for via in ("title", "alias", "fuzzy_alias", "description", "semantic", "learned", "facts"):
        c = layers.get(via, Counter())
        print(f"{via:14} {sum(c.values()):7d} {c['labelled']:13d} {c['other']:10d} {c['on negative']:11d}")

    for split in sorted({r.split for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.split == split]
        s = evaluate([rows[i] for i in idx], [results[i] for i in idx])
        blocks = [i for i in idx if rows[i].decision == "block"]
        pinned = sum(decided(results[i]) == "block" and rows[i].work_id in {m.work_id for m in results[i]}
                     for i in blocks)
        negatives = [i for i in idx if rows[i].work_id is None]
        print(f"  split {split:12} n {s.n:4d}: detection P {s.precision:.3f} R {s.recall:.3f}; block-labelled "
              f"blocked {pinned}/{len(blocks)}; negatives blocked {sum(decided(results[i]) == 'block' for i in negatives)}"
              f"/{len(negatives)}, reviewed {sum(decided(results[i]) == 'review' for i in negatives)}/{len(negatives)}")

    languages = sorted({r.language for r in rows if r.language})
    if languages:
        print(f"\n{'language':9} {'named: blocked as the work':>27} {'benign: blocked':>16} {'reviewed':>9}")
        for language in languages:
            named = [(r, m) for r, m in zip(rows, results) if r.language == language and r.work_id]
            benign = [m for r, m in zip(rows, results) if r.language == language and not r.work_id]
            pinned = sum(decided(m) == "block" and r.work_id in {x.work_id for x in m} for r, m in named)
            blocked = sum(decided(m) == "block" for m in benign)
            reviewed = sum(decided(m) == "review" for m in benign)
            print(f"{language:9} {pinned:>21}/{len(named):<5} {blocked:>10}/{len(benign):<5} {reviewed:>9}")

    print("\nexpected \\ got   allow review  block")
    for want in ("allow", "review", "block"):
        got = Counter(decided(m) for r, m in zip(rows, results) if r.decision == want)
        print(f"{want:15} {got['allow']:6d} {got['review']:6d} {got['block']:6d}")

    misses = [(r, m) for r, m in zip(rows, results)
              if (r.work_id is None and m) or (r.work_id is not None and r.work_id not in {x.work_id for x in m})]
    if misses and not counts_only:
        print("\nerrors (false positives and misses):")
        for row, matches in misses:
            got = ", ".join(f"{m.work_id} {m.decision.value} {m.via} {m.score:.2f}" for m in matches) or "nothing"
            print(f"  [{row.category}] {row.prompt[:70]!r}: want {row.work_id or 'nothing'}, got {got}")
    return total


def timed_runs(clf: IpTextClassifier, rows: list[Row],
               rounds: int) -> tuple[list[list[IpMatch]], list[float], list[float]]:
    """Classifier latency and, interleaved on the same prompts, the raw embedding call."""
    embedder = clf.embedder
    for row in rows[:10]:  # warm-up: torch sizes its kernels on first use
        clf.classify(row.prompt)
        embedder.embed([normalise(row.prompt)])
    results: list[list[IpMatch]] = []
    clf_ms: list[float] = []
    raw_ms: list[float] = []
    n = rounds * len(rows)
    for k in range(n):
        row = rows[k % len(rows)]
        text = normalise(row.prompt)
        started = time.perf_counter()
        embedder.embed([text])
        raw_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        matches = clf.classify(row.prompt)
        clf_ms.append((time.perf_counter() - started) * 1000)
        if k < len(rows):
            results.append(matches)
        progress("classifying", k + 1, n)
    return results, clf_ms, raw_ms


def probe_texts() -> list[tuple[str, str | None]]:
    """Ordinary text for the fuzzy layer's false positives, each with the work it is about (a
    work's own description may name it): people's names, descriptions, this project's docs."""
    root = Path(__file__).resolve().parents[1]
    texts: list[tuple[str, str | None]] = []
    figures = json.loads((root / "likeness" / "data" / "public_figures.json").read_text(encoding="utf-8"))
    for fig in figures["figures"]:
        texts += [(name, None) for name in (fig["name"], *fig.get("aliases", []))]
    works = json.loads((root / "copyright" / "data" / "works.json").read_text(encoding="utf-8"))
    texts += [(d, w["id"]) for w in works["works"] for d in w.get("descriptions", [])]
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        texts += [(line.strip(), None) for line in doc.read_text(encoding="utf-8").splitlines()
                  if len(line.split()) > 3]
    return texts


# --- calibration ---------------------------------------------------------------------------------

EVERYDAY_LOOKALIKES = LABELS.parent / "ip_everyday_lookalikes.jsonl"
EVERYDAY_GRID = (NEVER, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15, 0.20)


def everyday_rows() -> dict[str, list[Row]]:
    """What the everyday trade is shown on: the labelled set without its holdout rows, and the first
    everyday look-alikes (fresh2), both among what the head's cut-offs were chosen on. Not the head's
    training prompts (its centroids hold them) and never fresh3, which is only measured."""
    labelled = [r for r in load_rows(LABELS) if r.split != "holdout"]
    lookalikes = [r for r in load_rows(EVERYDAY_LOOKALIKES) if r.split == "fresh2"]
    return {"labelled": labelled, "fresh2": lookalikes}


def sweep_everyday(clf: IpTextClassifier) -> None:
    """The work head's everyday_unpins / everyday_clears (chosen when it is trained, on its kept-back
    rows and the calibration negatives): each row classified once without them, then every meaning
    or head match re-judged by its everyday lead (WorkHeadCutoffs.weighed), to show the trade."""
    if clf.head is None or clf.head.everyday is None:
        raise SystemExit("the work head keeps no everyday counterparts: retrain it (greenlight works train-head)")
    plain = replace(clf.head.cutoffs, everyday_unpins=NEVER, everyday_clears=NEVER)
    base = clf.with_head(replace(clf.head, cutoffs=plain)).with_facts(None)   # as the head is trained: no facts
    groups = everyday_rows()
    judged: dict[str, list[tuple[Row, list[tuple[IpMatch, float | None]]]]] = {}
    for name, rows in groups.items():
        out = []
        for i, row in enumerate(rows, 1):
            vectors = base.view_vectors(row.prompt)
            matches = base.classify(row.prompt)
            out.append((row, [(m, (base.everyday_lead(m.work_id, vectors) or (None,))[0]
                               if m.via in ("semantic", "learned") else None) for m in matches]))
            progress(f"everyday leads, {name}", i, len(rows))
        judged[name] = out

    def outcome(unpins: float, clears: float, row_matches) -> list[IpMatch]:
        cut, kept = replace(plain, everyday_unpins=unpins, everyday_clears=clears), []
        for m, lead in row_matches:
            level = cut.weighed(m.decision == Decision.BLOCK, lead)
            if level is not None:
                kept.append(m if level == m.decision.value else replace(m, decision=Decision.REVIEW))
        return kept

    print("\neveryday counterparts: per group, described prompts blocked as their work / flagged, and "
          "prompts about no work blocked / reviewed")
    head = f"{'unpins':>6} {'clears':>6}" + "".join(f" {g + ' pos':>16} {g + ' neg':>14}" for g in judged)
    print(head)
    for unpins in EVERYDAY_GRID:
        for clears in EVERYDAY_GRID:
            if clears < unpins:
                continue
            cells = []
            for rows in judged.values():
                pos_b = pos_f = pos = neg_b = neg_r = neg = 0
                for row, row_matches in rows:
                    got = outcome(unpins, clears, row_matches)
                    ids = {m.work_id for m in got}
                    if row.work_id is None:
                        neg += 1
                        neg_b += decided(got) == "block"
                        neg_r += decided(got) == "review"
                    else:
                        pos += 1
                        pos_f += row.work_id in ids
                        pos_b += decided(got) == "block" and row.work_id in ids
                cells.append(f" {pos_b:5d}/{pos_f:4d}/{pos:4d} {neg_b:4d}/{neg_r:4d}/{neg:4d}")
            label = lambda v: "-" if v >= NEVER else f"{v:+.2f}"  # noqa: E731
            print(f"{label(unpins):>6} {label(clears):>6}" + "".join(cells))



def sweep(clf: IpTextClassifier, rows: list[Row], folds: bool = True) -> None:
    cache: dict[str, dict] = {}
    for i, row in enumerate(rows):
        cache[row.prompt] = clf.semantic_scores(row.prompt)
        progress("embedding", i + 1, len(rows))

    def run(th: Thresholds, subset: list[Row]) -> list[list[IpMatch]]:
        # the meaning layer's own cut-offs, without the work head and the facts (they have their own)
        variant = clf.with_thresholds(th).with_head(None).with_facts(None)
        variant.semantic_scores = lambda prompt, vectors=None: cache[prompt]  # type: ignore[method-assign]
        return [variant.classify(r.prompt) for r in subset]

    base = clf.thresholds
    print(f"\nsemantic_review (semantic_block {base.semantic_block}): detection over the whole set; default = best F1")
    print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'F1':>6} {'descriptive':>11} {'paraphrase':>10} "
          f"{'neg flagged':>11}")
    grid = [round(0.50 + 0.02 * i, 2) for i in range(16)]
    descriptive = [r for r in rows if r.category in ("descriptive", "long_prompt")]
    paraphrase = [r for r in rows if r.category == "paraphrase"]
    negatives = [r for r in rows if r.work_id is None]
    for t in grid:
        th = replace(base, semantic_review=t)
        s = evaluate(rows, run(th, rows))
        d = evaluate(descriptive, run(th, descriptive))
        para = evaluate(paraphrase, run(th, paraphrase))
        neg = evaluate(negatives, run(th, negatives))
        mark = " <- default" if abs(t - DEFAULT_THRESHOLDS.semantic_review) < 1e-9 else ""
        print(f"{t:9.2f} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} {d.recall:11.3f} {para.recall:10.3f} "
              f"{neg.fp:5d}/{len(negatives):<5d}{mark}")

    print("\nsemantic_block: blocks by the semantic layer alone, against the labels; default = most decisions "
          "agreeing with the labels, ties to the higher threshold")
    print(f"{'threshold':>9} {'right work, label block':>24} {'right work, label review':>25} "
          f"{'wrong work/negative':>19} {'decision ok':>11}")
    for t in [round(0.70 + 0.02 * i, 2) for i in range(16)] + [None]:
        th = replace(base, semantic_block=t)
        results = run(th, rows)
        good = over = wrong = 0
        for row, matches in zip(rows, results):
            for m in matches:
                if m.via == "semantic" and m.decision == Decision.BLOCK:
                    if m.work_id != row.work_id:
                        wrong += 1
                    elif row.decision == "block":
                        good += 1
                    else:
                        over += 1
        agree = evaluate(rows, results).agree
        mark = " <- default" if t == DEFAULT_THRESHOLDS.semantic_block else ""
        label = "never" if t is None else f"{t:.2f}"
        print(f"{label:>9} {good:24d} {over:25d} {wrong:19d} {agree:7d}/{len(rows)}{mark}")

    pin_sweep(clf, rows)

    probe = probe_texts()
    print("\nfuzzy: letters a name needs for 1 / 2 edits, and the score (1 - edits/letters) from which a fuzzy match "
          "blocks;\ndefault = no fuzzy match on the probe texts, then most misspellings found, then most decisions "
          f"agreeing.\nprobe: {len(probe)} texts that name no work (public figures' names and aliases, "
          "the catalogue's own descriptions, this project's docs)")
    print(f"{'1 edit':>6} {'2 edits':>7} {'block':>5} {'misspellings found':>18} {'blocked':>7} "
          f"{'fuzzy on other work/neg.':>24} {'probe hits':>10} {'decision ok':>11}")
    misspelt = [r for r in rows if r.category == "misspelling"]
    probe_hits: dict[tuple[int, int], list[tuple[str, IpMatch]]] = {}
    for one in (5, 6, 7, 8):
        for two in (9, 10, 12, 14):
            fuzzy_only = clf.with_thresholds(replace(base, fuzzy_one_edit_from=one, fuzzy_two_edits_from=two))
            hits = [(text, m) for text, own in probe for m in fuzzy_only.fuzzy(text)
                    if m.via == "fuzzy_alias" and m.work_id != own]
            probe_hits[(one, two)] = hits
            for block_t in (0.80, 0.85, 0.90):
                th = replace(base, fuzzy_one_edit_from=one, fuzzy_two_edits_from=two, fuzzy_block=block_t)
                results = run(th, rows)
                found = evaluate(misspelt, run(th, misspelt))
                blocked = sum(decided(m) == "block" for r, m in zip(rows, results) if r.category == "misspelling")
                bad = sum(1 for r, ms in zip(rows, results) for m in ms
                          if m.via == "fuzzy_alias" and m.work_id != r.work_id)
                agree = evaluate(rows, results).agree
                is_default = (one, two, block_t) == (DEFAULT_THRESHOLDS.fuzzy_one_edit_from,
                                                     DEFAULT_THRESHOLDS.fuzzy_two_edits_from,
                                                     DEFAULT_THRESHOLDS.fuzzy_block)
                print(f"{one:6d} {two:7d} {block_t:5.2f} {found.tp:11d}/{len(misspelt):<6d} {blocked:7d} {bad:24d} "
                      f"{len(hits):10d} {agree:7d}/{len(rows)}{' <- default' if is_default else ''}")
    for (one, two), hits in probe_hits.items():
        if hits and (one, two) in ((5, 9), (6, 9), (7, 9)):
            print(f"  probe hits at {one}/{two} letters:" + "".join(
                f"\n    {m.work_id} <- {text[:60]!r} (via {m.phrase!r}, {m.score:.2f})" for text, m in hits[:10]))

    if folds:
        print("\ntwo-fold check of semantic_review (choose by F1 on one half, measure on the other):")
        halves = (rows[0::2], rows[1::2])
        for name, (fit, held) in (("even->odd", halves), ("odd->even", halves[::-1])):
            best = max(grid, key=lambda t: (evaluate(fit, run(replace(base, semantic_review=t), fit)).f1, t))
            s = evaluate(held, run(replace(base, semantic_review=best), held))
            print(f"  {name}: chose {best:.2f}; held-out precision {s.precision:.3f} recall {s.recall:.3f}")


def pin_sweep(clf: IpTextClassifier, rows: list[Row]) -> None:
    """Issue 15: descriptions that pin one work block. Per (semantic_block, margin, maker
    threshold), on the calibration rows: blocks of the labelled work on block-labelled rows, and
    blocks on anything else (a negative, another work, a review-labelled row). Default = the
    lowest cut-offs with no wrong block, then the most right ones."""
    calibration = [r for r in rows if r.split not in ("holdout", "fresh")]
    base = clf.thresholds
    print(f"\npinned descriptions (semantic layer blocks), {len(calibration)} calibration rows "
          f"({sum(r.decision == 'block' for r in calibration)} labelled block); holdout rows left out")
    print(f"{'block':>5} {'margin':>6} {'maker':>5} {'right blocks':>12} {'wrong blocks':>12}")
    results = []
    for block in [round(0.70 + 0.02 * i, 2) for i in range(11)]:
        for margin in (0.05, 0.10, 0.15):
            for maker in (None, 0.55, 0.60, 0.65):
                th = replace(base, semantic_block=block, semantic_block_margin=margin, semantic_maker_block=maker)
                c = clf.with_thresholds(th)
                right = wrong = 0
                for row in calibration:
                    for m in c.semantic(row.prompt):
                        if m.decision != Decision.BLOCK:
                            continue
                        if row.decision == "block" and m.work_id == row.work_id:
                            right += 1
                        else:
                            wrong += 1
                results.append((block, margin, maker, right, wrong))
    for block, margin, maker, right, wrong in results:
        mark = " <- default" if (block, margin, maker) == (DEFAULT_THRESHOLDS.semantic_block,
                                                          DEFAULT_THRESHOLDS.semantic_block_margin,
                                                          DEFAULT_THRESHOLDS.semantic_maker_block) else ""
        if wrong <= 2 or mark:
            print(f"{block:5.2f} {margin:6.2f} {maker if maker is not None else '-':>5} {right:12d} {wrong:12d}{mark}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--rounds", type=int, default=3, help="timed passes over the labelled set")
    ap.add_argument("--calibrate", action="store_true", help="sweep thresholds, print the tables")
    ap.add_argument("--calibrate-everyday", action="store_true",
                    help="sweep the everyday counterparts' cut-offs (labelled set, training prompts, fresh2)")
    ap.add_argument("--counts-only", action="store_true",
                    help="print no prompt, only figures: a new split measured once stays unread")
    ap.add_argument("--head", default=None,
                    help="a work head file (default: the shipped one, or GL_IP_WORK_HEAD); 'none': without")
    ap.add_argument("--facts", default=None,
                    help="a work facts index (default: the shipped one, or GL_IP_WORK_FACTS); 'none': without")
    args = ap.parse_args()

    rows = load_rows(args.labels)
    started = time.perf_counter()
    embedder = load_text_embedder()
    load_s = time.perf_counter() - started
    catalogue = load_catalogue()
    started = time.perf_counter()
    head = None if args.head == "none" else load_head(head_path(args.head), embedder.tag)
    facts = None if args.facts == "none" else load_facts(index_path(args.facts), embedder.tag)
    clf = IpTextClassifier(catalogue, embedder, head=head, facts=facts)
    build_s = time.perf_counter() - started
    print(f"model {embedder.tag} from {embedder.path} (loaded in {load_s:.1f} s)")
    print(f"catalogue {catalogue.version}: {len(catalogue.works)} works, {len(clf.descriptions)} descriptions "
          f"embedded in {build_s:.1f} s")
    print(f"work head: {head.tag() + ' ' + head.cutoffs.tag() if head else 'none'}; "
          f"everyday counterparts kept: {len(head.everyday_texts) if head else 0}; "
          f"thresholds: {clf.thresholds}")
    print(f"work facts: {facts.tag() if facts else 'none'}")

    if args.calibrate:
        sweep(clf, rows)
        return
    if args.calibrate_everyday:
        sweep_everyday(clf)
        return

    results, clf_ms, raw_ms = timed_runs(clf, rows, args.rounds)
    report(rows, results, args.counts_only)
    print(f"\nlatency per prompt over {len(clf_ms)} calls ({args.rounds} rounds of {len(rows)}):")
    print(f"{'':40} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"  {'classify (all layers)':38} {pct(clf_ms, 50):8.2f} {pct(clf_ms, 95):8.2f}")
    print(f"  {'raw embed([prompt]) same run':38} {pct(raw_ms, 50):8.2f} {pct(raw_ms, 95):8.2f}")
    print(f"  ratio classify / raw embedding: p50 {pct(clf_ms, 50) / pct(raw_ms, 50):.2f}x, "
          f"p95 {pct(clf_ms, 95) / pct(raw_ms, 95):.2f}x")
    layers = {"exact (find + plurals)": clf.exact, "fuzzy": clf.fuzzy, "semantic (all views)": clf.semantic,
              "learned (work head, all views)": clf.learned, "facts (all views)": clf.recalled_facts}
    for name, layer in layers.items():
        ms = []
        for row in rows:
            started = time.perf_counter()
            layer(row.prompt)
            ms.append((time.perf_counter() - started) * 1000)
        print(f"  {'  layer: ' + name:38} {pct(ms, 50):8.2f} {pct(ms, 95):8.2f}")


if __name__ == "__main__":
    main()
