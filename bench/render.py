"""The render path against the raw model call, measured in the same run.

    python bench/render.py [--n 12] [--model DIR | --checkpoint RUN_DIR] [--batches 1,4,16]

For the same prompts and seeds: the raw `pipe(...)` call (20 DPM-Solver++ steps, guidance 3),
then the platform's render step (`app.orchestrator.render`: claim, provenance and cameo
lookups, sample, sound, invisible mark, encode, sign, record) and its post-render scan step
(`app.orchestrator.scan`: every post-render stage, verdicts written), on a fresh SQLite
instance; gates excluded. Prints the model part's overhead (the render's own sample time over
the raw call), the rest of the render, each scan's share of the render time, and videos a minute at batch 1;
then, per batch size, the raw call's clips a minute next to the platform's videos a minute when
that many requests wait and one render job samples them together (GL_RENDER_BATCH).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import accounts, generations, orchestrator, runtime  # noqa: E402
from app.config import Config  # noqa: E402
from app.factory import load_plugins  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Generation, Status, User, VerdictRecord  # noqa: E402
from generator import dataset as ds  # noqa: E402
from generator import render as render_module  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--checkpoint", type=Path, default=None, help="a training run's directory: its latest checkpoint")
    ap.add_argument("--batches", default="1,4,16")
    args = ap.parse_args()

    if args.checkpoint:
        from generator.training import pipeline_from_checkpoint
        pipe, step = pipeline_from_checkpoint(args.checkpoint)
        pipe.set_progress_bar_config(disable=True)
        render_module.pipeline = lambda directory: pipe
        label = f"{args.checkpoint} at step {step}"
    else:
        from generator.model_files import default_model_dir
        directory = args.model or default_model_dir()
        pipe, label = render_module.pipeline(str(directory)), str(directory)
    tmp = Path(tempfile.mkdtemp(prefix="gl-render-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    cfg = replace(Config.from_env(env={}), instance_dir=tmp, media_dir=tmp / "media", database_url=url,
                  redis_url=None, secret_key="bench", gate_inline=False)
    load_plugins()
    rt = runtime.configure(cfg)
    with rt.db.transaction() as s:
        user_id = accounts.create_user(s, "bench@t.test", "bench-password-1", handle="bench").id
    prompts = [c.caption for c in ds.clips(args.n + 1, seed=30_000_001, held_out=None)]

    def submit(prompt: str) -> str:
        with rt.db.transaction() as s:
            gid = generations.submit(s, s.get(User, user_id), prompt, [], None).id
        assert orchestrator.gate(rt, gid) == Status.QUEUED, f"{prompt!r} was not greenlit"
        return gid

    # warm-up: models, the signer, the face index load once per process
    warm = submit(prompts[0])
    orchestrator.render(rt, warm)
    orchestrator.scan(rt, warm)

    raw, render_s, sample_s, scan_s = [], [], [], []
    stage_ms: dict[str, list[float]] = {}
    for prompt in prompts[1:]:
        gid = submit(prompt)
        with rt.db.transaction() as s:
            seed = s.get(Generation, gid).seed
        started = time.perf_counter()
        pipe(prompt, num_inference_steps=20, guidance_scale=3.0, generator=torch.Generator().manual_seed(seed))
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        orchestrator.render(rt, gid)
        render_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        orchestrator.scan(rt, gid)
        scan_s.append(time.perf_counter() - started)
        with rt.db.transaction() as s:
            sample_s.append(s.get(Generation, gid).render_timings["sample"])
            for v in s.query(VerdictRecord).filter_by(generation_id=gid, phase="post_render"):
                stage_ms.setdefault(v.stage, []).append(v.latency_ms)

    mean = statistics.mean
    print(f"model {label}; {args.n} generations, 3 s at 24 fps, 384 px; SQLite; {torch.get_num_threads()} threads")
    print(f"raw pipe() call            {mean(raw):6.3f} s")
    print(f"render step, model part    {mean(sample_s):6.3f} s  ({mean(sample_s) / mean(raw):.3f}x raw)")
    print(f"render step, whole         {mean(render_s):6.3f} s  ({mean(render_s) / mean(raw):.2f}x raw: sound, marks, "
          f"encode, signing, records)")
    print(f"post-render scans          {mean(scan_s):6.3f} s  ({mean(scan_s) / mean(render_s):.2f}x the render step)")
    for stage, ms in stage_ms.items():
        print(f"  {stage:<26} {mean(ms) / 1000:6.3f} s  ({mean(ms) / 1000 / mean(render_s):.3f}x the render step)")
    print(f"videos a minute, batch 1   {60 / (mean(render_s) + mean(scan_s)):6.1f} (render + scans, one at a time)")
    for batch in (int(b) for b in args.batches.split(",")):
        batch_prompts = [prompts[1 + i % (len(prompts) - 1)] for i in range(batch)]
        started = time.perf_counter()
        pipe(batch_prompts, num_inference_steps=20, guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
        raw_rate = batch * 60 / (time.perf_counter() - started)
        # the platform: `batch` queued requests, one render job takes them all (GL_RENDER_BATCH)
        rt.config = replace(rt.config, render_batch=batch)
        gids = [submit(p) for p in batch_prompts]
        started = time.perf_counter()
        orchestrator.render(rt, gids[0])
        rendered = time.perf_counter() - started
        with rt.db.transaction() as s:
            sizes = {s.get(Generation, g).render_timings["batch"] for g in gids}
        started = time.perf_counter()
        for gid in gids:
            orchestrator.scan(rt, gid)
        scanned = time.perf_counter() - started
        print(f"batch {batch:3d}: raw pipe() {raw_rate:6.1f} clips a minute; platform {batch * 60 / rendered:6.1f} "
              f"videos a minute rendered (batch sizes {sorted(sizes)}), {batch * 60 / (rendered + scanned):6.1f} "
              f"rendered and scanned")


if __name__ == "__main__":
    main()
