"""Pre-render gate latency: the whole gate (claim, stages, verdict + audit writes, transition)
against the sum of the stages' own check times, measured in the same run.

    python bench/gate.py [--runs 300] [--database-url URL]

Prints p50/p95 per stage, of the stage sum and of the whole gate, and the overhead ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import accounts, generations, orchestrator, runtime  # noqa: E402
from app.config import Config  # noqa: E402
from app.factory import load_plugins  # noqa: E402
from app.kit.recent_vectors import forget_all_recent  # noqa: E402
from app.kit.text_embedding import LONG_TEXT_WORDS  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Generation, User  # noqa: E402

# A 185-word scene of distinct words: a repeated phrase would collapse into a few distinct windows
# and understate what a long prompt costs.
LONG_PROMPT = (
    "A slow cinematic shot of a quiet mountain lake at dawn, mist lifting off the water while a "
    "wooden rowing boat drifts near the reeds. An old fisherman in a green wool sweater checks his "
    "lines, pours coffee from a dented thermos and waves at two hikers walking the shore path with "
    "their golden retriever. The camera pans across pine trees, a red cabin with smoke curling from "
    "the chimney, and a small jetty where children in yellow raincoats skip flat stones. Ducks "
    "paddle past, a heron lifts off from the shallows, and sunlight breaks through the clouds, "
    "turning the snow on the far peaks pink and gold. Later a family unpacks a picnic on a checked "
    "blanket: sandwiches, apples, a chocolate cake with candles for the grandmother's birthday. "
    "Everyone sings, the dog barks along, and a gust of wind steals a paper napkin that the youngest "
    "boy chases down to the water's edge, laughing. The scene ends at sunset with the boat pulled up "
    "on the pebbles, lanterns glowing on the porch and the first stars over the ridge, soft acoustic "
    "guitar music playing."
)

PROMPTS = [
    "a green cube sliding down a ramp", "a red ball bouncing at night", "two friends dancing at sunset",
    "Angela Merkel reading a book", "Keanu Reeves riding a motorcycle", "Garfield eating lasagna",
    "Bugs Bunny eating a carrot", "a man holding a gun", "a history lecture about World War II",
    "a doctor explaining vaccines", "a chef cutting vegetables with a knife", "Elsa building a snowman",
    "a cat shooting hoops in a gym", "S p o n g e B o b under the sea", "a knight covered in blood",
    LONG_PROMPT,
]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gl-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    cfg = replace(Config.from_env(env={}), instance_dir=tmp, media_dir=tmp / "media", database_url=url,
                  redis_url=None, secret_key="bench", gate_inline=False)
    load_plugins()
    rt = runtime.configure(cfg)
    with rt.db.transaction() as s:
        user = accounts.create_user(s, f"bench{time.time_ns()}@t.test", "bench-password-1")
        user_id = user.id

    # Warm-up: data files load and indexes build once per process.
    with rt.db.transaction() as s:
        warm_id = generations.submit(s, s.get(User, user_id), PROMPTS[0], [], None).id
    orchestrator.gate(rt, warm_id)

    gate_ms, stage_sum_ms = [], []
    long_prompt: list[bool] = []
    per_stage: dict[str, list[float]] = {}
    for i in range(args.runs):
        with rt.db.transaction() as s:
            # Each request a new text (the models remember texts they saw): "take N" makes it unique,
            # and they forget the last request's, whose views would otherwise hold all but the last
            # window of a long prompt (the two gates reading the same views still share them).
            prompt = f"{PROMPTS[i % len(PROMPTS)]}, take {i}"
            gid = generations.submit(s, s.get(User, user_id), prompt, [], None).id
        forget_all_recent()
        started = time.perf_counter()
        orchestrator.gate(rt, gid)
        gate_ms.append((time.perf_counter() - started) * 1000)
        long_prompt.append(len(prompt.split()) > LONG_TEXT_WORDS)
        with rt.db.transaction() as s:
            verdicts = s.get(Generation, gid).verdicts
            stage_sum_ms.append(sum(v.latency_ms for v in verdicts))
            for v in verdicts:
                per_stage.setdefault(v.stage, []).append(v.latency_ms)

    print(f"pre-render gate, {args.runs} requests, {rt.db.engine.dialect.name}, {len(PROMPTS)} prompts cycled, "
          "each made unique, no view remembered from an earlier request")
    print(f"{'':28} {'p50 ms':>8} {'p95 ms':>8}")
    for name, values in per_stage.items():
        print(f"  {name:26} {pct(values, 50):8.3f} {pct(values, 95):8.3f}")
    print(f"{'sum of stage checks':28} {pct(stage_sum_ms, 50):8.3f} {pct(stage_sum_ms, 95):8.3f}")
    print(f"{'whole gate (with DB writes)':28} {pct(gate_ms, 50):8.3f} {pct(gate_ms, 95):8.3f}")
    print(f"ratio whole/stages: p50 {pct(gate_ms, 50) / pct(stage_sum_ms, 50):.2f}x, "
          f"p95 {pct(gate_ms, 95) / pct(stage_sum_ms, 95):.2f}x")
    for name, wanted in ((f"up to {LONG_TEXT_WORDS} words", False), (f"over {LONG_TEXT_WORDS} words", True)):
        values = [ms for ms, long in zip(gate_ms, long_prompt) if long == wanted]
        if values:
            print(f"whole gate, prompts {name}: {len(values)} requests, p50 {pct(values, 50):.3f} ms, "
                  f"p95 {pct(values, 95):.3f} ms")
    runtime.reset()


if __name__ == "__main__":
    main()
