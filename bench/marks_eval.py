"""What survives of a render's marks in a copy: the invisible watermark's payload and the
platform's fingerprint bank (`greenlight trace`), measured on the video model's own renders.

    python bench/marks_eval.py [--model DIR | --checkpoint RUN_DIR] [--n 40] [--unseen 20]

Renders --n videos the way the platform does (3 s at 24 fps, 384 px, visible label, payload),
banks their fingerprints, then makes copies of each: re-encoded at CRF 23 and 28 (after a first
CRF 23 generation, as a re-upload does), resized to 256 and 512 px, cropped 10 % (centre, and
one side), the visible label covered. Per copy kind: the watermark's bit accuracy and the share
of copies whose payload decodes to the right id; the bank's recall@1 (the source ranked first
and within the match distance); and, on --unseen renders never banked, how often a copy of one
of them is matched to some banked generation (false matches). Also the cost of marking and
banking against the encode itself, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator import dataset as ds  # noqa: E402
from generator import render as render_module  # noqa: E402
from generator import watermark  # noqa: E402
from generator.fingerprints import MATCH_DISTANCE, rank  # noqa: E402
from generator.media import transcode  # noqa: E402
from generator.render import RenderSettings, render_to_mp4  # noqa: E402
from generator.services import video_prints  # noqa: E402
from generator.verify import read_marks  # noqa: E402

EVAL_SEED = 20_000_003


def _cover(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.rectangle(rgb.copy(), (int(w * 0.45), int(h * 0.87)), (w - 1, h - 1), (60, 60, 60), -1)


COPIES = {
    "re-encoded CRF 23": dict(crf=23),
    "re-encoded CRF 28": dict(crf=28),
    "resized to 256 px": dict(crf=23, size=(256, 256)),
    "resized to 512 px": dict(crf=23, size=(512, 512)),
    "cropped 10 % (centre)": dict(crf=23, transform=lambda rgb: rgb[19:-19, 19:-19]),
    "cropped 10 % (left side)": dict(crf=23, transform=lambda rgb: rgb[:, 38:]),
    "visible label covered": dict(crf=23, transform=_cover),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None, help="a saved pipeline directory (default: the shipped one)")
    ap.add_argument("--checkpoint", type=Path, default=None, help="a training run's directory: its latest checkpoint")
    ap.add_argument("--n", type=int, default=40, help="banked renders")
    ap.add_argument("--unseen", type=int, default=20, help="renders never banked (false matches)")
    args = ap.parse_args()

    if args.checkpoint:
        from generator.training import pipeline_from_checkpoint
        pipe, step = pipeline_from_checkpoint(args.checkpoint)
        pipe.set_progress_bar_config(disable=True)
        render_module.pipeline = lambda directory: pipe  # the renderer samples from the checkpoint
        label = f"{args.checkpoint} at step {step}"
    else:
        from generator.model_files import default_model_dir
        label = str(args.model or default_model_dir())
    print(f"model {label}")
    work = Path(tempfile.mkdtemp(prefix="marks-eval-"))
    specs = list(ds.clips(args.n + args.unseen, seed=EVAL_SEED, held_out=None))
    renders, costs = [], {"render": 0.0, "mark": 0.0, "bank": 0.0, "encode": 0.0}
    for i, clip in enumerate(specs):
        gid = str(uuid.UUID(int=(EVAL_SEED + i) * 2**64 + i, version=4))
        settings = RenderSettings(fps=24, seconds=3.0, watermark="@bench · greenlight", generation_id=gid)
        started = time.perf_counter()
        result = render_to_mp4(clip.caption, work / f"{i}.mp4", seed=i, settings=settings)
        costs["render"] += time.perf_counter() - started
        costs["encode"] += result.timings["encode"]
        started = time.perf_counter()
        prints = video_prints(result.path)
        costs["bank"] += time.perf_counter() - started
        renders.append((gid, result.path, prints))
        print(f"\rrendered {i + 1}/{len(specs)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    frame = np.asarray(render_module.draw_frame(specs[0].frames, 0, 384))
    started = time.perf_counter()
    for _ in range(20):
        watermark.embed(frame, watermark.payload_for(renders[0][0]))
    per_frame = (time.perf_counter() - started) / 20
    costs["mark"] = per_frame * specs[0].frames.shape[0] * len(specs)  # each sampled frame is marked once

    banked = [(gid, p.at_s, p.as_bytes()) for gid, _, prints in renders[: args.n] for p in prints]
    print(f"{args.n} renders banked ({len(banked)} hashes), {args.unseen} unseen; match distance {MATCH_DISTANCE}")
    print(f"{'copy':28} {'mark bits':>9} {'mark id':>8} {'trace recall@1':>15} {'false match':>12}")
    for name, how in COPIES.items():
        bit_acc, ids, hits, false = [], 0, 0, 0
        for k, (gid, path, _) in enumerate(renders):
            once = transcode(path, work / "once.mp4", crf=23)
            copy = transcode(once, work / "copy.mp4", **how) if how != dict(crf=23) else once
            reading = read_marks(copy).invisible
            bit_acc.append(float((reading.bits == watermark.payload_for(gid)).mean()))
            ids += reading.id_prefix == gid.replace("-", "")[:14]
            top = rank(video_prints(copy), banked, limit=1)
            matched = top[0].generation_id if top and top[0].distance <= MATCH_DISTANCE else None
            if k < args.n:
                hits += matched == gid
            else:
                false += matched is not None
        n_all = len(renders)
        print(f"{name:28} {np.mean(bit_acc):9.3f} {ids / n_all:8.2f} {hits / args.n:15.2f} "
              f"{false / max(args.unseen, 1):12.2f}")
    n = len(specs)
    print(f"cost per video: render {costs['render'] / n:.2f} s (of which encode {costs['encode'] / n:.2f} s); "
          f"invisible mark {costs['mark'] / n:.3f} s ({costs['mark'] / costs['encode']:.2f}x the encode); "
          f"fingerprints {costs['bank'] / n:.3f} s ({costs['bank'] / costs['encode']:.2f}x the encode)")


if __name__ == "__main__":
    main()
