"""Prompt classifier on the held-out half of the labelled set: precision and recall per category,
recall by kind of prompt (plain / evasion / euphemism), the term layer alone for comparison, and
the false-block and false-review rates on benign prompts.

    python bench/safety_eval.py [--split eval,holdout] [--labels safety/data/eval_prompts.jsonl] [--show-errors]
                                [--counts-only]   (no prompt printed: for a new split measured once)
                                [--languages]     (only prompts written in other languages, with a table per language)

A prompt is flagged in a category when the classifier's decision for it is review or block. Per
category: a true positive is a prompt labelled with it and flagged in it; a false positive one
flagged in it without the label. A sexual_minors prompt flagged as sexual is neither (sexual
content involving minors is sexual content). The thresholds were chosen on the calibration split
(bench/safety_calibrate.py); the default reports the held-out splits together (eval: held out
from calibration but looked at while the design changed; holdout: written after the design was
frozen), then each one's summary.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from dataclasses import dataclass

from safety_common import LABELS, Row, build, load_rows, progress

from app.stage import Decision, Requester, StageContext
from safety.policy import load_policy
from safety.prompt_classifier import PromptResult
from safety.stages import PromptSafetyStage

FALSE_BLOCK_TARGET = 0.02


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def tally(rows: list[Row], flagged: list[set[str]], categories: list[str]) -> dict[str, Tally]:
    out = {c: Tally() for c in categories}
    for row, flags in zip(rows, flagged):
        for c in categories:
            if c in row.labels:
                if c in flags:
                    out[c].tp += 1
                else:
                    out[c].fn += 1
            elif c in flags and not row.implies(c):
                out[c].fp += 1
    return out


def term_flags(clf, prompt: str) -> set[str]:
    return {h.category.name for h in clf.terms.evaluate(prompt) if h.decision != Decision.ALLOW}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default=LABELS)
    ap.add_argument("--split", default="eval,holdout", help="calibration, eval, holdout (comma-separated) or all")
    ap.add_argument("--show-errors", action="store_true", help="list every miss and every flagged benign prompt")
    ap.add_argument("--counts-only", action="store_true",
                    help="print no prompt, only figures: a new split measured once stays unread")
    ap.add_argument("--ordinary", action="store_true",
                    help="add the other gates' labelled prompts (copyright/data/ip_prompts.jsonl, "
                         "likeness/data/figure_prompts.jsonl) as benign rows of kind 'ordinary': prompts "
                         "written for other purposes, none of them harmful")
    ap.add_argument("--languages", action="store_true",
                    help="only the rows that say their language (prompts written in other languages than English)")
    args = ap.parse_args()

    rows = load_rows(args.labels, args.split) + (ordinary_rows() if args.ordinary else [])
    if args.languages:
        rows = [r for r in rows if r.lang]
    clf, load_s, build_s = build()
    th = clf.thresholds
    print(f"model {clf.embedder.tag} (loaded in {load_s:.1f} s); {len(clf.exemplars.texts)} exemplars "
          f"(sha256 {clf.exemplars.sha256[:12]}) embedded in {build_s:.1f} s")
    print(f"thresholds {th.version} (benign_weight {th.benign_weight}); terms {clf.terms.version}")
    if (th.exemplars_sha256, th.model, th.terms_version) != (clf.exemplars.sha256, clf.embedder.tag,
                                                               clf.terms.version):
        print("WARNING: the thresholds were calibrated for other exemplars, terms or another model: "
              "run bench/safety_calibrate.py")
    harmful = [r for r in rows if not r.benign]
    benign = [r for r in rows if r.benign]
    print(f"split {args.split}: {len(rows)} prompts, {len(harmful)} labelled harmful, {len(benign)} benign\n")

    results: list[PromptResult] = []
    for k, row in enumerate(rows, 1):
        results.append(clf.classify(row.prompt))
        progress("classified", k, len(rows))
    flagged = [r.categories for r in results]
    by_terms = [term_flags(clf, r.prompt) for r in rows]
    cats = list(clf.terms.categories)
    full, terms_only = tally(rows, flagged, cats), tally(rows, by_terms, cats)

    print(f"{'category':22} {'n':>3} {'precision':>9} {'recall':>6} {'blocked':>7}   "
          f"{'terms alone: P':>14} {'R':>6}")
    for c in cats:
        n = sum(c in r.labels for r in rows)
        blocked = sum(c in r.labels and res.finding(c) is not None and res.finding(c).decision == Decision.BLOCK
                      for r, res in zip(rows, results))
        t, u = full[c], terms_only[c]
        print(f"{c:22} {n:3d} {t.precision:9.3f} {t.recall:6.3f} {blocked:4d}/{n:<3d}   "
              f"{u.precision:14.3f} {u.recall:6.3f}")
    tp = sum(t.tp for t in full.values())
    fp = sum(t.fp for t in full.values())
    fn = sum(t.fn for t in full.values())
    tp_t = sum(t.tp for t in terms_only.values())
    fp_t = sum(t.fp for t in terms_only.values())
    fn_t = sum(t.fn for t in terms_only.values())
    print(f"{'micro average':22} {'':3} {tp / max(1, tp + fp):9.3f} {tp / max(1, tp + fn):6.3f} {'':9}   "
          f"{tp_t / max(1, tp_t + fp_t):14.3f} {tp_t / max(1, tp_t + fn_t):6.3f}")

    caught = [res.decision != Decision.ALLOW for r, res in zip(rows, results) if not r.benign]
    blocked = [res.decision == Decision.BLOCK for r, res in zip(rows, results) if not r.benign]
    print(f"\nharmful prompts stopped (any category, review or block): {sum(caught)}/{len(caught)} "
          f"({sum(caught) / max(1, len(caught)):.1%}); blocked outright: {sum(blocked)}/{len(blocked)}")
    kinds: dict[str, list[bool]] = defaultdict(list)
    for row, flags in zip(rows, flagged):
        if not row.benign:
            kinds[row.kind].append(row.labels[0] in flags)
    print("recall by kind (labelled category flagged): " + ", ".join(
        f"{k} {sum(v)}/{len(v)} ({sum(v) / len(v):.2f})" for k, v in sorted(kinds.items())))
    # What the gate does with them under the policy file (safety/data/policy.toml), adult and teen
    # accounts: the issue-15 kinds (graphic, buried, steps, translated) must block for everyone.
    stage = PromptSafetyStage(classifier=clf, policy=load_policy())
    gate_kinds: dict[str, list[tuple[Decision, Decision]]] = defaultdict(list)
    gate_adult: dict[int, Decision] = {}
    for k, row in enumerate(rows):
        if not row.benign:
            pair = tuple(stage.check(StageContext(
                "eval", row.prompt, [], None, Requester("eval", "eval", teen), session=None)).decision
                for teen in (False, True))
            gate_kinds[row.kind].append(pair)
            gate_adult[k] = pair[0]
    print("blocked by the gate under the policy, by kind (adult / teen account): " + ", ".join(
        f"{k} {sum(a == Decision.BLOCK for a, _ in v)}/{len(v)} / {sum(t == Decision.BLOCK for _, t in v)}/{len(v)}"
        for k, v in sorted(gate_kinds.items())))
    minors = [res.finding("sexual_minors") for r, res in zip(rows, results) if "sexual_minors" in r.labels]
    print(f"sexual_minors findings that are blocks (never review): "
          f"{sum(f.decision == Decision.BLOCK for f in minors if f)}/{sum(f is not None for f in minors)}")

    decisions = Counter(res.decision for r, res in zip(rows, results) if r.benign)
    n_b = max(1, len(benign))
    rate = decisions[Decision.BLOCK] / n_b
    print(f"\nbenign prompts: {len(benign)}; allowed {decisions[Decision.ALLOW]}, review {decisions[Decision.REVIEW]} "
          f"({decisions[Decision.REVIEW] / n_b:.1%}), blocked {decisions[Decision.BLOCK]}")
    print(f"false-block rate on benign prompts: {rate:.1%} (target <= {FALSE_BLOCK_TARGET:.0%}: "
          f"{'met' if rate <= FALSE_BLOCK_TARGET else 'NOT met'})")
    for kind in sorted({r.kind for r in benign}):
        sub = [res.decision for r, res in zip(rows, results) if r.benign and r.kind == kind]
        print(f"  {kind:9} {len(sub):3d}: review {sum(d == Decision.REVIEW for d in sub)}, "
              f"block {sum(d == Decision.BLOCK for d in sub)}")

    by_language(rows, results, gate_adult)

    if len({r.split for r in rows}) > 1:
        print("\nper split:")
        for split in sorted({r.split for r in rows}):
            idx = [k for k, r in enumerate(rows) if r.split == split]
            sub_rows = [rows[k] for k in idx]
            t = tally(sub_rows, [flagged[k] for k in idx], cats)
            tp, fp, fn = (sum(getattr(x, a) for x in t.values()) for a in ("tp", "fp", "fn"))
            ben = [results[k].decision for k in idx if rows[k].benign]
            print(f"  {split:12} {len(sub_rows):3d} prompts: micro precision {tp / max(1, tp + fp):.3f}, "
                  f"recall {tp / max(1, tp + fn):.3f}; benign {len(ben)}: "
                  f"false-block {sum(d == Decision.BLOCK for d in ben) / max(1, len(ben)):.1%}, "
                  f"review {sum(d == Decision.REVIEW for d in ben) / max(1, len(ben)):.1%}")

    flagged_benign = [(r, res) for r, res in zip(rows, results) if r.benign and res.decision != Decision.ALLOW]
    if flagged_benign and not args.counts_only:
        print("\nbenign prompts flagged:")
        for r, res in flagged_benign:
            print(f"  {res.decision.value:6} {r.prompt!r}: " + "; ".join(_why(f) for f in res.findings))
    if args.show_errors and not args.counts_only:
        print("\nharmful prompts whose labelled category was missed:")
        for r, res, flags in zip(rows, results, flagged):
            missing = [c for c in r.labels if c not in flags]
            if missing:
                got = ", ".join(f"{f.category.name} {f.decision.value}" for f in res.findings) or "allow"
                print(f"  [{r.kind}] {r.prompt!r}: missed {missing} "
                      f"(meaning {', '.join(f'{c} {res.meaning_scores[c]:.2f}' for c in missing)}; got {got})")


def by_language(rows: list[Row], results: list[PromptResult], gate_adult: dict[int, Decision]) -> None:
    """Rows that say their language (not English): harmful ones blocked by the gate (adult
    account), benign ones blocked and reviewed by the classifier, per language."""
    langs = sorted({r.lang for r in rows if r.lang})
    if not langs:
        return
    print("\nby language (rows that say theirs): harmful blocked by the gate, adult; benign blocked / reviewed")
    total = [0, 0, 0, 0, 0]
    for lang in langs:
        idx = [k for k, r in enumerate(rows) if r.lang == lang]
        harm = [k for k in idx if not rows[k].benign]
        ben = [results[k].decision for k in idx if rows[k].benign]
        line = [len(harm), sum(gate_adult[k] == Decision.BLOCK for k in harm), len(ben),
                sum(d == Decision.BLOCK for d in ben), sum(d == Decision.REVIEW for d in ben)]
        total = [a + b for a, b in zip(total, line)]
        print(f"  {lang:4} harmful {line[1]:3d}/{line[0]:<3d}  benign {line[3]:2d} / {line[4]:2d} of {line[2]}")
    print(f"  all  harmful {total[1]:3d}/{total[0]:<3d} ({total[1] / max(1, total[0]):.2f})  "
          f"benign {total[3]} / {total[4]} of {total[2]}")


def ordinary_rows() -> list[Row]:
    import json

    from safety_common import ROOT
    files = (ROOT / "copyright" / "data" / "ip_prompts.jsonl", ROOT / "likeness" / "data" / "figure_prompts.jsonl")
    return [Row(json.loads(line)["prompt"], (), "ordinary", "others") for f in files
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def _why(f) -> str:
    parts = [f.category.name]
    if f.terms:
        parts.append("terms " + ",".join(f.terms))
    if f.exemplar:
        parts.append(f"meaning {f.meaning_score:.2f} ~ {f.exemplar.text!r}")
    if "learned" in f.via and f.learned is not None:
        parts.append(f"learned {f.learned[0]:.2f} on {f.learned[1]!r}")
    return " ".join(parts)


if __name__ == "__main__":
    main()
