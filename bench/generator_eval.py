"""How well the text-to-video model does what its prompts ask, judged by parsing object states out
of its frames (generator/state_parser.py), the way PhyWorld / Physics-IQ judge physics video.

    python bench/generator_eval.py [--model DIR | --checkpoint RUN_DIR] [--n 60] [--steps 20]

Prompts are captions of scenes the training stream never drew (their own seed), half of seen
colour x shape x motion combinations, half of held-out ones. Each row: per-attribute accuracy,
against the same clips scored on shuffled prompts (chance on this mix) and against the
dataset's own clips (the parser's ceiling), then physics against the simulator. Not an FVD: no
published feature extractor is available offline; nothing here is comparable to papers' FVD.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator import dataset as ds  # noqa: E402
from generator import evaluation as ev  # noqa: E402

EVAL_SEED = 10_000_019  # far from the training stream's seeds (seed * 1_000_003 + step)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None, help="a saved pipeline directory (default: the shipped one)")
    ap.add_argument("--checkpoint", type=Path, default=None, help="a training run's directory: its latest checkpoint")
    ap.add_argument("--n", type=int, default=60, help="prompts per split (seen, held-out)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--sheet", type=Path, default=None, help="write a contact sheet of held-out samples here")
    args = ap.parse_args()

    if args.checkpoint:
        from generator.training import pipeline_from_checkpoint
        pipe, step = pipeline_from_checkpoint(args.checkpoint)
        label = f"{args.checkpoint} at step {step}"
    else:
        from generator.model_files import default_model_dir
        from generator.video_model import load_pipeline
        directory = args.model or default_model_dir()
        pipe, label = load_pipeline(directory), str(directory)
    pipe.set_progress_bar_config(disable=True)
    frames, size = pipe.frames, pipe.unet.config.sample_size
    print(f"model {label}: {sum(p.numel() for p in pipe.unet.parameters()) / 1e6:.1f} M UNet parameters, "
          f"{frames} x {size} x {size}, {args.steps} DPM-Solver++ steps, guidance {args.guidance}")

    sheet_rows = []
    for split, held in (("seen", False), ("held-out", True)):
        truth = list(ds.clips(args.n, seed=EVAL_SEED + held, held_out=held, frames=frames, size=size))
        started = time.perf_counter()
        samples = []
        for i in range(0, len(truth), args.batch):
            chunk = truth[i:i + args.batch]
            out = pipe([c.caption for c in chunk], num_inference_steps=args.steps, guidance_scale=args.guidance,
                       generator=torch.Generator().manual_seed(EVAL_SEED + i))
            samples.extend(out.frames)
        took = time.perf_counter() - started
        model = [ev.judge(c.spec, s, c.positions, c.events) for c, s in zip(truth, samples, strict=True)]
        ceiling = [ev.judge(c.spec, c.frames, c.positions, c.events) for c in truth]
        print(f"\n{split} combinations: {len(truth)} prompts, sampled in {took:.1f} s "
              f"({took / len(truth) * 1000:.0f} ms a clip)")
        rows = (("model", ev.attribute_accuracy(model)), ("shuffled prompts", ev.shuffled_accuracy(model)),
                ("dataset (parser ceiling)", ev.attribute_accuracy(ceiling)))
        print(f"{'':26}" + "".join(f"{a:>11}" for a in (*ev.ATTRIBUTES, "overall")))
        for name, acc in rows:
            print(f"{name:26}" + "".join(f"{acc[a]:11.3f}" for a in (*ev.ATTRIBUTES, "overall")))
        for name, judged in (("model", model), ("dataset", ceiling)):
            phys = ev.physics_summary(judged)
            print(f"physics, {name:8}: " + ", ".join(
                f"{k} {'-' if v is None else f'{v:.3f}'}" for k, v in phys.items()))
        if held:
            sheet_rows = [(c.caption, c.frames, s) for c, s in zip(truth[:8], samples[:8], strict=True)]
    if args.sheet and sheet_rows:
        write_sheet(args.sheet, sheet_rows)
        print(f"\nwrote {args.sheet}")


def write_sheet(path: Path, rows) -> None:
    """Each held-out prompt: its caption, then the simulator's clip above the model's."""
    from PIL import Image, ImageDraw

    scale = 3
    images = []
    for caption, truth, sample in rows:
        strip = np.concatenate([np.concatenate(list(truth), axis=1), np.concatenate(list(sample), axis=1)], axis=0)
        strip = np.asarray(Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale),
                                                        Image.Resampling.NEAREST))
        band = Image.new("RGB", (strip.shape[1], 14), (255, 255, 255))
        ImageDraw.Draw(band).text((2, 1), f"{caption}  (top: simulator, bottom: model)", fill=(0, 0, 0))
        images += [np.asarray(band), strip]
    Image.fromarray(np.concatenate(images, axis=0)).save(path, optimize=True)


if __name__ == "__main__":
    main()
