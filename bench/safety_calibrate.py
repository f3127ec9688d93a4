"""Chooses the prompt classifier's meaning cut-offs on the calibration half of the labelled set and
writes them to safety/data/prompt_thresholds.toml (bench/safety_eval.py then measures the held-out
half).

    python bench/safety_calibrate.py [--labels safety/data/eval_prompts.jsonl] [--dry-run]

Each prompt is analysed once (one embedding call); every candidate is then a re-decision. The
rows are the calibration split's prompts and every exemplar scored against the others
(leave-one-out), which triples the benign texts the cut-offs must clear. Per benign_weight (how
hard a nearer benign look-alike pulls a score down), per category:
  review: the cut-off with the best F1 for "flagged in this category" (terms or meaning), among
      those at which meaning alone flags at most BENIGN_BUDGET benign rows; ties go to the higher;
  block: none: meaning alone never blocks (it reviews; a block needs a block term, or a review
      term and the meaning cut-off together). MiniLM finds harm in "kids splashing in a pool"
      (0.68 to "kids jumping from a roof into a pool"): a person decides;
  always-block categories (sexual_minors) have one cut-off, which blocks: at least BLOCK_MARGIN
      over the highest benign row (ties to the lower), and it counts only where the prompt names a
      minor.
Categories are chosen in the term policy's order, so sexual_minors sees sexual's cut-offs (a sexual
finding next to a reference to a minor is a sexual_minors block). The benign_weight with the best
macro F1 over the categories wins (ties: the smaller weight).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from safety_common import LABELS, ROOT, Row, build, load_rows, progress, uncalibrated

from app.stage import Decision
from safety.cutoffs import Cutoffs
from safety.prompt_classifier import (BENIGN, DEFAULT_EXEMPLARS, DEFAULT_THRESHOLDS, Exemplars,
                                      PromptClassifier, Thresholds)

WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
GRID = [round(x, 2) for x in np.arange(0.20, 0.901, 0.01)]
BLOCK_MARGIN = 0.10
BENIGN_BUDGET = 1     # benign calibration prompts meaning alone may flag, per category


def f1(flagged: np.ndarray, truth: np.ndarray, neutral: np.ndarray | None = None) -> tuple[float, float, float]:
    """F1, precision, recall; `neutral` rows (a flag there is neither right nor wrong) are left out."""
    if neutral is not None:
        flagged, truth = flagged[~neutral], truth[~neutral]
    tp = int((flagged & truth).sum())
    fp = int((flagged & ~truth).sum())
    fn = int((~flagged & truth).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def best_cut(scores: np.ndarray, truth: np.ndarray, already: np.ndarray, benign: np.ndarray,
             floor: float, neutral: np.ndarray, budget: int,
             ties_lower: bool = False) -> tuple[float, tuple[float, float, float]] | None:
    """The cut-off >= floor with the best F1 for `already | scores >= cut`, among those at which at
    most `budget` benign rows are flagged by the scores alone; ties go to the higher cut-off, or
    with `ties_lower` to the lower one."""
    best = None
    for t in GRID:
        if t < floor - 1e-9:
            continue
        flagged = scores >= t
        if int((flagged & benign & ~already).sum()) > budget:
            continue
        score = f1(already | flagged, truth, neutral)
        if best is None or score[0] > best[1][0] or (score[0] == best[1][0] and not ties_lower):
            best = (t, score)
    return best


def choose(clf: PromptClassifier, rows: list[Row], analyses, weight: float,
           budget: int = BENIGN_BUDGET) -> tuple[dict[str, Cutoffs], dict]:
    cats = list(clf.categories)
    scores = np.array([clf.meaning_scores(a.nearest, weight).max(axis=0) for a in analyses])
    benign = np.array([r.benign for r in rows])
    minor = np.array([a.minor_reference is not None for a in analyses])
    by_terms = {c: np.array([any(h.decision != Decision.ALLOW for h in a.term_hits.get(c, ())) for a in analyses])
                for c in clf.terms.categories}
    minors = clf.terms.minors_category.name if clf.terms.minors_category else None
    cutoffs: dict[str, Cutoffs] = {}
    stats: dict[str, tuple[float, float, float, float]] = {}
    sexual_flag = by_terms.get("sexual", np.zeros(len(rows), bool))
    for c in [c for c in clf.terms.categories if c in cats]:
        i = cats.index(c)
        truth = np.array([c in r.labels for r in rows])
        neutral = np.array([r.implies(c) for r in rows])
        terms = by_terms[c].copy()
        always = clf.terms.categories[c].always_block
        benign_max = float(scores[benign, i].max()) if benign.any() else -1.0
        if c == minors:
            terms |= sexual_flag & minor
            scores[~minor, i] = -1.0   # without a minor named, meaning reports sexual content instead
        # An always-block category's floor already keeps BLOCK_MARGIN over every benign text: there
        # ties go to the lower cut-off, which misses fewer (with the 2026-12-06 terms catching what
        # meaning found on the calibration rows, ties to the higher put it at 0.71 from 0.68 and lost
        # 3 of 20 measured sexual_minors prompts).
        picked = best_cut(scores[:, i], truth, terms, benign, benign_max + BLOCK_MARGIN if always else 0.0,
                          neutral, 0 if always else budget, ties_lower=always)
        if picked is None:
            cutoffs[c] = Cutoffs(None, None)
            stats[c] = (*f1(terms, truth, neutral), benign_max)
            continue
        review, score = picked
        cutoffs[c] = Cutoffs(review, review if always else None)  # meaning alone blocks only where it must
        stats[c] = (*score, benign_max)
        if c == "sexual":
            sexual_flag = by_terms["sexual"] | (scores[:, i] >= review)
    return cutoffs, stats


def write(path: Path, th: Thresholds, clf: PromptClassifier, rows: list[Row], labels: Path,
          stats: dict[str, tuple[float, float, float, float]]) -> None:
    prompts = [r for r in rows if r.kind != "exemplar"]
    n_benign = sum(r.benign for r in prompts)
    n_ex = len(rows) - len(prompts)
    lines = [
        "# Prompt classifier cut-offs on the meaning score (safety/prompt_classifier.py).",
        "# WRITTEN BY `python bench/safety_calibrate.py`; measure with `python bench/safety_eval.py`.",
        f"# Calibrated on {labels.relative_to(ROOT).as_posix()} split=calibration: {len(prompts)} prompts, "
        f"{len(prompts) - n_benign} labelled harmful, {n_benign} benign;",
        f"# and the {n_ex} exemplars, each scored against the others (leave-one-out).",
        "# review/block: cosine-based score from which meaning alone flags the category; a missing",
        "# block means meaning alone never blocks it (terms still can). Always-block categories have",
        "# review = block. Comments: F1 / precision / recall on those rows (terms + meaning), and",
        "# the highest benign score among them.",
        "",
        f'version = "{th.version}"',
        f'model = "{clf.embedder.tag}"',
        f'exemplars_sha256 = "{clf.exemplars.sha256}"',
        f'terms_version = "{clf.terms.version}"',
        f"benign_weight = {th.benign_weight}",
        f'calibrated_at = "{datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"',
        f'calibration_set = "{labels.relative_to(ROOT).as_posix()} split=calibration ({len(prompts)} prompts)'
        f' + {n_ex} exemplars leave-one-out"',
        "",
    ]
    for c, cut in th.categories.items():
        f, p, r, bmax = stats[c]
        lines.append(f"[categories.{c}]  # F1 {f:.3f}  P {p:.3f}  R {r:.3f}  benign max {bmax:.3f}")
        if cut.review is not None:
            lines.append(f"review = {cut.review}")
        if cut.block is not None:
            lines.append(f"block = {cut.block}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--out", type=Path, default=DEFAULT_THRESHOLDS)
    ap.add_argument("--dry-run", action="store_true", help="print the choice, write nothing")
    ap.add_argument("--benign-budget", type=int, default=BENIGN_BUDGET,
                    help="benign calibration rows that meaning alone may flag per category")
    args = ap.parse_args()

    rows = load_rows(args.labels, "calibration")
    clf, load_s, build_s = build(uncalibrated(Exemplars.from_file(DEFAULT_EXEMPLARS).categories))
    print(f"model {clf.embedder.tag} (loaded in {load_s:.1f} s); {len(clf.exemplars.texts)} exemplars "
          f"embedded in {build_s:.1f} s; calibration prompts: {len(rows)} "
          f"({sum(r.benign for r in rows)} benign)")
    analyses = []
    for k, row in enumerate(rows, 1):
        analyses.append(clf.analyse(row.prompt))
        progress("analysed", k, len(rows))
    # The exemplars themselves, each scored against all the others (leave-one-out): 3x the benign
    # prompts and more labelled ones to choose from, with no prompt compared with itself.
    for j, (text, label) in enumerate(zip(clf.exemplars.texts, clf.exemplars.labels)):
        rows.append(Row(text, () if label == BENIGN else (label,), "exemplar", "calibration"))
        analyses.append(clf.analyse(text, leave_out=j))
        progress("exemplars analysed (leave-one-out)", j + 1, len(clf.exemplars.texts))
    print(f"calibration rows: {len(rows)} ({sum(r.benign for r in rows)} benign), of which "
          f"{len(clf.exemplars.texts)} exemplars scored leave-one-out")

    print(f"\n{'benign_weight':>13} {'macro F1':>8}  " + " ".join(f"{c[:10]:>10}" for c in clf.categories))
    results = []
    for w in WEIGHTS:
        cutoffs, stats = choose(clf, rows, analyses, w, args.benign_budget)
        macro = float(np.mean([stats[c][0] for c in clf.categories]))
        results.append((macro, -w, w, cutoffs, stats))
        print(f"{w:13.1f} {macro:8.3f}  " + " ".join(f"{stats[c][0]:10.3f}" for c in clf.categories))
    macro, _, weight, cutoffs, stats = max(results, key=lambda x: (x[0], x[1]))
    print(f"\nchosen benign_weight {weight} (macro F1 {macro:.3f} on the calibration rows)")
    print(f"{'category':22} {'review':>6} {'block':>6} {'F1':>6} {'P':>6} {'R':>6} {'benign max':>10}")
    for c in clf.categories:
        cut, (f, p, r, bmax) = cutoffs[c], stats[c]
        show = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"{c:22} {show(cut.review):>6} {show(cut.block):>6} {f:6.3f} {p:6.3f} {r:6.3f} {bmax:10.3f}")

    digest = hashlib.sha256(repr((weight, sorted((c, v.review, v.block) for c, v in cutoffs.items()))).encode())
    version = f"{datetime.now(UTC):%Y-%m-%d}.{clf.exemplars.sha256[:6]}.{digest.hexdigest()[:6]}"
    th = Thresholds(version, weight, cutoffs, clf.embedder.tag, clf.exemplars.sha256, clf.terms.version)
    if args.dry_run:
        print("\n--dry-run: nothing written")
        return
    write(args.out, th, clf, rows, args.labels, stats)
    Thresholds.from_file(args.out)  # what was written reads back
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} (version {version})")


if __name__ == "__main__":
    sys.exit(main())
