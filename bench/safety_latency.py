"""Prompt classifier latency per prompt against the raw embedding model call, measured in the same
run on the same prompts (the labelled set, all splits), interleaved so both see the same load.

    python bench/safety_latency.py [--rounds 3] [--labels safety/data/eval_prompts.jsonl]

Rows: classify() end to end (validation, the prompt's views embedded in one call, one matrix
product with the exemplars, the term policy, the decision); its parts; and one raw
`embedder.embed([prompt])`, the model call alone on the whole prompt. Then long texts (the API's
2,000-character limit and the classifier's 8,000) and start-up. Then, unless --skip-media, the
per-frame and per-audio-second sections of bench/safety_media_latency.py.
"""

from __future__ import annotations

import argparse

from safety_common import LABELS, build, load_rows, pct, progress, timed

from safety.prompt_classifier import MAX_PROMPT_CHARS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default=LABELS)
    ap.add_argument("--rounds", type=int, default=3, help="timed passes over the prompts")
    ap.add_argument("--skip-media", action="store_true",
                    help="prompts only: skip the per-frame and per-audio-second sections (bench/safety_media_latency.py)")
    args = ap.parse_args()

    prompts = [r.prompt for r in load_rows(args.labels, "all")]
    clf, load_s, build_s = build()
    embedder = clf.embedder
    print(f"model {embedder.tag} from {embedder.path}")
    print(f"start-up: model {load_s:.1f} s, {len(clf.exemplars.texts)} exemplars embedded (batched) {build_s:.2f} s")
    for p in prompts[:20]:  # warm-up
        clf.classify(p)
        embedder.embed([p])

    full, raw, views_ms, match_ms, terms_ms, n_views = [], [], [], [], [], []
    total = args.rounds * len(prompts)
    for r in range(args.rounds):
        for k, p in enumerate(prompts, 1):
            full.append(timed(clf.classify, p))
            raw.append(timed(embedder.embed, [p]))
            views = clf.views(p)
            n_views.append(len(views))
            views_ms.append(timed(embedder.embed, views))
            analysis = clf.analyse(p)
            match_ms.append(timed(clf.decide, analysis))
            terms_ms.append(timed(clf.terms.evaluate, p))
            progress("timed", r * len(prompts) + k, total)

    print(f"\nper prompt, {len(full)} calls ({args.rounds} rounds of {len(prompts)} prompts; "
          f"{sum(n_views) / len(n_views):.2f} views per prompt on average, at most {max(n_views)})")
    print(f"{'':44} {'p50 ms':>8} {'p95 ms':>8}")
    rows = [("classify (end to end)", full), ("  part: embed the views (one call)", views_ms),
            ("  part: term policy", terms_ms), ("  part: decide (cut-offs, reasons)", match_ms),
            ("raw model call: embed([prompt]), same run", raw)]
    for name, values in rows:
        print(f"  {name:42} {pct(values, 50):8.2f} {pct(values, 95):8.2f}")
    print(f"  ratio classify / raw model call: p50 {pct(full, 50) / pct(raw, 50):.2f}x, "
          f"p95 {pct(full, 95) / pct(raw, 95):.2f}x")

    print("\nlong texts (5 calls each):")
    words = " ".join(prompts).split()
    for chars in (2000, MAX_PROMPT_CHARS):
        text, i = "", 0
        while len(text) + len(words[i % len(words)]) + 1 <= chars:
            text += words[i % len(words)] + " "
            i += 1
        text = text.strip()
        clf.classify(text)
        ms = [timed(clf.classify, text) for _ in range(5)]
        raw_ms = [timed(embedder.embed, [text]) for _ in range(5)]
        print(f"  {len(text):5d} chars, {len(clf.views(text)):3d} views: classify p50 {pct(ms, 50):7.1f} ms; "
              f"raw embed([text]) p50 {pct(raw_ms, 50):6.1f} ms (the model reads its first {embedder.max_tokens} tokens)")

    if not args.skip_media:  # frames and audio, each against its raw onnxruntime calls in the same run
        import safety_media_latency
        safety_media_latency.main(["--rounds", str(args.rounds)])


if __name__ == "__main__":
    main()
