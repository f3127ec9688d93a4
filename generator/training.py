"""Training the text-to-video model on the synthetic set, on whatever device is there.

DDPM v-prediction on clips drawn afresh for every batch from a seeded stream (batch k of seed
s is always the same clips, so a resumed run sees exactly what an uninterrupted one would), fp32
(bf16/fp16 on a CPU have known errors), AdamW, an EMA of the weights that is what gets saved,
and one caption in ten dropped to "" so sampling can use classifier-free guidance. A checkpoint
(weights, EMA, optimiser, step) is written every `checkpoint_every` steps and at the end; a run
started again on the same directory resumes from it, to the same or a larger number of steps.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel

from generator import dataset
from generator.video_model import from_frames, load_pipeline, new_pipeline, training_scheduler

CHECKPOINT = "checkpoint.pt"
MODEL_DIR = "model"


@dataclass(frozen=True)
class TrainConfig:
    # The shipped weights are three stages: this default (seed 0, from scratch, 4,250 steps), then
    # `--init <that model> --seed 1 --lr 1e-4 --steps 4750`, then `--init <that> --seed 2 --lr 1e-4
    # --steps 2000` (docs/generator.md, 2026-12-05)
    steps: int = 4250
    batch: int = 16
    frames: int = 8
    size: int = 32
    width: int = 64          # UNet base channels (64: ~6 M parameters)
    text_width: int = 128
    text_layers: int = 2
    lr: float = 3e-4
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    seed: int = 0


def batch_at(config: TrainConfig, step: int) -> tuple[torch.Tensor, list[str]]:
    """The clips of batch `step`: seen combinations only (held-out ones measure generalisation)."""
    clips = list(dataset.clips(config.batch, seed=config.seed * 1_000_003 + step, held_out=False,
                               frames=config.frames, size=config.size))
    rng = random.Random(config.seed * 7_919 + step)
    captions = ["" if rng.random() < config.caption_dropout else c.caption for c in clips]
    return from_frames(np.stack([c.frames for c in clips])), captions


def train(out_dir: Path, config: TrainConfig = TrainConfig(), *, device: str | None = None,
          checkpoint_every: int = 250, progress: Callable[[int, int, float], None] | None = None,
          init: Path | None = None) -> Path:
    """Train (or resume) into `out_dir`; returns the directory of the saved pipeline.

    `init` (a saved pipeline of the same shape, e.g. the shipped weights) warm-starts a new run
    from those weights, its EMA starting there too, with a fresh optimiser: how a run continues
    across machines that keep no checkpoint (112 MB with the optimiser's state). Give such a
    stage its own seed, or it draws the batches the first stage drew."""
    out_dir.mkdir(parents=True, exist_ok=True)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(config.seed)
    pipe, params, ema = _pipeline_for(config)
    if init is not None and not (out_dir / CHECKPOINT).exists():
        start_from = load_pipeline(init)
        pipe.unet.load_state_dict(start_from.unet.state_dict())
        pipe.text_encoder.load_state_dict(start_from.text_encoder.state_dict())
        ema = EMAModel(params, decay=config.ema_decay)
    unet, encoder = pipe.unet.to(device), pipe.text_encoder.to(device)
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-2)
    noise_schedule = training_scheduler()
    start = 0
    checkpoint = out_dir / CHECKPOINT
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        # the learning rate is constant, so more steps on a run's checkpoint is the longer run
        if replace(_config_of(state), steps=config.steps) != config:
            raise ValueError(f"{checkpoint} was written with another configuration: {state['config']}")
        if state["step"] > config.steps:
            raise ValueError(f"{checkpoint} is already at step {state['step']}, past {config.steps}")
        unet.load_state_dict(state["unet"])
        encoder.load_state_dict(state["encoder"])
        optimiser.load_state_dict(state["optimiser"])
        ema.load_state_dict(state["ema"])
        start = state["step"]
    generator = torch.Generator(device="cpu")

    def save_checkpoint(step: int) -> None:
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"config": asdict(config), "step": step, "unet": unet.state_dict(),
                    "encoder": encoder.state_dict(), "optimiser": optimiser.state_dict(),
                    "ema": ema.state_dict()}, tmp)
        tmp.replace(checkpoint)

    unet.train()
    encoder.train()
    for step in range(start, config.steps):
        clean, captions = batch_at(config, step)
        clean = clean.to(device)
        generator.manual_seed(config.seed * 104_729 + step)
        noise = torch.randn(clean.shape, generator=generator).to(device)
        t = torch.randint(0, noise_schedule.config.num_train_timesteps, (clean.shape[0],), generator=generator)
        noisy = noise_schedule.add_noise(clean, noise, t.to(device))
        predicted = unet(noisy, t.to(device), encoder_hidden_states=encoder(captions)).sample
        # v-prediction (the schedule's prediction_type): well-posed at both ends of the cosine
        # schedule, where predicting the noise leaves a pixel model noisy after thousands of steps
        target = noise_schedule.get_velocity(clean, noise, t.to(device))
        loss = F.mse_loss(predicted, target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        ema.step(params)
        if progress:
            progress(step + 1, config.steps, loss.item())
        if (step + 1) % checkpoint_every == 0:
            save_checkpoint(step + 1)
    save_checkpoint(config.steps)
    ema.copy_to(params)
    unet.eval()
    encoder.eval()
    model_dir = out_dir / MODEL_DIR
    pipe.save_pretrained(str(model_dir), safe_serialization=True)
    return model_dir


def _pipeline_for(config: TrainConfig):
    """An untrained pipeline of the configuration's shape, its trained parameters and their EMA."""
    pipe = new_pipeline(dataset.vocabulary(), frames=config.frames, size=config.size, width=config.width,
                        text_width=config.text_width, text_layers=config.text_layers)
    params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
    return pipe, params, EMAModel(params, decay=config.ema_decay)


def _config_of(state: dict) -> TrainConfig:
    """The configuration a checkpoint was written with (fields that no longer exist ignored)."""
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in state["config"].items() if k in known})


def pipeline_from_checkpoint(out_dir: Path, device: str = "cpu"):
    """The EMA weights of a run's latest checkpoint as a pipeline: a run in progress, judged."""
    state = torch.load(out_dir / CHECKPOINT, map_location=device, weights_only=False)
    pipe, params, ema = _pipeline_for(_config_of(state))
    ema.load_state_dict(state["ema"])
    ema.copy_to(params)
    pipe.unet.eval()
    pipe.text_encoder.eval()
    return pipe, state["step"]
